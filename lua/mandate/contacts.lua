--- Where contacts, their roles and distribution lists are written.
--
-- Contacts, their roles and distribution lists (docs/semantics.md
-- section 1.9): the writers (`db:put_contact`, `db:put_role`,
-- `db:put_list`, `db:add_to_list`, ...) and the read-back
-- (`db:get_role`, `db:roles`, ...).  The resolution of a list for one
-- user (`db:resolve_list`, `db:lists`, `db:lists_for`) is
-- mandate.resolve's.
--
-- **Model.**
--
-- * A *contact* is a person or an organisation: a key, a label and
--   optionally a tenant.  Without a tenant it is common data, shared by
--   all and maintained once.
-- * A *role* is one addressable role of a contact (a journalist's role at
--   one medium, a politician's constituency office): a key, its contact, a
--   label, channel fields the integrator chooses (`{email = "...",
--   postal = "..."}`), interest tags, an `active` flag and optionally its
--   own tenant: a client's team may keep a role's details private while
--   the person stays common.
-- * A *list* (distribution list, target group) has a key, a label,
--   exactly one owning tenant and optionally interest tags.  Its members
--   are its explicit members (`add_to_list`) plus every role carrying one
--   of its tags, minus its exclusions (`exclude_from_list`).  A role is an
--   explicit member or excluded, never both: `add_to_list` lifts an
--   exclusion, `exclude_from_list` replaces an explicit membership.
--
-- **Writers** follow `mandate.write`: validated before anything is
-- written, one transaction (or savepoint), one audit row per changed
-- entity (subjects "contact:KEY", "role:KEY", "list:KEY"; a list's entries
-- are filed under the list as `{role =, member = true}` or `{role =,
-- excluded = true}`), nothing written when nothing changes.
-- Deleting a tenant that owns contacts, roles or lists is refused unless
-- cascading (see `delete_tenant`).
-- @module mandate.contacts

local I = require("mandate.core").internal   -- the primitives, captured at load
local read = require "mandate.read"
local write = require "mandate.write"
local E = require "mandate.entity"
local V = require "mandate.validate"

local C = {}    -- the public methods, installed into mandate.Db
local show, fail = V.show, V.fail
local writer = require("mandate.change").writer
local record, existing, text_value = E.record, E.existing, E.text_value

-- Entities {{{

-- A contact as put_contact takes it: {key, label, tenant}, or nil.
local CONTACTS = read.describe {
  select = "SELECT c.id, c.key, c.label, t.key AS tenant FROM contacts c"
    .. " LEFT JOIN tenants t ON t.id = c.tenant_id",
  key = "c.key", fields = { "key", "label", "tenant" },
}
local get_contact = CONTACTS.get

-- A role as put_role takes it: {key, contact, label, channels, tags,
-- active, tenant}, or nil.
local ROLES = read.describe {
  select = "SELECT r.id, r.key, c.key AS contact, r.label,"
    .. " r.active, t.key AS tenant FROM roles r"
    .. " JOIN contacts c ON c.id = r.contact_id"
    .. " LEFT JOIN tenants t ON t.id = r.tenant_id",
  key = "r.key", fields = { "key", "contact", "label", "active", "tenant" },
  flags = { "active" },
  parts = {
    { name = "channels",
      one = "SELECT channel, value FROM role_channels WHERE role_id = ?1",
      all = "SELECT role_id AS owner, channel, value FROM role_channels",
      add = read.map("channel", "value") },
    { name = "tags",
      one = "SELECT tag FROM role_tags WHERE role_id = ?1 ORDER BY tag",
      all = "SELECT role_id AS owner, tag FROM role_tags ORDER BY role_id, tag",
      add = read.append("tag") },
  },
}
local get_role = ROLES.get

-- A list as put_list takes it: {key, label, tenant, tags}, or nil.
local LIST_COLUMNS = "SELECT l.id, l.key, l.label, l.tenant_id,"
  .. " t.key AS tenant FROM lists l JOIN tenants t ON t.id = l.tenant_id"
local LISTS = read.describe {
  select = LIST_COLUMNS, key = "l.key",
  fields = { "key", "label", "tenant" },
  parts = { {
    name = "tags",
    one = "SELECT tag FROM list_tags WHERE list_id = ?1 ORDER BY tag",
    all = "SELECT list_id AS owner, tag FROM list_tags ORDER BY list_id, tag",
    add = read.append("tag"),
  } },
}
local get_list = LISTS.get
local SQL_LIST_ENTRIES = "SELECT r.key, e.excluded FROM list_entries e"
  .. " JOIN roles r ON r.id = e.role_id WHERE e.list_id = ?1 ORDER BY r.key"

-- A list's explicit entries by id: {members = {role key, ...}, excluded =
-- {role key, ...}}, each in key order.
local function list_entries(db, list_id)
  local members, excluded = {}, {}
  for _, e in ipairs(I.rows(db, SQL_LIST_ENTRIES, list_id)) do
    local t = e.excluded == 1 and excluded or members
    t[#t + 1] = e.key
  end
  return { members = members, excluded = excluded }
end
-- }}}

-- Shared checks {{{

-- options.tenant of a contact or role: nil keeps the stored one, false
-- makes it common data, a key names a tenant (its row is returned).
local function common_or_tenant(db, fn, v)
  if v == nil or v == false then return v end
  if type(v) ~= "string" then
    fail(fn, "options.tenant", "expected a tenant key, or false for common "
         .. "data, got %s", show(v))
  end
  return existing(db, fn, "options.tenant", "tenant", v)
end

-- The tenant (key and id) after a put: opt as common_or_tenant returned
-- it, row the stored row (or nil), old_key its stored tenant key.
local function tenant_after(opt, row, old_key)
  if opt == nil then return old_key, row and row.tenant_id end
  if opt == false then return nil, nil end
  return opt.key, opt.id
end

-- A part's rows from a list of tags: {{tag}, ...}.
local function rows_of(tags)
  local rows = {}
  for i, tag in ipairs(tags) do rows[i] = { tag } end
  return rows
end
-- }}}

-- Descriptions: contacts, roles, lists {{{

local SQL_ROLE_ENTRIES = "SELECT l.id, l.key, e.excluded FROM list_entries e"
  .. " JOIN lists l ON l.id = e.list_id WHERE e.role_id = ?1 ORDER BY l.key"
local SQL_DELETE_ENTRY = "DELETE FROM list_entries WHERE list_id = ?1"
  .. " AND role_id = ?2"
local SQL_ROLE_IDS_OF_CONTACT = "SELECT id, key FROM roles"
  .. " WHERE contact_id = ?1 ORDER BY key"

-- An entry as the audit trail shows it.
local function entry(role, excluded)
  if excluded then return { role = role, excluded = true } end
  return { role = role, member = true }
end

-- A role goes with its channels, tags and list entries (an audit row for
-- each entry, filed under its list, and one for the role).
local ROLE = E.describe {
  kind = "role", table = "roles",
  columns = { "contact_id", "label", "active", "tenant_id" },
  options = { "contact", "label", "channels", "tags", "active", "tenant" },
  get = get_role,
  parts = { { name = "channels", table = "role_channels", owner = "role_id",
              columns = { "channel", "value" } },
            { name = "tags", table = "role_tags", owner = "role_id",
              columns = { "tag" } } },
  refuse = { {
    refs = { { name = "entries", sql = SQL_ROLE_ENTRIES, word = "list",
               drop = function(db, fn, e, row)
                 I.exec(db, SQL_DELETE_ENTRY, e.id, row.id)
                 record(db, fn, "list:" .. e.key,
                        entry(row.key, e.excluded == 1), nil)
               end } },
    message = "role %s is still an entry of %s (remove_from_list or "
      .. "clear_exclusion first, or pass {cascade = true} to remove those "
      .. "entries)" } },
  cascade = { "entries" },
}

-- A contact goes with all its roles.
local CONTACT = E.describe {
  kind = "contact", table = "contacts", columns = { "label", "tenant_id" },
  options = { "label", "tenant" }, get = get_contact,
  refuse = { {
    refs = { { name = "roles", sql = SQL_ROLE_IDS_OF_CONTACT, word = "role",
               drop = function(db, fn, r) E.drop(ROLE, db, fn, r) end } },
    message = "contact %s still has %s (delete them first, or pass "
      .. "{cascade = true} to delete them with their list entries)" } },
  cascade = { "roles" },
}

-- A list goes with its tags and entries; the audit row keeps them all
-- (`before` has the list's fields plus `members` and `excluded`).
local LIST = E.describe {
  kind = "list", table = "lists", columns = { "label", "tenant_id" },
  options = { "label", "tenant", "tags" }, get = get_list,
  parts = { { name = "tags", table = "list_tags", owner = "list_id",
              columns = { "tag" } } },
  owns = { { "list_entries", "list_id" } },
}

function LIST.dropped(db, row, before)
  local entries = list_entries(db, row.id)
  before.members, before.excluded = entries.members, entries.excluded
end

--[[
What a tenant owns, for delete_tenant (mandate.write): its refusal names
contacts, roles, lists; a cascade deletes its lists first (their entries
go with them), then its roles (also those of common contacts), then its
contacts with their roles.
]]
local TENANT = write.descriptions.tenant
for _, owned in ipairs({ { "contact", CONTACT, "contacts" },
                         { "role", ROLE, "roles" },
                         { "list", LIST, "lists" } }) do
  local d = owned[2]
  E.add_ref(TENANT, 2, {
    name = owned[1], word = owned[1],
    sql = "SELECT id, key FROM " .. owned[3] .. " WHERE tenant_id = ?1"
      .. " ORDER BY key",
    drop = function(db, fn, r) E.drop(d, db, fn, r) end,
  }, 2)
end
-- }}}

-- Contacts {{{

function CONTACT.change(db, fn, key, opts, row, before)
  V.text(fn, "options.label", opts.label)
  local tenant = common_or_tenant(db, fn, opts.tenant)
  local tenant_key, tenant_id = tenant_after(tenant, row,
                                             before and before.tenant)
  local after = { key = key, label = text_value(opts.label, row and row.label),
                  tenant = tenant_key }
  return after, { after.label, tenant_id }
end

--- Create or update a contact: a person or an organisation.
-- @function put_contact
-- @tparam string key the contact's key
-- @tparam[opt] table options
-- @tparam[opt] string|false options.label a display name; false removes it
-- @tparam[opt] string|false options.tenant the owning tenant's key; false
-- (or absent on create) for common data, shared by all
-- @treturn number the contact's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.put_contact = writer("put_contact", E.put(CONTACT))

--- Delete a contact.
-- Refuses while the contact has roles.  With `{cascade = true}` it
-- deletes them too, with their list entries.
-- @function delete_contact
-- @tparam string key the contact's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade delete the contact's roles
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.delete_contact = writer("delete_contact", E.delete(CONTACT))
-- }}}

-- Roles {{{

function ROLE.change(db, fn, key, opts, row, before)
  local contact
  if opts.contact ~= nil then
    contact = existing(db, fn, "options.contact", "contact", opts.contact)
  elseif not row then
    fail(fn, "options.contact", "missing (a new role needs the key of its "
         .. "contact)")
  end
  V.text(fn, "options.label", opts.label)
  local channels = opts.channels ~= nil
                   and V.channels(fn, "options.channels", opts.channels)
  local tags = opts.tags ~= nil and V.tags(fn, "options.tags", opts.tags)
  V.boolean(fn, "options.active", opts.active)
  local tenant = common_or_tenant(db, fn, opts.tenant)

  local tenant_key, tenant_id = tenant_after(tenant, row,
                                             before and before.tenant)
  local after = { key = key, label = text_value(opts.label, row and row.label),
                  channels = channels or before and before.channels or {},
                  tags = tags or before and before.tags or {},
                  tenant = tenant_key }
  after.contact = contact and contact.key or before.contact
  if opts.active ~= nil then after.active = opts.active
  else after.active = not row or row.active == 1 end
  local parts = { tags = tags and rows_of(tags) }
  if channels then
    local names = {}
    for name in pairs(channels) do names[#names + 1] = name end
    table.sort(names)
    parts.channels = {}
    for i, name in ipairs(names) do parts.channels[i] = { name, channels[name] } end
  end
  return after, { contact and contact.id or row.contact_id, after.label,
                  after.active, tenant_id }, parts
end

--- Create or update a role of a contact.
-- `options.channels` and `options.tags`, when given, **replace** what is
-- stored.
-- @function put_role
-- @tparam string key the role's key
-- @tparam[opt] table options
-- @tparam[opt] string options.contact the contact's key; required on
-- create; a role may move to another contact
-- @tparam[opt] string|false options.label a display name ("Editor, Daily
-- News"); false removes it
-- @tparam[opt] table options.channels {channel name = text}, e.g.
-- `{email = "a@b.example", postal = "..."}`: names are keys, values
-- non-empty UTF-8 text
-- @tparam[opt] {string,...} options.tags interest tags (keys, each once);
-- `get_role` returns them in byte order
-- @tparam[opt=true] boolean options.active an inactive role stays on its
-- lists but is never addressed
-- @tparam[opt] string|false options.tenant the role's own tenant (its
-- details private to that tenant); false (or absent on create) for none:
-- the role is then gated by its contact's tenant only
-- @treturn number the role's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.put_role = writer("put_role", E.put(ROLE))

--- Delete a role.
-- Refuses while the role is an explicit entry of lists (a member or an
-- exclusion; a list reaching it by a tag holds nothing that would be
-- orphaned).  With `{cascade = true}` it removes those entries too.
-- `db:lists_of_role` shows every list containing the role first.
-- @function delete_role
-- @tparam string key the role's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade remove the role's list entries
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.delete_role = writer("delete_role", E.delete(ROLE))
-- }}}

-- Lists {{{

function LIST.change(db, fn, key, opts, row, before)
  V.text(fn, "options.label", opts.label)
  local tenant
  if opts.tenant ~= nil then
    if type(opts.tenant) ~= "string" then
      fail(fn, "options.tenant", "expected a tenant key (a list belongs to "
           .. "exactly one tenant), got %s", show(opts.tenant))
    end
    tenant = existing(db, fn, "options.tenant", "tenant", opts.tenant)
  elseif not row then
    fail(fn, "options.tenant", "missing (a new list needs the key of its "
         .. "owning tenant)")
  end
  local tags = opts.tags ~= nil and V.tags(fn, "options.tags", opts.tags)
  local after = { key = key, label = text_value(opts.label, row and row.label),
                  tenant = tenant and tenant.key or before.tenant,
                  tags = tags or before and before.tags or {} }
  return after, { after.label, tenant and tenant.id or row.tenant_id },
         { tags = tags and rows_of(tags) }
end

--- Create or update a distribution list.
-- `options.tags`, when given, **replaces** the list's tags.  Explicit
-- members and exclusions are changed with `add_to_list`,
-- `remove_from_list`, `exclude_from_list` and `clear_exclusion`.
-- @function put_list
-- @tparam string key the list's key
-- @tparam[opt] table options
-- @tparam[opt] string|false options.label a display name; false removes it
-- @tparam[opt] string options.tenant the owning tenant's key; required on
-- create (a list belongs to exactly one tenant); a list may move to
-- another tenant
-- @tparam[opt] {string,...} options.tags interest tags: every role
-- carrying one of them is a member (a dynamic target group); `{}` for
-- explicit members only
-- @treturn number the list's id
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.put_list = writer("put_list", E.put(LIST))

--- Delete a list with its tags, explicit members and exclusions.
-- Nothing refers to a list, so there is nothing to orphan and nothing to
-- cascade (`options.cascade` is accepted and changes nothing).  The audit
-- row keeps the list's entries (`before` has its fields plus `members`
-- and `excluded`).
-- @function delete_list
-- @tparam string key the list's key
-- @tparam[opt] table options
-- @tparam[opt] boolean options.cascade accepted for symmetry
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.delete_list = writer("delete_list", E.delete(LIST))

local SQL_ENTRY = "SELECT excluded FROM list_entries WHERE list_id = ?1"
  .. " AND role_id = ?2"
local SQL_PUT_ENTRY = "INSERT INTO list_entries(list_id, role_id, excluded)"
  .. " VALUES (?1, ?2, ?3) ON CONFLICT(list_id, role_id)"
  .. " DO UPDATE SET excluded = excluded.excluded"

-- A writer of one list entry: change(old) gets the stored state (nil,
-- "member" or "excluded") and returns the new one (false: delete).
local function entry_writer(name, change)
  return writer(name, function(db, fn, list, role)
    local l = existing(db, fn, "list", "list", list)
    local r = existing(db, fn, "role", "role", role)
    local old = I.row(db, SQL_ENTRY, l.id, r.id)
    old = old and (old.excluded == 1 and "excluded" or "member")
    local new = change(old)
    if new == old or (new == false and old == nil) then return true end
    if new then
      I.exec(db, SQL_PUT_ENTRY, l.id, r.id, new == "excluded")
    else
      I.exec(db, SQL_DELETE_ENTRY, l.id, r.id)
    end
    record(db, fn, "list:" .. list, old and entry(role, old == "excluded"),
           new and entry(role, new == "excluded") or nil)
    return true
  end)
end

--- Make a role an explicit member of a list.
-- It stays a member whatever its tags.  An exclusion of the role from the
-- list is lifted.  Nothing happens when it is an explicit member already.
-- @function add_to_list
-- @tparam string list the list's key
-- @tparam string role the role's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.add_to_list = entry_writer("add_to_list", function()
  return "member"
end)

--- Remove a role's explicit membership of a list.
-- A role that still carries one of the list's tags stays a member (use
-- `exclude_from_list` to keep it off).  Nothing happens when the role is
-- not an explicit member, and an exclusion stays (see `clear_exclusion`).
-- @function remove_from_list
-- @tparam string list the list's key
-- @tparam string role the role's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.remove_from_list = entry_writer("remove_from_list", function(old)
  if old == "member" then return false end
  return old
end)

--- Exclude a role from a list: it is never a member, whatever its tags.
-- An explicit membership is replaced.  Nothing happens when the role is
-- excluded already.
-- @function exclude_from_list
-- @tparam string list the list's key
-- @tparam string role the role's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.exclude_from_list = entry_writer("exclude_from_list", function()
  return "excluded"
end)

--- Lift an exclusion: the role is a member again when it carries one of
-- the list's tags.  Nothing happens when it is not excluded.
-- @function clear_exclusion
-- @tparam string list the list's key
-- @tparam string role the role's key
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "ioerr", ...)
C.clear_exclusion = entry_writer("clear_exclusion", function(old)
  if old == "excluded" then return false end
  return old
end)
-- }}}

