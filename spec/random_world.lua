-- Random worlds for the specs: a seeded generator of API calls that make
-- a world (`generate`) and change it (`random_step`), and what each call
-- means to spec/reference.lua's plain world table (`apply_ref`,
-- `build_world`).  spec/07-differential_spec.lua holds the engine against
-- the reference on them; spec/27-plan_spec.lua holds dry runs against
-- db:effective and db:access taken before and after the same change.
local reference = require "reference"

local unpack = table.unpack or unpack
-- A random generator that gives the same numbers on every Lua (Park-Miller;
-- the products stay below 2^53, exact in doubles).  {{{

local Rng = {}
Rng.__index = Rng

local function rng(seed)
  return setmetatable({ state = seed % 2147483646 + 1 }, Rng)
end

function Rng:next()
  self.state = (self.state * 48271) % 2147483647
  return self.state
end

function Rng:int(a, b) return a + self:next() % (b - a + 1) end
function Rng:chance(p) return self:next() < p * 2147483647 end
function Rng:pick(list) return list[self:int(1, #list)] end

-- }}}
-- Generating a world as a list of calls.  {{{

local LEVEL_POOL = { "country", "region", "branch", "department", "team" }
local ACCESS = { "full", "full", "full", "read", "read", "hidden" }
local CUSTOMERS = { "C1", "C2", "C3", "C4" }

local function random_value(r, levels, right)
  if right.kind == "flag" then return r:chance(0.65) end
  local bases = { "own" }
  if r:chance(0.1) then bases = { "none" } end
  for i = #levels, 1, -1 do bases[#bases + 1] = levels[i] end
  bases[#bases + 1] = "all"
  local base = r:pick(bases)
  if right.customer and r:chance(0.35) then
    if base == "none" then return "customer" end
    return base .. "+customer"
  end
  return base
end

-- A random world: the calls that make it, and the keys a probe may name.
local function generate(r)
  local calls = {}
  local function call(...) calls[#calls + 1] = { ... } end

  -- levels: 2-5 rungs out of the pool, in order
  local levels = {}
  local nlevels = r:int(2, 5)
  local chosen = {}
  while nlevels > 0 do
    local i = r:int(1, #LEVEL_POOL)
    if not chosen[i] then chosen[i], nlevels = true, nlevels - 1 end
  end
  for i = 1, #LEVEL_POOL do
    if chosen[i] then levels[#levels + 1] = LEVEL_POOL[i] end
  end
  call("set_levels", levels)

  -- units: 5-30, parents above them (skipping rungs at random), several
  -- roots, some of them on lower levels
  local units = {}
  for i = 1, r:int(5, 30) do units[i] = { key = "U" .. i, depth = r:int(1, #levels) } end
  table.sort(units, function(a, b)
    if a.depth ~= b.depth then return a.depth < b.depth end
    return a.key < b.key
  end)
  local unit_keys = {}
  for i, u in ipairs(units) do
    local parents = {}
    for j = 1, i - 1 do
      if units[j].depth < u.depth then parents[#parents + 1] = units[j].key end
    end
    local parent
    if #parents > 0 and not r:chance(0.2) then parent = r:pick(parents) end
    call("put_unit", u.key, { level = levels[u.depth], parent = parent })
    unit_keys[#unit_keys + 1] = u.key
  end

  -- tenants: 0-4 with random defaults (or none: hidden)
  local tenant_keys = {}
  for i = 1, r:int(0, 4) do
    local key = "T" .. i
    local default = r:pick{ "none", "full", "full", "read", "read", "hidden" }
    if default == "none" then call("put_tenant", key, {})
    else call("put_tenant", key, { default = default }) end
    tenant_keys[#tenant_keys + 1] = key
  end

  -- rights: 3-8, flags and scopes, read / write / default mode, some with
  -- the customer option
  local rights, right_keys = {}, {}
  for i = 1, r:int(3, 8) do
    local key = "r" .. i
    local opts = { kind = r:chance(0.35) and "flag" or "scope" }
    local mode = r:pick{ "read", "write", "default" }
    if mode ~= "default" then opts.mode = mode end
    if opts.kind == "scope" and r:chance(0.4) then opts.customer = true end
    call("put_right", key, opts)
    rights[key] = opts
    right_keys[#right_keys + 1] = key
  end

  -- bundles: 0-4, each with some of the rights
  local bundle_keys = {}
  for i = 1, r:chance(0.1) and 0 or r:int(1, 4) do
    local key = "b" .. i
    local values = {}
    for _, rk in ipairs(right_keys) do
      if r:chance(0.7) then values[rk] = random_value(r, levels, rights[rk]) end
    end
    call("put_bundle", key, { rights = values })
    bundle_keys[#bundle_keys + 1] = key
  end

  -- users: 5-15, some without a unit, some inactive, some with the default
  local user_keys = {}
  for i = 1, r:int(5, 15) do
    local key = "p" .. i
    local opts = { bundles = {} }
    if #unit_keys > 0 and not r:chance(0.15) then opts.unit = r:pick(unit_keys) end
    for _, b in ipairs(bundle_keys) do
      if r:chance(0.7) then opts.bundles[#opts.bundles + 1] = b end
    end
    local active = r:int(1, 20)
    if active <= 2 then opts.active = false elseif active <= 6 then opts.active = true end
    call("put_user", key, opts)
    user_keys[#user_keys + 1] = key
  end

  -- overrides that extend or restrict, access rows, account managers
  for _, u in ipairs(user_keys) do
    for _, rk in ipairs(right_keys) do
      if r:chance(0.15) then call("set_override", u, rk, random_value(r, levels, rights[rk])) end
    end
    for _, t in ipairs(tenant_keys) do
      if r:chance(0.4) then call("set_access", u, t, r:pick(ACCESS)) end  -- full 1/2
    end
    for _, c in ipairs(CUSTOMERS) do
      if r:chance(0.2) then call("assign_customer", u, c) end
    end
  end

  return calls, { units = unit_keys, tenants = tenant_keys, rights = right_keys,
                  users = user_keys, bundles = bundle_keys }
end

-- the keys of `list` that `map` still holds
local function alive(list, map)
  local t = {}
  for _, k in ipairs(list) do if map[k] ~= nil then t[#t + 1] = k end end
  return t
end

-- A random change to a world, as a call (nil when none fits): moves,
-- bundles, overrides, access, account managers, bundle values, defaults,
-- modes, a moved unit, new units, users and rights, deletes.
local function random_step(r, world, keys)
  local users = alive(keys.users, world.users)
  local rights = alive(keys.rights, world.rights)
  local units = alive(keys.units, world.units)
  local tenants = alive(keys.tenants, world.tenants)
  local bundles = alive(keys.bundles, world.bundles)
  if #users == 0 then return nil end
  local u, rk = r:pick(users), r:pick(rights)
  local levels = world.levels
  local x = r:int(1, 23)
  if x == 1 then
    return { "put_user", u, { unit = #units > 0 and r:chance(0.85) and r:pick(units) or false } }
  elseif x == 2 then
    local list = {}
    for _, b in ipairs(bundles) do if r:chance(0.5) then list[#list + 1] = b end end
    return { "put_user", u, { bundles = list } }
  elseif x == 3 then
    return { "put_user", u, { active = r:chance(0.7) } }
  elseif x <= 5 then
    return { "set_override", u, rk, random_value(r, levels, world.rights[rk]) }
  elseif x == 6 then
    return { "clear_override", u, rk }
  elseif x <= 8 and #tenants > 0 then
    return { "set_access", u, r:pick(tenants), r:pick(ACCESS) }
  elseif x == 9 and #tenants > 0 then
    return { "clear_access", u, r:pick(tenants) }
  elseif x == 10 then
    return { "assign_customer", u, r:pick(CUSTOMERS) }
  elseif x == 11 then
    return { "unassign_customer", u, r:pick(CUSTOMERS) }
  elseif x == 12 and #bundles > 0 then
    local values = {}
    for _, k in ipairs(rights) do
      if r:chance(0.6) then values[k] = random_value(r, levels, world.rights[k]) end
    end
    return { "put_bundle", r:pick(bundles), { rights = values } }
  elseif x == 13 and #bundles > 0 then
    if r:chance(0.3) then return { "clear_bundle_right", r:pick(bundles), rk } end
    return { "set_bundle_right", r:pick(bundles), rk, random_value(r, levels, world.rights[rk]) }
  elseif x == 14 and #tenants > 0 then
    return { "put_tenant", r:pick(tenants), { default = r:pick(ACCESS) } }
  elseif x == 15 then
    return { "put_right", rk, { mode = r:pick{ "read", "write" } } }
  elseif x == 16 and #units > 0 then
    -- move a unit under another unit above its level, or make it a root
    local unit = r:pick(units)
    local rank = reference.rank(world, world.units[unit].level)
    local parents = {}
    for _, p in ipairs(units) do
      if reference.rank(world, world.units[p].level) > rank then parents[#parents + 1] = p end
    end
    return { "put_unit", unit, { parent = #parents > 0 and r:chance(0.8) and r:pick(parents)
                                          or false } }
  elseif x == 17 then
    local key = "U" .. (#keys.units + 1)
    keys.units[#keys.units + 1] = key
    local depth = r:int(1, #levels)
    local parents = {}
    for _, p in ipairs(units) do
      if reference.rank(world, world.units[p].level) > reference.rank(world, levels[depth]) then
        parents[#parents + 1] = p
      end
    end
    return { "put_unit", key, { level = levels[depth],
                                parent = #parents > 0 and r:pick(parents) or nil } }
  elseif x == 18 then
    local key = "q" .. (#keys.users + 1)
    keys.users[#keys.users + 1] = key
    local opts = { bundles = {} }
    if #units > 0 then opts.unit = r:pick(units) end
    for _, b in ipairs(bundles) do if r:chance(0.6) then opts.bundles[#opts.bundles + 1] = b end end
    return { "put_user", key, opts }
  elseif x == 19 then
    local key = "r" .. (#keys.rights + 1)
    keys.rights[#keys.rights + 1] = key
    return { "put_right", key, { kind = r:chance(0.5) and "flag" or "scope" } }
  elseif x == 20 then
    if #users > 1 then return { "delete_user", u } end
  elseif x == 21 then
    if r:chance(0.5) and #tenants > 0 then
      return { "delete_tenant", r:pick(tenants), { cascade = true } }
    elseif #bundles > 0 then
      return { "delete_bundle", r:pick(bundles), { cascade = true } }
    end
  elseif x == 22 then
    -- a new rung from the pool, in the pool's order
    local have, list = {}, {}
    for _, l in ipairs(levels) do have[l] = true end
    local new = {}
    for _, l in ipairs(LEVEL_POOL) do if not have[l] then new[#new + 1] = l end end
    if #new == 0 then return nil end
    have[r:pick(new)] = true
    for _, l in ipairs(LEVEL_POOL) do if have[l] then list[#list + 1] = l end end
    return { "set_levels", list }
  elseif x == 23 and #units > 1 then
    return { "delete_unit", r:pick(units), { cascade = true } }
  end
  return nil
end

-- }}}
-- The calls, into a reference world.  {{{

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

-- What each call means to the reference (put_* update: missing options keep
-- their stored value).
local apply_ref = {
  set_levels = function(w, levels) w.levels = copy(levels) end,
  put_unit = function(w, key, o)
    local u = w.units[key] or {}
    w.units[key] = u
    if o.level ~= nil then u.level = o.level end
    if o.parent == false then u.parent = nil elseif o.parent ~= nil then u.parent = o.parent end
  end,
  put_tenant = function(w, key, o)
    local t = w.tenants[key] or {}
    w.tenants[key] = t
    if o.default ~= nil then t.default = o.default end
  end,
  put_right = function(w, key, o)
    local r = w.rights[key] or {}
    w.rights[key] = r
    for _, f in ipairs{ "kind", "mode", "customer" } do
      if o[f] ~= nil then r[f] = o[f] end
    end
  end,
  put_bundle = function(w, key, o)
    if o.rights ~= nil or w.bundles[key] == nil then w.bundles[key] = copy(o.rights or {}) end
  end,
  put_user = function(w, key, o)
    local u = w.users[key] or { bundles = {}, overrides = {}, access = {}, customers = {} }
    w.users[key] = u
    if o.unit == false then u.unit = nil elseif o.unit ~= nil then u.unit = o.unit end
    if o.bundles ~= nil then u.bundles = copy(o.bundles) end
    if o.active ~= nil then u.active = o.active end
  end,
  set_override = function(w, u, r, v) w.users[u].overrides[r] = v end,
  clear_override = function(w, u, r) w.users[u].overrides[r] = nil end,
  set_access = function(w, u, t, a) w.users[u].access[t] = a end,
  clear_access = function(w, u, t) w.users[u].access[t] = nil end,
  assign_customer = function(w, u, c) w.users[u].customers[c] = true end,
  unassign_customer = function(w, u, c) w.users[u].customers[c] = nil end,
  set_bundle_right = function(w, b, r, v) w.bundles[b][r] = v end,
  clear_bundle_right = function(w, b, r) w.bundles[b][r] = nil end,
  delete_user = function(w, u) w.users[u] = nil end,
  delete_unit = function(w, key)   -- with {cascade = true}: the subtree, users keep no unit
    local gone = {}
    for k in pairs(w.units) do
      if reference.inside(w, k, key) then gone[#gone + 1] = k end
    end
    for _, u in pairs(w.users) do
      if u.unit ~= nil and reference.inside(w, u.unit, key) then u.unit = nil end
    end
    for _, k in ipairs(gone) do w.units[k] = nil end
  end,
  delete_tenant = function(w, t)   -- with {cascade = true}: the access rows go too
    w.tenants[t] = nil
    for _, u in pairs(w.users) do u.access[t] = nil end
  end,
  delete_bundle = function(w, b)   -- with {cascade = true}: out of the users' lists
    w.bundles[b] = nil
    for _, u in pairs(w.users) do
      local list = {}
      for _, x in ipairs(u.bundles) do if x ~= b then list[#list + 1] = x end end
      u.bundles = list
    end
  end,
}

local function build_world(calls)
  local w = { levels = {}, units = {}, tenants = {}, rights = {}, bundles = {}, users = {} }
  for _, c in ipairs(calls) do apply_ref[c[1]](w, unpack(c, 2)) end
  return w
end
-- }}}

return {
  rng = rng,
  LEVEL_POOL = LEVEL_POOL,
  ACCESS = ACCESS,
  CUSTOMERS = CUSTOMERS,
  random_value = random_value,
  generate = generate,
  alive = alive,
  random_step = random_step,
  copy = copy,
  apply_ref = apply_ref,
  build_world = build_world,
}
