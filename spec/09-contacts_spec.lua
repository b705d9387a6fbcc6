-- Contacts, roles and distribution lists: the writers and their read-back,
-- resolving a list for a user (the list's tenant gate, common and
-- tenant-owned contacts and roles, dynamic members, exclusions, inactive
-- roles, de-duplication, paging, hidden counts), the reverse queries,
-- deleting, bad input, audit rows and transactions.

local prim = require "primitives"   -- the test-only path to raw SQL
local helpers = require "helpers"
local json = require "mandate.json"
local mandate = require "mandate"

-- The tables of the contacts schema, for dumps next to helpers'.
local CONTACT_TABLES = {
  contacts = "SELECT * FROM contacts ORDER BY id",
  roles = "SELECT * FROM roles ORDER BY id",
  role_channels = "SELECT * FROM role_channels ORDER BY role_id, channel",
  role_tags = "SELECT * FROM role_tags ORDER BY role_id, tag",
  lists = "SELECT * FROM lists ORDER BY id",
  list_tags = "SELECT * FROM list_tags ORDER BY list_id, tag",
  list_entries = "SELECT * FROM list_entries ORDER BY list_id, role_id",
}

local function dump(db)
  local d = helpers.snapshot_rows(db)
  for name, sql in pairs(CONTACT_TABLES) do d[name] = prim.rows(db, sql) end
  return d
end

-- helpers.rejects, and the contacts tables unchanged too.
local function rejects(db, expected, fn)
  local before = dump(db)
  local text = helpers.rejects(db, expected, fn)
  assert.are.same(before, dump(db))
  return text
end

--[[
The agency of helpers.world plus contacts:

  tenants acme, bolt (hidden by default), common (read by default)
  alice: acme full, bolt read;  bob: acme read (bolt hidden);
  dave: no access rows (sees only 'common');  carol: inactive

  ann  (owned by bolt)  ann-old (inactive, press), ann-x (press)
  jo   (common)         jo-blog (private to bolt; press)
                        jo-daily (press, tech), jo-home (tech)
  max  (common)         max-comm (politics), max-const (politics, postal),
                        max-parl (politics, press); max-comm and max-const
                        share the email office@max.example
  old  (common)         old-1 (inactive; press)

  lists acme-press (acme; tag press), acme-politics (acme; tag politics,
  plus jo-daily), bolt-vip (bolt; ann-x and jo-blog explicitly)

With db, the world is written into it (else a new in-memory store).
]]
local function world(db)
  db = helpers.world(db)
  db:put_tenant("acme", { label = "ACME Foods" })
  db:put_tenant("bolt", { label = "Bolt Mobility" })
  db:put_user("dave")
  db:set_access("alice", "acme", "full")
  db:set_access("alice", "bolt", "read")
  db:set_access("bob", "acme", "read")

  db:put_contact("ann", { label = "Ann Insider", tenant = "bolt" })
  db:put_contact("jo", { label = "Jo Freelance" })
  db:put_contact("max", { label = "Max Member" })
  db:put_contact("old", { label = "Old Timer" })
  db:put_role("ann-old", { contact = "ann", active = false, tags = { "press" },
                           channels = { email = "ann@old.example" } })
  db:put_role("ann-x", { contact = "ann", label = "Ann at X",
                         channels = { email = "ann@x.example" },
                         tags = { "press" } })
  db:put_role("jo-blog", { contact = "jo", tenant = "bolt",
                           channels = { email = "jo@blog.example" },
                           tags = { "press" } })
  db:put_role("jo-daily", { contact = "jo", label = "Editor, Daily",
                            channels = { email = "jo@daily.example" },
                            tags = { "tech", "press" } })
  db:put_role("jo-home", { contact = "jo", channels = { email = "jo@home.example" },
                           tags = { "tech" } })
  db:put_role("max-comm", { contact = "max", label = "Committee",
                            channels = { email = "office@max.example" },
                            tags = { "politics" } })
  db:put_role("max-const", { contact = "max", label = "Constituency",
                             channels = { email = "office@max.example",
                                          postal = "Main St 1\n12345 Town" },
                             tags = { "politics" } })
  db:put_role("max-parl", { contact = "max", label = "Parliament",
                            channels = { email = "max@parliament.example" },
                            tags = { "politics", "press" } })
  db:put_role("old-1", { contact = "old", active = false, tags = { "press" },
                         channels = { email = "old@example.com" } })
  db:put_list("acme-press", { tenant = "acme", label = "ACME press",
                              tags = { "press" } })
  db:put_list("acme-politics", { tenant = "acme", tags = { "politics" } })
  db:add_to_list("acme-politics", "jo-daily")
  db:put_list("bolt-vip", { tenant = "bolt" })
  db:add_to_list("bolt-vip", "ann-x")
  db:add_to_list("bolt-vip", "jo-blog")
  return db
end

-- The role keys of a result.
local function keys(result)
  local t = {}
  for i, r in ipairs(result.roles) do t[i] = r.role end
  return t
end

local function left_out(hidden, inactive, no_channel, duplicate)
  return { tenant_hidden = hidden, inactive = inactive,
           no_channel = no_channel or 0, duplicate = duplicate or 0 }
end

describe("contacts", function()
  local db
  before_each(function() db = world() end)

  it("are common data or owned by a tenant", function()
    local id = db:put_contact("kim")
    assert.are.equal("number", type(id))
    assert.are.same({ key = "kim" }, db:get_contact("kim"))
    assert.are.same({ key = "ann", label = "Ann Insider", tenant = "bolt" },
                    db:get_contact("ann"))
    assert.is_nil(db:get_contact("nobody"))
  end)

  it("update only the options given; false removes label and tenant", function()
    local id = db:put_contact("ann", { label = "Ann" })
    assert.are.equal(db:put_contact("ann"), id)
    assert.are.same({ key = "ann", label = "Ann", tenant = "bolt" },
                    db:get_contact("ann"))
    db:put_contact("ann", { tenant = false, label = false })
    assert.are.same({ key = "ann" }, db:get_contact("ann"))
    db:put_contact("ann", { tenant = "acme" })
    assert.are.equal("acme", db:get_contact("ann").tenant)
  end)

  it("are listed in key order", function()
    local list = {}
    for i, c in ipairs(db:contacts()) do list[i] = c.key end
    assert.are.same({ "ann", "jo", "max", "old" }, list)
    assert.are.same(db:get_contact("max"), db:contacts()[3])
  end)
end)

