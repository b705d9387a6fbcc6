--- The benchmarks' worlds: a seeded, deterministic generator of realistic
-- rights models at three sizes, the same world as a plain Lua table (the
-- shape `spec/reference.lua` reads) and as a store written through the
-- public API (cached under build/bench/), and a realistic query mix.
--
-- The world looks like a CRM of a company with country subsidiaries:
-- countries > branches > departments > teams, a few departments hanging
-- directly under a country (a level skipped) and one branch that is a root
-- of its own; users mostly in teams, managers higher up, a few without a
-- unit; tenants that belong to a branch's region; a catalog of 100 rights
-- (20 areas x view/edit/delete scopes + an export flag, and 20 global
-- flags); 20 bundles named after functions; about 10% of the users with
-- overrides and 20% account managers.
--
-- Everything here is plain Lua 5.1 - 5.4 and draws from its own Park-Miller
-- generator, so a seed gives the same world on every Lua and machine.
--
-- @module world

local prim = require "primitives"   -- the test-only path to raw SQL
local reference = require "reference"

local M = {}

--- Bump when the generated world changes: cached stores carry it in their
-- file name, so an old one is never reused.
M.VERSION = 1

--- The default seed.
M.SEED = 20240601

--- The sizes.  Unit counts follow from the fan-outs (countries x branches x
-- departments x teams, each jittered symmetrically around the mean).
M.SIZES = {
  S = { users = 1000, tenants = 50, countries = 2, branches = 2,
        departments = 3, teams = 9, customers = 600 },
  M = { users = 10000, tenants = 200, countries = 5, branches = 4,
        departments = 5, teams = 9, customers = 5000 },
  L = { users = 100000, tenants = 1000, countries = 10, branches = 9,
        departments = 10, teams = 10, customers = 50000 },
}

local floor = math.floor
local fmt = string.format

