--- Where a distribution list becomes the roles a user may address.
--
-- Contacts, their roles and distribution lists (docs/semantics.md
-- section 1.9): the writers (`db:put_contact`, `db:put_role`,
-- `db:put_list`, `db:add_to_list`, ...), the read-back (`db:get_role`,
-- `db:roles`, ...) and the resolution of a list for one user
-- (`db:resolve_list`, `db:lists`, `db:lists_for`).
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
-- **Visibility.**  A user sees what the engine's tenant gate lets them
-- see (docs/semantics.md section 3.3, `db:access`): `read` is enough to
-- address a role or to resolve a list (results name the access, so that
-- an application can offer editing a list only with `full`; the writers
-- here are the administrator's API and take no user).  A role is
-- addressable by a user when it is active and neither its own tenant nor
-- its contact's tenant is hidden to the user; common data has no gate.
-- What a user may not see is only ever counted, never shown.  Access
-- comes from the engine's snapshot, so another process's change of access
-- is seen as `db:check` sees it; changes to contacts, roles and lists are
-- seen at once.  Deleting a tenant that owns contacts, roles or lists is
-- refused unless cascading (see `delete_tenant`).
--
-- **Writers** follow `mandate.write`: validated before anything is
-- written, one transaction (or savepoint), one audit row per changed
-- entity (subjects "contact:KEY", "role:KEY", "list:KEY"; a list's entries
-- are filed under the list as `{role =, member = true}` or `{role =,
-- excluded = true}`), nothing written when nothing changes.
--
-- **Speed.**  A resolved list's members (their keys, labels, channels and
-- tags, in the stable order) are compiled once and cached per store
-- handle; a write through the handle patches the roles it changed into
-- them, and a list is compiled again only when its own rows change or
-- anything may have (a rollback, another process's commit, seen at once);
-- each call then only gates and de-duplicates.  The role tables in a result
-- (with their `channels` and `tags`) come from that cache and are shared
-- by every result taken from it: read them, never modify them (copy
-- first).  The result table and its `roles` array are the caller's.
-- @module mandate.contacts

local I = require("mandate.core").internal   -- the primitives, captured at load
local read = require "mandate.read"
local write = require "mandate.write"
local E = require "mandate.entity"
local V = require "mandate.validate"

local C = {}    -- the public methods, installed into mandate.Db
local byte = string.byte
local show, fail = V.show, V.fail
local writer = write.writer
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
local SQL_LIST = LIST_COLUMNS .. " WHERE l.key = ?1"
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

-- A page size option: an integer >= 1 (a page of 0 roles could not say
-- where the next page starts).
local function page_size_option(fn, arg, v)
  if v ~= nil and not (type(v) == "number" and v % 1 == 0 and v >= 1) then
    fail(fn, arg, "expected a page size (an integer >= 1; nil for the whole "
         .. "list), got %s", show(v))
  end
  return v
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

-- All lists (of one tenant id, or all) in key order as get_list returns
-- them, and their rows.
local function all_lists(db, tenant_id)
  if tenant_id then return LISTS.list(db, "l.tenant_id = ?1", tenant_id) end
  return LISTS.list(db)
end

--- Every list in key order, each as `get_list` returns it (the
-- administrator's view; `db:lists(user)` is a user's).
-- @function all_lists
-- @treturn {table,...}
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.all_lists = reader("all_lists", function(db)
  return (all_lists(db))
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

-- Compiled members {{{

-- Whether string a sorts before b in byte order, as SQLite's BINARY
-- collation sorts them (Lua's `<` follows the C library's collation, which
-- a host's locale may change: LC_COLLATE=de_DE.UTF-8 puts "a" before "B").
local function bytes_before(a, b)
  if a == b then return false end
  local n = #a < #b and #a or #b
  local i = 1
  while i <= n and byte(a, i) == byte(b, i) do i = i + 1 end
  if i > n then return #a < #b end
  return byte(a, i) < byte(b, i)
end

--[[
A list's members, compiled for resolution: parallel arrays in the stable
order (contact key, then role key), index i = one member, so that the
gate loop over 50k members reads contiguous memory:
  n, id, key, contact (keys), contact_id, active, tenant (the role's
  tenant id or false), contact_tenant (id or false), channels (tables),
  entry (the table resolve_list returns for the member), filled (whether
  the entries' channels and tags are loaded, see fill), and per channel name,
  made when first asked for, first[name] = {[i] = the index of the first
  member with the same text in that channel, or false without one}.
The channels, tags and entry tables of a role are made once per cache
and shared by every list and every result.
]]
local MEMBERS = "WITH m(id) AS ("
  .. "SELECT role_id FROM list_entries WHERE list_id = ?1 AND excluded = 0"
  .. " UNION SELECT rt.role_id FROM list_tags lt"
  .. " JOIN role_tags rt ON rt.tag = lt.tag WHERE lt.list_id = ?1"
  .. " EXCEPT SELECT role_id FROM list_entries"
  .. " WHERE list_id = ?1 AND excluded = 1) "
local SQL_MEMBERS = MEMBERS .. "SELECT r.id, r.key, r.label, r.active,"
  .. " r.tenant_id, r.contact_id, c.key AS contact,"
  .. " c.label AS contact_label, c.tenant_id AS contact_tenant_id"
  .. " FROM m JOIN roles r ON r.id = m.id"
  .. " JOIN contacts c ON c.id = r.contact_id ORDER BY c.key, r.key"
local SQL_MEMBER_CHANNELS = MEMBERS .. "SELECT ch.role_id, ch.channel,"
  .. " ch.value FROM m JOIN role_channels ch ON ch.role_id = m.id"
local SQL_MEMBER_TAGS = MEMBERS .. "SELECT t.role_id, t.tag"
  .. " FROM m JOIN role_tags t ON t.role_id = m.id ORDER BY t.role_id, t.tag"

local function compile(db, cache, list_id)
  local rows = I.rows(db, SQL_MEMBERS, list_id)
  local n = #rows
  local m = { n = n, id = {}, key = {}, contact = {}, contact_id = {},
              active = {}, tenant = {}, contact_tenant = {}, channels = {},
              entry = {}, first = {}, filled = false }
  local ids, keys, contacts, cids, active, tenants, ctenants, channels,
        entries = m.id, m.key, m.contact, m.contact_id, m.active, m.tenant,
        m.contact_tenant, m.channels, m.entry
  local shared, unfilled = cache.entries, cache.unfilled
  for i = 1, n do
    local r = rows[i]
    local id = r.id
    ids[i], keys[i], contacts[i], cids[i] = id, r.key, r.contact, r.contact_id
    active[i] = r.active == 1
    tenants[i] = r.tenant_id or false
    ctenants[i] = r.contact_tenant_id or false
    local e = shared[id]
    if not e then
      e = { role = r.key, contact = r.contact, label = r.label,
            contact_label = r.contact_label, channels = {}, tags = {} }
      shared[id], unfilled[id] = e, e
    end
    entries[i], channels[i] = e, e.channels
  end
  return m
end

--[[
Fill in the channels and tags of m's members, once: counting members
(db:lists) needs neither, so a list's first count after a change does not
load them.
]]
local function fill(db, cache, m, list_id)
  if m.filled then return end
  local unfilled, ids = cache.unfilled, m.id
  for i = 1, m.n do
    if unfilled[ids[i]] then
      for _, r in ipairs(I.rows(db, SQL_MEMBER_CHANNELS, list_id)) do
        local e = unfilled[r.role_id]
        if e then e.channels[r.channel] = r.value end
      end
      for _, r in ipairs(I.rows(db, SQL_MEMBER_TAGS, list_id)) do
        local e = unfilled[r.role_id]
        if e then e.tags[#e.tags + 1] = r.tag end
      end
      for k = i, m.n do unfilled[ids[k]] = nil end
      break
    end
  end
  m.filled = true
end

-- m.first[channel], made on first use (see compile).
local function first_by_channel(m, channel)
  local first = m.first[channel]
  if first then return first end
  first = {}
  local channels, at = m.channels, {}
  for i = 1, m.n do
    local text = channels[i][channel]
    if text == nil then
      first[i] = false
    else
      local j = at[text]
      if not j then
        j = i
        at[text] = i
      end
      first[i] = j
    end
  end
  m.first[channel] = first
  return first
end

-- Compiled lists per store handle: {epoch = the store's lists epoch,
-- lists = {[list id] = members}, entries = {[role id] = entry}, unfilled =
-- {[role id] = entry without its channels and tags yet}}.
local caches = setmetatable({}, { __mode = "k" })

-- One role's place in one list, decided as MEMBERS decides it for all.
local SQL_IS_MEMBER = "SELECT ((EXISTS (SELECT 1 FROM list_entries"
  .. " WHERE list_id = ?1 AND role_id = ?2 AND excluded = 0)"
  .. " OR EXISTS (SELECT 1 FROM list_tags lt JOIN role_tags rt"
  .. " ON rt.tag = lt.tag WHERE lt.list_id = ?1 AND rt.role_id = ?2))"
  .. " AND NOT EXISTS (SELECT 1 FROM list_entries WHERE list_id = ?1"
  .. " AND role_id = ?2 AND excluded = 1)) AS yes"
local SQL_MEMBER = "SELECT r.id, r.key, r.label, r.active, r.tenant_id,"
  .. " r.contact_id, c.key AS contact, c.label AS contact_label,"
  .. " c.tenant_id AS contact_tenant_id FROM roles r"
  .. " JOIN contacts c ON c.id = r.contact_id WHERE r.id = ?1"
local SQL_CHANNELS_OF = "SELECT channel, value FROM role_channels WHERE role_id = ?1"
local SQL_TAGS_OF = "SELECT tag FROM role_tags WHERE role_id = ?1 ORDER BY tag"
local SQL_ROLES_OF = "SELECT id FROM roles WHERE contact_id = ?1"

-- the parallel arrays of compiled members (see compile)
local COLUMNS = { "id", "key", "contact", "contact_id", "active", "tenant",
                  "contact_tenant", "channels", "entry" }

-- A role's entry as compile and fill make it, from its member row r.
local function entry_of(db, r)
  local e = { role = r.key, contact = r.contact, label = r.label,
              contact_label = r.contact_label, channels = {}, tags = {} }
  for _, c in ipairs(I.rows(db, SQL_CHANNELS_OF, r.id)) do e.channels[c.channel] = c.value end
  for _, t in ipairs(I.rows(db, SQL_TAGS_OF, r.id)) do e.tags[#e.tags + 1] = t.tag end
  return e
end

-- Put member row r (entry e) into m at its place in the stable order.
local function insert_member(m, r, e)
  local lo, hi = 0, m.n             -- members 1..lo sort before r
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    local c = m.contact[mid]
    if bytes_before(c, r.contact) or (c == r.contact and bytes_before(m.key[mid], r.key))
    then lo = mid
    else hi = mid - 1 end
  end
  local values = { r.id, r.key, r.contact, r.contact_id, r.active == 1,
                   r.tenant_id or false, r.contact_tenant_id or false,
                   e.channels, e }
  for k, column in ipairs(COLUMNS) do table.insert(m[column], lo + 1, values[k]) end
  m.n = m.n + 1
end

--[[
Bring the compiled lists up to date for one role whose rows changed (its
row, channels, tags, contact or list entries): a new shared entry (the
old one may be held by results handed out), and in every compiled list
the role taken out and, where it is a member now, put back in its place.
]]
local function patch_role(db, cache, id)
  local r = I.row(db, SQL_MEMBER, id)
  local e = r and entry_of(db, r)
  cache.entries[id], cache.unfilled[id] = e, nil
  for list_id, m in pairs(cache.lists) do
    local ids = m.id
    for i = 1, m.n do
      if ids[i] == id then
        for _, column in ipairs(COLUMNS) do table.remove(m[column], i) end
        m.n = m.n - 1
        break
      end
    end
    if r and I.row(db, SQL_IS_MEMBER, list_id, id).yes == 1 then insert_member(m, r, e) end
    m.first = {}
  end
end

--[[
The cache to resolve with.  The store logs the roles, lists and contacts
whose rows this handle writes (src/store/lists.c): a list whose own rows
changed is compiled again when next asked for, a changed role (or every
role of a changed contact) is patched into the compiled lists, so one role
added to a 50k-role list costs that role.  When anything may have changed
beyond that (a rollback, another connection's commit, a structural
change), the cache starts over.
]]
local function cache_for(db)
  local epoch, all, roles, lists, contacts = I.list_changes(db)
  local cache = caches[db]
  if cache and cache.epoch == epoch then return cache end
  if cache and not all then
    for _, id in ipairs(lists) do cache.lists[id] = nil end
    for _, cid in ipairs(contacts) do
      for _, r in ipairs(I.rows(db, SQL_ROLES_OF, cid)) do roles[#roles + 1] = r.id end
    end
    local done = {}
    for _, id in ipairs(roles) do
      if not done[id] then
        done[id] = true
        patch_role(db, cache, id)
      end
    end
    cache.epoch = epoch
    return cache
  end
  cache = { epoch = epoch, lists = {}, entries = {}, unfilled = {} }
  caches[db] = cache
  return cache
end

local function members(db, cache, list_id)
  local m = cache.lists[list_id]
  if not m then
    m = compile(db, cache, list_id)
    cache.lists[list_id] = m
  end
  return m
end
-- }}}

-- Resolution {{{

local ACCESS_NAMES = { [1] = "read", [2] = "full" }

--[[
The user's gate: nil, reason for an unknown or inactive user; else
visible = {[tenant id] = true} for the tenants that are not hidden to
them, and access = {[tenant id] = "read" | "full"}.
]]
local function gate(db, user)
  -- the engine decides, on the same snapshot and by the same rules as
  -- db:check: a user another handle made or deactivated since the last
  -- refresh is seen as a check sees them
  local tenant_access, why = I.tenant_access(db, user)
  if not tenant_access then return nil, why end
  local visible, access = {}, {}
  for t, a in pairs(tenant_access) do
    if a > 0 then
      visible[t] = true
      access[t] = ACCESS_NAMES[a]
    end
  end
  return visible, access
end

-- Count the members of m a user can address: addressable, hidden,
-- inactive.
local function count(m, visible)
  local tenants, ctenants, active = m.tenant, m.contact_tenant, m.active
  local n, hidden, inactive = 0, 0, 0
  for i = 1, m.n do
    local t, c = tenants[i], ctenants[i]
    if (t and not visible[t]) or (c and not visible[c]) then
      hidden = hidden + 1
    elseif not active[i] then
      inactive = inactive + 1
    else
      n = n + 1
    end
  end
  return n, hidden, inactive
end

local SQL_ROLE_PLACE = "SELECT r.key, c.key AS contact FROM roles r"
  .. " JOIN contacts c ON c.id = r.contact_id WHERE r.key = ?1"

-- The index in m after which the page starts: the member `after` itself,
-- or, when it is not a member, the last member before it in the stable
-- order (byte order of contact key, then role key).
local function page_start(m, after, place)
  local keys = m.key
  for i = 1, m.n do
    if keys[i] == after then return i end
  end
  local contacts, ck = m.contact, place.contact
  local lo, hi = 0, m.n             -- members 1..lo are before `after`
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    local c = contacts[mid]
    if bytes_before(c, ck) or (c == ck and bytes_before(keys[mid], after))
    then lo = mid
    else hi = mid - 1 end
  end
  return lo
end

local RESOLVE_OPTIONS = { "dedupe", "limit", "after" }

--- Resolve a distribution list to the roles a user may address.
--
-- The list's own tenant gates it: nil, "tenant_hidden" when it is hidden
-- to the user; read access is enough.  The members (explicit members and
-- roles carrying one of the list's tags, minus exclusions) are taken in a
-- stable order, by contact key, then role key (byte order), and each one
-- is either addressed or left out, the first rule that applies naming the
-- reason in `left_out`:
--
-- 1. `tenant_hidden`: the role's own tenant or its contact's tenant is
--    hidden to the user (so nothing about it is told, not even whether it
--    is active);
-- 2. `inactive`: the role is not active;
-- 3. `no_channel` (only with `dedupe` by a channel): the role has no such
--    channel field;
-- 4. `duplicate` (only with `dedupe`): an earlier role in the order has
--    the same contact (`dedupe = "contact"`: one role per person) or the
--    same text in the channel (`dedupe = "email"`: one mail per address;
--    texts are compared exactly, so store addresses normalised).
--
-- `total` and `left_out` always describe the whole list; `limit` and
-- `after` only cut the page that `roles` holds, so de-duplication is the
-- same on every page.  To page, pass the previous result's `next` as
-- `after`.
-- @function resolve_list
-- @tparam string list the list's key
-- @tparam string user the user's key
-- @tparam[opt] table options
-- @tparam[opt] string options.dedupe "contact", or the name of a channel
-- ("email")
-- @tparam[opt] number options.limit at most this many roles (an integer
-- >= 1; without it the page runs to the end of the list)
-- @tparam[opt] string options.after a role's key: only roles after it in
-- the stable order (it need not be on the list any more, but it must
-- exist)
-- @treturn table `{list =, tenant =, access = "read"|"full", roles =
-- {{role =, contact =, label =, contact_label =, channels = {name =
-- text}, tags = {...}}, ...}, total = n, left_out = {tenant_hidden = n,
-- inactive = n, no_channel = n, duplicate = n}, next = role key or nil}`;
-- `next` is set when more roles follow the page.  The role tables are
-- shared with the store's cache: read them, never modify them.
-- @treturn[2] nil
-- @treturn[2] string reason, in this order: "unknown_user",
-- "inactive_user", "unknown_list", "tenant_hidden"
-- @treturn[3] nil
-- @treturn[3] string message of a runtime failure of the store
-- @treturn[3] string code ("busy", "ioerr", ...)
C.resolve_list = reader("resolve_list",
                        function(db, list, user, opts)
  local fn = "resolve_list"
  V.key(fn, "list", list)
  V.key(fn, "user", user)
  opts = V.options(fn, opts, RESOLVE_OPTIONS)
  local dedupe = opts.dedupe
  if dedupe ~= nil and type(dedupe) ~= "string" then
    fail(fn, "options.dedupe", "expected \"contact\" or a channel name "
         .. "(\"email\"), got %s", show(dedupe))
  elseif dedupe ~= nil then
    V.key(fn, "options.dedupe", dedupe)
  end
  local limit = page_size_option(fn, "options.limit", opts.limit)
  local place
  if opts.after ~= nil then
    V.key(fn, "options.after", opts.after)
    place = V.found(fn, "options.after", "role", opts.after,
                    I.row(db, SQL_ROLE_PLACE, opts.after))
  end

  local visible, access = gate(db, user)
  if not visible then return nil, access end
  local l = I.row(db, SQL_LIST, list)
  if not l then return nil, "unknown_list" end
  if not visible[l.tenant_id] then return nil, "tenant_hidden" end

  local cache = cache_for(db)
  local m = members(db, cache, l.id)
  fill(db, cache, m, l.id)
  local first = place and page_start(m, opts.after, place) or 0
  limit = limit or m.n
  local by_contact = dedupe == "contact"
  local by_channel = not by_contact and dedupe
                     and first_by_channel(m, dedupe)
  local cids, tenants, ctenants, active, entries = m.contact_id, m.tenant,
    m.contact_tenant, m.active, m.entry
  local roles, nroles, total, nxt = {}, 0, 0, nil
  local hidden, inactive, no_channel, duplicate = 0, 0, 0, 0
  local seen, last_contact = {}, nil
  for i = 1, m.n do
    local t, c = tenants[i], ctenants[i]
    local keep = false
    if (t and not visible[t]) or (c and not visible[c]) then
      hidden = hidden + 1
    elseif not active[i] then
      inactive = inactive + 1
    elseif by_contact then
      if cids[i] == last_contact then
        duplicate = duplicate + 1
      else
        last_contact, keep = cids[i], true
      end
    elseif by_channel then
      local j = by_channel[i]
      if not j then
        no_channel = no_channel + 1
      elseif seen[j] then
        duplicate = duplicate + 1
      else
        seen[j], keep = true, true
      end
    else
      keep = true
    end
    if keep then
      total = total + 1
      if i > first then
        if nroles < limit then
          nroles = nroles + 1
          roles[nroles] = entries[i]
        elseif nroles > 0 and not nxt then
          nxt = roles[nroles].role
        end
      end
    end
  end
  return { list = l.key, tenant = l.tenant, access = access[l.tenant_id],
           roles = roles, total = total, next = nxt,
           left_out = { tenant_hidden = hidden, inactive = inactive,
                        no_channel = no_channel, duplicate = duplicate } }
end)

--- The lists a user can see: those whose tenant is not hidden to them
-- (read is enough), in key order, with member counts as that user would
-- resolve them.
-- Each is `{key =, label =, tenant =, tags = {...}, access = "read" |
-- "full", members = n, left_out = {tenant_hidden = n, inactive = n}}`:
-- `members` is what `resolve_list(key, user).total` gives without
-- options, and `members` plus the `left_out` counts is the size of the
-- list.
-- @function lists
-- @tparam string user the user's key
-- @tparam[opt] string tenant only the lists of this tenant
-- @treturn {table,...} the lists
-- @treturn[2] nil
-- @treturn[2] string reason, in this order: "unknown_user",
-- "inactive_user", "unknown_tenant", "tenant_hidden" (of `tenant`)
-- @treturn[3] nil
-- @treturn[3] string message of a runtime failure of the store
-- @treturn[3] string code ("busy", "ioerr", ...)
C.lists = reader("lists", function(db, user, tenant)
  V.key("lists", "user", user)
  if tenant ~= nil then V.key("lists", "tenant", tenant) end
  local visible, access = gate(db, user)
  if not visible then return nil, access end
  local tenant_id
  if tenant ~= nil then
    local t = read.row(db, "tenant", tenant)
    if not t then return nil, "unknown_tenant" end
    if not visible[t.id] then return nil, "tenant_hidden" end
    tenant_id = t.id
  end
  local all, rows = all_lists(db, tenant_id)
  local cache = cache_for(db)
  local result = {}
  for i, row in ipairs(rows) do
    local t = row.tenant_id
    if visible[t] then
      local e = all[i]
      local n, hidden, inactive = count(members(db, cache, row.id), visible)
      e.access, e.members = access[t], n
      e.left_out = { tenant_hidden = hidden, inactive = inactive }
      result[#result + 1] = e
    end
  end
  return result
end)

local SQL_LISTS_OF_ROLE = "WITH ids(id) AS ("
  .. "SELECT list_id FROM list_entries WHERE role_id = ?1"
  .. " UNION SELECT lt.list_id FROM role_tags rt"
  .. " JOIN list_tags lt ON lt.tag = rt.tag WHERE rt.role_id = ?1) "
  .. "SELECT l.id, l.key, l.label, l.tenant_id, t.key AS tenant, e.excluded"
  .. " FROM ids JOIN lists l ON l.id = ids.id"
  .. " JOIN tenants t ON t.id = l.tenant_id"
  .. " LEFT JOIN list_entries e ON e.list_id = l.id AND e.role_id = ?1"
  .. " ORDER BY l.key"
local SQL_MATCHING_TAGS = "SELECT lt.list_id, lt.tag FROM role_tags rt"
  .. " JOIN list_tags lt ON lt.tag = rt.tag WHERE rt.role_id = ?1"
  .. " ORDER BY lt.tag"

-- Every list with an entry for role id or a tag of it, in key order:
-- {key, label, tenant, tenant_id, explicit, excluded, member, tags}.
local function lists_of_role(db, role_id)
  local list, by_id = {}, {}
  for i, row in ipairs(I.rows(db, SQL_LISTS_OF_ROLE, role_id)) do
    list[i] = { key = row.key, label = row.label, tenant = row.tenant,
                tenant_id = row.tenant_id, explicit = row.excluded == 0,
                excluded = row.excluded == 1, tags = {} }
    by_id[row.id] = list[i]
  end
  for _, t in ipairs(I.rows(db, SQL_MATCHING_TAGS, role_id)) do
    local tags = by_id[t.list_id].tags
    tags[#tags + 1] = t.tag
  end
  for _, l in ipairs(list) do
    l.member = not l.excluded and (l.explicit or #l.tags > 0)
  end
  return list
end

--- Every list containing a role, for an administrator (e.g. before
-- deleting the role): the lists where it is an explicit member, an
-- exclusion, or carries one of the list's tags, in key order.
-- Each is `{key =, label =, tenant =, explicit = boolean, excluded =
-- boolean, tags = {the list's tags the role carries}, member = boolean}`;
-- `member` is whether the role is on the list (explicitly or by a tag,
-- and not excluded), whoever looks.
-- @function lists_of_role
-- @tparam string role the role's key
-- @treturn {table,...}|nil the lists, nil when there is no such role
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
C.lists_of_role = reader("lists_of_role", function(db, role)
  local r = read.row(db, "role", V.key("lists_of_role", "role", role))
  if not r then return nil end
  local list = lists_of_role(db, r.id)
  for _, l in ipairs(list) do l.tenant_id = nil end
  return list
end)

local SQL_ROLE_GATE = "SELECT r.id, r.active, r.tenant_id,"
  .. " c.tenant_id AS contact_tenant_id FROM roles r"
  .. " JOIN contacts c ON c.id = r.contact_id WHERE r.key = ?1"

--- The lists through which a user could address a role: the lists it is
-- a member of (explicitly or by a tag, not excluded) whose tenant is not
-- hidden to the user, in key order; empty when the role is inactive.
-- Each is `{key =, label =, tenant =, access = "read" | "full", explicit
-- = boolean, tags = {the list's tags the role carries}}`.
-- @function lists_for
-- @tparam string user the user's key
-- @tparam string role the role's key
-- @treturn {table,...} the lists
-- @treturn[2] nil
-- @treturn[2] string reason, in this order: "unknown_user",
-- "inactive_user", "unknown_role", "tenant_hidden" (the role's or its
-- contact's tenant is hidden to the user)
-- @treturn[3] nil
-- @treturn[3] string message of a runtime failure of the store
-- @treturn[3] string code ("busy", "ioerr", ...)
C.lists_for = reader("lists_for", function(db, user, role)
  V.key("lists_for", "user", user)
  V.key("lists_for", "role", role)
  local visible, access = gate(db, user)
  if not visible then return nil, access end
  local r = I.row(db, SQL_ROLE_GATE, role)
  if not r then return nil, "unknown_role" end
  local t, c = r.tenant_id, r.contact_tenant_id
  if (t and not visible[t]) or (c and not visible[c]) then
    return nil, "tenant_hidden"
  end
  local result = {}
  if r.active ~= 1 then return result end
  for _, l in ipairs(lists_of_role(db, r.id)) do
    if l.member and visible[l.tenant_id] then
      result[#result + 1] = { key = l.key, label = l.label,
                              tenant = l.tenant,
                              access = access[l.tenant_id],
                              explicit = l.explicit, tags = l.tags }
    end
  end
  return result
end)
-- }}}

return { methods = C }
