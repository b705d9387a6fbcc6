--- Where a row is written.
--
-- The writers of the public API (`db:put_unit`, `db:set_override`, ...;
-- change sets and `db:transaction` are mandate.change's), each one change
-- set with its audit rows.
--
-- **Contract of every writer.**  It checks all its arguments against the
-- store before it writes anything; a bad argument raises an error naming
-- the function, the argument, the bad value and what is allowed, and the
-- store is unchanged.  Called on its own, a writer is one SQLite
-- transaction (`BEGIN IMMEDIATE`), one audit row per changed entity and
-- one step of `db:revision()`; a runtime failure of the store (`busy`,
-- `ioerr`, ...) rolls it back and returns `nil, message, code`.  Inside
-- `db:transaction` a runtime failure raises the `mandate.Error` instead,
-- and the transaction cannot commit half of the writer's work: it rolls
-- back when fn returns, even if fn caught the error (an inner
-- `db:transaction` around the writer confines that to the inner writes).
-- A writer that would change nothing (putting what is stored already,
-- clearing what is not there) writes nothing: no audit row, no new
-- revision.
--
-- `put_*` create or update.  An option that is missing (nil) keeps its
-- stored value on update and takes its default on create; `false`
-- removes an optional text or reference (`label = false`,
-- `parent = false`, `unit = false`).  Lists and maps given to a writer
-- replace what is stored: `put_bundle{rights = ...}` is the bundle's
-- complete set of values (use `set_bundle_right` to change one), and
-- `put_user{bundles = ...}` the user's complete, ordered bundle list.
--
-- `delete_*` refuse to orphan anything unless given `{cascade = true}`:
-- see each one for what cascading removes.
-- @module mandate.write

local core = require "mandate.core"
local I = core.internal   -- the primitives, captured at load (see init.lua)
local E = require "mandate.entity"
local read = require "mandate.read"
local V = require "mandate.validate"

local W = {}    -- the public methods, installed into mandate.Db
local show, fail = V.show, V.fail


local change = require "mandate.change"
local writer, DIRECT = change.writer, change.DIRECT
local store_error = change.store_error
local same, record = E.same, E.record   -- see mandate.entity

-- Shared checks {{{

local existing, text_value = E.existing, E.text_value   -- see mandate.entity

--[[
The id of an existing user or tenant, for writers that need nothing else:
one crossing into the store, which asks its snapshot (a key it holds was
checked when it was put) and else SQL.  The store decides that a key
names nothing; here that is worded (after the checks of a key argument).
The snapshot lacks what was created since it was compiled, never what
was deleted: deleting marks it stale.
]]
local function existing_id(db, fn, arg, kind, key)
  local id = type(key) == "string" and I.known(db, kind, key)
  if id then return id end
  V.key(fn, arg, key)
  return V.found(fn, arg, kind, key, nil)
end

--[[
The values a holder keeps per right: a bundle's values (bundle_rights) and
a user's overrides (overrides), each audited under the holder as {right =,
value =}.  held(kind, table, owner column, id_of) gives the impls of their
writers, set(db, fn, holder, right, value) and clear(db, fn, holder,
right), and `delete`, the statement removing one value (holder id, right
id).  id_of(db, fn, arg, kind, key) checks the holder's key: its id.
]]
local function held(kind, tbl, owner, id_of)
  local where = " WHERE " .. owner .. " = ?1 AND right_id = ?2"
  local h = {
    get = "SELECT value FROM " .. tbl .. where,
    put = "INSERT INTO " .. tbl .. "(" .. owner .. ", right_id, value)"
      .. " VALUES (?1, ?2, ?3) ON CONFLICT(" .. owner .. ", right_id)"
      .. " DO UPDATE SET value = excluded.value",
    delete = "DELETE FROM " .. tbl .. where,
  }
  function h.set(db, fn, key, right, value)
    local id = id_of(db, fn, kind, kind, key)
    local r = existing(db, fn, "right", "right", right)
    local text = V.value(fn, "value", r, value, read.levels(db))
    local old = I.row(db, h.get, id, r.id)
    if old and old.value == text then return true end
    I.exec(db, h.put, id, r.id, text)
    record(db, fn, kind .. ":" .. key,
           old and { right = right, value = read.value(r.kind, old.value) },
           { right = right, value = read.value(r.kind, text) })
    return true
  end
  function h.clear(db, fn, key, right)
    local id = id_of(db, fn, kind, kind, key)
    local r = existing(db, fn, "right", "right", right)
    local old = I.row(db, h.get, id, r.id)
    if not old then return true end
    I.exec(db, h.delete, id, r.id)
    record(db, fn, kind .. ":" .. key,
           { right = right, value = read.value(r.kind, old.value) }, nil)
    return true
  end
  return h
end

local BUNDLE_VALUES = held("bundle", "bundle_rights", "bundle_id",
                           function(...) return existing(...).id end)
local OVERRIDES = held("user", "overrides", "user_id", existing_id)
-- }}}

