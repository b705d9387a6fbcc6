-- How checks resolve keys.  The binding caches the id of each key by the
-- address of its (interned) Lua string, anchors the strings it caches and
-- forgets everything whenever the snapshot changes (src/lua/lmandate.c,
-- "Key cache").  Whatever the cache holds, every answer must be the one
-- the store's current rows give, and the cache must stay bounded by the
-- store's keys, whatever strings requests bring.
local prim = require "primitives"   -- the test-only path to raw SQL
local helpers = require "helpers"
local mandate = require "mandate"

local EDIT = "documents.edit"

-- a copy of s that is a different Lua string object wherever Lua does not
-- intern (long strings in 5.3 and 5.4), built at run time
local function fresh(s)
  return (s:sub(1, 1) .. s:sub(2))
end

local function total_keys(db)
  local n = 0
  for _, t in ipairs({ "users", "rights", "tenants", "units", "customers" }) do
    n = n + prim.row(db, "SELECT count(*) AS n FROM " .. t).n
  end
  return n
end

describe("resolving keys", function()
  it("sees a user renamed by another connection, under both names", function()
    local path = helpers.tmpname()
    local db = helpers.world(assert(mandate.open(path)))
    local rec = { tenant = "team-a", owner = "alice" }
    assert.is_true(db:check("alice", EDIT, rec))
    local other = assert(mandate.open(path))
    prim.exec(other, "UPDATE users SET key = 'alice2' WHERE key = 'alice'")
    other:close()
    assert.is_true(db:refresh())
    assert.same({ false, "unknown_user" }, { db:check("alice", EDIT, rec) })
    assert.is_true(db:check("alice2", EDIT, { tenant = "team-a", owner = "alice2" }))
    -- the old owner key names nobody now: not alice2's own record any more
    assert.same({ false, "out_of_scope" },
                { db:check("alice2", "documents.see", { owner = "alice" }) })
    db:close()
    helpers.remove_store(path)
  end)

  it("gives a key that is deleted and created again its new id", function()
    local db = helpers.world()
    local old = db:id("user", "bob")
    assert.is_true(db:check("bob", "admin.open"))
    db:delete_user("bob")
    assert.same({ false, "unknown_user" }, { db:check("bob", "admin.open") })
    db:put_user("bob", { unit = "lab" })                  -- no bundles now
    assert.are_not.equal(old, db:id("user", "bob"))
    assert.same({ false, "no_right" }, { db:check("bob", "admin.open") })
    assert.same({ false, "unknown_user" },
                { db:check_ids(old, db:id("right", "admin.open")) })
  end)

  it("keeps kinds apart when a user, a tenant and a unit share a key", function()
    local db = helpers.world()
    db:put_tenant("lab", { default = "hidden" })
    db:put_user("lab", { unit = "lab", bundles = { "inside-sales" } })
    db:set_access("lab", "lab", "full")
    local rec = { tenant = "lab", owner = "lab", unit = "lab" }
    assert.is_true(db:check("lab", EDIT, rec))
    assert.same({ false, "tenant_hidden" }, { db:check("alice", EDIT, rec) })
    assert.equal(db:id("unit", "lab"), db:id("unit", fresh("lab")))
    assert.are_not.equal(db:id("user", "lab"), db:id("tenant", "lab"))
  end)

  it("answers keys built at run time exactly as literals, across collections", function()
    local db = helpers.world()
    local rights = { EDIT, "documents.see", "admin.open", "reports.create" }
    local owners = { "alice", "bob", "carol", "nobody" }
    local expect = {}
    for _, u in ipairs(owners) do
      for _, r in ipairs(rights) do
        for _, o in ipairs(owners) do
          expect[u .. "/" .. r .. "/" .. o] =
            { db:check(u, r, { tenant = "team-a", owner = o }) }
        end
      end
    end
    for round = 1, 20 do
      for _, u in ipairs(owners) do
        for _, r in ipairs(rights) do
          for _, o in ipairs(owners) do
            -- new string objects every round; the old ones become garbage
            local got = { db:check(fresh(u), table.concat({ r }),
                                   { tenant = ("team-a"):lower(), owner = o .. "" }) }
            assert.same(expect[u .. "/" .. r .. "/" .. o], got)
          end
        end
      end
      if round % 5 == 0 then collectgarbage() collectgarbage() end
    end
  end)

  it("stays bounded by the store's keys whatever keys requests bring", function()
    local db = helpers.world()
    local long = string.rep("x", 60)
    db:put_user(long, { unit = "hh-sales", bundles = { "admin" } })
    for i = 1, 5000 do
      assert.is_true(db:check(fresh(long), "admin.open"))
      assert.same({ false, "unknown_user" }, { db:check("ghost" .. i, "admin.open") })
      assert.same({ false, "unknown_tenant" },
                  { db:check("bob", "admin.open", { tenant = "t" .. i }) })
    end
    assert.is_true(db:stats().cached_keys <= total_keys(db))
  end)

  it("starts over after every change of the snapshot", function()
    local db = helpers.world()
    assert.is_true(db:check("alice", EDIT, { tenant = "team-a", owner = "bob" }))
    assert.is_true(db:check("bob", "admin.open", { customer = "ACME", unit = "lab" }))
    assert.equal(7, db:stats().cached_keys)
    db:set_access("alice", "team-a", "read")              -- a patch
    assert.same({ false, "tenant_read_only" },
                { db:check("alice", EDIT, { tenant = "team-a", owner = "bob" }) })
    assert.equal(4, db:stats().cached_keys)               -- this check's keys
  end)

  it("grows with a store of many keys and answers each of them", function()
    local db = helpers.world()
    db:transaction(function()
      for i = 1, 3000 do
        db:put_user("u" .. i, { unit = "hh-sales", bundles = { i % 2 == 0 and "admin" or "inside-sales" } })
      end
    end)
    for pass = 1, 2 do
      for i = 1, 3000 do
        local ok, why = db:check("u" .. i, "admin.open")
        if i % 2 == 0 then assert.is_true(ok, pass)
        else assert.same({ false, "no_right" }, { ok, why }) end
      end
    end
    assert.is_true(db:stats().cached_keys >= 3000)
    assert.is_true(db:stats().cached_keys <= total_keys(db))
  end)

  it("accepts a number for a key, as Lua would a string", function()
    local db = helpers.world()
    db:put_user("42", { unit = "hh-sales", bundles = { "admin" } })
    assert.is_true(db:check(42, "admin.open"))
    assert.equal(db:id("user", "42"), db:id("user", 42))
  end)
end)

