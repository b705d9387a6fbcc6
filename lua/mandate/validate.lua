--- Where an argument gets checked.
--
-- Every writer calls these checks before it writes anything.  A failed
-- check raises a usage error: a table `{message = "fn: arg: ..."}` with
-- the metatable `validate.Usage`, which the writer catches, rolls back
-- (nothing was written yet) and raises again as a plain string pointing
-- at the writer's caller.  Messages name the function, the argument, the
-- bad value and what is allowed:
--
--     put_unit: options.level: 'galaxy' is not a level (levels: country,
--     branch, department, team)
--
-- The checks here look at values only; the writers look rows up (is there
-- such a unit?) and hand them in.
-- @module mandate.validate

local core = require "mandate.core"

local V = {}

local byte, concat, format = string.byte, table.concat, string.format

-- Usage errors {{{

--- The metatable of usage errors raised by the checks.
V.Usage = { __tostring = function(e) return e.message end }

--- Is e a usage error raised by a check?
-- @param e an error value
-- @treturn boolean
function V.is_usage(e)
  return type(e) == "table" and getmetatable(e) == V.Usage
end

--- Is e a runtime failure of the store (a `mandate.Error`)?
-- @param e an error value
-- @treturn boolean
function V.is_store_error(e)
  return type(e) == "table" and getmetatable(e) == core.Error
end

--- Raise a usage error "fn: arg: text".
-- @tparam string fn the public function's name
-- @tparam string argname the argument ("key", "options.level"); not
-- called `arg`, which Lua 5.1 reserves in vararg functions
-- @tparam string fmt format of the text, then its arguments
function V.fail(fn, argname, fmt, ...)
  error(setmetatable({ message = fn .. ": " .. argname .. ": "
                                 .. format(fmt, ...) }, V.Usage), 0)
end

local named_escapes = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                        ["\\"] = "\\\\", ['"'] = '\\"' }

local function escape_byte(c)
  return named_escapes[c] or format("\\%03d", byte(c))
end

--- A value as messages show it: strings quoted ('hh-sales'), control
-- characters escaped, long strings cut; other values by type.
-- @param v any value
-- @treturn string
function V.show(v)
  local t = type(v)
  if t == "string" then
    local s = v
    if #s > 60 then s = s:sub(1, 57) .. "..." end
    return "'" .. s:gsub("[%c\\]", escape_byte) .. "'"
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t
end
local show = V.show

--- The name of a field of a table argument: `options.rights["x"]`.
-- @tparam string arg the table's argument name
-- @tparam string k the field's key
-- @treturn string
function V.field(arg, k)
  return arg .. '["' .. k:gsub('[%c"\\]', escape_byte) .. '"]'
end

--- Words joined with ", ", each shown as is.
-- @tparam {string,...} list
-- @tparam[opt] number max show at most this many, then "..."
-- @treturn string
function V.list(list, max)
  if max and #list > max then
    local cut = {}
    for i = 1, max do cut[i] = list[i] end
    cut[max + 1] = format("... (%d in all)", #list)
    return concat(cut, ", ")
  end
  return concat(list, ", ")
end

--- Is self a mandate.Db?  Returns nil when fine, else the message.
-- @param db the value passed as self
-- @tparam string fn the public function's name
-- @treturn[1] nil when db is an open store
-- @treturn[2] string what is wrong with it
function V.db_problem(db, fn)
  local mt = type(db) == "userdata" and getmetatable(db)
  if not (type(mt) == "table" and mt.__index == core.Db) then
    return format("%s: self: expected a mandate.Db, got %s (call it as "
                  .. "db:%s(...))", fn, show(db), fn)
  end
  if not db:is_open() then
    return fn .. ": the store is closed"
  end
  return nil
end

local pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end
local unpack = table.unpack or unpack

--- Make a public method that is not a writer: it checks self, runs
-- impl(db, ...), raises usage errors at its caller (level 2) and turns
-- runtime failures of the store into `nil, message, code`.
-- @tparam string name the method's name, for messages
-- @tparam function impl
-- @treturn function the method
function V.method(name, impl)
  return function(db, ...)
    local problem = V.db_problem(db, name)
    if problem then error(problem, 2) end
    local r = pack(pcall(impl, db, ...))
    if r[1] then return unpack(r, 2, r.n) end
    local e = r[2]
    if V.is_usage(e) then error(e.message, 2) end
    if V.is_store_error(e) then return nil, e.message, e.code end
    error(e, 0)
  end
end
-- }}}

