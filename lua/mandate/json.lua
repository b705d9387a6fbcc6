--- A small JSON encoder and decoder for the audit trail.
--
-- The audit table keeps the state of an entity before and after a change
-- as JSON text.  This module writes that text (object keys sorted, so the
-- same table always gives the same text) and reads it back.  It is
-- deliberately small: it encodes booleans, numbers, strings and tables
-- (a table whose keys are exactly 1..n is an array, any other table an
-- object with string keys) and decodes all of JSON (RFC 8259); `null`
-- decodes to nil.
--
-- Strings are written as they are, with `"`, `\` and control characters
-- escaped; the writers only store valid UTF-8, so the text is valid JSON.
-- @module mandate.json

local json = {}

local byte, char, concat, format = string.byte, string.char, table.concat,
                                   string.format
local huge = math.huge

-- Encoding {{{

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function escape_char(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

local function encode_string(s)
  if not s:find('[%c"\\]') then return '"' .. s .. '"' end  -- keys, mostly
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

--- Encode a string as a JSON string, for callers that write the text of a
-- fixed shape themselves.
-- @tparam string s
-- @treturn string the JSON text, quotes included
json.string = encode_string

local function encode_number(x)
  if x ~= x or x == huge or x == -huge then
    error("json.encode: cannot encode " .. tostring(x), 0)
  end
  if x % 1 == 0 and x > -2^53 and x < 2^53 then
    return format("%d", x)
  end
  return format("%.17g", x)
end

-- Is t a sequence 1..n (n >= 1) and nothing else?  Returns n or nil.
local function array_length(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  if n == 0 then return nil end
  for i = 1, n do
    if t[i] == nil then return nil end
  end
  return n
end

local encode_value

local function encode_table(t, out, seen)
  if seen[t] then error("json.encode: cannot encode a cycle", 0) end
  seen[t] = true
  local n = array_length(t)
  if n then
    out[#out + 1] = "["
    for i = 1, n do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, seen)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then
        error("json.encode: object keys must be strings, got " .. type(k), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = encode_string(k)
      out[#out + 1] = ":"
      encode_value(t[k], out, seen)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

encode_value = function(v, out, seen)
  local tv = type(v)
  if tv == "string" then out[#out + 1] = encode_string(v)
  elseif tv == "number" then out[#out + 1] = encode_number(v)
  elseif tv == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif tv == "table" then encode_table(v, out, seen)
  elseif v == nil then out[#out + 1] = "null"
  else error("json.encode: cannot encode a " .. tv, 0)
  end
end

--- Encode a value as JSON text.
-- Object keys are sorted, so equal tables give equal text.  An empty
-- table encodes as `{}`.
-- @param v a boolean, number, string, nil or table of those
-- @treturn string the JSON text
-- @raise on functions, userdata, cycles, NaN or infinities, and tables
-- that are neither arrays nor objects with string keys
function json.encode(v)
  local out = {}
  encode_value(v, out, {})
  return concat(out)
end
-- }}}

-- Decoding {{{

local function decode_error(pos, what)
  error(format("json.decode: %s at position %d", what, pos), 0)
end

local function skip_space(s, pos)
  return s:find("[^ \t\r\n]", pos) or #s + 1
end

-- UTF-8 bytes of code point cp
local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then
    return char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return char(0xE0 + math.floor(cp / 0x1000),
                0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + math.floor(cp / 0x40000),
              0x80 + math.floor(cp / 0x1000) % 0x40,
              0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local simple_escapes = {
  ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t",
}

local function decode_string(s, pos)
  -- pos is just after the opening quote
  local parts, i = {}, pos
  while true do
    local j = s:find('["\\%c]', i)
    if not j then decode_error(pos - 1, "unterminated string") end
    parts[#parts + 1] = s:sub(i, j - 1)
    local c = s:sub(j, j)
    if c == '"' then return concat(parts), j + 1 end
    if c ~= "\\" then decode_error(j, "control character in string") end
    local e = s:sub(j + 1, j + 1)
    if simple_escapes[e] then
      parts[#parts + 1] = simple_escapes[e]
      i = j + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", j + 2)
      if not hex then decode_error(j, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      i = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local low = s:match("^\\u(%x%x%x%x)", i)
        local lo = low and tonumber(low, 16)
        if not lo or lo < 0xDC00 or lo > 0xDFFF then
          decode_error(j, "lone surrogate")
        end
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
        i = i + 6
      elseif cp >= 0xDC00 and cp <= 0xDFFF then
        decode_error(j, "lone surrogate")
      end
      parts[#parts + 1] = utf8_char(cp)
    else
      decode_error(j, "bad escape")
    end
  end
end

local decode_value

local function decode_array(s, pos)
  local t, n = {}, 0
  pos = skip_space(s, pos)
  if s:sub(pos, pos) == "]" then return t, pos + 1 end
  while true do
    local v
    v, pos = decode_value(s, pos)
    n = n + 1
    t[n] = v
    pos = skip_space(s, pos)
    local c = s:sub(pos, pos)
    if c == "]" then return t, pos + 1 end
    if c ~= "," then decode_error(pos, "expected ',' or ']'") end
    pos = pos + 1
  end
end

local function decode_object(s, pos)
  local t = {}
  pos = skip_space(s, pos)
  if s:sub(pos, pos) == "}" then return t, pos + 1 end
  while true do
    pos = skip_space(s, pos)
    if s:sub(pos, pos) ~= '"' then decode_error(pos, "expected a key") end
    local k, v
    k, pos = decode_string(s, pos + 1)
    pos = skip_space(s, pos)
    if s:sub(pos, pos) ~= ":" then decode_error(pos, "expected ':'") end
    v, pos = decode_value(s, pos + 1)
    t[k] = v
    pos = skip_space(s, pos)
    local c = s:sub(pos, pos)
    if c == "}" then return t, pos + 1 end
    if c ~= "," then decode_error(pos, "expected ',' or '}'") end
    pos = pos + 1
  end
end

local literals = { ["true"] = true, ["false"] = false }

decode_value = function(s, pos)
  pos = skip_space(s, pos)
  local c = s:sub(pos, pos)
  if c == "{" then return decode_object(s, pos + 1) end
  if c == "[" then return decode_array(s, pos + 1) end
  if c == '"' then return decode_string(s, pos + 1) end
  local word = s:match("^%a+", pos)
  if word == "null" then return nil, pos + 4 end
  if word and literals[word] ~= nil then return literals[word], pos + #word end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and num:find("^-?0%d") == nil and tonumber(num) then
    return tonumber(num), pos + #num
  end
  decode_error(pos, "unexpected " .. (c == "" and "end of text"
                                                  or format("%q", c)))
end

--- Decode JSON text.
-- Objects and arrays become tables; `null` becomes nil (a hole in an
-- array).
-- @tparam string s JSON text
-- @return the decoded value
-- @raise on malformed text, naming the position
function json.decode(s)
  if type(s) ~= "string" then
    error("json.decode: expected a string, got " .. type(s), 2)
  end
  local v, pos = decode_value(s, 1)
  pos = skip_space(s, pos)
  if pos <= #s then decode_error(pos, "trailing text") end
  return v
end
-- }}}

return json
