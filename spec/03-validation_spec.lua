-- Bad input: every writer checks its arguments before it writes.  Each case
-- asserts the exact message (function, argument, bad value, what is
-- allowed), that the error points at the caller, and that every table of
-- the store is unchanged afterwards (helpers.rejects).

local helpers = require "helpers"
local V = require "mandate.validate"
local rejects = helpers.rejects

local KEY_RULE = "(keys are 1 to 200 bytes of UTF-8 text without control "
                 .. "characters)"
local SCOPES = "none, own, team, department, branch, country, all"

describe("wrong types", function()
  local db
  before_each(function() db = helpers.world() end)

  it("of keys", function()
    rejects(db, "put_unit: key: expected a string key, got 42",
            function() db:put_unit(42, { level = "team" }) end)
    rejects(db, "put_user: key: expected a string key, got nil",
            function() db:put_user() end)
    rejects(db, "set_override: right: expected a string key, got a table",
            function() db:set_override("alice", {}, "team") end)
    rejects(db, "assign_customer: customer: expected a string key, got 7",
            function() db:assign_customer("alice", 7) end)
    rejects(db, "get_user: key: expected a string key, got nil",
            function() db:get_user() end)
  end)

  it("of the options table", function()
    rejects(db, "put_unit: options: expected a table {level=, parent=, "
                .. "label=} or nil, got 'team'",
            function() db:put_unit("x", "team") end)
    rejects(db, "put_tenant: options: expected a table {label=, default=} "
                .. "or nil, got true",
            function() db:put_tenant("x", true) end)
  end)

  it("of unknown option names", function()
    rejects(db, "put_unit: options.lvel: unknown option (allowed: level, "
                .. "parent, label)",
            function() db:put_unit("x", { lvel = "team" }) end)
    rejects(db, "put_unit: options[1]: unknown option (allowed: level, "
                .. "parent, label)",
            function() db:put_unit("x", { "team" }) end)
    rejects(db, "put_right: options.scope: unknown option (allowed: kind, "
                .. "mode, customer, area, label)",
            function() db:put_right("x", { kind = "scope", scope = "team" }) end)
    rejects(db, "put_user: options.bundle: unknown option (allowed: unit, "
                .. "bundles, active, label)",
            function() db:put_user("x", { bundle = "admin" }) end)
    rejects(db, "put_bundle: options['my right']: unknown option (allowed: "
                .. "label, rights)",
            function() db:put_bundle("x", { ["my right"] = true }) end)
    rejects(db, "delete_unit: options.force: unknown option (allowed: "
                .. "cascade)",
            function() db:delete_unit("hh", { force = true }) end)
  end)

  it("of option values", function()
    rejects(db, "put_unit: options.level: expected a level name, got 3",
            function() db:put_unit("x", { level = 3 }) end)
    rejects(db, "put_unit: options.parent: expected a unit key, or false "
                .. "for a root unit, got 5",
            function() db:put_unit("x", { level = "team", parent = 5 }) end)
    rejects(db, "put_unit: options.label: expected a string (or false to "
                .. "remove it), got 5",
            function() db:put_unit("x", { level = "team", label = 5 }) end)
    rejects(db, "put_right: options.customer: expected true or false, got "
                .. "'yes'",
            function() db:put_right("x", { kind = "scope",
                                           customer = "yes" }) end)
    rejects(db, "put_user: options.active: expected true or false, got 1",
            function() db:put_user("x", { active = 1 }) end)
    rejects(db, "put_user: options.unit: expected a unit key, or false for "
                .. "no unit, got true",
            function() db:put_user("x", { unit = true }) end)
    rejects(db, "put_user: options.bundles: expected an array of bundle "
                .. "keys, got 'admin'",
            function() db:put_user("x", { bundles = "admin" }) end)
    rejects(db, "put_user: options.bundles: expected an array of bundle "
                .. "keys, but it has the key 'a'",
            function() db:put_user("x", { bundles = { a = "admin" } }) end)
    rejects(db, {pattern = "^put_user: options%.bundles: expected an array "
                           .. "of bundle keys, but "},
            function() db:put_user("x", { bundles = { "admin", nil,
                                                      "inside-sales" } }) end)
    rejects(db, "put_bundle: options.rights: expected a table {right key = "
                .. "value}, got 'all'",
            function() db:put_bundle("x", { rights = "all" }) end)
    rejects(db, "put_bundle: options.rights: expected a table {right key = "
                .. "value}, but it has the key 1",
            function() db:put_bundle("x", { rights = { "admin.open" } }) end)
    rejects(db, "delete_unit: options.cascade: expected true or false, got "
                .. "'yes'",
            function() db:delete_unit("hh", { cascade = "yes" }) end)
  end)

  it("of the other methods' arguments", function()
    rejects(db, "set_levels: levels: expected an array of level names (top "
                .. "to bottom), got 'country'",
            function() db:set_levels("country") end)
    rejects(db, "transaction: fn: expected a function, got 'x'",
            function() db:transaction("x") end)
    rejects(db, "set_actor: name: expected a string key, got 5",
            function() db:set_actor(5) end)
    rejects(db, "audit: options.since: expected a revision number or a "
                .. "time string (ISO 8601, or '@' and a Unix time), got true",
            function() db:audit{ since = true } end)
    rejects(db, "audit: options.limit: expected a count (an integer from 0 "
                .. "to 2^53), got -1",
            function() db:audit{ limit = -1 } end)
    rejects(db, "audit: options.user: unknown option (allowed: since, "
                .. "before, actor, subject, op, limit)",
            function() db:audit{ user = "alice" } end)
  end)
end)