-- Levels {{{

local SQL_UNIT_LEVELS = "SELECT key, level FROM units ORDER BY key"
local SQL_SCOPE_VALUES = "SELECT 'bundle' AS holder, b.key AS holder_key,"
  .. " r.key AS right_key, r.customer, br.value FROM bundle_rights br"
  .. " JOIN bundles b ON b.id = br.bundle_id JOIN rights r ON r.id = br.right_id"
  .. " WHERE r.kind = 'scope'"
  .. " UNION ALL SELECT 'user', u.key, r.key, r.customer, o.value"
  .. " FROM overrides o JOIN users u ON u.id = o.user_id"
  .. " JOIN rights r ON r.id = o.right_id WHERE r.kind = 'scope'"
  .. " ORDER BY 1, 2, 3"
local SQL_DROP_LEVEL = "DELETE FROM levels WHERE name = ?1"
local SQL_PUT_LEVEL = "INSERT INTO levels(name, depth) VALUES (?1, ?2)"
  .. " ON CONFLICT(name) DO UPDATE SET depth = excluded.depth"

--- Set the levels of the org tree, top to bottom.
-- A later call may add, remove and reorder levels, but refuses to strand
-- anything: every level a unit sits on or a stored scope value names
-- (a bundle value or an override, e.g. "team+customer") must stay, and
-- every unit must stay strictly below its parent.
-- @function set_levels
-- @tparam {string,...} levels 1 to 32 unique names, top to bottom; not
-- "none", "own", "all", "customer", nor containing "+"
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.set_levels = writer("set_levels", function(db, fn, levels)
  V.level_names(fn, levels)
  local names, depth = {}, {}
  for d, name in ipairs(levels) do
    names[d] = name
    depth[name] = d
  end
  for _, u in ipairs(I.rows(db, SQL_UNIT_LEVELS)) do
    if not depth[u.level] then
      fail(fn, "levels", "%s is missing, but unit %s is on it (move or "
           .. "delete the units on it first)", show(u.level), show(u.key))
    end
  end
  -- the engine's tree rule, with the new depths (src/store/tree.c)
  local fault = I.levels_fault(db, names)
  if fault then
    local level, parent_level = names[fault.unit_depth],
                                names[fault.parent_depth]
    fail(fn, "levels", "the new order puts %s above %s, but unit %s on %s "
         .. "has the parent %s on %s (a unit's level must be below its "
         .. "parent's)", show(level), show(parent_level), show(fault.unit),
         show(level), show(fault.parent), show(parent_level))
  end
  for _, v in ipairs(I.rows(db, SQL_SCOPE_VALUES)) do
    if not core.parse_value(names, "scope", v.customer == 1, v.value) then
      local holder
      if v.holder == "bundle" then
        holder = string.format("bundle %s gives right %s the value %s",
                               show(v.holder_key), show(v.right_key),
                               show(v.value))
      else
        holder = string.format("user %s has the override %s for right %s",
                               show(v.holder_key), show(v.value),
                               show(v.right_key))
      end
      fail(fn, "levels", "%s is missing, but %s (change such values first)",
           show(v.value:match("^[^+]*")), holder)
    end
  end
  local old = read.levels(db)
  if same(old, names) then return true end
  for _, name in ipairs(old) do
    if not depth[name] then I.exec(db, SQL_DROP_LEVEL, name) end
  end
  for d, name in ipairs(names) do I.exec(db, SQL_PUT_LEVEL, name, d - 1) end
  record(db, fn, "levels", old[1] and old or nil, names)
  return true
end)
-- }}}

