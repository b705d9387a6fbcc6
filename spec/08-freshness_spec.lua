-- Freshness: a check sees every committed change.  Writes through the same
-- db are seen by the next check, inside a transaction its own writes are
-- seen and a rollback brings the old state back, and commits of another
-- process are seen after db:refresh() and, by polling, within the refresh
-- interval.

local prim = require "primitives"   -- the test-only path to raw SQL
local mandate = require "mandate"
local helpers = require "helpers"

local ALLOWED = { true }
local function denied(reason) return { false, reason } end

local function check(db, user, right, record)
  return { db:check(user, right, record) }
end

-- A small world: two teams in one branch, a tenant, a few rights.
local function world(path)
  local db = assert(mandate.open(path or ":memory:"))
  db:transaction(function()
    db:set_levels{ "branch", "team" }
    db:put_unit("hh", { level = "branch" })
    db:put_unit("hh-a", { level = "team", parent = "hh" })
    db:put_unit("hh-b", { level = "team", parent = "hh" })
    db:put_unit("m", { level = "branch" })
    db:put_tenant("A", { default = "hidden" })
    db:put_tenant("Z", {})
    db:put_right("docs.see", { kind = "scope", mode = "read", customer = true })
    db:put_right("docs.edit", { kind = "scope" })
    db:put_right("admin.open", { kind = "flag" })
    db:put_bundle("sales", { rights = { ["docs.see"] = "team", ["docs.edit"] = "own" } })
    db:put_bundle("boss", { rights = { ["docs.see"] = "branch", ["admin.open"] = true } })
    db:put_user("alice", { unit = "hh-a", bundles = { "sales" } })
    db:put_user("bob", { unit = "hh-b", bundles = { "sales" } })
    db:put_user("carol", { unit = "hh-a", bundles = {} })
  end)
  return db
end

describe("freshness: writes through the same db", function()
  local db
  before_each(function()
    db = world()
    db:set_refresh_interval(3600)   -- own writes must not depend on polling
  end)
  after_each(function() db:close() end)

  it("set_access and clear_access are seen by the next check", function()
    local rec = { tenant = "A", owner = "alice" }
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.edit", rec))
    db:set_access("alice", "A", "read")
    assert.same(denied("tenant_read_only"), check(db, "alice", "docs.edit", rec))
    assert.same(ALLOWED, check(db, "alice", "docs.see", rec))
    db:set_access("alice", "A", "full")
    assert.same(ALLOWED, check(db, "alice", "docs.edit", rec))
    db:clear_access("alice", "A")
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.edit", rec))
  end)

  it("set_override and clear_override are seen by the next check", function()
    assert.same(denied("out_of_scope"), check(db, "alice", "docs.see", { owner = "bob" }))
    db:set_override("alice", "docs.see", "branch")
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
    db:set_override("alice", "docs.see", "none")
    assert.same(denied("no_right"), check(db, "alice", "docs.see", { owner = "alice" }))
    db:clear_override("alice", "docs.see")
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "alice" }))
  end)

  it("put_user with new bundles, a new unit or another active flag is seen", function()
    assert.same(denied("no_right"), check(db, "alice", "admin.open"))
    db:put_user("alice", { bundles = { "sales", "boss" } })
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
    db:put_user("alice", { bundles = { "sales" } })
    assert.same(denied("no_right"), check(db, "alice", "admin.open"))
    db:put_user("alice", { unit = "hh-b" })
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
    assert.same(ALLOWED, check(db, "bob", "docs.see", { owner = "alice" }))
    db:put_user("alice", { active = false })
    assert.same(denied("inactive_user"), check(db, "alice", "docs.see", { owner = "alice" }))
    db:put_user("dave", { unit = "hh-a", bundles = { "boss" } })
    assert.same(ALLOWED, check(db, "dave", "admin.open"))
  end)

  it("put_unit moving a unit is seen", function()
    assert.same(ALLOWED, check(db, "alice", "docs.see", { unit = "hh-a" }))
    db:put_user("erin", { unit = "m", bundles = { "boss" } })
    assert.same(denied("out_of_scope"), check(db, "erin", "docs.see", { owner = "alice" }))
    db:put_unit("hh-a", { level = "team", parent = "m" })
    assert.same(ALLOWED, check(db, "erin", "docs.see", { owner = "alice" }))
    db:put_unit("hh-c", { level = "team", parent = "m" })
    assert.same(ALLOWED, check(db, "erin", "docs.see", { unit = "hh-c" }))
  end)

  it("put_bundle, put_right and put_tenant are seen", function()
    db:put_bundle("sales", { rights = { ["docs.see"] = "branch", ["docs.edit"] = "own" } })
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
    db:set_access("alice", "A", "read")
    assert.same(denied("tenant_read_only"),
                check(db, "alice", "docs.edit", { tenant = "A", owner = "alice" }))
    db:put_right("docs.edit", { mode = "read" })
    assert.same(ALLOWED, check(db, "alice", "docs.edit", { tenant = "A", owner = "alice" }))
    assert.same(denied("tenant_hidden"), check(db, "bob", "docs.see", { tenant = "A" }))
    db:put_tenant("A", { default = "read" })
    assert.same(ALLOWED, check(db, "bob", "docs.see", { tenant = "A" }))
    assert.same(denied("unknown_tenant"), check(db, "bob", "docs.see", { tenant = "N" }))
    db:put_tenant("N", { default = "full" })
    assert.same(ALLOWED, check(db, "bob", "docs.see", { tenant = "N" }))
    db:put_right("new.flag", { kind = "flag" })
    assert.same(denied("no_right"), check(db, "bob", "new.flag"))
  end)

  it("assign_customer and unassign_customer are seen", function()
    db:set_override("alice", "docs.see", "own+customer")
    assert.same(denied("out_of_scope"), check(db, "alice", "docs.see", { customer = "ACME" }))
    db:assign_customer("alice", "ACME")
    assert.same(ALLOWED, check(db, "alice", "docs.see", { customer = "ACME" }))
    db:unassign_customer("alice", "ACME")
    assert.same(denied("out_of_scope"), check(db, "alice", "docs.see", { customer = "ACME" }))
  end)

  it("delete_user and delete_tenant are seen", function()
    assert.same(denied("no_right"), check(db, "carol", "docs.see"))
    db:delete_user("carol")
    assert.same(denied("unknown_user"), check(db, "carol", "docs.see"))
    db:delete_tenant("Z")
    assert.same(denied("unknown_tenant"), check(db, "alice", "docs.see", { tenant = "Z" }))
    -- a deleted user no longer owns anything: an own record is nobody's
    db:delete_user("bob")
    db:set_override("alice", "docs.see", "all")
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
    db:set_override("alice", "docs.see", "branch")
    assert.same(denied("out_of_scope"), check(db, "alice", "docs.see", { owner = "bob" }))
  end)

  it("a single set_access on a compiled snapshot is a patch, not a rebuild", function()
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", { tenant = "A" }))
    local before = db:stats()
    assert.is_number(before.rebuilds)
    assert.is_number(before.patches)
    db:set_access("alice", "A", "full")
    assert.same(ALLOWED, check(db, "alice", "docs.see", { tenant = "A" }))
    local after = db:stats()
    assert.equal(before.rebuilds, after.rebuilds)
    assert.is_true(after.patches > before.patches)
  end)
