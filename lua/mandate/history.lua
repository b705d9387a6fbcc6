--- Where the store's past is read: `db:at(point)` and `db:history{...}`.
--
-- The audit trail keeps, for every change, the entity (or the part of it
-- the change touched) before and after.  A past state is the current one
-- with every audit row after it undone, newest first: `db:at` copies the
-- store into a private in-memory store (SQLite's backup API), undoes
-- there and hands that store back, read-only.  Nothing is kept besides
-- the audit itself, so every point since the store's first revision can
-- be shown, and showing one costs a copy of the store plus work in
-- proportion to the changes made since that point.
--
-- How each audit row is undone is read off two tables of descriptions:
-- ROW_PARTS for the rows that stand for one table row ({tenant =,
-- access =} under "user:KEY" is a row of `access`), ENTITIES for the
-- rows that hold a whole entity (they carry its `key`).  A writer of a
-- new table adds its entry there.  Consecutive row parts of one kind are
-- undone together by two statements (the earliest row per table row
-- holds its state at the point), whole entities one by one.
--
-- Contacts, roles and distribution lists are not taken back: a point
-- answers the rights model only (see `ANSWERS`).
-- @module mandate.history

local core = require "mandate.core"
local I = core.internal   -- the primitives, captured at load (see init.lua)
local json = require "mandate.json"
local read = require "mandate.read"
local V = require "mandate.validate"

local H = {}    -- the public methods, installed into mandate.Db
local show, fail = V.show, V.fail

-- What is undone {{{

-- The table of each kind of entity, by the word its subjects and audit
-- documents use.
local TABLES = {
  unit = "units", tenant = "tenants", right = "rights", bundle = "bundles",
  user = "users", customer = "customers",
}

--[[
Audit rows that stand for one row of a table: filed under the subject
"SUBJECT:KEY" (the row's owner), without a `key` of their own, their
document naming the other entity in `field` (its key) and, when the table
has one, the row's `value` column by the same name.
]]
local ROW_PARTS = {
  { subject = "user", field = "tenant", table = "access", owner = "user_id",
    column = "tenant_id", value = "access" },
  { subject = "user", field = "right", table = "overrides", owner = "user_id",
    column = "right_id", value = "value" },
  { subject = "user", field = "customer", table = "account_managers",
    owner = "user_id", column = "customer_id" },
  { subject = "bundle", field = "right", table = "bundle_rights",
    owner = "bundle_id", column = "right_id", value = "value" },
  { subject = "unit", field = "tenant", table = "unit_access",
    owner = "unit_id", column = "tenant_id", value = "access" },
}

--[[
Audit rows that hold a whole entity ({key =, ...} under "KIND:KEY"):
`columns` of its row, each the document's field of the same name,
{column, field} for another name or {column, field, kind} for a
reference by key; `parts`, the rows of other tables its document lists,
each put back only when the document has that field: {field = {key =
value}} (`value`), {field = {key, ...}} in order (`position`), or a set
of keys.  Undoing its creation deletes the row and every part.
]]
local ENTITIES = {
  unit = { columns = { "level", { "parent_id", "parent", "unit" }, "label" } },
  tenant = { columns = { "label", { "default_access", "default" } } },
  right = { columns = { "kind", "mode", "customer", "area", "label" } },
  bundle = { columns = { "label" }, parts = {
    { field = "rights", table = "bundle_rights", owner = "bundle_id",
      column = "right_id", kind = "right", value = "value" },
  } },
  user = { columns = { { "unit_id", "unit", "unit" }, "active", "label" }, parts = {
    { field = "bundles", table = "user_bundles", owner = "user_id",
      column = "bundle_id", kind = "bundle", position = "position" },
    { field = "overrides", table = "overrides", owner = "user_id",
      column = "right_id", kind = "right", value = "value" },
    { field = "access", table = "access", owner = "user_id",
      column = "tenant_id", kind = "tenant", value = "access" },
    { field = "customers", table = "account_managers", owner = "user_id",
      column = "customer_id", kind = "customer" },
  } },
}

-- Tables a point empties: what it does not take back (see the module).
local NOT_KEPT = { "list_entries", "list_tags", "lists", "role_tags",
                   "role_channels", "roles", "contacts" }

-- A value as its table stores it: flags as "true" / "false".
local function stored(v)
  if type(v) == "boolean" then return tostring(v) end
  return v
end

local DOC = "coalesce(before, after)"

-- The SQL statements of a row part, over the audit rows ?1 to ?2.
local function row_part_sql(part)
  local f = "'$." .. part.field .. "'"
  part.test = string.format("substr(subject, 1, %d) = '%s:' AND json_type(%s,"
    .. " '$.key') IS NULL AND json_type(%s, %s) IS NOT NULL",
    #part.subject + 1, part.subject, DOC, DOC, f)
  -- the earliest audit row per table row: the rows' state at the point
  local first = string.format("WITH first AS (SELECT substr(subject, %d) AS"
    .. " owner_key, json_extract(%s, %s) AS other_key, before, min(id)"
    .. " FROM audit WHERE id BETWEEN ?1 AND ?2 AND %s GROUP BY 1, 2) ",
    #part.subject + 2, DOC, f, part.test)
  local ids = string.format(" FROM first JOIN %s o ON o.key = first.owner_key"
    .. " JOIN %s x ON x.key = first.other_key", TABLES[part.subject],
    TABLES[part.field])
  part.delete = string.format("%sDELETE FROM %s WHERE (%s, %s) IN (SELECT"
    .. " o.id, x.id%s)", first, part.table, part.owner, part.column, ids)
  local columns, values = part.owner .. ", " .. part.column, "o.id, x.id"
  if part.value then
    local v = "'$." .. part.value .. "'"
    columns = columns .. ", " .. part.value
    values = values .. string.format(", CASE json_type(first.before, %s)"
      .. " WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
      .. " ELSE json_extract(first.before, %s) END", v, v)
  end
  part.insert = string.format("%sINSERT INTO %s(%s) SELECT %s%s WHERE"
    .. " first.before IS NOT NULL", first, part.table, columns, values, ids)
end

for _, part in ipairs(ROW_PARTS) do row_part_sql(part) end

-- The SQL statements of a whole entity of kind.
local function entity_sql(kind, e)
  local t = TABLES[kind]
  local names, values, sets = { "key" }, { "?1" }, {}
  for i, c in ipairs(e.columns) do
    local column = type(c) == "table" and c[1] or c
    names[i + 1] = column
    values[i + 1] = type(c) == "table" and c[3]
      and string.format("(SELECT id FROM %s WHERE key = ?%d)", TABLES[c[3]], i + 1)
      or "?" .. (i + 1)
    sets[i] = column .. " = excluded." .. column
  end
  e.id = "SELECT id FROM " .. t .. " WHERE key = ?1"
  e.put = string.format("INSERT INTO %s(%s) VALUES (%s) ON CONFLICT(key) DO"
    .. " UPDATE SET %s", t, table.concat(names, ", "),
    table.concat(values, ", "), table.concat(sets, ", "))
  e.delete = "DELETE FROM " .. t .. " WHERE id = ?1"
  for _, part in ipairs(e.parts or {}) do
    part.clear = "DELETE FROM " .. part.table .. " WHERE " .. part.owner .. " = ?1"
    local extra = part.value or part.position
    part.add = string.format("INSERT INTO %s(%s, %s%s) SELECT ?1, id%s FROM"
      .. " %s WHERE key = ?2", part.table, part.owner, part.column,
      extra and ", " .. extra or "", extra and ", ?3" or "", TABLES[part.kind])
  end
end

for kind, e in pairs(ENTITIES) do entity_sql(kind, e) end

-- Each audit row's part: the index of its row part, else 0.
local PART_OF = { "CASE" }
for i, part in ipairs(ROW_PARTS) do
  PART_OF[#PART_OF + 1] = "WHEN " .. part.test .. " THEN " .. i
end
PART_OF[#PART_OF + 1] = "ELSE 0 END"
PART_OF = table.concat(PART_OF, " ")

-- The last audit row of revision ?1 or before (0: none): the rows after
-- it are the later revisions' (a revision's rows are contiguous, and the
-- audit's ids only grow).
local SQL_LAST_ID = "SELECT coalesce((SELECT last_id FROM revisions"
  .. " WHERE revision <= ?1 ORDER BY revision DESC LIMIT 1), 0) AS id"
-- The audit rows after row ?1 in runs of one part, newest first.
local SQL_RUNS = "SELECT part, min(id) AS lo, max(id) AS hi FROM (SELECT id,"
  .. " part, row_number() OVER (ORDER BY id) - row_number() OVER (PARTITION"
  .. " BY part ORDER BY id) AS run FROM (SELECT id, " .. PART_OF .. " AS part"
  .. " FROM audit WHERE id > ?1)) GROUP BY part, run ORDER BY hi DESC"
local SQL_WHOLE = "SELECT id, op, subject, before, after FROM audit"
  .. " WHERE id BETWEEN ?1 AND ?2 ORDER BY id DESC"
local SQL_FORGET_ROWS = "DELETE FROM audit WHERE id > ?1"
local SQL_FORGET = {
  "DELETE FROM revisions WHERE revision > ?1",
  "UPDATE meta SET value = ?1 WHERE key = 'revision'",
}

-- Put the levels back as before (a list, or nil: none).
local function put_levels(p, before)
  I.exec(p, "DELETE FROM levels")
  for d, name in ipairs(before or {}) do
    I.exec(p, "INSERT INTO levels(name, depth) VALUES (?1, ?2)", name, d - 1)
  end
end

-- Put entity kind key back as before (a document, or nil: absent).
local function put_entity(p, kind, key, before)
  local e = ENTITIES[kind]
  local row = I.row(p, e.id, key)
  if not before then
    if row then
      for _, part in ipairs(e.parts or {}) do I.exec(p, part.clear, row.id) end
      I.exec(p, e.delete, row.id)
    end
    return
  end
  local args = {}
  for i, c in ipairs(e.columns) do
    args[i] = before[type(c) == "table" and c[2] or c]
  end
  I.exec(p, e.put, key, (table.unpack or unpack)(args, 1, #e.columns))
  local id = I.row(p, e.id, key).id
  for _, part in ipairs(e.parts or {}) do
    local list = before[part.field]
    if list ~= nil then
      I.exec(p, part.clear, id)
      if part.value then
        for k, v in pairs(list) do I.exec(p, part.add, id, k, stored(v)) end
      elseif part.position then
        for i, k in ipairs(list) do I.exec(p, part.add, id, k, i) end
      else
        for _, k in ipairs(list) do I.exec(p, part.add, id, k) end
      end
    end
  end
end

-- A runtime failure: an audit row that no description covers (a writer
-- of a newer mandate, or one whose entry is missing) cannot be undone.
local function unknown(a)
  error(setmetatable({ code = "error", message = string.format("audit "
    .. "row %d (%s of %s) has a shape no description of mandate.history "
    .. "covers: the past before it cannot be shown", a.id, a.op,
    a.subject) }, core.Error), 0)
end

-- Undo the audit rows of a run of whole entities, newest first.
local function undo_whole(p, lo, hi)
  for _, a in ipairs(I.rows(p, SQL_WHOLE, lo, hi)) do
    local before = a.before and json.decode(a.before)
    if a.subject == "levels" then
      put_levels(p, before)
    else
      local kind, key = a.subject:match("^(%a+):(.*)$")
      if ENTITIES[kind] then
        local doc = before or json.decode(a.after or "null")
        if type(doc) ~= "table" or doc.key ~= key then unknown(a) end
        put_entity(p, kind, key, before)
      end
    end
  end
end

--[[
Take p (a private store) back to revision r: undo every audit row after
it, newest first, and forget them.  p's own revision must be r or later.
]]
local function undo_after(p, r)
  I.exec(p, "BEGIN")
  local last = I.row(p, SQL_LAST_ID, r).id
  for _, run in ipairs(I.rows(p, SQL_RUNS, last)) do
    local part = ROW_PARTS[run.part]
    if part then
      I.exec(p, part.delete, run.lo, run.hi)
      I.exec(p, part.insert, run.lo, run.hi)
    else
      undo_whole(p, run.lo, run.hi)
    end
  end
  I.exec(p, SQL_FORGET_ROWS, last)
  for _, sql in ipairs(SQL_FORGET) do I.exec(p, sql, r) end
  I.exec(p, "COMMIT")
end
-- }}}

-- Points {{{

-- The Lua methods a point answers (the C ones, `check` and the other
-- checks, `access`, `id`, always answer): readers of the rights model.
local ANSWERS = {
  "explain", "effective", "checker", "prepare", "users", "tenants", "units",
  "rights", "bundles", "levels", "get_user", "get_tenant", "get_unit",
  "get_right", "get_bundle", "overrides", "access_of", "customers_of",
  "managers_of", "unit_access", "revision", "audit", "at", "history",
}
local ANSWER_SET = {}
for _, name in ipairs(ANSWERS) do ANSWER_SET[name] = true end

local SQL_LAST_AT = "SELECT max(revision) AS revision FROM revisions"
  .. " WHERE time <= ?1"
local SQL_FIRST = "SELECT revision, time FROM revisions ORDER BY revision"
  .. " LIMIT 1"

-- The revision a point names: a revision number up to the current one,
-- or a time at or after the first revision's.
local function revision_at(db, fn, point)
  local r, t = read.bound(fn, "point", point)
  if point == nil then
    fail(fn, "point", "expected a revision number or a time string (ISO "
         .. "8601, or '@' and a Unix time), got nil")
  end
  local current = read.revision(db)
  if r then
    if r > current then
      fail(fn, "point", "%s is after the current revision %d (the past "
           .. "only)", show(point), current)
    end
    return r
  end
  r = I.row(db, SQL_LAST_AT, t).revision
  if not r then
    local first = I.row(db, SQL_FIRST)
    fail(fn, "point", "%s is before the store's first revision, %s (db:at(0) "
         .. "is the empty store)", show(point), first and string.format(
           "%d at %s", first.revision, first.time) or "which it has not made yet")
  end
  return r
end

-- A private copy of db's store, as db sees it, after work(copy); closed
-- when work raises.
local function copy(db, work)
  local p, why, code = core.open()
  if not p then error(setmetatable({ message = why, code = code }, core.Error), 0) end
  local ok, e = pcall(function()
    I.copy(p, db)
    I.exec(p, "PRAGMA foreign_keys = OFF")   -- contacts may name what is undone
    work(p)
  end)
  if not ok then
    p:close()
    error(e, 0)
  end
  return p
end

--- The store as it was at a point of its past: a read-only handle.
-- It answers `check`, `allowed`, `check_ids`, `checker`, `prepare`,
-- `explain`, `effective`, `access`, `id`, `users`, `tenants` and the
-- other readers of the rights model (`get_*`, `units`, `rights`,
-- `bundles`, `levels`, `overrides`, `access_of`, `customers_of`,
-- `managers_of`, `revision`, `audit`, `at`, `history`) exactly as the
-- store did at that point; every writer, `transaction` and the contact
-- and list methods raise.  Contacts, roles and lists are not kept.
-- Entities deleted since the point and shown again get ids of their own
-- (`id`, `check_ids`), and a right shown again comes last in the catalog.
-- The handle is a private in-memory copy: it never sees later writes;
-- close it (or let it be collected) when done.
-- @function at
-- @tparam number|string point a revision number (0: the empty store; at
-- most `db:revision()`), or a time as `db:audit` takes it (ISO 8601 text,
-- or "@" and a Unix time, "@1709294405"): the last revision at or before
-- it.  A time before the first revision raises.
-- @treturn mandate.Db the store at that point (`revision()` is its
-- revision)
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy", "nomem", ...)
H.at = read.reader("at", function(db, point)
  local r = revision_at(db, "at", point)
  local p = copy(db, function(p)
    undo_after(p, r)
    for _, t in ipairs(NOT_KEPT) do I.exec(p, "DELETE FROM " .. t) end
  end)
  V.points[p] = { revision = r, answers = ANSWER_SET }
  return p
end)
-- }}}

-- History {{{

local HISTORY_OPTIONS = { "user", "tenant", "right", "since", "before", "limit" }

-- The revisions that may have changed the user's access to the tenant or
-- effective value of the right, newest first, within the bounds.
local SQL_CANDIDATES = "SELECT DISTINCT a.revision, r.time, r.actor"
  .. " FROM audit a JOIN revisions r ON r.revision = a.revision"
  .. " WHERE (a.subject = 'user:' || ?1"
  .. " OR (?2 IS NOT NULL AND a.subject = 'tenant:' || ?2)"
  .. " OR (?3 IS NOT NULL AND (a.subject = 'right:' || ?3"
  .. " OR substr(a.subject, 1, 7) = 'bundle:')))"
  .. " AND (?4 IS NULL OR a.revision > ?4) AND (?5 IS NULL OR r.time >= ?5)"
  .. " AND (?6 IS NULL OR a.revision < ?6) AND (?7 IS NULL OR r.time < ?7)"
  .. " ORDER BY a.revision DESC"

-- What p answers for user: its access to tenant, its effective value of
-- right (nil when either names nothing there).
local function values(p, user, tenant, right)
  local access, value
  if tenant then access = p:access(user, tenant) end
  if right then
    for _, row in ipairs(p:effective(user) or {}) do
      if row.right == right then value = row.effective end
    end
  end
  return access, value
end

--- The changes that altered a user's access to a tenant, or the
-- effective value of a right for them, newest last.
-- Every revision that touched the user, the tenant, the right or any
-- bundle (a bundle's edit counts for everyone holding it then) is
-- compared before and after: a row for each that changed
-- `db:access(user, tenant)` or the user's `effective` value of the
-- right: {revision =, time =, actor =, user =, tenant = or right =,
-- before =, after =}, before or after absent where the user, tenant or
-- right did not exist.  Costs `db:at` of the oldest revision looked at
-- plus two reads per revision that touched them.
-- @function history
-- @tparam table options
-- @tparam string options.user the user's key
-- @tparam[opt] string options.tenant a tenant's key
-- @tparam[opt] string options.right a right's key (tenant, right or both)
-- @tparam[opt] number|string options.since a revision (changes after it)
-- or a time (at or after it), as `db:audit` takes them
-- @tparam[opt] number|string options.before a revision or a time: only
-- changes before it (`until` is a word of Lua)
-- @tparam[opt] number options.limit only the newest this many changes
-- @treturn {table,...} the changes, oldest first
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
H.history = read.reader("history", function(db, opts)
  local fn = "history"
  if type(opts) ~= "table" then
    fail(fn, "options", "expected a table {user =, tenant =, right =, "
         .. "since =, before =, limit =}, got %s", show(opts))
  end
  opts = V.options(fn, opts, HISTORY_OPTIONS)
  V.key(fn, "options.user", opts.user)
  if opts.tenant == nil and opts.right == nil then
    fail(fn, "options", "names no tenant and no right (give tenant =, "
         .. "right = or both)")
  end
  if opts.tenant ~= nil then V.key(fn, "options.tenant", opts.tenant) end
  if opts.right ~= nil then V.key(fn, "options.right", opts.right) end
  local since_rev, since_time = read.bound(fn, "options.since", opts.since)
  local before_rev, before_time = read.bound(fn, "options.before", opts.before)
  local limit = math.huge
  if opts.limit ~= nil then
    limit = V.count(fn, "options.limit", opts.limit, "a count")
  end
  local user, tenant, right = opts.user, opts.tenant, opts.right
  local candidates = I.rows(db, SQL_CANDIDATES, user, tenant, right,
                            since_rev, since_time, before_rev, before_time)
  local changes, n = {}, 0         -- per revision, newest first
  if #candidates == 0 or limit == 0 then return changes end
  copy(db, function(p)
    for _, c in ipairs(candidates) do
      undo_after(p, c.revision)
      local access, value = values(p, user, tenant, right)
      undo_after(p, c.revision - 1)
      local access0, value0 = values(p, user, tenant, right)
      local rows = {}
      if access ~= access0 then
        rows[1] = { revision = c.revision, time = c.time, actor = c.actor,
          user = user, tenant = tenant, before = access0, after = access }
      end
      if value ~= value0 then
        rows[#rows + 1] = { revision = c.revision, time = c.time,
          actor = c.actor, user = user, right = right, before = value0,
          after = value }
      end
      changes[#changes + 1] = rows
      n = n + #rows
      if n >= limit then break end
    end
  end):close()
  local list = {}
  for i = #changes, 1, -1 do
    for _, row in ipairs(changes[i]) do list[#list + 1] = row end
  end
  return { (table.unpack or unpack)(list, math.max(1, #list - limit + 1)) }
end)
-- }}}

return { methods = H }
