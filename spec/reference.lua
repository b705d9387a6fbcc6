--- A small, obviously correct pure-Lua reference of docs/semantics.md
-- section 3.
--
-- Written from the text of section 3 alone, for the differential spec
-- (spec/07-differential_spec.lua) and as the "naive pure-Lua engine" of the
-- benchmarks.  It works on a plain Lua description of a world and computes
-- every answer from scratch: nothing is compiled, cached or indexed.
--
--     world = {
--       levels  = {"country", "branch", "department", "team"},  -- top to bottom
--       units   = { [key] = {level = "team", parent = "hh"} },   -- parent: key|nil
--       tenants = { [key] = {default = "read"} },   -- default: nil means hidden
--       rights  = { [key] = {kind = "scope", mode = "read", customer = true} },
--       bundles = { [key] = { [right] = value } },
--       users   = { [key] = {unit = "hh-sales", bundles = {"inside-sales"},
--                            active = true,                -- nil means true
--                            overrides = { [right] = value },
--                            access = { [tenant] = "full" },
--                            customers = { ACME = true }} },
--     }
--
-- Values: flags are `true` / `false`; scopes are "none", "own", a level name,
-- "all", optionally followed by "+customer"; "customer" alone means
-- "none+customer".
--
-- @module reference

local M = {}

--- The rank of a scope base: none = 0, own = 1, the levels from the bottom
-- rung (2) to the top rung, all = top rung + 1.  nil for a name that is not
-- a scope base.
function M.rank(world, name)
  local n = #world.levels
  if name == "none" then return 0 end
  if name == "own" then return 1 end
  if name == "all" then return n + 2 end
  for i, level in ipairs(world.levels) do
    if level == name then return n - i + 2 end   -- levels[1] is the top
  end
  return nil
end

--- Split a scope value into its rank and its customer part.
-- @treturn int rank (see `rank`)
-- @treturn boolean whether the value has the customer part
function M.parse(world, value)
  if value == nil or value == false then return 0, false end
  assert(type(value) == "string", "a scope value is a string")
  if value == "customer" then return 0, true end
  local base = value:match("^(.-)%+customer$")
  local customer = base ~= nil
  base = base or value
  local rank = M.rank(world, base)
  assert(rank, "not a scope value: " .. value)
  return rank, customer
end

--- The canonical text of a scope value given as rank and customer part.
function M.format(world, rank, customer)
  local base
  local n = #world.levels
  if rank == 0 then base = "none"
  elseif rank == 1 then base = "own"
  elseif rank == n + 2 then base = "all"
  else base = world.levels[n - rank + 2] end
  if customer then
    if base == "none" then return "customer" end
    return base .. "+customer"
  end
  return base
end

--- The effective value E(u, r) as stored: the override if there is one,
-- else the join of the user's bundles, else false / "none".  (Whether the
-- user is active is the check's business: an inactive user holds nothing.)
-- @treturn boolean|string the value
-- @treturn string "override", "bundles" or "none"
function M.effective(world, user, right)
  local u = world.users[user]
  local r = world.rights[right]
  if u.overrides and u.overrides[right] ~= nil then
    return u.overrides[right], "override"
  end
  local source = "none"
  if r.kind == "flag" then
    local value = false
    for _, b in ipairs(u.bundles or {}) do
      local v = world.bundles[b][right]
      if v ~= nil then
        source = "bundles"
        value = value or v
      end
    end
    return value, source
  end
  local rank, customer = 0, false
  for _, b in ipairs(u.bundles or {}) do
    local v = world.bundles[b][right]
    if v ~= nil then
      source = "bundles"
      local vr, vc = M.parse(world, v)
      if vr > rank then rank = vr end
      customer = customer or vc
    end
  end
  return M.format(world, rank, customer), source
end

--- The access of user u to tenant t: explicit, else the tenant's default,
-- else hidden.
-- @treturn string "full", "read" or "hidden"
-- @treturn boolean whether it is the user's explicit access
function M.access(world, user, tenant)
  local u = world.users[user]
  if u.access and u.access[tenant] ~= nil then return u.access[tenant], true end
  return world.tenants[tenant].default or "hidden", false
end

--- The path from a unit upward to its root, the unit first.
function M.path(world, unit)
  local path = {}
  while unit ~= nil do
    path[#path + 1] = unit
    unit = world.units[unit].parent
  end
  return path
end

--- anchor(u, L): the topmost unit on the path from u's unit upward whose
-- level is L or below L; u's unit itself when that is above L.  nil for a
-- user without a unit.
function M.anchor(world, user, level)
  local unit = world.users[user].unit
  if unit == nil then return nil end
  local limit = M.rank(world, level)
  local anchor = unit
  for _, p in ipairs(M.path(world, unit)) do
    if M.rank(world, world.units[p].level) <= limit then anchor = p end
  end
  return anchor
end

--- Whether unit x lies in the subtree of unit a (x itself included).
function M.inside(world, x, a)
  for _, p in ipairs(M.path(world, x)) do
    if p == a then return true end
  end
  return false
end

-- does the record match value (rank, customer) of user u?
local function matches(world, user, rank, customer, record)
  local u = world.users[user]
  local n = #world.levels
  -- the customer part: a customer u manages
  if customer and record.customer ~= nil and u.customers
     and u.customers[record.customer] then
    return true
  end
  -- own (every level and all include it); an unknown owner is nobody
  if rank >= 1 and record.owner == user then return true end
  -- all
  if rank == n + 2 then return true end
  -- a level: the record's unit, defaulting to the owner's unit, in the
  -- subtree of the anchor; an unknown unit or owner has no unit
  if rank >= 2 and u.unit ~= nil then
    local unit = record.unit
    if unit == nil and record.owner ~= nil and world.users[record.owner] then
      unit = world.users[record.owner].unit
    end
    if unit ~= nil and (world.units or {})[unit] ~= nil then
      local level = world.levels[n - rank + 2]
      if M.inside(world, unit, M.anchor(world, user, level)) then
        return true
      end
    end
  end
  return false
end

--- check(u, r, record) of docs/semantics.md section 3.9.
-- Raises on an unknown right.
-- @treturn boolean true when allowed
-- @treturn[2] string the reason of a denial
function M.check(world, user, right, record)
  -- 1. unknown right: loud
  local r = world.rights[right]
  if r == nil then error("unknown right '" .. tostring(right) .. "'", 2) end
  -- 2. the user
  local u = world.users[user]
  if u == nil then return false, "unknown_user" end
  if u.active == false then return false, "inactive_user" end
  -- 3. the tenant gate; a record without a tenant is common data
  if record ~= nil and record.tenant ~= nil then
    if (world.tenants or {})[record.tenant] == nil then return false, "unknown_tenant" end
    local access = M.access(world, user, record.tenant)
    if access == "hidden" then return false, "tenant_hidden" end
    if access == "read" and (r.mode or "write") ~= "read" then
      return false, "tenant_read_only"
    end
  end
  -- 4. the value
  local value = M.effective(world, user, right)
  if r.kind == "flag" then
    if value == true then return true end
    return false, "no_right"
  end
  local rank, customer = M.parse(world, value)
  if rank == 0 and not customer then return false, "no_right" end
  -- without a record, or a record naming no owner, unit or customer:
  -- "does u hold r here"
  if record == nil or (record.owner == nil and record.unit == nil
                       and record.customer == nil) then
    return true
  end
  if matches(world, user, rank, customer, record) then return true end
  return false, "out_of_scope"
end

return M
