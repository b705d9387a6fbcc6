--- The check paths, and on LuaJIT their FFI versions.
--
-- The fastest check a hot loop can make takes integer ids, bound to one
-- store:
--
--     local check = db:checker()
--     local uid, rid = db:id("user", "alice"), db:id("right", "documents.edit")
--     for _, doc in ipairs(docs) do
--       if check(uid, rid, doc.tenant_id, doc.owner_id) then ... end
--     end
--
-- On PUC Lua `db:check`, `db:prepare`'s checks and the checker are the C
-- functions of `mandate.core`.  On LuaJIT they call the engine through the
-- FFI instead: JIT-compiled code cannot call classic Lua C functions
-- without leaving the trace, and measured on LuaJIT the C API was the bulk
-- of a check's cost.  Whatever the FFI call cannot answer (a key met for
-- the first time or naming nothing, a closed store, an argument or record
-- that needs converting or has a metatable, an error) goes to the C
-- function, so every path answers and raises exactly as on PUC Lua, and
-- sees every write through the store.
--
-- On LuaJIT, call the checker from plain Lua code.  Called through
-- `pcall` (or another C frame) many thousands of times, its traces cannot
-- return into that frame, the JIT blacklists it, and from then on every
-- call runs interpreted, at about half a microsecond.
-- @module mandate.fast

local core = require "mandate.core"

local M = {}

-- The FFI binding, or nil outside LuaJIT.
local function ffi_lib()
  if not rawget(_G, "jit") then return nil end
  local ok, ffi = pcall(require, "ffi")
  if not ok then return nil end
  local path = package.searchpath and package.searchpath("mandate.core", package.cpath)
  if not path then return nil end
  ffi.cdef [[
    typedef struct mdt_record { int64_t tenant, owner, unit, customer; } mdt_record;
    int mandate_ffi_check(const void *box, int64_t user, int64_t right,
                          const mdt_record *rec);
    int mandate_ffi_check_keys(void *box, int64_t uid, int64_t rid,
                               const char *user, const char *right,
                               int has_record, const char *tenant,
                               const char *owner, const char *unit,
                               const char *customer);
  ]]
  -- the module's own shared object: dlopen hands back the loaded instance
  return ffi, ffi.load(path)
end

local ffi, lib = ffi_lib()
local REASONS = core.reasons
local UNKNOWN_RIGHT
for code, name in pairs(REASONS) do
  if name == "unknown_right" then UNKNOWN_RIGHT = code end
end
local Db = core.Db
local check_c, checker_c, prepare_c = Db.check, Db._checker, Db.prepare
local prepare_ids, check_prepared = Db._prepare_ids, Db._check_prepared

-- What an FFI call decided: true, or false and the reason; nil when the C
-- function must answer (a negative code: see mandate_ffi_check, or an
-- unknown right, which raises).
local function decided(why)
  if why == 0 then return true end
  if why > 0 and why ~= UNKNOWN_RIGHT then return false, REASONS[why] end
  return nil
end

-- A Db's box, the address each FFI call is handed: never a pointer read
-- out of it, as reading one into Lua boxes it, which may run a finalizer
-- that closes the store (see mandate_ffi_check).  So a call allocates
-- nothing.  The box stays valid while the Db lives, open or closed.
local function box_of(db)
  return ffi.cast("void *", db:_box())
end

local function ffi_checker(db)
  local box = box_of(db)
  local rec = ffi.new("mdt_record")
  local slow = Db.check_ids
  return function(user, right, tenant, owner, unit, customer)
    rec.tenant, rec.owner = tenant or 0, owner or 0
    rec.unit, rec.customer = unit or 0, customer or 0
    local ok, reason = decided(lib.mandate_ffi_check(box, user, right, rec))
    if ok ~= nil then return ok, reason end
    return slow(db, user, right, tenant, owner, unit, customer)
  end
end

--- A check function bound to db, taking integer ids (see `db:id`).
-- @function checker
-- @treturn function `check(user, right [, tenant, owner, unit, customer])`
-- -> `true` | `false, reason`; absent fields are nil or 0, a key that names
-- nothing is -1; raises for an unknown right id or a closed store
function M.checker(db)
  if lib then
    if not db:is_open() then error("mandate.Db: the store is closed", 2) end
    return ffi_checker(db)
  end
  return checker_c(db)
end

local function key_or_nil(x)
  return x == nil or type(x) == "string"
end

-- The FFI decision for record: user and right as ids (uid ~= 0) or keys;
-- -1 for a record the C function must read.  A record without a
-- metatable runs no code when read, so reading it again there is not
-- observable.
local function decide(box, uid, rid, user, right, record)
  if record == nil then
    return lib.mandate_ffi_check_keys(box, uid, rid, user, right, 0, nil, nil, nil, nil)
  end
  if type(record) == "table" and getmetatable(record) == nil then
    local t, o, u, c = record.tenant, record.owner, record.unit, record.customer
    if key_or_nil(t) and key_or_nil(o) and key_or_nil(u) and key_or_nil(c) then
      return lib.mandate_ffi_check_keys(box, uid, rid, user, right, 1, t, o, u, c)
    end
  end
  return -1
end

local function ffi_check()
  local META = debug.getregistry()["mandate.Db"]
  local boxes = setmetatable({}, { __mode = "k" })
  return function(db, user, right, record)
    local box = boxes[db]
    if box == nil and getmetatable(db) == META then
      box = box_of(db)
      boxes[db] = box
    end
    if box ~= nil and type(user) == "string" and type(right) == "string" then
      local ok, reason = decided(decide(box, 0, 0, user, right, record))
      if ok ~= nil then return ok, reason end
    end
    return check_c(db, user, right, record)
  end
end

--- `db:check(user, right [, record])`.
-- @function check
M.check = lib and ffi_check() or check_c

--- `db:prepare(user, right)`: on PUC Lua the C closure itself.  On LuaJIT
-- a Lua closure of one prototype for all, which also suits the JIT: a
-- trace guards a call on the very C closure it met, so a loop (or a
-- request handler) that meets a new prepared check each time kept leaving
-- its traces, measured at about 1 us a call with 256 different checks
-- from one call site; calls of Lua closures are guarded on the prototype.
-- @function prepare
M.prepare = prepare_c
if lib then
  function M.prepare(db, user, right)
    local uid, rid = prepare_ids(db, user, right)
    local box = box_of(db)
    return function(record)
      local ok, reason = decided(decide(box, uid, rid, nil, nil, record))
      if ok ~= nil then return ok, reason end
      return check_prepared(db, uid, rid, record)
    end
  end
end

--- Whether the checks call the engine through LuaJIT's FFI.
M.uses_ffi = lib ~= nil

return M
