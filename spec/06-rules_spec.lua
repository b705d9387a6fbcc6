-- The decision rules of docs/semantics.md section 3, one `it` per rule,
-- through the public module, on the example of docs/semantics.md
-- section 1.10.

local mandate = require "mandate"

local unpack = table.unpack or unpack

-- The LOGO world: a CRM with a country, two branches, departments and teams,
-- a team directly under a branch (a skipped rung) and a root on the
-- department level.
--
--   de (country)
--   +- hh (branch)
--   |  +- hh-sales (department)
--   |  |  +- hh-sales-a (team)      alice, bob
--   |  |  +- hh-sales-b (team)      carol
--   |  +- hh-service (department)   dave
--   |  +- hh-direct (team)          gina   (no department between)
--   +- m (branch)
--      +- m-sales (department)
--         +- m-sales-a (team)       erin
--   lab (department, a root)
--   +- lab-x (team)                 ivan
--   frank has no unit.
local function logo()
  local db = assert(mandate.open(":memory:"))
  db:set_levels{ "country", "branch", "department", "team" }
  db:put_unit("de", { level = "country", label = "Germany" })
  db:put_unit("hh", { level = "branch", parent = "de" })
  db:put_unit("m", { level = "branch", parent = "de" })
  db:put_unit("hh-sales", { level = "department", parent = "hh" })
  db:put_unit("hh-service", { level = "department", parent = "hh" })
  db:put_unit("hh-sales-a", { level = "team", parent = "hh-sales" })
  db:put_unit("hh-sales-b", { level = "team", parent = "hh-sales" })
  db:put_unit("hh-direct", { level = "team", parent = "hh" })
  db:put_unit("m-sales", { level = "department", parent = "m" })
  db:put_unit("m-sales-a", { level = "team", parent = "m-sales" })
  db:put_unit("lab", { level = "department" })
  db:put_unit("lab-x", { level = "team", parent = "lab" })

  db:put_right("customers.see", { kind = "scope", mode = "read", customer = true })
  db:put_right("documents.see", { kind = "scope", mode = "read" })
  db:put_right("appointments.see", { kind = "scope", mode = "read" })
  db:put_right("documents.edit", { kind = "scope", mode = "write", customer = true })
  db:put_right("appointments.edit", { kind = "scope" })      -- mode: write by default
  db:put_right("admin.open", { kind = "flag" })               -- mode: write by default
  db:put_right("reports.create", { kind = "flag", mode = "read" })

  db:put_bundle("inside-sales", { rights = {
    ["customers.see"] = "all",
    ["documents.see"] = "branch",
    ["appointments.see"] = "team",
    ["documents.edit"] = "team",
    ["appointments.edit"] = "own",
    ["admin.open"] = false,
    ["reports.create"] = true,
  } })
  db:put_bundle("admin", { rights = { ["admin.open"] = true } })
  db:put_bundle("empty", { rights = {} })

  local sales = { "inside-sales" }
  db:put_user("alice", { unit = "hh-sales-a", bundles = sales, active = true })
  db:put_user("bob", { unit = "hh-sales-a", bundles = sales })
  db:put_user("carol", { unit = "hh-sales-b", bundles = sales })
  db:put_user("dave", { unit = "hh-service", bundles = sales })
  db:put_user("erin", { unit = "m-sales-a", bundles = sales })
  db:put_user("frank", { bundles = sales })
  db:put_user("gina", { unit = "hh-direct", bundles = {} })
  db:put_user("harry", { unit = "hh-sales", bundles = {} })
  db:put_user("ivan", { unit = "lab-x", bundles = {} })
  return db
end

-- check's results as one comparable table: {true} or {false, reason}
local function check(db, user, right, record)
  return { db:check(user, right, record) }
end

local ALLOWED = { true }
local function denied(reason) return { false, reason } end

