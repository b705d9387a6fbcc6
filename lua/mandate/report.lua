--- Tables an administrator reads: the users x tenants access matrix and a
-- plain-text renderer for any list of rows (used by the demo and the CLI).
-- @module mandate.report

local M = {}

--- The access of every user to every tenant, as the tenant gate of a
-- check sees it: the engine answers each cell (`db:access`), from the
-- same snapshot as `db:check`, so the matrix and the checks cannot
-- disagree.
-- @treturn table `{tenants = {key...}, users = {key...}, access =
-- {[user] = {[tenant] = "full"|"read"|"hidden"}}, explicit = {[user] =
-- {[tenant] = true}}}`; `explicit` marks the user's own rows, the other
-- cells are the tenant's default.
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("busy": another coroutine's change set is open)
function M.access_matrix(db)
  local users, message, code = db:users()
  if not users then return nil, message, code end
  local tenants
  tenants, message, code = db:tenants()
  if not tenants then return nil, message, code end
  local m = { tenants = {}, users = {}, access = {}, explicit = {} }
  for i, t in ipairs(tenants) do m.tenants[i] = t.key end
  for _, u in ipairs(users) do
    local access, explicit = {}, {}
    for _, t in ipairs(m.tenants) do
      local a, own, why = db:access(u.key, t)
      if a == nil and own ~= nil then return nil, own, why end   -- the store failed
      access[t], explicit[t] = a, own or nil
    end
    m.users[#m.users + 1] = u.key
    m.access[u.key], m.explicit[u.key] = access, explicit
  end
  return m
end

local text_table

--- The access matrix as text: one row per user, one column per tenant,
-- explicit rows marked with `*`.
-- @treturn string
-- @treturn[2] nil, message, code as `access_matrix`
function M.access_matrix_text(db)
  local m, message, code = M.access_matrix(db)
  if not m then return nil, message, code end
  local cols = { { "user", 1 } }
  for _, t in ipairs(m.tenants) do
    cols[#cols + 1] = { t, function(r) return r[2][t] .. (r[3][t] and "*" or "") end }
  end
  local grid = {}
  for _, u in ipairs(m.users) do grid[#grid + 1] = { u, m.access[u], m.explicit[u] } end
  return text_table(cols, grid)
end

local function cell(v)
  if v == nil then return "" end
  return tostring(v)
end

--- Render rows as an aligned text table.
-- @tparam table columns array of `{title, field}` or `{title, function(row)}`
-- @tparam table rows array of tables
-- @treturn string the table, one line per row after a header and a rule
function text_table(columns, rows)
  local widths, lines, grid = {}, {}, {}
  for c, col in ipairs(columns) do widths[c] = #col[1] end
  for r, row in ipairs(rows) do
    grid[r] = {}
    for c, col in ipairs(columns) do
      local get = col[2]
      local v = cell(type(get) == "function" and get(row) or row[get])
      grid[r][c] = v
      if #v > widths[c] then widths[c] = #v end
    end
  end
  local function line(values)
    local parts = {}
    for c, v in ipairs(values) do parts[c] = v .. string.rep(" ", widths[c] - #v) end
    return (table.concat(parts, " | "):gsub("%s+$", ""))
  end
  local titles, rules = {}, {}
  for c, col in ipairs(columns) do titles[c], rules[c] = col[1], string.rep("-", widths[c]) end
  lines[1], lines[2] = line(titles), line(rules)
  for r = 1, #grid do lines[#lines + 1] = line(grid[r]) end
  return table.concat(lines, "\n")
end
M.text_table = text_table

return M
