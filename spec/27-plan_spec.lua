-- Dry runs (issue 15, section 2): db:plan runs a change, tells what it
-- does to every user's effective rights and tenant access, and rolls it
-- back; plan:apply runs it for real while the store has not moved on.
local helpers = require "helpers"
local impact = require "mandate.impact"
local mandate = require "mandate"
local random_world = require "random_world"

local unpack = table.unpack or unpack

-- Lua 5.1 (PUC) cannot yield across pcall, so not inside db:transaction
local YIELDS = not (_VERSION == "Lua 5.1" and not rawget(_G, "jit"))

local store_rows, change_list = helpers.store_rows, helpers.change_list

describe("db:plan", function()
  it("lists what a bundle change does to each holder, and writes nothing", function()
    local db = helpers.world()
    local before = helpers.snapshot_rows(db)
    local plan = db:plan(function(d)
      assert(d:set_bundle_right("inside-sales", "admin.open", true))
      assert(d:set_bundle_right("inside-sales", "documents.see", "department"))
    end)
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.are.same({
      { "alice", "right", "admin.open", false, true },
      { "alice", "right", "documents.see", "branch", "department" },
      { "bob", "right", "documents.see", "branch", "department" },
    }, change_list(plan))
    assert.are.same({ "alice", "bob" }, plan.users)
    assert.are.equal(db:revision(), plan.revision)
    assert.are.same({ gain = 1, lose = 0, widen = 0, narrow = 0, change = 0 },
                    plan.rights["admin.open"])
    assert.are.same({ gain = 0, lose = 0, widen = 0, narrow = 2, change = 0 },
                    plan.rights["documents.see"])
    assert.are.same({}, plan.tenants)
    assert.are.equal("Plan at revision " .. plan.revision .. ": 2 users change.\n"
                     .. "1 user gains admin.open\n"
                     .. "2 users reach less far with documents.see", plan:text())
    assert.is_false(db:effective("alice")[3].effective)
  end)

  it("shows a deactivated user losing every right they hold, a new one gaining", function()
    local db = helpers.world()
    local plan = db:plan(function(d)
      assert(d:put_user("alice", { active = false }))
      assert(d:put_user("dora", { bundles = { "admin" } }))
      assert(d:set_access("bob", "team-a", "full"))
      assert(d:clear_access("alice", "team-a"))
    end)
    assert.are.same({
      { "alice", "access", "team-a", "full", "hidden" },
      { "alice", "right", "documents.edit", "department+customer", "none" },
      { "alice", "right", "documents.see", "branch", "none" },
      { "alice", "right", "reports.create", true, false },
      { "bob", "access", "team-a", "read", "full" },
      { "dora", "access", "common", "hidden", "read" },
      { "dora", "right", "admin.open", false, true },
    }, change_list(plan))
    assert.are.equal(1, plan.tenants["team-a"].lose)
    assert.are.equal(1, plan.tenants["team-a"].widen)
    assert.are.equal(1, plan.tenants.common.gain)
    assert.truthy(plan:text():find("1 user gets full access to tenant team-a", 1, true))
  end)

  it("gives the same store on apply as running the change directly", function()
    local change = function(d)
      assert(d:set_bundle_right("admin", "documents.see", "all"))
      assert(d:delete_user("carol"))
      assert(d:set_override("bob", "admin.open", false))
      return "done", 2
    end
    local direct, planned = helpers.world(), helpers.world()
    assert.are.same({ "done", 2 }, { direct:transaction(change) })
    local plan = planned:plan(change)
    assert.are.same({ "done", 2 }, { plan:apply() })
    assert.are.same(store_rows(direct), store_rows(planned))
  end)

  it("refuses to apply once the store moved on, and writes nothing", function()
    local db = helpers.world()
    local plan = db:plan(function(d) assert(d:set_override("bob", "admin.open", false)) end)
    assert(db:set_access("bob", "common", "full"))
    local rows = helpers.snapshot_rows(db)
    local rev = db:revision()
    local err = helpers.error_of(function() plan:apply() end)
    assert.are.equal(string.format("plan:apply: the store is at revision %d, the plan "
      .. "was made at revision %d: nothing was written (make a new plan)", rev,
      plan.revision), err)
    assert.are.same(rows, helpers.snapshot_rows(db))
  end)

  it("fails as db:transaction would when fn raises or returns a failure", function()
    local db = helpers.world()
    local rows = helpers.snapshot_rows(db)
    local boom = {}
    local ok, e = pcall(db.plan, db, function(d)
      assert(d:set_override("bob", "admin.open", false))
      error(boom)
    end)
    assert.is_false(ok)
    assert.are.equal(boom, e)
    assert.are.same({ nil, "no", "why" },
                    { db:plan(function(d) d:put_tenant("x"); return nil, "no", "why" end) })
    assert.are.same(rows, helpers.snapshot_rows(db))
  end)

  it("runs as a savepoint inside a transaction, seeing its writes", function()
    local db = helpers.world()
    local plan
    assert(db:transaction(function(d)
      assert(d:put_user("dora", { bundles = { "admin" } }))
      plan = d:plan(function(dd) assert(dd:put_user("dora", { bundles = {} })) end)
      assert.are.same({ "admin" }, d:get_user("dora").bundles)
    end))
    assert.are.same({ { "dora", "right", "admin.open", true, false } }, change_list(plan))
  end)

  it("leaves checks where they were: what fn created is unknown again, plans nest", function()
    local db = helpers.world()
    local inner
    local plan = db:plan(function(d)
      assert(d:put_user("dora", { bundles = { "admin" } }))
      assert.is_true(d:check("dora", "admin.open"))
      inner = d:plan(function(dd) assert(dd:put_user("dora", { active = false })) end)
      assert.is_true(d:check("dora", "admin.open"))
    end)
    assert.are.same({ { "dora", "right", "admin.open", true, false } }, change_list(inner))
    assert.are.same({ { "dora", "access", "common", "hidden", "read" },
                      { "dora", "right", "admin.open", false, true } }, change_list(plan))
    assert.are.same({ false, "unknown_user" }, { db:check("dora", "admin.open") })
    assert.is_true(db:check("bob", "admin.open"))
    assert(db:set_override("bob", "admin.open", false))
    assert.are.same({ false, "no_right" }, { db:check("bob", "admin.open") })
  end)

  local it_yields = YIELDS and it or pending
  it_yields("returns busy while another coroutine's change set is open", function()
    local db = helpers.world()
    local co = coroutine.create(function()
      db:transaction(function(d) d:put_tenant("zz"); coroutine.yield() end)
    end)
    assert(coroutine.resume(co))
    local ok, message, code = db:plan(function(d) d:put_tenant("yy") end)
    assert.is_nil(ok)
    assert.are.equal("busy", code)
    assert.truthy(message:find("^plan: another coroutine's change set is open"))
    assert(coroutine.resume(co))
    local plan = db:plan(function(d) d:put_tenant("yy", { default = "read" }) end)
    assert.are.equal(3, plan.tenants.yy.gain)
    assert.is_table(db:get_tenant("zz"))
    assert.is_nil(db:get_tenant("yy"))
  end)

  it("raises on bad arguments", function()
    local db = helpers.world()
    assert.are.equal("plan: fn: expected a function, got 42",
                     helpers.error_of(function() db:plan(42) end))
    assert.are.equal("plan: self: expected a mandate.Db, got nil (call it as db:plan(...))",
                     helpers.error_of(function() db.plan(nil, print) end))
    local plan = db:plan(function() end)
    assert.are.same({}, plan:changes())
    assert.are.equal("Plan at revision " .. plan.revision
                     .. ": no user's rights or access change.", plan:text())
    assert.are.equal("plan:apply: self: expected a plan (from db:plan), got a table "
                     .. "(call it as plan:apply())",
                     helpers.error_of(function() plan.apply({}) end))
    db:close()
    assert.are.equal("plan:apply: the store is closed",
                     helpers.error_of(function() plan:apply() end))
    assert.are.equal("plan: the store is closed",
                     helpers.error_of(function() db:plan(print) end))
  end)
end)

