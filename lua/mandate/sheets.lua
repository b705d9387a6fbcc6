--- Where a table of the store becomes a spreadsheet and a spreadsheet
-- becomes writes: `db:export_bundles`, `db:export_user`,
-- `db:export_access`, `db:import_bundles` and `db:import_access`, all in
-- the one CSV dialect of `mandate.csv`.
--
-- An export returns the CSV text, or writes it to `opts.file` and
-- returns true.  An import reads its whole source, checks every cell
-- against the store, and writes only when every cell is good, in one
-- `db:transaction`: all or nothing.  A bad source raises one error that
-- lists every bad cell (up to `LIMIT`), each with its line, column and
-- what is allowed there.  Each import is a check that yields the writes
-- to make and a function of the store that makes them (`apply`); the
-- change, check then apply, is one function of the store, run by
-- `db:transaction` or, with `{dry_run = true}`, by `db:plan`, whose
-- `apply()` runs it again, checks included.
--
-- Values are written as the store keeps them (`db:bundles()`,
-- `db:effective`): flags `true` / `false`, scopes in their canonical text
-- (`team+customer`); an import reads them with the store's own value
-- parser (`validate.value`): `none+customer` is stored, and exported, as
-- `customer`.
-- @module mandate.sheets

local core = require "mandate.core"
local csv = require "mandate.csv"
local read = require "mandate.read"
local report = require "mandate.report"
local V = require "mandate.validate"

local M = {}      -- the public methods, installed into mandate.Db

local format, concat = string.format, table.concat
local show, fail = V.show, V.fail

--- The most bad cells an import's error lists (it counts them all).
local LIMIT = 20

