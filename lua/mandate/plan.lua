--- Dry runs: what a change would do, before it commits.
--
-- `db:plan(fn)` runs fn(db) in a change set of its own (a savepoint
-- inside a transaction), takes its impact on every user (effective
-- rights and tenant access, as `db:effective` and `db:access` give them:
-- the store keeps the snapshot from before fn and compares it with the
-- one after, src/core/diff.c), rolls it back and returns a plan: the changes,
-- counts per right and tenant, a summary, and `plan:apply()`, which runs
-- the same change for real while the store is still at the plan's
-- revision.
-- @module mandate.plan

local I = require("mandate.core").internal   -- the primitives, captured at load
local impact = require "mandate.impact"
local read = require "mandate.read"
local V = require "mandate.validate"

local P = {}          -- the public methods, installed into mandate.Db

local show = V.show
local format, concat = string.format, table.concat

local pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end
local unpack = table.unpack or unpack

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Comparing two values of one right or access {{{

--[[
How a value changed, for the counts: "gain" (not held before, held
after), "lose", "widen" (held on both sides, reaching at least as far in
every part after), "narrow", else "change" (a scope that rose in rank but
lost its customer part).  Held is docs/semantics.md section 3.1's: a
flag true, a scope value not none, an access not hidden.
]]
local ACCESS_RANK = { hidden = 0, read = 1, full = 2 }

-- A scope value's rank and customer part, against levels (top to
-- bottom): none 0, own 1, the levels bottom up, all.
local function scope_parts(v, levels)
  local name, plus = v:match("^([^+]*)(.*)$")
  local customer = plus == "+customer" or name == "customer"
  if name == "customer" or name == "none" then return 0, customer end
  if name == "own" then return 1, customer end
  if name == "all" then return #levels + 2, customer end
  for d, level in ipairs(levels) do
    if level == name then return #levels - d + 2, customer end
  end
  return nil, customer
end

local function how(what, b, a, levels)
  local rb, cb, ra, ca
  if what == "access" then
    rb, ra, cb, ca = ACCESS_RANK[b], ACCESS_RANK[a], false, false
  elseif type(b) == "boolean" or type(a) == "boolean" then
    rb, ra, cb, ca = b == true and 1 or 0, a == true and 1 or 0, false, false
  else
    rb, cb = scope_parts(b, levels)
    ra, ca = scope_parts(a, levels)
    if not (rb and ra) then return "change" end
  end
  local held_b, held_a = rb > 0 or cb, ra > 0 or ca
  if not held_b then return "gain" end
  if not held_a then return "lose" end
  if ra >= rb and (ca or not cb) then return "widen" end
  if ra <= rb and (cb or not ca) then return "narrow" end
  return "change"
end
-- }}}

