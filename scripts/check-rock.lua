-- Loaded from the luarocks tree that `make rock` installed into: the rock
-- must be the whole module, not a partial copy.
local mandate = require "mandate"
assert(package.searchpath("mandate.core", package.cpath):find("rock%-tree"),
       "mandate.core was not loaded from the rock tree")
local db = assert(mandate.open())
db:set_levels { "team" }
db:put_right("x", { kind = "flag" })
db:put_bundle("b", { rights = { x = true } })
db:put_user("u", { bundles = { "b" } })
assert(db:check("u", "x"))
assert(not db:check("u", "x", { tenant = "nowhere" }))
db:close()
print("rock: the installed module works (" .. mandate.version .. ")")