describe("mandate.impact", function()
  it("captures what db:effective and db:access give and diffs two captures", function()
    local db = helpers.world()
    local before = impact.capture(db, { "alice", "nobody" })
    assert.are.same({ "alice" }, (function()
      local t = {}
      for k in pairs(before) do t[#t + 1] = k end
      return t
    end)())
    assert.are.equal("department+customer", before.alice.right["documents.edit"])
    assert.are.equal("full", before.alice.access["team-a"])
    assert(db:put_user("alice", { active = false }))
    local changes = impact.diff(before, impact.capture(db, { "alice" }))
    assert.are.equal(3, #changes)
    assert.are.same({ user = "alice", what = "right", key = "documents.edit",
                      before = "department+customer", after = "none" }, changes[1])
  end)
end)

-- A random change of 1 to 4 steps to a random world, as a function for
-- db:plan, which also checks now and then (fn sees its own writes).
local function random_change(r, world, keys)
  local w, steps = random_world.copy(world), {}
  local probe = { r:pick(keys.users), r:pick(keys.rights) }
  for _ = 1, r:int(1, 4) do
    local step = random_world.random_step(r, w, keys)
    if step then
      steps[#steps + 1] = step
      random_world.apply_ref[step[1]](w, unpack(step, 2))
    end
  end
  return function(db)
    for _, step in ipairs(steps) do
      assert(db[step[1]](db, unpack(step, 2)))
      db:check(probe[1], probe[2])
    end
    return true
  end, steps
end

local function open_world(calls)
  local db = assert(mandate.open(":memory:"))
  assert(db:transaction(function()
    for _, c in ipairs(calls) do assert(db[c[1]](db, unpack(c, 2))) end
  end))
  return db
end

describe("db:plan on random worlds", function()
  local WORLDS = tonumber(os.getenv("MANDATE_PLAN_WORLDS") or "") or 150
  it(string.format("equals the difference of db:effective and db:access before and after "
                   .. "the change, and apply gives the store the change gives (%d worlds)",
                   WORLDS), function()
    for i = 1, WORLDS do
      local r = random_world.rng(20261207 + i)
      local calls, keys = random_world.generate(r)
      local world = random_world.build_world(calls)
      local fn, steps = random_change(r, world, keys)
      local direct, planned = open_world(calls), open_world(calls)
      if r:chance(0.5) then direct:check(keys.users[1], keys.rights[1]) end
      local rows = helpers.snapshot_rows(direct)
      local before = impact.capture(direct)
      local plan
      if r:chance(0.3) then       -- as a savepoint of an outer transaction
        assert(direct:transaction(function() plan = direct:plan(fn) end))
      else
        plan = direct:plan(fn)
      end
      assert.are.same(rows, helpers.snapshot_rows(direct))
      assert(direct:transaction(fn))
      local expected = impact.diff(before, impact.capture(direct))
      local context = string.format("world %d, steps %s", i, require("mandate.json").encode(steps))
      assert.are.same(expected, plan:changes(), context)
      local users, seen = {}, {}
      for _, c in ipairs(expected) do
        if not seen[c.user] then users[#users + 1], seen[c.user] = c.user, true end
      end
      assert.are.same(users, plan.users, context)
      local other = planned:plan(fn)
      assert.are.same(expected, other:changes(), context)
      other:apply()
      assert.are.same(store_rows(direct), store_rows(planned), context)
      direct:close()
      planned:close()
    end
  end)
end)