describe("bad keys", function()
  local db
  before_each(function() db = helpers.world() end)

  it("empty", function()
    rejects(db, "put_unit: key: '' is empty " .. KEY_RULE,
            function() db:put_unit("", { level = "team" }) end)
    rejects(db, "put_user: options.unit: '' is empty " .. KEY_RULE,
            function() db:put_user("x", { unit = "" }) end)
    rejects(db, "set_access: tenant: '' is empty " .. KEY_RULE,
            function() db:set_access("alice", "", "full") end)
  end)

  it("over 200 bytes", function()
    local long = ("k"):rep(201)
    rejects(db, "put_tenant: key: '" .. ("k"):rep(57) .. "...' is 201 bytes "
                .. "long " .. KEY_RULE,
            function() db:put_tenant(long) end)
    rejects(db, "assign_customer: customer: '" .. ("k"):rep(57) .. "...' is "
                .. "201 bytes long " .. KEY_RULE,
            function() db:assign_customer("alice", long) end)
    -- 200 bytes are fine
    assert.truthy(db:put_tenant(("k"):rep(200)))
  end)

  it("with control characters", function()
    rejects(db, "put_right: key: 'a\\nb' contains a control character "
                .. KEY_RULE,
            function() db:put_right("a\nb", { kind = "flag" }) end)
    rejects(db, "put_bundle: key: 'a\\000b' contains a control character "
                .. KEY_RULE,
            function() db:put_bundle("a\0b") end)
    rejects(db, "set_levels: levels[2]: 'b\\tc' contains a control "
                .. "character " .. KEY_RULE,
            function() db:set_levels{ "a", "b\tc" } end)
    rejects(db, "set_actor: name: 'root\\r' contains a control character "
                .. KEY_RULE,
            function() db:set_actor("root\r") end)
  end)

  it("that are not UTF-8", function()
    rejects(db, "put_user: key: '\255\254' is not valid UTF-8 " .. KEY_RULE,
            function() db:put_user("\255\254") end)
    rejects(db, "put_unit: options.label: '\192\128' is not valid UTF-8 text",
            function() db:put_unit("hh", { label = "\192\128" }) end)
  end)
end)

