-- The store itself: opening, migrating, closing, collecting, reopening,
-- runtime failures of SQLite.

local prim = require "primitives"   -- the test-only path to raw SQL
local mandate = require "mandate"
local helpers = require "helpers"

local function user_version(db)
  return prim.row(db, "PRAGMA user_version").user_version
end

local write_file = helpers.write_file

local TABLES = {
  "access", "account_managers", "audit", "bundle_rights", "bundles",
  "customers", "levels", "meta", "overrides", "rights", "tenants",
  "units", "user_bundles", "users",
}

describe("mandate.open", function()
  it("opens an in-memory store for nil and ':memory:'", function()
    for _, path in ipairs({ false, ":memory:" }) do
      local db = assert(mandate.open(path or nil))
      assert.is_true(db:is_open())
      assert.are.same({}, db:levels())
      assert.are.equal(0, db:revision())
      db:close()
    end
  end)

  it("gives every in-memory store its own data", function()
    local a, b = helpers.open(), helpers.open()
    a:set_levels{ "team" }
    assert.are.same({ "team" }, a:levels())
    assert.are.same({}, b:levels())
  end)

  it("creates a file store with the whole schema", function()
    local path = helpers.tmpname()
    local db = assert(mandate.open(path))
    local names = {}
    for _, r in ipairs(prim.rows(db, "SELECT name FROM sqlite_master"
                                .. " WHERE type = 'table'")) do
      names[r.name] = true
    end
    for _, name in ipairs(TABLES) do
      assert.is_true(names[name], "missing table " .. name)
    end
    assert.are.equal("wal", prim.row(db, "PRAGMA journal_mode").journal_mode)
    assert.are.equal(1, prim.row(db, "PRAGMA foreign_keys").foreign_keys)
    db:close()
    helpers.remove_store(path)
  end)

  it("migrates an empty (0-byte) file to the current schema", function()
    local path = helpers.tmpname()
    write_file(path, "")
    local db = assert(mandate.open(path))
    local current = helpers.open()
    assert.is_true(user_version(db) >= 1)
    -- as many migrations as a store made from scratch by this build
    assert.are.equal(user_version(current), user_version(db))
    assert.are.equal(0, db:revision())
    helpers.world(db)
    db:close()
    -- reopening applies nothing twice
    db = assert(mandate.open(path))
    assert.are.equal(user_version(current), user_version(db))
    assert.are.equal("hh-sales-a", db:get_user("alice").unit)
    db:close()
    helpers.remove_store(path)
  end)

  it("upgrades the access table of a schema version 2 store in place",
     function()
    local path = helpers.tmpname()
    local db = assert(mandate.open(path))
    helpers.world(db)
    local rows = prim.rows(db, "SELECT * FROM access ORDER BY user_id, tenant_id")
    assert.is_true(#rows > 0)
    -- the access table as version 2 made it
    prim.exec(db, "CREATE TABLE access_v2 ("
             .. "  user_id   INTEGER NOT NULL REFERENCES users(id),"
             .. "  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
             .. "  access    TEXT NOT NULL"
             .. "            CHECK (access IN ('full', 'read', 'hidden')),"
             .. "  PRIMARY KEY (user_id, tenant_id)"
             .. ") STRICT, WITHOUT ROWID")
    prim.exec(db, "INSERT INTO access_v2 SELECT * FROM access")
    prim.exec(db, "DROP TABLE access")
    prim.exec(db, "ALTER TABLE access_v2 RENAME TO access")
    prim.exec(db, "CREATE INDEX access_tenant ON access(tenant_id)")
    helpers.audit_as_schema_3(db)
    prim.exec(db, "PRAGMA user_version = 2")
    db:close()
    db = assert(mandate.open(path))
    assert.are.equal(user_version(helpers.open()), user_version(db))
    assert.are.same(rows, prim.rows(db, "SELECT * FROM access"
                                   .. " ORDER BY user_id, tenant_id"))
    assert.is_not_nil(prim.row(db, "SELECT 1 AS yes FROM sqlite_master"
                              .. " WHERE name = 'access_tenant'"))
    assert.is_nil(prim.row(db, "SELECT 1 AS yes FROM sqlite_master"
                          .. " WHERE name = 'access' AND sql LIKE '%IN (%'"))
    local ok, err = pcall(prim.exec, db, "UPDATE access SET access = 'some'")
    assert.is_false(ok)
    assert.are.equal("constraint", err.code)
    assert.is_false(pcall(prim.exec, db, "INSERT INTO access VALUES (999, 1,"
                                        .. " 'full')"))
    assert.is_true(db:set_access("bob", "team-a", "read"))
    assert.are.same({ "read", true }, { db:access("bob", "team-a") })
    db:close()
    helpers.remove_store(path)
  end)

  it("returns nil, message, code for a file that is not a store", function()
    local path = helpers.tmpname()
    write_file(path, ("this is not an SQLite database\n"):rep(200))
    local db, msg, code = mandate.open(path)
    assert.is_nil(db)
    assert.are.equal("string", type(msg))
    assert.truthy(msg:find(path, 1, true), msg)
    assert.are.equal("ioerr", code)
    helpers.remove_store(path)
  end)

  it("returns nil, message, code for a directory that does not exist",
     function()
    local db, msg, code = mandate.open("/nonexistent-dir/sub/crm.db")
    assert.is_nil(db)
    assert.truthy(msg:find("/nonexistent-dir/sub/crm.db", 1, true))
    assert.are.equal("ioerr", code)
  end)

  it("raises for a path that is not a string", function()
    assert.are.equal("mandate.open: path: expected a file name (a non-empty string without"
                     .. " NUL), \":memory:\" or nil, got 42",
                     helpers.error_of(function() mandate.open(42) end))
  end)
end)

describe("a file store", function()
  local path
  before_each(function() path = helpers.tmpname() end)
  after_each(function() helpers.remove_store(path) end)

  it("keeps everything across close and reopen", function()
    local db = assert(mandate.open(path))
    helpers.world(db)
    local rows = helpers.snapshot_rows(db)
    local users = db:users()
    db:close()
    db = assert(mandate.open(path))
    assert.are.same(rows, helpers.snapshot_rows(db))
    assert.are.same(users, db:users())
    assert.are.equal(rows.meta[1].value, db:revision())
    -- and checks work on the reopened store
    assert.is_true(db:check("bob", "admin.open"))
    db:close()
  end)

  it("shows one handle's writes to another handle's readers", function()
    local a = assert(mandate.open(path))
    local b = assert(mandate.open(path))
    helpers.world(a)
    assert.are.equal("hh-sales", b:get_user("bob").unit)
    assert.are.equal(a:revision(), b:revision())
    a:put_user("bob", { unit = "m" })
    assert.are.equal("m", b:get_user("bob").unit)
    a:close()
    b:close()
  end)

  it("returns nil, message, 'busy' when another handle holds the write lock",
     function()
    local a = assert(mandate.open(path))
    local b = assert(mandate.open(path))
    helpers.world(a)
    prim.exec(a, "PRAGMA busy_timeout = 0")
    prim.exec(b, "BEGIN IMMEDIATE")
    local before = helpers.snapshot_rows(a)
    local ok, msg, code = a:put_unit("x", { level = "team" })
    assert.is_nil(ok)
    assert.are.equal("string", type(msg))
    assert.are.equal("busy", code)
    ok, msg, code = a:transaction(function() error("not reached") end)
    assert.is_nil(ok)
    assert.are.equal("string", type(msg))
    assert.are.equal("busy", code)
    assert.is_false(prim.in_transaction(a))
    prim.exec(b, "ROLLBACK")
    assert.are.same(before, helpers.snapshot_rows(a))
    -- the handle works again once the lock is gone
    assert.are.equal(a:get_unit("de") and true, true)
    assert.truthy(a:put_unit("x", { level = "team" }))
    a:close()
    b:close()
  end)
end)

describe("closing", function()
  it("makes every method raise, and closing twice is fine", function()
    local db = helpers.world()
    db:close()
    assert.is_false(db:is_open())
    assert.are.equal("mandate.Db (closed)", tostring(db))
    db:close()
    assert.are.equal("put_unit: the store is closed",
      helpers.error_of(function() db:put_unit("x", { level = "team" }) end))
    assert.are.equal("get_user: the store is closed",
      helpers.error_of(function() db:get_user("alice") end))
    assert.are.equal("transaction: the store is closed",
      helpers.error_of(function() db:transaction(function() end) end))
    assert.are.equal("set_actor: the store is closed",
      helpers.error_of(function() db:set_actor("x") end))
    for _, call in ipairs({
      function() db:set_levels{ "a" } end,
      function() db:units() end,
      function() db:audit() end,
      function() db:revision() end,
      function() db:delete_user("alice") end,
      function() db:check("alice", "admin.open") end,
    }) do
      assert.has_error(call)
    end
  end)

  it("raises a clear error when a method is called with '.'", function()
    local db = helpers.open()
    assert.are.equal("put_unit: self: expected a mandate.Db, got 'x' (call it"
                     .. " as db:put_unit(...))",
      helpers.error_of(function() db.put_unit("x", { level = "team" }) end))
  end)

  it("rolls back an open transaction when the store is closed inside it",
     function()
    local path = helpers.tmpname()
    local db = assert(mandate.open(path))
    db:set_levels{ "team" }
    assert.has_error(function()
      db:transaction(function()
        db:put_unit("x", { level = "team" })
        db:close()
      end)
    end)
    db = assert(mandate.open(path))
    assert.is_nil(db:get_unit("x"))
    assert.are.equal(1, db:revision())
    db:close()
    helpers.remove_store(path)
  end)

  it("survives the collection of unreferenced stores", function()
    for _ = 1, 50 do
      local db = helpers.world()
      db:check("alice", "documents.edit")
    end
    collectgarbage()
    collectgarbage()
    -- a store that was closed first, then collected
    local db = helpers.open()
    db:close()
    db = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.is_true(helpers.open():is_open())
  end)

  it("closes on __close (Lua 5.4)", function()
    if _VERSION ~= "Lua 5.4" then return end
    local chunk = assert(load([[
      local mandate, seen = ...
      do
        local db <close> = assert(mandate.open())
        seen.db = db
      end
    ]]))
    local seen = {}
    chunk(mandate, seen)
    assert.is_false(seen.db:is_open())
  end)
end)

describe("runtime failures of the store", function()
  local db
  before_each(function()
    db = helpers.world()
    -- a trigger that fails like a store would: every new unit is refused
    prim.exec(db, "CREATE TEMP TRIGGER no_units BEFORE INSERT ON main.units"
             .. " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
  end)

  it("make a writer roll back and return nil, message, code", function()
    local before = helpers.snapshot_rows(db)
    local ok, msg, code = db:put_unit("x", { level = "team", parent = "hh" })
    assert.is_nil(ok)
    assert.are.equal("disk on fire", msg)
    assert.are.equal("constraint", code)
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.is_false(prim.in_transaction(db))
    -- later writes work
    assert.truthy(db:put_unit("hh", { label = "Hamburg" }))
  end)

  it("raise the mandate.Error inside a transaction, which rolls back",
     function()
    local before = helpers.snapshot_rows(db)
    local ok, err = pcall(db.transaction, db, function()
      db:put_user("dave", {})
      db:put_unit("x", { level = "team" })
    end)
    assert.is_false(ok)
    assert.are.equal(mandate.Error, getmetatable(err))
    assert.are.equal("constraint", err.code)
    assert.are.equal("disk on fire", tostring(err))
    assert.are.same(before, helpers.snapshot_rows(db))
  end)

  -- set_access writes its row, then fails writing the audit row
  local function fail_access_audit()
    prim.exec(db, "CREATE TEMP TRIGGER no_access_audit BEFORE INSERT ON main.audit"
             .. " WHEN NEW.op = 'set_access'"
             .. " BEGIN SELECT RAISE(ABORT, 'audit on fire'); END")
  end

  it("undo the half of a writer that got written", function()
    fail_access_audit()
    local before = helpers.snapshot_rows(db)
    local ok, msg, code = db:set_access("alice", "team-a", "read")
    assert.is_nil(ok)
    assert.are.equal("audit on fire", msg)
    assert.are.equal("constraint", code)
    assert.are.same(before, helpers.snapshot_rows(db))
  end)

  it("inside a transaction cannot be caught away: it rolls back", function()
    fail_access_audit()
    local before = helpers.snapshot_rows(db)
    for _, write in ipairs{
      function() return db:put_unit("x", { level = "team" }) end,
      function() return db:set_access("alice", "team-a", "read") end,
    } do
      local ok, err = pcall(db.transaction, db, function()
        db:put_user("dave", {})
        local caught, e = pcall(write)
        assert.is_false(caught)
        assert.are.equal(mandate.Error, getmetatable(e))
        local later, le = pcall(db.put_user, db, "erin", {})
        assert.is_false(later)
        assert.matches("put_user: the enclosing transaction must roll back",
                       tostring(le), 1, true)
        return "caught"
      end)
      assert.is_false(ok)
      assert.are.equal(mandate.Error, getmetatable(err))
      assert.matches("on fire", tostring(err), 1, true)
      assert.are.same(before, helpers.snapshot_rows(db))
      assert.is_false(prim.in_transaction(db))
    end
    assert.truthy(db:put_user("dave", {}))
  end)

  it("inside an inner transaction undo only the inner writes", function()
    fail_access_audit()
    local r = db:revision()
    db:transaction(function()
      db:put_user("dave", {})
      assert.is_false(pcall(db.transaction, db, function()
        db:put_user("erin", {})
        assert.is_false(pcall(db.set_access, db, "alice", "team-a", "read"))
      end))
      db:put_user("frank", {})
    end)
    assert.is_table(db:get_user("dave"))
    assert.is_nil(db:get_user("erin"))
    assert.is_table(db:get_user("frank"))
    assert.are.same({ ["team-a"] = "full" }, db:access_of("alice"))
    assert.are.equal(r + 1, db:revision())
  end)
end)
