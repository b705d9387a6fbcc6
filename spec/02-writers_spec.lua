-- Every writer's success path, read back through the get/list functions:
-- what was put is what comes back.

local prim = require "primitives"   -- the test-only path to raw SQL
local helpers = require "helpers"

describe("set_levels", function()
  it("stores the levels top to bottom", function()
    local db = helpers.open()
    assert.is_true(db:set_levels{ "country", "branch", "department", "team" })
    assert.are.same({ "country", "branch", "department", "team" }, db:levels())
  end)

  it("may add, remove and reorder levels nothing uses", function()
    local db = helpers.world()
    assert.is_true(db:set_levels{ "planet", "country", "branch", "department",
                                  "team", "person" })
    assert.are.same({ "planet", "country", "branch", "department", "team",
                      "person" }, db:levels())
    assert.is_true(db:set_levels{ "country", "branch", "department", "team" })
    -- reorder: units keep their levels, and a move of an unused level is fine
    db:set_levels{ "country", "branch", "department", "team", "squad" }
    db:set_levels{ "squad", "country", "branch", "department", "team" }
    assert.are.same({ "squad", "country", "branch", "department", "team" },
                    db:levels())
    assert.are.equal("team", db:get_unit("hh-sales-a").level)
  end)

  it("keeps stored scope values, which name levels", function()
    local db = helpers.world()
    db:set_levels{ "country", "branch", "department", "team", "person" }
    assert.are.equal("team", db:get_bundle("inside-sales").rights
                                ["documents.edit"])
    assert.are.same({ ["documents.edit"] = "department+customer" },
                    db:overrides("alice"))
  end)

  it("lets checks see the new levels", function()
    local db = helpers.world()
    assert.is_true(db:check("bob", "documents.see", { unit = "m" }) == false)
    db:set_levels{ "country", "branch", "department", "team", "person" }
    db:set_override("bob", "documents.see", "country")
    assert.is_true(db:check("bob", "documents.see", { unit = "m" }))
  end)
end)

describe("put_unit", function()
  local db
  before_each(function() db = helpers.world() end)

  it("creates units and returns their id", function()
    local id = db:put_unit("hh-sales-b", { level = "team", parent = "hh-sales",
                                           label = "Sales B" })
    assert.are.equal("number", type(id))
    assert.are.same({ key = "hh-sales-b", level = "team", parent = "hh-sales",
                      label = "Sales B" }, db:get_unit("hh-sales-b"))
    assert.are.equal(id, db:id("unit", "hh-sales-b"))
  end)

  it("creates roots on any level", function()
    db:put_unit("remote", { level = "team" })
    assert.are.same({ key = "remote", level = "team" }, db:get_unit("remote"))
  end)

  it("updates only the options given", function()
    local id = db:put_unit("hh", { label = "Hamburg" })
    assert.are.equal(db:id("unit", "hh"), id)
    assert.are.same({ key = "hh", level = "branch", parent = "de",
                      label = "Hamburg" }, db:get_unit("hh"))
    db:put_unit("lab", { level = "branch", label = "Lab" })
    db:put_unit("lab", { level = "team" })
    assert.are.same({ key = "lab", level = "team", label = "Lab" },
                    db:get_unit("lab"))
  end)

  it("removes the label and the parent with false", function()
    db:put_unit("de", { label = false })
    assert.are.same({ key = "de", level = "country" }, db:get_unit("de"))
    db:put_unit("m", { parent = false })
    assert.are.same({ key = "m", level = "branch" }, db:get_unit("m"))
  end)

  it("moves a unit with its subtree", function()
    db:put_unit("hh-sales", { parent = "m" })
    assert.are.equal("m", db:get_unit("hh-sales").parent)
    assert.are.equal("hh-sales", db:get_unit("hh-sales-a").parent)
    -- alice's team now lies under m: bob's branch scope follows the move
    db:put_user("bob", { unit = "m" })
    assert.is_true(db:check("bob", "documents.see", { owner = "alice" }))
  end)

  it("moves a root under a unit of a higher level", function()
    db:put_unit("lab", { parent = "hh" })
    assert.are.equal("hh", db:get_unit("lab").parent)
  end)

  it("lists units in key order", function()
    local keys = {}
    for i, u in ipairs(db:units()) do keys[i] = u.key end
    assert.are.same({ "de", "hh", "hh-sales", "hh-sales-a", "lab", "m" }, keys)
    assert.are.same(db:get_unit("hh-sales"), db:units()[3])
  end)

  it("returns nil for a unit that does not exist", function()
    assert.is_nil(db:get_unit("atlantis"))
  end)
end)