describe("unknown names", function()
  local db
  before_each(function() db = helpers.world() end)

  it("unit", function()
    rejects(db, "put_unit: options.parent: 'atlantis' is not a unit "
                .. "(db:units() lists them)",
            function() db:put_unit("x", { level = "team",
                                          parent = "atlantis" }) end)
    rejects(db, "put_user: options.unit: 'atlantis' is not a unit "
                .. "(db:units() lists them)",
            function() db:put_user("x", { unit = "atlantis" }) end)
    rejects(db, "delete_unit: key: 'atlantis' is not a unit (db:units() "
                .. "lists them)",
            function() db:delete_unit("atlantis") end)
  end)

  it("level", function()
    rejects(db, "put_unit: options.level: 'galaxy' is not a level (levels: "
                .. "country, branch, department, team)",
            function() db:put_unit("x", { level = "galaxy" }) end)
    rejects(db, "put_unit: options.level: missing (a new unit needs a level; "
                .. "levels: country, branch, department, team)",
            function() db:put_unit("x", { label = "X" }) end)
    local empty = helpers.open()
    rejects(empty, "put_unit: options.level: 'team' is not a level (there "
                   .. "are no levels yet; call db:set_levels first)",
            function() empty:put_unit("x", { level = "team" }) end)
  end)

  it("tenant", function()
    rejects(db, "set_access: tenant: 'team-b' is not a tenant (db:tenants() "
                .. "lists them)",
            function() db:set_access("alice", "team-b", "full") end)
    rejects(db, "clear_access: tenant: 'team-b' is not a tenant "
                .. "(db:tenants() lists them)",
            function() db:clear_access("alice", "team-b") end)
    rejects(db, "delete_tenant: key: 'team-b' is not a tenant (db:tenants() "
                .. "lists them)",
            function() db:delete_tenant("team-b") end)
  end)

  it("right", function()
    rejects(db, "set_override: right: 'documents.sea' is not a right "
                .. "(db:rights() lists them)",
            function() db:set_override("alice", "documents.sea", "team") end)
    rejects(db, "put_bundle: options.rights: 'documents.sea' is not a right "
                .. "(db:rights() lists them)",
            function() db:put_bundle("x", { rights = {
              ["documents.see"] = "team", ["documents.sea"] = "team" } }) end)
    rejects(db, "put_right: options.kind: missing (a new right needs kind = "
                .. "\"flag\" or \"scope\")",
            function() db:put_right("x", { label = "X" }) end)
    rejects(db, "delete_right: key: 'x' is not a right (db:rights() lists "
                .. "them)",
            function() db:delete_right("x") end)
  end)

  it("bundle", function()
    rejects(db, "put_user: options.bundles[2]: 'ghost' is not a bundle "
                .. "(db:bundles() lists them)",
            function() db:put_user("x", { bundles = { "admin", "ghost" } }) end)
    rejects(db, "set_bundle_right: bundle: 'ghost' is not a bundle "
                .. "(db:bundles() lists them)",
            function() db:set_bundle_right("ghost", "admin.open", true) end)
    rejects(db, "delete_bundle: key: 'ghost' is not a bundle (db:bundles() "
                .. "lists them)",
            function() db:delete_bundle("ghost") end)
  end)

  it("user", function()
    rejects(db, "set_override: user: 'nobody' is not a user (db:users() "
                .. "lists them)",
            function() db:set_override("nobody", "admin.open", true) end)
    rejects(db, "clear_override: user: 'nobody' is not a user (db:users() "
                .. "lists them)",
            function() db:clear_override("nobody", "admin.open") end)
    rejects(db, "assign_customer: user: 'nobody' is not a user (db:users() "
                .. "lists them)",
            function() db:assign_customer("nobody", "ACME") end)
    rejects(db, "delete_user: key: 'nobody' is not a user (db:users() lists "
                .. "them)",
            function() db:delete_user("nobody") end)
  end)

  it("a bundle twice in a user's list", function()
    rejects(db, "put_user: options.bundles[2]: 'admin' is already "
                .. "options.bundles[1] (a user holds a bundle once)",
            function() db:put_user("bob", { bundles = { "admin",
                                                        "admin" } }) end)
  end)
end)