describe("section 3: values", function()
  local db
  before_each(function() db = logo() end)
  after_each(function() db:close() end)

  it("a flag right is allowed iff its effective value is true", function()
    assert.same(ALLOWED, check(db, "alice", "reports.create"))
    assert.same(denied("no_right"), check(db, "alice", "admin.open"))
    db:set_override("alice", "admin.open", true)
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
    -- a flag does not look at the record's owner, unit or customer
    assert.same(ALLOWED, check(db, "alice", "admin.open", { owner = "erin", unit = "lab" }))
    assert.same(ALLOWED, check(db, "alice", "admin.open", { customer = "NOBODY" }))
  end)

  it("scope values are ordered none < own < levels bottom to top < all", function()
    -- records of alice, her team, her department, her branch, her country,
    -- and one outside her country
    local records = {
      { owner = "alice" },
      { owner = "bob" },
      { owner = "carol" },
      { owner = "dave" },
      { owner = "erin" },
      { unit = "lab-x" },
    }
    local values = { "none", "own", "team", "department", "branch", "country", "all" }
    for v, value in ipairs(values) do
      db:set_override("alice", "documents.see", value)
      for i, record in ipairs(records) do
        local expected = ALLOWED
        if v == 1 then expected = denied("no_right")
        elseif i >= v then expected = denied("out_of_scope") end
        assert.same(expected, check(db, "alice", "documents.see", record),
                    value .. " on record " .. i)
      end
    end
  end)

  it("'customer' alone means none+customer and counts as held", function()
    db:set_override("alice", "documents.edit", "customer")
    db:assign_customer("alice", "ACME")
    -- held: no record, or a record naming no owner, unit or customer
    assert.same(ALLOWED, check(db, "alice", "documents.edit"))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", {}))
    -- the customer part reaches ACME's records anywhere
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { customer = "ACME", owner = "erin" }))
    -- but nothing else, not even her own records: there is no level part
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.edit", { owner = "alice" }))
    assert.same(denied("out_of_scope"),
                check(db, "alice", "documents.edit", { owner = "alice", customer = "OTHER" }))
  end)

  it("'level+customer' joins a level part and the customer part", function()
    db:set_override("alice", "documents.edit", "team+customer")
    db:assign_customer("alice", "ACME")
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { owner = "erin", customer = "ACME" }))
    assert.same(denied("out_of_scope"),
                check(db, "alice", "documents.edit", { owner = "erin", customer = "OTHER" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.edit", { owner = "erin" }))
    db:unassign_customer("alice", "ACME")
    assert.same(denied("out_of_scope"),
                check(db, "alice", "documents.edit", { owner = "erin", customer = "ACME" }))
    -- the customer part belongs to the manager only
    assert.same(denied("out_of_scope"),
                check(db, "bob", "documents.edit", { owner = "erin", customer = "ACME" }))
  end)
end)

describe("section 3: effective value", function()
  local db
  before_each(function() db = logo() end)
  after_each(function() db:close() end)

  it("an override extends what the bundles give", function()
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.see", { owner = "dave" }))
    db:set_override("alice", "appointments.see", "branch")
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "dave" }))
    db:set_override("alice", "admin.open", true)
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
    db:clear_override("alice", "appointments.see")
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.see", { owner = "dave" }))
  end)

  it("an override restricts what the bundles give", function()
    assert.same(ALLOWED, check(db, "alice", "customers.see", { owner = "erin" }))
    db:set_override("alice", "customers.see", "own")
    assert.same(denied("out_of_scope"), check(db, "alice", "customers.see", { owner = "erin" }))
    assert.same(ALLOWED, check(db, "alice", "customers.see", { owner = "alice" }))
    db:set_override("alice", "customers.see", "none")
    assert.same(denied("no_right"), check(db, "alice", "customers.see", { owner = "alice" }))
    db:set_override("alice", "reports.create", false)
    assert.same(denied("no_right"), check(db, "alice", "reports.create"))
    -- other users keep the bundle's value
    assert.same(ALLOWED, check(db, "bob", "customers.see", { owner = "erin" }))
    assert.same(ALLOWED, check(db, "bob", "reports.create"))
  end)

  it("bundles join: flags OR, scopes the highest level, customer parts OR", function()
    db:put_bundle("field", { rights = {
      ["admin.open"] = true,
      ["appointments.see"] = "own",
      ["documents.edit"] = "customer",
      ["documents.see"] = "department",
    } })
    db:put_user("alice", { bundles = { "inside-sales", "field" } })
    db:assign_customer("alice", "ACME")
    -- admin.open: false OR true
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
    -- appointments.see: max(team, own) = team
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "bob" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.see", { owner = "carol" }))
    -- documents.see: max(branch, department) = branch
    assert.same(ALLOWED, check(db, "alice", "documents.see", { owner = "dave" }))
    -- documents.edit: team joined with customer = team+customer
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { owner = "erin", customer = "ACME" }))
    -- the order of the bundles does not matter
    db:put_user("alice", { bundles = { "field", "inside-sales" } })
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "alice", "documents.see", { owner = "dave" }))
  end)

  it("with no bundle a flag is false and a scope is none", function()
    assert.same(denied("no_right"), check(db, "gina", "admin.open"))
    assert.same(denied("no_right"), check(db, "gina", "documents.see"))
    assert.same(denied("no_right"), check(db, "gina", "documents.see", { owner = "gina" }))
    -- a bundle that does not mention the right gives nothing either
    db:put_user("gina", { bundles = { "empty", "admin" } })
    assert.same(denied("no_right"), check(db, "gina", "documents.see", { owner = "gina" }))
    assert.same(ALLOWED, check(db, "gina", "admin.open"))
  end)

  it("an inactive user holds nothing", function()
    db:set_override("alice", "admin.open", true)
    db:put_user("alice", { active = false })
    assert.same(denied("inactive_user"), check(db, "alice", "admin.open"))
    assert.same(denied("inactive_user"), check(db, "alice", "customers.see"))
    assert.same(denied("inactive_user"), check(db, "alice", "customers.see", { owner = "alice" }))
    -- reactivated, everything is back (the update kept unit and bundles)
    db:put_user("alice", { active = true })
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "bob" }))
  end)
