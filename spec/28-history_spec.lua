-- db:at(point) and db:history{...}: the store's past from its audit trail.
--
-- The differential half: random write sequences (levels, units, tenants,
-- rights, bundles and their values, users, overrides, access, customers,
-- deletes with and without cascades, transactions of several writes,
-- failed ones) go through the public API into one store; at every
-- revision r, db:at(r) must answer every check, every effective row and
-- every reader of the rights model exactly as a fresh store does that
-- replays the same writes up to r.  This also proves the audit complete:
-- a writer whose audit rows miss a row it changed shows up as a
-- disagreement.
--
-- Environment: MANDATE_HISTORY_RUNS (default 6 sequences, about 5 s),
-- MANDATE_HISTORY_SEED (default 20261207).

local helpers = require "helpers"

local RUNS = tonumber(os.getenv("MANDATE_HISTORY_RUNS") or "") or 6
local SEED = tonumber(os.getenv("MANDATE_HISTORY_SEED") or "") or 20261207

-- Park-Miller, the same numbers on every Lua (see spec/07).
local function rng(seed)
  local state = seed % 2147483646 + 1
  local r = {}
  function r.next()
    state = (state * 48271) % 2147483647
    return state
  end
  function r.int(a, b) return a + r.next() % (b - a + 1) end
  function r.chance(p) return r.next() < p * 2147483647 end
  function r.pick(list) return list[r.int(1, #list)] end
  return r
end

local LEVELS = { "country", "branch", "team" }
local UNITS = { "U1", "U2", "U3", "U4" }
local TENANTS = { "T1", "T2", "T3" }
local RIGHTS = { "R1", "R2", "R3", "R4" }
local BUNDLES = { "B1", "B2", "B3" }
local USERS = { "A", "B", "C", "D" }
local CUSTOMERS = { "C1", "C2" }
local ACCESS = { "full", "read", "hidden" }

-- Random writes {{{

local function value(r, db, right)
  local row = db:get_right(right)
  if not row or row.kind == "flag" then return r.chance(0.6) end
  local bases = { "none", "own", "all" }
  for _, l in ipairs(db:levels()) do bases[#bases + 1] = l end
  local base = r.pick(bases)
  if row.customer and r.chance(0.3) then return base .. "+customer" end
  return base
end

local function some(r, pool)
  local list, seen = {}, {}
  for _ = 1, r.int(0, #pool) do
    local k = r.pick(pool)
    if not seen[k] then seen[k] = true; list[#list + 1] = k end
  end
  return list
end

-- One random write as a call {name, args...}; its values are drawn
-- against db's current state so that most of them succeed.
local function call(r, db)
  local n = r.int(1, 25)
  local cascade = { cascade = r.chance(0.7) }
  if n == 1 then
    local levels = some(r, LEVELS)
    if #levels == 0 then levels = { "team" } end
    table.sort(levels, function(a, b)
      local rank = { country = 1, branch = 2, team = 3 }
      return rank[a] < rank[b]
    end)
    return { "set_levels", levels }
  elseif n <= 3 then
    local parent = r.chance(0.7) and r.pick(UNITS) or false
    return { "put_unit", r.pick(UNITS), { level = r.pick(LEVELS), parent = parent,
                                          label = r.chance(0.3) and "x" or nil } }
  elseif n == 4 then
    return { "delete_unit", r.pick(UNITS), cascade }
  elseif n == 5 then
    return { "put_tenant", r.pick(TENANTS), { default = r.pick(ACCESS),
                                              label = r.pick({ "t", false }) } }
  elseif n == 6 then
    return { "delete_tenant", r.pick(TENANTS), cascade }
  elseif n == 7 then
    local kind = r.chance(0.5) and "flag" or "scope"
    return { "put_right", r.pick(RIGHTS), { kind = kind, mode = r.chance(0.5) and "read" or "write",
                                            customer = kind == "scope" and r.chance(0.5),
                                            area = r.pick({ "a", false }),
                                            label = r.pick({ "l", false }) } }
  elseif n == 8 then
    return { "delete_right", r.pick(RIGHTS), cascade }
  elseif n == 9 then
    local rights = {}
    for _, k in ipairs(some(r, RIGHTS)) do rights[k] = value(r, db, k) end
    return { "put_bundle", r.pick(BUNDLES), { rights = rights,
                                              label = r.pick({ "b", false }) } }
  elseif n == 10 then
    local right = r.pick(RIGHTS)
    return { "set_bundle_right", r.pick(BUNDLES), right, value(r, db, right) }
  elseif n == 11 then
    return { "clear_bundle_right", r.pick(BUNDLES), r.pick(RIGHTS) }
  elseif n == 12 then
    return { "delete_bundle", r.pick(BUNDLES), cascade }
  elseif n <= 14 then
    return { "put_user", r.pick(USERS), { unit = r.chance(0.8) and r.pick(UNITS) or false,
                                          bundles = some(r, BUNDLES),
                                          active = r.chance(0.85),
                                          label = r.pick({ "u", false }) } }
  elseif n == 15 then
    return { "delete_user", r.pick(USERS) }
  elseif n == 16 then
    local right = r.pick(RIGHTS)
    return { "set_override", r.pick(USERS), right, value(r, db, right) }
  elseif n == 17 then
    return { "clear_override", r.pick(USERS), r.pick(RIGHTS) }
  elseif n <= 19 then
    return { "set_access", r.pick(USERS), r.pick(TENANTS), r.pick(ACCESS) }
  elseif n == 20 then
    return { "clear_access", r.pick(USERS), r.pick(TENANTS) }
  elseif n == 21 then
    return { "assign_customer", r.pick(USERS), r.pick(CUSTOMERS) }
  elseif n == 22 then
    return { "unassign_customer", r.pick(USERS), r.pick(CUSTOMERS) }
  elseif n == 23 then
    return { "set_unit_access", r.pick(UNITS), r.pick(TENANTS), r.pick(ACCESS) }
  elseif n == 24 then
    return { "clear_unit_access", r.pick(UNITS), r.pick(TENANTS) }
  end
  return { "move_user", r.pick(USERS), r.pick(UNITS),
           { access = r.pick({ "template", "merge", "keep" }) } }
end

local unpack = table.unpack or unpack

local function apply(db, c)
  return db[c[1]](db, unpack(c, 2))
end

-- The first writes of every sequence, so that most random ones find what
-- they name.
local function start(r)
  local calls = {
    { "set_levels", LEVELS },
    { "put_unit", "U1", { level = "country" } },
    { "put_unit", "U2", { level = "branch", parent = "U1" } },
    { "put_unit", "U3", { level = "team", parent = "U2" } },
    { "put_unit", "U4", { level = "branch", parent = "U1" } },
    { "put_right", "R1", { kind = "flag" } },
    { "put_right", "R2", { kind = "scope", customer = true } },
    { "put_right", "R3", { kind = "scope", mode = "read" } },
    { "put_right", "R4", { kind = "flag", mode = "read" } },
  }
  for _, t in ipairs(TENANTS) do
    calls[#calls + 1] = { "put_tenant", t, { default = r.pick(ACCESS) } }
  end
  for _, b in ipairs(BUNDLES) do
    calls[#calls + 1] = { "put_bundle", b, { rights = { R1 = r.chance(0.5),
      R2 = r.pick({ "own", "team", "branch+customer", "customer" }),
      R3 = r.pick({ "none", "all", "country" }) } } }
  end
  for _, u in ipairs(USERS) do
    calls[#calls + 1] = { "put_user", u, { unit = r.pick(UNITS), bundles = some(r, BUNDLES) } }
  end
  return calls
end

-- A random action: one write, or a transaction of a few (which fails as a
-- whole when one of them raises).  Returns the action, or nil when it
-- failed (and wrote nothing).
local function act(r, db)
  local calls = { call(r, db) }
  if r.chance(0.2) then
    for i = 2, r.int(2, 4) do calls[i] = call(r, db) end
  end
  local ok = pcall(function()
    if #calls == 1 then return apply(db, calls[1]) end
    return db:transaction(function()
      for _, c in ipairs(calls) do apply(db, c) end
    end)
  end)
  return ok and calls or nil
end
-- }}}

-- What a store answers {{{

local function text(v)
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. text(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function answer(f, ...)
  return text({ pcall(f, ...) })
end

-- Every answer of the rights model, as lines: readers, effective rows
-- (by right), checks over every user, right and a set of records.
local function answers(db)
  local out = {}
  local function put(...) out[#out + 1] = table.concat({ ... }, " ") end
  put("levels", text(db:levels()))
  put("units", text(db:units()))
  put("tenants", text(db:tenants()))
  put("bundles", text(db:bundles()))
  put("users", text(db:users()))
  local rights = {}
  for _, row in ipairs(db:rights()) do rights[#rights + 1] = text(row) end
  table.sort(rights)                  -- a right shown again comes last
  put("rights", table.concat(rights, ";"))
  local records = { {} }
  for _, t in ipairs(TENANTS) do records[#records + 1] = { tenant = t } end
  for _, u in ipairs(USERS) do records[#records + 1] = { tenant = "T1", owner = u } end
  for _, u in ipairs(UNITS) do records[#records + 1] = { unit = u } end
  for _, c in ipairs(CUSTOMERS) do records[#records + 1] = { customer = c } end
  for _, u in ipairs(UNITS) do put("unit_access", u, answer(db.unit_access, db, u)) end
  for _, u in ipairs(USERS) do
    put("user", u, answer(db.overrides, db, u), answer(db.access_of, db, u),
        answer(db.customers_of, db, u))
    local rows, why = db:effective(u)
    local by_right = {}
    for _, row in ipairs(rows or {}) do by_right[row.right] = row end
    put("effective", u, text(by_right), tostring(why))
    for _, t in ipairs(TENANTS) do put("access", u, t, answer(db.access, db, u, t)) end
    for _, right in ipairs(RIGHTS) do
      for i, rec in ipairs(records) do
        put("check", u, right, i, answer(db.check, db, u, right, rec))
      end
    end
  end
  return out
end

local function same_answers(expected, got, where)
  for i = 1, math.max(#expected, #got) do
    if expected[i] ~= got[i] then
      error(string.format("%s: line %d differs:\n  replayed: %s\n  at:       %s",
                          where, i, tostring(expected[i]), tostring(got[i])), 0)
    end
  end
end

-- A fresh store with the actions applied.
local function replay(actions, n)
  local db = helpers.open()
  for i = 1, n do
    local calls = actions[i]
    if #calls == 1 then
      assert(apply(db, calls[1]))
    else
      assert(db:transaction(function()
        for _, c in ipairs(calls) do apply(db, c) end
      end))
    end
  end
  return db
end

local function show_calls(actions, n)
  local lines = {}
  for i = 1, n do
    for _, c in ipairs(actions[i]) do lines[#lines + 1] = c[1] .. text({ unpack(c, 2) }) end
    lines[#lines + 1] = "--"
  end
  return table.concat(lines, "\n")
end
-- }}}

describe("db:at", function()
  it("answers at every revision as a fresh store replaying the writes up to it", function()
    local points = 0
    for run = 1, RUNS do
      local r = rng(SEED + run)
      local db = helpers.open()
      local actions, upto = {}, { [0] = 0 }  -- upto[rev]: actions made it
      for _, c in ipairs(start(r)) do
        assert(apply(db, c))
        actions[#actions + 1] = { c }
        upto[db:revision()] = #actions
      end
      for _ = 1, r.int(20, 60) do
        local calls = act(r, db)
        if calls then
          actions[#actions + 1] = calls
          upto[db:revision()] = #actions
        end
      end
      for rev = 0, db:revision() do
        local n = upto[rev]
        if n then
          local past, why = db:at(rev)
          assert(past, tostring(why) .. "\n" .. show_calls(actions, #actions))
          assert.are.equal(rev, past:revision())
          local fresh = replay(actions, n)
          local ok, e = pcall(same_answers, answers(fresh), answers(past),
                              string.format("run %d, revision %d", run, rev))
          if not ok then error(e .. "\nthe writes:\n" .. show_calls(actions, n), 0) end
          fresh:close()
          past:close()
          points = points + 1
        end
      end
      db:close()
    end
    assert.is_true(points > RUNS * 30)
  end)

  it("takes a time to the last revision at or before it", function()
    local db = helpers.open()
    db:put_tenant("t")
    db:put_user("u")
    db:set_access("u", "t", "read")
    for _, row in ipairs(db:audit()) do
      local past = db:at(row.time)
      assert.is_true(past:revision() >= row.revision)
      for _, later in ipairs(db:audit{ since = past:revision() }) do
        assert.is_true(later.time > row.time)
      end
    end
    assert.are.equal(3, db:at(db:audit()[3].time):revision())
    assert.are.equal(3, db:at("9999-12-31"):revision())  -- a future time: now
    assert.are.equal(0, db:at(0):revision())
    assert.are.same({}, db:at(0):users())
  end)

  it("refuses a point outside the store's past", function()
    local db = helpers.open()
    assert.has_error(function() db:at("2020-01-01") end,
      "at: point: '2020-01-01' is before the store's first revision, which it "
      .. "has not made yet (db:at(0) is the empty store)")
    db:put_tenant("t")
    local first = db:audit()[1].time
    local ok, e = pcall(db.at, db, "2020-01-01T00:00:00Z")
    assert.is_false(ok)
    assert.truthy(e:find("at: point: '2020-01-01T00:00:00Z' is before the "
      .. "store's first revision, 1 at " .. first .. " (db:at(0) is the empty "
      .. "store)", 1, true))
    helpers.rejects(db, "at: point: 2 is after the current revision 1 (the past only)",
                    function() db:at(2) end)
    helpers.rejects(db, "at: point: expected a revision number (an integer from 0 "
                    .. "to 2^53), got 1.5", function() db:at(1.5) end)
    helpers.rejects(db, { pattern = "^at: point: 'yesterday' is not a time" },
                    function() db:at("yesterday") end)
    helpers.rejects(db, "at: point: expected a revision number or a time string "
                    .. "(ISO 8601, or '@' and a Unix time), got nil",
                    function() db:at() end)
  end)

  it("is read-only: writers and the contact methods raise, the rights model answers", function()
    local db = helpers.world()
    local r = db:revision()
    db:set_access("alice", "team-a", "hidden")
    local past = db:at(r)
    local rows = helpers.snapshot_rows(past)
    for _, c in ipairs({
      { "put_user", "zed" }, { "set_access", "alice", "team-a", "full" },
      { "delete_user", "bob" }, { "set_levels", { "x" } }, { "put_contact", "c" },
      { "transaction", function() end }, { "set_actor", "me" }, { "lists" },
    }) do
      local ok, e = pcall(past[c[1]], past, unpack(c, 2))
      assert.is_false(ok)
      assert.truthy(tostring(e):find(c[1] .. ": this handle shows the store at "
        .. "revision " .. r .. " (db:at) and is read-only", 1, true), tostring(e))
    end
    assert.are.same(rows, helpers.snapshot_rows(past))
    assert.are.equal("full", past:access("alice", "team-a"))
    assert.are.equal("hidden", db:access("alice", "team-a"))
    assert.is_true(past:check("alice", "documents.edit", { tenant = "team-a", owner = "alice" }))
    assert.is_table(past:explain("alice", "documents.edit", { tenant = "team-a" }))
    assert.are.equal(r, past:revision())
    assert.are.same(db:at(r - 1):users(), past:at(r - 1):users())
    local check = past:checker()
    assert.is_true(check(past:id("user", "alice"), past:id("right", "documents.edit")))
  end)

  it("fails, writing nothing, on an audit row it cannot undo", function()
    local prim = require "primitives"
    local db = helpers.world()
    local r = db:revision()
    db:transaction(function()
      db:put_user("zed")
      prim.exec(db, "INSERT INTO audit(revision, op, subject, before, after)"
        .. " VALUES (?1, 'move_user', 'user:zed', NULL, '{\"unit\":\"hh\"}')", r + 1)
    end)
    local rows = helpers.snapshot_rows(db)
    local past, why, code = db:at(r)
    assert.is_nil(past)
    assert.truthy(why:find("^audit row %d+ %(move_user of user:zed%) has a "
                           .. "shape no description of mandate.history covers"), why)
    assert.are.equal("error", code)
    assert.are.same(rows, helpers.snapshot_rows(db))
    assert.is_truthy(db:at(r + 1))
  end)

  it("answers README's loop: who could see a tenant at a time", function()
    local db = helpers.world()
    db:put_tenant("client-x")
    db:set_access("alice", "client-x", "read")
    db:set_access("bob", "client-x", "full")
    local then_ = db:audit()[#db:audit()].time
    local t0 = os.clock()
    while os.clock() - t0 < 0.005 do end   -- later changes in a later millisecond
    db:clear_access("alice", "client-x")
    db:put_user("bob", { active = false })
    db:set_access("carol", "client-x", "full")       -- inactive: sees nothing
    local function who(p)
      local list = {}
      for _, u in ipairs(p:users()) do
        local level = p:access(u.key, "client-x")
        if u.active and level and level ~= "hidden" then
          list[#list + 1] = u.key .. "=" .. level
        end
      end
      return list
    end
    assert.are.same({ "alice=read", "bob=full" }, who(db:at(then_)))
    assert.are.same({}, who(db))
  end)

  it("never sees the store's later writes", function()
    local db = helpers.world()
    local past = db:at(db:revision())
    db:delete_user("alice")
    assert.is_truthy(past:get_user("alice"))
    assert.is_nil(db:get_user("alice"))
  end)
end)

describe("db:history", function()
  -- The definition: every revision whose state differs from the one
  -- before it, read with db:at.
  local function expected(points, user, tenant, right)
    local list = {}
    local function values(p)
      local access = p:access(user, tenant)
      local effective
      for _, row in ipairs(p:effective(user) or {}) do
        if row.right == right then effective = row.effective end
      end
      return access, effective
    end
    local a0, v0 = values(points[0])
    for rev = 1, #points do
      local a, v = values(points[rev])
      if a ~= a0 then list[#list + 1] = text({ rev, "tenant", a0, a }) end
      if v ~= v0 then list[#list + 1] = text({ rev, "right", v0, v }) end
      a0, v0 = a, v
    end
    return list
  end

  it("lists exactly the revisions that changed a user's access or effective value", function()
    for run = 1, math.max(2, math.floor(RUNS / 2)) do
      local r = rng(SEED + 1000 + run)
      local db = helpers.open()
      for _, c in ipairs(start(r)) do assert(apply(db, c)) end
      for _ = 1, r.int(20, 50) do act(r, db) end
      local points = {}
      for rev = 0, db:revision() do points[rev] = db:at(rev) end
      for _, user in ipairs(USERS) do
        local tenant, right = r.pick(TENANTS), r.pick(RIGHTS)
        local got = {}
        for _, c in ipairs(db:history{ user = user, tenant = tenant, right = right }) do
          assert.are.equal(user, c.user)
          got[#got + 1] = text({ c.revision, c.tenant and "tenant" or "right",
                                 c.before, c.after })
        end
        assert.are.same(expected(points, user, tenant, right), got)
      end
    end
  end)

  it("counts a bundle's edit for its holder, with time and actor, bounded and limited", function()
    local db = helpers.world()
    db:set_actor("admin")
    local r0 = db:revision()
    db:put_bundle("b-extra", { rights = {} })               -- alice holds none of it
    db:set_bundle_right(db:get_user("alice").bundles[1], "admin.open", true)
    db:set_access("alice", "team-a", "read")
    db:set_access("alice", "team-a", "read")                -- no change, no revision
    db:set_override("alice", "admin.open", false)
    local h = db:history{ user = "alice", right = "admin.open", since = r0 }
    assert.are.equal(2, #h)
    assert.are.equal(r0 + 2, h[1].revision)
    assert.are.equal("admin", h[1].actor)
    assert.are.equal(db:audit{ since = r0 + 1, before = r0 + 3 }[1].time, h[1].time)
    assert.are.same({ false, true }, { h[1].before, h[1].after })
    assert.are.same({ true, false }, { h[2].before, h[2].after })
    local t = db:history{ user = "alice", tenant = "team-a", right = "admin.open",
                          since = r0, limit = 2 }
    assert.are.same({ r0 + 3, r0 + 4 }, { t[1].revision, t[2].revision })
    assert.are.equal("team-a", t[1].tenant)
    assert.are.equal(1, #db:history{ user = "alice", right = "admin.open",
                                     since = r0, before = r0 + 3 })
    assert.are.same({}, db:history{ user = "alice", tenant = "team-a", limit = 0 })
    assert.are.same({}, db:history{ user = "nobody", tenant = "team-a" })
  end)

  it("raises on bad options", function()
    local db = helpers.world()
    helpers.rejects(db, "history: options: names no tenant and no right (give "
                    .. "tenant =, right = or both)",
                    function() db:history{ user = "alice" } end)
    helpers.rejects(db, { pattern = "^history: options.user: " },
                    function() db:history{ tenant = "team-a" } end)
    helpers.rejects(db, { pattern = "^history: options: expected a table" },
                    function() db:history() end)
    helpers.rejects(db, { pattern = "^history: options.since: 'soon' is not a time" },
                    function() db:history{ user = "alice", right = "admin.open",
                                           since = "soon" } end)
  end)
end)
