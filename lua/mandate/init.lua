--- mandate: multi-tenant rights management over SQLite.
--
--     local mandate = require "mandate"
--     local db = assert(mandate.open("crm.db"))
--     db:set_levels{"country", "branch", "department", "team"}
--     db:put_unit("hh-sales", {level = "team", label = "Sales Hamburg"})
--     db:put_user("alice", {unit = "hh-sales"})
--
-- This module opens stores and gives the store handle (`mandate.Db`) its
-- Lua methods: the checks come from the C module `mandate.core`, the
-- writers from `mandate.write`, the read-back from `mandate.read`,
-- explanations from `mandate.explain`, contacts, roles and distribution
-- lists from `mandate.contacts`.
--
-- Conventions of every method: a programmer error (a bad argument, a
-- closed store) raises an error naming the function, the argument, the
-- bad value and what is allowed; a runtime failure of the store (locked,
-- I/O) returns `nil, message, code`; a denied check is a result,
-- `false, reason`.
-- @module mandate

local core = require "mandate.core"
local contacts = require "mandate.contacts"
local explain = require "mandate.explain"
local read = require "mandate.read"
local write = require "mandate.write"
local V = require "mandate.validate"

local mandate = {
  version = core.version,   -- the version of the C library
  Db = core.Db,             -- the methods of a store handle
  Error = core.Error,       -- the metatable of raised store errors
}

-- The writers, readers and explanations become methods of every handle.
for _, methods in ipairs({ read.methods, write.methods, contacts.methods }) do
  for name, f in pairs(methods) do core.Db[name] = f end
end
core.Db.explain = explain.explain
core.Db.effective = explain.effective
local fast = require "mandate.fast"
core.Db.checker = fast.checker
core.Db.prepare = fast.prepare

--- Open a store, creating it (and its schema) when missing.
-- A store made by an older mandate is upgraded in place.
-- @tparam[opt] string path a file name; nil or ":memory:" for a private
-- in-memory store
-- @treturn mandate.Db the store handle; closed by `db:close()`, `__close`
-- or when collected
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("ioerr", "busy", "error", ...)
function mandate.open(path)
  if path ~= nil and type(path) ~= "string" then
    error("mandate.open: path: expected a file name, \":memory:\" or nil, "
          .. "got " .. V.show(path), 2)
  end
  return core.open(path)
end

return mandate
