-- The audit trail and the revision counter: one row per change, written in
-- the same transaction; one revision per committed change set.  And the
-- JSON module the trail is stored with.

local prim = require "primitives"   -- the test-only path to raw SQL
local helpers = require "helpers"
local mandate = require "mandate"
local json = require "mandate.json"
local V = require "mandate.validate"

-- The rows written since revision r, without id and time.
local function rows_since(db, r)
  local list = db:audit{ since = r }
  for _, row in ipairs(list) do
    assert.truthy(row.time:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"),
                  row.time)
    row.id, row.time = nil, nil
  end
  return list
end

describe("audit rows", function()
  local db, r
  before_each(function()
    db = helpers.world()
    db:set_actor("admin")
    r = db:revision()
  end)

  it("for set_levels", function()
    db:set_levels{ "country", "branch", "department", "team", "person" }
    assert.are.same({ { revision = r + 1, actor = "admin", op = "set_levels",
      subject = "levels", before = helpers.LEVELS,
      after = { "country", "branch", "department", "team", "person" } } },
      rows_since(db, r))
  end)

  it("for put_unit and delete_unit", function()
    db:put_unit("x", { level = "team", parent = "hh-sales" })
    db:put_unit("x", { label = "X" })
    db:delete_unit("x")
    assert.are.same({
      { revision = r + 1, actor = "admin", op = "put_unit", subject = "unit:x",
        after = { key = "x", level = "team", parent = "hh-sales" } },
      { revision = r + 2, actor = "admin", op = "put_unit", subject = "unit:x",
        before = { key = "x", level = "team", parent = "hh-sales" },
        after = { key = "x", level = "team", parent = "hh-sales",
                  label = "X" } },
      { revision = r + 3, actor = "admin", op = "delete_unit",
        subject = "unit:x",
        before = { key = "x", level = "team", parent = "hh-sales",
                   label = "X" } },
    }, rows_since(db, r))
  end)

  it("for a cascading delete_unit: every unit and user it changed", function()
    db:delete_unit("hh-sales", { cascade = true })
    local rows = rows_since(db, r)
    local subjects = {}
    for i, row in ipairs(rows) do
      assert.are.equal(r + 1, row.revision)
      assert.are.equal("delete_unit", row.op)
      subjects[i] = row.subject
    end
    assert.are.same({ "user:bob", "user:alice", "unit:hh-sales-a",
                      "unit:hh-sales" }, subjects)
    assert.are.same({ key = "bob", label = "Bob", active = true,
                      bundles = { "inside-sales", "admin" } }, rows[1].after)
    assert.are.equal("hh-sales", rows[1].before.unit)
  end)

  it("for put_tenant and delete_tenant with cascade", function()
    db:put_tenant("team-a", { default = "read" })
    db:delete_tenant("team-a", { cascade = true })
    assert.are.same({
      { revision = r + 1, actor = "admin", op = "put_tenant",
        subject = "tenant:team-a",
        before = { key = "team-a", label = "Team A", default = "hidden" },
        after = { key = "team-a", label = "Team A", default = "read" } },
      { revision = r + 2, actor = "admin", op = "delete_tenant",
        subject = "user:alice", before = { tenant = "team-a",
                                           access = "full" } },
      { revision = r + 2, actor = "admin", op = "delete_tenant",
        subject = "user:bob", before = { tenant = "team-a",
                                         access = "read" } },
      { revision = r + 2, actor = "admin", op = "delete_tenant",
        subject = "tenant:team-a",
        before = { key = "team-a", label = "Team A", default = "read" } },
    }, rows_since(db, r))
  end)

  it("for put_right and delete_right with cascade", function()
    db:put_right("documents.edit", { mode = "read" })
    db:delete_right("documents.edit", { cascade = true })
    local right = { key = "documents.edit", kind = "scope", mode = "read",
                    customer = true, area = "Documents",
                    label = "Edit documents" }
    local rows = rows_since(db, r)
    assert.are.same({ revision = r + 1, actor = "admin", op = "put_right",
      subject = "right:documents.edit",
      before = { key = "documents.edit", kind = "scope", mode = "write",
                 customer = true, area = "Documents",
                 label = "Edit documents" },
      after = right }, rows[1])
    assert.are.same({
      { revision = r + 2, actor = "admin", op = "delete_right",
        subject = "bundle:inside-sales",
        before = { right = "documents.edit", value = "team" } },
      { revision = r + 2, actor = "admin", op = "delete_right",
        subject = "user:alice",
        before = { right = "documents.edit", value = "department+customer" } },
      { revision = r + 2, actor = "admin", op = "delete_right",
        subject = "right:documents.edit", before = right },
    }, { rows[2], rows[3], rows[4] })
  end)

  it("for put_bundle, set_bundle_right, clear_bundle_right, delete_bundle",
     function()
    db:put_bundle("admin", { label = "Admins" })
    db:set_bundle_right("admin", "documents.see", "all")
    db:clear_bundle_right("admin", "documents.see")
    db:delete_bundle("admin", { cascade = true })
    assert.are.same({
      { revision = r + 1, actor = "admin", op = "put_bundle",
        subject = "bundle:admin",
        before = { key = "admin", rights = { ["admin.open"] = true } },
        after = { key = "admin", label = "Admins",
                  rights = { ["admin.open"] = true } } },
      { revision = r + 2, actor = "admin", op = "set_bundle_right",
        subject = "bundle:admin",
        after = { right = "documents.see", value = "all" } },
      { revision = r + 3, actor = "admin", op = "clear_bundle_right",
        subject = "bundle:admin",
        before = { right = "documents.see", value = "all" } },
      { revision = r + 4, actor = "admin", op = "delete_bundle",
        subject = "user:bob",
        before = { key = "bob", unit = "hh-sales", label = "Bob",
                   active = true, bundles = { "inside-sales", "admin" } },
        after = { key = "bob", unit = "hh-sales", label = "Bob",
                  active = true, bundles = { "inside-sales" } } },
      { revision = r + 4, actor = "admin", op = "delete_bundle",
        subject = "bundle:admin",
        before = { key = "admin", label = "Admins",
                   rights = { ["admin.open"] = true } } },
    }, rows_since(db, r))
  end)

  it("for put_user and delete_user, which keeps all of the user", function()
    db:put_user("alice", { active = false })
    db:delete_user("alice")
    local alice = { key = "alice", unit = "hh-sales-a", active = false,
                    bundles = { "inside-sales" } }
    local gone = { key = "alice", unit = "hh-sales-a", active = false,
                   bundles = { "inside-sales" },
                   overrides = { ["documents.edit"] = "department+customer" },
                   access = { ["team-a"] = "full" }, customers = { "ACME" } }
    assert.are.same({
      { revision = r + 1, actor = "admin", op = "put_user",
        subject = "user:alice",
        before = { key = "alice", unit = "hh-sales-a", active = true,
                   bundles = { "inside-sales" } },
        after = alice },
      { revision = r + 2, actor = "admin", op = "delete_user",
        subject = "user:alice", before = gone },
    }, rows_since(db, r))
  end)

  it("for overrides, access and customers, filed under the user",
     function()
    db:set_override("bob", "admin.open", false)
    db:set_override("bob", "admin.open", true)
    db:clear_override("bob", "admin.open")
    db:set_access("bob", "common", "full")
    db:clear_access("bob", "common")
    db:assign_customer("bob", "ACME")
    db:unassign_customer("bob", "ACME")
    local function row(n, op, before, after)
      return { revision = r + n, actor = "admin", op = op,
               subject = "user:bob", before = before, after = after }
    end
    assert.are.same({
      row(1, "set_override", nil, { right = "admin.open", value = false }),
      row(2, "set_override", { right = "admin.open", value = false },
          { right = "admin.open", value = true }),
      row(3, "clear_override", { right = "admin.open", value = true }, nil),
      row(4, "set_access", nil, { tenant = "common", access = "full" }),
      row(5, "clear_access", { tenant = "common", access = "full" }, nil),
      row(6, "assign_customer", nil, { customer = "ACME" }),
      row(7, "unassign_customer", { customer = "ACME" }, nil),
    }, rows_since(db, r))
  end)

  it("for access rows: the very text json.encode gives, odd keys too",
     function()
    local key = 'q"b\\n M\195\188ller'
    db:put_tenant(key, {})
    db:set_access("bob", key, "read")
    db:set_access("bob", key, "full")
    db:clear_access("bob", key)
    db:set_access("alice", key, "hidden")
    db:delete_tenant(key, { cascade = true })
    local raw = prim.rows(db, "SELECT before, after FROM audit WHERE revision > ?1"
                         .. " AND subject LIKE 'user:%' ORDER BY id", r)
    local function text(access)
      return access and json.encode({ tenant = key, access = access })
    end
    local want = { { nil, "read" }, { "read", "full" }, { "full", nil },
                   { nil, "hidden" }, { "hidden", nil } }
    assert.are.equal(#want, #raw)
    for i, w in ipairs(want) do
      assert.are.equal(text(w[1]), raw[i].before)
      assert.are.equal(text(w[2]), raw[i].after)
    end
  end)

  it("with the actor set on this handle, or none", function()
    db:set_actor(nil)
    assert.is_nil(db:actor())
    db:put_user("dave")
    db:set_actor("jane@example.com")
    assert.are.equal("jane@example.com", db:actor())
    db:put_user("erin")
    local rows = rows_since(db, r)
    assert.is_nil(rows[1].actor)
    assert.are.equal("jane@example.com", rows[2].actor)
    -- another handle has its own actor
    local other = helpers.open()
    assert.is_nil(other:actor())
  end)

  it("not for writes that change nothing", function()
    db:put_unit("hh", { level = "branch", parent = "de" })
    db:put_user("bob", { bundles = { "inside-sales", "admin" } })
    db:put_bundle("admin", { rights = { ["admin.open"] = true } })
    db:put_right("admin.open", { kind = "flag" })
    db:put_tenant("common", { default = "read" })
    db:set_levels(helpers.LEVELS)
    db:set_override("alice", "documents.edit", "department+customer")
    db:set_access("alice", "team-a", "full")
    db:assign_customer("alice", "ACME")
    db:clear_override("bob", "admin.open")
    db:clear_access("carol", "team-a")
    db:unassign_customer("bob", "ACME")
    assert.are.same({}, rows_since(db, r))
    assert.are.equal(r, db:revision())
  end)

  it("not for failed writes", function()
    pcall(db.put_unit, db, "x", { level = "galaxy" })
    pcall(db.transaction, db, function()
      db:put_user("dave")
      error("no")
    end)
    assert.are.same({}, rows_since(db, r))
    assert.are.equal(r, db:revision())
  end)
end)

describe("the revision", function()
  local db
  before_each(function() db = helpers.open() end)

  it("starts at 0 and counts each standalone change", function()
    assert.are.equal(0, db:revision())
    db:set_levels{ "team" }
    assert.are.equal(1, db:revision())
    db:put_unit("a", { level = "team" })
    db:put_unit("b", { level = "team" })
    assert.are.equal(3, db:revision())
  end)

  it("counts a whole transaction once, and an empty one not at all",
     function()
    db:set_levels{ "team" }
    db:transaction(function()
      db:put_unit("a", { level = "team" })
      db:put_unit("b", { level = "team" })
      db:transaction(function() db:put_unit("c", { level = "team" }) end)
    end)
    assert.are.equal(2, db:revision())
    local rows = db:audit{ since = 1 }
    assert.are.equal(3, #rows)
    for _, row in ipairs(rows) do assert.are.equal(2, row.revision) end
    db:transaction(function() end)
    db:transaction(function() db:put_unit("a", { level = "team" }) end)
    assert.are.equal(2, db:revision())
  end)

  it("does not count a rolled-back inner transaction", function()
    db:set_levels{ "team" }
    db:transaction(function()
      pcall(db.transaction, db, function()
        db:put_unit("a", { level = "team" })
        error("x")
      end)
    end)
    assert.are.equal(1, db:revision())
    db:transaction(function()
      pcall(db.transaction, db, function()
        db:put_unit("a", { level = "team" })
        error("x")
      end)
      db:put_unit("b", { level = "team" })
    end)
    assert.are.equal(2, db:revision())
    assert.are.same({ "unit:b" }, { db:audit{ since = 1 }[1].subject })
  end)

  it("is shared by all handles on a file", function()
    local path = helpers.tmpname()
    local a = assert(require("mandate").open(path))
    local b = assert(require("mandate").open(path))
    a:set_levels{ "team" }
    b:put_unit("x", { level = "team" })
    a:put_unit("y", { level = "team" })
    assert.are.equal(3, a:revision())
    assert.are.equal(3, b:revision())
    local revs = {}
    for i, row in ipairs(b:audit()) do revs[i] = row.revision end
    assert.are.same({ 1, 2, 3 }, revs)
    a:close()
    b:close()
    helpers.remove_store(path)
  end)
end)

describe("db:audit", function()
  local db
  before_each(function()
    db = helpers.open()
    db:set_actor("setup")
    helpers.world(db)
    db:set_actor("jane")
    db:put_user("alice", { label = "Alice" })
    db:set_override("alice", "admin.open", true)
    db:set_actor("joe")
    db:put_user("bob", { active = false })
  end)

  it("returns every row, oldest first, with increasing ids", function()
    local rows = db:audit()
    assert.are.equal(db:revision(), rows[#rows].revision)
    for i = 2, #rows do assert.is_true(rows[i].id > rows[i - 1].id) end
    assert.are.equal("set_levels", rows[1].op)
  end)

  it("filters by actor, subject, op and since", function()
    local jane = db:audit{ actor = "jane" }
    assert.are.equal(2, #jane)
    assert.are.equal("put_user", jane[1].op)
    assert.are.equal("set_override", jane[2].op)
    local alice = db:audit{ subject = "user:alice" }
    assert.are.equal("put_user", alice[1].op)
    assert.are.equal("set_override", alice[#alice].op)
    assert.are.equal(1, #db:audit{ subject = "user:alice", actor = "jane",
                                   op = "set_override" })
    local last = db:audit{ since = db:revision() - 1 }
    assert.are.equal(1, #last)
    assert.are.equal("user:bob", last[1].subject)
    assert.are.same({}, db:audit{ since = db:revision() })
    assert.are.same({}, db:audit{ actor = "nobody" })
  end)

  it("filters by time", function()
    local all = db:audit()
    assert.are.same(all, db:audit{ since = all[1].time })
    assert.are.same({}, db:audit{ since = "9999-01-01T00:00:00Z" })
  end)

  it("limits to the newest rows, still oldest first", function()
    local rows = db:audit{ limit = 2 }
    assert.are.equal(2, #rows)
    assert.are.equal("set_override", rows[1].op)
    assert.are.equal("user:bob", rows[2].subject)
    assert.are.same({}, db:audit{ limit = 0 })
  end)

  it("bounds by revision and filters by subject as the plain definition",
     function()
    -- revisions with several rows, one whose savepoint rolled back, and
    -- revisions that wrote nothing: ids stay contiguous per revision
    assert(db:transaction(function()
      db:put_tenant("acme", { label = "Acme" })
      assert.is_false(pcall(db.transaction, db, function()
        db:put_tenant("zeta", {})
        error("undone")
      end))
      db:set_access("alice", "acme", "read")
    end))
    db:put_user("alice", { label = "Alice" })       -- no change, no revision
    db:set_access("bob", "acme", "full")
    local all, top = db:audit(), db:revision()
    for since = 0, top + 1 do
      for before = 0, top + 2 do
        local want = {}
        for _, row in ipairs(all) do
          if row.revision > since and row.revision < before then
            want[#want + 1] = row
          end
        end
        assert.are.same(want, db:audit{ since = since, before = before })
      end
    end
    for _, subject in ipairs({ "user:alice", "tenant:acme", "levels", "none" }) do
      local want = {}
      for _, row in ipairs(all) do
        if row.subject == subject then want[#want + 1] = row end
      end
      assert.are.same(want, db:audit{ subject = subject })
    end
  end)

  it("finds a subject by its index and a revision's rows by their ids",
     function()
    local function plan(where)
      local rows = prim.rows(db, "EXPLAIN QUERY PLAN SELECT a.* FROM audit a"
                             .. " LEFT JOIN revisions r ON r.revision = a.revision"
                             .. " WHERE " .. where .. " ORDER BY a.id DESC")
      local text = {}
      for _, row in ipairs(rows) do text[#text + 1] = row.detail end
      return table.concat(text, "\n")
    end
    assert.truthy(plan("a.subject = 'user:alice'"):find("INDEX audit_subject", 1, true))
    assert.truthy(plan("a.id > coalesce((SELECT last_id FROM revisions WHERE"
                       .. " revision <= 3 ORDER BY revision DESC LIMIT 1), 0)")
                  :find("INTEGER PRIMARY KEY (rowid>?)", 1, true))
  end)

  it("stores before and after as JSON text in the audit table", function()
    local row = prim.row(db, "SELECT * FROM audit WHERE subject = 'user:bob'"
                        .. " ORDER BY id DESC LIMIT 1")
    assert.are.equal('{"active":true,"bundles":["inside-sales","admin"],'
                     .. '"key":"bob","label":"Bob","unit":"hh-sales"}',
                     row.before)
    assert.are.equal('{"active":false,"bundles":["inside-sales","admin"],'
                     .. '"key":"bob","label":"Bob","unit":"hh-sales"}',
                     row.after)
  end)
end)

describe("db:audit's bounds (issue 22)", function()
  -- six rows at known times: 2024 is a leap year
  local TIMES = {
    "2024-02-29T23:30:00.000Z", "2024-03-01T00:00:00.000Z",
    "2024-03-01T12:00:00.250Z", "2024-03-01T12:00:00.999Z",
    "2024-03-01T12:00:01.000Z", "2025-01-01T00:00:00.000Z",
  }
  local db
  before_each(function()
    db = helpers.open()
    db:set_levels{ "team" }
    for _, t in ipairs({ "a", "b", "c", "d", "e" }) do db:put_tenant(t) end
    for id, time in ipairs(TIMES) do
      prim.exec(db, "UPDATE audit SET time = ?1 WHERE id = ?2", time, id)
    end
  end)

  local function ids(options)
    local list = {}
    for i, row in ipairs(db:audit(options)) do list[i] = row.id end
    return list
  end

  it("finds a row by its own time cut to whole seconds", function()
    local live = helpers.world()
    local rows = live:audit()
    local last = rows[#rows]
    local cut = last.time:sub(1, 19) .. "Z"      -- "2024-05-01T12:00:00Z"
    local found = live:audit{ since = cut }
    assert.are.equal(last.id, found[#found].id)
    local same = live:audit{ since = last.time }
    assert.are.equal(last.id, same[#same].id)
    assert.are.equal(last.time, same[1].time)
  end)

  it("compares times as times, however they are written", function()
    local cases = {
      { "2024-03-01", { 2, 3, 4, 5, 6 } },
      { "2024-03-01T00:00Z", { 2, 3, 4, 5, 6 } },
      { "2024-03-01T01:00+01:00", { 2, 3, 4, 5, 6 } },
      { "2024-02-29T19:00-05:00", { 2, 3, 4, 5, 6 } },
      { "2024-03-01T00:30:00+01:00", { 1, 2, 3, 4, 5, 6 } },
      { "2024-03-01T12:00:00Z", { 3, 4, 5, 6 } },
      { "2024-03-01T12:00:00.25Z", { 3, 4, 5, 6 } },
      { "2024-03-01T12:00:00.2501Z", { 4, 5, 6 } },
      { "2024-03-01 12:00:00.250", { 3, 4, 5, 6 } },   -- no zone: UTC
      { "2024-03-01t12:00:00,250z", { 3, 4, 5, 6 } },
      { "2024-03-01T07:00:00.25-0500", { 3, 4, 5, 6 } },
      { "2024-03-01T14:00:00.25+02", { 3, 4, 5, 6 } },
      { "2024-03-01T12:00:00.999999Z", { 5, 6 } },
      { "2024-12-31T23:59:59.9999-00:00", { 6 } },
      { "@1709294400", { 3, 4, 5, 6 } },               -- 2024-03-01T12:00Z
      { "@1709294400.25", { 3, 4, 5, 6 } },
      { "@1709294400.2501", { 4, 5, 6 } },
      { "@1709251200", { 2, 3, 4, 5, 6 } },
      { "@-1.5", { 1, 2, 3, 4, 5, 6 } },
      { "0000-01-01", { 1, 2, 3, 4, 5, 6 } },
      { "9999-12-31T23:59:59.999Z", {} },
    }
    for _, case in ipairs(cases) do
      assert.are.same(case[2], ids{ since = case[1] }, case[1])
    end
  end)

  it("takes before: strictly before a time or a revision", function()
    assert.are.same({ 1, 2 }, ids{ before = "2024-03-01T12:00:00.25Z" })
    assert.are.same({ 1, 2, 3 }, ids{ before = "@1709294400.2501" })
    assert.are.same({ 2, 3, 4, 5 }, ids{ since = "2024-03-01",
                                         before = "2024-03-02" })
    assert.are.same({ 1, 2 }, ids{ before = 3 })
    assert.are.same({ 3, 4 }, ids{ since = 2, before = 5 })
    assert.are.same({}, ids{ since = "2024-03-02", before = "2024-03-01" })
    assert.are.same({ 4, 5 }, ids{ before = "2025-01-01", limit = 2 })
  end)

  it("raises for text that is not a time", function()
    local rule = "(times are ISO 8601 such as '2024-03-01', "
      .. "'2024-03-01T12:00:00Z' or '2024-03-01T13:00:00.25+01:00' (no zone: "
      .. "UTC), or Unix times such as '@1709294400')"
    for _, v in ipairs({ "2026-12-7", "yesterday", "", "2024-03-01T12",
                         "2024-03-01T12:00:00.Z", "2024-03-01T12:00Z+01:00",
                         "20240301", "@", "@1e9", "@12.", " 2024-03-01",
                         "2024-03-01T12:00:00+1:00" }) do
      helpers.rejects(db, "audit: options.since: " .. V.show(v)
                          .. " is not a time " .. rule,
                      function() db:audit{ since = v } end)
    end
    helpers.rejects(db, "audit: options.since: '2026-13-01' is not a time: "
                        .. "the month 13 is not 01 to 12",
                    function() db:audit{ since = "2026-13-01" } end)
    helpers.rejects(db, "audit: options.since: '2025-02-29' is not a time: "
                        .. "2025-02 has no day 29",
                    function() db:audit{ since = "2025-02-29" } end)
    helpers.rejects(db, "audit: options.before: '2024-04-31T10:00Z' is not "
                        .. "a time: 2024-04 has no day 31",
                    function() db:audit{ before = "2024-04-31T10:00Z" } end)
    helpers.rejects(db, "audit: options.since: '2024-03-01T24:00Z' is not a "
                        .. "time: the hour 24 is not 00 to 23",
                    function() db:audit{ since = "2024-03-01T24:00Z" } end)
    helpers.rejects(db, "audit: options.since: '2024-03-01T12:60Z' is not a "
                        .. "time: the minute 60 is not 00 to 59",
                    function() db:audit{ since = "2024-03-01T12:60Z" } end)
    helpers.rejects(db, "audit: options.since: '2024-03-01T12:00:60Z' is "
                        .. "not a time: the second 60 is not 00 to 59",
                    function() db:audit{ since = "2024-03-01T12:00:60Z" } end)
    helpers.rejects(db, "audit: options.since: '2024-03-01T12:00+24:00' is "
                        .. "not a time: the offset's hour 24 is not 00 to 23",
                    function() db:audit{ since = "2024-03-01T12:00+24:00" } end)
    helpers.rejects(db, "audit: options.since: '2024-03-01T00:00-01:60' is "
                        .. "not a time: the offset's minute 60 is not 00 to 59",
                    function() db:audit{ since = "2024-03-01T00:00-01:60" } end)
    helpers.rejects(db, "audit: options.since: '0000-01-01T00:00+01:00' is "
                        .. "not a time between the years 0000 and 9999 (UTC)",
                    function() db:audit{ since = "0000-01-01T00:00+01:00" } end)
    helpers.rejects(db, "audit: options.since: '@253402300800' is not a time "
                        .. "between the years 0000 and 9999 (UTC)",
                    function() db:audit{ since = "@253402300800" } end)
    -- a long text is quoted cut
    local text = helpers.rejects(db, { pattern = "^audit: options%.since: '"
                                         .. ("9"):rep(57) .. "%.%.%.' is "
                                         .. "not a time" },
                                 function()
                                   db:audit{ since = ("9"):rep(2 ^ 20) }
                                 end)
    assert.is_true(#text < 400, #text)
  end)

  it("raises for a revision that is not an integer from 0 to 2^53",
     function()
    for _, v in ipairs({ -1, 1.5, 0 / 0, math.huge, -math.huge, 1e300,
                         2 ^ 53 + 2 }) do
      helpers.rejects(db, "audit: options.since: expected a revision number "
                          .. "(an integer from 0 to 2^53), got " .. V.show(v),
                      function() db:audit{ since = v } end)
      helpers.rejects(db, "audit: options.before: expected a revision number "
                          .. "(an integer from 0 to 2^53), got " .. V.show(v),
                      function() db:audit{ before = v } end)
    end
    assert.are.same({}, ids{ since = 2 ^ 53 })
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, ids{ since = 0 })
  end)

  it("raises for a limit that is not an integer from 0 to 2^53", function()
    for _, v in ipairs({ 1e300, 0 / 0, math.huge, -math.huge, -1, 1.5,
                         2 ^ 53 + 2, "5", true }) do
      helpers.rejects(db, "audit: options.limit: expected a count (an "
                          .. "integer from 0 to 2^53), got " .. V.show(v),
                      function() db:audit{ limit = v } end)
    end
    assert.are.same({}, ids{ limit = 0 })
    assert.are.same({ 6 }, ids{ limit = 1 })
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, ids{ limit = 2 ^ 53 })
    assert.are.same({ 5, 6 }, ids{ limit = 2.0 })
  end)
end)

describe("mandate.json", function()
  it("encodes with sorted keys and escapes", function()
    assert.are.equal('{"a":1,"b":[true,false,"x"],"c":{}}',
                     json.encode({ c = {}, b = { true, false, "x" }, a = 1 }))
    assert.are.equal('"q\\"b\\\\n\\nt\\tc\\u0001"',
                     json.encode('q"b\\n\nt\tc\1'))
    assert.are.equal('"Müller"', json.encode("Müller"))
    assert.are.equal("null", json.encode(nil))
    assert.are.equal("-1.5", json.encode(-1.5))
    assert.are.equal("12", json.encode(12))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.encode(print) end)
    assert.has_error(function() json.encode(0 / 0) end)
    assert.has_error(function() json.encode(math.huge) end)
    assert.has_error(function() json.encode({ [true] = 1 }) end)
    assert.has_error(function() json.encode({ 1, 2, x = 3 }) end)
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end)
  end)

  it("decodes what it encodes", function()
    local values = {
      { key = "alice", bundles = { "a", "b" }, active = true },
      { right = "x", value = "team+customer" },
      { "levels", "with 'quotes'", 'and "double"', "\\", "\n\r\t\b\f\1" },
      { nested = { deeper = { deepest = { 1, 2.5, -3e10 } } } },
      "日本", 0, false,
    }
    for _, v in ipairs(values) do
      assert.are.same(v, json.decode(json.encode(v)))
    end
  end)

  it("decodes all of JSON", function()
    assert.are.same({ a = { 1, 2, { b = "c" } }, d = true, e = false },
                    json.decode(' { "a" : [1, 2, {"b": "c"}], "d": true,'
                                .. ' "e": false, "f": null } '))
    assert.are.equal("é€😀/", json.decode('"\\u00e9\\u20ac\\ud83d\\ude00\\/"'))
    assert.are.equal(-0.25, json.decode("-2.5e-1"))
    assert.are.same({}, json.decode("[]"))
  end)

  it("refuses malformed text with its position", function()
    for _, text in ipairs({ "", "{", "[1,]", '{"a" 1}', "tru", '"abc',
                            "[1] x", "01", '"\\ud800"', '"a\nb"' }) do
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok, text)
      assert.truthy(err:find("^json%.decode: .* at position %d+$"), err)
    end
  end)
end)

describe("a store written by schema 3", function()
  -- spec/fixtures/store-v3.sql: written by the mandate of 97e43fe (every
  -- audit row with its own time and actor, the actor changed inside a
  -- change set, a rolled-back transaction, contacts, a cascade)
  local function restore()
    local path = helpers.tmpname()
    assert(os.execute("sqlite3 " .. path .. " < spec/fixtures/store-v3.sql"))
    return path
  end

  it("is upgraded in place and keeps every audit entry as it was", function()
    local path = restore()
    local db = assert(mandate.open(path))
    local want = dofile("spec/fixtures/store-v3-audit.lua")
    local got = {}
    for i, e in ipairs(db:audit {}) do
      got[i] = { id = e.id, revision = e.revision, time = e.time, actor = e.actor, op = e.op,
                 subject = e.subject, before = e.before and json.encode(e.before),
                 after = e.after and json.encode(e.after) }
    end
    assert.same(want, got)
    assert.equal(9, db:revision())
    -- and goes on from there: the next change set's time and actor are its revision's
    db:set_actor("after@example.com")
    assert.is_true(db:set_access("alice", "crm", "read"))
    local last = db:audit { since = 9 }
    assert.equal(1, #last)
    assert.same({ 10, "after@example.com", "set_access" }, { last[1].revision, last[1].actor, last[1].op })
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", last[1].time)
    assert.equal(#want + 1, #db:audit {})
    assert.same({ "read", true }, { db:access("alice", "crm") })
    db:close()
    helpers.remove_store(path)
  end)

  it("answers the filters by time and actor as before", function()
    local path = restore()
    local db = assert(mandate.open(path))
    local want = dofile("spec/fixtures/store-v3-audit.lua")
    local n = 0
    for _, e in ipairs(want) do if e.actor == "other@example.com" then n = n + 1 end end
    assert.equal(n, #db:audit { actor = "other@example.com" })
    assert.equal(#want, #db:audit { since = want[1].time })
    db:close()
    helpers.remove_store(path)
  end)
end)

describe("the store's access writer", function()
  -- set_access and clear_access write their audit JSON in C
  -- (src/store/access.c): the same text as the Lua layer's JSON
  it("writes the audit text json.encode writes, quotes and backslashes too", function()
    local db = helpers.world()
    for _, key in ipairs({ 'te"nant', "back\\slash", "plain", "ünïcode" }) do
      db:put_tenant(key, {})
      assert.is_true(db:set_access("alice", key, "read"))
      assert.is_true(db:set_access("alice", key, "full"))
      assert.is_true(db:clear_access("alice", key))
      local rows = prim.rows(db, "SELECT op, before, after FROM audit ORDER BY id DESC LIMIT 3")
      assert.same({
        { op = "clear_access", before = json.encode({ access = "full", tenant = key }) },
        { op = "set_access", before = json.encode({ access = "read", tenant = key }),
          after = json.encode({ access = "full", tenant = key }) },
        { op = "set_access", after = json.encode({ access = "read", tenant = key }) },
      }, rows)
    end
  end)

  it("refuses as every writer does, in the order of the arguments, writing nothing", function()
    local db = helpers.world()
    local r = db:revision()
    assert.matches("set_access: user: 'nobody' is not a user",
                   helpers.error_of(function() db:set_access("nobody", "nowhere", "galaxy") end))
    assert.matches("set_access: tenant: 'nowhere' is not a tenant",
                   helpers.error_of(function() db:set_access("alice", "nowhere", "galaxy") end))
    assert.matches("set_access: access: 'galaxy' is not an access",
                   helpers.error_of(function() db:set_access("alice", "team-a", "galaxy") end))
    assert.matches("set_access: access: nil is not an access",
                   helpers.error_of(function() db:set_access("alice", "team-a", nil) end))
    assert.matches("clear_access: user: expected",
                   helpers.error_of(function() db:clear_access(7, "team-a") end))
    assert.equal(r, db:revision())
  end)
end)