-- Shared {{{

-- A reader's answer, or its runtime failure raised as a store error (the
-- method around turns it into nil, message, code).
local function got(v, message, code)
  if v == nil and message ~= nil then
    error(setmetatable({ message = message, code = code or "error" }, core.Error), 0)
  end
  return v
end

local SEP_TEXT = "';', ',' or '\\t'"

local function separator(fn, sep)
  if sep == nil then return nil end
  for _, s in ipairs(csv.SEPARATORS) do
    if sep == s then return sep end
  end
  fail(fn, "options.sep", "%s is not a separator (allowed: %s)", show(sep), SEP_TEXT)
end

local function file_name(fn, arg, path)
  if type(path) ~= "string" or path == "" or path:find("\0", 1, true) then
    fail(fn, arg, "expected a file name (a non-empty string without NUL), got %s",
         show(path))
  end
  return path
end

local EXPORT_OPTIONS = { "sep", "file" }

local function export_options(fn, opts)
  opts = V.options(fn, opts, EXPORT_OPTIONS)
  separator(fn, opts.sep)
  if opts.file ~= nil then file_name(fn, "options.file", opts.file) end
  return opts
end

-- rows as CSV: the text, or true once written to opts.file
local function output(fn, rows, opts)
  local text = csv.encode(rows, opts.sep or ";")
  if opts.file == nil then return text end
  local f, message = io.open(opts.file, "wb")
  if not f then return nil, fn .. ": " .. message, "ioerr" end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not (ok and closed) then return nil, fn .. ": " .. tostring(werr or cerr), "ioerr" end
  return true
end

-- the text of an import's source: CSV text, or {file = path}
local function source_text(fn, source)
  if type(source) == "string" then return source end
  if type(source) ~= "table" then
    fail(fn, "source", "expected CSV text or {file = path}, got %s", show(source))
  end
  V.options(fn, source, { "file" }, "source")
  local f, message = io.open(file_name(fn, "source.file", source.file), "rb")
  if not f then return nil, fn .. ": " .. message, "ioerr" end
  local text = f:read("*a")
  f:close()
  if not text then return nil, fn .. ": cannot read " .. source.file, "ioerr" end
  return text
end

-- The bad cells of an import: add(text) counts one and keeps the first
-- LIMIT; try(f, ...) runs a check of mandate.validate and adds its
-- failure (without "fn: "); raise() fails with all of them, if any.
local function problems(fn)
  local p, n = {}, 0
  local function add(text)
    n = n + 1
    if n <= LIMIT then p[n] = text end
  end
  local function try(f, ...)
    local ok, result = pcall(f, ...)
    if ok then return true, result end
    if not V.is_usage(result) then error(result, 0) end
    add(result.message:sub(#fn + 3))
    return false
  end
  local function raise()
    if n == 1 then fail(fn, "source", "%s", p[1]) end
    if n > 1 then
      fail(fn, "source", "%d problems, nothing was written%s:\n%s", n,
           n > LIMIT and format(" (the first %d shown)", LIMIT) or "", concat(p, "\n"))
    end
  end
  return add, try, raise
end

-- The rows of an import's source and their lines: raises for text that
-- is not CSV (not UTF-8, an unclosed quote) and for an empty source, whose
-- header would begin with the columns fixed, then rest.
local function parse(fn, source, sep, fixed, rest)
  local rows, lines = csv.decode(source, sep)
  if not rows then fail(fn, "source", "%s", lines) end
  if #rows == 0 then
    fail(fn, "source", "there is no header line, the CSV is empty (expected the "
         .. "columns %s, then %s)", concat(fixed, ", "), rest)
  end
  return rows, lines
end

-- Check the header's fixed cells (add a problem for each one that is
-- not what it should be) and its other cells as keys, each once: the
-- columns {[c] = key} whose key is good, for known(key) to accept.
local function header_columns(fn, rows, lines, fixed, rest, add, try, known)
  local header, line = rows[1], lines[1]
  for c, name in ipairs(fixed) do
    if header[c] ~= name then
      add(format("line %d, column %d: %s %s (the columns are %s, then %s)", line, c,
                 header[c] and show(header[c]) .. " is not" or "missing, expected",
                 show(name), concat(fixed, ", "), rest))
    end
  end
  local columns, seen = {}, {}
  for c = #fixed + 1, #header do
    local key, where = header[c], format("line %d, column %d", line, c)
    if try(V.key, fn, where, key) then
      if seen[key] then
        add(format("%s: %s is already column %d (each once)", where, show(key), seen[key]))
      elseif known(key, where) then
        columns[c] = key
      end
      seen[key] = seen[key] or c
    end
  end
  return columns
end

-- Each data row with its line, once its cell count is the header's and
-- its key (the first cell) is known and not seen before: each(row, line,
-- key).
local function data_rows(rows, lines, what, add, known, each)
  local width, seen = #rows[1], {}
  for i = 2, #rows do
    local row, line = rows[i], lines[i]
    local key = row[1]
    if #row ~= width then
      add(format("line %d: %d cells, but the header has %d (each row has one cell "
                 .. "per column)", line, #row, width))
    elseif seen[key] then
      add(format("line %d: %s %s is already on line %d (each %s once)", line, what,
                 show(key), seen[key], what))
    elseif known(key, line) then
      seen[key] = line
      each(row, line, key)
    end
  end
end

-- Run change(db) for real, one transaction, or with {dry_run = true} as
-- a dry run: its plan (db:plan).
local function run(db, change, opts)
  if opts.dry_run then return db:plan(change) end
  local ok, message, code = db:transaction(change)
  if ok == nil then return nil, message, code end
  return true
end

local IMPORT_OPTIONS = { "sep", "create", "replace", "dry_run" }
local ACCESS_OPTIONS = { "sep", "dry_run" }

local function import_options(fn, opts, allowed)
  opts = V.options(fn, opts, allowed)
  separator(fn, opts.sep)
  for _, name in ipairs(allowed) do
    if name ~= "sep" then V.boolean(fn, "options." .. name, opts[name]) end
  end
  return opts
end

--[[
An import method: read the source, parse it (its header begins with the
fixed columns, then rest), and run the change, check(db, fn, rows, lines,
opts) then apply(db, writes), as one function of the store.
]]
local function importer(fn, allowed, fixed, rest, check, apply)
  return V.method(fn, function(db, source, opts)
    opts = import_options(fn, opts, allowed)
    local text, message, code = source_text(fn, source)
    if not text then return nil, message, code end
    local rows, lines = parse(fn, text, opts.sep, fixed, rest)
    return run(db, function(d)
      apply(d, check(d, fn, rows, lines, opts))
    end, opts)
  end)
end
-- }}}

-- Bundles {{{

local RIGHT_COLUMNS = { "right", "area", "label", "kind", "mode" }
local BUNDLE_COLUMNS = "one column per bundle"

--- Export every bundle's values side by side: one row per right in
-- catalog order (its key, area, label, kind and mode), then one column
-- per bundle in key order, holding the bundle's value for that right
-- (`true`, `false`, `team+customer`; empty when the bundle does not set
-- it).
-- @function export_bundles
-- @tparam[opt] table options
-- @tparam[opt=";"] string options.sep ";", "," or "\t"
-- @tparam[opt] string options.file write the CSV to this file
-- @treturn string|boolean the CSV text, or true once written to the file
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("ioerr": the file cannot be written; "busy", ...)
M.export_bundles = V.method("export_bundles", function(db, opts)
  local fn = "export_bundles"
  opts = export_options(fn, opts)
  local rows = read.in_read_tx(db, function()
    local rights, bundles = got(db:rights()), got(db:bundles())
    local header = {}
    for c, name in ipairs(RIGHT_COLUMNS) do header[c] = name end
    for _, b in ipairs(bundles) do header[#header + 1] = b.key end
    local list = { header }
    for _, r in ipairs(rights) do
      local row = { r.key, r.area or "", r.label or "", r.kind, r.mode }
      for _, b in ipairs(bundles) do
        local v = b.rights[r.key]
        row[#row + 1] = v == nil and "" or tostring(v)
      end
      list[#list + 1] = row
    end
    return list
  end)
  return output(fn, rows, opts)
end)

-- Two bundles' values {right = value} the same?
local function same_values(a, b)
  for k, v in pairs(a) do
    if b[k] ~= v then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- A flag's cell as the value parser takes it: true / false in any case
-- (what spreadsheets write: TRUE), anything else as it is.
local FLAG_WORDS = { ["true"] = true, ["false"] = false }

local function cell_value(right, cell)
  if right.kind == "flag" then
    local b = FLAG_WORDS[cell:lower()]
    if b ~= nil then return b end
  end
  return cell
end

-- an empty cell: the bundle gives no value for the right
local NONE = {}

--[[
Check a bundles CSV against the store and return its writes: a list of
{key =, rights = {right = value}}, one per bundle whose values change (or
that is new), in column order.
]]
local function check_bundles(db, fn, rows, lines, opts)
  local add, try, raise = problems(fn)
  local bundles, rights = {}, {}
  for _, b in ipairs(got(db:bundles())) do bundles[b.key] = b end
  for _, r in ipairs(got(db:rights())) do rights[r.key] = r end
  local levels = got(db:levels())
  local columns = header_columns(fn, rows, lines, RIGHT_COLUMNS, BUNDLE_COLUMNS, add, try,
    function(key, where)
      if bundles[key] or opts.create then return true end
      add(format("%s: %s is not a bundle (db:bundles() lists them; pass {create = "
                 .. "true} to create it)", where, show(key)))
    end)
  local values = {}                  -- [column] = {right = value or NONE}
  for c in pairs(columns) do values[c] = {} end
  data_rows(rows, lines, "right", add, function(key, line)
    if rights[key] then return true end
    add(format("line %d: %s is not a right (db:rights() lists them; put_right "
               .. "creates rights, an import does not)", line, show(key)))
  end, function(row, line, key)
    local right, parsed = rights[key], { [""] = NONE }   -- a row's cells repeat
    for c, bundle in pairs(columns) do
      local cell = row[c]
      local v = parsed[cell]
      if v == nil then
        local where = format("line %d, column %d (bundle %s)", line, c, show(bundle))
        local ok, text = try(V.value, fn, where, right, cell_value(right, cell), levels)
        if ok then
          v = read.value(right.kind, text)
          parsed[cell] = v
        end
      end
      values[c][key] = v
    end
  end)
  raise()
  local writes = {}
  for c = #RIGHT_COLUMNS + 1, #rows[1] do
    local key = columns[c]
    local old = bundles[key] and bundles[key].rights or {}
    local new = {}
    if not opts.replace then
      for k, v in pairs(old) do new[k] = v end
    end
    for k, v in pairs(values[c]) do
      if v == NONE then new[k] = nil else new[k] = v end
    end
    if not bundles[key] or not same_values(old, new) then
      writes[#writes + 1] = { key = key, rights = new }
    end
  end
  return writes
end

-- The writes of check_bundles, made on db.
local function apply_bundles(db, writes)
  for _, w in ipairs(writes) do
    got(db:put_bundle(w.key, { rights = w.rights }))
  end
end

--- Set bundles' values from a CSV as `export_bundles` writes it.
-- The header's first cells are right, area, label, kind and mode, then
-- one column per bundle; each further line is a right (its key first;
-- area, label, kind and mode are there to read and not imported: rights
-- are changed by `put_right`), and each bundle cell its value: `true`,
-- `false` (in any case), a scope value, or empty for no value.  Every
-- cell is checked before anything is written; a bad source raises an
-- error that names, for each bad cell (the first 20), its line and
-- column, the right and bundle, the bad value and what is allowed, and
-- nothing is written.  Rights missing from the file keep their values in
-- every bundle unless `replace`; bundles missing from it are not
-- touched.  One `put_bundle` per bundle that changes, all in one
-- transaction.
-- @function import_bundles
-- @tparam string|table source CSV text, or `{file = path}`
-- @tparam[opt] table options
-- @tparam[opt] string options.sep ";", "," or "\t"; detected from the
-- header when absent
-- @tparam[opt=false] boolean options.create create the bundles of
-- columns that name none (else they are errors)
-- @tparam[opt=false] boolean options.replace rights missing from the
-- file lose their values in the file's bundles
-- @tparam[opt=false] boolean options.dry_run write nothing: return the
-- plan of the import (`db:plan`), whose `apply()` makes it
-- @treturn boolean|table true, or with `dry_run` the plan
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("ioerr": the file cannot be read; "busy", ...)
M.import_bundles = importer("import_bundles", IMPORT_OPTIONS, RIGHT_COLUMNS, BUNDLE_COLUMNS,
                             check_bundles, apply_bundles)
-- }}}

-- One user's rights {{{

--- Export one user's rights table, as an administrator reads it: one row
-- per right in catalog order with its key, area, label and kind, the
-- value each of the user's bundles gives (a column per bundle, in the
-- user's order), the user's override (empty when none), the effective
-- value and its source, as `db:effective` gives them.
-- @function export_user
-- @tparam string user the user's key
-- @tparam[opt] table options
-- @tparam[opt=";"] string options.sep ";", "," or "\t"
-- @tparam[opt] string options.file write the CSV to this file
-- @treturn string|boolean the CSV text, or true once written to the file
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("notfound": no such user; "ioerr", "busy", ...)
M.export_user = V.method("export_user", function(db, user, opts)
  local fn = "export_user"
  V.key(fn, "user", user)
  opts = export_options(fn, opts)
  local rows = read.in_read_tx(db, function()
    local u = got(db:get_user(user))
    if not u then return nil end
    local header = { "right", "area", "label", "kind" }
    for _, b in ipairs(u.bundles) do header[#header + 1] = b end
    header[#header + 1] = "override"
    header[#header + 1] = "effective"
    header[#header + 1] = "source"
    local list = { header }
    for _, e in ipairs(got(db:effective(user))) do
      local row = { e.right, e.area or "", e.label or "", e.kind }
      for _, b in ipairs(u.bundles) do row[#row + 1] = tostring(e.bundles[b]) end
      row[#row + 1] = e.override == nil and "" or tostring(e.override)
      row[#row + 1] = tostring(e.effective)
      row[#row + 1] = e.source
      list[#list + 1] = row
    end
    return list
  end)
  if not rows then return nil, format("%s: unknown user %s", fn, show(user)), "notfound" end
  return output(fn, rows, opts)
end)
-- }}}

-- Tenant access {{{

local USER_COLUMNS = { "user" }
local TENANT_COLUMNS = "one column per tenant"

--- Export the users x tenants access matrix: a row per user in key
-- order, a column per tenant in key order.  A cell is the user's own
-- row (`full`, `read`, `hidden`) or, in parentheses, the tenant's
-- default that applies for want of one (`(read)`).
-- @function export_access
-- @tparam[opt] table options
-- @tparam[opt=";"] string options.sep ";", "," or "\t"
-- @tparam[opt] string options.file write the CSV to this file
-- @treturn string|boolean the CSV text, or true once written to the file
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("ioerr": the file cannot be written; "busy", ...)
M.export_access = V.method("export_access", function(db, opts)
  local fn = "export_access"
  opts = export_options(fn, opts)
  local m = got(read.in_read_tx(db, report.access_matrix))
  local header = { USER_COLUMNS[1] }
  for _, t in ipairs(m.tenants) do header[#header + 1] = t end
  local rows = { header }
  for _, u in ipairs(m.users) do
    local row = { u }
    for _, t in ipairs(m.tenants) do
      local a = m.access[u][t]
      row[#row + 1] = m.explicit[u][t] and a or "(" .. a .. ")"
    end
    rows[#rows + 1] = row
  end
  return output(fn, rows, opts)
end)

--[[
Check an access CSV against the store and return its writes: a list of
{user =, tenant =, access = word or false (clear)}, one per cell that
changes a user's own rows, in row and column order.
]]
local function check_access(db, fn, rows, lines)
  local add, try, raise = problems(fn)
  local tenants, users = {}, {}
  for _, t in ipairs(got(db:tenants())) do tenants[t.key] = t end
  for _, u in ipairs(got(db:users())) do users[u.key] = true end
  local columns = header_columns(fn, rows, lines, USER_COLUMNS, TENANT_COLUMNS, add, try,
    function(key, where)
      if tenants[key] then return true end
      add(format("%s: %s is not a tenant (db:tenants() lists them; put_tenant "
                 .. "creates tenants, an import does not)", where, show(key)))
    end)
  local writes = {}
  data_rows(rows, lines, "user", add, function(key, line)
    if users[key] then return true end
    add(format("line %d: %s is not a user (db:users() lists them; put_user "
               .. "creates users, an import does not)", line, show(key)))
  end, function(row, line, user)
    local own = got(db:access_of(user))
    for c = 2, #row do
      local tenant = columns[c]
      if tenant then
        local cell, default = row[c], tenants[tenant].default
        local want
        if cell == "" or cell == "(" .. default .. ")" then
          want = false
        elseif cell == "full" or cell == "read" or cell == "hidden" then
          want = cell
        else
          add(format("line %d, column %d (tenant %s): %s is not an access (allowed: "
                     .. "%s; empty or %s for the tenant's default)", line, c,
                     show(tenant), show(cell), concat(V.ACCESS, ", "),
                     show("(" .. default .. ")")))
        end
        if want ~= nil and want ~= (own[tenant] or false) then
          writes[#writes + 1] = { user = user, tenant = tenant, access = want }
        end
      end
    end
  end)
  raise()
  return writes
end

-- The writes of check_access, made on db.
local function apply_access(db, writes)
  for _, w in ipairs(writes) do
    if w.access then
      got(db:set_access(w.user, w.tenant, w.access))
    else
      got(db:clear_access(w.user, w.tenant))
    end
  end
end

--- Set users' tenant access from a CSV as `export_access` writes it.
-- The header is `user`, then one column per tenant; each further line a
-- user (its key first), and each cell `full`, `read` or `hidden` (the
-- user's own row), or empty or the tenant's default in parentheses
-- (`(read)`: no own row, the default applies).  Users and tenants must
-- exist.  Every cell is checked before anything is written; a bad source
-- raises an error naming each bad cell (the first 20) and nothing is
-- written.  Users and tenants missing from the file keep their rows.
-- One `set_access` or `clear_access` per cell that changes, all in one
-- transaction.
-- @function import_access
-- @tparam string|table source CSV text, or `{file = path}`
-- @tparam[opt] table options
-- @tparam[opt] string options.sep ";", "," or "\t"; detected from the
-- header when absent
-- @tparam[opt=false] boolean options.dry_run write nothing: return the
-- plan of the import (`db:plan`), whose `apply()` makes it
-- @treturn boolean|table true, or with `dry_run` the plan
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code ("ioerr": the file cannot be read; "busy", ...)
M.import_access = importer("import_access", ACCESS_OPTIONS, USER_COLUMNS, TENANT_COLUMNS,
                            check_access, apply_access)
-- }}}

return { methods = M }
