--- Where a row is read back.
--
-- The read-back API for integrators (`db:get_user`, `db:users`, ...,
-- `db:audit`, `db:revision`) and the row lookups the writers build on.
-- A table returned by a `get_*` function has exactly the fields the
-- matching `put_*` takes, plus `key`, and equals what was put: flags are
-- booleans, scope values their canonical text ("team+customer"), absent
-- options are absent fields.  Lists come in key order (byte order), the
-- rights catalog in the order its rights were first put.
--
-- Each public reader runs inside one read transaction, so it shows one
-- consistent state even while other processes write.  Runtime failures
-- of the store return `nil, message, code`; bad arguments raise.
-- @module mandate.read

local I = require("mandate.core").internal   -- the primitives, captured at load
local json = require "mandate.json"
local V = require "mandate.validate"

local R = {}      -- internal: rows and entities, for the writers
local M = {}      -- the public methods, installed into mandate.Db
R.methods = M

local pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end
local unpack = table.unpack or unpack

-- Rows by key {{{

local ROW_SQL = {
  unit = "SELECT id, key, level, parent_id, label FROM units WHERE key = ?1",
  tenant = "SELECT id, key, label, default_access FROM tenants"
           .. " WHERE key = ?1",
  right = "SELECT id, key, kind, mode, customer, area, label FROM rights"
          .. " WHERE key = ?1",
  bundle = "SELECT id, key, label FROM bundles WHERE key = ?1",
  user = "SELECT id, key, unit_id, active, label FROM users WHERE key = ?1",
  customer = "SELECT id, key FROM customers WHERE key = ?1",
  contact = "SELECT id, key, label, tenant_id FROM contacts WHERE key = ?1",
  role = "SELECT id, key, contact_id, label, active, tenant_id FROM roles"
         .. " WHERE key = ?1",
  list = "SELECT id, key, label, tenant_id FROM lists WHERE key = ?1",
}

--- The raw row of an entity, or nil.
-- @tparam userdata db
-- @tparam string kind "unit", "tenant", "right", "bundle", "user",
-- "customer", "contact", "role" or "list"
-- @tparam string key
-- @treturn table|nil the row (column name -> value; NULL columns absent)
function R.row(db, kind, key)
  return I.row(db, ROW_SQL[kind], key)
end

--- The level names, top to bottom.
-- @tparam userdata db
-- @treturn {string,...}
function R.levels(db)
  local names = {}
  for i, row in ipairs(I.rows(db, "SELECT name FROM levels ORDER BY depth")) do
    names[i] = row.name
  end
  return names
end

--- A stored value text as Lua sees it: flags as booleans, scope values
-- as their canonical text.
-- @tparam string kind "flag" or "scope"
-- @tparam string text
-- @return boolean or string
function R.value(kind, text)
  if kind == "flag" then return text == "true" end
  return text
end
-- }}}