end)

describe("section 3: the tenant gate", function()
  local db
  before_each(function()
    db = logo()
    db:put_tenant("A", { label = "Team A", default = "hidden" })
    db:put_tenant("B", { default = "read" })
    db:put_tenant("C", { default = "full" })
    db:put_tenant("D", {})                    -- no default: hidden
    db:set_access("alice", "A", "full")
    db:set_access("alice", "B", "hidden")
    db:set_access("alice", "C", "read")
  end)
  after_each(function() db:close() end)

  it("access is the user's explicit access, else the tenant's default", function()
    -- {tenant, user, access that applies}
    local matrix = {
      { "A", "alice", "full" }, { "A", "bob", "hidden" },
      { "B", "alice", "hidden" }, { "B", "bob", "read" },
      { "C", "alice", "read" }, { "C", "bob", "full" },
      { "D", "alice", "hidden" }, { "D", "bob", "hidden" },
    }
    for _, m in ipairs(matrix) do
      local tenant, user, access = m[1], m[2], m[3]
      local read_right = check(db, user, "customers.see", { tenant = tenant, owner = "erin" })
      local write_right = check(db, user, "documents.edit", { tenant = tenant, owner = user })
      local read_flag = check(db, user, "reports.create", { tenant = tenant })
      local where = user .. " on " .. tenant
      if access == "full" then
        assert.same(ALLOWED, read_right, where)
        assert.same(ALLOWED, write_right, where)
        assert.same(ALLOWED, read_flag, where)
      elseif access == "read" then
        assert.same(ALLOWED, read_right, where)
        assert.same(denied("tenant_read_only"), write_right, where)
        assert.same(ALLOWED, read_flag, where)
      else
        assert.same(denied("tenant_hidden"), read_right, where)
        assert.same(denied("tenant_hidden"), write_right, where)
        assert.same(denied("tenant_hidden"), read_flag, where)
      end
    end
  end)

  it("a tenant's default is hidden unless set", function()
    assert.same(denied("tenant_hidden"), check(db, "bob", "reports.create", { tenant = "D" }))
    db:put_tenant("D", { default = "read" })
    assert.same(ALLOWED, check(db, "bob", "reports.create", { tenant = "D" }))
    -- an update without a default keeps the stored one
    db:put_tenant("D", { label = "Team D" })
    assert.same(ALLOWED, check(db, "bob", "reports.create", { tenant = "D" }))
  end)

  it("hidden denies everything, flags and read rights included", function()
    db:set_override("alice", "admin.open", true)
    assert.same(denied("tenant_hidden"), check(db, "alice", "admin.open", { tenant = "B" }))
    assert.same(denied("tenant_hidden"), check(db, "alice", "customers.see", { tenant = "B" }))
    assert.same(denied("tenant_hidden"),
                check(db, "alice", "customers.see", { tenant = "B", owner = "alice" }))
  end)

  it("read denies rights whose mode is write and allows read-mode rights", function()
    db:set_override("alice", "admin.open", true)
    local record = { tenant = "C", owner = "alice" }
    assert.same(ALLOWED, check(db, "alice", "documents.see", record))
    assert.same(ALLOWED, check(db, "alice", "reports.create", { tenant = "C" }))
    assert.same(denied("tenant_read_only"), check(db, "alice", "documents.edit", record))
    assert.same(denied("tenant_read_only"), check(db, "alice", "admin.open", { tenant = "C" }))
  end)

  it("a right's mode defaults to write (fail safe)", function()
    -- appointments.edit and admin.open were put without a mode
    db:set_override("alice", "admin.open", true)
    assert.same(denied("tenant_read_only"),
                check(db, "alice", "appointments.edit", { tenant = "C", owner = "alice" }))
    assert.same(denied("tenant_read_only"), check(db, "alice", "admin.open", { tenant = "C" }))
    -- an update without a mode keeps the stored one
    db:put_right("documents.see", { label = "See documents" })
    assert.same(ALLOWED, check(db, "alice", "documents.see", { tenant = "C", owner = "alice" }))
    db:put_right("appointments.edit", { mode = "read" })
    assert.same(ALLOWED, check(db, "alice", "appointments.edit", { tenant = "C", owner = "alice" }))
  end)

  it("a record without a tenant is common data: no gate", function()
    -- bob sees B only read and D not at all, common data fully
    assert.same(ALLOWED, check(db, "bob", "documents.edit", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { owner = "alice" }))
    assert.same(ALLOWED, check(db, "alice", "reports.create", {}))
    assert.same(ALLOWED, check(db, "alice", "reports.create"))
  end)

  it("an unknown tenant denies", function()
    assert.same(denied("unknown_tenant"), check(db, "alice", "customers.see", { tenant = "Z" }))
    assert.same(denied("unknown_tenant"),
                check(db, "alice", "customers.see", { tenant = "Z", owner = "alice" }))
  end)

  it("moving a user by changing tenant access; clear_access returns to the default", function()
    -- departments as tenants: alice moves from A to D
    local a, d = { tenant = "A", owner = "alice" }, { tenant = "D", owner = "alice" }
    assert.same(ALLOWED, check(db, "alice", "documents.edit", a))
    assert.same(denied("tenant_hidden"), check(db, "alice", "documents.edit", d))
    db:transaction(function()
      db:set_access("alice", "A", "hidden")
      db:set_access("alice", "D", "full")
    end)
    assert.same(denied("tenant_hidden"), check(db, "alice", "documents.edit", a))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", d))
    db:clear_access("alice", "D")
    assert.same(denied("tenant_hidden"), check(db, "alice", "documents.edit", d))
    db:clear_access("alice", "C")
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { tenant = "C", owner = "alice" }))
  end)