-- Keys and text {{{

local KEY_RULE = "keys are 1 to 200 bytes of UTF-8 text without control "
                 .. "characters"

--- Is s valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF)?
-- @tparam string s
-- @treturn boolean
function V.is_utf8(s)
  if not s:find("[\128-\255]") then return true end
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    local need, lo, hi
    lo, hi = 0x80, 0xBF
    if c < 0x80 then need = 0
    elseif c >= 0xC2 and c <= 0xDF then need = 1
    elseif c >= 0xE0 and c <= 0xEF then
      need = 2
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      need = 3
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else
      return false
    end
    for k = 1, need do
      local d = byte(s, i + k)
      if not d then return false end
      if k == 1 then
        if d < lo or d > hi then return false end
      elseif d < 0x80 or d > 0xBF then
        return false
      end
    end
    i = i + need + 1
  end
  return true
end

--- Check an integrator key: a string of 1 to 200 bytes of UTF-8 text
-- without control characters.  Quotes, `%`, `;` and SQL text are fine.
-- @tparam string fn the public function's name
-- @tparam string arg the argument's name
-- @param v the value
-- @treturn string v
function V.key(fn, arg, v)
  if type(v) ~= "string" then
    V.fail(fn, arg, "expected a string key, got %s", show(v))
  end
  if v == "" then V.fail(fn, arg, "'' is empty (%s)", KEY_RULE) end
  if #v > 200 then
    V.fail(fn, arg, "%s is %d bytes long (%s)", show(v), #v, KEY_RULE)
  end
  if v:find("%c") then
    V.fail(fn, arg, "%s contains a control character (%s)", show(v), KEY_RULE)
  end
  if not V.is_utf8(v) then
    V.fail(fn, arg, "%s is not valid UTF-8 (%s)", show(v), KEY_RULE)
  end
  return v
end

--- Check an optional text option (label, area): nil keeps the stored
-- value, false removes it, a string of UTF-8 text sets it.
-- @tparam string fn
-- @tparam string arg
-- @param v nil, false or a string
-- @return v
function V.text(fn, arg, v)
  if v == nil or v == false then return v end
  if type(v) ~= "string" then
    V.fail(fn, arg, "expected a string (or false to remove it), got %s",
           show(v))
  end
  if not V.is_utf8(v) then
    V.fail(fn, arg, "%s is not valid UTF-8 text", show(v))
  end
  return v
end

--- Check an optional boolean option.
-- @tparam string fn
-- @tparam string arg
-- @param v nil or a boolean
-- @return v
function V.boolean(fn, arg, v)
  if v ~= nil and type(v) ~= "boolean" then
    V.fail(fn, arg, "expected true or false, got %s", show(v))
  end
  return v
end

--- Check that v is one of the words of allowed.
-- @tparam string fn
-- @tparam string arg
-- @param v the value
-- @tparam string what what the words are ("an access")
-- @tparam {string,...} allowed
-- @treturn string v
function V.word(fn, arg, v, what, allowed)
  for _, w in ipairs(allowed) do
    if v == w then return v end
  end
  V.fail(fn, arg, "%s is not %s (allowed: %s)", show(v), what,
         concat(allowed, ", "))
end

V.ACCESS = { "full", "read", "hidden" }
V.KINDS = { "flag", "scope" }
V.MODES = { "read", "write" }

--- Check an options table: nil (treated as empty) or a table whose keys
-- are all among allowed.
-- @tparam string fn
-- @param opts the options
-- @tparam {string,...} allowed the option names
-- @tparam[opt="options"] string arg the argument's name
-- @treturn table opts, or a new empty table for nil
function V.options(fn, opts, allowed, arg)
  arg = arg or "options"
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    V.fail(fn, arg, "expected a table {%s} or nil, got %s",
           concat(allowed, "=, ") .. "=", show(opts))
  end
  local ok = {}
  for _, name in ipairs(allowed) do ok[name] = true end
  for k in pairs(opts) do
    if not ok[k] then
      local where = type(k) == "string" and k:find("^[%a_][%w_]*$")
                    and arg .. "." .. k or arg .. "[" .. show(k) .. "]"
      V.fail(fn, where, "unknown option (allowed: %s)", concat(allowed, ", "))
    end
  end
  return opts
end

--- Check an array argument: a table with exactly the keys 1..n.
-- @tparam string fn
-- @tparam string arg
-- @param t the value
-- @tparam string what what the items are ("bundle keys")
-- @treturn table t
function V.array(fn, arg, t, what)
  if type(t) ~= "table" then
    V.fail(fn, arg, "expected an array of %s, got %s", what, show(t))
  end
  local n, count = #t, 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
      V.fail(fn, arg, "expected an array of %s, but it has the key %s",
             what, show(k))
    end
    count = count + 1
  end
  if count ~= n then                  -- # found a border beyond a hole
    for i = 1, n do
      if t[i] == nil then
        V.fail(fn, arg, "expected an array of %s, but [%d] is nil", what, i)
      end
    end
  end
  return t
end

--- Check a set of tags given as an array of keys, each once.
-- @tparam string fn
-- @tparam string arg
-- @param t the value
-- @treturn {string,...} a new array of the tags in byte order
function V.tags(fn, arg, t)
  V.array(fn, arg, t, "tags")
  local seen, sorted = {}, {}
  for i, tag in ipairs(t) do
    local where = arg .. "[" .. i .. "]"
    V.key(fn, where, tag)
    if seen[tag] then
      V.fail(fn, where, "%s is already %s[%d] (tags are a set: give each "
             .. "once)", show(tag), arg, seen[tag])
    end
    seen[tag] = i
    sorted[i] = tag
  end
  table.sort(sorted)
  return sorted
end

--- Check channel fields: a table {channel name = text}, names are keys,
-- values non-empty UTF-8 strings (an address may span lines).
-- @tparam string fn
-- @tparam string arg
-- @param t the value
-- @treturn table a copy of t
function V.channels(fn, arg, t)
  if type(t) ~= "table" then
    V.fail(fn, arg, "expected a table {channel name = text}, got %s", show(t))
  end
  local copy = {}
  for k, v in pairs(t) do
    if type(k) ~= "string" then
      V.fail(fn, arg, "expected a table {channel name = text}, but it has "
             .. "the key %s", show(k))
    end
    V.key(fn, arg, k)
    if type(v) ~= "string" or v == "" then
      V.fail(fn, V.field(arg, k), "expected a non-empty string, got %s",
             show(v))
    end
    if not V.is_utf8(v) then
      V.fail(fn, V.field(arg, k), "%s is not valid UTF-8 text", show(v))
    end
    copy[k] = v
  end
  return copy
end
-- }}}

