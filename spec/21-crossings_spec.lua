-- How often one write crosses from Lua into C: a call hook counts the
-- calls of the module's C functions (the methods and the Lua layer's
-- primitives) during one db:set_access.  The number is a constant of the
-- writer, whatever the store holds; README states it (13 before the store
-- owned change sets).
local helpers = require "helpers"
local mandate = require "mandate"
local prim = require "primitives"

local function crossings(fn)
  local names = {}
  for name, f in pairs(mandate.Db) do
    if type(f) == "function" and debug.getinfo(f, "S").what == "C" then names[f] = name end
  end
  for name, f in pairs(prim) do names[f] = name end
  local seen = {}
  debug.sethook(function()
    local info = debug.getinfo(2, "f")
    local name = info and names[info.func]
    if name then seen[#seen + 1] = name end
  end, "c")
  fn()
  debug.sethook()
  return seen
end

describe("one set_access", function()
  it("crosses into C 4 times, changed or not, in a transaction or not", function()
    local db = helpers.world()
    local one = { "is_open", "begin", "write_access", "finish" }
    for _, access in ipairs({ "full", "hidden", "read", "full", "full" }) do   -- bob has "read"
      assert.same(one, crossings(function() assert(db:set_access("bob", "team-a", access)) end))
    end
    assert.same(one, crossings(function() assert(db:clear_access("bob", "team-a")) end))
    db:transaction(function()
      assert.same(one, crossings(function() assert(db:set_access("bob", "team-a", "read")) end))
    end)
  end)
end)

describe("put_unit", function()
  it("finds a cycle in one query, however deep the subtree", function()
    local counts = {}
    for _, depth in ipairs({ 3, 12 }) do
      local db = helpers.open()
      local levels = {}
      for i = 1, depth do levels[i] = "l" .. i end
      db:set_levels(levels)
      db:put_unit("u1", { level = "l1" })
      for i = 2, depth do db:put_unit("u" .. i, { level = "l" .. i, parent = "u" .. (i - 1) }) end
      local ok, err
      local seen = crossings(function()
        ok, err = pcall(db.put_unit, db, "u1", { parent = "u" .. depth })
      end)
      assert.is_false(ok)
      assert.matches("cannot move into its own subtree", err)
      counts[#counts + 1] = #seen
    end
    assert.equal(counts[1], counts[2])
  end)
end)
