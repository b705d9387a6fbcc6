--- Dry runs and bundle suggestions on a benchmark world (bench/run.lua
-- calls it for every size, on a copy of the cached store).
--
-- `db:plan` of one bundle change that touches every user: a bundle
-- "all-staff" given to every user first (not timed), then the plan of
-- setting one flag in it that hardly anybody holds.  Its baseline does
-- the same job naively: `db:effective` and `db:access` of every user
-- before and after the same write, inside a rolled-back transaction, and
-- the difference (`mandate.impact`).  `db:suggest_bundles` beside the
-- least a naive suggester does: read `db:effective` of every user.  Then
-- the overrides before and after applying every suggestion whose plan
-- changes nobody.
-- @module plan_bench

local impact = require "mandate.impact"
local prim = require "primitives"

local clock = os.clock

local FLAG = "admin.rights"      -- a flag of the catalog only admins hold

local function ok(what, a, msg)
  if a == nil then error(what .. ": " .. tostring(msg), 2) end
  return a
end

local function count_overrides(db)
  return prim.row(db, "SELECT count(*) AS n FROM overrides").n
end

local ROLLBACK = {}

-- the naive plan: capture everybody, write, capture again, roll back
local function naive_plan(db, fn)
  local changes
  local before = impact.capture(db)
  local okay, e = pcall(db.transaction, db, function()
    fn(db)
    changes = impact.diff(before, impact.capture(db))
    error(ROLLBACK, 0)
  end)
  assert(not okay and e == ROLLBACK, e)
  return changes
end

--- Run the dry-run and suggestion figures on a copy of a world's store.
-- @tparam table mandate the module
-- @tparam string path the store (copied, never written)
-- @tparam table w the world (bench/world.lua)
-- @tparam number reps repetitions of the timed calls
-- @tparam boolean naive also time the naive baselines (slow at L)
-- @treturn table times (lists of seconds) and counts
return function(mandate, path, w, reps, naive)
  local copy = path:gsub("%.db$", "") .. "-plan.db"
  for _, s in ipairs({ "", "-wal", "-shm", "-journal" }) do os.remove(copy .. s) end
  assert(os.execute(string.format("cp '%s' '%s'", path, copy)))
  local db = assert(mandate.open(copy))
  local res = { plan = {}, suggest = {} }
  ok("transaction", db:transaction(function(d)
    ok("put_bundle", d:put_bundle("all-staff", { rights = {} }))
    for _, u in ipairs(ok("users", d:users())) do
      local b = u.bundles
      b[#b + 1] = "all-staff"
      ok("put_user", d:put_user(u.key, { bundles = b }))
    end
  end))
  local change = function(d) ok("set_bundle_right", d:set_bundle_right("all-staff", FLAG, true)) end
  db:check(w.order.users[1], FLAG)
  local plan
  for i = 1, reps do
    local t0 = clock()
    plan = ok("plan", db:plan(change))
    res.plan[i] = clock() - t0
  end
  res.plan_changes, res.plan_users = #plan:changes(), #plan.users
  if naive then
    local t0 = clock()
    local changes = naive_plan(db, change)
    res.plan_naive = clock() - t0
    assert(#changes == res.plan_changes, "the naive plan differs")
  end

  -- suggestions on the world as generated (without all-staff)
  db:close()
  for _, s in ipairs({ "", "-wal", "-shm", "-journal" }) do os.remove(copy .. s) end
  assert(os.execute(string.format("cp '%s' '%s'", path, copy)))
  db = assert(mandate.open(copy))
  db:check(w.order.users[1], FLAG)
  local list
  for i = 1, reps do
    local t0 = clock()
    list = ok("suggest_bundles", db:suggest_bundles())
    res.suggest[i] = clock() - t0
  end
  res.suggestions = #list
  if naive then
    local t0 = clock()
    for _, u in ipairs(w.order.users) do ok("effective", db:effective(u)) end
    res.suggest_naive = clock() - t0
  end
  res.overrides_before = count_overrides(db)
  local t0, applied = clock(), 0
  for _, s in ipairs(list) do
    local p = ok("plan", db:plan(s.change))
    if #p:changes() == 0 then
      p:apply()
      applied = applied + 1
    end
  end
  res.apply = clock() - t0
  res.applied = applied
  res.overrides_after = count_overrides(db)
  db:close()
  for _, s in ipairs({ "", "-wal", "-shm", "-journal" }) do os.remove(copy .. s) end
  return res
end