describe("put_tenant", function()
  local db
  before_each(function() db = helpers.world() end)

  it("creates tenants hidden by default", function()
    local id = db:put_tenant("client-b")
    assert.are.equal("number", type(id))
    assert.are.same({ key = "client-b", default = "hidden" },
                    db:get_tenant("client-b"))
  end)

  it("updates only the options given", function()
    db:put_tenant("team-a", { default = "read" })
    assert.are.same({ key = "team-a", label = "Team A", default = "read" },
                    db:get_tenant("team-a"))
    db:put_tenant("team-a", { label = false })
    assert.are.same({ key = "team-a", default = "read" },
                    db:get_tenant("team-a"))
  end)

  it("lists tenants in key order", function()
    assert.are.same({ { key = "common", default = "read" },
                      { key = "team-a", label = "Team A",
                        default = "hidden" } }, db:tenants())
  end)

  it("changes what checks see", function()
    db:put_tenant("client-b")
    assert.are.same({ false, "tenant_hidden" },
                    { db:check("bob", "admin.open", { tenant = "client-b" }) })
    db:put_tenant("client-b", { default = "full" })
    assert.is_true(db:check("bob", "admin.open", { tenant = "client-b" }))
  end)
end)

describe("put_right", function()
  local db
  before_each(function() db = helpers.world() end)

  it("creates rights with defaults mode write, customer false", function()
    db:put_right("appointments.edit", { kind = "scope" })
    assert.are.same({ key = "appointments.edit", kind = "scope",
                      mode = "write", customer = false },
                    db:get_right("appointments.edit"))
  end)

  it("stores every option", function()
    assert.are.same({ key = "documents.edit", kind = "scope", mode = "write",
                      customer = true, area = "Documents",
                      label = "Edit documents" },
                    db:get_right("documents.edit"))
  end)

  it("updates only the options given", function()
    db:put_right("documents.edit", { mode = "read", area = false })
    assert.are.same({ key = "documents.edit", kind = "scope", mode = "read",
                      customer = true, label = "Edit documents" },
                    db:get_right("documents.edit"))
  end)

  it("changes the kind of a right no value uses", function()
    db:put_right("reports.export", { kind = "scope", customer = true })
    db:put_right("reports.export", { kind = "flag" })
    assert.are.same({ key = "reports.export", kind = "flag", mode = "write",
                      customer = false }, db:get_right("reports.export"))
  end)

  it("turns customer off when no stored value uses it", function()
    db:set_override("alice", "documents.edit", "department")
    db:put_right("documents.edit", { customer = false })
    assert.is_false(db:get_right("documents.edit").customer)
  end)

  it("keeps the catalog in the order rights were first put", function()
    db:put_right("a.first", { kind = "flag" })
    db:put_right("documents.edit", { label = "Edit" })
    local keys = {}
    for i, r in ipairs(db:rights()) do keys[i] = r.key end
    assert.are.same({ "documents.edit", "documents.see", "admin.open",
                      "reports.create", "a.first" }, keys)
  end)
end)

