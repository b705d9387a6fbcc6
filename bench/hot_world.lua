-- The world of the hot-loop micro-benchmarks (instructions.lua,
-- checker.lua): 1000 users in one team holding one scope right, so every
-- check stays in cache and only the call path is measured.
-- Returns an in-memory store and the ids {user, right, tenant, owner}.
local mandate = require "mandate"

return function()
  local db = assert(mandate.open())
  db:transaction(function()
    db:set_levels { "branch", "team" }
    db:put_unit("hh", { level = "branch" })
    db:put_unit("hh-sales", { level = "team", parent = "hh" })
    db:put_tenant("crm", { default = "read" })
    db:put_tenant("vault", {})                  -- hidden: denials
    db:put_right("documents.view", { kind = "scope", mode = "read" })
    db:put_bundle("sales", { rights = { ["documents.view"] = "team" } })
    for i = 1, 1000 do db:put_user("u" .. i, { unit = "hh-sales", bundles = { "sales" } }) end
  end)
  return db, { user = db:id("user", "u5"), right = db:id("right", "documents.view"),
               tenant = db:id("tenant", "crm"), owner = db:id("user", "u7") }
end
