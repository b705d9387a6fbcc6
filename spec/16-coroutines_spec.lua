-- Coroutines sharing one handle, as the requests of an OpenResty worker
-- do: a change set belongs to the coroutine that opened it.  While its
-- owner is suspended (any cosocket call yields), other coroutines' checks
-- answer from the committed state, their writers and SQL readers return
-- nil, message, "busy" and never join it, and an owner that dies inside
-- its change set leaves nothing behind.  Lua 5.1 cannot yield across
-- pcall: there a yield inside db:transaction fails and rolls it back.
local helpers = require "helpers"
local mandate = require "mandate"

local YIELDS = not (_VERSION == "Lua 5.1" and not rawget(_G, "jit"))

local function store()
  local db = helpers.open()
  db:put_tenant("H", {})
  db:put_tenant("B", {})
  db:put_right("doc.view", { kind = "flag", mode = "read" })
  db:put_bundle("b", { rights = { ["doc.view"] = true } })
  db:put_user("bob", { bundles = { "b" } })
  db:put_user("alice", { bundles = { "b" } })
  return db
end

-- every way to ask "may bob see a record of H", from the caller's side
local function views(db)
  local rec = { tenant = "H" }
  local ids = { db:id("user", "bob"), db:id("right", "doc.view"), db:id("tenant", "H") }
  return {
    check = { db:check("bob", "doc.view", rec) },
    check_ids = { db:check_ids(ids[1], ids[2], ids[3]) },
    checker = { db:checker()(ids[1], ids[2], ids[3]) },
    prepare = { db:prepare("bob", "doc.view")(rec) },
    allowed = { #db:allowed("bob", "doc.view", { rec }) },
    explain = { db:explain("bob", "doc.view", rec).allowed },
    access = { db:access("bob", "H") },
  }
end

local COMMITTED = {                 -- bob has no access to H
  check = { false, "tenant_hidden" }, check_ids = { false, "tenant_hidden" },
  checker = { false, "tenant_hidden" }, prepare = { false, "tenant_hidden" },
  allowed = { 0 }, explain = { false }, access = { "hidden", false },
}
local GRANTED = {
  check = { true }, check_ids = { true }, checker = { true }, prepare = { true },
  allowed = { 1 }, explain = { true }, access = { "full", true },
}

-- A coroutine suspended inside db:transaction, after it granted bob H.
local function suspended_in_change(db)
  local co = coroutine.create(function()
    db:transaction(function()
      db:set_access("bob", "H", "full")
      coroutine.yield()
    end)
  end)
  coroutine.resume(co)
  return co
end

describe("a change set across coroutines", function()
  if not YIELDS then
    it("on Lua 5.1 a yield inside db:transaction fails and rolls it back", function()
      local db = store()
      local co = coroutine.wrap(function()
        return pcall(db.transaction, db, function()
          db:set_access("bob", "H", "full")
          coroutine.yield()
        end)
      end)
      local ok, err = co()
      assert.is_false(ok)
      assert.matches("yield across", tostring(err))
      assert.same(COMMITTED, views(db))
      assert.is_true(db:set_access("alice", "B", "full"))
      assert.same({ "full", true }, { db:access("alice", "B") })
    end)
    return
  end

  it("is invisible to other coroutines while its owner is suspended, and nothing is lost",
     function()
    local db = store()
    local inside
    local co = coroutine.wrap(function()
      return pcall(db.transaction, db, function()
        db:set_access("bob", "H", "full")
        inside = views(db)
        coroutine.yield()
        error("request failed")
      end)
    end)
    co()
    assert.same(GRANTED, inside)
    assert.same(COMMITTED, views(db))            -- the uncommitted grant is not seen
    local r = { db:set_access("alice", "B", "full") }
    assert.same({ nil, "set_access: another coroutine's change set is open on this store "
                  .. "(its owner yielded inside it); try again once it has ended", "busy" }, r)
    local t = { db:transaction(function() end) }
    assert.same({ nil, "busy" }, { t[1], t[3] })
    assert.same({ nil, "get_user: another coroutine's change set is open on this store (its owner "
                  .. "yielded inside it); try again once it has ended", "busy" },
                { db:get_user("alice") })
    assert.same({ nil, "busy" }, { select(1, db:audit {}), select(3, db:audit {}) })
    local report = require "mandate.report"
    assert.equal("busy", select(3, report.access_matrix(db)))
    assert.equal("busy", select(3, report.access_matrix_text(db)))
    assert.equal("busy", select(3, db:effective("bob")))
    local ok, err = co()                           -- the owner fails: its change set rolls back
    assert.is_false(ok)
    assert.matches("request failed", err)
    assert.same(COMMITTED, views(db))
    assert.is_true(db:set_access("alice", "B", "full"))   -- now it may write
    assert.same({ "full", true }, { db:access("alice", "B") })
  end)

  it("is seen by everyone once its owner commits", function()
    local db = store()
    local rev = db:revision()
    local co = coroutine.wrap(function()
      return db:transaction(function()
        db:set_access("bob", "H", "full")
        coroutine.yield()
        return "done"
      end)
    end)
    co()
    assert.same(COMMITTED, views(db))
    assert.equal("busy", select(3, db:revision()))
    assert.equal("done", co())
    assert.same(GRANTED, views(db))
    assert.equal(rev + 1, db:revision())
  end)

  it("is joined by the coroutines its owner resumes, and by its owner's own calls", function()
    local db = store()
    local co = coroutine.wrap(function()
      return pcall(db.transaction, db, function()
        db:set_access("bob", "H", "full")
        -- an iterator or a helper coroutine run by the owner works inside it
        local inner = coroutine.wrap(function()
          assert.same(GRANTED, views(db))
          assert.is_true(db:set_access("alice", "B", "full"))
          coroutine.yield()
        end)
        inner()
        coroutine.yield()
        error("undo both")
      end)
    end)
    co()
    assert.same(COMMITTED, views(db))
    co()
    assert.same(COMMITTED, views(db))
    assert.same({ "hidden", false }, { db:access("alice", "B") })   -- rolled back with it
  end)

  it("is rolled back when its owner is dropped while suspended", function()
    local db = store()
    do
      suspended_in_change(db)
      assert.same(COMMITTED, views(db))
      assert.equal("busy", select(3, db:set_access("alice", "B", "full")))
    end
    collectgarbage()
    collectgarbage()
    assert.same(COMMITTED, views(db))
    assert.is_true(db:set_access("alice", "B", "full"))
    assert.same({ "full", true }, { db:access("alice", "B") })
    assert.same({ "hidden", false }, { db:access("bob", "H") })
    local n = 0
    for _, e in ipairs(db:audit { op = "set_access" }) do
      if e.subject:find("bob", 1, true) then n = n + 1 end
    end
    assert.equal(0, n)                       -- the dropped change set left no audit row
  end)

  if coroutine.close then
    it("is rolled back when its owner is closed while suspended (Lua 5.4)", function()
      local db = store()
      local co = suspended_in_change(db)
      assert.is_true(coroutine.close(co))
      assert.same(COMMITTED, views(db))
      assert.is_true(db:transaction(function() db:set_access("alice", "B", "full") end))
      assert.same({ "hidden", false }, { db:access("bob", "H") })
      assert.same({ "full", true }, { db:access("alice", "B") })
    end)

    it("is rolled back by the next reader too, and writers go on", function()
      local db = store()
      local co = coroutine.create(function()
        db:transaction(function()
          db:set_access("bob", "H", "full")
          coroutine.yield()
        end)
      end)
      coroutine.resume(co)
      assert.is_true(coroutine.close(co))
      assert.equal("bob", db:get_user("bob").key)              -- settles it
      assert.same({ "hidden", false }, { db:access("bob", "H") })
      assert.is_true(db:transaction(function() db:set_access("bob", "H", "read") end))
      assert.same({ "read", true }, { db:access("bob", "H") })
    end)
  end

  it("keeps every coroutine's committed work on random interleavings", function()
    local seed = tonumber(os.getenv("MANDATE_CO_SEED") or "") or 4711
    math.randomseed(seed)
    local tenants = { "H", "B" }
    for round = 1, 30 do
      local db = store()
      local users = { "bob", "alice" }
      local committed = {}                       -- user .. "/" .. tenant -> access
      local function expect(u, t)
        return committed[u .. "/" .. t] or "hidden"
      end
      local cos = {}
      for c = 1, 4 do
        local plan = {}
        for _ = 1, math.random(1, 4) do
          plan[#plan + 1] = { u = users[math.random(2)], t = tenants[math.random(2)],
                              a = ({ "full", "read", "hidden" })[math.random(3)] }
        end
        local fail = math.random() < 0.3
        cos[c] = coroutine.create(function()
          local mine, ok, e, code, _ = {}
          repeat                                 -- busy: wait, as a request would
            ok, e, _, code = pcall(db.transaction, db, function()
              for _, w in ipairs(plan) do
                assert.is_true(db:set_access(w.u, w.t, w.a))
                mine[w.u .. "/" .. w.t] = w.a
                coroutine.yield()
              end
              if fail then error("fails") end
            end)
            if ok and e == nil then
              assert.equal("busy", code)
              coroutine.yield()
            end
          until not (ok and e == nil)
          if ok then
            assert.is_true(e)
            for k, a in pairs(mine) do committed[k] = a end
            return "committed"
          end
          assert.matches("fails", e)
          return "rolled back"
        end)
      end
      local live = #cos
      while live > 0 do
        local c = math.random(#cos)
        if coroutine.status(cos[c]) == "suspended" then
          local ok, e = coroutine.resume(cos[c])
          assert(ok, e)
          if coroutine.status(cos[c]) == "dead" then live = live - 1 end
        end
        -- the main thread checks between any two steps: committed state only
        for _, u in ipairs(users) do
          for _, t in ipairs(tenants) do
            local a = expect(u, t)
            local want = a ~= "hidden"
            assert.equal(want, (db:check(u, "doc.view", { tenant = t })),
                         string.format("round %d seed %d: %s on %s", round, seed, u, t))
            assert.equal(a, (db:access(u, t)))
          end
        end
      end
      for _, u in ipairs(users) do
        for _, t in ipairs(tenants) do assert.equal(expect(u, t), (db:access(u, t))) end
      end
      db:close()
    end
  end)
end)

describe("a store handle opened in a coroutine", function()
  it("works as on the main thread when nothing yields", function()
    local co = coroutine.wrap(function()
      local db = assert(mandate.open(":memory:"))
      db:transaction(function() db:put_tenant("x", { default = "read" }) end)
      db:put_right("r", { kind = "flag", mode = "read" })
      db:put_user("u", {})
      db:set_override("u", "r", true)
      return db:check("u", "r", { tenant = "x" })
    end)
    assert.is_true(co())
  end)
end)
