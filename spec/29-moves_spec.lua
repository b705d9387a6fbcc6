-- Access templates of units and the moves that apply them (issue 17,
-- section 1): set_unit_access, clear_unit_access, unit_access, move_user
-- and move_unit.  On random trees and templates, a move's report equals
-- the difference of db:access and db:effective taken before and after,
-- the rows it leaves are the template's as its mode says, and a refused
-- move writes nothing.

local helpers = require "helpers"
local impact = require "mandate.impact"
local mandate = require "mandate"
local prim = require "primitives"

local WORLDS = tonumber(os.getenv("MANDATE_MOVES_WORLDS") or "") or 60
local SEED = tonumber(os.getenv("MANDATE_MOVES_SEED") or "") or 20261207

-- The plain definition of a report: what db:effective and db:access say
-- for each user, before and after, compared.
local function held(db, users)
  local t = {}
  for _, user in ipairs(users) do
    local rights, access = {}, {}
    for _, r in ipairs(assert(db:effective(user))) do rights[r.right] = r.effective end
    for _, tenant in ipairs(db:tenants()) do
      access[tenant.key] = db:access(user, tenant.key)
    end
    t[user] = { right = rights, access = access }
  end
  return t
end

local function difference(before, after, users)
  local changes = {}
  for _, user in ipairs(users) do
    for _, what in ipairs({ "access", "right" }) do
      local old, new = before[user][what], after[user][what]
      for k, v in pairs(new) do
        if old[k] ~= v then
          changes[#changes + 1] = { user = user, what = what, key = k,
                                    before = old[k], after = v }
        end
      end
    end
  end
  table.sort(changes, impact.before)     -- the documented order
  return changes
end

-- The effective template of a unit from the plain tree: walk up to the
-- root, the nearest entry per tenant wins.
local function template_of(tree, unit)
  local access = {}
  while unit do
    for tenant, a in pairs(tree.own[unit]) do
      if access[tenant] == nil then access[tenant] = a end
    end
    unit = tree.parent[unit]
  end
  return access
end

--[[
A random world: levels l1..l4, 5 to 12 units (a parent on a higher level,
or a root), 3 to 5 tenants with random defaults, a right in a bundle, 4 to
9 users in random units (some without) with random access rows, and
random template entries.  Returns db and the plain tree {parent =, level =,
own = {unit = {tenant = access}}, units =, tenants =, users =}.
]]
local LEVELS = { "l1", "l2", "l3", "l4" }
local ACCESS = { "full", "read", "hidden" }