-- Read-back {{{

local reader = read.reader

--- A contact: {key =, label =, tenant =} (no tenant: common data).
-- @function get_contact
-- @tparam string key
-- @treturn table|nil the contact, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.get_contact = reader("get_contact", function(db, key)
  return get_contact(db, V.key("get_contact", "key", key))
end)

--- All contacts in key order, each as `get_contact` returns it.
-- @function contacts
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.contacts = reader("contacts", function(db)
  return (CONTACTS.list(db))
end)

--- A role: {key =, contact =, label =, channels = {name = text}, tags =
-- {tag, ...} (byte order), active =, tenant =}.
-- @function get_role
-- @tparam string key
-- @treturn table|nil the role, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.get_role = reader("get_role", function(db, key)
  return get_role(db, V.key("get_role", "key", key))
end)

--- The roles in key order, each as `get_role` returns it: all of them, or
-- those of one contact.
-- @function roles
-- @tparam[opt] string contact a contact's key
-- @treturn {table,...}|nil the roles, nil when there is no such contact
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.roles = reader("roles", function(db, contact)
  if contact == nil then return (ROLES.list(db)) end
  local c = read.row(db, "contact", V.key("roles", "contact", contact))
  return c and (ROLES.list(db, "r.contact_id = ?1", c.id))
end)

--- A list: {key =, label =, tenant =, tags = {tag, ...}}.  Its explicit
-- entries come from `list_entries`, its members for a user from
-- `resolve_list`.
-- @function get_list
-- @tparam string key
-- @treturn table|nil the list, nil when there is none
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.get_list = reader("get_list", function(db, key)
  return get_list(db, V.key("get_list", "key", key))
end)

--- Every list in key order, each as `get_list` returns it (the
-- administrator's view; `db:lists(user)` is a user's).
-- @function all_lists
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.all_lists = reader("all_lists", function(db)
  return (LISTS.list(db))
end)

--- A list's explicit entries: {members = {role key, ...}, excluded =
-- {role key, ...}}, each in key order.  Members by tag are not listed
-- (see `resolve_list`).
-- @function list_entries
-- @tparam string list the list's key
-- @treturn table|nil the entries, nil when there is no such list
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.list_entries = reader("list_entries", function(db, list)
  local l = read.row(db, "list", V.key("list_entries", "list", list))
  return l and list_entries(db, l.id)
end)
-- }}}

return {
  methods = C,
  lists = LISTS,        -- the lists' readers (mandate.resolve)
}
