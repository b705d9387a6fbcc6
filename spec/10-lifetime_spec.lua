-- Lifetimes and the fast paths: what a long-running web worker does to a
-- store handle (close it twice, use it after close, drop it while
-- prepared checks still hold it, fail inside transactions at every step)
-- and the integer-id / prepared paths, which must answer exactly as
-- db:check does.
local helpers = require "helpers"

local unpack = table.unpack or unpack

local RECORDS = {
  false,                                    -- no record
  { tenant = "team-a", owner = "alice" },
  { tenant = "team-a", owner = "bob" },
  { tenant = "common", owner = "bob", customer = "ACME" },
  { owner = "nobody" },
  { unit = "lab" },
  { unit = "no-such-unit", tenant = "common" },
  { tenant = "no-such-tenant" },
  { customer = "ACME" },
}

describe("a store handle", function()
  it("closes twice without complaint and prints its state", function()
    local db = helpers.open()
    assert.matches("^mandate%.Db %(0x%x+%)$", tostring(db))
    assert.is_true(db:is_open())
    db:close()
    db:close()
    assert.equal("mandate.Db (closed)", tostring(db))
    assert.is_false(db:is_open())
  end)

  it("raises when used after close, for checks and writers alike", function()
    local db = helpers.world()
    local can = db:prepare("alice", "documents.edit")
    db:close()
    assert.has_error(function() db:check("alice", "admin.open") end,
                     "mandate.Db: the store is closed")
    assert.has_error(function() can({ owner = "alice" }) end,
                     "mandate.Db: the store is closed")
    assert.has_error(function() db:check_ids(1, 1) end, "mandate.Db: the store is closed")
    assert.matches("closed", helpers.error_of(function() db:put_tenant("x") end))
  end)

  it("stays alive while a prepared check refers to it", function()
    local function make()
      local db = helpers.world()
      return db:prepare("alice", "documents.edit")
    end
    local can = make()
    for _ = 1, 3 do collectgarbage("collect") end
    assert.is_true(can({ tenant = "team-a", owner = "alice" }))
    assert.same({ false, "tenant_read_only" }, { can({ tenant = "common", owner = "x" }) })
  end)

  it("is closed by the garbage collector and by __close", function()
    local db = helpers.world()
    local weak = setmetatable({ db }, { __mode = "v" })
    db = nil -- luacheck: ignore 311
    for _ = 1, 3 do collectgarbage("collect") end
    assert.is_nil(weak[1])
    if _VERSION == "Lua 5.4" then
      local chunk = assert(load([[
        local helpers = ...
        local kept
        do
          local db <close> = helpers.open()
          kept = db
        end
        return kept
      ]]))
      assert.is_false(chunk(helpers):is_open())
    end
  end)

  it("rejects what is not a store", function()
    local db = helpers.open()
    assert.matches("mandate%.Db expected", helpers.error_of(function() db.check({}, "x") end))
    assert.matches("mandate%.Db expected",
                   helpers.error_of(function() db.check(io.stdout, "x") end))
  end)
end)

describe("a transaction that fails", function()
  local WRITES = {
    function(db) db:put_tenant("t-new", { default = "read" }) end,
    function(db) db:set_access("bob", "team-a", "full") end,
    function(db) db:set_override("bob", "documents.edit", "all") end,
    function(db) db:put_user("dave", { unit = "m", bundles = { "inside-sales" } }) end,
    function(db) db:assign_customer("bob", "ACME") end,
    function(db) db:put_unit("m-sales", { level = "team", parent = "m" }) end,
    function(db) db:delete_user("carol") end,
  }
  local RECORD = { tenant = "team-a", owner = "alice" }

  it("at every step leaves the store and every check as before", function()
    local db = helpers.world()
    local before = helpers.snapshot_rows(db)
    local answers = { db:check("bob", "documents.edit", RECORD) }
    for step = 1, #WRITES do
      local boom = {}
      local ok, err = pcall(db.transaction, db, function()
        for i = 1, step do WRITES[i](db) end
        -- a check inside sees the transaction's own writes
        assert(db:check("bob", "documents.edit", RECORD) ~= nil)
        error(boom)
      end)
      assert.is_false(ok)
      assert.equal(boom, err)
      assert.same(before, helpers.snapshot_rows(db))
      assert.same(answers, { db:check("bob", "documents.edit", RECORD) })
      assert.equal("unknown_user", select(2, db:check("dave", "documents.edit")))
    end
  end)
end)