end)

describe("section 3: scope match", function()
  local db
  before_each(function() db = logo() end)
  after_each(function() db:close() end)

  it("the LOGO example: see customers, documents of the branch, appointments of the team;"
     .. " edit documents of the team, own appointments", function()
    local cases = {
      -- right, owner, expected
      { "customers.see", "erin", ALLOWED },             -- all customers
      { "customers.see", "ivan", ALLOWED },
      { "documents.see", "dave", ALLOWED },             -- branch hh
      { "documents.see", "gina", ALLOWED },
      { "documents.see", "erin", denied("out_of_scope") },
      { "appointments.see", "bob", ALLOWED },           -- team hh-sales-a
      { "appointments.see", "carol", denied("out_of_scope") },
      { "documents.edit", "bob", ALLOWED },             -- team
      { "documents.edit", "carol", denied("out_of_scope") },
      { "appointments.edit", "alice", ALLOWED },        -- own
      { "appointments.edit", "bob", denied("out_of_scope") },
    }
    for _, c in ipairs(cases) do
      assert.same(c[3], check(db, "alice", c[1], { owner = c[2] }), c[1] .. " of " .. c[2])
    end
  end)

  it("own: the record's owner is the user; every level and all include own", function()
    for _, value in ipairs{ "own", "team", "department", "branch", "country", "all" } do
      db:set_override("frank", "appointments.edit", value)
      assert.same(ALLOWED, check(db, "frank", "appointments.edit", { owner = "frank" }), value)
      db:set_override("alice", "appointments.edit", value)
      -- own even when the record's unit lies elsewhere
      assert.same(ALLOWED, check(db, "alice", "appointments.edit", { owner = "alice", unit = "lab-x" }),
                  value)
    end
  end)

  it("level L: the record's unit lies in the subtree of anchor(u, L)", function()
    assert.same(ALLOWED, check(db, "alice", "documents.see", { unit = "hh" }))
    assert.same(ALLOWED, check(db, "alice", "documents.see", { unit = "hh-service" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", { unit = "de" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", { unit = "m-sales-a" }))
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { unit = "hh-sales-a" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.see", { unit = "hh-sales" }))
  end)

  it("the record's unit defaults to the owner's unit; a given unit wins", function()
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "bob" }))
    assert.same(denied("out_of_scope"),
                check(db, "alice", "appointments.see", { owner = "bob", unit = "hh-sales-b" }))
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "erin", unit = "hh-sales-a" }))
    -- an owner without a unit gives the record no unit
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", { owner = "frank" }))
  end)

  it("a user above L is anchored at their own unit: no top-down narrowing", function()
    -- harry sits in the department hh-sales; a team value reaches the whole department
    db:set_override("harry", "appointments.see", "team")
    assert.same(ALLOWED, check(db, "harry", "appointments.see", { owner = "alice" }))
    assert.same(ALLOWED, check(db, "harry", "appointments.see", { owner = "carol" }))
    assert.same(ALLOWED, check(db, "harry", "appointments.see", { unit = "hh-sales" }))
    assert.same(denied("out_of_scope"), check(db, "harry", "appointments.see", { owner = "dave" }))
    -- the higher the user, the more they see
    db:put_user("harry", { unit = "hh" })
    assert.same(ALLOWED, check(db, "harry", "appointments.see", { owner = "dave" }))
  end)

  it("levels that skip rungs: a team directly under a branch", function()
    -- gina's path is hh-direct (team), hh (branch): anchor(gina, department) = hh-direct
    db:set_override("gina", "documents.see", "department")
    assert.same(ALLOWED, check(db, "gina", "documents.see", { owner = "gina" }))
    assert.same(ALLOWED, check(db, "gina", "documents.see", { unit = "hh-direct" }))
    assert.same(denied("out_of_scope"), check(db, "gina", "documents.see", { owner = "alice" }))
    assert.same(denied("out_of_scope"), check(db, "gina", "documents.see", { unit = "hh" }))
    db:set_override("gina", "documents.see", "team")
    assert.same(ALLOWED, check(db, "gina", "documents.see", { unit = "hh-direct" }))
    db:set_override("gina", "documents.see", "branch")
    assert.same(ALLOWED, check(db, "gina", "documents.see", { owner = "alice" }))
    assert.same(ALLOWED, check(db, "gina", "documents.see", { owner = "dave" }))
    assert.same(denied("out_of_scope"), check(db, "gina", "documents.see", { owner = "erin" }))
    -- and a user in the department sees nothing of the team beside it
    db:set_override("harry", "documents.see", "department")
    assert.same(denied("out_of_scope"), check(db, "harry", "documents.see", { owner = "gina" }))
  end)

  it("a root on a lower level bounds every higher level", function()
    -- ivan's path is lab-x (team), lab (department, a root)
    for _, value in ipairs{ "department", "branch", "country" } do
      db:set_override("ivan", "documents.see", value)
      assert.same(ALLOWED, check(db, "ivan", "documents.see", { unit = "lab" }), value)
      assert.same(ALLOWED, check(db, "ivan", "documents.see", { unit = "lab-x" }), value)
      assert.same(denied("out_of_scope"), check(db, "ivan", "documents.see", { unit = "de" }), value)
      assert.same(denied("out_of_scope"), check(db, "ivan", "documents.see", { owner = "alice" }), value)
    end
    db:set_override("ivan", "documents.see", "team")
    assert.same(denied("out_of_scope"), check(db, "ivan", "documents.see", { unit = "lab" }))
    db:set_override("ivan", "documents.see", "all")
    assert.same(ALLOWED, check(db, "ivan", "documents.see", { owner = "alice" }))
    -- and the country value of a user under de does not reach the lab
    db:set_override("alice", "documents.see", "country")
    assert.same(ALLOWED, check(db, "alice", "documents.see", { owner = "erin" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", { owner = "ivan" }))
  end)

  it("a user without a unit: level values reach only their own records", function()
    -- frank has the inside-sales bundle but no unit
    assert.same(ALLOWED, check(db, "frank", "documents.see", { owner = "frank" }))
    assert.same(denied("out_of_scope"), check(db, "frank", "documents.see", { owner = "alice" }))
    assert.same(denied("out_of_scope"), check(db, "frank", "documents.see", { unit = "hh" }))
    assert.same(denied("out_of_scope"), check(db, "frank", "documents.see", { owner = "gina" }))
    -- all and the customer part still apply
    assert.same(ALLOWED, check(db, "frank", "customers.see", { owner = "erin" }))
    db:set_override("frank", "documents.edit", "country+customer")
    db:assign_customer("frank", "ACME")
    assert.same(ALLOWED, check(db, "frank", "documents.edit", { owner = "erin", customer = "ACME" }))
    assert.same(denied("out_of_scope"), check(db, "frank", "documents.edit", { owner = "erin" }))
    -- and held without a record
    assert.same(ALLOWED, check(db, "frank", "documents.see"))
  end)

  it("all matches every record", function()
    for _, record in ipairs{
      { owner = "erin" }, { unit = "lab-x" }, { owner = "ghost" }, { unit = "nowhere" },
      { customer = "NOBODY" }, { owner = "frank" },
    } do
      assert.same(ALLOWED, check(db, "alice", "customers.see", record))
    end
  end)

  it("the customer part: a customer the user manages", function()
    db:set_override("alice", "documents.edit", "own+customer")
    db:assign_customer("alice", "ACME")
    db:assign_customer("bob", "BETA")
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { customer = "ACME" }))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { customer = "ACME", unit = "lab" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.edit", { customer = "BETA" }))
    -- the customer part of a right's value, not the customer assignment alone
    assert.same(denied("out_of_scope"),
                check(db, "bob", "appointments.edit", { customer = "BETA", owner = "carol" }))
  end)

  it("unknown owners, units and customers match nothing and are no errors", function()
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", { owner = "ghost" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", { unit = "nowhere" }))
    db:set_override("alice", "documents.edit", "branch+customer")
    db:assign_customer("alice", "ACME")
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.edit", { customer = "NOBODY" }))
    -- an unknown unit does not fall back to the owner's unit
    assert.same(denied("out_of_scope"),
                check(db, "alice", "documents.see", { owner = "bob", unit = "nowhere" }))
    -- an unknown owner is nobody's own, not even with an own value
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.edit", { owner = "ghost" }))
    -- a known part still matches beside an unknown one
    assert.same(ALLOWED, check(db, "alice", "documents.see", { owner = "ghost", unit = "hh-service" }))
    assert.same(ALLOWED, check(db, "alice", "documents.edit", { owner = "ghost", customer = "ACME" }))
  end)

  it("a record with no owner, unit or customer asks whether u holds r", function()
    assert.same(ALLOWED, check(db, "alice", "appointments.edit", {}))   -- own
    assert.same(ALLOWED, check(db, "frank", "documents.see", {}))       -- no unit
    assert.same(denied("no_right"), check(db, "gina", "documents.see", {}))
    db:put_tenant("A", { default = "full" })
    assert.same(ALLOWED, check(db, "alice", "appointments.edit", { tenant = "A" }))
    assert.same(denied("no_right"), check(db, "gina", "documents.see", { tenant = "A" }))
  end)

  it("the department move: changing a user's unit changes what they see", function()
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "bob" }))
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.see", { owner = "erin" }))
    assert.same(ALLOWED, check(db, "bob", "appointments.see", { owner = "alice" }))
    db:put_user("alice", { unit = "m-sales-a" })
    assert.same(denied("out_of_scope"), check(db, "alice", "appointments.see", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "erin" }))
    assert.same(ALLOWED, check(db, "alice", "documents.see", { unit = "m" }))
    -- her records moved with her: bob no longer sees them, erin does
    assert.same(denied("out_of_scope"), check(db, "bob", "appointments.see", { owner = "alice" }))
    assert.same(ALLOWED, check(db, "erin", "appointments.see", { owner = "alice" }))
    -- moving a unit moves everyone in it
    db:put_unit("m-sales", { level = "department", parent = "hh" })
    assert.same(ALLOWED, check(db, "bob", "documents.see", { owner = "erin" }))
  end)