-- Plans {{{

local Plan = {}
Plan.__index = Plan

-- What a plan keeps to itself: the store and fn, for apply.
local private = setmetatable({}, { __mode = "k" })

local function counts(changes, levels)
  local users, seen, rights, tenants = {}, {}, {}, {}
  for _, c in ipairs(changes) do
    if not seen[c.user] then
      seen[c.user] = true
      users[#users + 1] = c.user
    end
    local by = c.what == "right" and rights or tenants
    local n = by[c.key]
    if not n then
      n = { gain = 0, lose = 0, widen = 0, narrow = 0, change = 0 }
      by[c.key] = n
    end
    local k = how(c.what, c.before, c.after, levels)
    n[k] = n[k] + 1
  end
  return users, rights, tenants
end

local function users_text(n)
  return format("%d user%s", n, n == 1 and "" or "s")
end

-- The lines of one right's or tenant's counts: the way, the verb for
-- several users and for one.
local RIGHT_LINES = {
  { "gain", "gain", "gains" }, { "lose", "lose", "loses" },
  { "widen", "reach further with", "reaches further with" },
  { "narrow", "reach less far with", "reaches less far with" },
  { "change", "get another value of", "gets another value of" },
}
local ACCESS_LINES = {
  { "gain", "gain access to tenant", "gains access to tenant" },
  { "lose", "lose access to tenant", "loses access to tenant" },
  { "widen", "get full access to tenant", "gets full access to tenant" },
  { "narrow", "keep only read access to tenant", "keeps only read access to tenant" },
}

local function count_lines(out, by, lines)
  for _, key in ipairs(impact.sorted_keys(by)) do
    for _, line in ipairs(lines) do
      local n = by[key][line[1]]
      if n > 0 then
        out[#out + 1] = format("%s %s %s", users_text(n), n == 1 and line[3] or line[2], key)
      end
    end
  end
end

--- The plan's changes: `{user =, what = "right"|"access", key =, before =,
-- after =}` per user and right whose effective value changes and per user
-- and tenant whose access changes, sorted by user, what and key.
-- @treturn {table,...} the plan's own sequence (do not change it)
function Plan:changes()
  return private[self].changes
end

--- A summary an administrator reads: one line per right and tenant and
-- way it changes ("12 users gain documents.edit").
-- @treturn string
function Plan:text()
  local out = {}
  local n = #self.users
  if n == 0 then
    out[1] = format("Plan at revision %d: no user's rights or access change.",
                    self.revision)
  else
    out[1] = format("Plan at revision %d: %s change%s.", self.revision,
                    users_text(n), n == 1 and "s" or "")
  end
  count_lines(out, self.rights, RIGHT_LINES)
  count_lines(out, self.tenants, ACCESS_LINES)
  return concat(out, "\n")
end

local STALE = {}      -- raised inside apply's transaction: wrong revision

--- Run the plan's change for real, as `db:transaction(fn)` would, if the
-- store is still at the plan's revision; otherwise raise an error naming
-- both revisions, having written nothing.  Inside an open
-- `db:transaction` the revision moves only when it commits: there apply
-- tells only that nobody else committed since the plan.
-- @return fn's results, as `db:transaction` returns them
-- @treturn[2] nil when the transaction cannot begin or commit
-- @treturn[2] string message
-- @treturn[2] string code
-- @raise when the store moved on since the plan, or whatever fn raises
function Plan:apply()
  local p = private[self]
  if not p then
    error("plan:apply: self: expected a plan (from db:plan), got " .. show(self)
          .. " (call it as plan:apply())", 2)
  end
  local problem = V.db_problem(p.db, "plan:apply")
  if problem then error(problem, 2) end
  local now
  local r = pack(pcall(p.db.transaction, p.db, function(db)
    now = read.revision(db)
    if now ~= self.revision then error(STALE, 0) end
    return p.fn(db)
  end))
  if r[1] then return unpack(r, 2, r.n) end
  if r[2] == STALE then
    error(format("plan:apply: the store is at revision %d, the plan was made "
                 .. "at revision %d: nothing was written (make a new plan)",
                 now, self.revision), 2)
  end
  error(r[2], 0)
end
-- }}}

-- db:plan {{{

local ROLLBACK = {}   -- raised to end the dry run's change set

--- Run fn(db) as a dry run: its writes, in a change set of their own (a
-- savepoint inside `db:transaction`), are seen by fn as usual, then
-- rolled back; the plan tells what they did to every user.
-- A plan that deactivates or deletes a user shows them losing every
-- right they hold (docs/semantics.md section 3.2); one that creates a
-- user, what they gain.
-- @function plan
-- @tparam function fn called as fn(db), as by `db:transaction`
-- @treturn table the plan: `revision` (the store's, when it was made),
-- `users` (the keys of the users whose rights or access change, sorted),
-- `rights` and `tenants` (`{[key] = {gain =, lose =, widen =, narrow =,
-- change =}}`: how many users gain, lose, reach further, less far, or
-- otherwise change it), `plan:changes()`, `plan:text()`, `plan:apply()`
-- @return[2] fn's results when its first one is nil or false (a
-- failure), nothing written
-- @treturn[3] nil when the change set cannot begin ("busy", ...)
-- @treturn[3] string message
-- @treturn[3] string code
-- @raise whatever fn raises, after the rollback, as `db:transaction`
function P.plan(db, fn)
  local problem = V.db_problem(db, "plan")
  if problem then error(problem, 2) end
  if not callable(fn) then
    error("plan: fn: expected a function, got " .. show(fn), 2)
  end
  local revision, levels, changes, failed, kept
  local outermost = not I.in_transaction(db)
  local r = pack(pcall(db.transaction, db, function()
    revision = read.revision(db)
    kept = I.keep(db)
    local inner = pack(pcall(db.transaction, db, fn))
    if not inner[1] then error(inner[2], 0) end
    if not inner[2] then
      failed = inner
    else
      levels = read.levels(db)
      changes = I.impact(db, kept)
    end
    error(ROLLBACK, 0)
  end))
  -- rolled back to where it began: the kept snapshot is current again
  if kept and db:is_open() then I.unkeep(db, kept, outermost) end
  if r[1] then                                     -- could not begin
    return nil, (tostring(r[3]):gsub("^transaction: ", "plan: ")), r[4]
  end
  if r[2] ~= ROLLBACK then error(r[2], 0) end
  if failed then return unpack(failed, 2, failed.n) end
  local plan = setmetatable({ revision = revision }, Plan)
  plan.users, plan.rights, plan.tenants = counts(changes, levels)
  private[plan] = { db = db, fn = fn, changes = changes }
  return plan
end
-- }}}

return { methods = P, Plan = Plan }