describe("put_bundle", function()
  local db
  before_each(function() db = helpers.world() end)

  it("stores flags as booleans and scopes canonically", function()
    assert.are.same({ key = "inside-sales", label = "Inside sales", rights = {
      ["documents.edit"] = "team", ["documents.see"] = "branch",
      ["admin.open"] = false, ["reports.create"] = true } },
      db:get_bundle("inside-sales"))
    db:put_bundle("mgmt", { rights = { ["documents.edit"] = "none+customer",
                                       ["documents.see"] = "all" } })
    assert.are.same({ ["documents.edit"] = "customer",
                      ["documents.see"] = "all" },
                    db:get_bundle("mgmt").rights)
  end)

  it("replaces the whole set of values when rights are given", function()
    db:put_bundle("inside-sales", { rights = { ["documents.see"] = "team" } })
    assert.are.same({ key = "inside-sales", label = "Inside sales",
                      rights = { ["documents.see"] = "team" } },
                    db:get_bundle("inside-sales"))
    db:put_bundle("inside-sales", { rights = {} })
    assert.are.same({}, db:get_bundle("inside-sales").rights)
  end)

  it("keeps the values when only the label changes", function()
    local rights = db:get_bundle("inside-sales").rights
    db:put_bundle("inside-sales", { label = "Innendienst" })
    assert.are.same({ key = "inside-sales", label = "Innendienst",
                      rights = rights }, db:get_bundle("inside-sales"))
  end)

  it("creates empty bundles", function()
    assert.are.equal("number", type(db:put_bundle("nothing")))
    assert.are.same({ key = "nothing", rights = {} }, db:get_bundle("nothing"))
  end)

  it("changes one value with set_bundle_right, others stay", function()
    assert.is_true(db:set_bundle_right("admin", "documents.see", "all"))
    assert.is_true(db:set_bundle_right("admin", "admin.open", false))
    assert.are.same({ ["admin.open"] = false, ["documents.see"] = "all" },
                    db:get_bundle("admin").rights)
    assert.is_true(db:clear_bundle_right("admin", "documents.see"))
    assert.is_true(db:clear_bundle_right("admin", "documents.see"))
    assert.are.same({ ["admin.open"] = false }, db:get_bundle("admin").rights)
  end)

  it("lists bundles in key order", function()
    local list = db:bundles()
    assert.are.same({ db:get_bundle("admin"), db:get_bundle("inside-sales") },
                    list)
  end)

  it("changes what checks see", function()
    assert.is_true(db:check("bob", "admin.open"))
    db:put_bundle("admin", { rights = {} })
    assert.are.same({ false, "no_right" }, { db:check("bob", "admin.open") })
  end)
end)

describe("put_user", function()
  local db
  before_each(function() db = helpers.world() end)

  it("creates active users without unit or bundles by default", function()
    local id = db:put_user("dave")
    assert.are.equal("number", type(id))
    assert.are.same({ key = "dave", bundles = {}, active = true },
                    db:get_user("dave"))
  end)

  it("returns exactly the fields put_user takes", function()
    assert.are.same({ key = "bob", unit = "hh-sales", label = "Bob",
                      bundles = { "inside-sales", "admin" }, active = true },
                    db:get_user("bob"))
    assert.are.same({ key = "carol", bundles = {}, active = false },
                    db:get_user("carol"))
  end)

  it("keeps the bundle order and replaces the list when given", function()
    db:put_user("bob", { bundles = { "admin", "inside-sales" } })
    assert.are.same({ "admin", "inside-sales" }, db:get_user("bob").bundles)
    db:put_user("bob", { bundles = { "admin" } })
    assert.are.same({ "admin" }, db:get_user("bob").bundles)
    db:put_user("bob", { bundles = {} })
    assert.are.same({}, db:get_user("bob").bundles)
  end)

  it("updates only the options given", function()
    db:put_user("bob", { active = false })
    assert.are.same({ key = "bob", unit = "hh-sales", label = "Bob",
                      bundles = { "inside-sales", "admin" }, active = false },
                    db:get_user("bob"))
    db:put_user("bob", { unit = false, label = false })
    assert.are.same({ key = "bob", bundles = { "inside-sales", "admin" },
                      active = false }, db:get_user("bob"))
  end)

  it("lists users in key order", function()
    local list = db:users()
    assert.are.same({ db:get_user("alice"), db:get_user("bob"),
                      db:get_user("carol") }, list)
  end)

  it("is seen by the next check", function()
    assert.are.same({ false, "unknown_user" },
                    { db:check("dave", "admin.open") })
    db:put_user("dave", { bundles = { "admin" } })
    assert.is_true(db:check("dave", "admin.open"))
    db:put_user("dave", { active = false })
    assert.are.same({ false, "inactive_user" },
                    { db:check("dave", "admin.open") })
  end)
end)

