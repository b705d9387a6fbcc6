--- Why a check is decided the way it is: explanations and the per-user
-- rights table.  The engine (the primitives explain and effective) supplies
-- the facts; this module only puts them into data a program can apply and
-- words an administrator can read.
-- @module mandate.explain

local I = require("mandate.core").internal   -- the primitives, captured at load
local read = require "mandate.read"
local V = require "mandate.validate"

local M = {}

local concat, format = table.concat, string.format

-- Texts quote keys whole (a key has at most 200 bytes) and cut anything
-- longer, which names nothing stored: a text never grows with its input.
local SHOWN = 200

local REASON_TEXT = {
  unknown_user = "there is no such user",
  inactive_user = "the user is not active",
  unknown_tenant = "the record's tenant does not exist",
  tenant_hidden = "the record's tenant is hidden to the user",
  tenant_read_only = "the user may only read the record's tenant, and the right changes data",
  no_right = "the user does not hold the right",
  out_of_scope = "the record lies outside the user's scope",
}

local MATCH_TEXT = {
  hold = "the right is held and the record names no owner, unit or customer",
  customer = "the user manages the record's customer",
  own = "the user owns the record",
  level = "the record's unit lies in the subtree of %s",
  all = "the value 'all' reaches every record",
  flag = "the flag is set",
}

local function show(v)
  if type(v) == "string" then return format("%q", V.cut(v, SHOWN)) end
  if type(v) == "table" then return "a table" end
  return tostring(v)
end

-- A record's four fields, the others left out; read raw, as a record's
-- __index may do anything (it ran once already, for the check).
local RECORD_FIELDS = { "customer", "owner", "tenant", "unit" }

