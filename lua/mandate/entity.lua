--- Where an entity's row is put and deleted, once for every kind.
--
-- Units, tenants, rights, bundles, users (mandate.write) and contacts,
-- roles and lists (mandate.contacts) are rows of one shape: a key, a few
-- columns, options that set them, parts that belong to the row (a
-- bundle's values, a role's tags), and rows of other entities that refer
-- to it.  Each kind is a *description*, a table that `put` and `delete`
-- run; the modules that own the kinds keep only what is specific to them,
-- as hooks of the description:
--
--     {
--       kind = "tenant",            -- read.row's kind, the audit subject
--       table = "tenants",
--       columns = {"label", "default_access"},  -- written after the key
--       options = {"label", "default"},
--       get = f(db, key),           -- the entity as put_* takes it, or nil
--       change = f(db, fn, key, opts, row, before),
--                                   -- checks the options and returns the
--                                   -- entity after the put, the columns'
--                                   -- values and the parts to replace
--                                   -- ({[part name] = {{column values}}})
--       parts = {{name = "tags", table = "role_tags", owner = "role_id",
--                 columns = {"tag"}}},    -- replaced by put, gone on delete
--       owns = {{"list_entries", "list_id"}},  -- more rows gone on delete
--       refuse = {{refs = {...}, sep = " and ", message = "tenant %s still
--                  has %s (...)"}},  -- what refers to it, see refuse
--       cascade = {ref names in the order their rows go} or f(db, fn, row),
--       dropped = f(db, row, before),     -- adds to the audit row's before
--       drops = {f(db, fn, row), ...},    -- other modules' rows that go
--                                   -- with it, each with its own audit
--                                   -- rows (mandate.moves: a unit's
--                                   -- access template), see E.drop
--     }
--
-- A ref is `{name =, sql = "... WHERE x = ?1", word = "user", field =
-- "key", prefix = "the overrides of ", drop = f(db, fn, r, row)}`: the
-- rows that refer to the entity (sql over its id), how a refusal names
-- them, and how a cascade removes one of them.
-- @module mandate.entity

local core = require "mandate.core"
local I = core.internal   -- the primitives, captured at load (see init.lua)
local json = require "mandate.json"
local read = require "mandate.read"
local V = require "mandate.validate"

local E = {}
local show, fail = V.show, V.fail
local unpack = table.unpack or unpack

-- Helpers of every writer {{{

local function encode(v)
  if v == nil then return nil end
  return json.encode(v)
end

--- Do two entities (tables or nil) have the same content?
-- @return boolean
function E.same(a, b)
  return encode(a) == encode(b)
end

--- Write the audit row of one change, under the revision the change set
-- commits as (before/after nil when absent).
-- @tparam userdata db
-- @tparam string op the writer's name
-- @tparam string subject "kind:key"
-- @param before table or nil
-- @param after table or nil
function E.record(db, op, subject, before, after)
  I.audit(db, op, subject, encode(before), encode(after))
end

--- A key argument naming an existing entity: its row; raises otherwise.
-- @tparam userdata db
-- @tparam string fn the writer's name
-- @tparam string arg the argument's name
-- @tparam string kind see read.row
-- @param key
-- @treturn table the row
function E.existing(db, fn, arg, kind, key)
  V.key(fn, arg, key)
  return V.found(fn, arg, kind, key, read.row(db, kind, key))
end

--- Write an entity's own row: update_sql(id, ...) when it exists, else
-- insert_sql(key, ...) with the same columns.
-- @treturn number its id
function E.write_row(db, row, key, update_sql, insert_sql, ...)
  if row then
    I.exec(db, update_sql, row.id, ...)
    return row.id
  end
  local _, id = I.exec(db, insert_sql, key, ...)
  return id
end

--- "2 child units ('a', 'b')", at most 5 names.
-- @tparam number n
-- @tparam string word
-- @tparam table rows
-- @tparam[opt="key"] string field the rows' field that names them
-- @treturn string
function E.some(n, word, rows, field)
  local names = {}
  for i, row in ipairs(rows) do names[i] = show(row[field or "key"]) end
  return string.format("%d %s%s (%s)", n, word, n == 1 and "" or "s",
                       V.list(names, 5))
end

local CASCADE = { "cascade" }

--- The options of a delete_*: {cascade = boolean}.
-- @treturn boolean whether to cascade
function E.cascade_option(fn, opts)
  opts = V.options(fn, opts, CASCADE)
  return V.boolean(fn, "options.cascade", opts.cascade) == true
end

--- Resolve a text option: nil keeps old, false removes, a string sets.
function E.text_value(v, old)
  if v == nil then return old end
  if v == false then return nil end
  return v
end
-- }}}

-- Descriptions {{{

local function placeholders(from, n)
  local t = {}
  for i = 1, n do t[i] = "?" .. (from + i - 1) end
  return table.concat(t, ", ")
end

--[[
Complete a description: its statements, made once from the table and
column names (the row's, the parts' and the deletes in dependency order),
and its refs by name.
]]
function E.describe(d)
  local cols, sets = d.columns, {}
  for i, c in ipairs(cols) do sets[i] = c .. " = ?" .. (i + 1) end
  d.insert = "INSERT INTO " .. d.table .. "(key, " .. table.concat(cols, ", ")
    .. ") VALUES (" .. placeholders(1, #cols + 1) .. ")"
  d.update = "UPDATE " .. d.table .. " SET " .. table.concat(sets, ", ")
    .. " WHERE id = ?1"
  d.drop = {}
  for _, p in ipairs(d.parts or {}) do
    p.clear = "DELETE FROM " .. p.table .. " WHERE " .. p.owner .. " = ?1"
    p.add = "INSERT INTO " .. p.table .. "(" .. p.owner .. ", "
      .. table.concat(p.columns, ", ") .. ") VALUES ("
      .. placeholders(1, #p.columns + 1) .. ")"
    d.drop[#d.drop + 1] = p.clear
  end
  for _, o in ipairs(d.owns or {}) do
    d.drop[#d.drop + 1] = "DELETE FROM " .. o[1] .. " WHERE " .. o[2] .. " = ?1"
  end
  d.drop[#d.drop + 1] = "DELETE FROM " .. d.table .. " WHERE id = ?1"
  d.refuse = d.refuse or {}
  d.drops = d.drops or {}
  d.refs = {}
  for _, group in ipairs(d.refuse) do
    for _, ref in ipairs(group.refs) do d.refs[ref.name] = ref end
  end
  return d
end

--- Add a ref to a description's refusal group g (its position in
-- d.refuse) and to the end of its cascade, for a module whose rows refer
-- to another module's entity (mandate.contacts: a tenant's contacts).
function E.add_ref(d, g, ref, cascade_at)
  local refs = d.refuse[g].refs
  refs[#refs + 1] = ref
  d.refs[ref.name] = ref
  table.insert(d.cascade, cascade_at or #d.cascade + 1, ref.name)
end
-- }}}

-- Put and delete {{{

--- The implementation of d's put_* writer: impl(db, fn, key, opts) for
-- mandate.write's writer(); it returns the entity's id.
function E.put(d)
  local ncols, parts = #d.columns, d.parts or {}
  return function(db, fn, key, opts)
    V.key(fn, "key", key)
    opts = V.options(fn, opts, d.options)
    local row = read.row(db, d.kind, key)
    local before = row and d.get(db, key)
    local after, values, replace = d.change(db, fn, key, opts, row, before)
    if E.same(before, after) then return row.id end
    local id = E.write_row(db, row, key, d.update, d.insert,
                           unpack(values, 1, ncols))
    for _, p in ipairs(parts) do
      local new = replace and replace[p.name]
      if new then
        I.exec(db, p.clear, id)
        for _, values_of in ipairs(new) do
          I.exec(db, p.add, id, unpack(values_of, 1, #p.columns))
        end
      end
    end
    E.record(db, fn, d.kind .. ":" .. key, before, after)
    return id
  end
end

--[[
The rows that refer to the entity of row, by ref name; raises, naming
them, unless cascading.  Each refusal group is checked in turn and names
all its refs (joined by its sep) in one message: message:format(key, what).
]]
local function refuse(d, db, fn, row, cascade)
  local found = {}
  for _, group in ipairs(d.refuse) do
    local what = {}
    for _, ref in ipairs(group.refs) do
      local rows = I.rows(db, ref.sql, row.id)
      found[ref.name] = rows
      if #rows > 0 then
        what[#what + 1] = (ref.prefix or "")
                          .. E.some(#rows, ref.word, rows, ref.field)
      end
    end
    if #what > 0 and not cascade then
      fail(fn, "key", group.message, show(row.key),
           table.concat(what, group.sep or " and "))
    end
  end
  return found
end

--- Delete the entity of row ({id =, key =}) with its parts and what it
-- owns, after its cascade has removed what refers to it (found: the
-- rows of its refs by name, as refuse read them; queried when absent),
-- and write the audit rows.
function E.drop(d, db, fn, row, found)
  if type(d.cascade) == "function" then
    d.cascade(db, fn, row)
  else
    for _, name in ipairs(d.cascade or {}) do
      local ref = d.refs[name]
      local rows = found and found[name] or I.rows(db, ref.sql, row.id)
      for _, r in ipairs(rows) do ref.drop(db, fn, r, row) end
    end
  end
  for _, f in ipairs(d.drops) do f(db, fn, row) end
  local before = d.get(db, row.key)
  if d.dropped then d.dropped(db, row, before) end
  for _, sql in ipairs(d.drop) do I.exec(db, sql, row.id) end
  E.record(db, fn, d.kind .. ":" .. row.key, before, nil)
end

--- The implementation of d's delete_* writer: impl(db, fn, key, opts).
function E.delete(d)
  return function(db, fn, key, opts)
    local row = E.existing(db, fn, "key", d.kind, key)
    local cascade = E.cascade_option(fn, opts)
    E.drop(d, db, fn, row, refuse(d, db, fn, row, cascade))
    return true
  end
end
-- }}}

return E