end)

describe("section 3: check", function()
  local db
  before_each(function() db = logo() end)
  after_each(function() db:close() end)

  it("an unknown right raises an error naming it", function()
    local ok, err = pcall(db.check, db, "alice", "documents.sea", { owner = "alice" })
    assert.is_false(ok)
    assert.matches("documents.sea", tostring(err), 1, true)
    -- before anything else: an unknown user does not turn it into a denial
    ok, err = pcall(db.check, db, "ghost", "nothing.here")
    assert.is_false(ok)
    assert.matches("nothing.here", tostring(err), 1, true)
    assert.has_error(function() db:explain("alice", "documents.sea") end)
  end)

  it("an unknown user is denied with unknown_user", function()
    assert.same(denied("unknown_user"), check(db, "ghost", "documents.see"))
    assert.same(denied("unknown_user"), check(db, "ghost", "customers.see", { owner = "ghost" }))
  end)

  it("an inactive user is denied with inactive_user", function()
    db:put_user("bob", { active = false })
    assert.same(denied("inactive_user"), check(db, "bob", "documents.see", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "alice", "appointments.see", { owner = "bob" }))
  end)

  it("without a record: allowed iff the user holds the right at all", function()
    assert.same(ALLOWED, check(db, "alice", "appointments.edit"))
    assert.same(ALLOWED, check(db, "alice", "reports.create"))
    assert.same(denied("no_right"), check(db, "alice", "admin.open"))
    assert.same(denied("no_right"), check(db, "gina", "documents.see"))
  end)

  it("the first failing step names the reason", function()
    db:put_tenant("H", { default = "hidden" })
    db:put_tenant("R", { default = "read" })
    db:put_user("bob", { active = false })
    local far = { owner = "erin" }
    -- user before tenant
    assert.same(denied("unknown_user"), check(db, "ghost", "documents.edit", { tenant = "Z" }))
    assert.same(denied("inactive_user"), check(db, "bob", "documents.edit", { tenant = "Z" }))
    assert.same(denied("inactive_user"), check(db, "bob", "documents.edit", { tenant = "H" }))
    -- tenant before right
    assert.same(denied("unknown_tenant"), check(db, "gina", "documents.edit", { tenant = "Z" }))
    assert.same(denied("tenant_hidden"), check(db, "gina", "documents.edit", { tenant = "H" }))
    assert.same(denied("tenant_read_only"), check(db, "gina", "documents.edit", { tenant = "R" }))
    assert.same(denied("tenant_hidden"),
                check(db, "alice", "documents.edit", { tenant = "H", owner = "erin" }))
    -- no right before out of scope
    assert.same(denied("no_right"), check(db, "gina", "documents.see", far))
    assert.same(denied("out_of_scope"), check(db, "alice", "documents.see", far))
  end)
end)