describe("roles", function()
  local db
  before_each(function() db = world() end)

  it("read back as put; tags in byte order, active by default", function()
    assert.are.same({ key = "jo-daily", contact = "jo", label = "Editor, Daily",
                      channels = { email = "jo@daily.example" },
                      tags = { "press", "tech" }, active = true },
                    db:get_role("jo-daily"))
    assert.are.same({ key = "jo-blog", contact = "jo", tenant = "bolt",
                      channels = { email = "jo@blog.example" },
                      tags = { "press" }, active = true },
                    db:get_role("jo-blog"))
    db:put_role("r", { contact = "jo" })
    assert.are.same({ key = "r", contact = "jo", channels = {}, tags = {},
                      active = true }, db:get_role("r"))
    assert.is_nil(db:get_role("nobody"))
  end)

  it("update only what is given; channels and tags are replaced", function()
    local id = db:put_role("max-const", { label = "Constituency office" })
    assert.are.equal(db:put_role("max-const"), id)
    local r = db:get_role("max-const")
    assert.are.equal("Constituency office", r.label)
    assert.are.same({ email = "office@max.example",
                      postal = "Main St 1\n12345 Town" }, r.channels)
    db:put_role("max-const", { channels = { fax = "+49 40 1" }, tags = {},
                               active = false, tenant = "acme",
                               contact = "jo", label = false })
    assert.are.same({ key = "max-const", contact = "jo",
                      channels = { fax = "+49 40 1" }, tags = {},
                      active = false, tenant = "acme" },
                    db:get_role("max-const"))
    db:put_role("max-const", { tenant = false, active = true })
    assert.is_nil(db:get_role("max-const").tenant)
    assert.is_true(db:get_role("max-const").active)
  end)

  it("are listed in key order, all or one contact's", function()
    local all = {}
    for i, r in ipairs(db:roles()) do all[i] = r.key end
    assert.are.same({ "ann-old", "ann-x", "jo-blog", "jo-daily", "jo-home",
                      "max-comm", "max-const", "max-parl", "old-1" }, all)
    assert.are.same(db:get_role("max-const"), db:roles()[7])
    assert.are.same({ db:get_role("max-comm"), db:get_role("max-const"),
                      db:get_role("max-parl") }, db:roles("max"))
    db:put_contact("new")
    assert.are.same({}, db:roles("new"))
    assert.is_nil(db:roles("nobody"))
  end)
end)

