-- Paging resolve_list: the stable order is SQLite's byte order whatever
-- collation the host's locale sets for Lua's `<`, and a page size is at
-- least 1 (a page of 0 roles could not say where the next one starts).

local helpers = require "helpers"

-- Locales whose collation is not byte order ("a" before "B"); the gates'
-- dependencies generate de_DE.UTF-8 (scripts/install-deps --gates).
local LOCALES = { "de_DE.UTF-8", "de_DE.utf8", "en_US.UTF-8", "en_US.utf8" }

--[[
Contacts whose keys sort differently by bytes and by a human collation:
  byte order:  Anna < Mia < Zoe < bernd < ole < Ärger
  de_DE:       Anna < Ärger < bernd < Mia < ole < Zoe
Roles tagged "t" are on list L; anna-0, mia-1 and ole-1 are not.
]]
local function world()
  local db = helpers.open()
  db:put_tenant("t1", { default = "read" })
  db:put_user("u")
  db:put_list("L", { tenant = "t1", tags = { "t" } })
  for _, c in ipairs { "Anna", "Mia", "Zoe", "bernd", "ole", "\195\132rger" } do
    db:put_contact(c)
  end
  local roles = {
    { "Anna-2", "Anna", true }, { "anna-0", "Anna", false },
    { "anna-1", "Anna", true }, { "mia-1", "Mia", false },
    { "zoe-1", "Zoe", true }, { "bernd-1", "bernd", true },
    { "ole-1", "ole", false }, { "aerger-1", "\195\132rger", true },
  }
  for _, r in ipairs(roles) do
    db:put_role(r[1], { contact = r[2], tags = r[3] and { "t" } or {} })
  end
  return db
end

-- In byte order of contact key, then role key.
local ORDER = { "Anna-2", "anna-1", "zoe-1", "bernd-1", "aerger-1" }

local function keys(result)
  local t = {}
  for i, r in ipairs(result.roles) do t[i] = r.role end
  return t
end

describe("resolve_list paging", function()
  local db, saved

  before_each(function()
    db = world()
    saved = os.setlocale(nil, "collate")
  end)

  after_each(function()
    os.setlocale(saved, "collate")
    db:close()
  end)

  -- Run fn under a collation that is not byte order (fails without one).
  local function under_collation(fn)
    local name
    for _, l in ipairs(LOCALES) do
      if os.setlocale(l, "collate") then name = l break end
    end
    assert(name, "no locale with a human collation is installed (run "
                 .. "scripts/install-deps --gates)")
    -- (LuaJIT compares strings by bytes whatever the locale)
    assert(rawget(_G, "jit") or "a" < "B", "collation of " .. name .. " is byte order")
    fn()
  end

  it("follows SQLite's byte order under the C collation", function()
    assert(os.setlocale("C", "collate"))
    assert.are.same(ORDER, keys(db:resolve_list("L", "u")))
  end)

  it("starts a page after a role by byte order under any collation", function()
    under_collation(function()
      assert.are.same(ORDER, keys(db:resolve_list("L", "u")))
      local cases = {
        { "Anna-2", { "anna-1", "zoe-1", "bernd-1", "aerger-1" } },
        { "anna-0", { "anna-1", "zoe-1", "bernd-1", "aerger-1" } },
        { "mia-1", { "zoe-1", "bernd-1", "aerger-1" } },
        { "bernd-1", { "aerger-1" } },
        { "ole-1", { "aerger-1" } },
        { "aerger-1", {} },
      }
      for _, c in ipairs(cases) do
        assert.are.same(c[2], keys(db:resolve_list("L", "u", { after = c[1] })),
                        "after " .. c[1])
      end
    end)
  end)

  it("pages one role at a time through a list that changes", function()
    under_collation(function()
      local seen, after = {}, nil
      repeat
        local r = db:resolve_list("L", "u", { limit = 1, after = after })
        for _, role in ipairs(r.roles) do seen[#seen + 1] = role.role end
        if seen[#seen] == "zoe-1" then db:exclude_from_list("L", "zoe-1") end
        if seen[#seen] == "bernd-1" then db:exclude_from_list("L", "bernd-1") end
        after = r.next
      until not after
      -- every role once, none skipped: zoe-1 and bernd-1 left the list
      -- after their page, so the next page starts by their place
      assert.are.same(ORDER, seen)
    end)
  end)

  it("refuses a page size of 0, and names what is allowed", function()
    local msg = "resolve_list: options.limit: expected a page size (an "
                .. "integer >= 1; nil for the whole list), got 0"
    helpers.rejects(db, msg, function()
      db:resolve_list("L", "u", { limit = 0 })
    end)
    local r = db:resolve_list("L", "u", { limit = 1 })
    assert.are.same({ "Anna-2" }, keys(r))
    assert.are.equal("Anna-2", r.next)
  end)
end)