describe("the org tree", function()
  local db
  before_each(function() db = helpers.world() end)

  it("refuses a unit whose level is not strictly below its parent's",
     function()
    rejects(db, "put_unit: options.level: 'branch' is not below the level "
                .. "'department' of parent 'hh-sales' (allowed here: team)",
            function() db:put_unit("x", { level = "branch",
                                          parent = "hh-sales" }) end)
    rejects(db, "put_unit: options.level: 'department' is not below the "
                .. "level 'department' of parent 'hh-sales' (allowed here: "
                .. "team)",
            function() db:put_unit("x", { level = "department",
                                          parent = "hh-sales" }) end)
    rejects(db, "put_unit: options.parent: 'hh-sales' is on level "
                .. "'department', not above the level 'department' of unit "
                .. "'lab' (a unit's parent must be on a higher level)",
            function() db:put_unit("lab", { parent = "hh-sales" }) end)
    rejects(db, "put_unit: options.level: 'team' is not above the level "
                .. "'team' of child unit 'hh-sales-a' (allowed here: "
                .. "department)",
            function() db:put_unit("hh-sales", { level = "team" }) end)
    rejects(db, "put_unit: options.level: 'country' is not below the level "
                .. "'country' of parent 'de' (allowed here: branch)",
            function() db:put_unit("hh", { level = "country" }) end)
  end)

  it("refuses cycles", function()
    rejects(db, "put_unit: options.parent: 'hh' is the unit itself (a unit "
                .. "cannot be its own parent)",
            function() db:put_unit("hh", { parent = "hh" }) end)
    rejects(db, "put_unit: options.parent: 'hh-sales-a' lies below 'hh' (a "
                .. "unit cannot move into its own subtree)",
            function() db:put_unit("hh", { parent = "hh-sales-a" }) end)
    rejects(db, "put_unit: options.parent: 'hh-sales' lies below 'de' (a "
                .. "unit cannot move into its own subtree)",
            function() db:put_unit("de", { level = "team",
                                           parent = "hh-sales" }) end)
  end)
end)