end)

describe("freshness: rows written by SQL, not by a writer", function()
  -- what goes stale is declared once beside the tables (the preupdate hook, see
  -- src/store/schema.c): whatever writes a row, the next check sees it
  local db
  before_each(function() db = helpers.world() end)

  it("a user's row is patched, a deleted or structural row rebuilds", function()
    assert.is_true(db:check("bob", "documents.see", { tenant = "team-a" }))
    local stats = db:stats()
    prim.exec(db, "UPDATE access SET access = 'hidden' WHERE user_id = ?1 AND tenant_id = ?2",
             db:id("user", "bob"), db:id("tenant", "team-a"))
    assert.same({ false, "tenant_hidden" }, { db:check("bob", "documents.see", { tenant = "team-a" }) })
    assert.equal(stats.patches + 1, db:stats().patches)
    assert.equal(stats.rebuilds, db:stats().rebuilds)
    prim.exec(db, "UPDATE tenants SET default_access = 'full' WHERE key = 'team-a'")
    prim.exec(db, "DELETE FROM access WHERE user_id = ?1", db:id("user", "bob"))
    assert.is_true(db:check("bob", "documents.see", { tenant = "team-a" }))
    assert.equal(stats.rebuilds + 1, db:stats().rebuilds)
  end)

  it("a raw row of each user table patches every user it names, old and new",
     function()
    local id = function(kind, key) return db:id(kind, key) end
    local function seen()
      local out = {}
      for _, user in ipairs({ "alice", "bob" }) do
        out[user] = { effective = db:effective(user),
                      access = { db:access(user, "team-a") },
                      customer = { db:check(user, "documents.edit",
                                            { tenant = "team-a", customer = "ACME" }) } }
      end
      return out
    end
    local writes = {
      { "DELETE FROM account_managers WHERE user_id = ?1", id("user", "alice") },
      { "INSERT INTO overrides(user_id, right_id, value) VALUES (?1, ?2, 'false')",
        id("user", "bob"), id("right", "admin.open") },
      { "UPDATE overrides SET user_id = ?1 WHERE user_id = ?2",        -- alice's to bob
        id("user", "bob"), id("user", "alice") },
      { "DELETE FROM user_bundles WHERE user_id = ?1 AND bundle_id = ?2",
        id("user", "bob"), id("bundle", "admin") },
      { "INSERT INTO user_bundles(user_id, position, bundle_id) VALUES (?1, 9, ?2)",
        id("user", "alice"), id("bundle", "admin") },
      { "UPDATE access SET access = 'hidden' WHERE user_id = ?1", id("user", "alice") },
    }
    for _, w in ipairs(writes) do
      local before, stats = seen(), db:stats()
      prim.exec(db, table.unpack(w))
      local patched = seen()
      assert.are_not.same(before, patched, w[1])
      assert.equal(stats.rebuilds, db:stats().rebuilds, w[1])
      prim.exec(db, "UPDATE units SET label = label")            -- rebuild
      assert.are.same(seen(), patched, w[1])
      assert.equal(stats.rebuilds + 1, db:stats().rebuilds, w[1])
    end
  end)

  it("a transaction rolled back by SQL leaves the snapshot as committed", function()
    assert.is_true(db:check("bob", "documents.see", { tenant = "team-a" }))
    prim.exec(db, "BEGIN")
    db:set_access("bob", "team-a", "hidden")
    assert.same({ false, "tenant_hidden" }, { db:check("bob", "documents.see", { tenant = "team-a" }) })
    prim.exec(db, "ROLLBACK")
    assert.is_true(db:check("bob", "documents.see", { tenant = "team-a" }))
  end)
end)

