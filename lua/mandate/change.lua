--- Change sets: how a writer runs and what `db:transaction` is.
--
-- A writer (`writer(name, impl [, DIRECT])`) runs impl as one level of
-- the store's change set (src/store/change.c): the outermost takes the
-- write lock, an inner one is a savepoint, or nothing for a direct writer
-- (one that checks everything before its first write).  A usage error
-- raises at the writer's caller; a runtime failure of the store returns
-- `nil, message, code` from an outermost writer and tears the enclosing
-- transaction otherwise.  Also `db:transaction`, `db:set_actor`,
-- `db:actor`, and `may_read`, the readers' gate against another
-- coroutine's open change set.  The writers themselves are
-- mandate.write's, mandate.contacts' and mandate.moves'.
-- @module mandate.change

local core = require "mandate.core"
local I = core.internal   -- the primitives, captured at load (see init.lua)
local V = require "mandate.validate"

local W = {}    -- the public methods, installed into mandate.Db
local show = V.show

local pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end
local unpack = table.unpack or unpack

-- Per-store state {{{

-- Keyed weakly by the mandate.Db userdata: torn (the error of a writer that
-- failed inside db:transaction, raised again when it ends).  The change
-- set itself (its levels, revision, audit rows, actor) is the store's:
-- src/store/change.c.
local states = setmetatable({}, { __mode = "k" })

local function state(db)
  local st = states[db]
  if not st then
    st = {}
    states[db] = st
  end
  return st
end
-- }}}