describe("values", function()
  local db
  before_each(function() db = helpers.world() end)

  it("a scope value not in the catalog", function()
    rejects(db, 'put_bundle: options.rights["documents.edit"]: \'galaxy\' '
                .. "is not a value of scope right 'documents.edit' "
                .. "(allowed: " .. SCOPES .. ", each optionally with "
                .. "+customer)",
            function() db:put_bundle("x", { rights = {
              ["documents.edit"] = "galaxy" } }) end)
    rejects(db, "set_override: value: 'Team' is not a value of scope right "
                .. "'documents.see' (allowed: " .. SCOPES .. ")",
            function() db:set_override("alice", "documents.see", "Team") end)
    rejects(db, "set_bundle_right: value: 'team+team' is not a value of "
                .. "scope right 'documents.see' (allowed: " .. SCOPES .. ")",
            function() db:set_bundle_right("admin", "documents.see",
                                           "team+team") end)
    rejects(db, "set_override: value: nil is not a value of scope right "
                .. "'documents.see' (allowed: " .. SCOPES .. ")",
            function() db:set_override("alice", "documents.see") end)
  end)

  it("a customer part on a right that does not allow it", function()
    rejects(db, 'put_bundle: options.rights["documents.see"]: '
                .. "'team+customer' is not a value of scope right "
                .. "'documents.see': it has no customer part (allowed: "
                .. SCOPES .. "; put_right with customer = true to allow "
                .. "+customer)",
            function() db:put_bundle("inside-sales", { rights = {
              ["documents.see"] = "team+customer" } }) end)
    rejects(db, "set_override: value: 'customer' is not a value of scope "
                .. "right 'documents.see': it has no customer part (allowed: "
                .. SCOPES .. "; put_right with customer = true to allow "
                .. "+customer)",
            function() db:set_override("bob", "documents.see",
                                       "customer") end)
  end)

  it("a flag right given a scope value, a scope right a boolean", function()
    rejects(db, 'put_bundle: options.rights["admin.open"]: \'team\' is not '
                .. "a value of flag right 'admin.open' (allowed: true, false)",
            function() db:put_bundle("admin", { rights = {
              ["admin.open"] = "team" } }) end)
    rejects(db, "set_override: value: 'true' is not a value of flag right "
                .. "'admin.open' (allowed: true, false)",
            function() db:set_override("bob", "admin.open", "true") end)
    rejects(db, "set_override: value: true is not a value of scope right "
                .. "'documents.edit' (allowed: " .. SCOPES .. ", each "
                .. "optionally with +customer)",
            function() db:set_override("bob", "documents.edit", true) end)
    rejects(db, "set_bundle_right: value: 1 is not a value of flag right "
                .. "'admin.open' (allowed: true, false)",
            function() db:set_bundle_right("admin", "admin.open", 1) end)
  end)

  it("access other than full, read, hidden", function()
    rejects(db, "set_access: access: 'write' is not an access (allowed: "
                .. "full, read, hidden)",
            function() db:set_access("alice", "team-a", "write") end)
    rejects(db, "set_access: access: nil is not an access (allowed: full, "
                .. "read, hidden)",
            function() db:set_access("alice", "team-a") end)
    rejects(db, "put_tenant: options.default: 'secret' is not an access "
                .. "(allowed: full, read, hidden)",
            function() db:put_tenant("x", { default = "secret" }) end)
  end)

  it("kinds and modes of rights", function()
    rejects(db, "put_right: options.kind: 'toggle' is not a kind of right "
                .. "(allowed: flag, scope)",
            function() db:put_right("x", { kind = "toggle" }) end)
    rejects(db, "put_right: options.mode: 'execute' is not a mode (allowed: "
                .. "read, write)",
            function() db:put_right("x", { kind = "flag",
                                           mode = "execute" }) end)
    rejects(db, "put_right: options.customer: true is not allowed for flag "
                .. "right 'admin.open' (only scope rights have a customer "
                .. "part)",
            function() db:put_right("admin.open", { customer = true }) end)
  end)
end)