describe("freshness: transactions", function()
  local db
  before_each(function() db = world() end)
  after_each(function() db:close() end)

  local rec = { tenant = "A", owner = "alice" }

  it("checks inside a transaction see its writes; after commit everyone does", function()
    db:transaction(function()
      db:set_access("alice", "A", "full")
      assert.same(ALLOWED, check(db, "alice", "docs.edit", rec))
      db:set_override("alice", "docs.see", "branch")
      assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
      db:put_user("alice", { active = false })
      assert.same(denied("inactive_user"), check(db, "alice", "docs.edit", rec))
      db:put_user("alice", { active = true })
    end)
    assert.same(ALLOWED, check(db, "alice", "docs.edit", rec))
    assert.same(ALLOWED, check(db, "alice", "docs.see", { owner = "bob" }))
  end)

  it("after a rolled-back transaction checks see the old state", function()
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.edit", rec))
    local ok, err = pcall(db.transaction, db, function()
      db:set_access("alice", "A", "full")
      db:put_unit("hh-b", { level = "team", parent = "m" })
      db:put_user("carol", { bundles = { "boss" } })
      assert.same(ALLOWED, check(db, "alice", "docs.edit", rec))
      assert.same(ALLOWED, check(db, "carol", "admin.open"))
      error("changed my mind")
    end)
    assert.is_false(ok)
    assert.matches("changed my mind", tostring(err), 1, true)
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.edit", rec))
    assert.same(denied("no_right"), check(db, "carol", "admin.open"))
    assert.same(ALLOWED, check(db, "alice", "docs.see", { unit = "hh-a" }))
    db:put_user("erin", { unit = "hh", bundles = { "boss" } })
    assert.same(ALLOWED, check(db, "erin", "docs.see", { owner = "bob" }))
  end)

  it("writers find users created, deleted or undone earlier in it", function()
    assert.same(denied("tenant_hidden"), check(db, "carol", "docs.see", rec))
    db:transaction(function()
      db:put_user("dave", { unit = "hh-a" })
      db:set_access("dave", "A", "read")
      db:delete_user("carol")
      local ok, err = pcall(db.set_access, db, "carol", "A", "full")
      assert.is_false(ok)
      assert.matches("set_access: user: 'carol' is not a user", err, 1, true)
      db:put_user("carol", { unit = "hh-b" })
      db:set_access("carol", "A", "full")
      ok = pcall(db.transaction, db, function()
        db:put_user("erin", {})
        assert.same(denied("tenant_hidden"), check(db, "erin", "docs.see", rec))
        error("undo erin")
      end)
      assert.is_false(ok)
      ok, err = pcall(db.set_access, db, "erin", "A", "full")
      assert.is_false(ok)
      assert.matches("set_access: user: 'erin' is not a user", err, 1, true)
    end)
    assert.same({ "read", true }, { db:access("dave", "A") })
    assert.same({ "full", true }, { db:access("carol", "A") })
    assert.is_nil(db:access("erin", "A"))
  end)

  it("a failed inner transaction rolls back only its own writes", function()
    db:transaction(function()
      db:set_access("alice", "A", "read")
      local ok = pcall(db.transaction, db, function()
        db:set_access("alice", "A", "full")
        db:set_override("alice", "admin.open", true)
        assert.same(ALLOWED, check(db, "alice", "docs.edit", rec))
        error("inner")
      end)
      assert.is_false(ok)
      assert.same(denied("tenant_read_only"), check(db, "alice", "docs.edit", rec))
      assert.same(denied("no_right"), check(db, "alice", "admin.open"))
    end)
    assert.same(denied("tenant_read_only"), check(db, "alice", "docs.edit", rec))
    assert.same(ALLOWED, check(db, "alice", "docs.see", rec))
    assert.same(denied("no_right"), check(db, "alice", "admin.open"))
  end)
end)