describe("db:explain", function()
  local db
  before_each(function()
    db = logo()
    db:put_tenant("B", { default = "hidden" })
    db:put_tenant("R", { default = "read" })
    db:set_access("alice", "B", "hidden")
  end)
  after_each(function() db:close() end)

  -- explain must agree with check, and apply its fix when it has one
  local function explain(user, right, record)
    local why = db:explain(user, right, record)
    local ok, reason = db:check(user, right, record)
    assert.equal(ok, why.allowed)
    assert.equal(reason, why.reason)
    assert.is_string(why.text)
    assert.is_true(#why.text > 0)
    return why
  end

  local function apply(fix)
    return db[fix.call[1]](db, unpack(fix.call, 2))
  end

  it("explains an allowed check: value, source, access, anchor", function()
    db:set_access("alice", "R", "full")
    local why = explain("alice", "documents.see", { tenant = "R", owner = "dave" })
    assert.is_true(why.allowed)
    assert.is_nil(why.reason)
    assert.is_nil(why.fix)
    assert.equal("branch", why.value)
    assert.equal("bundles", why.source)
    assert.equal("full", why.access)
    assert.is_true(why.access_explicit)
    assert.equal("hh", why.anchor)
    why = explain("bob", "documents.see", { tenant = "R", owner = "dave" })
    assert.equal("read", why.access)
    assert.is_false(why.access_explicit)
  end)

  it("names the override as the source", function()
    db:set_override("gina", "documents.see", "department")
    local why = explain("gina", "documents.see", { unit = "hh-direct" })
    assert.is_true(why.allowed)
    assert.equal("override", why.source)
    assert.equal("department", why.value)
    assert.equal("hh-direct", why.anchor)
    why = explain("gina", "admin.open")
    assert.equal("none", why.source)
    assert.equal(false, why.value)
    assert.equal("no_right", why.reason)
  end)

  it("a hidden tenant: the fix grants the smallest access that allows it", function()
    local record = { tenant = "B", owner = "alice" }
    local why = explain("alice", "documents.see", record)
    assert.equal("tenant_hidden", why.reason)
    assert.equal("hidden", why.access)
    assert.is_true(why.access_explicit)
    assert.same({ "set_access", "alice", "B", "read" }, why.fix.call)   -- read-mode right
    assert.is_string(why.fix.text)
    why = explain("alice", "documents.edit", record)
    assert.same({ "set_access", "alice", "B", "full" }, why.fix.call)   -- write-mode right
    apply(why.fix)
    assert.same(ALLOWED, check(db, "alice", "documents.edit", record))
    assert.is_true(explain("alice", "documents.edit", record).allowed)
  end)

  it("a read-only tenant: the fix grants full access", function()
    local record = { tenant = "R", owner = "alice" }
    local why = explain("alice", "documents.edit", record)
    assert.equal("tenant_read_only", why.reason)
    assert.equal("read", why.access)
    assert.is_false(why.access_explicit)
    assert.same({ "set_access", "alice", "R", "full" }, why.fix.call)
    apply(why.fix)
    assert.same(ALLOWED, check(db, "alice", "documents.edit", record))
  end)

  it("out of scope: the fix overrides the right to the smallest value that reaches", function()
    local record = { owner = "carol" }
    local why = explain("alice", "appointments.see", record)
    assert.equal("out_of_scope", why.reason)
    assert.equal("hh-sales-a", why.anchor)
    assert.same({ "set_override", "alice", "appointments.see", "department" }, why.fix.call)
    apply(why.fix)
    assert.same(ALLOWED, check(db, "alice", "appointments.see", record))
  end)

  it("no right: the fix overrides the flag", function()
    local why = explain("alice", "admin.open")
    assert.equal("no_right", why.reason)
    assert.same({ "set_override", "alice", "admin.open", true }, why.fix.call)
    apply(why.fix)
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
  end)

  it("an inactive user: the fix activates them", function()
    db:put_user("bob", { active = false })
    local why = explain("bob", "appointments.see", { owner = "alice" })
    assert.equal("inactive_user", why.reason)
    assert.same({ "put_user", "bob", { active = true } }, why.fix.call)
    apply(why.fix)
    assert.same(ALLOWED, check(db, "bob", "appointments.see", { owner = "alice" }))
  end)

  it("an inactive user holds nothing, and db:effective says so", function()
    local before = db:effective("bob")
    db:put_user("bob", { active = false })
    local after = db:effective("bob")
    assert.equal(#before, #after)
    for i, row in ipairs(after) do
      local nothing = "none"
      if row.kind == "flag" then nothing = false end
      assert.same({ before[i].right, before[i].bundles, before[i].override, nothing, "inactive" },
                  { row.right, row.bundles, row.override, row.effective, row.source })
    end
    db:put_user("bob", { active = true })
    assert.same(before, db:effective("bob"))
  end)

  it("no single change helps: a fix without a call, and a text that says so", function()
    local why = explain("ghost", "documents.see")
    assert.equal("unknown_user", why.reason)
    assert.is_true(why.fix == nil or why.fix.call == nil)
    why = explain("alice", "documents.see", { tenant = "Z" })
    assert.equal("unknown_tenant", why.reason)
    assert.is_true(why.fix == nil or why.fix.call == nil)
    -- hidden tenant and no right: two changes needed
    why = explain("gina", "documents.see", { tenant = "B" })
    assert.equal("tenant_hidden", why.reason)
    assert.is_true(why.fix == nil or why.fix.call == nil)
    assert.is_string(why.text)
  end)
end)

describe("db:effective", function()
  local db
  before_each(function() db = logo() end)
  after_each(function() db:close() end)

  local CATALOG = { "customers.see", "documents.see", "appointments.see", "documents.edit",
                    "appointments.edit", "admin.open", "reports.create" }

  it("lists every right in catalog order with bundle values, override and effective value",
     function()
    db:put_bundle("field", { rights = { ["documents.edit"] = "customer", ["admin.open"] = true } })
    db:put_user("alice", { bundles = { "inside-sales", "field" } })
    db:set_override("alice", "appointments.see", "branch")
    local rows = db:effective("alice")
    assert.equal(#CATALOG, #rows)
    local by = {}
    for i, row in ipairs(rows) do
      assert.equal(CATALOG[i], row.right)
      by[row.right] = row
    end
    assert.same({ ["inside-sales"] = "team", field = "customer" }, by["documents.edit"].bundles)
    assert.is_nil(by["documents.edit"].override)
    assert.equal("team+customer", by["documents.edit"].effective)
    assert.equal("bundles", by["documents.edit"].source)

    -- a bundle that does not mention a right gives none (it may say so)
    local bundles = by["appointments.see"].bundles
    assert.equal("team", bundles["inside-sales"])
    assert.is_true(bundles.field == nil or bundles.field == "none")
    for b in pairs(bundles) do assert.is_true(b == "inside-sales" or b == "field", b) end
    assert.equal("branch", by["appointments.see"].override)
    assert.equal("branch", by["appointments.see"].effective)
    assert.equal("override", by["appointments.see"].source)

    assert.same({ ["inside-sales"] = false, field = true }, by["admin.open"].bundles)
    assert.equal(true, by["admin.open"].effective)
  end)

  it("a right no bundle gives is false or none, source none", function()
    local rows = db:effective("gina")
    assert.equal(#CATALOG, #rows)
    for _, row in ipairs(rows) do
      assert.same({}, row.bundles)
      assert.is_nil(row.override)
      assert.equal("none", row.source)
      if row.right == "admin.open" or row.right == "reports.create" then
        assert.equal(false, row.effective)
      else
        assert.equal("none", row.effective)
      end
    end
  end)
end)