describe("changes that would strand stored values", function()
  local db
  before_each(function() db = helpers.world() end)

  it("changing a right's kind while values of it are stored", function()
    rejects(db, "put_right: options.kind: 'flag': right 'documents.see' "
                .. "cannot change from scope to flag while values of it are "
                .. "stored: bundle 'inside-sales' gives it (clear them first)",
            function() db:put_right("documents.see", { kind = "flag" }) end)
    db:put_right("x", { kind = "flag" })
    db:set_override("carol", "x", true)
    rejects(db, "put_right: options.kind: 'scope': right 'x' cannot change "
                .. "from flag to scope while values of it are stored: user "
                .. "'carol' has it as an override (clear them first)",
            function() db:put_right("x", { kind = "scope" }) end)
  end)

  it("turning customer off while values use +customer", function()
    rejects(db, "put_right: options.customer: false would strand the value "
                .. "'department+customer': user 'alice' has it as an "
                .. "override (change such values first)",
            function() db:put_right("documents.edit", { customer = false }) end)
  end)

  it("set_levels that removes a level a unit is on", function()
    rejects(db, "set_levels: levels: 'team' is missing, but unit "
                .. "'hh-sales-a' is on it (move or delete the units on it "
                .. "first)",
            function() db:set_levels{ "country", "branch", "department" } end)
  end)

  it("set_levels that puts a unit at or above its parent", function()
    rejects(db, "set_levels: levels: the new order puts 'branch' above "
                .. "'country', but unit 'hh' on 'branch' has the parent 'de' "
                .. "on 'country' (a unit's level must be below its parent's)",
            function() db:set_levels{ "branch", "country", "department",
                                      "team" } end)
  end)

  it("set_levels that removes a level a stored value names", function()
    db:set_levels{ "country", "branch", "department", "team", "person" }
    db:set_override("bob", "documents.see", "person")
    rejects(db, "set_levels: levels: 'person' is missing, but user 'bob' has "
                .. "the override 'person' for right 'documents.see' (change "
                .. "such values first)",
            function() db:set_levels(helpers.LEVELS) end)
    db:clear_override("bob", "documents.see")
    db:put_bundle("p", { rights = { ["documents.edit"] = "person+customer" } })
    rejects(db, "set_levels: levels: 'person' is missing, but bundle 'p' "
                .. "gives right 'documents.edit' the value 'person+customer' "
                .. "(change such values first)",
            function() db:set_levels(helpers.LEVELS) end)
    db:delete_bundle("p")
    assert.is_true(db:set_levels(helpers.LEVELS))
  end)

  it("bad level lists", function()
    rejects(db, "set_levels: levels: the list is empty (give 1 to 32 level "
                .. "names, top to bottom)",
            function() db:set_levels{} end)
    rejects(db, "set_levels: levels[3]: 'a' is already levels[1] (level "
                .. "names are unique)",
            function() db:set_levels{ "a", "b", "a" } end)
    rejects(db, "set_levels: levels[2]: 'all' cannot name a level (none, "
                .. "own, all, customer and names with '+' are words of scope "
                .. "values)",
            function() db:set_levels{ "a", "all" } end)
    rejects(db, "set_levels: levels[1]: 'a+b' cannot name a level (none, "
                .. "own, all, customer and names with '+' are words of scope "
                .. "values)",
            function() db:set_levels{ "a+b" } end)
    local many = {}
    for i = 1, 33 do many[i] = "l" .. i end
    rejects(db, "set_levels: levels: 33 levels are too many (at most 32)",
            function() db:set_levels(many) end)
    rejects(db, "set_levels: levels: expected an array of level names (top "
                .. "to bottom), but it has the key 'x'",
            function() db:set_levels{ "a", x = "b" } end)
  end)
end)

describe("deletes that would orphan", function()
  local db
  before_each(function() db = helpers.world() end)

  it("a unit with child units or users", function()
    rejects(db, "delete_unit: key: unit 'hh-sales' still has 1 child unit "
                .. "('hh-sales-a') and 1 user ('bob') (move or delete them "
                .. "first, or pass {cascade = true} to delete its subtree and "
                .. "take its users out of their units)",
            function() db:delete_unit("hh-sales") end)
    rejects(db, "delete_unit: key: unit 'de' still has 2 child units ('hh', "
                .. "'m') (move or delete them first, or pass {cascade = true} "
                .. "to delete its subtree and take its users out of their "
                .. "units)",
            function() db:delete_unit("de", { cascade = false }) end)
  end)

  it("a tenant with access rows", function()
    rejects(db, "delete_tenant: key: tenant 'team-a' is still in the access "
                .. "rows of 2 users ('alice', 'bob') (clear_access them "
                .. "first, or pass {cascade = true} to delete them)",
            function() db:delete_tenant("team-a") end)
  end)

  it("a right used by bundles or overrides", function()
    rejects(db, "delete_right: key: right 'documents.edit' is still used by "
                .. "1 bundle ('inside-sales') and the overrides of 1 user "
                .. "('alice') (remove those values first, or pass {cascade = "
                .. "true} to remove them)",
            function() db:delete_right("documents.edit") end)
  end)

  it("a bundle assigned to users", function()
    rejects(db, "delete_bundle: key: bundle 'inside-sales' is still held by "
                .. "2 users ('alice', 'bob') (put_user them without it first, "
                .. "or pass {cascade = true} to take it from them)",
            function() db:delete_bundle("inside-sales") end)
  end)
end)