-- Entities {{{

--[[
An entity's readers, from its description:
  select   the query of its rows, without WHERE and ORDER BY: its id, and
           its fields named as the entity's
  key      the column its key is in (a get's WHERE; the list's order)
  order    the list's order when not by key
  fields   the entity's fields; those in flags are stored 0/1
  parts    {name =, one = the query of one entity's part rows by its id
           (?1), all = the same for every entity with the owner's id as
           `owner`, add = f(part, row)}: what the entity holds besides
           its row, starting empty ({})
It gets get(db, key) -> entity or nil, and list(db [, where, ...]) ->
every entity in order, and their rows; where (a condition over ?1, ...)
keeps some of them.
]]
function R.describe(d)
  local get_sql = d.select .. " WHERE " .. d.key .. " = ?1"
  local list_sql = d.select .. " ORDER BY " .. (d.order or d.key)
  local flags = {}
  for _, f in ipairs(d.flags or {}) do flags[f] = true end
  local parts = d.parts or {}

  local function entity(row)
    local e = {}
    for _, f in ipairs(d.fields) do
      if flags[f] then e[f] = row[f] == 1 else e[f] = row[f] end
    end
    for _, p in ipairs(parts) do e[p.name] = {} end
    return e
  end

  function d.get(db, key)
    local row = I.row(db, get_sql, key)
    if not row then return nil end
    local e = entity(row)
    for _, p in ipairs(parts) do
      for _, r in ipairs(I.rows(db, p.one, row.id)) do p.add(e[p.name], r) end
    end
    return e
  end

  function d.list(db, where, ...)
    local rows = where
      and I.rows(db, d.select .. " WHERE " .. where .. " ORDER BY "
                 .. (d.order or d.key), ...)
      or I.rows(db, list_sql)
    local list, by_id = {}, {}
    for i, row in ipairs(rows) do
      list[i] = entity(row)
      by_id[row.id] = list[i]
    end
    for _, p in ipairs(parts) do
      for _, r in ipairs(I.rows(db, p.all)) do
        local e = by_id[r.owner]
        if e then p.add(e[p.name], r) end
      end
    end
    return list, rows
  end
  return d
end

--- Part adders for R.describe: append the rows' field f, or set
-- part[row[k]] = row[v].
function R.append(f)
  return function(part, r) part[#part + 1] = r[f] end
end

function R.map(k, v)
  return function(part, r) part[r[k]] = r[v] end
end

--- A unit as put_unit takes it: {key, level, parent, label}, or nil.
R.units = R.describe {
  select = "SELECT u.id, u.key, u.level, u.label, p.key AS parent"
    .. " FROM units u LEFT JOIN units p ON p.id = u.parent_id",
  key = "u.key", fields = { "key", "level", "parent", "label" },
}
R.unit = R.units.get

--- A tenant as put_tenant takes it: {key, label, default}, or nil.
R.tenants = R.describe {
  select = "SELECT id, key, label, default_access AS \"default\" FROM tenants",
  key = "key", fields = { "key", "label", "default" },
}
R.tenant = R.tenants.get

--- A right as put_right takes it: {key, kind, mode, customer, area,
-- label}, or nil.
R.rights = R.describe {
  select = "SELECT id, key, kind, mode, customer, area, label FROM rights",
  key = "key", order = "id",
  fields = { "key", "kind", "mode", "customer", "area", "label" },
  flags = { "customer" },
}
R.right = R.rights.get

--- A bundle as put_bundle takes it: {key, label, rights = {right =
-- value}}, or nil.
R.bundles = R.describe {
  select = "SELECT id, key, label FROM bundles",
  key = "key", fields = { "key", "label" },
  parts = { {
    name = "rights",
    one = "SELECT r.key, r.kind, br.value FROM bundle_rights br"
      .. " JOIN rights r ON r.id = br.right_id WHERE br.bundle_id = ?1",
    all = "SELECT br.bundle_id AS owner, r.key, r.kind, br.value"
      .. " FROM bundle_rights br JOIN rights r ON r.id = br.right_id",
    add = function(rights, r) rights[r.key] = R.value(r.kind, r.value) end,
  } },
}
R.bundle = R.bundles.get

--- A user as put_user takes it: {key, unit, bundles = {...}, active,
-- label}, or nil.
R.users = R.describe {
  select = "SELECT u.id, u.key, u.active, u.label, n.key AS unit"
    .. " FROM users u LEFT JOIN units n ON n.id = u.unit_id",
  key = "u.key", fields = { "key", "unit", "active", "label" },
  flags = { "active" },
  parts = { {
    name = "bundles",
    one = "SELECT b.key FROM user_bundles ub"
      .. " JOIN bundles b ON b.id = ub.bundle_id WHERE ub.user_id = ?1"
      .. " ORDER BY ub.position",
    all = "SELECT ub.user_id AS owner, b.key FROM user_bundles ub"
      .. " JOIN bundles b ON b.id = ub.bundle_id"
      .. " ORDER BY ub.user_id, ub.position",
    add = R.append("key"),
  } },
}
R.user = R.users.get

local SQL_OVERRIDES = "SELECT r.key, r.kind, o.value FROM overrides o"
  .. " JOIN rights r ON r.id = o.right_id WHERE o.user_id = ?1"
local SQL_ACCESS = "SELECT t.key, a.access FROM access a"
  .. " JOIN tenants t ON t.id = a.tenant_id WHERE a.user_id = ?1"
local SQL_CUSTOMERS = "SELECT c.key FROM account_managers m"
  .. " JOIN customers c ON c.id = m.customer_id WHERE m.user_id = ?1"
  .. " ORDER BY c.key"
local SQL_MANAGERS = "SELECT u.key FROM account_managers m"
  .. " JOIN customers c ON c.id = m.customer_id"
  .. " JOIN users u ON u.id = m.user_id WHERE c.key = ?1 ORDER BY u.key"

--- A user's overrides by id: {right = value}.
-- @tparam userdata db
-- @tparam number user_id
-- @treturn table
function R.overrides(db, user_id)
  local t = {}
  for _, r in ipairs(I.rows(db, SQL_OVERRIDES, user_id)) do
    t[r.key] = R.value(r.kind, r.value)
  end
  return t
end

--- A user's explicit tenant access by id: {tenant = access}.
-- @tparam userdata db
-- @tparam number user_id
-- @treturn table
function R.access(db, user_id)
  local t = {}
  for _, r in ipairs(I.rows(db, SQL_ACCESS, user_id)) do t[r.key] = r.access end
  return t
end

--- The customers a user manages by id, in key order.
-- @tparam userdata db
-- @tparam number user_id
-- @treturn {string,...}
function R.customers(db, user_id)
  local t = {}
  for i, r in ipairs(I.rows(db, SQL_CUSTOMERS, user_id)) do t[i] = r.key end
  return t
end
-- }}}

-- Public readers {{{

-- Run impl inside a read transaction unless one is open already, never
-- on a row of another coroutine's open change set (the "busy" error names
-- the reader called, when given; mandate.write is loaded by then: it
-- requires this module).
local function read_tx(db, name, impl, ...)
  local where = I.owner(db)
  if where ~= "none" then require("mandate.change").may_read(db, name, where) end
  if I.in_transaction(db) then return impl(db, ...) end
  I.exec(db, "BEGIN")
  local r = pack(pcall(impl, db, ...))
  local ok, e = r[1], r[2]
  if ok then ok, e = pcall(I.exec, db, "COMMIT") end
  if not ok then
    pcall(I.exec, db, "ROLLBACK")
    error(e, 0)
  end
  return unpack(r, 2, r.n)
end

local function in_read_tx(db, impl, ...)
  return read_tx(db, nil, impl, ...)
end

-- A public reader: see validate.method; reads in one transaction.
local function reader(name, impl)
  return V.method(name, function(db, ...)
    return read_tx(db, name, impl, ...)
  end)
end

--- Run impl(db, ...) inside a read transaction unless one is open
-- already (for modules that add readers).
-- @function in_read_tx
-- @tparam userdata db
-- @tparam function impl
-- @return impl's results
R.in_read_tx = in_read_tx

--- Make a public reader (for modules that add readers): see
-- `validate.method`; impl(db, ...) runs inside one read transaction
-- unless a transaction is open already.
-- @function reader
-- @tparam string name the method's name, for messages
-- @tparam function impl
-- @treturn function the method
R.reader = reader

local function getter(name, entity)
  return reader(name, function(db, key)
    return entity(db, V.key(name, "key", key))
  end)
end

-- A reader of every entity of a kind (see R.describe).
local function lister(name, kind)
  return reader(name, function(db)
    return (kind.list(db))
  end)
end

--- The level names, top to bottom (empty before set_levels).
-- @function levels
-- @treturn {string,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
M.levels = reader("levels", R.levels)

--- A unit: {key =, level =, parent =, label =}.
-- @function get_unit
-- @tparam string key
-- @treturn table|nil the unit, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.get_unit = getter("get_unit", R.unit)

--- All units in key order, each as `get_unit` returns it.
-- @function units
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.units = lister("units", R.units)

--- A tenant: {key =, label =, default =}.
-- @function get_tenant
-- @tparam string key
-- @treturn table|nil the tenant, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.get_tenant = getter("get_tenant", R.tenant)

--- All tenants in key order, each as `get_tenant` returns it.
-- @function tenants
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.tenants = lister("tenants", R.tenants)

--- A right: {key =, kind =, mode =, customer = boolean, area =, label =}.
-- @function get_right
-- @tparam string key
-- @treturn table|nil the right, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.get_right = getter("get_right", R.right)

--- The rights catalog in the order its rights were first put, each as
-- `get_right` returns it.
-- @function rights
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.rights = lister("rights", R.rights)

--- A bundle: {key =, label =, rights = {right key = value}}.
-- @function get_bundle
-- @tparam string key
-- @treturn table|nil the bundle, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.get_bundle = getter("get_bundle", R.bundle)

--- All bundles in key order, each as `get_bundle` returns it.
-- @function bundles
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.bundles = lister("bundles", R.bundles)

--- A user: {key =, unit =, bundles = {bundle key, ...}, active =,
-- label =}; bundles in the order they were put.
-- @function get_user
-- @tparam string key
-- @treturn table|nil the user, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.get_user = getter("get_user", R.user)

--- All users in key order, each as `get_user` returns it.
-- @function users
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.users = lister("users", R.users)

-- A reader of one user's rows by id: nil for an unknown user.
local function of_user(name, rows)
  return reader(name, function(db, user)
    local row = R.row(db, "user", V.key(name, "user", user))
    return row and rows(db, row.id)
  end)
end

--- A user's overrides: {right key = value}.
-- @function overrides
-- @tparam string user
-- @treturn table|nil the overrides, nil when there is no such user
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.overrides = of_user("overrides", R.overrides)

--- A user's explicit tenant access: {tenant key = "full"|"read"|"hidden"}.
-- Tenants not listed fall back to their default.
-- @function access_of
-- @tparam string user
-- @treturn table|nil the access rows, nil when there is no such user
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.access_of = of_user("access_of", R.access)

--- The customers a user manages, in key order.
-- @function customers_of
-- @tparam string user
-- @treturn {string,...}|nil the customer keys, nil when there is no such
-- user
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.customers_of = of_user("customers_of", R.customers)

--- The account managers of a customer, in key order (empty for a
-- customer nobody manages).
-- @function managers_of
-- @tparam string customer
-- @treturn {string,...} user keys
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.managers_of = reader("managers_of", function(db, customer)
  local list = {}
  V.key("managers_of", "customer", customer)
  for i, r in ipairs(I.rows(db, SQL_MANAGERS, customer)) do list[i] = r.key end
  return list
end)

local SQL_REVISION = "SELECT value FROM meta WHERE key = 'revision'"

--- The store's revision (see `db:revision`).
-- @tparam userdata db
-- @treturn number
function R.revision(db)
  return I.row(db, SQL_REVISION).value
end

--- The store's revision: 0 for a new store, one more after every
-- committed change set (a writer called on its own, or a whole outermost
-- `db:transaction`).  Writes that change nothing do not count.
-- @function revision
-- @treturn number
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.revision = reader("revision", R.revision)

-- db:audit's query, with only the filters given so that SQLite can use
-- the audit's indexes: a subject by audit_subject, revision bounds as a
-- range of ids (a revision's rows are contiguous and end at its last_id).
-- A change set's time and actor are its revision's (rows from before
-- schema 4 keep their own).
local function audit_query(since_rev, since_time, before_rev, before_time,
                           actor, subject, op, limit)
  local inner, outer, args = {}, {}, {}
  local function add(where, cond, v)
    where[#where + 1] = cond
    args[#args + 1] = v
  end
  if since_rev then
    add(inner, "a.id > coalesce((SELECT last_id FROM revisions WHERE"
        .. " revision <= ? ORDER BY revision DESC LIMIT 1), 0)", since_rev)
  end
  if before_rev then
    add(inner, "a.id <= coalesce((SELECT last_id FROM revisions WHERE"
        .. " revision < ? ORDER BY revision DESC LIMIT 1), 0)", before_rev)
  end
  if subject then add(inner, "a.subject = ?", subject) end
  if op then add(inner, "a.op = ?", op) end
  if since_time then add(outer, "time >= ?", since_time) end
  if before_time then add(outer, "time < ?", before_time) end
  if actor then add(outer, "actor = ?", actor) end
  args[#args + 1] = limit
  local function where(conds)
    return #conds > 0 and " WHERE " .. table.concat(conds, " AND ") or ""
  end
  return "SELECT * FROM (SELECT a.id, a.revision,"
    .. " coalesce(a.time, r.time) AS time,"
    .. " CASE WHEN a.time IS NULL THEN r.actor ELSE a.actor END AS actor,"
    .. " a.op, a.subject, a.before, a.after"
    .. " FROM audit a LEFT JOIN revisions r ON r.revision = a.revision"
    .. where(inner) .. ")" .. where(outer) .. " ORDER BY id DESC LIMIT ?", args
end

local AUDIT_OPTIONS = { "since", "before", "actor", "subject", "op", "limit" }

--- A point of the audit trail, argument arg of fn: a revision number, or
-- a time as text in the trail's own form (see validate.time); nil is
-- none.  Raises for anything else.
-- @tparam string fn
-- @tparam string arg
-- @param v
-- @treturn number|nil the revision
-- @treturn string|nil the time
function R.bound(fn, arg, v)
  if type(v) == "number" then
    return V.count(fn, arg, v, "a revision number"), nil
  elseif type(v) == "string" then
    return nil, V.time(fn, arg, v)
  elseif v ~= nil then
    V.fail(fn, arg, "expected a revision number or a time string (ISO "
           .. "8601, or '@' and a Unix time), got %s", V.show(v))
  end
  return nil, nil
end

--- The audit trail: one row per change, newest last.
-- Each row is {id =, revision =, time = "2024-05-01T12:00:00.000Z",
-- actor =, op = "put_unit", subject = "unit:hh-sales", before =,
-- after =}; before and after are the entity (or the part of it the change
-- touched, e.g. {right =, value =} for an override) as tables, absent
-- when the entity did not exist before or after.  Subjects are
-- "kind:key" ("user:alice"; overrides, access and customers of a user
-- are filed under the user), or "levels".
--
-- `since` and `before` bound the rows by revision or by time.  A number
-- is a revision: `since = r` keeps the changes after revision r (as
-- `db:revision()` returned it before them), `before = r` those before
-- revision r.  A string is a time, compared as a time with the rows'
-- (UTC, in milliseconds): ISO 8601, a date ("2024-03-01": its midnight
-- in UTC) or a date and time ("2024-03-01T12:00", "2024-03-01 12:00:05",
-- "2024-03-01T12:00:05.250Z", "2024-03-01T13:00:05+01:00"; no zone is
-- UTC), or a Unix time written "@1709294405" (or "@1709294405.25").
-- `since = t` keeps the rows at or after t, `before = t` those strictly
-- before t, so consecutive windows never share a row; a row's own time,
-- even cut to whole seconds, finds it with `since`.  Anything else
-- raises: "2024-3-1", "yesterday", month 13, February 30.
-- @function audit
-- @tparam[opt] table options
-- @tparam[opt] number|string options.since a revision: only changes
-- after it; or a time: only changes at or after it
-- @tparam[opt] number|string options.before a revision or a time: only
-- changes before it (`until` is a word of Lua)
-- @tparam[opt] string options.actor only changes by this actor
-- @tparam[opt] string options.subject only changes of this subject
-- @tparam[opt] string options.op only this operation ("put_user")
-- @tparam[opt] number options.limit only the newest this many rows: an
-- integer from 0 to 2^53 (0: none; leave it out for all)
-- @treturn {table,...} the rows, oldest first
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.audit = reader("audit", function(db, opts)
  local fn = "audit"
  opts = V.options(fn, opts, AUDIT_OPTIONS)
  local since_rev, since_time = R.bound(fn, "options.since", opts.since)
  local before_rev, before_time = R.bound(fn, "options.before", opts.before)
  for _, name in ipairs({ "actor", "subject", "op" }) do
    if opts[name] ~= nil and type(opts[name]) ~= "string" then
      V.fail(fn, "options." .. name, "expected a string, got %s",
             V.show(opts[name]))
    end
  end
  local limit = -1                    -- SQLite: no limit
  if opts.limit ~= nil then
    limit = V.count(fn, "options.limit", opts.limit, "a count")
  end
  local sql, args = audit_query(since_rev, since_time, before_rev,
                                before_time, opts.actor, opts.subject,
                                opts.op, limit)
  local rows = I.rows(db, sql, unpack(args, 1, #args))
  local list, n = {}, #rows
  for i = n, 1, -1 do
    local row = rows[i]
    if row.before then row.before = json.decode(row.before) end
    if row.after then row.after = json.decode(row.after) end
    list[n - i + 1] = row
  end
  return list
end)
-- }}}

return R