-- Units {{{

local SQL_UNIT_BY_ID = "SELECT id, key, level, parent_id FROM units"
  .. " WHERE id = ?1"
local SQL_CHILDREN = "SELECT id, key, level FROM units WHERE parent_id = ?1"
  .. " ORDER BY key"
local SQL_UNIT_USERS = "SELECT id, key FROM users WHERE unit_id = ?1"
  .. " ORDER BY key"
local SQL_UNSET_UNIT = "UPDATE users SET unit_id = NULL WHERE id = ?1"

local function level_range(levels, lo, hi)
  local t = {}
  for d = lo, hi do t[#t + 1] = levels[d] end
  return #t > 0 and table.concat(t, ", ") or "none"
end

local UNIT = E.describe {
  kind = "unit", table = "units", columns = { "level", "parent_id", "label" },
  options = { "level", "parent", "label" }, get = read.unit,
  refuse = { {
    refs = { { name = "children", sql = SQL_CHILDREN, word = "child unit" },
             { name = "users", sql = SQL_UNIT_USERS, word = "user" } },
    message = "unit %s still has %s (move or delete them first, or pass "
      .. "{cascade = true} to delete its subtree and take its users out of "
      .. "their units)" } },
}

--[[
put_unit: the level and the parent.  Whether the unit may sit there is
the engine's tree rule, decided by the store (I.unit_fault, the function
the compile runs); here it is worded: a cycle before the label is
checked, the level order after it.
]]
function UNIT.change(db, fn, key, opts, row)
  local levels = read.levels(db)
  local level = row and row.level
  if opts.level ~= nil then
    V.level(fn, "options.level", opts.level, levels)
    level = opts.level
  elseif not row then
    fail(fn, "options.level", "missing (a new unit needs a level; levels: %s)",
         #levels > 0 and table.concat(levels, ", ")
                     or "none yet, call db:set_levels first")
  end
  local parent
  if opts.parent == nil then
    parent = row and row.parent_id and I.row(db, SQL_UNIT_BY_ID, row.parent_id)
  elseif opts.parent ~= false then
    if type(opts.parent) ~= "string" then
      fail(fn, "options.parent", "expected a unit key, or false for a root "
           .. "unit, got %s", show(opts.parent))
    end
    parent = existing(db, fn, "options.parent", "unit", opts.parent)
  end
  local depth
  for d, name in ipairs(levels) do
    if name == level then depth = d end
  end
  local fault = I.unit_fault(db, key, row and row.id, parent and parent.id,
                             depth)
  if fault and fault.rule == "cycle" then
    if fault.parent == key then
      fail(fn, "options.parent", "%s is the unit itself (a unit cannot be "
           .. "its own parent)", show(opts.parent))
    end
    fail(fn, "options.parent", "%s lies below %s (a unit cannot move into "
         .. "its own subtree)", show(opts.parent), show(key))
  end
  V.text(fn, "options.label", opts.label)
  if fault then
    local allowed = level_range(levels, fault.lo, fault.hi or #levels)
    if fault.rule == "level" and fault.unit == key then
      if opts.level ~= nil then
        fail(fn, "options.level", "%s is not below the level %s of parent %s "
             .. "(allowed here: %s)", show(level), show(parent.level),
             show(parent.key), allowed)
      end
      fail(fn, "options.parent", "%s is on level %s, not above the level %s "
           .. "of unit %s (a unit's parent must be on a higher level)",
           show(parent.key), show(parent.level), show(level), show(key))
    elseif fault.rule == "level" and fault.parent == key then
      fail(fn, "options.level", "%s is not above the level %s of child unit "
           .. "%s (allowed here: %s)", show(level),
           show(levels[fault.unit_depth]), show(fault.unit), allowed)
    end
    error(setmetatable({ code = fault.code, message = string.format(
      "%s: the stored org tree breaks its rules at unit %s (rule %s)", fn,
      show(fault.unit), fault.rule) }, core.Error), 0)
  end
  local after = { key = key, level = level, parent = parent and parent.key,
                  label = text_value(opts.label, row and row.label) }
  return after, { level, parent and parent.id, after.label }
end

-- delete_unit's cascade: every user of the subtree leaves their unit,
-- then the units go, the deepest first.
function UNIT.cascade(db, fn, row)
  local subtree, i = { row }, 1
  while i <= #subtree do
    for _, c in ipairs(I.rows(db, SQL_CHILDREN, subtree[i].id)) do
      subtree[#subtree + 1] = c
    end
    i = i + 1
  end
  for _, unit in ipairs(subtree) do
    for _, u in ipairs(I.rows(db, SQL_UNIT_USERS, unit.id)) do
      local before = read.user(db, u.key)
      I.exec(db, SQL_UNSET_UNIT, u.id)
      record(db, fn, "user:" .. u.key, before, read.user(db, u.key))
    end
  end
  for k = #subtree, 2, -1 do E.drop(UNIT, db, fn, subtree[k]) end
end

--- Create or update a unit of the org tree.
-- @function put_unit
-- @tparam string key the unit's key
-- @tparam[opt] table options
-- @tparam[opt] string options.level its level; required on create; must
-- be strictly below the parent's level and above its children's
-- @tparam[opt] string|false options.parent the parent unit's key; false
-- (or absent on create) for a root; never the unit itself or one of its
-- descendants
-- @tparam[opt] string|false options.label a display name; false removes it
-- @treturn number the unit's id (stable, see `db:id`)
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.put_unit = writer("put_unit", E.put(UNIT))

--- Delete a unit.
-- Refuses while the unit has child units or users.  With
-- `{cascade = true}` it deletes the unit's whole subtree and takes every
-- user of those units out of their unit (their `unit` becomes absent, so
-- level scopes reach only their own records until they get a new one);
-- the users themselves stay.
-- @function delete_unit
-- @tparam string key the unit's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade delete the subtree, unassign users
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.delete_unit = writer("delete_unit", E.delete(UNIT))
-- }}}

-- Tenants {{{

local SQL_TENANT_ACCESS = "SELECT a.user_id, u.key, a.access FROM access a"
  .. " JOIN users u ON u.id = a.user_id WHERE a.tenant_id = ?1 ORDER BY u.key"

--[[
A tenant's refusals: its access rows, then what other modules' rows it
owns (mandate.contacts adds its contacts, roles and lists with E.add_ref
to the second group).
]]
local TENANT = E.describe {
  kind = "tenant", table = "tenants", columns = { "label", "default_access" },
  options = { "label", "default" }, get = read.tenant,
  refuse = {
    { refs = { { name = "access", sql = SQL_TENANT_ACCESS, word = "user",
                 drop = function(db, fn, a, row)   -- the row and its audit row
                   I.write_access(db, fn, a.key, row.key, nil)
                 end } },
      message = "tenant %s is still in the access rows of %s (clear_access "
        .. "them first, or pass {cascade = true} to delete them)" },
    { refs = {}, sep = ", ",
      message = "tenant %s still owns %s (delete or move them first, or "
        .. "pass {cascade = true} to delete them)" },
  },
  cascade = { "access" },
}

function TENANT.change(_, fn, key, opts, row)
  V.text(fn, "options.label", opts.label)
  if opts.default ~= nil then
    V.word(fn, "options.default", opts.default, "an access", V.ACCESS)
  end
  local after = { key = key, label = text_value(opts.label, row and row.label),
                  default = opts.default or row and row.default_access
                            or "hidden" }
  return after, { after.label, after.default }
end

--- Create or update a tenant.
-- @function put_tenant
-- @tparam string key the tenant's key
-- @tparam[opt] table options
-- @tparam[opt] string|false options.label a display name; false removes it
-- @tparam[opt="hidden"] string options.default the access of users
-- without an explicit one: "full", "read" or "hidden"
-- @treturn number the tenant's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.put_tenant = writer("put_tenant", E.put(TENANT))

--- Delete a tenant.
-- Refuses while users have explicit access to it, or while it owns
-- contacts, roles or distribution lists, or units' access templates name
-- it.  With `{cascade = true}` it deletes those access rows too, what the
-- tenant owns (see `mandate.contacts`: its lists, its roles, its contacts
-- with all their roles, and their list entries), never turning private
-- data common, and its entries in the templates (see `mandate.moves`).
-- @function delete_tenant
-- @tparam string key the tenant's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade delete the users' access rows and
-- what the tenant owns
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.delete_tenant = writer("delete_tenant", E.delete(TENANT))
-- }}}

-- Rights {{{

local SQL_RIGHT_VALUES = "SELECT 'bundle' AS holder, b.id AS holder_id,"
  .. " b.key AS holder_key, br.value FROM bundle_rights br"
  .. " JOIN bundles b ON b.id = br.bundle_id WHERE br.right_id = ?1"
  .. " UNION ALL SELECT 'user', u.id, u.key, o.value FROM overrides o"
  .. " JOIN users u ON u.id = o.user_id WHERE o.right_id = ?1"
  .. " ORDER BY 1, 3"
local SQL_RIGHT_BUNDLES = "SELECT b.id, b.key, br.value FROM bundle_rights br"
  .. " JOIN bundles b ON b.id = br.bundle_id WHERE br.right_id = ?1"
  .. " ORDER BY b.key"
local SQL_RIGHT_OVERRIDES = "SELECT u.id, u.key, o.value FROM overrides o"
  .. " JOIN users u ON u.id = o.user_id WHERE o.right_id = ?1 ORDER BY u.key"

-- "bundle 'x' gives it" / "user 'alice' has an override"
local function holder_text(v)
  if v.holder == "bundle" then
    return "bundle " .. show(v.holder_key) .. " gives it"
  end
  return "user " .. show(v.holder_key) .. " has it as an override"
end

-- A ref of a right: the values of it that holders of one kind store
-- (delete: sql over holder id, right id; audited under "kind:key").
local function right_values(name, sql, word, delete, prefix)
  return { name = name, sql = sql, word = word, prefix = prefix,
           drop = function(db, fn, v, row)
             I.exec(db, delete, v.id, row.id)
             record(db, fn, word .. ":" .. v.key,
                    { right = row.key, value = read.value(row.kind, v.value) },
                    nil)
           end }
end

local RIGHT = E.describe {
  kind = "right", table = "rights",
  columns = { "kind", "mode", "customer", "area", "label" },
  options = { "kind", "mode", "customer", "area", "label" }, get = read.right,
  refuse = { {
    refs = { right_values("bundles", SQL_RIGHT_BUNDLES, "bundle",
                          BUNDLE_VALUES.delete),
             right_values("overrides", SQL_RIGHT_OVERRIDES, "user",
                          OVERRIDES.delete, "the overrides of ") },
    message = "right %s is still used by %s (remove those values first, or "
      .. "pass {cascade = true} to remove them)" } },
  cascade = { "bundles", "overrides" },
}

-- put_right: the kind and the customer part, against the stored values.
function RIGHT.change(db, fn, key, opts, row)
  local kind = row and row.kind
  if opts.kind ~= nil then
    kind = V.word(fn, "options.kind", opts.kind, "a kind of right", V.KINDS)
  elseif not row then
    fail(fn, "options.kind", "missing (a new right needs kind = \"flag\" or "
         .. "\"scope\")")
  end
  if opts.mode ~= nil then
    V.word(fn, "options.mode", opts.mode, "a mode", V.MODES)
  end
  V.boolean(fn, "options.customer", opts.customer)
  V.text(fn, "options.area", opts.area)
  V.text(fn, "options.label", opts.label)
  local customer = opts.customer
  if customer == nil then customer = row and kind == "scope"
                                     and row.customer == 1 or false end
  if customer and kind == "flag" then
    fail(fn, "options.customer", "true is not allowed for flag right %s (only "
         .. "scope rights have a customer part)", show(key))
  end
  if row then
    local values = I.rows(db, SQL_RIGHT_VALUES, row.id)
    if kind ~= row.kind and #values > 0 then
      fail(fn, "options.kind", "%s: right %s cannot change from %s to %s "
           .. "while values of it are stored: %s (clear them first)",
           show(kind), show(key), row.kind, kind, holder_text(values[1]))
    end
    if row.customer == 1 and not customer then
      local levels = read.levels(db)
      for _, v in ipairs(values) do
        if not core.parse_value(levels, "scope", false, v.value) then
          fail(fn, "options.customer", "false would strand the value %s: %s "
               .. "(change such values first)", show(v.value), holder_text(v))
        end
      end
    end
  end
  local after = { key = key, kind = kind,
                  mode = opts.mode or row and row.mode or "write",
                  customer = customer,
                  area = text_value(opts.area, row and row.area),
                  label = text_value(opts.label, row and row.label) }
  return after, { kind, after.mode, customer, after.area, after.label }
end

--- Create or update a right of the catalog.
-- The catalog keeps the order in which rights were first put.
-- @function put_right
-- @tparam string key the right's key ("documents.edit")
-- @tparam[opt] table options
-- @tparam[opt] string options.kind "flag" or "scope"; required on create;
-- cannot change while bundles or overrides hold values of the right
-- @tparam[opt="write"] string options.mode "write" (denied on read-only
-- tenants) or "read"
-- @tparam[opt=false] boolean options.customer whether scope values may
-- have the "+customer" part; only for scope rights (changing the kind to
-- flag turns it off); cannot be turned off while stored values use it
-- @tparam[opt] string|false options.area a group name for displays
-- @tparam[opt] string|false options.label a display name
-- @treturn number the right's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.put_right = writer("put_right", E.put(RIGHT))

--- Delete a right from the catalog.
-- Refuses while bundles or overrides hold values of it.  With
-- `{cascade = true}` it removes those values from the bundles and the
-- overrides from the users.
-- @function delete_right
-- @tparam string key the right's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade remove the right's values
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.delete_right = writer("delete_right", E.delete(RIGHT))
-- }}}

-- Bundles {{{

local SQL_BUNDLE_USERS = "SELECT u.id, u.key FROM user_bundles ub"
  .. " JOIN users u ON u.id = ub.user_id WHERE ub.bundle_id = ?1"
  .. " ORDER BY u.key"
local SQL_DROP_USER_BUNDLE = "DELETE FROM user_bundles WHERE user_id = ?1"
  .. " AND bundle_id = ?2"

-- Check options.rights: {right key = value}.  Returns a list of
-- {id =, key =, text =, value =} in key order.
local function check_rights(db, fn, rights)
  if type(rights) ~= "table" then
    fail(fn, "options.rights", "expected a table {right key = value}, got %s",
         show(rights))
  end
  local keys = {}
  for k in pairs(rights) do
    if type(k) ~= "string" then
      fail(fn, "options.rights", "expected a table {right key = value}, but "
           .. "it has the key %s", show(k))
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local levels, list = read.levels(db), {}
  for i, k in ipairs(keys) do
    local right = read.row(db, "right", k)
    if not right then
      fail(fn, "options.rights", "%s is not a right (db:rights() lists "
           .. "them)", show(k))
    end
    local text = V.value(fn, V.field("options.rights", k), right, rights[k],
                         levels)
    list[i] = { id = right.id, key = k, text = text,
                value = read.value(right.kind, text) }
  end
  return list
end

local BUNDLE = E.describe {
  kind = "bundle", table = "bundles", columns = { "label" },
  options = { "label", "rights" }, get = read.bundle,
  parts = { { name = "rights", table = "bundle_rights", owner = "bundle_id",
              columns = { "right_id", "value" } } },
  refuse = { {
    refs = { { name = "users", sql = SQL_BUNDLE_USERS, word = "user",
               drop = function(db, fn, u, row)
                 local before = read.user(db, u.key)
                 I.exec(db, SQL_DROP_USER_BUNDLE, u.id, row.id)
                 record(db, fn, "user:" .. u.key, before, read.user(db, u.key))
               end } },
    message = "bundle %s is still held by %s (put_user them without it "
      .. "first, or pass {cascade = true} to take it from them)" } },
  cascade = { "users" },
}

function BUNDLE.change(db, fn, key, opts, row, before)
  V.text(fn, "options.label", opts.label)
  local list = opts.rights ~= nil and check_rights(db, fn, opts.rights)
  local after = { key = key, label = text_value(opts.label, row and row.label),
                  rights = before and before.rights or {} }
  local rows
  if list then
    after.rights, rows = {}, {}
    for i, v in ipairs(list) do
      after.rights[v.key] = v.value
      rows[i] = { v.id, v.text }
    end
  end
  return after, { after.label }, { rights = rows }
end

--- Create or update a bundle of right values.
-- `options.rights`, when given, **replaces** the bundle's values: the
-- bundle then holds exactly these (a right not listed gives nothing,
-- i.e. false / "none"), so `get_bundle` returns what was put.  To change
-- one value, use `set_bundle_right` / `clear_bundle_right`.
-- @function put_bundle
-- @tparam string key the bundle's key
-- @tparam[opt] table options
-- @tparam[opt] string|false options.label a display name
-- @tparam[opt] table options.rights {right key = value}: booleans for
-- flag rights, scope values ("team", "all", "team+customer") for scope
-- rights
-- @treturn number the bundle's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.put_bundle = writer("put_bundle", E.put(BUNDLE))

--- Set one value of a bundle, keeping the others.
-- The audit row shows {right =, value =} before and after.
-- @function set_bundle_right
-- @tparam string bundle the bundle's key
-- @tparam string right the right's key
-- @param value a boolean for a flag right, a scope value for a scope right
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.set_bundle_right = writer("set_bundle_right", BUNDLE_VALUES.set)

--- Remove one value from a bundle (the bundle then gives nothing for
-- that right).  Nothing happens when the bundle has no value for it.
-- @function clear_bundle_right
-- @tparam string bundle the bundle's key
-- @tparam string right the right's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.clear_bundle_right = writer("clear_bundle_right", BUNDLE_VALUES.clear)

--- Delete a bundle and its values.
-- Refuses while users hold the bundle.  With `{cascade = true}` it takes
-- the bundle out of those users' bundle lists (the order of their other
-- bundles stays).
-- @function delete_bundle
-- @tparam string key the bundle's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade unassign the bundle from users
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.delete_bundle = writer("delete_bundle", E.delete(BUNDLE))
-- }}}

-- Users {{{

--[[
A user's rows: their bundle list, and on delete everything that is only
theirs (overrides, tenant access, customer assignments), which the audit
row keeps.
]]
local USER = E.describe {
  kind = "user", table = "users", columns = { "unit_id", "active", "label" },
  options = { "unit", "bundles", "active", "label" }, get = read.user,
  parts = { { name = "bundles", table = "user_bundles", owner = "user_id",
              columns = { "position", "bundle_id" } } },
  owns = { { "overrides", "user_id" }, { "access", "user_id" },
           { "account_managers", "user_id" } },
}

function USER.dropped(db, row, before)
  before.overrides = read.overrides(db, row.id)
  before.access = read.access(db, row.id)
  before.customers = read.customers(db, row.id)
end

function USER.change(db, fn, key, opts, row, before)
  local unit
  if opts.unit ~= nil and opts.unit ~= false then
    if type(opts.unit) ~= "string" then
      fail(fn, "options.unit", "expected a unit key, or false for no unit, "
           .. "got %s", show(opts.unit))
    end
    unit = existing(db, fn, "options.unit", "unit", opts.unit)
  end
  local bundles
  if opts.bundles ~= nil then
    V.array(fn, "options.bundles", opts.bundles, "bundle keys")
    bundles = {}
    local seen = {}
    for i, b in ipairs(opts.bundles) do
      local arg = "options.bundles[" .. i .. "]"
      bundles[i] = existing(db, fn, arg, "bundle", b)
      if seen[b] then
        fail(fn, arg, "%s is already options.bundles[%d] (a user holds a "
             .. "bundle once)", show(b), seen[b])
      end
      seen[b] = i
    end
  end
  V.boolean(fn, "options.active", opts.active)
  V.text(fn, "options.label", opts.label)

  local after = { key = key, bundles = before and before.bundles or {},
                  label = text_value(opts.label, row and row.label) }
  local unit_id
  if opts.unit == nil then
    after.unit, unit_id = before and before.unit, row and row.unit_id
  elseif unit then
    after.unit, unit_id = unit.key, unit.id
  end
  if opts.active ~= nil then after.active = opts.active
  else after.active = not row or row.active == 1 end
  local rows
  if bundles then
    after.bundles, rows = {}, {}
    for i, b in ipairs(bundles) do
      after.bundles[i] = b.key
      rows[i] = { i, b.id }
    end
  end
  return after, { unit_id, after.active, after.label }, { bundles = rows }
end

--- Create or update a user.
-- `options.bundles`, when given, **replaces** the user's bundle list
-- (ordered, each bundle once).
-- @function put_user
-- @tparam string key the user's key (the login name)
-- @tparam[opt] table options
-- @tparam[opt] string|false options.unit the unit the user sits in; false
-- for none
-- @tparam[opt] {string,...} options.bundles the user's bundles, in order
-- @tparam[opt=true] boolean options.active an inactive user holds nothing
-- @tparam[opt] string|false options.label a display name
-- @treturn number the user's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.put_user = writer("put_user", E.put(USER))

--- Delete a user with everything that is only theirs: bundle list,
-- overrides, tenant access and customer assignments.  Nothing in the
-- store depends on a user, so there is nothing to orphan and nothing to
-- cascade (`options.cascade` is accepted and changes nothing).  The audit
-- row keeps all of it (`before` has the user's fields plus `overrides`,
-- `access` and `customers`).  To keep a user's history in force, prefer
-- `put_user(key, {active = false})`.
-- @function delete_user
-- @tparam string key the user's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade accepted for symmetry
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.delete_user = writer("delete_user", E.delete(USER))
-- }}}

-- A user's own rows: overrides, access, customers {{{


--- Give a user their own value for one right, replacing what their
-- bundles give (to extend or to restrict it).
-- The audit row is filed under "user:KEY" with {right =, value =}.
-- @function set_override
-- @tparam string user the user's key
-- @tparam string right the right's key
-- @param value a boolean for a flag right, a scope value ("department",
-- "own", "team+customer") for a scope right
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.set_override = writer("set_override", OVERRIDES.set, DIRECT)

--- Remove a user's override: the right comes from their bundles again.
-- Nothing happens when there is none.
-- @function clear_override
-- @tparam string user the user's key
-- @tparam string right the right's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.clear_override = writer("clear_override", OVERRIDES.clear, DIRECT)

--[[
set_access and clear_access are written by the store in one call
(src/store/access.c: both ids, the old row, the row and its audit row),
the writers of bulk changes.  When it writes nothing, missing is what it
answered: the argument that names nothing (1 the user, 2 the tenant, 3 the
access), worded here after the checks every writer makes, in the order of
the arguments; false when an argument was not a string and the store was
not asked.
]]
local ACCESS_KEYS = { "user", "tenant" }

local function refuse_access(db, fn, user, tenant, access, setting, missing)
  local keys = { user, tenant }
  for i, kind in ipairs(ACCESS_KEYS) do
    if missing == i then
      V.key(fn, kind, keys[i])
      V.found(fn, kind, kind, keys[i], nil)
    elseif not missing then
      existing_id(db, fn, kind, kind, keys[i])
    end
  end
  if setting then V.word(fn, "access", access, "an access", V.ACCESS) end
  error(store_error(fn .. ": the store refused the access row"), 0)
end

--- Give a user an explicit access level on a tenant.
-- The audit row is filed under "user:KEY" with {tenant =, access =}.
-- @function set_access
-- @tparam string user the user's key
-- @tparam string tenant the tenant's key
-- @tparam string access "full", "read" or "hidden"
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.set_access = writer("set_access", function(db, fn, user, tenant, access)
  local missing = type(user) == "string" and type(tenant) == "string"
    and type(access) == "string" and I.write_access(db, fn, user, tenant, access)
  if missing == 0 then return true end
  return refuse_access(db, fn, user, tenant, access, true, missing)
end, DIRECT)

--- Remove a user's explicit access to a tenant: the tenant's default
-- applies again.  Nothing happens when there is none.
-- @function clear_access
-- @tparam string user the user's key
-- @tparam string tenant the tenant's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.clear_access = writer("clear_access", function(db, fn, user, tenant)
  local missing = type(user) == "string" and type(tenant) == "string"
    and I.write_access(db, fn, user, tenant, nil)
  if missing == 0 then return true end
  return refuse_access(db, fn, user, tenant, nil, false, missing)
end, DIRECT)

