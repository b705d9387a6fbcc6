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

--- The most bytes of a string a message quotes: longer strings are cut
-- to their first `V.CUT - 3` bytes (at a character's start) and "...",
-- so that no message grows with its input.
V.CUT = 60

--- s cut to at most max bytes: its first max - 3 bytes, backed off to
-- the start of a UTF-8 character, then "...".
-- @tparam string s
-- @tparam[opt=V.CUT] number max
-- @treturn string
function V.cut(s, max)
  max = max or V.CUT
  if #s <= max then return s end
  local n = max - 3
  local c = byte(s, n + 1)
  while n > 0 and c and c >= 0x80 and c < 0xC0 do  -- n + 1 continues a char
    c = byte(s, n)
    n = n - 1
  end
  return s:sub(1, n) .. "..."
end
local cut = V.cut

--- A value as messages show it: strings quoted ('hh-sales'), control
-- characters escaped, long strings cut (`V.cut`); NaN as nan, other
-- values by type.
-- @param v any value
-- @treturn string
function V.show(v)
  local t = type(v)
  if t == "string" then
    return "'" .. cut(v):gsub("[%c\\]", escape_byte) .. "'"
  elseif t == "number" and v ~= v then
    return "nan"                      -- not "-nan", as some C libraries say
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t
end
local show = V.show

--- The name of a field of a table argument: `options.rights["x"]`; a
-- long key is cut as `V.show` cuts.
-- @tparam string arg the table's argument name
-- @tparam string k the field's key
-- @treturn string
function V.field(arg, k)
  return arg .. '["' .. cut(k):gsub('[%c"\\]', escape_byte) .. '"]'
end

--- Words joined with ", ", each shown as is.
-- @tparam {string,...} list
-- @tparam[opt] number max show at most this many, then "..."
-- @treturn string
function V.list(list, max)
  if max and #list > max then
    local first = {}
    for i = 1, max do first[i] = list[i] end
    first[max + 1] = format("... (%d in all)", #list)
    return concat(first, ", ")
  end
  return concat(list, ", ")
end

--- The handles that show a past point of a store (`db:at`, see
-- mandate.history): handle -> {revision =, answers = {method name =
-- true}}; db_problem refuses every other method of the Lua layer.
V.points = setmetatable({}, { __mode = "k" })

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
  local point = V.points[db]
  if point and not point.answers[fn] then
    return format("%s: this handle shows the store at revision %d (db:at) "
                  .. "and is read-only: it answers the checks and the readers "
                  .. "of the rights model only", fn, point.revision)
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
local NUL_RULE = "text is stored without NUL bytes: SQLite's functions "
                 .. "and most readers end it there"

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
  V.utf8_text(fn, arg, v)
  return v
end

--- Check text the store keeps (a label, an address): valid UTF-8 without
-- NUL bytes, which SQLite's functions and most readers take as the end.
-- @tparam string fn
-- @tparam string arg
-- @tparam string v
-- @treturn string v
function V.utf8_text(fn, arg, v)
  if not V.is_utf8(v) then
    V.fail(fn, arg, "%s is not valid UTF-8 text", show(v))
  end
  if v:find("\0", 1, true) then
    V.fail(fn, arg, "%s contains a NUL byte (%s)", show(v), NUL_RULE)
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
      local where = type(k) == "string" and #k <= V.CUT
                    and k:find("^[%a_][%w_]*$")
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
    V.utf8_text(fn, V.field(arg, k), v)
    copy[k] = v
  end
  return copy
end
-- }}}

