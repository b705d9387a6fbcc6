-- Lists stay warm: a write that changes one role, list or contact patches
-- the compiled members of the lists a handle keeps, and every resolution
-- still equals what a fresh handle (which compiles every list from SQL)
-- answers.  Random worlds, random writes through the handle itself and
-- through a second handle, rollbacks, between resolutions.
local helpers = require "helpers"
local mandate = require "mandate"

local WORLDS = tonumber(os.getenv("MANDATE_LIST_WORLDS") or "") or 12
local STEPS = 40
local TAGS = { "a", "b", "c" }
local TENANTS = { "t1", "t2", "t3" }

local function rng(seed)
  local x = seed
  local r = {}
  function r.int(lo, hi)
    x = (x * 1103515245 + 12345) % 2147483648
    return lo + x % (hi - lo + 1)
  end
  function r.pick(t) return t[r.int(1, #t)] end
  function r.chance(p) return r.int(1, 1000) <= p * 1000 end
  return r
end

local function some_tags(r)
  local t = {}
  for _, tag in ipairs(TAGS) do if r.chance(0.4) then t[#t + 1] = tag end end
  return t
end

local function role_options(r, contacts)
  return { contact = r.pick(contacts), label = "L" .. r.int(1, 9), tags = some_tags(r),
           active = r.chance(0.85),
           tenant = r.chance(0.3) and r.pick(TENANTS) or nil,
           channels = r.chance(0.8) and { email = "e" .. r.int(1, 6) .. "@x" } or {} }
end

local function build(db, r)
  for _, t in ipairs(TENANTS) do db:put_tenant(t, {}) end
  db:put_user("u", {})
  db:set_access("u", "t1", "full")
  db:set_access("u", "t2", "read")
  local contacts, roles, lists = {}, {}, {}
  for i = 1, 6 do
    contacts[i] = "c" .. i
    db:put_contact(contacts[i], { label = "C" .. i, tenant = r.chance(0.3) and r.pick(TENANTS) or nil })
  end
  for i = 1, 20 do
    roles[i] = "r" .. i
    db:put_role(roles[i], role_options(r, contacts))
  end
  for i = 1, 3 do
    lists[i] = "l" .. i
    db:put_list(lists[i], { tenant = r.pick({ "t1", "t2" }), tags = some_tags(r) })
    for _ = 1, 4 do db:add_to_list(lists[i], r.pick(roles)) end
    if r.chance(0.5) then db:exclude_from_list(lists[i], r.pick(roles)) end
  end
  return contacts, roles, lists
end

-- one random write of db's
local function write(db, r, contacts, roles, lists)
  local x = r.int(1, 10)
  if x <= 3 then
    return db:put_role(r.pick(roles), role_options(r, contacts))
  elseif x == 4 then
    return db:add_to_list(r.pick(lists), r.pick(roles))
  elseif x == 5 then
    return db:remove_from_list(r.pick(lists), r.pick(roles))
  elseif x == 6 then
    return db:exclude_from_list(r.pick(lists), r.pick(roles))
  elseif x == 7 then
    return db:clear_exclusion(r.pick(lists), r.pick(roles))
  elseif x == 8 then
    return db:put_contact(r.pick(contacts), { label = "C" .. r.int(1, 9),
                                               tenant = r.chance(0.3) and r.pick(TENANTS) or false })
  elseif x == 9 then
    return db:put_list(r.pick(lists), { tags = some_tags(r) })
  end
  local role = "n" .. r.int(1, 1000)                   -- a new role, or one deleted
  if r.chance(0.5) then return db:put_role(role, role_options(r, contacts)) end
  return db:delete_role(r.pick(roles), { cascade = true })
end

local function shape(result)
  if not result then return result end
  local t = { total = result.total, left_out = result.left_out, roles = {} }
  for i, e in ipairs(result.roles) do
    t.roles[i] = { e.role, e.contact, e.label, e.contact_label, e.channels.email, #e.tags }
  end
  return t
end

local function compare(warm, path, lists, where)
  local fresh = assert(mandate.open(path))
  for _, l in ipairs(lists) do
    for _, opts in ipairs({ {}, { dedupe = "contact" }, { dedupe = "email" } }) do
      local want = { fresh:resolve_list(l, "u", opts) }
      local got = { warm:resolve_list(l, "u", opts) }
      assert.same({ shape(want[1]), want[2] }, { shape(got[1]), got[2] }, where .. " list " .. l)
    end
  end
  local a, b = warm:lists("u"), fresh:lists("u")
  assert.same(b, a, where .. ": lists(u)")
  fresh:close()
end

describe("compiled lists", function()
  it(string.format("equal a fresh handle's on %d random worlds after each write", WORLDS), function()
    for w = 1, WORLDS do
      local r = rng(4242 + w)
      local path = helpers.tmpname()
      local a = assert(mandate.open(path))
      local contacts, roles, lists = build(a, r)
      local b = assert(mandate.open(path))
      compare(a, path, lists, "world " .. w .. " start")
      for step = 1, STEPS do
        local who = r.chance(0.25) and b or a
        if r.chance(0.15) then
          pcall(who.transaction, who, function()
            write(who, r, contacts, roles, lists)
            error("undone")
          end)
        else                        -- a key deleted before: refused, nothing written
          pcall(write, who, r, contacts, roles, lists)
        end
        compare(a, path, lists, string.format("world %d step %d", w, step))
      end
      a:close()
      b:close()
      helpers.remove_store(path)
    end
  end)

  it("take one role added to a long list without compiling it again", function()
    local db = helpers.open()
    db:put_tenant("t", { default = "read" })
    db:put_user("u", {})
    db:put_contact("c", {})
    db:transaction(function()
      for i = 1, 2000 do db:put_role(string.format("r%05d", i), { contact = "c", tags = { "x" } }) end
    end)
    db:put_list("big", { tenant = "t", tags = { "x" } })
    assert.equal(2000, db:resolve_list("big", "u").total)
    db:put_role("r00000", { contact = "c" })          -- sorts first
    db:add_to_list("big", "r00000")
    local r = db:resolve_list("big", "u")
    assert.equal(2001, r.total)
    assert.equal("r00000", r.roles[1].role)
    db:remove_from_list("big", "r00000")
    assert.equal(2000, db:resolve_list("big", "u").total)
  end)
end)