-- Random numbers {{{

--- A Park-Miller "minimal standard" generator.  Exact in doubles and in
-- 64-bit integers, hence identical on every Lua.
-- @tparam number seed any integer
-- @treturn table `{int = f(n) -> 1..n, float = f() -> [0,1), pick = f(t),
-- chance = f(p) -> boolean, range = f(a, b) -> a..b}`
function M.rng(seed)
  local x = seed % 2147483646 + 1
  local r = {}
  local function float()
    x = (x * 16807) % 2147483647
    return (x - 1) / 2147483646
  end
  r.float = float
  function r.int(n) return floor(float() * n) + 1 end
  function r.range(a, b) return a + floor(float() * (b - a + 1)) end
  function r.pick(t) return t[floor(float() * #t) + 1] end
  function r.chance(p) return float() < p end
  -- a count around mean, from mean - spread to mean + spread
  function r.around(mean, spread)
    return mean - spread + floor(float() * (2 * spread + 1))
  end
  for _ = 1, 5 do float() end          -- move away from small seeds
  return r
end
-- }}}

-- The catalog {{{

M.LEVELS = { "country", "branch", "department", "team" }

-- 20 areas; the first ten know customers (their records have one)
local AREAS = {
  "customers", "contacts", "companies", "documents", "appointments",
  "projects", "offers", "orders", "invoices", "tickets",
  "campaigns", "lists", "media", "tasks", "mails",
  "notes", "files", "reports", "products", "events",
}
local CUSTOMER_AREAS = 10

local GLOBAL_FLAGS = {
  "admin.open", "admin.users", "admin.rights", "admin.tenants",
  "admin.audit", "reports.general", "reports.finance", "reports.sales",
  "export.all", "import.csv", "lists.send", "lists.approve",
  "mails.bulk", "calendar.share", "documents.sign", "invoices.approve",
  "offers.approve", "campaigns.launch", "media.publish", "api.tokens",
}

-- name, reach (the level rank it typically sees: own = 1, team = 2,
-- department = 3, branch = 4, country = 5, all = 6), areas it works in,
-- whether it gets "+customer", global flags it holds
local BUNDLES = {
  { "trainee",         1, 4,  false, {} },
  { "inside-sales",    2, 8,  true,  { "lists.send" } },
  { "field-sales",     1, 8,  true,  { "calendar.share" } },
  { "key-account",     1, 9,  true,  { "offers.approve", "reports.sales" } },
  { "sales-lead",      3, 10, true,  { "offers.approve", "reports.sales",
                                       "export.all" } },
  { "marketing",       2, 8,  false, { "lists.send", "mails.bulk" } },
  { "marketing-lead",  4, 10, false, { "lists.approve", "campaigns.launch",
                                       "mails.bulk" } },
  { "pr-editor",       2, 7,  false, { "media.publish", "lists.send" } },
  { "pr-lead",         3, 9,  true,  { "media.publish", "lists.approve" } },
  { "backoffice",      3, 9,  false, { "import.csv" } },
  { "accounting",      4, 6,  true,  { "invoices.approve",
                                       "reports.finance" } },
  { "controlling",     5, 8,  false, { "reports.finance", "reports.general",
                                       "export.all" } },
  { "support",         2, 6,  true,  { "calendar.share" } },
  { "support-lead",    3, 8,  true,  { "reports.general" } },
  { "project-staff",   2, 7,  false, { "calendar.share" } },
  { "project-lead",    3, 9,  false, { "documents.sign" } },
  { "department-head", 3, 14, true,  { "reports.general", "documents.sign",
                                       "lists.approve" } },
  { "branch-manager",  4, 16, true,  { "reports.general", "reports.sales",
                                       "documents.sign", "admin.open" } },
  { "country-manager", 5, 18, true,  { "reports.general", "reports.finance",
                                       "export.all", "admin.open",
                                       "admin.audit" } },
  { "it-admin",        6, 5,  false, { "admin.open", "admin.users",
                                       "admin.rights", "admin.tenants",
                                       "admin.audit", "api.tokens",
                                       "import.csv" } },
}
local STAFF_BUNDLES = 16     -- the first 16 are functions of team members

-- a scope value by rank (clamped to none..all), written as the reference
-- writes it
local function scope(rank, customer)
  local all = #M.LEVELS + 2
  if rank < 0 then rank = 0 end
  if rank > all then rank = all end
  return reference.format({ levels = M.LEVELS }, rank, customer)
end

-- rights in a fixed order: {key, kind, mode, customer, area}
local function catalog()
  local rights = {}
  for i, area in ipairs(AREAS) do
    local c = i <= CUSTOMER_AREAS
    rights[#rights + 1] = { area .. ".view", "scope", "read", c, area }
    rights[#rights + 1] = { area .. ".edit", "scope", "write", c, area }
    rights[#rights + 1] = { area .. ".delete", "scope", "write", c, area }
    rights[#rights + 1] = { area .. ".export", "flag", "read", false, area }
  end
  for _, key in ipairs(GLOBAL_FLAGS) do
    rights[#rights + 1] = { key, "flag", "write", false,
                            key:match("^[^.]+") }
  end
  return rights
end
-- }}}

-- Generating a world {{{

-- the org tree: units in creation order (parents first)
local function gen_units(w, p, rnd)
  local units, order = w.units, w.order.units
  local byLevel = { country = {}, branch = {}, department = {}, team = {} }
  local function add(key, level, parent)
    units[key] = { level = level, parent = parent }
    order[#order + 1] = key
    local l = byLevel[level]
    l[#l + 1] = key
  end
  local function departments(country, branch, bkey)
    for d = 1, rnd.around(p.departments, 1) do
      local dkey = fmt("%s-d%02d", bkey, d)
      -- now and then a department reports to the country directly
      local parent = branch
      if country and rnd.chance(0.05) then parent = country end
      add(dkey, "department", parent)
      for t = 1, rnd.around(p.teams, floor(p.teams / 3)) do
        add(fmt("%s-t%02d", dkey, t), "team", dkey)
      end
    end
  end
  for c = 1, p.countries do
    local ckey = fmt("c%02d", c)
    add(ckey, "country", nil)
    for b = 1, rnd.around(p.branches, 1) do
      local bkey = fmt("%s-b%02d", ckey, b)
      add(bkey, "branch", ckey)
      departments(ckey, bkey, bkey)
    end
  end
  -- a branch that is a root of its own (a subsidiary without a country)
  add("x-b01", "branch", nil)
  departments(nil, "x-b01", "x-b01")
  return byLevel
end

-- the branch (or, failing that, the topmost unit) above a unit
local function region_of(w, unit)
  local top = unit
  while unit do
    if w.units[unit].level == "branch" then return unit end
    top = unit
    unit = w.units[unit].parent
  end
  return top
end

local function gen_tenants(w, p, rnd, regions)
  -- every tenant belongs to a region (a branch), round robin
  local byRegion = {}
  for i = 1, p.tenants do
    local key = fmt("t%04d", i)
    local r = rnd.float()
    local default                      -- nil: hidden
    if r < 0.05 then default = "full" elseif r < 0.20 then default = "read" end
    w.tenants[key] = { default = default }
    w.order.tenants[i] = key
    local region = regions[(i - 1) % #regions + 1]
    byRegion[region] = byRegion[region] or {}
    local list = byRegion[region]
    list[#list + 1] = key
  end
  return byRegion
end

local function gen_bundles(w, rnd, rights)
  local byArea = {}
  for _, r in ipairs(rights) do
    byArea[r[5]] = byArea[r[5]] or {}
    local list = byArea[r[5]]
    list[#list + 1] = r
  end
  for _, b in ipairs(BUNDLES) do
    local key, reach, nareas, cust, flags = b[1], b[2], b[3], b[4], b[5]
    local values = {}
    -- the areas this function works in: a random subset
    local pool = {}
    for i = 1, #AREAS do pool[i] = AREAS[i] end
    for i = 1, nareas do
      local j = rnd.range(i, #pool)
      pool[i], pool[j] = pool[j], pool[i]
      local area = pool[i]
      for _, r in ipairs(byArea[area]) do
        local rkey, kind = r[1], r[2]
        local c = cust and r[4] and rnd.chance(0.6)
        if kind == "flag" then
          values[rkey] = rnd.chance(0.5)
        elseif rkey:match("%.view$") then
          values[rkey] = scope(reach + rnd.range(0, 1), c)
        elseif rkey:match("%.edit$") then
          values[rkey] = scope(reach - rnd.range(0, 1), c)
        else                          -- delete: less, often nothing
          values[rkey] = scope(reach - rnd.range(1, 3), c and rnd.chance(0.5))
        end
      end
    end
    for _, f in ipairs(flags) do values[f] = true end
    w.bundles[key] = values
    w.order.bundles[#w.order.bundles + 1] = key
  end
end

-- a random value for right r (an override)
local function random_value(rnd, r)
  if r.kind == "flag" then return rnd.chance(0.5) end
  return scope(rnd.range(0, 6), r.customer and rnd.chance(0.3))
end

local function gen_users(w, p, rnd, byLevel, byRegion, customers)
  local rightKeys = w.order.rights
  local ncust = #customers
  local index = w.index
  for i = 1, p.users do
    local key = fmt("u%06d", i)
    local r = rnd.float()
    local unit, level
    if r < 0.85 then level = "team"
    elseif r < 0.93 then level = "department"
    elseif r < 0.97 then level = "branch"
    elseif r < 0.99 then level = "country" end
    if level then unit = rnd.pick(byLevel[level]) end
    local u = { unit = unit, bundles = {}, overrides = {}, access = {},
                customers = {} }
    if rnd.chance(0.02) then u.active = false end
    -- bundles: the function that goes with the level, and staff functions
    local nb = 1
    if rnd.chance(0.4) then nb = rnd.chance(0.25) and 3 or 2 end
    local seen = {}
    local function give(b)
      if not seen[b] then
        seen[b] = true
        u.bundles[#u.bundles + 1] = b
      end
    end
    if level == "country" then give("country-manager")
    elseif level == "branch" then give("branch-manager")
    elseif level == "department" and rnd.chance(0.5) then
      give("department-head")
    end
    if rnd.chance(0.01) then give("it-admin") end
    while #u.bundles < nb do give(BUNDLES[rnd.int(STAFF_BUNDLES)][1]) end
    -- overrides: about 10% of the users, one to three rights
    if rnd.chance(0.10) then
      for _ = 1, rnd.range(1, 3) do
        local rk = rnd.pick(rightKeys)
        u.overrides[rk] = random_value(rnd, w.rights[rk])
      end
    end
    -- access: tenants of the own region, a few others
    local home = unit and byRegion[region_of(w, unit)]
    if level == "country" then         -- the tenants of all its branches
      home = {}
      for _, b in ipairs(index.children[unit] or {}) do
        for _, t in ipairs(byRegion[b] or {}) do home[#home + 1] = t end
      end
      if #home == 0 then home = nil end
    end
    if home then
      for _ = 1, rnd.range(1, 4) do
        u.access[rnd.pick(home)] = rnd.chance(0.8) and "full" or "read"
      end
    end
    for _ = 1, rnd.range(home and 0 or 1, 2) do
      local t = rnd.pick(w.order.tenants)
      if u.access[t] == nil then
        local a = rnd.float()
        u.access[t] = a < 0.6 and "read" or (a < 0.8 and "full" or "hidden")
      end
    end
    -- account managers: about 20%
    if rnd.chance(0.20) then
      for _ = 1, rnd.range(1, 15) do
        u.customers[customers[rnd.int(ncust)]] = true
      end
    end
    w.users[key] = u
    w.order.users[i] = key
    if unit then
      index.members[unit] = index.members[unit] or {}
      local m = index.members[unit]
      m[#m + 1] = key
    end
  end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- Generate the world of a size.
-- @tparam string size "S", "M" or "L"
-- @tparam[opt] number seed defaults to `SEED`
-- @treturn table the world in `spec/reference.lua`'s shape, plus `order`
-- (keys in creation order, for deterministic iteration), `index` (members
-- per unit, children per unit) and `size`, `seed`, `customers` (the pool
-- of customer keys records may name)
function M.generate(size, seed)
  local p = assert(M.SIZES[size], "size must be S, M or L")
  seed = seed or M.SEED
  local rnd = M.rng(seed)
  local w = {
    size = size, seed = seed, version = M.VERSION,
    levels = M.LEVELS, units = {}, tenants = {}, rights = {}, bundles = {},
    users = {},
    order = { units = {}, tenants = {}, rights = {}, bundles = {},
              users = {} },
    index = { members = {}, children = {} },
  }
  local byLevel = gen_units(w, p, rnd)
  for _, key in ipairs(w.order.units) do
    local parent = w.units[key].parent
    if parent then
      w.index.children[parent] = w.index.children[parent] or {}
      local c = w.index.children[parent]
      c[#c + 1] = key
    end
  end
  local byRegion = gen_tenants(w, p, rnd, byLevel.branch)
  for _, r in ipairs(catalog()) do
    w.rights[r[1]] = { kind = r[2], mode = r[3], customer = r[4],
                       area = r[5] }
    w.order.rights[#w.order.rights + 1] = r[1]
  end
  gen_bundles(w, rnd, catalog())
  local customers = {}
  for i = 1, p.customers do customers[i] = fmt("cust%06d", i) end
  w.customers = customers
  gen_users(w, p, rnd, byLevel, byRegion, customers)
  return w
end

--- Counts of a world, for the report and for validating a cached store.
function M.counts(w)
  local n = { units = #w.order.units, tenants = #w.order.tenants,
              rights = #w.order.rights, bundles = #w.order.bundles,
              users = #w.order.users, overrides = 0, users_overrides = 0,
              access = 0, managers = 0, managed_rows = 0, inactive = 0,
              no_unit = 0 }
  local managed = {}
  for _, key in ipairs(w.order.users) do
    local u = w.users[key]
    local k = #sorted_keys(u.overrides)
    n.overrides = n.overrides + k
    if k > 0 then n.users_overrides = n.users_overrides + 1 end
    n.access = n.access + #sorted_keys(u.access)
    local c = sorted_keys(u.customers)
    if #c > 0 then n.managers = n.managers + 1 end
    n.managed_rows = n.managed_rows + #c
    for _, ck in ipairs(c) do managed[ck] = true end
    if u.active == false then n.inactive = n.inactive + 1 end
    if u.unit == nil then n.no_unit = n.no_unit + 1 end
  end
  n.customers = #sorted_keys(managed)
  return n
end
-- }}}

-- Writing a world through the public API {{{

-- writers return a true value, or nil, message, code on runtime failures
local function ok(what, a, msg)
  if a == nil and msg ~= nil then
    error(what .. ": " .. tostring(msg), 2)
  end
  return a
end

--- Write world w into db through the public writers, in one transaction.
function M.write(db, w)
  ok("transaction", db:transaction(function()
    ok("set_levels", db:set_levels(w.levels))
    for _, key in ipairs(w.order.units) do
      local u = w.units[key]
      ok("put_unit", db:put_unit(key, { level = u.level, parent = u.parent }))
    end
    for _, key in ipairs(w.order.tenants) do
      ok("put_tenant", db:put_tenant(key, {
        label = "Tenant " .. key, default = w.tenants[key].default or "hidden",
      }))
    end
    for _, key in ipairs(w.order.rights) do
      local r = w.rights[key]
      ok("put_right", db:put_right(key, {
        kind = r.kind, mode = r.mode, customer = r.customer or nil,
        area = r.area,
      }))
    end
    for _, key in ipairs(w.order.bundles) do
      ok("put_bundle", db:put_bundle(key, { rights = w.bundles[key] }))
    end
    for _, key in ipairs(w.order.users) do
      local u = w.users[key]
      ok("put_user", db:put_user(key, {
        unit = u.unit, bundles = u.bundles, active = u.active ~= false,
      }))
      for _, r in ipairs(sorted_keys(u.overrides)) do
        ok("set_override", db:set_override(key, r, u.overrides[r]))
      end
      for _, t in ipairs(sorted_keys(u.access)) do
        ok("set_access", db:set_access(key, t, u.access[t]))
      end
      for _, c in ipairs(sorted_keys(u.customers)) do
        ok("assign_customer", db:assign_customer(key, c))
      end
    end
  end))
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- Whether the store at db holds exactly the counts of world w.
function M.matches(db, w)
  local n = M.counts(w)
  local function count(sql)
    return prim.row(db, "SELECT count(*) AS n FROM " .. sql).n
  end
  return count("units") == n.units and count("tenants") == n.tenants
     and count("rights") == n.rights and count("bundles") == n.bundles
     and count("users") == n.users and count("overrides") == n.overrides
     and count("access") == n.access
     and count("account_managers") == n.managed_rows
end

--- The cached store of world w: build/bench/world-<size>-g<VERSION>-
-- <seed>.db, written through the API when missing (to a temporary name,
-- renamed when complete, so an interrupted run never leaves a half
-- world).
-- @tparam table mandate the `mandate` module
-- @treturn string the path
-- @treturn number|nil seconds (CPU) spent writing it, nil when cached
function M.store(mandate, w, dir)
  dir = dir or "build/bench"
  local path = fmt("%s/world-%s-g%d-%d.db", dir, w.size, M.VERSION, w.seed)
  if exists(path) then return path, nil end
  os.execute("mkdir -p '" .. dir .. "'")
  local tmp = path .. ".tmp"
  for _, s in ipairs({ "", "-wal", "-shm", "-journal" }) do os.remove(tmp .. s) end
  local db = assert(mandate.open(tmp))
  local t0 = os.clock()
  M.write(db, w)
  local spent = os.clock() - t0
  db:close()
  for _, s in ipairs({ "-wal", "-shm", "-journal" }) do os.remove(tmp .. s) end
  assert(os.rename(tmp, path))
  return path, spent
end
-- }}}

-- Queries {{{

-- a unit near u: up k levels, then down at random
local function near_unit(w, rnd, unit, up)
  for _ = 1, up do
    local parent = w.units[unit].parent
    if not parent then break end
    unit = parent
  end
  while rnd.chance(0.75) do
    local c = w.index.children[unit]
    if not c then break end
    unit = rnd.pick(c)
  end
  return unit
end

-- a user in or near a unit; falls back to anyone
local function user_near(w, rnd, unit, up)
  for _ = 1, 4 do
    local m = w.index.members[near_unit(w, rnd, unit, up)]
    if m then return rnd.pick(m) end
  end
  return rnd.pick(w.order.users)
end

--- A realistic query mix: users mostly ask about tenants they can access,
-- about records of themselves, their team and their part of the tree, some
-- from anywhere; a few name customers, units, unknown keys or no record.
-- @tparam table w the world
-- @tparam int n how many
-- @tparam[opt] int burst consecutive queries of one user (1: every query
-- draws its user; 20: like web requests that check 20 records each)
-- @treturn table `{n =, user = {...}, right = {...}, record = {...}}`
-- (record[i] is nil for a check without a record)
function M.queries(w, n, burst)
  burst = burst or 1
  local rnd = M.rng(w.seed + 7919 * burst)
  local users, rights = w.order.users, {}
  -- views are asked three times as often as the rest
  for _, key in ipairs(w.order.rights) do
    rights[#rights + 1] = key
    if key:match("%.view$") then
      rights[#rights + 1] = key
      rights[#rights + 1] = key
    end
  end
  -- the rights a user's bundles or overrides mention with a value other
  -- than false / "none": applications mostly ask about what users use
  local held, heldBundles = {}, {}
  local function held_by(u)
    if held[u] then return held[u] end
    local bkey = table.concat(u.bundles, ",")
    if next(u.overrides) == nil and heldBundles[bkey] then
      held[u] = heldBundles[bkey]
      return held[u]
    end
    local set = {}
    for _, b in ipairs(u.bundles) do
      for rk, v in pairs(w.bundles[b]) do
        if v ~= false and v ~= "none" then set[rk] = true end
      end
    end
    for rk, v in pairs(u.overrides) do
      if v ~= false and v ~= "none" then set[rk] = true end
    end
    held[u] = sorted_keys(set)
    if next(u.overrides) == nil then heldBundles[bkey] = held[u] end
    return held[u]
  end
  local lists = {}                     -- sorted keys, cached per user
  local function list_of(u, field)
    local l = lists[u]
    if not l then
      l = { access = sorted_keys(u.access),
            customers = sorted_keys(u.customers) }
      lists[u] = l
    end
    return l[field]
  end
  local q = { n = n, user = {}, right = {}, record = {} }
  local ukey
  for i = 1, n do
    if (i - 1) % burst == 0 then
      ukey = rnd.pick(users)
      if rnd.chance(0.003) then ukey = "nobody" .. rnd.int(100) end
    end
    q.user[i] = ukey
    local u = w.users[ukey]
    local usual = u and held_by(u)
    if usual and #usual > 0 and rnd.chance(0.8) then
      q.right[i] = rnd.pick(usual)
    else
      q.right[i] = rnd.pick(rights)
    end
    if not rnd.chance(0.04) then
      local rec = {}
      -- the tenant
      local r = rnd.float()
      if r < 0.72 and u then
        local mine = list_of(u, "access")
        if #mine > 0 then rec.tenant = rnd.pick(mine) end
      elseif r < 0.84 then
        rec.tenant = rnd.pick(w.order.tenants)
      elseif r < 0.845 then
        rec.tenant = "t-gone"
      end
      -- the owner and the unit
      r = rnd.float()
      local home = u and u.unit
      if r < 0.25 then rec.owner = ukey
      elseif r < 0.45 and home then rec.owner = user_near(w, rnd, home, 0)
      elseif r < 0.65 and home then
        rec.owner = user_near(w, rnd, home, rnd.range(1, 2))
      elseif r < 0.92 then rec.owner = rnd.pick(users)
      elseif r < 0.925 then rec.owner = "ghost" .. rnd.int(100) end
      r = rnd.float()
      if r < 0.12 then
        rec.unit = near_unit(w, rnd, home or rnd.pick(w.order.units),
                             rnd.range(0, 3))
      elseif r < 0.125 then
        rec.unit = "nowhere"
      end
      -- the customer
      if rnd.chance(0.3) then
        local mine = u and list_of(u, "customers") or {}
        if #mine > 0 and rnd.chance(0.5) then
          rec.customer = rnd.pick(mine)
        else
          rec.customer = rnd.pick(w.customers)
        end
      end
      q.record[i] = rec
    end
  end
  return q
end
-- }}}

return M
