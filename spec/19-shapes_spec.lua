-- What a user meets: the return shapes README's "Return shapes" documents,
-- on the same store (the first script's, then the lines README shows), so
-- that README and the code cannot drift apart silently.  A change to a
-- shape fails here first: change README with it.

local helpers = require "helpers"
local mandate = require "mandate"
local report = require "mandate.report"

local PUC51 = _VERSION == "Lua 5.1" and not rawget(_G, "jit")
local unpack = table.unpack or unpack

-- All results of a call, with their count (nils included).
local function pack(...)
  return { n = select("#", ...), ... }
end

local function is_integer(v)
  return type(v) == "number" and v % 1 == 0
end

-- The sorted field names of a table.
local function fields(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- README's first script, without its close.
local function first_script()
  local db = helpers.open()
  db:transaction(function()
    db:set_levels { "country", "branch", "department", "team" }
    db:put_unit("de", { level = "country" })
    db:put_unit("hh", { level = "branch", parent = "de" })
    db:put_unit("hh-sales", { level = "team", parent = "hh", label = "Sales Hamburg" })
    db:put_tenant("crm-de", { default = "read" })
    db:put_right("documents.edit", { kind = "scope", mode = "write", customer = true })
    db:put_bundle("inside-sales", { rights = { ["documents.edit"] = "team" } })
    db:put_user("alice", { unit = "hh-sales", bundles = { "inside-sales" } })
    db:put_user("bob", { unit = "hh" })
    db:set_access("alice", "crm-de", "full")
  end)
  assert.is_true(db:check("alice", "documents.edit", { tenant = "crm-de", owner = "alice" }))
  assert.are.same({ false, "out_of_scope" },
                  { db:check("alice", "documents.edit", { tenant = "crm-de", owner = "bob" }) })
  assert.are.equal('set_override("alice", "documents.edit", "branch")',
                   db:explain("alice", "documents.edit", { tenant = "crm-de", owner = "bob" }).fix.text)
  return db
end

-- The lines at the top of "Return shapes", with what README says each
-- returns.
local function readme_store()
  local db = first_script()
  assert.are.equal(true, db:set_actor("admin"))
  assert.are.equal(2, db:put_tenant("crm-at", { label = "CRM Austria" }))
  assert.are.equal(2, db:put_right("export", { kind = "flag", area = "Reports",
                                               label = "Export" }))
  assert.are.equal(true, db:set_override("bob", "export", true))
  assert.are.equal(true, db:set_access("alice", "crm-at", "read"))
  assert.are.equal(true, db:assign_customer("alice", "acme"))
  local got = db:transaction(function(tx)
    tx:put_contact("ann", { label = "Ann Example" })
    tx:put_role("ann-press", { contact = "ann", label = "Editor",
                               channels = { email = "ann@example.org" }, tags = { "press" } })
    tx:put_role("ann-wien", { contact = "ann", label = "Vienna desk", tenant = "crm-at" })
    tx:put_list("press", { tenant = "crm-de", label = "Press", tags = { "press" } })
    tx:add_to_list("press", "ann-wien")
    return "done"
  end)
  assert.are.equal("done", got)
  return db
end

describe("README's return shapes", function()
  local db
  before_each(function() db = readme_store() end)
  after_each(function() db:close() end)

  describe("the model", function()
    it("units, tenants, rights, bundles, users and one get_* row", function()
      assert.are.same({
        { key = "de", level = "country" },
        { key = "hh", level = "branch", parent = "de" },
        { key = "hh-sales", level = "team", parent = "hh", label = "Sales Hamburg" },
      }, db:units())
      assert.are.same({
        { key = "crm-at", default = "hidden", label = "CRM Austria" },
        { key = "crm-de", default = "read" },
      }, db:tenants())
      assert.are.same({
        { key = "documents.edit", kind = "scope", mode = "write", customer = true },
        { key = "export", kind = "flag", mode = "write", customer = false,
          area = "Reports", label = "Export" },
      }, db:rights())
      assert.are.same({ { key = "inside-sales", rights = { ["documents.edit"] = "team" } } },
                      db:bundles())
      assert.are.same({
        { key = "alice", unit = "hh-sales", bundles = { "inside-sales" }, active = true },
        { key = "bob", unit = "hh", bundles = {}, active = true },
      }, db:users())
      -- a get_* row is the list's row
      assert.are.same(db:units()[3], db:get_unit("hh-sales"))
      assert.are.same(db:tenants()[1], db:get_tenant("crm-at"))
      assert.are.same(db:rights()[2], db:get_right("export"))
      assert.are.same(db:bundles()[1], db:get_bundle("inside-sales"))
      assert.are.same(db:users()[1], db:get_user("alice"))
    end)

    it("levels and the per-user readers", function()
      assert.are.same({ "country", "branch", "department", "team" }, db:levels())
      assert.are.same({ export = true }, db:overrides("bob"))
      assert.are.same({ ["crm-at"] = "read", ["crm-de"] = "full" }, db:access_of("alice"))
      assert.are.same({ "acme" }, db:customers_of("alice"))
      assert.are.same({ "alice" }, db:managers_of("acme"))
      assert.are.equal(7, db:revision())
    end)

    it("audit rows, oldest first", function()
      local rows = db:audit { limit = 1 }
      assert.are.equal(1, #rows)
      local row = rows[1]
      assert.are.same({ "actor", "after", "id", "op", "revision", "subject", "time" },
                      fields(row))
      assert.is_true(is_integer(row.id))
      assert.are.equal(7, row.revision)
      assert.truthy(row.time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"))
      assert.are.equal("admin", row.actor)
      assert.are.equal("add_to_list", row.op)
      assert.are.equal("list:press", row.subject)
      assert.are.same({ role = "ann-wien", member = true }, row.after)
      local two = db:audit { limit = 2 }
      assert.is_true(two[1].id < two[2].id)
      assert.are.same(row, two[2])
      -- a change with a before and no after, by nobody
      db:set_actor(nil)
      assert.are.equal(true, db:clear_override("bob", "export"))
      row = db:audit { limit = 1 }[1]
      assert.are.same({ "before", "id", "op", "revision", "subject", "time" }, fields(row))
    end)
  end)

  describe("decisions", function()
    it("access: the access and whether it is the user's own row", function()
      local a, explicit = db:access("alice", "crm-de")
      assert.are.same({ "full", true }, { a, explicit })
      a, explicit = db:access("bob", "crm-de")
      assert.are.same({ "read", false }, { a, explicit })
      assert.are.equal(0, select("#", db:access("nobody", "crm-de")))
      assert.are.equal(0, select("#", db:access("alice", "nowhere")))
    end)

    it("effective: one row per right in catalog order", function()
      assert.are.same({
        { right = "documents.edit", kind = "scope", bundles = {},
          effective = "none", source = "none" },
        { right = "export", kind = "flag", area = "Reports", label = "Export",
          bundles = {}, override = true, effective = true, source = "override" },
      }, db:effective("bob"))
      assert.are.same({ ["inside-sales"] = "team" }, db:effective("alice")[1].bundles)
    end)

    it("explain: a denial with a fix", function()
      local record = { tenant = "crm-de", owner = "bob" }
      local e = db:explain("alice", "documents.edit", record)
      local text = e.text
      e.text = nil
      assert.are.same({
        allowed = false, reason = "out_of_scope", user = "alice", right = "documents.edit",
        record = { tenant = "crm-de", owner = "bob" }, kind = "scope", mode = "write",
        value = "team", source = "bundles", bundles = { ["inside-sales"] = "team" },
        active = true, unit = "hh-sales", access = "full", access_explicit = true,
        anchor = "hh-sales", matched = "none",
        failing = { user = false, tenant = false, right = true, unknown = false },
        fix = { kind = "override",
                call = { "set_override", "alice", "documents.edit", "branch" },
                text = 'set_override("alice", "documents.edit", "branch")' },
      }, e)
      local start = 'alice may not use documents.edit on {owner = "bob", tenant = "crm-de"}.'
                    .. " Denied (out_of_scope): "
      assert.are.equal(start, text:sub(1, #start))
    end)

    it("explain: override when the value comes from one; no reason, no fix when allowed",
       function()
      local e = db:explain("bob", "export")
      assert.is_true(e.allowed)
      assert.are.equal(true, e.override)
      assert.are.same({ "active", "allowed", "bundles", "failing", "kind", "matched", "mode",
                        "override", "right", "source", "text", "unit", "user", "value" },
                      fields(e))
    end)

    it("explain: no call in the fix when no single change helps", function()
      local e = db:explain("bob", "documents.edit", { tenant = "crm-de", owner = "bob" })
      assert.are.same({ "kind", "text" }, fields(e.fix))
      assert.are.equal("impossible", e.fix.kind)
    end)

    it("stats", function()
      assert.are.same({ "cached_keys", "patches", "rebuilds" }, fields(db:stats()))
      db:check("alice", "documents.edit", { tenant = "crm-de", owner = "bob" })
      local s = db:stats()
      assert.is_true(is_integer(s.rebuilds) and is_integer(s.patches)
                     and is_integer(s.cached_keys))
    end)
  end)

  describe("contacts, roles and lists", function()
    it("contacts, roles, lists and entries", function()
      assert.are.same({ { key = "ann", label = "Ann Example" } }, db:contacts())
      assert.are.same({
        { key = "ann-press", contact = "ann", label = "Editor",
          channels = { email = "ann@example.org" }, tags = { "press" }, active = true },
        { key = "ann-wien", contact = "ann", label = "Vienna desk", channels = {},
          tags = {}, active = true, tenant = "crm-at" },
      }, db:roles())
      assert.are.same(db:roles(), db:roles("ann"))
      assert.are.same(db:roles()[1], db:get_role("ann-press"))
      assert.are.same(db:contacts()[1], db:get_contact("ann"))
      assert.are.same({ { key = "press", label = "Press", tenant = "crm-de", tags = { "press" } } },
                      db:all_lists())
      assert.are.same(db:all_lists()[1], db:get_list("press"))
      assert.are.same({ members = { "ann-wien" }, excluded = {} }, db:list_entries("press"))
    end)

    it("resolve_list", function()
      assert.are.same({
        list = "press", tenant = "crm-de", access = "full", total = 2, next = "ann-press",
        left_out = { tenant_hidden = 0, inactive = 0, no_channel = 0, duplicate = 0 },
        roles = { { role = "ann-press", contact = "ann", label = "Editor",
                    contact_label = "Ann Example", channels = { email = "ann@example.org" },
                    tags = { "press" } } },
      }, db:resolve_list("press", "alice", { limit = 1 }))
      local last = db:resolve_list("press", "alice", { after = "ann-press" })
      assert.is_nil(last.next)
      assert.are.same({ "channels", "contact", "contact_label", "label", "role", "tags" },
                      fields(last.roles[1]))
    end)

    it("lists, lists_of_role, lists_for", function()
      assert.are.same({
        { key = "press", label = "Press", tenant = "crm-de", tags = { "press" },
          access = "read", members = 1, left_out = { tenant_hidden = 1, inactive = 0 } },
      }, db:lists("bob"))
      assert.are.equal(db:resolve_list("press", "bob").total, db:lists("bob")[1].members)
      assert.are.same({
        { key = "press", label = "Press", tenant = "crm-de",
          explicit = true, excluded = false, member = true, tags = {} },
      }, db:lists_of_role("ann-wien"))
      assert.are.same({
        { key = "press", label = "Press", tenant = "crm-de",
          access = "full", explicit = false, tags = { "press" } },
      }, db:lists_for("alice", "ann-press"))
    end)
  end)

  describe("reports", function()
    it("access_matrix", function()
      assert.are.same({
        tenants = { "crm-at", "crm-de" }, users = { "alice", "bob" },
        access = { alice = { ["crm-at"] = "read", ["crm-de"] = "full" },
                   bob = { ["crm-at"] = "hidden", ["crm-de"] = "read" } },
        explicit = { alice = { ["crm-at"] = true, ["crm-de"] = true }, bob = {} },
      }, report.access_matrix(db))
    end)

    it("access_matrix_text and text_table", function()
      assert.are.equal(table.concat({
        "user  | crm-at | crm-de",
        "----- | ------ | ------",
        "alice | read*  | full*",
        "bob   | hidden | read",
      }, "\n"), report.access_matrix_text(db))
      assert.are.equal(table.concat({
        "user  | unit     | bundles",
        "----- | -------- | ------------",
        "alice | hh-sales | inside-sales",
        "bob   | hh       |",
      }, "\n"), report.text_table({ { "user", "key" }, { "unit", "unit" },
        { "bundles", function(u) return table.concat(u.bundles, " ") end } }, db:users()))
      -- a nil cell is empty; the header and the rule stand without rows
      assert.are.equal("a  | b\n-- | -\nxy |",
                       report.text_table({ { "a", "x" }, { "b", "y" } }, { { x = "xy" } }))
      assert.are.equal("a\n-", report.text_table({ { "a", 1 } }, {}))
    end)
  end)

  describe("writers", function()
    it("put_* return the entity's id, the one db:id gives", function()
      assert.are.equal(db:id("unit", "hh"), db:put_unit("hh", { label = "Hamburg" }))
      assert.are.equal(db:id("tenant", "crm-de"), db:put_tenant("crm-de", {}))
      assert.are.equal(db:id("right", "export"), db:put_right("export", { kind = "flag" }))
      assert.are.equal(db:id("bundle", "inside-sales"), db:put_bundle("inside-sales", {}))
      assert.are.equal(db:id("user", "bob"), db:put_user("bob", { label = "Bob" }))
      for _, id in ipairs({ db:put_contact("ann", {}), db:put_role("ann-press", {}),
                            db:put_list("press", {}) }) do
        assert.is_true(is_integer(id) and id > 0)
      end
    end)

    it("every other writer returns true alone, also when nothing changes", function()
      local calls = {
        { "set_levels", { "country", "branch", "department", "team" } },
        { "set_bundle_right", "inside-sales", "export", true },
        { "clear_bundle_right", "inside-sales", "export" },
        { "set_override", "alice", "export", true },
        { "set_override", "alice", "export", true },
        { "clear_override", "alice", "export" },
        { "clear_override", "alice", "export" },
        { "set_access", "bob", "crm-at", "read" },
        { "clear_access", "bob", "crm-at" },
        { "clear_access", "bob", "crm-at" },
        { "assign_customer", "bob", "acme" },
        { "unassign_customer", "bob", "acme" },
        { "unassign_customer", "bob", "acme" },
        { "add_to_list", "press", "ann-press" },
        { "remove_from_list", "press", "ann-press" },
        { "exclude_from_list", "press", "ann-press" },
        { "clear_exclusion", "press", "ann-press" },
        { "clear_exclusion", "press", "ann-press" },
        { "delete_list", "press" },
        { "delete_role", "ann-wien" },
        { "delete_contact", "ann", { cascade = true } },
        { "delete_user", "bob", { cascade = true } },
        { "delete_bundle", "inside-sales", { cascade = true } },
        { "delete_right", "export", { cascade = true } },
        { "delete_tenant", "crm-at", { cascade = true } },
        { "delete_unit", "hh-sales", { cascade = true } },
        { "set_actor", "someone" },
      }
      for _, c in ipairs(calls) do
        local r = pack(db[c[1]](db, unpack(c, 2)))
        assert.are.same({ n = 1, true }, r, c[1])
      end
    end)

    it("transaction passes db to fn and returns fn's results", function()
      local seen
      assert.are.same({ true }, { db:transaction(function(x) seen = x end) })
      assert.is_true(rawequal(db, seen))
      assert.are.same({ 1, "two", 3 }, { db:transaction(function() return 1, "two", 3 end) })
      local inner = db:transaction(function(outer)
        return outer:transaction(function(x) return rawequal(x, db) and "nested" end)
      end)
      assert.are.equal("nested", inner)
    end)
  end)

  describe("when a call does not answer", function()
    it("a key that names nothing", function()
      for _, c in ipairs({
        { "get_unit", "zz" }, { "get_tenant", "zz" }, { "get_right", "zz" },
        { "get_bundle", "zz" }, { "get_user", "zz" }, { "get_contact", "zz" },
        { "get_role", "zz" }, { "get_list", "zz" }, { "overrides", "zz" },
        { "access_of", "zz" }, { "customers_of", "zz" }, { "roles", "zz" },
        { "list_entries", "zz" }, { "lists_of_role", "zz" },
      }) do
        local r = pack(db[c[1]](db, c[2]))
        assert.are.same({ n = 1 }, r, c[1])
      end
      assert.are.same({}, db:managers_of("zz"))
      assert.are.same({ nil, 'effective: unknown user "zz"', "notfound" },
                      { db:effective("zz") })
    end)

    it("a user's views answer as a check would deny", function()
      db:put_user("carol", { unit = "hh", active = false })
      assert.are.same({ nil, "unknown_user" }, { db:resolve_list("press", "zz") })
      assert.are.same({ nil, "inactive_user" }, { db:resolve_list("press", "carol") })
      assert.are.same({ nil, "unknown_list" }, { db:resolve_list("zz", "bob") })
      assert.are.same({ nil, "unknown_tenant" }, { db:lists("bob", "zz") })
      assert.are.same({ nil, "tenant_hidden" }, { db:lists("bob", "crm-at") })
      assert.are.same({ nil, "unknown_role" }, { db:lists_for("bob", "zz") })
      assert.are.same({ nil, "tenant_hidden" }, { db:lists_for("bob", "ann-wien") })
      db:clear_access("alice", "crm-de")
      db:put_tenant("crm-de", { default = "hidden" })
      assert.are.same({ nil, "tenant_hidden" }, { db:resolve_list("press", "alice") })
      assert.are.same({ nil, "unknown_user" }, { db:lists("zz") })
      assert.are.same({ nil, "inactive_user" }, { db:lists_for("carol", "ann-press") })
    end)

    it("a readonly store: nil, message, \"ioerr\" from a writer", function()
      local path = helpers.tmpname()
      local w = assert(mandate.open(path))
      w:put_tenant("t", {})
      w:close()
      local ro = assert(mandate.open(path, { readonly = true }))
      assert.are.same({ nil, "attempt to write a readonly database", "ioerr" },
                      { ro:put_tenant("u", {}) })
      ro:close()
      helpers.remove_store(path)
    end)

    it("busy while another coroutine's change set is open", function()
      if PUC51 then return end      -- 5.1 cannot yield inside db:transaction
      local co = coroutine.create(function()
        db:transaction(function() coroutine.yield() end)
      end)
      assert(coroutine.resume(co))
      local calls = {
        { db.units }, { db.get_user, "alice" }, { db.audit }, { db.revision },
        { db.roles }, { db.resolve_list, "press", "alice" }, { db.lists, "bob" },
        { db.lists_for, "alice", "ann-press" }, { db.put_tenant, "x", {} },
        { db.set_access, "bob", "crm-at", "full" }, { db.transaction, function() end },
        { report.access_matrix },
      }
      for i, c in ipairs(calls) do
        local r = pack(c[1](db, unpack(c, 2)))
        assert.are.equal(3, r.n, i)
        assert.is_nil(r[1], i)
        assert.are.equal("string", type(r[2]), i)
        assert.are.equal("busy", r[3], i)
      end
      assert(coroutine.resume(co))
      assert.are.equal("dead", coroutine.status(co))
    end)
  end)
end)
