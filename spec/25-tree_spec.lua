-- The org tree's rules are decided in one place (src/core/tree.c): the
-- compile runs them over the whole tree, put_unit asks the store to run
-- them over the rows its change touches and set_levels over every unit
-- with the new order (src/store/tree.c).  On random trees and random
-- put_unit and set_levels calls, the writer refuses exactly what the
-- compile would refuse, and a refused write changes nothing.

local helpers = require "helpers"
local prim = require "primitives"
local world = require "world"       -- bench/world.lua: its generator

local ROUNDS, ATTEMPTS = 60, 30

--[[
Whether the compile accepts the store after change(): the change made in
raw SQL inside a transaction, a check that compiles the snapshot from it,
then the rollback.
]]
local function compile_accepts(db, change)
  prim.exec(db, "BEGIN")
  change()
  local ok, why, code = db:check("someone", "f", { tenant = "t" })
  prim.exec(db, "ROLLBACK")
  assert(ok ~= nil or code == "constraint", why)
  return ok ~= nil
end

local function row_of(db, key)
  return prim.row(db, "SELECT id, level, parent_id FROM units WHERE key = ?1",
                  key)
end

-- put_unit(key, opts) as the writer would write it, in raw SQL.
local function put_unit_raw(db, key, opts)
  local row = row_of(db, key)
  local level = opts.level or row.level
  local parent_id
  if opts.parent == nil then parent_id = row and row.parent_id
  elseif opts.parent then parent_id = row_of(db, opts.parent).id end
  if row then
    prim.exec(db, "UPDATE units SET level = ?2, parent_id = ?3 WHERE id = ?1",
              row.id, level, parent_id)
  else
    prim.exec(db, "INSERT INTO units(key, level, parent_id) VALUES (?1, ?2, ?3)",
              key, level, parent_id)
  end
end

-- set_levels(names), a new order of the same levels, in raw SQL.
local function set_levels_raw(db, names)
  for d, name in ipairs(names) do
    prim.exec(db, "UPDATE levels SET depth = ?2 WHERE name = ?1", name, d - 1)
  end
end

-- A random order of list's items.
local function shuffled(r, list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  for i = #t, 2, -1 do
    local j = r.int(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

-- A random valid tree on db: each unit a root or under an earlier unit on
-- a higher level.  Returns the units' keys.
local function random_tree(db, r, levels)
  local keys, depth = {}, {}
  for i = 1, r.range(3, 14) do
    local d = r.int(#levels)
    local above = {}
    for _, k in ipairs(keys) do
      if depth[k] < d then above[#above + 1] = k end
    end
    local key = "u" .. i
    local parent = #above > 0 and not r.chance(0.3) and r.pick(above) or false
    assert(db:put_unit(key, { level = levels[d], parent = parent }))
    keys[i], depth[key] = key, d
  end
  return keys
end

describe("the org tree's rules", function()
  it(("refuse in put_unit and set_levels exactly what the compile refuses (%d random trees)")
     :format(ROUNDS), function()
    local seen = { accepted = 0, cycle = 0, level = 0, levels = 0 }
    for round = 1, ROUNDS do
      local r = world.rng(2500 + round)
      local db = helpers.open()
      local levels = {}
      for d = 1, r.range(2, 5) do levels[d] = "l" .. d end
      assert(db:set_levels(levels))
      local keys = random_tree(db, r, levels)
      assert(db:put_user("someone"))
      assert(db:put_right("f", { kind = "flag" }))
      assert(db:put_tenant("t"))
      for attempt = 1, ATTEMPTS do
        local new = r.chance(0.2)
        local key = new and "n" .. attempt or r.pick(keys)
        local opts = {}
        if new or r.chance(0.5) then opts.level = r.pick(levels) end
        local p = r.int(4)
        if p == 1 then opts.parent = false
        elseif p > 2 or new then opts.parent = r.pick(keys) end
        local accepts = compile_accepts(db, function() put_unit_raw(db, key, opts) end)
        local before = helpers.snapshot_rows(db)
        local ok, err = pcall(db.put_unit, db, key, opts)
        assert(ok == accepts, ("round %d: put_unit(%q, {level = %s, parent = %s}): "
          .. "the compile %s, the writer %s"):format(round, key,
          tostring(opts.level), tostring(opts.parent),
          accepts and "accepts" or "refuses", ok and "accepts" or tostring(err)))
        if ok then
          seen.accepted = seen.accepted + 1
          if new then keys[#keys + 1] = key end
        else
          assert.matches("^put_unit: options%.[a-z]+: ", err)
          local rule = err:find("subtree") or err:find("its own parent")
          seen[rule and "cycle" or "level"] = seen[(rule and "cycle" or "level")] + 1
          assert.same(before, helpers.snapshot_rows(db))
        end
      end
      for _ = 1, 5 do
        local names = shuffled(r, levels)
        local accepts = compile_accepts(db, function() set_levels_raw(db, names) end)
        local before = helpers.snapshot_rows(db)
        local ok, err = pcall(db.set_levels, db, names)
        assert(ok == accepts, ("round %d: set_levels{%s}: the compile %s, the "
          .. "writer %s"):format(round, table.concat(names, ", "),
          accepts and "accepts" or "refuses", ok and "accepts" or tostring(err)))
        if ok then
          levels = names
        else
          assert.matches("^set_levels: levels: the new order puts ", err)
          assert.same(before, helpers.snapshot_rows(db))
          seen.levels = seen.levels + 1
        end
      end
      db:close()
    end
    -- every outcome was tried, many times
    for what, n in pairs(seen) do
      assert(n >= 20, ("only %d writes were %s"):format(n, what))
    end
  end)
end)