describe("freshness: another process", function()
  local path, script, db

  -- the interpreter running these specs, for the child process
  local function interpreter()
    local lua = os.getenv("MANDATE_LUA")
    if lua then return lua end
    if rawget(_G, "jit") then return "luajit" end
    return "lua" .. _VERSION:match("%d+%.%d+")
  end

  local function quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
  end

  -- run the child script: it opens the store at `path` and commits `change`
  local function child(change)
    local cmd = table.concat({
      "LUA_PATH=" .. quote(package.path),
      "LUA_CPATH=" .. quote(package.cpath),
      interpreter(), quote(script), quote(path), quote(change),
    }, " ") .. " 2>&1"
    local pipe = assert(io.popen(cmd, "r"))
    local out = pipe:read("*a")
    pipe:close()
    assert.equal("done\n", out, "the child process failed: " .. out)
  end

  local CHILD = [[
local mandate = require "mandate"
local path, change = arg[1], arg[2]
local db = assert(mandate.open(path))
if change == "grant" then
  db:set_access("alice", "A", "full")
elseif change == "revoke" then
  db:clear_access("alice", "A")
elseif change == "boss" then
  db:put_user("alice", { bundles = { "sales", "boss" } })
elseif change == "drop carol" then
  db:delete_user("carol")
elseif change == "flush" then           -- a commit that changes no decision
  db:log_decisions()
  db:check("alice", "docs.see", { tenant = "A", owner = "alice" })
  assert(db:flush_log() == 1)
end
db:close()
io.write("done\n")
]]

  before_each(function()
    path = os.tmpname()
    os.remove(path)
    script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(CHILD)
    f:close()
    world(path):close()
    db = assert(mandate.open(path))
  end)

  after_each(function()
    db:close()
    for _, suffix in ipairs{ "", "-wal", "-shm", "-journal" } do os.remove(path .. suffix) end
    os.remove(script)
  end)

  local rec = { tenant = "A", owner = "alice" }

  it("a commit of another process is seen after db:refresh()", function()
    db:set_refresh_interval(3600)
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", rec))
    child("grant")
    db:refresh()
    assert.same(ALLOWED, check(db, "alice", "docs.see", rec))
    child("boss")
    db:refresh()
    assert.same(ALLOWED, check(db, "alice", "admin.open"))
  end)

  it("without refresh and polling, checks do not go to the database every time", function()
    db:set_refresh_interval(3600)
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", rec))
    child("grant")
    -- polling is due only after an hour: the snapshot is still the old one
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", rec))
    db:refresh()
    assert.same(ALLOWED, check(db, "alice", "docs.see", rec))
  end)

  it("a writer sees a user another process deleted, without refresh", function()
    db:set_refresh_interval(3600)
    assert.same(denied("tenant_hidden"), check(db, "carol", "docs.see", rec))
    child("drop carol")
    local ok, err = pcall(db.set_access, db, "carol", "A", "full")
    assert.is_false(ok)
    assert.matches("set_access: user: 'carol' is not a user", err, 1, true)
    assert.same(denied("unknown_user"), check(db, "carol", "docs.see", rec))
  end)

  it("another process's decision log flush moves no revision: no rebuild at the poll",
     function()
    db:set_refresh_interval(0)                  -- poll at every check
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", rec))
    local stats = db:stats()
    child("flush")
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", rec))
    assert.equal(stats.rebuilds, db:stats().rebuilds)
    child("grant")                              -- a change set: seen at once
    assert.same(ALLOWED, check(db, "alice", "docs.see", rec))
    assert.equal(stats.rebuilds + 1, db:stats().rebuilds)
  end)

  it("a commit of another process is seen within the refresh interval", function()
    db:set_refresh_interval(0.05)
    assert.same(denied("tenant_hidden"), check(db, "alice", "docs.see", rec))
    for _, step in ipairs{ { "grant", ALLOWED }, { "revoke", denied("tenant_hidden") } } do
      child(step[1])
      -- busy checking: CPU time runs with the clock here; give up after 3 s
      local started = os.clock()
      local seen
      repeat
        seen = check(db, "alice", "docs.see", rec)
      until seen[1] == step[2][1] or os.clock() - started > 3
      assert.same(step[2], seen, "not seen within 3 s after " .. step[1])
      assert.is_true(os.clock() - started < 1, "seen only after more than 1 s")
    end
  end)
end)