-- Change sets and audit rows {{{

local function store_error(message, code)
  return setmetatable({ code = code or "error", message = message }, core.Error)
end

--[[
A change set belongs to the coroutine that opened it (see "Change sets and
coroutines" in src/lua/lmandate.c).  While its owner is suspended, a call
from elsewhere must neither join it nor read it: writers and transactions
return nil, message, "busy", SQL readers likewise, checks read the
committed state.  One whose owner died inside it (closed, or collected
after the server dropped it) is rolled back by the next caller.
]]
local BUSY = "another coroutine's change set is open on this store (its "
  .. "owner yielded inside it); try again once it has ended"

-- For the SQL readers (mandate.read), given where I.owner says they
-- stand: raise "busy" as a store error naming the reader; after an
-- abandoned change set (which asking the store rolled back), forget its
-- torn writer.
local function may_read(db, name, where)
  if where == "away" then
    error(store_error(name and name .. ": " .. BUSY or BUSY, "busy"), 0)
  end
  if where == "gone" then state(db).torn = nil end
end

--[[
Open a level of a change set for name: its depth (1: the outermost), or
nil, message, code for a runtime failure ("busy": another coroutine's
change set is open; BEGIN failed).  The store's own rules (a writer
failed inside, SQLite rolled back by itself) raise as mandate.Errors
naming the caller.
]]
local function begin(db, name, direct)
  local ok, level, settled = pcall(I.begin, db, direct)
  if not ok then
    local e = level
    if not V.is_store_error(e) then error(e, 0) end
    if e.rule == "torn" then
      error(store_error(name .. ": the enclosing transaction must roll back "
        .. "after a writer failed in it (" .. tostring(state(db).torn) .. ")"), 0)
    elseif e.rule == "lost" then
      error(store_error(name .. ": the enclosing transaction was rolled back "
        .. "after an earlier failure"), 0)
    end
    return nil, e.message, e.code
  end
  if level == nil then return nil, name .. ": " .. BUSY, "busy" end
  if settled or level == 1 then state(db).torn = nil end
  return level
end

-- statuses of run besides true: a usage error to raise at the caller, a
-- runtime failure to return as nil, message, code
local USAGE, FAILED = {}, {}

--[[
Run a writer as one level of a change set: the outermost (BEGIN IMMEDIATE)
when none is open, else inside the enclosing one: a savepoint, or for a
direct writer (impl checks everything before its first write) nothing at
all, since a savepoint copies every page the writer touches into its
journal.  Returns true and impl's result, or USAGE and a message, or
FAILED, message, code for a runtime failure of an outermost one; raises
anything else, and then the enclosing db:transaction must roll back (the
store tears it).
]]
local function run(db, name, impl, direct, ...)
  local level, why, code = begin(db, name, direct)
  if not level then return FAILED, why, code end
  local ok, result = pcall(impl, db, name, ...)
  local usage = not ok and V.is_usage(result)
  if ok then
    local committed, e = pcall(I.finish, db, "commit")
    if committed then return true, result end
    result = e
  else
    pcall(I.finish, db, (usage or level == 1) and "rollback" or "tear")
  end
  if usage then return USAGE, result.message end
  if level > 1 then state(db).torn = result end
  if level == 1 and V.is_store_error(result) then
    return FAILED, result.message, result.code
  end
  error(result, 0)
end

-- A public writer around impl(db, name, ...), which returns the writer's
-- one result; a direct one (see run) when impl checks all its arguments
-- before its first write: writer(name, impl, DIRECT).
local DIRECT = true

local function writer(name, impl, direct)
  return function(db, ...)
    local problem = V.db_problem(db, name)
    if problem then error(problem, 2) end
    local status, a, b = run(db, name, impl, direct, ...)
    if status == true then return a end
    if status == USAGE then error(a, 2) end
    return nil, a, b
  end
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

--- Run fn(db) as one all-or-nothing change set.
-- Everything fn writes is committed together when fn returns, as one
-- step of `db:revision()`, or rolled back entirely when it raises; the
-- error is then raised again, the very same value.  Transactions nest:
-- an inner `db:transaction` is a savepoint, and an inner failure caught
-- with pcall inside the outer fn undoes only the inner writes.  A
-- writer's runtime failure (a `mandate.Error`) cannot be caught away:
-- the transaction around it rolls back when fn returns and raises it
-- again.
-- The outermost transaction takes the write lock at once
-- (`BEGIN IMMEDIATE`), so concurrent writers wait up to the busy
-- timeout instead of failing halfway.
-- @function transaction
-- @tparam function fn called as fn(db)
-- @return fn's results, or true when it returns none
-- @treturn[2] nil when the transaction cannot begin or commit, or
-- another coroutine's is open ("busy")
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
-- @raise whatever fn raises, or a writer's failure fn caught, after the
-- rollback
function W.transaction(db, fn)
  local problem = V.db_problem(db, "transaction")
  if problem then error(problem, 2) end
  if not callable(fn) then
    error("transaction: fn: expected a function, got " .. show(fn), 2)
  end
  local level, why, code = begin(db, "transaction", false)
  if not level then return nil, why, code end
  local r = pack(pcall(fn, db))
  local st = state(db)
  if not r[1] then
    pcall(I.finish, db, "rollback")
    error(r[2], 0)                    -- fn's error, the very same value
  end
  local ok, e = pcall(I.finish, db, "commit")
  if ok then
    if r.n == 1 then return true end
    return unpack(r, 2, r.n)
  end
  if V.is_store_error(e) and e.rule == "torn" then   -- fn caught a writer's failure
    e = st.torn
    if level == 1 then st.torn = nil end
    error(e, 0)
  end
  -- our own COMMIT failed: a runtime failure is a result
  if V.is_store_error(e) and level == 1 then return nil, e.message, e.code end
  error(e, 0)
end

--- Set who is acting: recorded as the actor of every change set
-- committed through this handle from now on (a change set's actor is the
-- one set when it commits).
-- @function set_actor
-- @tparam string|nil name a key-like string ("admin@example.com"), or nil
-- for nobody
-- @treturn boolean true
W.set_actor = V.method("set_actor", function(db, name)
  if name ~= nil then V.key("set_actor", "name", name) end
  I.set_actor(db, name)
  return true
end)

--- Who is acting (see `set_actor`).
-- @function actor
-- @treturn string|nil
W.actor = V.method("actor", function(db)
  return I.actor(db)
end)
-- }}}

return {
  methods = W,
  writer = writer,
  DIRECT = DIRECT,
  may_read = may_read,
  store_error = store_error,
}
