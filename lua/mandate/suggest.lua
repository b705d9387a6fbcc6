--- Bundle suggestions: toward bundles so well made that only a few
-- exceptions are handled one by one.
--
-- `db:suggest_bundles(opts)` reads every override against what the
-- user's bundles give (the engine joins them: src/core/read.c,
-- mdt_bundled) and suggests changes that remove overrides, each with the
-- plan of applying it (`db:plan`, lua/mandate/plan.lua).  A suggestion's
-- change decides what it clears by asking the engine inside its own
-- change set, after its bundle writes: an override goes only where the
-- bundles then give the very same value, so a suggestion never changes a
-- user it does not mean to.
-- @module mandate.suggest

local I = require("mandate.core").internal   -- the primitives, captured at load
local impact = require "mandate.impact"
local V = require "mandate.validate"

local S = {}          -- the public methods, installed into mandate.Db

local show, format, concat = V.show, string.format, table.concat
local sorted_keys = impact.sorted_keys

local OPTIONS = { "share", "min_users" }

-- Raise a reader's runtime failure as the store error it was.
local function must(v, message, code)
  if v == nil then
    error(setmetatable({ message = message, code = code },
                       require("mandate.core").Error), 0)
  end
  return v
end

-- The value that gives nothing, of the kind of v.
local function nothing(v)
  if type(v) == "boolean" then return false end
  return "none"
end

-- Clear user's override of right when the bundles now give its value:
-- true when it was cleared.
local function clear_if_given(db, user, right, value)
  if I.bundled(db, user, right) ~= value then return false end
  db:clear_override(user, right)
  return true
end