local function record_text(record)
  local parts = {}
  for _, k in ipairs(RECORD_FIELDS) do
    local v = rawget(record, k)
    if v ~= nil then parts[#parts + 1] = k .. " = " .. show(v) end
  end
  return "{" .. concat(parts, ", ") .. "}"
end

--- The call that applies a fix, as text: `set_access("emma", "B", "full")`.
-- An argument of a fix's call as Lua code: the option tables a fix passes
-- are flat ({active = true}), their keys in order.
local function arg_text(v)
  if type(v) ~= "table" then return show(v) end
  local keys, parts = {}, {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = k .. " = " .. show(v[k]) end
  return "{" .. concat(parts, ", ") .. "}"
end

local function call_text(call)
  local args = {}
  for i = 2, #call do args[#args + 1] = arg_text(call[i]) end
  return call[1] .. "(" .. concat(args, ", ") .. ")"
end

-- Why no single change helps, from the failing steps.
local function impossible_text(e)
  if e.reason == "unknown_user" then
    return "no change to rights can allow this: the user does not exist"
  elseif e.failing.unknown then
    return "no change to rights can allow this: the record's tenant does not exist"
  end
  local steps = {}
  if e.failing.user then steps[#steps + 1] = "activate the user" end
  if e.failing.tenant then steps[#steps + 1] = "grant tenant access" end
  if e.failing.right then steps[#steps + 1] = "extend the right" end
  return "no single change can allow this; it needs all of: " .. concat(steps, ", ")
end

local function make_fix(e, user, right, record)
  local kind = e.fix_kind
  local call
  if kind == "none" then return nil
  elseif kind == "activate" then call = { "put_user", user, { active = true } }
  elseif kind == "access" then call = { "set_access", user, record.tenant, e.fix_access }
  elseif kind == "override" then call = { "set_override", user, right, e.fix_value }
  else return { kind = kind, text = impossible_text(e) } end
  return { kind = kind, call = call, text = call_text(call) }
end

local function sources_text(e)
  if e.source == "override" then
    return format("set for the user by override to %s", show(e.override))
  end
  local parts = {}
  for b, v in pairs(e.bundles or {}) do parts[#parts + 1] = format("%s = %s", b, show(v)) end
  table.sort(parts)
  if #parts == 0 then return "no bundle gives it" end
  return "joined from the bundles " .. concat(parts, ", ")
end

local function paragraph(e, user, right, record)
  local s = {}
  s[#s + 1] = format("%s %s use %s%s.", V.cut(tostring(user), SHOWN),
                     e.allowed and "may" or "may not",
                     V.cut(tostring(right), SHOWN),
                     record and (" on " .. record_text(record)) or "")
  if not e.allowed then s[#s + 1] = format("Denied (%s): %s.", e.reason, REASON_TEXT[e.reason]) end
  if e.reason ~= "unknown_user" then
    s[#s + 1] = format("The %s right's effective value is %s, %s.", e.kind, show(e.value),
                       sources_text(e))
    if e.access then
      s[#s + 1] = format("Access to tenant %s is %s (%s); the right's mode is %s.",
                         show(record.tenant), e.access,
                         e.access_explicit and "set for the user" or "the tenant's default",
                         e.mode)
    end
    if e.matched ~= "none" then
      s[#s + 1] = (e.allowed and "Allowed because " or "The scope alone would match: ")
                  .. format(MATCH_TEXT[e.matched], show(e.anchor)) .. "."
    elseif e.anchor then
      s[#s + 1] = format("The value reaches the subtree of unit %s.", show(e.anchor))
    end
  end
  if e.fix then
    s[#s + 1] = e.fix.call and ("Smallest change that allows it: " .. e.fix.text .. ".")
                or (e.fix.text:gsub("^%l", string.upper) .. ".")
  end
  return concat(s, " ")
end

-- A store failure while a method runs (a snapshot that cannot be loaded)
-- answers nil, message, code, as every method does; other errors raise on.
local function answer(ok, ...)
  if ok then return ... end
  local e = ...
  if V.is_store_error(e) then return nil, e.message, e.code end
  error(e, 0)
end

local function explain(db, user, right, record)
  local e = I.explain(db, user, right, record)
  e.user, e.right, e.record = user, right, record
  e.fix = make_fix(e, user, right, record)
  e.fix_kind, e.fix_access, e.fix_value = nil, nil, nil
  e.text = paragraph(e, user, right, record)
  return e
end

--- Explain a check.
-- @tparam string user
-- @tparam string right raises for an unknown right, like `check`
-- @tparam[opt] table record `{tenant =, owner =, unit =, customer =}`
-- @treturn table `allowed`, `reason` (when denied), `value`, `source`
-- ("override", "bundles", "none"), `bundles` ({bundle = value}), `override`,
-- `access` and `access_explicit` (when the record has a tenant), `anchor`
-- (the unit a level value reaches), `matched`, `failing`, `fix` (nil when
-- allowed; else `{kind =, call = {method, args...}, text =}`, with no `call`
-- when no single change can allow it) and `text`, one readable paragraph.
-- @treturn[2] nil when the store fails (its snapshot cannot be loaded)
-- @treturn[2] string message
-- @treturn[2] string code ("invalid", "busy", ...)
function M.explain(db, user, right, record)
  return answer(pcall(explain, db, user, right, record))
end

local function effective(db, user)
  local rows = I.effective(db, user)
  if not rows then return nil, format("effective: unknown user %s", show(user)), "notfound" end
  local catalog = {}
  local rights = read.in_read_tx(db, I.rows, "SELECT key, area, label FROM rights")
  for _, r in ipairs(rights) do catalog[r.key] = r end
  for _, row in ipairs(rows) do
    local r = catalog[row.right]
    if r then row.area, row.label = r.area, r.label end
  end
  return rows
end

--- The per-user rights table: "right | by bundle | by user | effective".
-- @tparam string user
-- @treturn table one row per right in catalog order: `right`, `kind`,
-- `area`, `label`, `bundles` ({bundle = value}), `override` (or nil),
-- `effective`, `source` ("override", "bundles", "none")
-- @treturn[2] nil for an unknown user, or a failure of the store
-- @treturn[2] string message
-- @treturn[2] string code "notfound", or the store's ("invalid", "busy")
function M.effective(db, user)
  return answer(pcall(effective, db, user))
end

return M
