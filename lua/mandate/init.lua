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
-- lists from `mandate.contacts`, dry runs from `mandate.plan`, bundle
-- suggestions from `mandate.suggest`, access templates and moves from
-- `mandate.moves`, CSV exports and imports from `mandate.sheets`, the decision log
-- and the activity view from `mandate.activity`.
--
-- Conventions of every method: a programmer error (a bad argument, a
-- closed store) raises an error naming the function, the argument, the
-- bad value and what is allowed; a runtime failure of the store (locked,
-- I/O) returns `nil, message, code`; a denied check is a result,
-- `false, reason`.
-- @module mandate

local core = require "mandate.core"
local activity = require "mandate.activity"
local change = require "mandate.change"
local contacts = require "mandate.contacts"
local explain = require "mandate.explain"
local moves = require "mandate.moves"
local plan = require "mandate.plan"
local suggest = require "mandate.suggest"
local history = require "mandate.history"
local read = require "mandate.read"
local resolve = require "mandate.resolve"
local sheets = require "mandate.sheets"
local write = require "mandate.write"
local V = require "mandate.validate"

local mandate = {
  version = core.version,   -- the version of the C library
  Db = core.Db,             -- the methods of a store handle
  Error = core.Error,       -- the metatable of raised store errors
}

-- The writers, readers and explanations become methods of every handle.
for _, methods in ipairs({ read.methods, change.methods, write.methods,
                           contacts.methods,
                           moves.methods, plan.methods, suggest.methods,
                           history.methods, resolve.methods,
                           sheets.methods, activity.methods }) do
  for name, f in pairs(methods) do core.Db[name] = f end
end
core.Db.explain = explain.explain
core.Db.effective = explain.effective
local fast = require "mandate.fast"
core.Db.checker = fast.checker
core.Db.prepare = fast.prepare

-- The seal: every module of the layer has captured the primitives (raw
-- SQL, change sets, ...) when it loaded; no handle carries them, and no
-- program reaches them by accident (specs: spec/primitives.lua).
core.internal = nil

--- Open a store, creating it (and its schema) when missing.
-- A store made by an older mandate is upgraded in place.  An open that
-- fails changes nothing in the file: a store of a newer mandate, or a
-- database of another application (one that holds tables of its own),
-- is refused; `create = true` adds mandate's tables to the latter.
-- @tparam[opt] string path a file name; nil or ":memory:" for a private
-- in-memory store
-- @tparam[opt] table options
-- @tparam[opt] boolean options.readonly checks, readers and refresh work,
-- every writer returns the store's error (`nil, message, "ioerr"`); a
-- store of an older schema is refused (it cannot be upgraded), and so is
-- a missing file
-- @tparam[opt] boolean options.create `false`: a missing file is an
-- error (`nil, message, "notfound"`), never a new empty store (what a web
-- worker wants); `true`: also add mandate's tables to a database that
-- holds other tables
-- @treturn mandate.Db the store handle; closed by `db:close()`, `__close`
-- or when collected
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("notfound", "invalid", "ioerr", "busy", "error")
function mandate.open(path, options)
  if path ~= nil and (type(path) ~= "string" or path == "" or path:find("\0", 1, true)) then
    error("mandate.open: path: expected a file name (a non-empty string "
          .. "without NUL), \":memory:\" or nil, got " .. V.show(path), 2)
  end
  local memory = path == nil or path == ":memory:"
  local readonly, create
  if options ~= nil then
    if type(options) ~= "table" then
      error("mandate.open: options: expected a table {readonly =, create =} or nil, got "
            .. V.show(options), 2)
    end
    for k, v in pairs(options) do
      if k ~= "readonly" and k ~= "create" then
        error("mandate.open: options: " .. V.show(k) .. " is not an option "
              .. "(readonly, create)", 2)
      end
      if type(v) ~= "boolean" then
        error("mandate.open: options." .. k .. ": expected true or false, got "
              .. V.show(v), 2)
      end
    end
    readonly, create = options.readonly, options.create
    if memory and (readonly or create == false) then
      error("mandate.open: options." .. (readonly and "readonly" or "create")
            .. ": an in-memory store is always new and writable", 2)
    end
  end
  return core.open(path, readonly, create)
end

return mandate
