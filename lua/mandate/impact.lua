--- What a change does to users: their effective rights and tenant access
-- before and after it, and the difference, row by row.
--
-- The words of a plan (`db:plan`, lua/mandate/plan.lua) and of anything
-- that reports what a change gave or took (a user's move): a capture is
-- what `db:effective` and `db:access` answer for some users, a change is
-- one user's value of one right or access to one tenant that differs.
--
--     local impact = require "mandate.impact"
--     local before = impact.capture(db, { "alice" })
--     db:set_override("alice", "documents.edit", "branch")
--     for _, c in ipairs(impact.diff(before, impact.capture(db, { "alice" }))) do
--       print(c.user, c.what, c.key, c.before, c.after)
--     end
--
-- A user, right or tenant that does not exist on one side holds nothing
-- there: `false` for a flag, `"none"` for a scope, `"hidden"` for a
-- tenant (a check of an unknown user is denied; an unknown tenant is
-- hidden).  So creating a user shows what they gain, deleting one what
-- they lose, as deactivating one does (an inactive user holds nothing,
-- docs/semantics.md section 3.2; `db:access` still shows their rows).
-- @module mandate.impact

local impact = {}

local function keys(list)
  local t = {}
  for i, entity in ipairs(list) do t[i] = entity.key end
  return t
end

-- A store failure while capturing raises the store's error as it came.
local function must(v, message, code)
  if v == nil and code ~= "notfound" then error(message, 0) end
  return v
end

--- The effective value of every right and the access to every tenant of
-- the given users, as `db:effective` and `db:access` give them, read from
-- where the handle stands (inside a change set: with its writes).
-- @tparam userdata db a mandate.Db
-- @tparam[opt] {string,...} users user keys; nil for every user.  Keys
-- that name no user are left out of the capture.
-- @treturn table `{[user] = {right = {[right] = value}, access =
-- {[tenant] = "full"|"read"|"hidden"}}}`
function impact.capture(db, users)
  users = users or keys(must(db:users()))
  local tenants = keys(must(db:tenants()))
  local capture = {}
  for _, user in ipairs(users) do
    local rows = must(db:effective(user))
    if rows then
      local rights, access = {}, {}
      for _, row in ipairs(rows) do rights[row.right] = row.effective end
      for _, t in ipairs(tenants) do access[t] = must(db:access(user, t)) end
      capture[user] = { right = rights, access = access }
    end
  end
  return capture
end

-- What a key that is missing holds, beside a value v of the other side.
local function nothing(what, v)
  if what == "access" then return "hidden" end
  if type(v) == "boolean" then return false end
  return "none"
end

local NO = {}

-- Append to out the changes of one user's values of one kind (what).
local function compare(out, user, what, before, after)
  before, after = before or NO, after or NO
  for key, b in pairs(before) do
    local a = after[key]
    if a == nil then a = nothing(what, b) end
    if a ~= b then
      out[#out + 1] = { user = user, what = what, key = key, before = b, after = a }
    end
  end
  for key, a in pairs(after) do
    if before[key] == nil then
      local b = nothing(what, a)
      if a ~= b then
        out[#out + 1] = { user = user, what = what, key = key, before = b, after = a }
      end
    end
  end
end

--- The keys of a table, sorted (for reports that list by key).
-- @tparam table t
-- @treturn {string,...}
function impact.sorted_keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

--- Order of changes: by user, then what ("access" before "right"),
-- then key, keys compared with Lua's `<` (byte order, as plans sort,
-- unless the host set another LC_COLLATE).
-- @tparam table x a change
-- @tparam table y a change
-- @treturn boolean x comes first
function impact.before(x, y)
  if x.user ~= y.user then return x.user < y.user end
  if x.what ~= y.what then return x.what < y.what end
  return x.key < y.key
end

--- The changes from one capture to another.
-- @tparam table before a capture (`impact.capture`)
-- @tparam table after a capture of the same or other users
-- @treturn {table,...} `{user =, what = "right"|"access", key = right or
-- tenant key, before =, after =}`, one per user and right whose effective
-- value differs and per user and tenant whose access differs, sorted by
-- user, what and key (`impact.before`)
function impact.diff(before, after)
  local out = {}
  for user, b in pairs(before) do
    local a = after[user] or NO
    compare(out, user, "right", b.right, a.right)
    compare(out, user, "access", b.access, a.access)
  end
  for user, a in pairs(after) do
    if not before[user] then
      compare(out, user, "right", nil, a.right)
      compare(out, user, "access", nil, a.access)
    end
  end
  table.sort(out, impact.before)
  return out
end

return impact
