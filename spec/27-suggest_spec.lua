-- Bundle suggestions (issue 15, section 3): db:suggest_bundles against a
-- plain reading of its three kinds on random worlds, and by hand.
local helpers = require "helpers"
local mandate = require "mandate"
local reference = require "reference"
local random_world = require "random_world"

local unpack = table.unpack or unpack

-- A value in canonical text, whatever its spelling.
local function canonical(world, right, v)
  if world.rights[right].kind == "flag" then return v == true end
  return reference.format(world, reference.parse(world, v))
end

-- What u's bundles (and extra, a bundle's values) give right r.
local function bundled(world, u, r, extra)
  local user = world.users[u]
  local saved_o, saved_b = user.overrides, user.bundles
  user.overrides = {}
  if extra then
    world.bundles["\0extra"] = extra
    local list = { unpack(saved_b) }
    list[#list + 1] = "\0extra"
    user.bundles = list
  end
  local v = reference.effective(world, u, r)
  user.overrides, user.bundles = saved_o, saved_b
  world.bundles["\0extra"] = nil
  return canonical(world, r, v)
end

local sorted_keys = require("mandate.impact").sorted_keys

-- The suggestions of the plain definition, as comparable rows.
local function expected(world, share, min_users)
  local rows = {}
  local users = sorted_keys(world.users)
  -- redundant: overrides equal to what the bundles give
  local cleared, n = {}, 0
  for _, u in ipairs(users) do
    for r, v in pairs(world.users[u].overrides) do
      if canonical(world, r, v) == bundled(world, u, r) then
        n = n + 1
        cleared[u] = true
      end
    end
  end
  if n > 0 then rows[#rows + 1] = { "redundant", n, sorted_keys(cleared) } end
  -- bundle values: share of the holders override a right to one value
  for _, b in ipairs(sorted_keys(world.bundles)) do
    local holders, counts = {}, {}
    for _, u in ipairs(users) do
      for _, x in ipairs(world.users[u].bundles) do
        if x == b then holders[#holders + 1] = u end
      end
    end
    for _, u in ipairs(holders) do
      for r, v in pairs(world.users[u].overrides) do
        local key = r .. "=" .. tostring(canonical(world, r, v))
        counts[key] = counts[key] or { r = r, v = canonical(world, r, v), who = {} }
        table.insert(counts[key].who, u)
      end
    end
    for _, key in ipairs(sorted_keys(counts)) do
      local c = counts[key]
      local old = world.bundles[b][c.r]
      old = old == nil and canonical(world, c.r, world.rights[c.r].kind ~= "flag" and "none")
            or canonical(world, c.r, old)
      if #c.who >= share * #holders and c.v ~= old then
        local was = world.bundles[b][c.r]
        world.bundles[b][c.r] = c.v
        local gone = {}
        for _, u in ipairs(c.who) do
          if bundled(world, u, c.r) == c.v then gone[#gone + 1] = u end
        end
        world.bundles[b][c.r] = was
        table.sort(gone)
        if #gone > 0 then rows[#rows + 1] = { "bundle_value", #gone, gone, b, c.r, c.v } end
      end
    end
  end
  -- groups with the same bundles and overrides: a new bundle
  local groups = {}
  for _, u in ipairs(users) do
    local parts, held = {}, {}
    for r, v in pairs(world.users[u].overrides) do
      parts[#parts + 1] = r .. "=" .. tostring(canonical(world, r, v))
    end
    if #parts > 0 then
      table.sort(parts)
      for i, b in ipairs(world.users[u].bundles) do held[i] = b end
      table.sort(held)
      local sig = table.concat(held, "\0") .. "\0\0" .. table.concat(parts, "\0")
      groups[sig] = groups[sig] or {}
      table.insert(groups[sig], u)
    end
  end
  for _, sig in ipairs(sorted_keys(groups)) do
    local g = groups[sig]
    if #g >= min_users then
      local first, extra, count = world.users[g[1]], {}, 0
      for r, v in pairs(first.overrides) do extra[r] = canonical(world, r, v) end
      for r, v in pairs(extra) do
        if bundled(world, g[1], r, extra) == v then count = count + 1 end
      end
      if count > 0 then rows[#rows + 1] = { "new_bundle", count * #g, g } end
    end
  end
  return rows
end

local function actual(list)
  local rows = {}
  for i, s in ipairs(list) do
    if s.kind == "bundle_value" then
      rows[i] = { s.kind, s.removes, s.cleared, s.bundle, s.right, s.value }
    else
      rows[i] = { s.kind, s.removes, s.cleared }
    end
  end
  return rows
end

describe("db:suggest_bundles on random worlds", function()
  it("suggests what the plain definition does, and the no-change kinds change nobody", function()
    for i = 1, 120 do
      local r = random_world.rng(777 + i)
      local calls = random_world.generate(r)
      -- more look-alike users: copies of a few users' bundles and overrides
      local world = random_world.build_world(calls)
      local users = sorted_keys(world.users)
      for j = 1, r:int(0, 6) do
        local model = world.users[r:pick(users)]
        local key = "c" .. j
        calls[#calls + 1] = { "put_user", key, { bundles = model.bundles } }
        for right, v in pairs(model.overrides) do
          calls[#calls + 1] = { "set_override", key, right, v }
        end
      end
      world = random_world.build_world(calls)
      local db = assert(mandate.open(":memory:"))
      assert(db:transaction(function()
        for _, c in ipairs(calls) do assert(db[c[1]](db, unpack(c, 2))) end
      end))
      local share = r:pick{ 0.3, 0.5, 1 }
      local min_users = r:pick{ 2, 3 }
      local rows = helpers.snapshot_rows(db)
      local list = db:suggest_bundles({ share = share, min_users = min_users })
      assert.are.same(rows, helpers.snapshot_rows(db))
      assert.are.same(expected(world, share, min_users), actual(list), "world " .. i)
      for _, s in ipairs(list) do
        if s.kind ~= "bundle_value" then assert.are.same({}, s.plan:changes()) end
      end
      db:close()
    end
  end)
end)

describe("db:suggest_bundles", function()
  local function world()
    local db = helpers.world()
    for _, u in ipairs({ "dan", "eve", "fay" }) do
      assert(db:put_user(u, { bundles = { "inside-sales" }, unit = "hh-sales-a" }))
      assert(db:set_override(u, "admin.open", true))
      assert(db:set_override(u, "documents.see", "branch"))
    end
    return db
  end

  it("suggests the three kinds, each with its plan, and applies them", function()
    local db = world()
    local list = db:suggest_bundles()
    assert.are.same({ "redundant", "bundle_value", "new_bundle" },
                    { list[1].kind, list[2].kind, list[3].kind })
    assert.are.same({ "dan", "eve", "fay" }, list[1].cleared)
    assert.are.equal(3, list[1].removes)
    assert.are.equal("clear 3 overrides that equal what the users' bundles give", list[1].text)
    assert.are.equal("set admin.open to true in bundle inside-sales: 3 of its 5 holders "
                     .. "override it so", list[2].text)
    assert.are.same({ "alice" }, list[2].plan.users)
    assert.are.equal(1, list[2].plan.rights["admin.open"].gain)
    assert.are.equal("suggested-1", list[3].bundle)
    assert.are.equal(6, list[3].removes)
    assert.are.same({}, list[3].plan:changes())
    local function values(user)
      local t = {}
      for _, row in ipairs(db:effective(user)) do t[row.right] = row.effective end
      return t
    end
    local effective = values("dan")
    list[3].plan:apply()
    assert.are.same(effective, values("dan"))
    assert.are.same({}, db:overrides("dan"))
    assert.are.same({ "inside-sales", "suggested-1" }, db:get_user("eve").bundles)
    assert.are.same({ ["admin.open"] = true, ["documents.see"] = "branch" },
                    db:get_bundle("suggested-1").rights)
  end)

  it("raises on bad options", function()
    local db = world()
    assert.are.equal("suggest_bundles: options.share: expected a number above 0 and at "
                     .. "most 1, got 0", helpers.error_of(function() db:suggest_bundles{ share = 0 } end))
    assert.are.equal("suggest_bundles: options.min_users: expected an integer of at "
                     .. "least 2, got 1.5",
                     helpers.error_of(function() db:suggest_bundles{ min_users = 1.5 } end))
    assert.are.equal("suggest_bundles: options.shares: unknown option (allowed: share, "
                     .. "min_users)", helpers.error_of(function() db:suggest_bundles{ shares = 1 } end))
  end)
end)