describe("a check that runs Lua code of its caller's", function()
  -- A record's __index, or a finalizer, may write and check again on the
  -- same store: the snapshot the outer call works on must survive that
  -- (make asan / make valgrind would report a use after free).
  local function sneaky(db, n)
    local i = 0
    return setmetatable({}, { __index = function(_, field)
      if field == "owner" then
        i = i + 1
        assert(db:put_unit("sneaky-" .. n .. "-" .. i, { level = "team", parent = "m" }))
        assert(db:check("bob", "admin.open"))            -- rebuilds now
        return "alice"
      end
      if field == "tenant" then return "team-a" end
    end })
  end

  it("reads the record before it takes the snapshot", function()
    local db = helpers.world()
    for n = 1, 3 do
      assert.is_true(db:check("alice", EDIT, sneaky(db, n)))
      local can = db:prepare("alice", EDIT)
      assert.is_true(can(sneaky(db, n + 10)))
      local why = db:explain("alice", EDIT, sneaky(db, n + 20))
      assert.is_true(why.allowed)
    end
    -- the writes inside went through, and the next check sees them all
    assert.equal(9, #prim.rows(db, "SELECT id FROM units WHERE key LIKE 'sneaky-%'"))
    assert.is_number(db:id("unit", "sneaky-23-1"))
  end)

  it("refuses to close the store from inside another call on it", function()
    local db = helpers.world()
    local rec = setmetatable({}, { __index = function() db:close() end })
    assert.matches("closed", helpers.error_of(function() db:explain("alice", EDIT, rec) end))
  end)

  it("raises, and reads nothing freed, when a record's __index closes the store", function()
    local calls = {
      function(db, rec) return db:check("alice", EDIT, rec) end,
      function(db, rec) return db:prepare("alice", EDIT)(rec) end,
      function(db, rec) return db:allowed("alice", EDIT, { rec }) end,
    }
    for _, call in ipairs(calls) do
      local db = helpers.world()
      local rec = setmetatable({}, { __index = function() db:close() end })
      assert.equal("mandate.Db: the store is closed", helpers.error_of(function() call(db, rec) end))
      assert.is_false(db:is_open())
    end
  end)

  -- an object whose finalizer runs f (5.1 and LuaJIT finalize only userdata)
  local function finalized(f)
    if newproxy then                                 -- luacheck: ignore
      local p = newproxy(true)                       -- luacheck: ignore
      getmetatable(p).__gc = f
      return p
    end
    return setmetatable({}, { __gc = f })
  end

  it("keeps the store open for a call whose allocations run a finalizer that closes it", function()
    -- rows are pushed while the statement steps: a finalizer run by one of
    -- those allocations must not free the statement under the call
    local db = helpers.world()
    for i = 1, 300 do assert(db:put_user("filler" .. i, { unit = "hh-sales" })) end
    local refused, pause = 0, collectgarbage("setpause", 0)   -- a cycle on every step
    for _ = 1, 200 do
      finalized(function()
        if not pcall(db.close, db) then refused = refused + 1 end
      end)
      if not pcall(prim.rows, db, "SELECT * FROM users") then break end
    end
    collectgarbage("setpause", pause)
    -- each finalizer ran inside a call (refused) or between calls (closed)
    assert.is_true(refused > 0 or not db:is_open())
    if db:is_open() then db:close() end
  end)

  it("either answers or raises 'closed' when the store closes at any point of a call", function()
    -- a count hook closes the store after the n-th VM instruction of the
    -- call, for points spread over the whole call: the Lua layer must
    -- meet a closed store anywhere (the C parts are covered above)
    local record = { tenant = "team-a", owner = "bob" }
    local calls = {
      function(db) return db:check("alice", EDIT, record) end,
      function(db) return db:allowed("alice", EDIT, { record, { owner = "bob" } }) end,
      function(db) return db:explain("alice", EDIT, record) end,
      function(db) return db:effective("alice") end,
      function(db) return db:set_access("alice", "team-a", "full") end,
      function(db) return db:put_user("zed", { unit = "hh-sales", bundles = { "admin" } }) end,
      function(db)
        return db:transaction(function() db:set_override("alice", EDIT, "all") end)
      end,
    }
    local function run(call, at)       -- instructions the call ran, ok, error
      local db, count = helpers.world(), 0
      debug.sethook(function()
        count = count + 1
        if count == at then pcall(db.close, db) end
      end, "", 1)
      local ok, err = pcall(call, db)
      debug.sethook()
      if db:is_open() then db:close() end
      return count, ok, err
    end
    for i, call in ipairs(calls) do
      local total = run(call, 0)
      local closed = 0
      for at = 1, total, math.max(1, math.floor(total / 12)) do
        local _, ok, err = run(call, at)
        if not ok then
          assert.matches("the store is closed", tostring(err), nil, nil, "call " .. i)
          closed = closed + 1
        end
      end
      assert.is_true(closed > 0, "call " .. i)
    end
  end)
end)