-- Numbers and times {{{

--- The largest count or revision an argument may give: every integer up
-- to it is exact in a Lua number and in SQLite's.
V.MAX_COUNT = 2^53

local tointeger = math.tointeger or function(v) return v end

--- Check a count or revision number: an integer from 0 to 2^53 (not NaN,
-- not infinite, not a fraction).
-- @tparam string fn
-- @tparam string arg
-- @param v the value
-- @tparam string what what it is ("a count", "a revision number")
-- @treturn number v, an integer (Lua 5.3+: of the integer subtype)
function V.count(fn, arg, v, what)
  if type(v) ~= "number" or v ~= v or v < 0 or v > V.MAX_COUNT
     or v % 1 ~= 0 then
    V.fail(fn, arg, "expected %s (an integer from 0 to 2^53), got %s", what,
           show(v))
  end
  return tointeger(v)
end

--- Check a page size: an integer >= 1 (a page of 0 rows could not say
-- where the next one starts), or nil for no limit.
-- @tparam string fn
-- @tparam string arg
-- @param v the value
-- @tparam string whole what nil gives ("every row")
-- @treturn number|nil v
function V.page_size(fn, arg, v, whole)
  if v ~= nil and not (type(v) == "number" and v % 1 == 0 and v >= 1) then
    V.fail(fn, arg, "expected a page size (an integer >= 1; nil for %s), "
           .. "got %s", whole, show(v))
  end
  return v
end

local floor = math.floor
local MS_PER_DAY = 86400000

-- Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H.
-- Hinnant's days_from_civil), and back; plain floors, as Lua 5.1 has no //.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524)
                     - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local MIN_MS = days_from_civil(0, 1, 1) * MS_PER_DAY
local MAX_MS = days_from_civil(10000, 1, 1) * MS_PER_DAY - 1

local MONTH_DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function month_days(y, m)
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then
    return 29
  end
  return MONTH_DAYS[m]
end

-- Milliseconds of a fraction of a second given as digits, rounded up (a
-- bound between two milliseconds lies before the later one only).
local function fraction_ms(digits)
  if digits == nil then return 0 end
  local ms = tonumber((digits .. "00"):sub(1, 3))
  if digits:find("[1-9]", 4) then ms = ms + 1 end
  return ms
end

--- The audit trail's form of a time: UTC with milliseconds,
-- "2024-03-01T12:00:00.250Z" (`strftime('%Y-%m-%dT%H:%M:%fZ')`); its
-- texts sort as their times do.
-- @tparam number ms milliseconds since 1970-01-01T00:00:00Z, in the
-- years 0000 to 9999
-- @treturn string
function V.time_text(ms)
  local days = floor(ms / MS_PER_DAY)
  local rest = ms - days * MS_PER_DAY
  local y, m, d = civil_from_days(days)
  return format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
                floor(rest / 3600000), floor(rest / 60000) % 60,
                floor(rest / 1000) % 60, rest % 1000)
end

local TIME_RULE = "times are ISO 8601 such as '2024-03-01', "
  .. "'2024-03-01T12:00:00Z' or '2024-03-01T13:00:00.25+01:00' (no zone: "
  .. "UTC), or Unix times such as '@1709294400'"

-- A number field of a time: its value, or a failure naming it.
local function field_in(fn, arg, v, what, text, lo, hi)
  local n = tonumber(text)
  if n < lo or n > hi then
    V.fail(fn, arg, "%s is not a time: the %s %s is not %02d to %02d", show(v),
           what, text, lo, hi)
  end
  return n
end

-- Milliseconds since 1970 of an ISO 8601 time, or nil when the text has
-- not its shape; raises for fields out of range.
local function iso_ms(fn, arg, v)
  local ys, mos, ds, rest = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not ys then return nil end
  local hs, mis, ss, frac, zone = "00", "00", "00", nil, ""
  if rest ~= "" then
    hs, mis, rest = rest:match("^[Tt ](%d%d):(%d%d)(.*)$")
    if not hs then return nil end
    local s2, r2 = rest:match("^:(%d%d)(.*)$")
    if s2 then
      ss, rest = s2, r2
      local f2, r3 = rest:match("^[.,](%d+)(.*)$")
      if f2 then frac, rest = f2, r3 end
    end
    zone = rest
  end
  local sign, ohs, oms = 0, "00", "00"
  if zone ~= "" and zone ~= "Z" and zone ~= "z" then
    local sg, oh, om = zone:match("^([-+])(%d%d):?(%d%d)$")
    if not sg then
      sg, oh = zone:match("^([-+])(%d%d)$")
      om = "00"
    end
    if not sg then return nil end
    sign, ohs, oms = sg == "-" and -1 or 1, oh, om
  end
  local y = tonumber(ys)
  local m = field_in(fn, arg, v, "month", mos, 1, 12)
  local d = tonumber(ds)
  if d < 1 or d > month_days(y, m) then
    V.fail(fn, arg, "%s is not a time: %s-%s has no day %s", show(v), ys,
           mos, ds)
  end
  local h = field_in(fn, arg, v, "hour", hs, 0, 23)
  local mi = field_in(fn, arg, v, "minute", mis, 0, 59)
  local sec = field_in(fn, arg, v, "second", ss, 0, 59)
  local off = field_in(fn, arg, v, "offset's hour", ohs, 0, 23) * 60
              + field_in(fn, arg, v, "offset's minute", oms, 0, 59)
  return days_from_civil(y, m, d) * MS_PER_DAY
         + ((h * 60 + mi - sign * off) * 60 + sec) * 1000 + fraction_ms(frac)
end

-- Milliseconds since 1970 of a Unix time "@seconds[.fraction]", or nil.
local function unix_ms(v)
  local sign, int, frac = v:match("^@([-+]?)(%d+)%.(%d+)$")
  if not sign then sign, int = v:match("^@([-+]?)(%d+)$") end
  if not sign then return nil end
  if #int > 15 then return MAX_MS + 1 end         -- far outside, exactly
  if sign == "-" then                              -- up: toward zero
    return -(tonumber(int) * 1000 + tonumber(((frac or "") .. "000"):sub(1, 3)))
  end
  return tonumber(int) * 1000 + fraction_ms(frac)
end

--- Check a time given as a string and return it in the audit trail's
-- form (`V.time_text`).  ISO 8601 in the extended format: a date
-- ("2024-03-01", midnight) or a date, "T" (or a space), hours and
-- minutes, optional seconds with an optional fraction ("." or ","), and
-- an optional zone ("Z", "+01:00", "-0430", "+01"; none: UTC).  Or a Unix
-- time: "@" and seconds since 1970, optionally signed and with a
-- fraction (the notation of git and date).  A fraction finer than a
-- millisecond rounds up, so that comparing the result with the trail's
-- times at or after it, or before it, compares with the exact time.
-- @tparam string fn
-- @tparam string arg
-- @tparam string v
-- @treturn string the time as "2024-03-01T12:00:00.250Z"
function V.time(fn, arg, v)
  local ms = unix_ms(v) or iso_ms(fn, arg, v)
  if not ms then
    V.fail(fn, arg, "%s is not a time (%s)", show(v), TIME_RULE)
  end
  if ms < MIN_MS or ms > MAX_MS then
    V.fail(fn, arg, "%s is not a time between the years 0000 and 9999 "
           .. "(UTC)", show(v))
  end
  return V.time_text(ms)
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
    if v:find("\0", 1, true) then     -- C would read it up to the NUL
      V.fail(fn, arg, "%s is not a value of scope right %s: it contains a "
             .. "NUL byte (allowed: %s)", show(v), show(right.key),
             V.allowed_values(right, levels))
    end
    text = core.parse_value(levels, "scope", customer_ok, v)
    if not text and not customer_ok
       and core.parse_value(levels, "scope", true, v) then
      V.fail(fn, arg, "%s is not a value of scope right %s: it has no "
             .. "customer part (allowed: %s; put_right with customer = true "
             .. "to allow +customer)", show(v), show(right.key),
             V.allowed_values(right, levels))
    end
  end
  if not text then
    V.fail(fn, arg, "%s is not a value of %s right %s (allowed: %s)",
           show(v), right.kind, show(right.key),
           V.allowed_values(right, levels))
  end
  return text
end
-- }}}

return V