describe("overrides, access and customers", function()
  local db
  before_each(function() db = helpers.world() end)

  it("set and clear an override", function()
    assert.is_true(db:set_override("bob", "admin.open", false))
    assert.is_true(db:set_override("bob", "documents.edit", "own"))
    assert.are.same({ ["admin.open"] = false, ["documents.edit"] = "own" },
                    db:overrides("bob"))
    assert.are.same({ false, "no_right" }, { db:check("bob", "admin.open") })
    assert.is_true(db:clear_override("bob", "admin.open"))
    assert.is_true(db:clear_override("bob", "admin.open"))
    assert.are.same({ ["documents.edit"] = "own" }, db:overrides("bob"))
    assert.is_true(db:check("bob", "admin.open"))
  end)

  it("set and clear tenant access", function()
    assert.are.same({ ["team-a"] = "full" }, db:access_of("alice"))
    assert.is_true(db:set_access("alice", "common", "hidden"))
    assert.is_true(db:set_access("alice", "team-a", "read"))
    assert.are.same({ ["team-a"] = "read", common = "hidden" },
                    db:access_of("alice"))
    assert.is_true(db:clear_access("alice", "team-a"))
    assert.is_true(db:clear_access("alice", "team-a"))
    assert.are.same({ common = "hidden" }, db:access_of("alice"))
    assert.are.same({ false, "tenant_hidden" },
                    { db:check("alice", "reports.create",
                               { tenant = "team-a" }) })
  end)

  it("assign and unassign customers", function()
    assert.is_true(db:assign_customer("bob", "ACME"))
    assert.is_true(db:assign_customer("bob", "ACME"))
    assert.is_true(db:assign_customer("bob", "Globex"))
    assert.are.same({ "ACME", "Globex" }, db:customers_of("bob"))
    assert.are.same({ "alice", "bob" }, db:managers_of("ACME"))
    assert.is_true(db:unassign_customer("bob", "ACME"))
    assert.is_true(db:unassign_customer("bob", "ACME"))
    assert.is_true(db:unassign_customer("bob", "never-seen"))
    assert.are.same({ "alice" }, db:managers_of("ACME"))
    assert.are.same({}, db:managers_of("never-seen"))
    -- a customer unassigned and assigned again is the same customer
    db:unassign_customer("alice", "ACME")
    db:assign_customer("alice", "ACME")
    assert.is_true(db:check("alice", "documents.edit", { customer = "ACME",
                                                         owner = "bob" }))
  end)

  it("return nil for users that do not exist", function()
    assert.is_nil(db:overrides("nobody"))
    assert.is_nil(db:access_of("nobody"))
    assert.is_nil(db:customers_of("nobody"))
    assert.are.same({}, db:overrides("bob"))
    assert.are.same({}, db:customers_of("bob"))
  end)
end)