local function world()
  local db = helpers.open()
  local tree = { parent = {}, level = {}, own = {}, units = {}, tenants = {},
                 users = {} }
  assert(db:set_levels(LEVELS))
  for i = 1, math.random(5, 12) do
    local key, parent = "u" .. i, nil
    local depth = math.random(1, #LEVELS)
    local candidates = {}
    for _, u in ipairs(tree.units) do
      if tree.level[u] < depth then candidates[#candidates + 1] = u end
    end
    if #candidates > 0 and math.random() < 0.8 then
      parent = candidates[math.random(#candidates)]
    end
    assert(db:put_unit(key, { level = LEVELS[depth], parent = parent }))
    tree.units[i], tree.parent[key], tree.level[key], tree.own[key] =
      key, parent, depth, {}
  end
  for i = 1, math.random(3, 5) do
    tree.tenants[i] = "t" .. i
    assert(db:put_tenant("t" .. i, { default = ACCESS[math.random(3)] }))
  end
  assert(db:put_right("r", { kind = "scope" }))
  assert(db:put_bundle("b", { rights = { r = "l2" } }))
  for i = 1, math.random(4, 9) do
    local key = "p" .. i
    tree.users[i] = key
    local unit = math.random() < 0.85 and tree.units[math.random(#tree.units)]
    assert(db:put_user(key, { unit = unit or false, bundles = { "b" },
                              active = math.random() < 0.9 }))
    for _, t in ipairs(tree.tenants) do
      if math.random() < 0.4 then
        assert(db:set_access(key, t, ACCESS[math.random(3)]))
      end
    end
  end
  for _, u in ipairs(tree.units) do
    for _, t in ipairs(tree.tenants) do
      if math.random() < 0.3 then
        local a = ACCESS[math.random(3)]
        assert(db:set_unit_access(u, t, a))
        tree.own[u][t] = a
      end
    end
  end
  return db, tree
end

-- The rows a move leaves for one user, given their rows before.
local function expected_rows(mode, before, template)
  if mode == "keep" then return before end
  local rows = {}
  if mode == "merge" then
    for t, a in pairs(before) do rows[t] = a end
  end
  for t, a in pairs(template) do rows[t] = a end
  return rows
end

local function below(tree, unit, ancestor)
  while unit do
    if unit == ancestor then return true end
    unit = tree.parent[unit]
  end
  return false
end

describe("a unit's access template", function()
  it("is set, cleared and read back, nearest entry winning", function()
    local db = helpers.world()
    assert.is_true(db:set_unit_access("de", "team-a", "read"))
    assert.is_true(db:set_unit_access("de", "common", "hidden"))
    assert.is_true(db:set_unit_access("hh-sales", "team-a", "full"))
    assert.are.same({ unit = "hh-sales-a", own = {},
                      effective = { ["team-a"] = "full", common = "hidden" },
                      source = { ["team-a"] = "hh-sales", common = "de" } },
                    db:unit_access("hh-sales-a"))
    assert.are.same({ unit = "de", own = { ["team-a"] = "read", common = "hidden" },
                      effective = { ["team-a"] = "read", common = "hidden" },
                      source = { ["team-a"] = "de", common = "de" } },
                    db:unit_access("de"))
    assert.is_true(db:clear_unit_access("hh-sales", "team-a"))
    assert.are.equal("read", db:unit_access("hh-sales-a").effective["team-a"])
    assert.is_nil(db:unit_access("nowhere"))
    assert.are.same({ unit = "lab", own = {}, effective = {}, source = {} },
                    db:unit_access("lab"))
  end)

  it("is audited under the unit, one revision per writer, none for no change",
     function()
    local db = helpers.world()
    local r = db:revision()
    assert.is_true(db:set_unit_access("hh", "team-a", "read"))
    assert.is_true(db:set_unit_access("hh", "team-a", "full"))
    assert.is_true(db:set_unit_access("hh", "team-a", "full"))
    assert.is_true(db:clear_unit_access("hh", "team-a"))
    assert.is_true(db:clear_unit_access("hh", "team-a"))
    assert.are.equal(r + 3, db:revision())
    local rows = db:audit { since = r }
    assert.are.equal(3, #rows)
    assert.are.same({ "set_unit_access", "unit:hh", nil,
                      { tenant = "team-a", access = "read" } },
                    { rows[1].op, rows[1].subject, rows[1].before, rows[1].after })
    assert.are.same({ { tenant = "team-a", access = "read" },
                      { tenant = "team-a", access = "full" } },
                    { rows[2].before, rows[2].after })
    assert.are.same({ "clear_unit_access", { tenant = "team-a", access = "full" } },
                    { rows[3].op, rows[3].before })
    assert.is_nil(rows[3].after)
  end)

  it("refuses bad arguments, writing nothing", function()
    local db = helpers.world()
    helpers.rejects(db, "set_unit_access: unit: 'zz' is not a unit (db:units() "
                    .. "lists them)", function()
      db:set_unit_access("zz", "team-a", "full")
    end)
    helpers.rejects(db, "set_unit_access: tenant: 'zz' is not a tenant "
                    .. "(db:tenants() lists them)", function()
      db:set_unit_access("hh", "zz", "full")
    end)
    helpers.rejects(db, "set_unit_access: access: 'all' is not an access "
                    .. "(allowed: full, read, hidden)", function()
      db:set_unit_access("hh", "team-a", "all")
    end)
    helpers.rejects(db, "clear_unit_access: tenant: 'zz' is not a tenant "
                    .. "(db:tenants() lists them)", function()
      db:clear_unit_access("hh", "zz")
    end)
    helpers.rejects(db, "unit_access: unit: expected a string key, got 42",
                    function() db:unit_access(42) end)
  end)

  it("goes with its unit when the unit is deleted, audited", function()
    local db = helpers.world()
    assert(db:set_unit_access("lab", "team-a", "full"))
    assert(db:set_unit_access("hh-sales-a", "common", "hidden"))
    assert(db:set_unit_access("hh", "common", "read"))
    local r = db:revision()
    assert.is_true(db:delete_unit("lab"))
    assert.is_true(db:delete_unit("hh-sales", { cascade = true }))
    local rows = db:audit { since = r, op = "delete_unit" }
    local entries = {}
    for _, row in ipairs(rows) do
      if row.before and row.before.tenant then
        entries[#entries + 1] = { row.subject, row.before.tenant, row.before.access }
      end
    end
    assert.are.same({ { "unit:lab", "team-a", "full" },
                      { "unit:hh-sales-a", "common", "hidden" } }, entries)
    assert.are.same({ { unit_id = prim.row(db, "SELECT id FROM units WHERE key = 'hh'").id,
                        tenant_id = prim.row(db, "SELECT id FROM tenants"
                                             .. " WHERE key = 'common'").id,
                        access = "read" } },
                    prim.rows(db, "SELECT * FROM unit_access"))
  end)

  it("keeps its tenant from being deleted unless cascading", function()
    local db = helpers.world()
    assert(db:put_tenant("t3"))
    assert(db:set_unit_access("hh", "t3", "full"))
    assert(db:set_unit_access("de", "t3", "read"))
    helpers.rejects(db, "delete_tenant: key: tenant 't3' still owns 2 unit "
                    .. "templates ('de', 'hh') (delete or move them first, or pass "
                    .. "{cascade = true} to delete them)", function()
      db:delete_tenant("t3")
    end)
    local r = db:revision()
    assert.is_true(db:delete_tenant("t3", { cascade = true }))
    assert.are.same({}, prim.rows(db, "SELECT * FROM unit_access"))
    local rows = db:audit { since = r }
    assert.are.same({ "unit:de", "unit:hh", "tenant:t3" },
                    { rows[1].subject, rows[2].subject, rows[3].subject })
    assert.are.same({ tenant = "t3", access = "full" }, rows[2].before)
    assert.are.equal(r + 1, db:revision())
  end)
end)

describe("move_user", function()
  it("sets the rows from the template, merges or keeps them", function()
    local db = helpers.world()
    assert(db:put_tenant("t3", { default = "read" }))
    assert(db:set_unit_access("m", "team-a", "read"))
    assert(db:set_unit_access("m", "t3", "full"))
    -- alice: team-a full (explicit), common read (default)
    assert(db:set_access("alice", "common", "full"))
    local r = db:revision()
    assert.are.same({
      { user = "alice", what = "access", key = "common", before = "full", after = "read" },
      { user = "alice", what = "access", key = "t3", before = "read", after = "full" },
      { user = "alice", what = "access", key = "team-a", before = "full", after = "read" },
    }, db:move_user("alice", "m"))
    assert.are.same({ ["team-a"] = "read", t3 = "full" }, db:access_of("alice"))
    assert.are.equal("m", db:get_user("alice").unit)
    assert.are.equal(r + 1, db:revision())

    assert(db:set_access("bob", "common", "hidden"))
    assert.are.same({
      { user = "bob", what = "access", key = "t3", before = "read", after = "full" },
    }, db:move_user("bob", "m", { access = "merge" }))
    assert.are.same({ ["team-a"] = "read", t3 = "full", common = "hidden" },
                    db:access_of("bob"))

    assert.are.same({}, db:move_user("bob", "lab", { access = "keep" }))
    assert.are.same({ ["team-a"] = "read", t3 = "full", common = "hidden" },
                    db:access_of("bob"))
    assert.are.equal("lab", db:get_user("bob").unit)
  end)

  it("refuses bad arguments, writing nothing", function()
    local db = helpers.world()
    assert(db:set_unit_access("m", "team-a", "read"))
    helpers.rejects(db, "move_user: user: 'zz' is not a user (db:users() lists "
                    .. "them)", function() db:move_user("zz", "m") end)
    helpers.rejects(db, "move_user: unit: 'zz' is not a unit (db:units() lists "
                    .. "them)", function() db:move_user("alice", "zz") end)
    helpers.rejects(db, "move_user: options.access: 'all' is not a way to set "
                    .. "access (allowed: template, merge, keep)", function()
      db:move_user("alice", "m", { access = "all" })
    end)
    helpers.rejects(db, "move_user: options.mode: unknown option (allowed: "
                    .. "access)", function()
      db:move_user("alice", "m", { mode = "keep" })
    end)
  end)

  it("is part of an enclosing transaction and rolls back with it", function()
    local db = helpers.world()
    assert(db:set_unit_access("m", "team-a", "read"))
    local before = helpers.snapshot_rows(db)
    local ok = pcall(db.transaction, db, function()
      assert.are.equal(1, #db:move_user("alice", "m"))
      assert.are.equal("read", db:access("alice", "team-a"))
      error("undo")
    end)
    assert.is_false(ok)
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.are.equal("full", db:access("alice", "team-a"))
  end)

  it("reports what db:access and db:effective say changed, on random worlds",
     function()
    for w = 1, WORLDS do
      math.randomseed(SEED + w)
      local db, tree = world()
      for _ = 1, 4 do
        local user = tree.users[math.random(#tree.users)]
        local unit = tree.units[math.random(#tree.units)]
        local mode = ({ "template", "merge", "keep" })[math.random(3)]
        local rows = db:access_of(user)
        local before = held(db, { user })
        local r = db:revision()
        local report = db:move_user(user, unit, { access = mode })
        local where = ("world %d: move_user(%q, %q, %s)"):format(w, user, unit, mode)
        assert.are.same(difference(before, held(db, { user }), { user }), report, where)
        assert.are.same(expected_rows(mode, rows, template_of(tree, unit)),
                        db:access_of(user), where)
        assert.are.equal(unit, db:get_user(user).unit, where)
        assert.is_true(db:revision() <= r + 1, where)
      end
    end
  end)
end)

describe("move_unit", function()
  it("moves a subtree and re-applies the templates when asked", function()
    local db = helpers.world()
    assert(db:set_unit_access("m", "team-a", "read"))
    assert(db:set_unit_access("hh-sales-a", "common", "hidden"))
    -- alice (hh-sales-a): team-a full; bob (hh-sales): team-a read
    assert.are.same({}, db:move_unit("hh-sales", "m"))
    assert.are.equal("m", db:get_unit("hh-sales").parent)
    assert.are.same({ ["team-a"] = "full" }, db:access_of("alice"))
    assert(db:move_unit("hh-sales", "hh"))
    local r = db:revision()
    assert.are.same({
      { user = "alice", what = "access", key = "common", before = "read", after = "hidden" },
      { user = "alice", what = "access", key = "team-a", before = "full", after = "read" },
    }, db:move_unit("hh-sales", "m", { access = "template" }))
    assert.are.equal(r + 1, db:revision())
    assert.are.same({ ["team-a"] = "read", common = "hidden" }, db:access_of("alice"))
    assert.are.same({ ["team-a"] = "read" }, db:access_of("bob"))
    assert.are.same({}, db:move_unit("hh-sales", false))
    assert.is_nil(db:get_unit("hh-sales").parent)
  end)

  it("refuses what the tree refuses, in its own words, writing nothing", function()
    local db = helpers.world()
    helpers.rejects(db, "move_unit: new_parent: 'hh-sales-a' lies below 'hh' (a "
                    .. "unit cannot move into its own subtree)", function()
      db:move_unit("hh", "hh-sales-a")
    end)
    helpers.rejects(db, "move_unit: new_parent: 'hh' is the unit itself (a unit "
                    .. "cannot be its own parent)", function()
      db:move_unit("hh", "hh")
    end)
    helpers.rejects(db, "move_unit: new_parent: 'lab' is on level 'department', "
                    .. "not above the level 'branch' of unit 'hh' (a unit's parent "
                    .. "must be on a higher level)", function()
      db:move_unit("hh", "lab")
    end)
    helpers.rejects(db, "move_unit: new_parent: 'zz' is not a unit (db:units() "
                    .. "lists them)", function() db:move_unit("hh", "zz") end)
    helpers.rejects(db, "move_unit: new_parent: expected a unit key, or false for "
                    .. "a root unit, got 42", function() db:move_unit("hh", 42) end)
    helpers.rejects(db, "move_unit: unit: 'zz' is not a unit (db:units() lists "
                    .. "them)", function() db:move_unit("zz", "de") end)
    helpers.rejects(db, "move_unit: options.access: 'x' is not a way to set "
                    .. "access (allowed: template, merge, keep)", function()
      db:move_unit("hh", "de", { access = "x" })
    end)
  end)

  it("reports every user beneath, refuses and writes nothing on random worlds",
     function()
    for w = 1, WORLDS do
      math.randomseed(SEED + 1000 + w)
      local db, tree = world()
      for _ = 1, 4 do
        local unit = tree.units[math.random(#tree.units)]
        local parent = math.random() < 0.15 and false
                       or tree.units[math.random(#tree.units)]
        local mode = ({ "template", "merge", "keep" })[math.random(3)]
        local where = ("world %d: move_unit(%q, %s, %s)"):format(w, unit,
                                                               tostring(parent), mode)
        local refused = parent and (below(tree, parent, unit)
                                    or tree.level[parent] >= tree.level[unit])
        if refused then
          helpers.rejects(db, { pattern = "^move_unit: new_parent: " }, function()
            db:move_unit(unit, parent, { access = mode })
          end)
        else
          local users, rows = {}, {}
          for _, u in ipairs(db:users()) do
            if u.unit and below(tree, u.unit, unit) then
              users[#users + 1] = u.key
              rows[u.key] = db:access_of(u.key)
            end
          end
          local before = held(db, users)
          local report = db:move_unit(unit, parent, { access = mode })
          tree.parent[unit] = parent or nil
          assert.are.same(difference(before, held(db, users), users), report, where)
          for _, user in ipairs(users) do
            assert.are.same(expected_rows(mode, rows[user],
                                          template_of(tree, db:get_user(user).unit)),
                            db:access_of(user), where .. ": " .. user)
          end
          assert.are.equal(parent or nil, db:get_unit(unit).parent, where)
        end
      end
    end
  end)
end)

describe("a move under db:plan", function()
  it("is a dry run whose changes are the moves' reports", function()
    local db = helpers.world()
    assert(db:set_unit_access("m", "team-a", "read"))
    assert(db:set_unit_access("m", "common", "hidden"))
    local before = helpers.snapshot_rows(db)
    local changes = {}
    local plan = db:plan(function(d)
      for _, c in ipairs(d:move_user("alice", "m")) do changes[#changes + 1] = c end
      for _, c in ipairs(d:move_unit("hh-sales", "m", { access = "template" })) do
        changes[#changes + 1] = c
      end
    end)
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.are.same({
      { user = "alice", what = "access", key = "common", before = "read", after = "hidden" },
      { user = "alice", what = "access", key = "team-a", before = "full", after = "read" },
      { user = "bob", what = "access", key = "common", before = "read", after = "hidden" },
    }, changes)
    assert.are.same(changes, plan:changes())
    plan:apply()
    assert.are.same({ ["team-a"] = "read", common = "hidden" }, db:access_of("alice"))
    assert.are.same({ ["team-a"] = "read", common = "hidden" }, db:access_of("bob"))
    assert.are.equal("m", db:get_unit("hh-sales").parent)
  end)
end)

describe("the store", function()
  it("upgrades a store made before access templates in place", function()
    local path = helpers.tmpname()
    local db = assert(mandate.open(path))
    helpers.world(db)
    local version = prim.row(db, "PRAGMA user_version").user_version
    helpers.without_after(db, 5)
    prim.exec(db, "PRAGMA user_version = 5")
    db:close()
    db = assert(mandate.open(path))
    assert.are.equal(version, prim.row(db, "PRAGMA user_version").user_version)
    assert.is_true(db:set_unit_access("m", "team-a", "read"))
    assert.are.same({ ["team-a"] = "read" }, db:move_user("alice", "m") and
                    db:access_of("alice"))
    db:close()
    helpers.remove_store(path)
  end)
end)
