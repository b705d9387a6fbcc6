--- Where a user or a unit moves, and takes the access of its new place.
--
-- A unit carries an *access template*: the access a user sitting in it
-- should have on some tenants (`db:set_unit_access`,
-- `db:clear_unit_access`).  The *effective* template of a unit is its
-- own entries over its ancestors', the nearest unit naming a tenant wins
-- (`db:unit_access`).  A template decides nothing by itself: checks read
-- only a user's own access rows and the tenants' defaults.  A move copies
-- it into those rows:
--
-- * `db:move_user(user, unit, {access =})` puts the user into the unit
--   and sets their explicit access from the unit's effective template;
-- * `db:move_unit(unit, new_parent, {access =})` hangs a unit (with its
--   subtree and users) under another parent, or makes it a root, and may
--   re-apply the templates to every user beneath.
--
-- `access` says what happens to the users' explicit access rows:
-- `"template"` (they become exactly the template: entries set, other rows
-- cleared), `"merge"` (the template's entries are set, other rows stay)
-- or `"keep"` (no row changes; only the unit).  `move_user` defaults to
-- `"template"`, `move_unit` to `"keep"`.
--
-- A move is one change set (one revision, audited by the writers it is
-- made of: `put_user`, `put_unit`, `set_access`, `clear_access`).  It
-- checks its arguments and the tree's rules before it writes: a refused
-- move raises and writes nothing.  It returns what the users gained and
-- lost, in the shape of `db:plan`'s `changes()` (`mandate.impact`), and
-- runs under `db:plan` as a dry run.
--
-- Template rows are filed in the audit under "unit:KEY" as `{tenant =,
-- access =}`, as `set_access` files a user's.  Deleting a unit removes its
-- template (audited); deleting a tenant named by templates refuses unless
-- cascading, which removes those entries.
-- @module mandate.moves

local I = require("mandate.core").internal   -- the primitives, captured at load
local E = require "mandate.entity"
local impact = require "mandate.impact"
local read = require "mandate.read"
local change = require "mandate.change"
local write = require "mandate.write"
local V = require "mandate.validate"

local M = {}    -- the public methods, installed into mandate.Db
local show = V.show
local writer = change.writer
local record, existing = E.record, E.existing

local DIRECT = change.DIRECT   -- a writer that checks all its arguments first

-- Templates {{{

local SQL_ENTRY = "SELECT access FROM unit_access WHERE unit_id = ?1"
  .. " AND tenant_id = ?2"
local SQL_PUT_ENTRY = "INSERT INTO unit_access(unit_id, tenant_id, access)"
  .. " VALUES (?1, ?2, ?3) ON CONFLICT(unit_id, tenant_id)"
  .. " DO UPDATE SET access = excluded.access"
local SQL_DELETE_ENTRY = "DELETE FROM unit_access WHERE unit_id = ?1"
  .. " AND tenant_id = ?2"
local SQL_OWN = "SELECT a.tenant_id, t.key AS tenant, a.access"
  .. " FROM unit_access a JOIN tenants t ON t.id = a.tenant_id"
  .. " WHERE a.unit_id = ?1 ORDER BY t.key"
-- the effective template of unit ?1 in tenant order: per tenant the entry
-- of the nearest unit on the way up (SQLite takes a bare column from the
-- row that min() picks)
local SQL_TEMPLATE = "WITH RECURSIVE up(id, depth) AS (SELECT ?1, 0"
  .. " UNION ALL SELECT u.parent_id, up.depth + 1 FROM units u JOIN up"
  .. " ON u.id = up.id WHERE u.parent_id IS NOT NULL)"
  .. " SELECT t.key AS tenant, a.access, n.key AS unit, min(up.depth) AS depth"
  .. " FROM up JOIN unit_access a ON a.unit_id = up.id"
  .. " JOIN tenants t ON t.id = a.tenant_id JOIN units n ON n.id = up.id"
  .. " GROUP BY a.tenant_id ORDER BY t.key"

-- A unit's effective template by id: {{tenant =, access =, unit = whose
-- entry it is}, ...} in tenant order.
local function template(db, unit_id)
  return I.rows(db, SQL_TEMPLATE, unit_id)
end

local function entry(tenant, access)
  return { tenant = tenant, access = access }
end

--- Set one entry of a unit's access template: users moved into the unit
-- (or below it, unless a nearer unit names the tenant) get this access
-- on the tenant.  Nothing else changes: existing users keep their rows
-- until a move applies the template.
-- The audit row is filed under "unit:KEY" with {tenant =, access =}.
-- @function set_unit_access
-- @tparam string unit the unit's key
-- @tparam string tenant the tenant's key
-- @tparam string access "full", "read" or "hidden"
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
M.set_unit_access = writer("set_unit_access",
                           function(db, fn, unit, tenant, access)
  local u = existing(db, fn, "unit", "unit", unit)
  local t = existing(db, fn, "tenant", "tenant", tenant)
  V.word(fn, "access", access, "an access", V.ACCESS)
  local old = I.row(db, SQL_ENTRY, u.id, t.id)
  if old and old.access == access then return true end
  I.exec(db, SQL_PUT_ENTRY, u.id, t.id, access)
  record(db, fn, "unit:" .. unit, old and entry(tenant, old.access),
         entry(tenant, access))
  return true
end, DIRECT)

--- Remove one entry of a unit's access template: the tenant's entry of
-- the nearest ancestor naming it applies again, or none.  Nothing happens
-- when the unit has no entry for the tenant.
-- @function clear_unit_access
-- @tparam string unit the unit's key
-- @tparam string tenant the tenant's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
M.clear_unit_access = writer("clear_unit_access",
                             function(db, fn, unit, tenant)
  local u = existing(db, fn, "unit", "unit", unit)
  local t = existing(db, fn, "tenant", "tenant", tenant)
  local old = I.row(db, SQL_ENTRY, u.id, t.id)
  if not old then return true end
  I.exec(db, SQL_DELETE_ENTRY, u.id, t.id)
  record(db, fn, "unit:" .. unit, entry(tenant, old.access), nil)
  return true
end, DIRECT)

--- A unit's access template: its own entries and the effective template
-- (its own entries over its ancestors', nearest wins), with the unit each
-- effective entry comes from.
-- @function unit_access
-- @tparam string unit the unit's key
-- @treturn table|nil `{unit =, own = {tenant = access}, effective =
-- {tenant = access}, source = {tenant = unit key}}`, nil when there is
-- no such unit
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.unit_access = read.reader("unit_access", function(db, unit)
  local row = read.row(db, "unit", V.key("unit_access", "unit", unit))
  if not row then return nil end
  local own = {}
  for _, e in ipairs(I.rows(db, SQL_OWN, row.id)) do own[e.tenant] = e.access end
  local effective, source = {}, {}
  for _, e in ipairs(template(db, row.id)) do
    effective[e.tenant], source[e.tenant] = e.access, e.unit
  end
  return { unit = unit, own = own, effective = effective, source = source }
end)

-- A deleted unit takes its template with it (see mandate.entity's drops).
table.insert(write.descriptions.unit.drops, function(db, fn, unit)
  for _, e in ipairs(I.rows(db, SQL_OWN, unit.id)) do
    I.exec(db, SQL_DELETE_ENTRY, unit.id, e.tenant_id)
    record(db, fn, "unit:" .. unit.key, entry(e.tenant, e.access), nil)
  end
end)

-- A tenant named by templates is deleted only by cascading, which takes
-- it out of them (see delete_tenant).
E.add_ref(write.descriptions.tenant, 2, {
  name = "unit templates", word = "unit template",
  sql = "SELECT u.id, u.key, t.key AS tenant, a.access"
    .. " FROM unit_access a JOIN units u ON u.id = a.unit_id"
    .. " JOIN tenants t ON t.id = a.tenant_id WHERE a.tenant_id = ?1"
    .. " ORDER BY u.key",
  drop = function(db, fn, u, tenant)
    I.exec(db, SQL_DELETE_ENTRY, u.id, tenant.id)
    record(db, fn, "unit:" .. u.key, entry(u.tenant, u.access), nil)
  end,
})
-- }}}

-- Moves {{{

local MOVE_OPTIONS = { "access" }
local ACCESS_MODES = { "template", "merge", "keep" }

-- The access mode of a move's options, or its default.
local function access_mode(fn, opts, default)
  opts = V.options(fn, opts, MOVE_OPTIONS)
  if opts.access == nil then return default end
  return V.word(fn, "options.access", opts.access, "a way to set access",
                ACCESS_MODES)
end

local SQL_EXPLICIT = "SELECT t.key AS tenant FROM access a"
  .. " JOIN tenants t ON t.id = a.tenant_id WHERE a.user_id = ?1"
  .. " ORDER BY t.key"

-- Give a user (key and id) the access of a template's entries; exact:
-- also clear their rows for tenants the template does not name.
local function apply(db, user, user_id, entries, exact)
  if exact then
    local named = {}
    for _, e in ipairs(entries) do named[e.tenant] = true end
    for _, row in ipairs(I.rows(db, SQL_EXPLICIT, user_id)) do
      if not named[row.tenant] then db:clear_access(user, row.tenant) end
    end
  end
  for _, e in ipairs(entries) do db:set_access(user, e.tenant, e.access) end
end

--- Move a user into a unit and set their explicit tenant access from the
-- unit's effective template (see `unit_access`), in one change set.
-- @function move_user
-- @tparam string user the user's key
-- @tparam string unit the key of the unit they move into
-- @tparam[opt] table options
-- @tparam[opt="template"] string options.access "template": the user's
-- explicit access rows become exactly the template; "merge": the
-- template's entries are set, the user's other rows stay; "keep": no
-- access row changes
-- @treturn {table,...} what the user gained and lost, as `db:plan`'s
-- `changes()`: `{user =, what = "right"|"access", key =, before =,
-- after =}` sorted by what and key (values as `db:effective` and
-- `db:access` give them)
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
M.move_user = writer("move_user", function(db, fn, user, unit, opts)
  local row = existing(db, fn, "user", "user", user)
  local target = existing(db, fn, "unit", "unit", unit)
  local mode = access_mode(fn, opts, "template")
  local users = { user }
  local before = impact.capture(db, users)
  db:put_user(user, { unit = unit })
  if mode ~= "keep" then
    apply(db, user, row.id, template(db, target.id), mode == "template")
  end
  return impact.diff(before, impact.capture(db, users))
end)

-- every user of unit ?1's subtree, with their unit
local SQL_SUBTREE_USERS = "WITH RECURSIVE down(id) AS (SELECT ?1"
  .. " UNION ALL SELECT u.id FROM units u JOIN down ON u.parent_id = down.id)"
  .. " SELECT s.id, s.key, s.unit_id FROM users s JOIN down"
  .. " ON s.unit_id = down.id ORDER BY s.key"

local function strip_position(msg)
  return (msg:gsub("^[^\n]-:%d+: ", "", 1))
end

--[[
Hang unit under new_parent (a key, or false for a root) with put_unit,
whose checks are the tree's rules.  A refusal names put_unit's option,
which is this move's argument: raise it as the move's own usage error.
]]
local function hang(db, fn, unit, new_parent)
  local ok, e = pcall(db.put_unit, db, unit, { parent = new_parent })
  if ok then return end
  if type(e) == "string" then
    local text = strip_position(e)
    local rest = text:match("^put_unit: options%.parent: (.*)$")
    if rest then V.fail(fn, "new_parent", "%s", rest) end
  end
  error(e, 0)
end

--[[
What fn(...) does to every user, as db:plan finds it: the snapshot from
before kept and compared with the one after (src/core/diff.c), in the
order of impact.diff.  A change of the tree makes the next check rebuild
the snapshot anyway, so for move_unit this costs one pass over the users;
capturing each user beneath (impact.capture, as move_user does for its
one user: a kept snapshot is never patched, so keeping one there would
turn the next check's patch into a rebuild) costs about a move_user's
report per user.
]]
local function impact_of(db, fn, ...)
  local kept = I.keep(db)
  local ok, changes = pcall(function(...)
    fn(...)
    return I.impact(db, kept)
  end, ...)
  I.unkeep(db, kept)
  if not ok then error(changes, 0) end
  return changes
end

--- Move a unit, with its subtree and the users in it, under another
-- parent (or make it a root), in one change set.  The tree's rules hold
-- as for `put_unit`: the new parent is not the unit nor below it, and
-- sits on a higher level than the unit.
-- @function move_unit
-- @tparam string unit the unit's key
-- @tparam string|false new_parent the new parent's key; false for a root
-- @tparam[opt] table options
-- @tparam[opt="keep"] string options.access "keep": no access row
-- changes; "template": every user beneath gets their unit's effective
-- template after the move as their explicit access rows (exactly);
-- "merge": the template's entries are set, other rows stay
-- @treturn {table,...} what the users beneath gained and lost, as
-- `db:plan`'s `changes()` (see `move_user`)
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
M.move_unit = writer("move_unit", function(db, fn, unit, new_parent, opts)
  local row = existing(db, fn, "unit", "unit", unit)
  if new_parent ~= false then
    if type(new_parent) ~= "string" then
      V.fail(fn, "new_parent", "expected a unit key, or false for a root "
             .. "unit, got %s", show(new_parent))
    end
    existing(db, fn, "new_parent", "unit", new_parent)
  end
  local mode = access_mode(fn, opts, "keep")
  return impact_of(db, function()
    hang(db, fn, unit, new_parent)
    if mode == "keep" then return end
    local templates = {}
    for _, u in ipairs(I.rows(db, SQL_SUBTREE_USERS, row.id)) do
      templates[u.unit_id] = templates[u.unit_id] or template(db, u.unit_id)
      apply(db, u.key, u.id, templates[u.unit_id], mode == "template")
    end
  end)
end)
-- }}}

return { methods = M }