-- The store's vocabulary {{{

local RESERVED = { none = true, own = true, all = true, customer = true }

--- Check a new list of level names, top to bottom.
-- @tparam string fn
-- @param names the list
-- @treturn {string,...} names
function V.level_names(fn, names)
  V.array(fn, "levels", names, "level names (top to bottom)")
  if #names == 0 then
    V.fail(fn, "levels", "the list is empty (give 1 to 32 level names, "
           .. "top to bottom)")
  end
  if #names > 32 then
    V.fail(fn, "levels", "%d levels are too many (at most 32)", #names)
  end
  local seen = {}
  for i, name in ipairs(names) do
    local arg = "levels[" .. i .. "]"
    V.key(fn, arg, name)
    if RESERVED[name] or name:find("+", 1, true) then
      V.fail(fn, arg, "%s cannot name a level (none, own, all, customer and "
             .. "names with '+' are words of scope values)", show(name))
    end
    if seen[name] then
      V.fail(fn, arg, "%s is already levels[%d] (level names are unique)",
             show(name), seen[name])
    end
    seen[name] = i
  end
  return names
end

--- Check a level name against the store's levels.
-- @tparam string fn
-- @tparam string arg
-- @param v the value
-- @tparam {string,...} levels the store's levels, top to bottom
-- @treturn number the level's depth (1 = top)
function V.level(fn, arg, v, levels)
  if type(v) ~= "string" then
    V.fail(fn, arg, "expected a level name, got %s", show(v))
  end
  for d, name in ipairs(levels) do
    if name == v then return d end
  end
  if #levels == 0 then
    V.fail(fn, arg, "%s is not a level (there are no levels yet; call "
           .. "db:set_levels first)", show(v))
  end
  V.fail(fn, arg, "%s is not a level (levels: %s)", show(v),
         concat(levels, ", "))
end

local ENTITY_LIST = {
  unit = "db:units()", tenant = "db:tenants()", right = "db:rights()",
  bundle = "db:bundles()", user = "db:users()",
  contact = "db:contacts()", role = "db:roles()", list = "db:all_lists()",
}

--- Check that a key (already checked with `V.key`) named an entity.
-- @tparam string fn
-- @tparam string arg
-- @tparam string kind "unit", "tenant", "right", "bundle", "user",
-- "contact", "role" or "list"
-- @tparam string v the key
-- @tparam table|nil row the row found for it, or nil
-- @treturn table row
function V.found(fn, arg, kind, v, row)
  if not row then
    V.fail(fn, arg, "%s is not a %s (%s lists them)", show(v), kind,
           ENTITY_LIST[kind])
  end
  return row
end

--- The values a right allows, as a message shows them.
-- @tparam table right the right's row (kind, customer)
-- @tparam {string,...} levels top to bottom
-- @treturn string
function V.allowed_values(right, levels)
  if right.kind == "flag" then return "true, false" end
  local words = { "none", "own" }
  for d = #levels, 1, -1 do words[#words + 1] = levels[d] end
  words[#words + 1] = "all"
  local s = concat(words, ", ")
  if right.customer == 1 or right.customer == true then
    s = s .. ", each optionally with +customer"
  end
  return s
end

--- Check a value for a right and return its canonical text.
-- Flags take booleans; scopes take strings ("team", "team+customer",
-- "customer"), the customer part only when the right allows it.
-- @tparam string fn
-- @tparam string arg
-- @tparam table right the right's row (key, kind, customer)
-- @param v the value
-- @tparam {string,...} levels top to bottom
-- @treturn string canonical text ("true", "team+customer")
function V.value(fn, arg, right, v, levels)
  local customer_ok = right.customer == 1 or right.customer == true
  local text
  if right.kind == "flag" then
    if type(v) == "boolean" then text = v and "true" or "false" end
  elseif type(v) == "string" then
    text = core.parse_value(levels, "scope", customer_ok, v)
    if not text and not customer_ok
       and core.parse_value(levels, "scope", true, v) then
      V.fail(fn, arg, "%s is not a value of scope right '%s': it has no "
             .. "customer part (allowed: %s; put_right with customer = true "
             .. "to allow +customer)", show(v), right.key,
             V.allowed_values(right, levels))
    end
  end
  if not text then
    V.fail(fn, arg, "%s is not a value of %s right '%s' (allowed: %s)",
           show(v), right.kind, right.key, V.allowed_values(right, levels))
  end
  return text
end
-- }}}

return V
