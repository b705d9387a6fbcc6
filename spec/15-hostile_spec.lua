-- Hostile input (issue 22): rows written into the store by hand, and the
-- binding's share of values with NUL bytes and long keys.  The Lua
-- layer's share (audit bounds, NUL bytes in values, keys and text, long
-- keys in messages) is in 03-validation_spec.lua and 05-audit_spec.lua.

local prim = require "primitives"   -- the test-only path to raw SQL
local helpers = require "helpers"
local mandate = require "mandate"
local core = require "mandate.core"

local SCOPES = "none, own, team, department, branch, country, all"

describe("a row written into the store by hand", function()
  local path, db, raw
  before_each(function()
    path = helpers.tmpname()
    db = assert(mandate.open(path))
    helpers.world(db)
    assert.is_true(db:check("alice", "documents.edit"))
    -- another program: no foreign keys, no CHECK constraints
    raw = assert(mandate.open(path))
    prim.exec(raw, "PRAGMA foreign_keys = OFF")
    prim.exec(raw, "PRAGMA ignore_check_constraints = ON")
  end)
  after_each(function()
    db:close()
    raw:close()
    helpers.remove_store(path)
  end)

  -- What every decision answers once raw ran sql: nil, message, code.
  local function fails_with(sql, message, code)
    prim.exec(raw, sql)
    local answers = {
      { db:refresh() },
      { db:check("alice", "documents.edit") },
      { db:check("bob", "admin.open", { tenant = "team-a" }) },
      { db:explain("alice", "documents.edit") },
      { db:effective("bob") },
      { db:access("bob", "team-a") },
      { db:id("user", "bob") },
      { db:prepare("bob", "admin.open") },
    }
    for _, answer in ipairs(answers) do
      assert.are.same({ nil, "loading the snapshot: " .. message,
                        code or "invalid" }, answer)
    end
  end

  it("names the table, the row's keys and a value no right takes", function()
    fails_with("UPDATE bundle_rights SET value = 'galaxy' WHERE bundle_id ="
               .. " (SELECT id FROM bundles WHERE key = 'inside-sales')"
               .. " AND right_id = (SELECT id FROM rights"
               .. " WHERE key = 'documents.edit')",
               'bundle_rights (bundle "inside-sales", right "documents.edit"):'
               .. ' value "galaxy" is not a value of a scope right (' .. SCOPES
               .. ", each optionally with +customer)")
  end)

  it("names overrides, flags and customer parts the right refuses", function()
    fails_with("UPDATE overrides SET value = 'team+customer',"
               .. " right_id = (SELECT id FROM rights"
               .. " WHERE key = 'documents.see')",
               'overrides (user "alice", right "documents.see"): value '
               .. '"team+customer" is not a value of a scope right without a '
               .. "customer part (" .. SCOPES .. ")")
  end)

  it("names a flag's bad value", function()
    fails_with("UPDATE bundle_rights SET value = 'yes' WHERE right_id ="
               .. " (SELECT id FROM rights WHERE key = 'admin.open')"
               .. " AND bundle_id = (SELECT id FROM bundles"
               .. " WHERE key = 'admin')",
               'bundle_rights (bundle "admin", right "admin.open"): value '
               .. '"yes" is not a value of a flag right (true, false)')
  end)

  it("reads a value to its end, NUL bytes and all", function()
    fails_with("UPDATE overrides SET value = 'team' || char(0) || '+customer'",
               'overrides (user "alice", right "documents.edit"): value '
               .. '"team\\000+customer" is not a value of a scope right ('
               .. SCOPES .. ", each optionally with +customer)")
  end)

  it("cuts a long value in the message", function()
    fails_with("UPDATE overrides SET value = '" .. ("x\""):rep(5000) .. "'",
               'overrides (user "alice", right "documents.edit"): value "'
               .. ('x\\"'):rep(28) .. 'x..." is not a value of a scope right ('
               .. SCOPES .. ", each optionally with +customer)")
  end)

  it("names a unit on a level that does not exist", function()
    -- the load skipped such a unit, and blamed its children
    fails_with("UPDATE units SET level = 'galaxy' WHERE key = 'hh-sales'",
               'units (unit "hh-sales"): level "galaxy" is not a level')
  end)

  it("names words that are no access, kind, mode or flag", function()
    local cases = {
      { "UPDATE tenants SET default_access = 'secret' WHERE key = 'team-a'",
        'tenants (tenant "team-a"): default_access "secret" is not an access '
        .. "(full, read, hidden)" },
      { "UPDATE rights SET kind = 'toggle' WHERE key = 'admin.open'",
        'rights (right "admin.open"): kind "toggle" is not a kind (flag, '
        .. "scope)" },
      { "UPDATE rights SET mode = 'execute' WHERE key = 'admin.open'",
        'rights (right "admin.open"): mode "execute" is not a mode (read, '
        .. "write)" },
      { "UPDATE rights SET customer = 2 WHERE key = 'documents.edit'",
        'rights (right "documents.edit"): customer "2" is not 0 or 1' },
      { "UPDATE access SET access = 'write' WHERE access = 'full'",
        'access (user "alice", tenant "team-a"): access "write" is not an '
        .. "access (full, read, hidden)" },
      { "UPDATE users SET active = 7 WHERE key = 'carol'",
        'users (user "carol"): active "7" is not 0 or 1' },
    }
    for _, case in ipairs(cases) do
      -- each case on a store of its own
      db:close()
      raw:close()
      helpers.remove_store(path)
      db = assert(mandate.open(path))
      helpers.world(db)
      raw = assert(mandate.open(path))
      prim.exec(raw, "PRAGMA ignore_check_constraints = ON")
      fails_with(case[1], case[2])
    end
  end)

  it("names rows that refer to nothing", function()
    fails_with("UPDATE user_bundles SET bundle_id = 99 WHERE position = 1"
               .. " AND user_id = (SELECT id FROM users WHERE key = 'alice')",
               'user_bundles (user "alice", bundle id 99): there is no bundle '
               .. "with this id", "notfound")
  end)

  it("names a dangling right of a bundle", function()
    fails_with("UPDATE bundle_rights SET right_id = 99 WHERE bundle_id ="
               .. " (SELECT id FROM bundles WHERE key = 'admin')",
               'bundle_rights (bundle "admin", right id 99): there is no '
               .. "right with this id", "notfound")
  end)

  it("names a dangling customer of an account manager", function()
    fails_with("UPDATE account_managers SET customer_id = 42",
               'account_managers (user "alice", customer id 42): there is no '
               .. "customer with this id", "notfound")
  end)

  it("names levels whose depths do not run 0, 1, 2, ...", function()
    fails_with("UPDATE levels SET depth = 7 WHERE name = 'team'",
               'levels (level "team"): depth 7, but the next level\'s depth '
               .. "is 3 (depths run 0, 1, 2, ... from the top)")
  end)

  it("names a 33rd level", function()
    local rows = {}
    for d = 4, 32 do rows[#rows + 1] = ("('l%d', %d)"):format(d, d) end
    fails_with("INSERT INTO levels(name, depth) VALUES "
               .. table.concat(rows, ", "),
               'levels (level "l32"): a level beyond the 32 allowed')
  end)

  it("answers again once the row is repaired", function()
    fails_with("UPDATE bundle_rights SET value = 'galaxy' WHERE value ="
               .. " 'team'",
               'bundle_rights (bundle "inside-sales", right "documents.edit"):'
               .. ' value "galaxy" is not a value of a scope right (' .. SCOPES
               .. ", each optionally with +customer)")
    prim.exec(raw, "UPDATE bundle_rights SET value = 'team' WHERE value = 'galaxy'")
    assert.is_true(db:refresh())
    assert.is_true(db:check("alice", "documents.edit"))
  end)
end)

-- The binding's share (src/lua/lmandate.c): these pass once it reads
-- values to their length and cuts the keys it quotes.
describe("the binding under hostile input", function()
  it("parses a value to its end, NUL bytes and all", function()
    local levels = { "country", "team" }
    assert.is_nil(core.parse_value(levels, "scope", true, "team\0+customer"))
    assert.is_nil(core.parse_value(levels, "scope", true, "team\0"))
    assert.is_nil(core.parse_value(levels, "flag", false, "true\0false"))
    assert.are.equal("team+customer",
                     core.parse_value(levels, "scope", true, "team+customer"))
  end)

  it("quotes a long unknown right cut", function()
    local db = helpers.world()
    local big = ("r"):rep(2 ^ 20)
    for _, call in ipairs({
      function() return db:check("alice", big) end,
      function() return db:explain("alice", big) end,
      function() return db:prepare("alice", big) end,
      function() return db:allowed("alice", big, {}) end,
    }) do
      local ok, err = pcall(call)
      assert.is_false(ok)
      err = tostring(err)
      assert.is_true(#err < 300, err:sub(1, 300))
      assert.truthy(err:find("unknown right 'rrrr+%.%.%.'"), err:sub(1, 300))
    end
  end)
end)
