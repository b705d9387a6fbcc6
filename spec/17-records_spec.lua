-- A record's fields are tenant, owner, unit and customer, nothing else.
-- A misspelt field must be loud: without "tenant" a record is common data,
-- without owner, unit and customer a check asks only "does the user hold
-- the right at all", so a typo would allow.  Every call that takes a
-- record raises, naming the field and the four allowed.
local helpers = require "helpers"

local EDIT = "documents.edit"
local ALLOWED = "a record's fields are tenant, owner, unit and customer"

-- every call that takes a record, as a function of the record
local function calls(db)
  return {
    check = function(rec) return db:check("alice", EDIT, rec) end,
    prepare = function(rec) return db:prepare("alice", EDIT)(rec) end,
    allowed = function(rec) return db:allowed("alice", EDIT, { rec }) end,
    explain = function(rec) return db:explain("alice", EDIT, rec) end,
  }
end

describe("a record", function()
  it("with a misspelt field raises in every call, naming it and the four fields", function()
    local db = helpers.world()
    local bad = {
      { rec = { tenant = "team-a", ownr = "bob" }, field = "'ownr'" },
      { rec = { tenat = "team-a", owner = "alice" }, field = "'tenat'" },
      { rec = { Tenant = "team-a" }, field = "'Tenant'" },
      { rec = { tenant = "team-a", owner = "bob", "note" }, field = "1" },
      { rec = { [true] = "x" }, field = "a boolean" },
      { rec = { owner = "bob", customers = "ACME" }, field = "'customers'" },
    }
    local selfish = { tenant = "team-a" }
    selfish.self = selfish
    bad[#bad + 1] = { rec = selfish, field = "'self'" }
    for name, call in pairs(calls(db)) do
      for _, b in ipairs(bad) do
        local place = name == "allowed" and "records[1]" or "record"
        local want = place .. ": " .. b.field .. " is not a field (" .. ALLOWED .. ")"
        assert.equal(want, helpers.error_of(function() call(b.rec) end), name)
      end
    end
  end)

  it("with the four fields, or fewer, decides as before", function()
    local db = helpers.world()
    local cases = {
      { { tenant = "team-a", owner = "alice" }, true },
      { { tenant = "team-a", owner = "bob" }, nil },
      { { tenant = "team-a", owner = "bob", unit = "hh-sales", customer = "ACME" }, nil },
      { {}, nil },
      { false, nil },
    }
    for _, c in ipairs(cases) do
      local rec = c[1] or nil
      local want = { db:check("alice", EDIT, rec) }
      if c[2] ~= nil then assert.equal(c[2], want[1]) end
      assert.same(want, { db:prepare("alice", EDIT)(rec) })
      if rec then
        assert.equal(want[1] and 1 or 0, #db:allowed("alice", EDIT, { rec }))
      end
      assert.equal(want[1], db:explain("alice", EDIT, rec).allowed)
    end
  end)

  it("behind a metatable is read through __index, and its raw keys must be fields", function()
    local db = helpers.world()
    local proxy = setmetatable({}, { __index = { tenant = "team-a", owner = "alice" } })
    assert.is_true(db:check("alice", EDIT, proxy))
    local odd = setmetatable({ ownr = "bob" }, { __index = { tenant = "team-a" } })
    assert.equal("record: 'ownr' is not a field (" .. ALLOWED .. ")",
                 helpers.error_of(function() db:check("alice", EDIT, odd) end))
  end)

  it("of an application's row: db:allowed(user, right, rows, field) returns the rows", function()
    local db = helpers.world()
    local rows = {
      { id = 1, record = { tenant = "team-a", owner = "alice" } },
      { id = 2, record = { tenant = "team-a", owner = "bob" } },
      { id = 3, record = { tenant = "no-such-tenant", owner = "alice" } },
    }
    local want = {}
    for _, row in ipairs(rows) do
      if db:check("alice", EDIT, row.record) then want[#want + 1] = row end
    end
    assert.same(want, db:allowed("alice", EDIT, rows, "record"))
    assert.equal(rows[1], db:allowed("alice", EDIT, rows, "record")[1])   -- the row itself
    -- the rows' own fields are no record fields; the record is still strict
    assert.equal("records[1] must be a row (a table) with a record at .record, got string",
                 helpers.error_of(function() db:allowed("alice", EDIT, { "x" }, "record") end))
    assert.equal("records[1].record must be " .. "a table {tenant=, owner=, unit=, customer=}"
                 .. ", got nil",
                 helpers.error_of(function() db:allowed("alice", EDIT, { { id = 1 } }, "record") end))
    assert.equal("records[2].record: 'ownr' is not a field (" .. ALLOWED .. ")",
                 helpers.error_of(function()
                   db:allowed("alice", EDIT, { rows[1], { record = { ownr = "bob" } } }, "record")
                 end))
  end)

  it("with a field of the wrong type still names it", function()
    local db = helpers.world()
    assert.equal("record.owner: expected a string key or nil, got table",
                 helpers.error_of(function() db:check("alice", EDIT, { owner = {} }) end))
  end)
end)

describe("a message", function()
  it("quotes a long key cut to a bounded length, at a character's start", function()
    local db = helpers.world()
    local key = ("r"):rep(56) .. "\195\169x" .. ("r"):rep(9)    -- U+00E9 at bytes 57-58
    local msg = helpers.error_of(function() db:check("alice", key) end)
    assert.matches("unknown right '" .. ("r"):rep(56) .. "...'", msg, nil, true)
    msg = helpers.error_of(function() db:check("alice", "a\0b\n") end)
    assert.matches("unknown right 'a\\000b\\n'", msg, nil, true)
  end)

  it("quotes a long key cut to a bounded length", function()
    local db = helpers.world()
    local long = ("r"):rep(2 ^ 20)
    for _, f in ipairs({
      function() return db:check("alice", long) end,
      function() return db:prepare("alice", long) end,
      function() return db:check("alice", EDIT, { [long] = "x" }) end,
      function() return db:id(long, "alice") end,
    }) do
      local msg = helpers.error_of(f)
      assert.is_true(#msg < 300, #msg)
      assert.matches("'" .. ("r"):rep(57) .. "...'", msg, nil, true)
    end
  end)
end)

describe("explain's fix", function()
  it("writes the call with its option table as Lua code", function()
    local db = helpers.open()
    db:put_right("r", { kind = "flag" })
    db:put_user("u", { active = false })
    db:set_override("u", "r", true)
    assert.equal('put_user("u", {active = true})', db:explain("u", "r").fix.text)
  end)
end)
