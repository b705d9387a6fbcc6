--- The fastest check a hot loop can make: integer ids, bound to one store.
--
--     local check = db:checker()
--     local uid, rid = db:id("user", "alice"), db:id("right", "documents.edit")
--     for _, doc in ipairs(docs) do
--       if check(uid, rid, doc.tenant_id, doc.owner_id) then ... end
--     end
--
-- On PUC Lua the checker is a C closure around `db:check_ids`.  On LuaJIT
-- it calls the engine through the FFI instead: JIT-compiled code cannot
-- call classic Lua C functions without leaving the trace, and measured on
-- LuaJIT the C API was the bulk of a check's cost.  Both answer exactly as
-- `db:check_ids` does, and see every write through the store.
--
-- On LuaJIT, call the checker from plain Lua code.  Called through
-- `pcall` (or another C frame) many thousands of times, its traces cannot
-- return into that frame, the JIT blacklists it, and from then on every
-- call runs interpreted, at about half a microsecond.
-- @module mandate.fast

local core = require "mandate.core"
local I = core.internal   -- the primitives, captured at load (see init.lua)

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

-- Is v an integer id, as check_ids takes it?  (An integral number: the
-- classic path refuses the rest.)
local function id(v)
  return type(v) == "number" and v % 1 == 0
end

local function opt(v)
  return v == nil or id(v)
end

-- Each call hands the engine the Db's box, never a pointer read out of it:
-- reading one into Lua boxes it, which may run a finalizer that closes the
-- store (see mandate_ffi_check).  So a call allocates nothing.
local function ffi_checker(db)
  local box = ffi.cast("const void *", I.box(db))   -- db stays referenced
  local rec = ffi.new("mdt_record")
  local slow = I.checker(db)    -- the classic checker: its errors, its argument numbers
  return function(user, right, tenant, owner, unit, customer)
    -- the FFI would turn false into 0 (absent: common data) and cut 1.5
    -- to 1; anything but integers and nil goes where it raises
    if not (id(user) and id(right) and opt(tenant) and opt(owner)
            and opt(unit) and opt(customer)) then
      return slow(user, right, tenant, owner, unit, customer)
    end
    rec.tenant, rec.owner = tenant or 0, owner or 0
    rec.unit, rec.customer = unit or 0, customer or 0
    local why = lib.mandate_ffi_check(box, user, right, rec)
    if why == 0 then return true end
    if why > 0 and why ~= UNKNOWN_RIGHT then return false, REASONS[why] end
    -- a closed store, an unknown right id (both raise) or a failing
    -- refresh (nil, message, code): the C path answers as on every Lua
    return slow(user, right, tenant, owner, unit, customer)
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
  return I.checker(db)
end

local prepare_ids, check_prepared = I.prepare_ids, I.check_prepared

--- `db:prepare(user, right)`: on PUC Lua the C closure itself.  On LuaJIT
-- a Lua closure around one shared C function instead: a trace guards a
-- call on the very C closure it met, so a loop (or a request handler)
-- that meets a new prepared check each time keeps leaving its traces,
-- measured at about 1 us a call with 256 different checks from one call
-- site; calls of Lua closures of one prototype are guarded on the
-- prototype.
-- @function prepare
M.prepare = core.Db.prepare
if rawget(_G, "jit") then
  function M.prepare(db, user, right)
    local uid, rid, code = prepare_ids(db, user, right)
    if uid == nil then return nil, rid, code end
    return function(record)
      return check_prepared(db, uid, rid, record, user)
    end
  end
end

--- Whether checkers call the engine through LuaJIT's FFI.
M.uses_ffi = lib ~= nil

return M