describe("errors", function()
  it("point at the caller of the method", function()
    local db = helpers.world()
    local ok, err = pcall(function()
      db:put_unit("x", { level = "galaxy" })
    end)
    assert.is_false(ok)
    assert.truthy(err:find("^[^:]*03%-validation_spec%.lua:%d+: put_unit: "),
                  err)
  end)

  it("show long and odd values safely", function()
    local db = helpers.world()
    rejects(db, "put_unit: options.level: '" .. ("%"):rep(57) .. "...' is "
                .. "not a level (levels: country, branch, department, team)",
            function() db:put_unit("x", { level = ("%"):rep(300) }) end)
    rejects(db, "put_unit: options.level: 'a\\\\b\\nc' is not a level "
                .. "(levels: country, branch, department, team)",
            function() db:put_unit("x", { level = "a\\b\nc" }) end)
  end)
end)

describe("NUL bytes (issue 22)", function()
  local db
  before_each(function() db = helpers.world() end)

  it("in values: refused, never stored up to the NUL", function()
    rejects(db, "set_override: value: 'team\\000+customer' is not a value of "
                .. "scope right 'documents.edit': it contains a NUL byte "
                .. "(allowed: " .. SCOPES .. ", each optionally with "
                .. "+customer)",
            function() db:set_override("alice", "documents.edit",
                                       "team\0+customer") end)
    rejects(db, 'put_bundle: options.rights["documents.see"]: \'all\\000\' '
                .. "is not a value of scope right 'documents.see': it "
                .. "contains a NUL byte (allowed: " .. SCOPES .. ")",
            function() db:put_bundle("x", { rights = {
              ["documents.see"] = "all\0" } }) end)
    rejects(db, "set_bundle_right: value: 'branch\\000none' is not a value "
                .. "of scope right 'documents.see': it contains a NUL byte "
                .. "(allowed: " .. SCOPES .. ")",
            function() db:set_bundle_right("admin", "documents.see",
                                           "branch\0none") end)
    assert.are.equal("department+customer",
                     db:overrides("alice")["documents.edit"])
  end)

  it("in keys of every kind", function()
    local k = "a\0b"
    local calls = {
      function() db:put_unit(k, { level = "team" }) end,
      function() db:put_unit("x", { level = "team", parent = k }) end,
      function() db:put_tenant(k) end,
      function() db:put_right(k, { kind = "flag" }) end,
      function() db:put_bundle(k) end,
      function() db:put_bundle("x", { rights = { [k] = true } }) end,
      function() db:put_user(k) end,
      function() db:put_user("x", { unit = k }) end,
      function() db:put_user("x", { bundles = { k } }) end,
      function() db:set_override(k, "admin.open", true) end,
      function() db:set_override("alice", k, true) end,
      function() db:set_access("alice", k, "full") end,
      function() db:assign_customer("alice", k) end,
      function() db:set_levels{ "country", k } end,
      function() db:set_actor(k) end,
      function() db:put_contact(k) end,
      function() db:put_role(k, { contact = "c" }) end,
      function() db:put_role("r", { contact = k }) end,
      function() db:put_role("r", { contact = "c", tags = { k } }) end,
      function() db:put_role("r", { contact = "c", channels = { [k] = "x" } })
      end,
      function() db:put_list(k, { tenant = "team-a" }) end,
      function() db:put_list("l", { tenant = "team-a", tags = { k } }) end,
    }
    db:put_contact("c")
    for _, call in ipairs(calls) do
      rejects(db, { pattern = "'a\\000b' " }, call)
    end
  end)

  it("in text the store keeps: labels, areas, addresses", function()
    local rule = "(text is stored without NUL bytes: SQLite's functions and "
                 .. "most readers end it there)"
    rejects(db, "put_unit: options.label: 'Sales\\000 Hamburg' contains a "
                .. "NUL byte " .. rule,
            function() db:put_unit("hh", { label = "Sales\0 Hamburg" }) end)
    rejects(db, "put_tenant: options.label: '\\000' contains a NUL byte "
                .. rule,
            function() db:put_tenant("team-a", { label = "\0" }) end)
    rejects(db, "put_right: options.area: 'Docs\\000' contains a NUL byte "
                .. rule,
            function() db:put_right("admin.open", { area = "Docs\0" }) end)
    rejects(db, "put_bundle: options.label: 'a\\000' contains a NUL byte "
                .. rule,
            function() db:put_bundle("admin", { label = "a\0" }) end)
    rejects(db, "put_user: options.label: 'Bob\\000' contains a NUL byte "
                .. rule,
            function() db:put_user("bob", { label = "Bob\0" }) end)
    rejects(db, "put_contact: options.label: 'ACME\\000' contains a NUL "
                .. "byte " .. rule,
            function() db:put_contact("acme", { label = "ACME\0" }) end)
    db:put_contact("acme")
    rejects(db, 'put_role: options.channels["email"]: \'a@b\\000.c\' '
                .. "contains a NUL byte " .. rule,
            function() db:put_role("r", { contact = "acme",
                                          channels = { email = "a@b\0.c" } })
            end)
    rejects(db, "put_list: options.label: 'L\\000' contains a NUL byte "
                .. rule,
            function() db:put_list("l", { tenant = "team-a",
                                          label = "L\0" }) end)
    -- other control characters stay allowed in text
    assert.truthy(db:put_unit("hh", { label = "Sales\nHamburg\t1" }))
    assert.are.equal("Sales\nHamburg\t1", db:get_unit("hh").label)
  end)
end)