describe("delete_*", function()
  local db
  before_each(function() db = helpers.world() end)

  it("delete_unit deletes a leaf unit", function()
    db:put_user("alice", { unit = "hh-sales" })
    assert.is_true(db:delete_unit("hh-sales-a"))
    assert.is_nil(db:get_unit("hh-sales-a"))
  end)

  it("delete_unit with cascade deletes the subtree and unassigns users",
     function()
    assert.is_true(db:delete_unit("hh", { cascade = true }))
    for _, key in ipairs({ "hh", "hh-sales", "hh-sales-a" }) do
      assert.is_nil(db:get_unit(key))
    end
    assert.are.same({ key = "alice", bundles = { "inside-sales" },
                      active = true }, db:get_user("alice"))
    assert.is_nil(db:get_user("bob").unit)
    assert.is_not_nil(db:get_unit("de"))
    assert.is_not_nil(db:get_unit("m"))
    -- alice keeps her own records, level scopes reach nothing else
    assert.is_true(db:check("alice", "documents.see", { owner = "alice" }))
    assert.are.same({ false, "out_of_scope" },
                    { db:check("alice", "documents.see", { owner = "bob" }) })
  end)

  it("delete_tenant with cascade deletes the access rows", function()
    assert.is_true(db:delete_tenant("common"))
    assert.is_true(db:delete_tenant("team-a", { cascade = true }))
    assert.are.same({}, db:tenants())
    assert.are.same({}, db:access_of("alice"))
    assert.are.same({}, db:access_of("bob"))
  end)

  it("delete_right with cascade removes bundle values and overrides",
     function()
    db:put_right("unused", { kind = "flag" })
    assert.is_true(db:delete_right("unused"))
    assert.is_true(db:delete_right("documents.edit", { cascade = true }))
    assert.is_nil(db:get_right("documents.edit"))
    assert.is_nil(db:get_bundle("inside-sales").rights["documents.edit"])
    assert.are.same({}, db:overrides("alice"))
    assert.has_error(function() db:check("alice", "documents.edit") end)
  end)

  it("delete_bundle with cascade takes it from users, keeping the order",
     function()
    db:put_user("bob", { bundles = { "admin", "inside-sales" } })
    db:put_bundle("spare")
    assert.is_true(db:delete_bundle("spare"))
    assert.is_true(db:delete_bundle("admin", { cascade = true }))
    assert.is_nil(db:get_bundle("admin"))
    assert.are.same({ "inside-sales" }, db:get_user("bob").bundles)
    assert.are.same({ false, "no_right" }, { db:check("bob", "admin.open") })
    db:put_user("bob", { bundles = { "inside-sales" } })
    assert.are.same({ "inside-sales" }, db:get_user("bob").bundles)
  end)

  it("delete_user deletes the user with all their rows", function()
    assert.is_true(db:delete_user("alice"))
    assert.is_nil(db:get_user("alice"))
    assert.are.same({}, db:managers_of("ACME"))
    assert.are.equal(0, #prim.rows(db, "SELECT * FROM overrides"))
    assert.are.same({ false, "unknown_user" },
                    { db:check("alice", "admin.open") })
    -- the key can be used again, for a new user
    db:put_user("alice")
    assert.are.same({ key = "alice", bundles = {}, active = true },
                    db:get_user("alice"))
    assert.are.same({}, db:overrides("alice"))
  end)
end)

describe("keys", function()
  local odd = {
    "o'brien", 'say "hi"', "100%", "a;b", "'; DROP TABLE users; --",
    "x' OR '1'='1", "%s%d", "Müller", "日本", ("k"):rep(200), " spaced ",
  }

  it("with quotes, %, ; and SQL text are ordinary keys", function()
    local db = helpers.world()
    for _, key in ipairs(odd) do
      db:put_unit(key, { level = "team", parent = "hh-sales", label = key })
      db:put_tenant(key, { label = key })
      db:put_right(key, { kind = "scope", label = key })
      db:put_bundle(key, { label = key, rights = { [key] = "team" } })
      db:put_user(key, { unit = key, bundles = { key }, label = key })
      db:set_override(key, key, "own")
      db:set_access(key, key, "read")
      db:assign_customer(key, key)
      assert.are.same({ key = key, level = "team", parent = "hh-sales",
                        label = key }, db:get_unit(key))
      assert.are.same({ key = key, unit = key, bundles = { key },
                        active = true, label = key }, db:get_user(key))
      assert.are.same({ [key] = "own" }, db:overrides(key))
      assert.are.same({ [key] = "read" }, db:access_of(key))
      assert.are.same({ key }, db:managers_of(key))
      assert.are.equal(key, db:audit{ subject = "user:" .. key }[1].after.key)
    end
    assert.are.equal(3 + #odd, #db:users())
    assert.is_not_nil(db:get_user("alice"))
  end)

  it("with quotes, % and ; are ordinary level names and scope values",
     function()
    local db = helpers.open()
    db:set_levels{ "it's", "50%", "a;b" }
    db:put_unit("top", { level = "it's" })
    db:put_unit("mid", { level = "50%", parent = "top" })
    db:put_unit("low", { level = "a;b", parent = "mid" })
    db:put_right("see", { kind = "scope", customer = true })
    db:put_bundle("b", { rights = { see = "50%+customer" } })
    db:put_user("u", { unit = "low", bundles = { "b" } })
    db:set_override("u", "see", "it's")
    assert.are.same({ see = "50%+customer" }, db:get_bundle("b").rights)
    assert.are.same({ see = "it's" }, db:overrides("u"))
    assert.is_true(db:check("u", "see", { unit = "top" }))
  end)
end)