local SQL_INSERT_CUSTOMER = "INSERT INTO customers(key) VALUES (?1)"
local SQL_MANAGER = "SELECT 1 AS yes FROM account_managers"
  .. " WHERE user_id = ?1 AND customer_id = ?2"
local SQL_ADD_MANAGER = "INSERT INTO account_managers(user_id, customer_id)"
  .. " VALUES (?1, ?2)"
local SQL_DROP_MANAGER = "DELETE FROM account_managers WHERE user_id = ?1"
  .. " AND customer_id = ?2"

--- Make a user an account manager of a customer.
-- Customers are the application's keys; they need not be created first.
-- The audit row is filed under "user:KEY" with {customer =}.
-- @function assign_customer
-- @tparam string user the user's key
-- @tparam string customer the customer's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.assign_customer = writer("assign_customer", function(db, fn, user, customer)
  local uid = existing_id(db, fn, "user", "user", user)
  V.key(fn, "customer", customer)
  local c = read.row(db, "customer", customer)
  local cid = c and c.id
  if cid and I.row(db, SQL_MANAGER, uid, cid) then return true end
  if not cid then
    local _
    _, cid = I.exec(db, SQL_INSERT_CUSTOMER, customer)
  end
  I.exec(db, SQL_ADD_MANAGER, uid, cid)
  record(db, fn, "user:" .. user, nil, { customer = customer })
  return true
end, DIRECT)

--- Stop a user being an account manager of a customer.
-- Nothing happens when they are not.
-- @function unassign_customer
-- @tparam string user the user's key
-- @tparam string customer the customer's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
W.unassign_customer = writer("unassign_customer",
                             function(db, fn, user, customer)
  local uid = existing_id(db, fn, "user", "user", user)
  V.key(fn, "customer", customer)
  local c = read.row(db, "customer", customer)
  if not (c and I.row(db, SQL_MANAGER, uid, c.id)) then return true end
  I.exec(db, SQL_DROP_MANAGER, uid, c.id)
  record(db, fn, "user:" .. user, { customer = customer }, nil)
  return true
end, DIRECT)
-- }}}

--[[
For modules that add writers of their own (mandate.contacts,
mandate.moves; their writers are made by mandate.change's `writer`):
`descriptions` holds the entities described here (see mandate.entity;
other modules add what tenants own to `descriptions.tenant` and what goes
with a unit to `descriptions.unit`).
]]
return {
  methods = W,
  descriptions = { unit = UNIT, tenant = TENANT, right = RIGHT,
                   bundle = BUNDLE, user = USER },
}