describe("long keys and values in messages (issue 22)", function()
  local db
  before_each(function() db = helpers.world() end)
  local big = ("r"):rep(2 ^ 20)

  it("are quoted cut, so no message grows with its input", function()
    local calls = {
      function() db:put_unit("x", { [big] = 1 }) end,
      function() db:put_bundle("x", { rights = { [big] = "team" } }) end,
      function() db:set_override("alice", "documents.edit", big) end,
      function() db:set_override("alice", big, "team") end,
      function() db:audit{ since = big } end,
    }
    for _, call in ipairs(calls) do
      local text = rejects(db, { pattern = ("r"):rep(57) .. "%.%.%." }, call)
      assert.is_true(#text < 300, text:sub(1, 300))
    end
    local _, message, code = db:effective(big)
    assert.are.equal("notfound", code)
    assert.is_true(#message < 300, message:sub(1, 300))
  end)

  it("are cut at the start of a character", function()
    local text = rejects(db, { pattern = "is not a level" }, function()
      db:put_unit("x", { level = ("é"):rep(100) })
    end)
    assert.is_true(V.is_utf8(text), text)
    assert.are.equal("put_unit: options.level: '" .. ("é"):rep(28) .. "...' "
                     .. "is not a level (levels: country, branch, department, "
                     .. "team)", text)
  end)

  it("and an explanation's text stays bounded too", function()
    local why = db:explain(big, "documents.edit", { tenant = big, owner = big,
                                                     unit = big,
                                                     customer = big })
    assert.are.equal("unknown_user", why.reason)
    assert.is_true(#why.text < 2000, #why.text)
    why = db:explain("alice", "documents.edit", { tenant = "team-a",
                                                  owner = big })
    assert.is_true(#why.text < 2000, #why.text)
    -- keys up to 200 bytes are shown whole
    local key = ("k"):rep(200)
    db:put_user(key, { unit = "hh" })
    why = db:explain(key, "documents.edit", { owner = "alice" })
    assert.truthy(why.text:find(key, 1, true))
  end)
end)