describe("the fast paths", function()
  it("check_ids and prepare answer exactly as check", function()
    local db = helpers.world()
    local users = { "alice", "bob", "carol", "nobody" }
    local rights = { "documents.edit", "documents.see", "admin.open", "reports.create" }
    local function id(kind, key)
      if key == nil then return nil end
      return db:id(kind, key)              -- -1: given, but names nothing
    end
    for _, u in ipairs(users) do
      for _, r in ipairs(rights) do
        local can = db:prepare(u, r)
        for _, rec in ipairs(RECORDS) do
          rec = rec or nil
          local want = { db:check(u, r, rec) }
          assert.same(want, { can(rec) })
          local args = { id("user", u), db:id("right", r) }
          if rec then
            args[3], args[4] = id("tenant", rec.tenant), id("user", rec.owner)
            args[5], args[6] = id("unit", rec.unit), id("customer", rec.customer)
          end
          assert.same(want, { db:check_ids(args[1], args[2], unpack(args, 3, 6)) })
          for f = 3, 6 do args[f] = args[f] or 0 end  -- 0 is absent too
          assert.same(want, { db:check_ids(unpack(args, 1, 6)) })
          assert.same(want, { db:checker()(unpack(args, 1, 6)) })
        end
      end
    end
  end)

  it("db:allowed keeps, in order, the very records check allows", function()
    local db = helpers.world()
    local page = {}
    for _, rec in ipairs(RECORDS) do
      if rec then page[#page + 1] = rec end
    end
    for _, u in ipairs({ "alice", "bob", "carol", "nobody" }) do
      for _, r in ipairs({ "documents.edit", "documents.see", "admin.open", "reports.create" }) do
        local want = {}
        for _, rec in ipairs(page) do
          if db:check(u, r, rec) then want[#want + 1] = rec end
        end
        local got = db:allowed(u, r, page)
        assert.equal(#want, #got)
        for i = 1, #want do assert.equal(want[i], got[i]) end   -- the same tables
        assert.are_not.equal(page, got)
      end
    end
    assert.same({}, db:allowed("alice", "documents.edit", {}))
    assert.same({}, db:allowed("nobody", "documents.edit", page))
  end)

  it("db:allowed decides each record at its turn: a record's __index may write", function()
    local db = helpers.world()
    local rec = { tenant = "team-a", owner = "alice" }
    assert.same({ false, "tenant_read_only" }, { db:check("bob", "documents.edit", rec) })
    local opener = setmetatable({}, { __index = function(_, field)
      if field == "tenant" then
        assert(db:set_access("bob", "team-a", "full"))   -- a write, then a patch
        return "team-a"
      end
      if field == "owner" then return "alice" end
    end })
    local got = db:allowed("bob", "documents.edit", { rec, opener, rec })
    assert.equal(2, #got)
    assert.equal(opener, got[1])
    assert.equal(rec, got[2])
  end)

  it("db:allowed rejects bad pages loudly and names the record", function()
    local db = helpers.world()
    assert.matches("bad argument #3 to 'allowed' %(table expected, got string%)",
                   helpers.error_of(function() db:allowed("alice", "admin.open", "team-a") end))
    assert.matches("records%[2%] must be a table {tenant=, owner=, unit=, customer=}, got string",
                   helpers.error_of(function()
                     db:allowed("alice", "admin.open", { {}, "team-a" })
                   end))
    assert.matches("records%[1%]%.customer: expected a string key or nil, got boolean",
                   helpers.error_of(function()
                     db:allowed("alice", "admin.open", { { customer = true } })
                   end))
    assert.matches("unknown right 'nope'",
                   helpers.error_of(function() db:allowed("alice", "nope", {}) end))
    db:close()
    assert.equal("mandate.Db: the store is closed",
                 helpers.error_of(function() db:allowed("alice", "admin.open", {}) end))
  end)

  it("db:checker() answers exactly as check_ids, on every Lua", function()
    local db = helpers.world()
    local check = db:checker()
    local users = { "alice", "bob", "carol", "nobody" }
    local rights = { "documents.edit", "documents.see", "admin.open", "reports.create" }
    local function id(kind, key)
      if key == nil then return nil end
      return db:id(kind, key)
    end
    for _, u in ipairs(users) do
      for _, r in ipairs(rights) do
        for _, rec in ipairs(RECORDS) do
          rec = rec or {}
          local args = { id("user", u), db:id("right", r), id("tenant", rec.tenant),
                         id("user", rec.owner), id("unit", rec.unit), id("customer", rec.customer) }
          assert.same({ db:check_ids(unpack(args, 1, 6)) }, { check(unpack(args, 1, 6)) })
        end
      end
    end
    -- it sees writes, raises for unknown rights and after close
    local uid, rid = db:id("user", "bob"), db:id("right", "admin.open")
    assert.is_true(check(uid, rid))
    db:set_override("bob", "admin.open", false)
    assert.same({ false, "no_right" }, { check(uid, rid) })
    assert.matches("unknown right id 999", helpers.error_of(function() check(uid, 999) end))
    db:close()
    assert.matches("the store is closed", helpers.error_of(function() check(uid, rid) end))
    assert.matches("the store is closed", helpers.error_of(function() db:checker() end))
  end)

  it("the id paths refuse what is not an integer id, on every Lua", function()
    -- LuaJIT's FFI would read false as 0 (absent: common data) and 1.5 as
    -- 1, Lua 5.1 cut 1.5 to 1: each would turn "names nothing" into
    -- "absent" or into another record's id
    local db = helpers.world()
    local check = db:checker()
    local uid, rid = db:id("user", "bob"), db:id("right", "documents.edit")
    local tid = db:id("tenant", "team-a")
    for _, bad in ipairs({ false, true, 1.5, tid + 0.5, "team-a", {} }) do
      for place = 3, 6 do
        local args = { uid, rid, tid, nil, nil, nil }
        args[place] = bad
        local want = "bad argument #" .. place
        assert.matches(want, helpers.error_of(function() check(unpack(args, 1, 6)) end), nil, true)
        assert.matches(want, helpers.error_of(function() db:check_ids(unpack(args, 1, 6)) end),
                       nil, true)
      end
      assert.matches("bad argument #1", helpers.error_of(function() check(bad, rid) end), nil, true)
      assert.matches("bad argument #2", helpers.error_of(function() check(uid, bad) end), nil, true)
    end
  end)

  it("checks allocate nothing once their keys are known, so no finalizer runs inside", function()
    -- a finalizer run by an allocation may close the store: LuaJIT's FFI
    -- checker once boxed the snapshot pointer, and could pass it on freed
    local db = helpers.world()
    local check, can = db:checker(), db:prepare("bob", "documents.edit")
    local uid, rid = db:id("user", "bob"), db:id("right", "documents.edit")
    local tid, oid = db:id("tenant", "team-a"), db:id("user", "alice")
    local rec, other = { tenant = "team-a", owner = "alice" }, { owner = "bob", unit = "lab" }
    local jit = rawget(_G, "jit")
    if jit then jit.off(); jit.flush() end  -- the interpreter, which sinks nothing
    local ok, err = pcall(function()
      local function all()
        check(uid, rid, tid, oid)
        check(uid, rid, tid, -1, nil, 0)
        db:check("bob", "documents.edit", rec)
        db:check("alice", "admin.open")
        can(other)
      end
      all()                                 -- the snapshot is built, the keys cached
      collectgarbage("collect")
      collectgarbage("stop")
      local before = collectgarbage("count")
      for _ = 1, 1000 do all() end
      local after = collectgarbage("count")   -- before luassert allocates
      assert.equal(before, after)
    end)
    collectgarbage("restart")
    if jit then jit.on() end
    assert(ok, err)
  end)

  it("keeps working across writes and rebuilds, since ids are stable", function()
    local db = helpers.world()
    local can = db:prepare("bob", "documents.edit")
    local uid, rid = db:id("user", "bob"), db:id("right", "documents.edit")
    local tid, oid = db:id("tenant", "team-a"), db:id("user", "alice")
    local rec = { tenant = "team-a", owner = "alice" }
    assert.same({ false, "tenant_read_only" }, { can(rec) })
    db:set_access("bob", "team-a", "full")                 -- a patch
    assert.is_true(can(rec))
    db:put_unit("m-sales", { level = "team", parent = "m" }) -- a rebuild
    db:put_user("bob", { unit = "m-sales" })              -- alice is not his team now
    assert.same({ false, "out_of_scope" }, { can(rec) })
    assert.same({ false, "out_of_scope" }, { db:check_ids(uid, rid, tid, oid) })
  end)

  it("treat a deleted user as unknown and raise for a deleted right", function()
    local db = helpers.world()
    local can = db:prepare("alice", "admin.open")
    local rid = db:id("right", "admin.open")
    db:delete_user("alice")
    assert.same({ false, "unknown_user" }, { can() })
    db:delete_right("admin.open", { cascade = true })
    assert.has_error(function() can() end, "the prepared right was deleted")
    assert.matches("unknown right id", helpers.error_of(function() db:check_ids(1, rid) end))
  end)

  it("reject unknown rights and malformed records loudly", function()
    local db = helpers.world()
    assert.matches("unknown right 'documents.edti'",
                   helpers.error_of(function() db:check("alice", "documents.edti") end))
    assert.matches("unknown right", helpers.error_of(function() db:prepare("alice", "nope") end))
    assert.matches("record%.owner: expected a string key or nil, got number",
                   helpers.error_of(function() db:check("alice", "admin.open", { owner = 7 }) end))
    assert.matches("record must be a table",
                   helpers.error_of(function() db:check("alice", "admin.open", "team-a") end))
    assert.are.equal(-1, db:id("user", "nobody"))    -- names nothing: never nil (absent)
    assert.matches("invalid option 'group'",
                   helpers.error_of(function() db:id("group", "x") end))
  end)

  it("reads records through metatables, like any Lua table", function()
    local db = helpers.world()
    local rec = setmetatable({}, { __index = { tenant = "team-a", owner = "alice" } })
    assert.is_true(db:check("alice", "documents.edit", rec))
  end)
end)