describe("lists", function()
  local db
  before_each(function() db = world() end)

  it("belong to one tenant and read back as put", function()
    assert.are.same({ key = "acme-press", label = "ACME press",
                      tenant = "acme", tags = { "press" } },
                    db:get_list("acme-press"))
    assert.are.same({ key = "bolt-vip", tenant = "bolt", tags = {} },
                    db:get_list("bolt-vip"))
    db:put_list("bolt-vip", { tenant = "acme", tags = { "b", "a" },
                              label = "VIP" })
    assert.are.same({ key = "bolt-vip", label = "VIP", tenant = "acme",
                      tags = { "a", "b" } }, db:get_list("bolt-vip"))
    local all = {}
    for i, l in ipairs(db:all_lists()) do all[i] = l.key end
    assert.are.same({ "acme-politics", "acme-press", "bolt-vip" }, all)
    assert.are.same(db:get_list("acme-press"), db:all_lists()[2])
    assert.is_nil(db:get_list("nobody"))
  end)

  it("keep explicit members and exclusions, one entry per role", function()
    assert.are.same({ members = { "ann-x", "jo-blog" }, excluded = {} },
                    db:list_entries("bolt-vip"))
    db:exclude_from_list("bolt-vip", "ann-x")        -- replaces membership
    db:exclude_from_list("bolt-vip", "old-1")
    assert.are.same({ members = { "jo-blog" }, excluded = { "ann-x", "old-1" } },
                    db:list_entries("bolt-vip"))
    db:add_to_list("bolt-vip", "ann-x")              -- lifts the exclusion
    db:remove_from_list("bolt-vip", "jo-blog")
    db:remove_from_list("bolt-vip", "old-1")         -- excluded: stays so
    assert.are.same({ members = { "ann-x" }, excluded = { "old-1" } },
                    db:list_entries("bolt-vip"))
    db:clear_exclusion("bolt-vip", "old-1")
    db:clear_exclusion("bolt-vip", "ann-x")          -- a member: stays so
    assert.are.same({ members = { "ann-x" }, excluded = {} },
                    db:list_entries("bolt-vip"))
    assert.is_nil(db:list_entries("nobody"))
  end)

  it("change nothing, and write no audit row, when nothing changes", function()
    local r, n = db:revision(), #db:audit()
    db:put_contact("jo", { label = "Jo Freelance" })
    db:put_role("jo-daily", { tags = { "press", "tech" },
                              channels = { email = "jo@daily.example" } })
    db:put_list("acme-press", { tags = { "press" }, tenant = "acme" })
    db:add_to_list("bolt-vip", "ann-x")
    db:remove_from_list("bolt-vip", "max-parl")
    db:clear_exclusion("bolt-vip", "ann-x")
    assert.are.equal(r, db:revision())
    assert.are.equal(n, #db:audit())
  end)
end)

describe("resolve_list", function()
  local db
  before_each(function() db = world() end)

  it("is gated by the list's tenant: full, read, hidden", function()
    local a = db:resolve_list("acme-press", "alice")
    assert.are.equal("full", a.access)
    assert.are.equal("acme-press", a.list)
    assert.are.equal("acme", a.tenant)
    local b = db:resolve_list("acme-press", "bob")
    assert.are.equal("read", b.access)
    assert.are.same({ nil, "tenant_hidden" },
                    { db:resolve_list("acme-press", "dave") })
    assert.are.same({ nil, "tenant_hidden" },
                    { db:resolve_list("bolt-vip", "bob") })
    assert.are.equal("read", db:resolve_list("bolt-vip", "alice").access)
  end)

  it("names the reason like check: unknown and inactive users, unknown lists",
     function()
    assert.are.same({ nil, "unknown_user" },
                    { db:resolve_list("acme-press", "zoe") })
    assert.are.same({ nil, "inactive_user" },
                    { db:resolve_list("acme-press", "carol") })
    assert.are.same({ nil, "unknown_list" },
                    { db:resolve_list("nope", "alice") })
    -- the user is judged first, as in check
    assert.are.same({ nil, "unknown_user" }, { db:resolve_list("nope", "zoe") })
  end)

  it("takes tag members in a stable order: contact key, then role key", function()
    local r = db:resolve_list("acme-press", "alice")
    assert.are.same({ "ann-x", "jo-blog", "jo-daily", "max-parl" }, keys(r))
    assert.are.equal(4, r.total)
    assert.are.same(left_out(0, 2), r.left_out)   -- ann-old, old-1
    assert.are.same({ role = "jo-daily", contact = "jo", label = "Editor, Daily",
                      contact_label = "Jo Freelance",
                      channels = { email = "jo@daily.example" },
                      tags = { "press", "tech" } }, r.roles[3])
    assert.are.same({ role = "ann-x", contact = "ann", label = "Ann at X",
                      contact_label = "Ann Insider",
                      channels = { email = "ann@x.example" },
                      tags = { "press" } }, r.roles[1])
    assert.is_nil(r.next)
  end)

  it("leaves out roles and contacts of hidden tenants, and only counts them",
     function()
    -- bob cannot see bolt: ann (a bolt contact) and jo-blog (a bolt role of
    -- a common contact) are counted, never shown
    local r = db:resolve_list("acme-press", "bob")
    assert.are.same({ "jo-daily", "max-parl" }, keys(r))
    assert.are.equal(2, r.total)
    -- ann-old is inactive too, but hidden comes first: nothing is told
    assert.are.same(left_out(3, 1), r.left_out)
    local text = json.encode(r)
    for _, secret in ipairs({ "ann-", "Ann", "blog", "bolt" }) do
      assert.is_nil(text:find(secret, 1, true), secret)
    end
  end)

  it("lets read access address common and tenant-owned roles", function()
    -- alice only reads bolt: enough to address bolt's contacts and roles
    assert.are.same({ "ann-x", "jo-blog" },
                    keys(db:resolve_list("bolt-vip", "alice")))
    db:set_access("alice", "bolt", "hidden")
    local r = db:resolve_list("acme-press", "alice")
    assert.are.same({ "jo-daily", "max-parl" }, keys(r))
    assert.are.same(left_out(3, 1), r.left_out)
  end)

  it("unites explicit members with tag members, minus exclusions", function()
    local r = db:resolve_list("acme-politics", "alice")
    assert.are.same({ "jo-daily", "max-comm", "max-const", "max-parl" }, keys(r))
    db:exclude_from_list("acme-politics", "max-comm")     -- a tag member
    db:exclude_from_list("acme-politics", "jo-daily")     -- an explicit one
    assert.are.same({ "max-const", "max-parl" },
                    keys(db:resolve_list("acme-politics", "alice")))
    db:clear_exclusion("acme-politics", "max-comm")
    assert.are.same({ "max-comm", "max-const", "max-parl" },
                    keys(db:resolve_list("acme-politics", "alice")))
    -- an explicit member stays when its tags no longer match
    db:add_to_list("acme-politics", "max-parl")
    db:put_role("max-parl", { tags = {} })
    db:put_role("max-comm", { tags = {} })
    assert.are.same({ "max-const", "max-parl" },
                    keys(db:resolve_list("acme-politics", "alice")))
    -- and a list without tags has its explicit members only
    db:put_list("acme-politics", { tags = {} })
    assert.are.same({ "max-parl" },
                    keys(db:resolve_list("acme-politics", "alice")))
  end)

  it("counts inactive roles and takes them back when active", function()
    db:put_role("max-parl", { active = false })
    local r = db:resolve_list("acme-press", "alice")
    assert.are.same({ "ann-x", "jo-blog", "jo-daily" }, keys(r))
    assert.are.same(left_out(0, 3), r.left_out)
    db:put_role("max-parl", { active = true })
    db:put_role("old-1", { active = true })
    assert.are.same({ "ann-x", "jo-blog", "jo-daily", "max-parl", "old-1" },
                    keys(db:resolve_list("acme-press", "alice")))
  end)

  it("de-duplicates by contact: the first addressable role per person",
     function()
    local r = db:resolve_list("acme-press", "alice", { dedupe = "contact" })
    assert.are.same({ "ann-x", "jo-blog", "max-parl" }, keys(r))
    assert.are.equal(3, r.total)
    assert.are.same(left_out(0, 2, 0, 1), r.left_out)
    -- for bob jo-blog is hidden: jo's first role he can address is jo-daily
    r = db:resolve_list("acme-press", "bob", { dedupe = "contact" })
    assert.are.same({ "jo-daily", "max-parl" }, keys(r))
    assert.are.same(left_out(3, 1, 0, 0), r.left_out)
  end)

  it("de-duplicates by a channel: one per address, none without it", function()
    local r = db:resolve_list("acme-politics", "alice", { dedupe = "email" })
    assert.are.same({ "jo-daily", "max-comm", "max-parl" }, keys(r))
    assert.are.same(left_out(0, 0, 0, 1), r.left_out)
    r = db:resolve_list("acme-politics", "alice", { dedupe = "postal" })
    assert.are.same({ "max-const" }, keys(r))
    assert.are.same(left_out(0, 0, 3, 0), r.left_out)
    assert.are.equal("Main St 1\n12345 Town", r.roles[1].channels.postal)
    -- the first address in the order wins; an inactive one does not count
    db:put_role("max-comm", { active = false })
    r = db:resolve_list("acme-politics", "alice", { dedupe = "email" })
    assert.are.same({ "jo-daily", "max-const", "max-parl" }, keys(r))
    assert.are.same(left_out(0, 1, 0, 0), r.left_out)
  end)

  it("pages with limit and after; counts describe the whole list", function()
    local seen = {}
    local after, pages = nil, 0
    repeat
      local r = db:resolve_list("acme-politics", "alice",
                                { limit = 2, after = after, dedupe = "email" })
      assert.are.equal(3, r.total)
      assert.are.same(left_out(0, 0, 0, 1), r.left_out)
      for _, role in ipairs(r.roles) do seen[#seen + 1] = role.role end
      after, pages = r.next, pages + 1
      if after then assert.are.equal(r.roles[#r.roles].role, after) end
    until not after
    assert.are.equal(2, pages)
    -- de-duplication is the same on every page: max-const never comes back
    assert.are.same({ "jo-daily", "max-comm", "max-parl" }, seen)
    local r = db:resolve_list("acme-politics", "alice", { limit = 3 })
    assert.are.equal(4, r.total)
    assert.are.equal("max-const", r.next)
    r = db:resolve_list("acme-politics", "alice", { limit = 4 })
    assert.is_nil(r.next)
  end)

  it("pages after a role that has left the list, in the stable order",
     function()
    local r = db:resolve_list("acme-press", "alice", { limit = 2 })
    assert.are.same({ "ann-x", "jo-blog" }, keys(r))
    db:exclude_from_list("acme-press", "jo-blog")
    r = db:resolve_list("acme-press", "alice", { after = "jo-blog" })
    assert.are.same({ "jo-daily", "max-parl" }, keys(r))
    -- any role places a page, also one that was never on the list
    assert.are.same({ "max-parl" },
                    keys(db:resolve_list("acme-press", "alice",
                                         { after = "max-const" })))
    assert.are.same({ "ann-x", "jo-daily", "max-parl" },
                    keys(db:resolve_list("acme-press", "alice",
                                         { after = "ann-old" })))
    assert.are.same({}, keys(db:resolve_list("acme-press", "alice",
                                             { after = "old-1" })))
  end)

  it("sees every change to contacts, roles, lists and access", function()
    assert.are.same({ "ann-x", "jo-blog" },
                    keys(db:resolve_list("bolt-vip", "alice")))
    db:put_contact("ann", { label = "Ann I." })
    assert.are.equal("Ann I.",
                     db:resolve_list("bolt-vip", "alice").roles[1].contact_label)
    db:put_role("ann-x", { channels = { email = "new@x.example" } })
    assert.are.same({ email = "new@x.example" },
                    db:resolve_list("bolt-vip", "alice").roles[1].channels)
    db:add_to_list("bolt-vip", "max-parl")
    assert.are.same({ "ann-x", "jo-blog", "max-parl" },
                    keys(db:resolve_list("bolt-vip", "alice")))
    db:put_contact("max", { tenant = "acme" })
    db:set_access("alice", "acme", "hidden")
    local r = db:resolve_list("bolt-vip", "alice")
    assert.are.same({ "ann-x", "jo-blog" }, keys(r))
    assert.are.equal(1, r.left_out.tenant_hidden)
    db:put_list("bolt-vip", { tenant = "acme" })
    assert.are.same({ nil, "tenant_hidden" },
                    { db:resolve_list("bolt-vip", "alice") })
    db:put_user("alice", { active = false })
    assert.are.same({ nil, "inactive_user" },
                    { db:resolve_list("bolt-vip", "alice") })
  end)

  it("returns results the caller may keep while the store changes", function()
    local r = db:resolve_list("bolt-vip", "alice")
    db:put_role("ann-x", { label = "changed" })
    assert.are.equal("Ann at X", r.roles[1].label)
    table.remove(r.roles, 1)                      -- the array is the caller's
    assert.are.same({ "ann-x", "jo-blog" },
                    keys(db:resolve_list("bolt-vip", "alice")))
  end)
end)

describe("lists(user [, tenant])", function()
  local db
  before_each(function() db = world() end)

  it("shows the lists of the tenants a user can see, with member counts",
     function()
    assert.are.same({
      { key = "acme-politics", tenant = "acme", tags = { "politics" },
        access = "full", members = 4,
        left_out = { tenant_hidden = 0, inactive = 0 } },
      { key = "acme-press", label = "ACME press", tenant = "acme",
        tags = { "press" }, access = "full", members = 4,
        left_out = { tenant_hidden = 0, inactive = 2 } },
      { key = "bolt-vip", tenant = "bolt", tags = {}, access = "read",
        members = 2, left_out = { tenant_hidden = 0, inactive = 0 } },
    }, db:lists("alice"))
    local bob = db:lists("bob")
    assert.are.equal(2, #bob)
    assert.are.same({ "acme-politics", "read", 4, 0 },
                    { bob[1].key, bob[1].access, bob[1].members,
                      bob[1].left_out.tenant_hidden })
    assert.are.same({ "acme-press", 2, 3, 1 },
                    { bob[2].key, bob[2].members, bob[2].left_out.tenant_hidden,
                      bob[2].left_out.inactive })
    assert.are.equal(db:resolve_list("acme-press", "bob").total,
                     bob[2].members)
    assert.are.same({}, db:lists("dave"))
  end)

  it("shows one tenant's lists, with the reasons of resolve_list", function()
    local l = db:lists("alice", "bolt")
    assert.are.equal(1, #l)
    assert.are.equal("bolt-vip", l[1].key)
    assert.are.same({ nil, "tenant_hidden" }, { db:lists("bob", "bolt") })
    assert.are.same({ nil, "unknown_tenant" }, { db:lists("bob", "nope") })
    assert.are.same({ nil, "unknown_user" }, { db:lists("zoe") })
    assert.are.same({ nil, "inactive_user" }, { db:lists("carol") })
  end)
end)

describe("reverse queries", function()
  local db
  before_each(function() db = world() end)

  it("lists_of_role: every list with the role, explicitly, by tag or excluded",
     function()
    db:exclude_from_list("acme-press", "jo-blog")
    assert.are.same({
      { key = "acme-press", label = "ACME press", tenant = "acme",
        explicit = false, excluded = true, tags = { "press" },
        member = false },
      { key = "bolt-vip", tenant = "bolt", explicit = true, excluded = false,
        tags = {}, member = true },
    }, db:lists_of_role("jo-blog"))
    assert.are.same({
      { key = "acme-politics", tenant = "acme", explicit = true,
        excluded = false, tags = {}, member = true },
      { key = "acme-press", label = "ACME press", tenant = "acme",
        explicit = false, excluded = false, tags = { "press" }, member = true },
    }, db:lists_of_role("jo-daily"))
    assert.are.same({}, db:lists_of_role("jo-home"))
    assert.is_nil(db:lists_of_role("nobody"))
  end)

  it("lists_for: the lists through which a user could address a role",
     function()
    assert.are.same({
      { key = "acme-press", label = "ACME press", tenant = "acme",
        access = "full", explicit = false, tags = { "press" } },
      { key = "bolt-vip", tenant = "bolt", access = "read", explicit = true,
        tags = {} },
    }, db:lists_for("alice", "jo-blog"))
    db:add_to_list("bolt-vip", "jo-daily")
    -- bob cannot see bolt's list, nor a bolt role
    assert.are.same({ "acme-politics", "acme-press" }, (function()
      local t = {}
      for i, l in ipairs(db:lists_for("bob", "jo-daily")) do t[i] = l.key end
      return t
    end)())
    assert.are.same({ nil, "tenant_hidden" }, { db:lists_for("bob", "jo-blog") })
    assert.are.same({ nil, "tenant_hidden" }, { db:lists_for("bob", "ann-x") })
    db:exclude_from_list("acme-press", "jo-daily")
    assert.are.same({ "acme-politics" }, { db:lists_for("bob", "jo-daily")[1].key })
    assert.are.same({}, db:lists_for("alice", "old-1"))      -- inactive
    assert.are.same({}, db:lists_for("alice", "jo-home"))
    assert.are.same({ nil, "unknown_user" }, { db:lists_for("zoe", "jo-home") })
    assert.are.same({ nil, "inactive_user" },
                    { db:lists_for("carol", "jo-home") })
    assert.are.same({ nil, "unknown_role" }, { db:lists_for("alice", "nope") })
  end)
end)

describe("deleting", function()
  local db
  before_each(function() db = world() end)

  it("a contact refuses while it has roles, unless cascading", function()
    rejects(db, "delete_contact: key: contact 'jo' still has 3 roles "
                .. "('jo-blog', 'jo-daily', 'jo-home') (delete them first, or "
                .. "pass {cascade = true} to delete them with their list "
                .. "entries)",
            function() db:delete_contact("jo") end)
    assert.is_true(db:delete_contact("jo", { cascade = true }))
    assert.is_nil(db:get_contact("jo"))
    assert.is_nil(db:get_role("jo-daily"))
    assert.are.same({ members = { "ann-x" }, excluded = {} },
                    db:list_entries("bolt-vip"))
    assert.are.same({}, db:list_entries("acme-politics").members)
    db:put_contact("kim")
    assert.is_true(db:delete_contact("kim"))
  end)

  it("a role refuses while it is a list entry, unless cascading", function()
    rejects(db, "delete_role: key: role 'jo-blog' is still an entry of 1 list "
                .. "('bolt-vip') (remove_from_list or clear_exclusion first, "
                .. "or pass {cascade = true} to remove those entries)",
            function() db:delete_role("jo-blog") end)
    db:exclude_from_list("acme-press", "jo-blog")
    assert.is_true(db:delete_role("jo-blog", { cascade = true }))
    assert.are.same({ "ann-x" }, db:list_entries("bolt-vip").members)
    assert.are.same({}, db:list_entries("acme-press").excluded)
    -- a list that reaches a role by a tag does not hold it
    assert.is_true(db:delete_role("max-parl"))
    assert.are.same({ "ann-x", "jo-daily" },
                    keys(db:resolve_list("acme-press", "alice")))
  end)

  it("a list goes with its tags and entries", function()
    assert.is_true(db:delete_list("bolt-vip"))
    assert.is_nil(db:get_list("bolt-vip"))
    assert.are.same({ "acme-press" }, { db:lists_of_role("jo-blog")[1].key,
                                        db:lists_of_role("jo-blog")[2] })
    assert.are.same({ nil, "unknown_list" },
                    { db:resolve_list("bolt-vip", "alice") })
    assert.is_true(db:delete_list("acme-press", { cascade = true }))
  end)

  it("a tenant refuses while it owns contacts, roles or lists", function()
    db:clear_access("alice", "bolt")
    rejects(db, "delete_tenant: key: tenant 'bolt' still owns 1 contact "
                .. "('ann'), 1 role ('jo-blog'), 1 list ('bolt-vip') (delete "
                .. "or move them first, or pass {cascade = true} to delete "
                .. "them)",
            function() db:delete_tenant("bolt") end)
  end)

  it("a tenant with cascade takes what it owns, never making it common",
     function()
    db:add_to_list("acme-press", "ann-x")
    assert.is_true(db:delete_tenant("bolt", { cascade = true }))
    assert.is_nil(db:get_tenant("bolt"))
    assert.is_nil(db:get_contact("ann"))
    assert.is_nil(db:get_role("ann-x"))
    assert.is_nil(db:get_role("jo-blog"))
    assert.is_nil(db:get_list("bolt-vip"))
    assert.are.same({ key = "jo", label = "Jo Freelance" }, db:get_contact("jo"))
    assert.are.same({}, db:list_entries("acme-press").members)
    assert.are.same({ "jo-daily", "max-parl" },
                    keys(db:resolve_list("acme-press", "alice")))
    assert.is_nil(prim.row(db, "PRAGMA foreign_key_check"))
  end)
end)

describe("bad input", function()
  local db
  before_each(function() db = world() end)

  it("of the writers' keys and options", function()
    rejects(db, "put_contact: key: expected a string key, got 5",
            function() db:put_contact(5) end)
    rejects(db, "put_contact: options.tenant: expected a tenant key, or false "
                .. "for common data, got true",
            function() db:put_contact("x", { tenant = true }) end)
    rejects(db, "put_contact: options.tenant: 'nope' is not a tenant "
                .. "(db:tenants() lists them)",
            function() db:put_contact("x", { tenant = "nope" }) end)
    rejects(db, "put_contact: options.owner: unknown option (allowed: label, "
                .. "tenant)",
            function() db:put_contact("x", { owner = "acme" }) end)
    rejects(db, "put_role: options.contact: missing (a new role needs the key "
                .. "of its contact)",
            function() db:put_role("x", { label = "X" }) end)
    rejects(db, "put_role: options.contact: 'nobody' is not a contact "
                .. "(db:contacts() lists them)",
            function() db:put_role("x", { contact = "nobody" }) end)
    rejects(db, "put_role: options.contact: expected a string key, got false",
            function() db:put_role("jo-daily", { contact = false }) end)
    rejects(db, "put_role: options.active: expected true or false, got 'no'",
            function() db:put_role("jo-daily", { active = "no" }) end)
    rejects(db, "put_role: options.tenant: 'nope' is not a tenant "
                .. "(db:tenants() lists them)",
            function() db:put_role("jo-daily", { tenant = "nope" }) end)
    rejects(db, "put_role: options.email: unknown option (allowed: contact, "
                .. "label, channels, tags, active, tenant)",
            function() db:put_role("jo-daily", { email = "a@b" }) end)
    rejects(db, "put_list: options.tenant: missing (a new list needs the key "
                .. "of its owning tenant)",
            function() db:put_list("x") end)
    rejects(db, "put_list: options.tenant: expected a tenant key (a list "
                .. "belongs to exactly one tenant), got false",
            function() db:put_list("acme-press", { tenant = false }) end)
    rejects(db, "put_list: options.label: expected a string (or false to "
                .. "remove it), got 1",
            function() db:put_list("acme-press", { label = 1 }) end)
  end)

  it("of channels and tags", function()
    rejects(db, "put_role: options.channels: expected a table {channel name = "
                .. "text}, got 'a@b'",
            function() db:put_role("jo-daily", { channels = "a@b" }) end)
    rejects(db, "put_role: options.channels: expected a table {channel name = "
                .. "text}, but it has the key 1",
            function() db:put_role("jo-daily", { channels = { "a@b" } }) end)
    rejects(db, 'put_role: options.channels["email"]: expected a non-empty '
                .. "string, got 5",
            function() db:put_role("jo-daily", { channels = { email = 5 } }) end)
    rejects(db, 'put_role: options.channels["email"]: expected a non-empty '
                .. "string, got ''",
            function() db:put_role("jo-daily", { channels = { email = "" } }) end)
    rejects(db, 'put_role: options.channels["email"]: \'\255\' is not valid '
                .. "UTF-8 text",
            function() db:put_role("jo-daily",
                                   { channels = { email = "\255" } }) end)
    rejects(db, "put_role: options.channels: '' is empty (keys are 1 to 200 "
                .. "bytes of UTF-8 text without control characters)",
            function() db:put_role("jo-daily", { channels = { [""] = "x" } }) end)
    rejects(db, "put_role: options.tags: expected an array of tags, got 'press'",
            function() db:put_role("jo-daily", { tags = "press" }) end)
    rejects(db, "put_role: options.tags[2]: expected a string key, got 7",
            function() db:put_role("jo-daily", { tags = { "press", 7 } }) end)
    rejects(db, "put_role: options.tags[3]: 'press' is already options.tags[1] "
                .. "(tags are a set: give each once)",
            function() db:put_role("jo-daily",
                                   { tags = { "press", "tech", "press" } }) end)
    rejects(db, "put_list: options.tags[1]: 'a\\nb' contains a control "
                .. "character (keys are 1 to 200 bytes of UTF-8 text without "
                .. "control characters)",
            function() db:put_list("acme-press", { tags = { "a\nb" } }) end)
  end)

  it("of list entries and deletes", function()
    rejects(db, "add_to_list: list: 'nope' is not a list (db:all_lists() lists "
                .. "them)",
            function() db:add_to_list("nope", "jo-daily") end)
    rejects(db, "exclude_from_list: role: 'nope' is not a role (db:roles() "
                .. "lists them)",
            function() db:exclude_from_list("acme-press", "nope") end)
    rejects(db, "remove_from_list: role: expected a string key, got nil",
            function() db:remove_from_list("acme-press") end)
    rejects(db, "clear_exclusion: list: expected a string key, got 1",
            function() db:clear_exclusion(1, "jo-daily") end)
    rejects(db, "delete_role: options.cascade: expected true or false, got 1",
            function() db:delete_role("jo-home", { cascade = 1 }) end)
    rejects(db, "delete_list: key: 'nope' is not a list (db:all_lists() lists "
                .. "them)",
            function() db:delete_list("nope") end)
    rejects(db, "delete_contact: options.force: unknown option (allowed: "
                .. "cascade)",
            function() db:delete_contact("old", { force = true }) end)
  end)

  it("of the readers and resolve_list's options", function()
    rejects(db, "resolve_list: list: expected a string key, got nil",
            function() db:resolve_list(nil, "alice") end)
    rejects(db, "resolve_list: user: expected a string key, got 3",
            function() db:resolve_list("acme-press", 3) end)
    rejects(db, "resolve_list: options.dedupe: expected \"contact\" or a "
                .. "channel name (\"email\"), got true",
            function() db:resolve_list("acme-press", "alice",
                                       { dedupe = true }) end)
    for _, bad in ipairs { -1, 0, 1.5, "2" } do
      rejects(db, "resolve_list: options.limit: expected a page size (an "
                  .. "integer >= 1; nil for the whole list), got "
                  .. (type(bad) == "string" and "'" .. bad .. "'" or tostring(bad)),
              function() db:resolve_list("acme-press", "alice",
                                         { limit = bad }) end)
    end
    rejects(db, "resolve_list: options.after: 'nope' is not a role "
                .. "(db:roles() lists them)",
            function() db:resolve_list("acme-press", "alice",
                                       { after = "nope" }) end)
    rejects(db, "resolve_list: options.page: unknown option (allowed: dedupe, "
                .. "limit, after)",
            function() db:resolve_list("acme-press", "alice", { page = 2 }) end)
    rejects(db, "resolve_list: options: expected a table {dedupe=, limit=, "
                .. "after=} or nil, got 'email'",
            function() db:resolve_list("acme-press", "alice", "email") end)
    rejects(db, "lists: tenant: expected a string key, got false",
            function() db:lists("alice", false) end)
    rejects(db, "lists_for: role: expected a string key, got nil",
            function() db:lists_for("alice") end)
    rejects(db, "lists_of_role: role: expected a string key, got nil",
            function() db:lists_of_role() end)
    rejects(db, "get_role: key: expected a string key, got nil",
            function() db:get_role() end)
    rejects(db, "roles: contact: expected a string key, got 1",
            function() db:roles(1) end)
    rejects(db, "resolve_list: self: expected a mandate.Db, got 'acme-press' "
                .. "(call it as db:resolve_list(...))",
            function() db.resolve_list("acme-press", "alice") end)
  end)

  it("on a closed store", function()
    local closed = helpers.open()
    closed:close()
    assert.are.equal("resolve_list: the store is closed",
                     helpers.error_of(function()
                       closed:resolve_list("x", "y")
                     end))
    assert.are.equal("put_role: the store is closed",
                     helpers.error_of(function() closed:put_role("x") end))
  end)
end)

-- The audit rows since revision r, without id and time.
local function rows_since(db, r)
  local list = db:audit{ since = r }
  for _, row in ipairs(list) do row.id, row.time = nil, nil end
  return list
end

describe("audit", function()
  local db, r
  before_each(function()
    db = world()
    db:set_actor("admin")
    r = db:revision()
  end)

  it("writes one row per change, filed under contact:, role: and list:",
     function()
    db:put_contact("kim", { label = "Kim" })
    db:put_role("kim-1", { contact = "kim", tags = { "b", "a" },
                           channels = { email = "kim@x" } })
    db:put_list("l", { tenant = "acme" })
    db:add_to_list("l", "kim-1")
    db:exclude_from_list("l", "kim-1")
    db:clear_exclusion("l", "kim-1")
    local role = { key = "kim-1", contact = "kim", tags = { "a", "b" },
                   channels = { email = "kim@x" }, active = true }
    assert.are.same({
      { revision = r + 1, actor = "admin", op = "put_contact",
        subject = "contact:kim", after = { key = "kim", label = "Kim" } },
      { revision = r + 2, actor = "admin", op = "put_role",
        subject = "role:kim-1", after = role },
      { revision = r + 3, actor = "admin", op = "put_list", subject = "list:l",
        after = { key = "l", tenant = "acme", tags = {} } },
      { revision = r + 4, actor = "admin", op = "add_to_list",
        subject = "list:l", after = { role = "kim-1", member = true } },
      { revision = r + 5, actor = "admin", op = "exclude_from_list",
        subject = "list:l", before = { role = "kim-1", member = true },
        after = { role = "kim-1", excluded = true } },
      { revision = r + 6, actor = "admin", op = "clear_exclusion",
        subject = "list:l", before = { role = "kim-1", excluded = true } },
    }, rows_since(db, r))
  end)

  it("keeps everything a cascade deleted, in one revision", function()
    db:delete_contact("jo", { cascade = true })
    local rows = rows_since(db, r)
    local subjects = {}
    for i, row in ipairs(rows) do
      assert.are.equal(r + 1, row.revision)
      assert.are.equal("delete_contact", row.op)
      assert.is_nil(row.after)
      subjects[i] = row.subject
    end
    assert.are.same({ "list:bolt-vip", "role:jo-blog", "list:acme-politics",
                      "role:jo-daily", "role:jo-home", "contact:jo" }, subjects)
    assert.are.same({ role = "jo-blog", member = true }, rows[1].before)
    assert.are.same({ key = "jo-blog", contact = "jo", tenant = "bolt",
                      channels = { email = "jo@blog.example" },
                      tags = { "press" }, active = true }, rows[2].before)
    db:delete_list("bolt-vip")
    assert.are.same({ key = "bolt-vip", tenant = "bolt", tags = {},
                      members = { "ann-x" }, excluded = {} },
                    db:audit{ since = r + 1 }[1].before)
  end)
end)

describe("transactions", function()
  local db
  before_each(function() db = world() end)

  it("roll back every contacts write, and resolution follows", function()
    local before = dump(db)
    local r = db:resolve_list("acme-press", "alice")
    local ok = pcall(db.transaction, db, function()
      db:put_role("jo-daily", { active = false })
      db:exclude_from_list("acme-press", "max-parl")
      db:put_contact("kim")
      db:put_role("kim-1", { contact = "kim", tags = { "press" } })
      db:delete_tenant("bolt", { cascade = true })
      -- inside, the uncommitted state is resolved
      assert.are.same({ "kim-1" },
                      keys(db:resolve_list("acme-press", "alice")))
      error("no")
    end)
    assert.is_false(ok)
    assert.are.same(before, dump(db))
    assert.are.same(r, db:resolve_list("acme-press", "alice"))
  end)

  it("commit a change set as one revision", function()
    local rev = db:revision()
    db:transaction(function()
      db:put_contact("kim")
      db:put_role("kim-1", { contact = "kim", tags = { "press" } })
      db:add_to_list("bolt-vip", "kim-1")
    end)
    assert.are.equal(rev + 1, db:revision())
    assert.are.same({ "ann-x", "jo-blog", "kim-1" },
                    keys(db:resolve_list("bolt-vip", "alice")))
  end)

  it("undo only a failed inner transaction", function()
    db:transaction(function()
      db:put_contact("kim")
      local ok = pcall(db.transaction, db, function()
        db:put_role("kim-1", { contact = "kim", tags = { "press" } })
        assert.are.equal(5, db:resolve_list("acme-press", "alice").total)
        error("inner")
      end)
      assert.is_false(ok)
      assert.are.equal(4, db:resolve_list("acme-press", "alice").total)
    end)
    assert.is_nil(db:get_role("kim-1"))
    assert.are.same({ key = "kim" }, db:get_contact("kim"))
    assert.are.equal(4, db:resolve_list("acme-press", "alice").total)
  end)

  it("roll back a writer that rejects its input inside one", function()
    local before = dump(db)
    local ok, err = pcall(db.transaction, db, function()
      db:put_contact("kim")
      db:put_role("kim-1", { contact = "nobody" })
    end)
    assert.is_false(ok)
    assert.truthy(err:find("put_role: options.contact: 'nobody' is not a "
                           .. "contact", 1, true), err)
    assert.are.same(before, dump(db))
  end)
end)

describe("the store", function()
  it("upgrades a store made before contacts (schema version 1)", function()
    local path = helpers.tmpname()
    local db = assert(mandate.open(path))
    helpers.world(db)
    prim.exec(db, "DROP TABLE list_entries")
    prim.exec(db, "DROP TABLE list_tags")
    prim.exec(db, "DROP TABLE lists")
    prim.exec(db, "DROP TABLE role_tags")
    prim.exec(db, "DROP TABLE role_channels")
    prim.exec(db, "DROP TABLE roles")
    prim.exec(db, "DROP TABLE contacts")
    prim.exec(db, "DELETE FROM meta WHERE key = 'revision.contacts'")
    helpers.audit_as_schema_3(db)
    prim.exec(db, "PRAGMA user_version = 1")
    db:close()
    db = assert(mandate.open(path))
    assert.is_true(prim.row(db, "PRAGMA user_version").user_version >= 2)
    assert.are.equal("hh-sales-a", db:get_user("alice").unit)
    db:put_contact("kim")
    db:put_role("kim-1", { contact = "kim", tags = { "t" } })
    db:put_list("l", { tenant = "team-a", tags = { "t" } })
    assert.are.same({ "kim-1" }, keys(db:resolve_list("l", "alice")))
    db:close()
    helpers.remove_store(path)
  end)

  it("keeps contacts consistent with foreign keys", function()
    local db = world()
    local ok = pcall(prim.exec, db, "DELETE FROM contacts WHERE key = 'jo'")
    assert.is_false(ok)
    ok = pcall(prim.exec, db, "INSERT INTO list_entries(list_id, role_id,"
                             .. " excluded) VALUES (999, 999, 0)")
    assert.is_false(ok)
  end)

  it("shows another handle's commits to resolve_list at once", function()
    local path = helpers.tmpname()
    local a = assert(mandate.open(path))
    local b = assert(mandate.open(path))
    world(a)
    assert.are.same({ "ann-x", "jo-blog" },
                    keys(b:resolve_list("bolt-vip", "alice")))
    a:add_to_list("bolt-vip", "max-parl")
    a:put_role("ann-x", { label = "Ann" })
    local r = b:resolve_list("bolt-vip", "alice")
    assert.are.same({ "ann-x", "jo-blog", "max-parl" }, keys(r))
    assert.are.equal("Ann", r.roles[1].label)
    a:close()
    b:close()
    helpers.remove_store(path)
  end)

  it("answers for a user another handle made since the last refresh as "
     .. "check does", function()
    local path = helpers.tmpname()
    local a = assert(mandate.open(path))
    local b = assert(mandate.open(path))
    world(a)
    b:set_refresh_interval(60)
    assert.is_true(b:check("alice", "documents.see"))   -- b's snapshot
    assert.are.same({ "ann-x", "jo-blog" },
                    keys(b:resolve_list("bolt-vip", "alice")))
    a:put_user("newbie")
    a:set_access("newbie", "acme", "full")
    -- b's snapshot does not hold newbie yet: unknown, as for db:check
    assert.are.same({ false, "unknown_user" },
                    { b:check("newbie", "documents.see") })
    assert.are.same({ nil, "unknown_user" },
                    { b:resolve_list("acme-press", "newbie") })
    assert.are.same({ nil, "unknown_user" }, { b:lists("newbie") })
    assert.are.same({ nil, "unknown_user" },
                    { b:lists_for("newbie", "jo-daily") })
    -- after the refresh, newbie is known everywhere at once
    assert(b:refresh())
    assert.are.same({ "jo-daily", "max-parl" },
                    keys(b:resolve_list("acme-press", "newbie")))
    assert.are.same({ "acme-politics", "acme-press" }, (function()
      local t = {}
      for i, l in ipairs(assert(b:lists("newbie"))) do t[i] = l.key end
      return t
    end)())
    assert.are.equal(2, #assert(b:lists_for("newbie", "jo-daily")))
    a:close()
    b:close()
    helpers.remove_store(path)
  end)
end)

describe("the gate of a list and of a check", function()
  -- one handle, one answer: resolve_list asks the engine's user and
  -- tenant steps, on the same snapshot as db:check (issue 25, item 1)
  it("agree on one handle while another handle deactivates the user", function()
    local path = helpers.tmpname()
    local a = assert(mandate.open(path))
    a:set_refresh_interval(60)
    a:put_tenant("t", { default = "read" })
    a:put_right("r", { kind = "flag", mode = "read" })
    a:put_user("alice", {})
    a:set_override("alice", "r", true)
    a:put_contact("kim")
    a:put_role("kim-1", { contact = "kim", channels = { email = "kim@example.com" } })
    a:put_list("l", { tenant = "t" })
    a:add_to_list("l", "kim-1")
    assert.is_true(a:check("alice", "r", { tenant = "t" }))
    assert.equal(1, #a:resolve_list("l", "alice").roles)
    local b = assert(mandate.open(path))
    assert.truthy(b:put_user("alice", { active = false }))
    -- a has not polled yet: both answer from its snapshot
    assert.is_true(a:check("alice", "r", { tenant = "t" }))
    assert.equal(1, #a:resolve_list("l", "alice").roles)
    assert.is_true(a:refresh())
    assert.same({ false, "inactive_user" }, { a:check("alice", "r", { tenant = "t" }) })
    assert.same({ nil, "inactive_user" }, { a:resolve_list("l", "alice") })
    a:close()
    b:close()
    helpers.remove_store(path)
  end)
end)
