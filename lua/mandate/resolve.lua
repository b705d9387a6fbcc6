--- Where a distribution list becomes the roles a user may address.
--
-- The resolution of a list of mandate.contacts for one user
-- (`db:resolve_list`, `db:lists`, `db:lists_for`, `db:lists_of_role`).
--
-- **Visibility.**  A user sees what the engine's tenant gate lets them
-- see (docs/semantics.md section 3.3, `db:access`): `read` is enough to
-- address a role or to resolve a list (results name the access, so that
-- an application can offer editing a list only with `full`; the writers
-- of mandate.contacts are the administrator's API and take no user).  A role is
-- addressable by a user when it is active and neither its own tenant nor
-- its contact's tenant is hidden to the user; common data has no gate.
-- What a user may not see is only ever counted, never shown.  Access
-- comes from the engine's snapshot, so another process's change of access
-- is seen as `db:check` sees it; changes to contacts, roles and lists are
-- seen at once.
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
-- @module mandate.resolve

local I = require("mandate.core").internal   -- the primitives, captured at load
local LISTS = require("mandate.contacts").lists   -- the lists' readers
local read = require "mandate.read"
local V = require "mandate.validate"

local C = {}    -- the public methods, installed into mandate.Db
local byte = string.byte
local show, fail = V.show, V.fail
local reader = read.reader

local SQL_LIST = "SELECT l.id, l.key, l.label, l.tenant_id,"
  .. " t.key AS tenant FROM lists l JOIN tenants t ON t.id = l.tenant_id"
  .. " WHERE l.key = ?1"

-- All lists (of one tenant id, or all) in key order as get_list returns
-- them, and their rows.
local function all_lists(db, tenant_id)
  if tenant_id then
    return LISTS.list(db, "l.tenant_id = ?1", tenant_id)
  end
  return LISTS.list(db)
end

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
  local limit = V.page_size(fn, "options.limit", opts.limit, "the whole list")
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
