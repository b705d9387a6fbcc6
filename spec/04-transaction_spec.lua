-- db:transaction: all or nothing, nesting with savepoints, results, errors
-- raised again unchanged, and checks that follow commits and rollbacks.

local prim = require "primitives"   -- the test-only path to raw SQL
local helpers = require "helpers"

describe("db:transaction", function()
  local db
  before_each(function() db = helpers.world() end)

  it("commits everything fn writes and returns fn's results", function()
    local a, b, c = db:transaction(function(tx)
      assert.are.equal(db, tx)
      tx:put_user("dave", { unit = "m", bundles = { "admin" } })
      tx:set_access("dave", "common", "full")
      return 1, nil, "three"
    end)
    assert.are.same({ 1, nil, "three" }, { a, b, c })
    assert.are.same({ key = "dave", unit = "m", bundles = { "admin" },
                      active = true }, db:get_user("dave"))
    assert.are.same({ common = "full" }, db:access_of("dave"))
    assert.is_false(prim.in_transaction(db))
  end)

  it("returns true when fn returns nothing", function()
    assert.is_true(db:transaction(function() end))
  end)

  it("rolls back everything on error and raises the same value", function()
    local before = helpers.snapshot_rows(db)
    local boom = setmetatable({}, { __tostring = function() return "boom" end })
    local ok, err = pcall(db.transaction, db, function()
      db:put_user("dave", { bundles = { "admin" } })
      db:delete_unit("hh", { cascade = true })
      db:set_levels{ "country", "branch", "department", "team", "person" }
      error(boom)
    end)
    assert.is_false(ok)
    assert.are.equal(boom, err)
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.is_false(prim.in_transaction(db))
  end)

  it("raises string errors unchanged, with fn's position", function()
    local ok, err = pcall(db.transaction, db, function()
      db:put_user("dave")
      error("no more")
    end)
    assert.is_false(ok)
    assert.truthy(err:find("^[^:]*04%-transaction_spec%.lua:%d+: no more$"),
                  err)
  end)

  it("rolls back when a writer inside rejects its input", function()
    local before = helpers.snapshot_rows(db)
    local ok, err = pcall(db.transaction, db, function()
      db:put_user("dave")
      db:put_unit("x", { level = "galaxy" })
    end)
    assert.is_false(ok)
    assert.truthy(err:find("04%-transaction_spec%.lua:%d+: put_unit: "
                           .. "options%.level: 'galaxy' is not a level"), err)
    assert.are.same(before, helpers.snapshot_rows(db))
  end)

  it("makes checks forget a rolled-back change", function()
    pcall(db.transaction, db, function()
      db:put_user("dave", { bundles = { "admin" } })
      assert.is_true(db:check("dave", "admin.open"))  -- sees its own writes
      db:set_override("bob", "admin.open", false)
      assert.are.same({ false, "no_right" }, { db:check("bob", "admin.open") })
      error("abort")
    end)
    assert.are.same({ false, "unknown_user" },
                    { db:check("dave", "admin.open") })
    assert.is_true(db:check("bob", "admin.open"))
  end)

  it("makes checks see a committed change", function()
    db:transaction(function()
      db:put_user("dave", { bundles = { "admin" } })
    end)
    assert.is_true(db:check("dave", "admin.open"))
  end)

  describe("nested", function()
    it("commits inner and outer together", function()
      db:transaction(function()
        db:put_user("dave")
        db:transaction(function()
          db:put_user("erin")
          assert.is_true(prim.in_transaction(db))
        end)
        db:put_user("frank")
      end)
      for _, key in ipairs({ "dave", "erin", "frank" }) do
        assert.is_not_nil(db:get_user(key))
      end
    end)

    it("keeps the outer writes when an inner failure is caught", function()
      local results = { db:transaction(function()
        db:put_user("dave")
        local ok, err = pcall(db.transaction, db, function()
          db:put_user("erin")
          db:set_access("alice", "team-a", "hidden")
          error("inner")
        end)
        assert.is_false(ok)
        assert.truthy(err:find("inner$"))
        assert.is_nil(db:get_user("erin"))
        assert.are.same({ ["team-a"] = "full" }, db:access_of("alice"))
        db:put_user("frank")
        return "outer done"
      end) }
      assert.are.same({ "outer done" }, results)
      assert.is_not_nil(db:get_user("dave"))
      assert.is_nil(db:get_user("erin"))
      assert.is_not_nil(db:get_user("frank"))
      assert.are.same({ ["team-a"] = "full" }, db:access_of("alice"))
    end)

    it("keeps the outer writes when a writer's bad input is caught",
       function()
      db:transaction(function()
        db:put_user("dave")
        assert.is_false(pcall(db.put_user, db, "erin", { unit = "atlantis" }))
        db:put_user("frank")
      end)
      assert.is_not_nil(db:get_user("dave"))
      assert.is_nil(db:get_user("erin"))
      assert.is_not_nil(db:get_user("frank"))
    end)

    it("rolls back the inner writes too when the outer fails", function()
      local before = helpers.snapshot_rows(db)
      assert.is_false(pcall(db.transaction, db, function()
        db:transaction(function() db:put_user("erin") end)
        error("outer")
      end))
      assert.are.same(before, helpers.snapshot_rows(db))
    end)

    it("nests several levels deep", function()
      local depth = 0
      local function dive(n)
        if n == 0 then
          db:put_user("deep")
          return
        end
        db:transaction(function()
          depth = depth + 1
          dive(n - 1)
        end)
      end
      dive(10)
      assert.are.equal(10, depth)
      assert.is_not_nil(db:get_user("deep"))
      assert.is_false(prim.in_transaction(db))
    end)
  end)

  it("is usable again after a failure", function()
    pcall(db.transaction, db, function() error("x") end)
    db:transaction(function() db:put_user("dave") end)
    assert.is_not_nil(db:get_user("dave"))
  end)

  it("accepts callable tables", function()
    local fn = setmetatable({}, { __call = function(_, tx)
      tx:put_user("dave")
      return "called"
    end })
    assert.are.equal("called", db:transaction(fn))
  end)
end)

describe("a writer outside a transaction", function()
  it("is its own transaction", function()
    local db = helpers.world()
    assert.is_false(prim.in_transaction(db))
    db:put_user("dave")
    assert.is_false(prim.in_transaction(db))
  end)

  it("runs inside a transaction a caller opened with SQL", function()
    local db = helpers.world()
    prim.exec(db, "BEGIN")
    db:put_user("dave")
    assert.is_true(prim.in_transaction(db))
    prim.exec(db, "ROLLBACK")                        -- the store sees it by itself
    assert.is_nil(db:get_user("dave"))
    assert.same({ false, "unknown_user" }, { db:check("dave", "admin.open") })
  end)
end)