-- A suggestion: its change planned; nil when the plan removes nothing.
-- change(db, cleared) clears overrides and lists their users in cleared.
local function suggestion(db, s, change)
  local cleared
  s.change = function(d)
    cleared = {}
    change(d, cleared)
    return true
  end
  s.plan = db:plan(s.change)
  s.removes = #cleared
  if s.removes == 0 then return nil end
  local users, seen = {}, {}
  for _, u in ipairs(cleared) do
    if not seen[u] then users[#users + 1], seen[u] = u, true end
  end
  table.sort(users)
  s.cleared = users
  return s
end

-- Overrides that equal what the user's bundles give: one suggestion
-- that clears them all.
local function redundant(db, overrides)
  local list = {}
  for _, o in ipairs(overrides) do
    if o.value == o.bundled then list[#list + 1] = o end
  end
  if #list == 0 then return nil end
  return suggestion(db, {
    kind = "redundant",
    text = format("clear %d override%s that equal what the users' bundles give",
                  #list, #list == 1 and "" or "s"),
  }, function(d, cleared)
    for _, o in ipairs(list) do
      if clear_if_given(d, o.user, o.right, o.value) then
        cleared[#cleared + 1] = o.user
      end
    end
  end)
end

-- A right overridden to the same value by at least share of a bundle's
-- holders: the bundle's value changed to it, the overrides then given
-- cleared.
local function bundle_values(db, by_user, holders, bundles, share, out)
  for _, b in ipairs(sorted_keys(holders)) do
    local users, counts = holders[b], {}
    for _, u in ipairs(users) do
      for _, o in ipairs(by_user[u] or {}) do
        local c = counts[o.right] or {}
        counts[o.right] = c
        local w = c[o.value] or {}
        c[o.value] = w
        w[#w + 1] = u
      end
    end
    for _, right in ipairs(sorted_keys(counts)) do
      local values = counts[right]
      local list = {}
      for v in pairs(values) do list[#list + 1] = v end
      table.sort(list, function(x, y) return tostring(x) < tostring(y) end)
      for _, v in ipairs(list) do
        local who, old = values[v], bundles[b][right]
        if old == nil then old = nothing(v) end
        if #who >= share * #users and v ~= old then
          out[#out + 1] = suggestion(db, {
            kind = "bundle_value", bundle = b, right = right, value = v,
            text = format("set %s to %s in bundle %s: %d of its %d holders override it so",
                          right, show(v), b, #who, #users),
          }, function(d, cleared)
            d:set_bundle_right(b, right, v)
            for _, u in ipairs(who) do
              local o = d:overrides(u)
              if o and o[right] == v and clear_if_given(d, u, right, v) then
                cleared[#cleared + 1] = u
              end
            end
          end)
        end
      end
    end
  end
end

-- Groups of at least min_users users with the same bundles and the same
-- overrides: a new bundle of the overrides the bundles can give (a bundle
-- only adds: one that restricts stays an override).
local function new_bundles(db, by_user, user_bundles, bundles, min_users, out)
  local groups = {}
  for user, list in pairs(by_user) do
    local parts = {}
    for i, o in ipairs(list) do parts[i] = o.right .. "=" .. tostring(o.value) end
    table.sort(parts)
    local held = {}
    for i, b in ipairs(user_bundles[user]) do held[i] = b end
    table.sort(held)
    local sig = concat(held, "\0") .. "\0\0" .. concat(parts, "\0")
    local g = groups[sig] or { users = {}, overrides = list, bundles = held }
    groups[sig] = g
    g.users[#g.users + 1] = user
  end
  local n = 0
  for _, sig in ipairs(sorted_keys(groups)) do
    local g = groups[sig]
    if #g.users >= min_users then
      table.sort(g.users)
      repeat n = n + 1 until not bundles["suggested-" .. n]
      local key, rights = "suggested-" .. n, {}
      for _, o in ipairs(g.overrides) do rights[o.right] = o.value end
      out[#out + 1] = suggestion(db, {
        kind = "new_bundle", bundle = key, users = g.users,
        text = format("a new bundle %s for the %d users with the bundles {%s} and the "
                      .. "same overrides", key, #g.users, concat(g.bundles, ", ")),
      }, function(d, cleared)
        d:put_bundle(key, { label = "Suggested for " .. #g.users .. " users",
                            rights = rights })
        for _, u in ipairs(g.users) do
          local list = must(d:get_user(u)).bundles
          list[#list + 1] = key
          d:put_user(u, { bundles = list })
        end
        local kept = {}
        for _, u in ipairs(g.users) do
          for _, o in ipairs(g.overrides) do
            if clear_if_given(d, u, o.right, o.value) then
              cleared[#cleared + 1] = u
            else
              kept[o.right] = true
            end
          end
        end
        for right in pairs(kept) do d:clear_bundle_right(key, right) end
      end)
    end
  end
end

--- Suggest changes to bundles that remove overrides.
-- Three kinds, in this order: `"redundant"` (one suggestion: clear the
-- overrides equal to what the user's bundles give; it changes nobody),
-- `"bundle_value"` (a right overridden to the same value by at least
-- `share` of a bundle's holders: set the bundle's value to it and clear
-- the overrides it then gives; holders without that override gain or
-- lose, as the plan shows), `"new_bundle"` (at least `min_users` users
-- with the same bundles and the same overrides: a new bundle
-- "suggested-N" of the overrides a bundle can give, added to them, those
-- overrides cleared; it changes nobody).  A suggestion whose change
-- would remove no override is left out.
-- @function suggest_bundles
-- @tparam[opt] table options
-- @tparam[opt=0.5] number options.share the least share of a bundle's
-- holders, above 0 and at most 1
-- @tparam[opt=3] number options.min_users the least group size, an
-- integer of at least 2
-- @treturn {table,...} the suggestions: `kind`, `text`, `plan` (see
-- `db:plan`; `plan:apply()` applies it), `change` (its function, for
-- `db:plan` or `db:transaction` later), `removes` (the overrides it
-- clears), `cleared` (their users' keys, sorted), and by kind `bundle`,
-- `right`, `value` (bundle_value), `bundle`, `users` (new_bundle)
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
S.suggest_bundles = V.method("suggest_bundles", function(db, opts)
  local fn = "suggest_bundles"
  opts = V.options(fn, opts, OPTIONS)
  local share, min_users = opts.share, opts.min_users
  if share == nil then share = 0.5 end
  if type(share) ~= "number" or not (share > 0 and share <= 1) then
    V.fail(fn, "options.share", "expected a number above 0 and at most 1, got %s",
           show(share))
  end
  if min_users == nil then min_users = 3 end
  if type(min_users) ~= "number" or min_users % 1 ~= 0 or min_users < 2
     or min_users > 2^53 then
    V.fail(fn, "options.min_users", "expected an integer of at least 2, got %s",
           show(min_users))
  end
  local overrides = I.overrides(db)
  local holders, user_bundles, bundles = {}, {}, {}
  for _, b in ipairs(must(db:bundles())) do
    holders[b.key], bundles[b.key] = {}, b.rights
  end
  for _, u in ipairs(must(db:users())) do
    user_bundles[u.key] = u.bundles
    for _, b in ipairs(u.bundles) do
      local h = holders[b]
      h[#h + 1] = u.key
    end
  end
  local by_user = {}
  for _, o in ipairs(overrides) do
    local t = by_user[o.user] or {}
    by_user[o.user] = t
    t[#t + 1] = o
  end
  local out = { redundant(db, overrides) }
  bundle_values(db, by_user, holders, bundles, share, out)
  new_bundles(db, by_user, user_bundles, bundles, min_users, out)
  return out
end)

return { methods = S }
