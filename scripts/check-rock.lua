-- Loaded from the luarocks tree that `make rock` installed into (arg[1],
-- scripts/check-rock): the rock must be the whole module, not a partial
-- copy.
local tree = assert(arg[1], "usage: lua scripts/check-rock.lua TREE")
local mandate = require "mandate"
for _, m in ipairs { { "mandate", package.path }, { "mandate.core", package.cpath } } do
  local found
  for entry in m[2]:gmatch("[^;]+") do
    local file = entry:gsub("%?", (m[1]:gsub("%.", "/")))
    local f = io.open(file)
    if f then f:close() found = file break end
  end
  assert(found and found:sub(1, #tree) == tree,
         m[1] .. " was not loaded from the rock tree " .. tree)
end
local db = assert(mandate.open())
db:set_levels { "team" }
db:put_right("x", { kind = "flag" })
db:put_bundle("b", { rights = { x = true } })
db:put_user("u", { bundles = { "b" } })
assert(db:check("u", "x"))
assert(not db:check("u", "x", { tenant = "nowhere" }))
db:close()
print(("rock: the installed module works on %s (%s)"):format(
  type(jit) == "table" and jit.version or _VERSION, mandate.version))
