-- The sealed handle: a mandate.Db carries only documented methods, no
-- primitive of the Lua layer and no way to run SQL; `require "mandate"`
-- takes the primitives off the C module once its own modules hold them.
-- Specs reach them through spec/primitives.lua (not installed).
local helpers = require "helpers"
local mandate = require "mandate"

-- Every name README writes in code: identifiers in `...` spans, and the
-- families written `delete_unit/tenant/right` (delete_tenant, ...)
local function documented()
  local f = assert(io.open("README.md", "r"))
  local text = f:read("*a")
  f:close()
  local names = {}
  for span in text:gmatch("`([^`\n]+)`") do
    for word in span:gmatch("[%a_][%w_]*") do names[word] = true end
    for first, family in span:gmatch("(%a+_)([%a_]+/[%a_/]+)") do
      for part in family:gmatch("[^/]+") do names[first .. part] = true end
    end
  end
  return names
end

describe("a sealed handle", function()
  it("carries no primitive: no method begins with _, none runs SQL", function()
    local db = helpers.open()
    for name in pairs(mandate.Db) do
      assert.is_nil(name:match("^_"), name)
    end
    for _, name in ipairs({ "_exec", "_rows", "_row", "_begin", "_end", "_audit", "_known",
                            "_in_transaction", "exec", "rows", "row" }) do
      assert.is_nil(db[name], name)
    end
    assert.is_nil(require("mandate.core").internal)
  end)

  it("has only methods README documents", function()
    local names = documented()
    for name in pairs(mandate.Db) do
      assert.is_true(names[name] == true, "db:" .. name .. " is not in README")
    end
  end)

  it("still lets specs run SQL through the test-only path", function()
    local prim = require "primitives"
    local db = helpers.world()
    assert.is_true(#prim.rows(db, "SELECT key FROM users") > 0)
  end)
end)
