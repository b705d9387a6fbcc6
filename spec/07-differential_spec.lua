-- The C engine against spec/reference.lua, a small pure-Lua reading of
-- docs/semantics.md section 3, over thousands of random worlds.
--
-- Each world is a list of API calls (set_levels, put_unit, ..., set_access)
-- drawn from a seeded generator.  The calls go through the public module
-- into a ":memory:" store and, interpreted by `build_world` below, into the
-- reference's plain world table.  Then random checks must agree; explain
-- must agree with check and with the reference's value, source, access and
-- anchor; a denial's fix, applied inside a rolled-back transaction, must
-- allow the check (in the reference too) and be the smallest such change;
-- when one simple change would allow it, explain must offer a fix; and
-- db:effective must list the reference's values.  Between the checks come
-- random changes (moves, bundles, overrides, access, deletes, new levels,
-- ...) so that the engine's patches are checked too, and the first fix of
-- every world is committed for real.
--
-- A disagreement is shrunk to a minimal list of calls and reported as a
-- runnable script.
--
-- Environment:
--   MANDATE_DIFF_WORLDS  number of worlds (default 500, about 5 s; 2000 for the
--                        full run)
--   MANDATE_DIFF_CHECKS  checks per world (default 50)
--   MANDATE_DIFF_SEED    base seed (default 20240601); world i uses seed + i
--   MANDATE_DIFF_FIRST   index of the first world (default 1)
--   MANDATE_DIFF_VERBOSE print a summary line to stderr

local mandate = require "mandate"
local reference = require "reference"
local random_world = require "random_world"
local rng, generate, random_step = random_world.rng, random_world.generate,
                                   random_world.random_step
local CUSTOMERS, copy = random_world.CUSTOMERS, random_world.copy
local apply_ref, build_world = random_world.apply_ref, random_world.build_world

local unpack = table.unpack or unpack
local format, concat = string.format, table.concat

local function env_number(name, default)
  local v = tonumber(os.getenv(name) or "")
  if v then return math.floor(v) end
  return default
end

local WORLDS = env_number("MANDATE_DIFF_WORLDS", 500)
local CHECKS = env_number("MANDATE_DIFF_CHECKS", 50)
local SEED = env_number("MANDATE_DIFF_SEED", 20240601)
local FIRST = env_number("MANDATE_DIFF_FIRST", 1)
local VERBOSE = os.getenv("MANDATE_DIFF_VERBOSE")
local MAX_REPORTS = 5

-- Printing values as Lua source.  {{{

local function show(v)
  if type(v) == "string" then return format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts, keys = {}, {}
  for i = 1, #v do parts[#parts + 1] = show(v[i]) end
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k > #v or k % 1 ~= 0 then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local name = k
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then name = "[" .. show(k) .. "]" end
    parts[#parts + 1] = name .. " = " .. show(v[k])
  end
  return "{" .. concat(parts, ", ") .. "}"
end

local function show_result(ok, reason)
  if ok then return "true" end
  return "false, " .. show(reason)
end

local function show_call(call)
  local args = {}
  for i = 2, #call do args[#args + 1] = show(call[i]) end
  return "db:" .. call[1] .. "(" .. concat(args, ", ") .. ")"
end

-- }}}
-- Probes of a random world (spec/random_world.lua makes it).  {{{

-- A random probe: who asks for which right on which record.
local function random_probe(r, keys)
  local probe = { kind = "check" }
  probe.user = r:chance(0.05) and "nobody" or r:pick(keys.users)
  probe.right = r:pick(keys.rights)
  if r:chance(0.05) then return probe end
  local rec = {}
  local x = r:int(1, 10)
  if x <= 1 and r:chance(0.5) then rec.tenant = "T9"
  elseif x <= 7 and #keys.tenants > 0 then rec.tenant = r:pick(keys.tenants) end
  x = r:int(1, 20)
  if x <= 2 then rec.owner = "ghost" elseif x <= 14 then rec.owner = r:pick(keys.users) end
  x = r:int(1, 20)
  if x <= 2 then rec.unit = "nowhere" elseif x <= 9 then rec.unit = r:pick(keys.units) end
  x = r:int(1, 20)
  if x <= 2 then rec.customer = "NOBODY" elseif x <= 9 then rec.customer = r:pick(CUSTOMERS) end
  probe.record = rec
  return probe
end

-- }}}
-- The calls, into a store and into a reference world.  {{{

-- a check that makes the store compile its snapshot
local function compile(db, calls)
  for _, c in ipairs(calls) do
    if c[1] == "put_right" then return db:check("nobody", c[2]) end
  end
end

-- The calls that build a world go in one transaction; the later steps
-- (calls marked `step`) one by one, each on a compiled snapshot, as the run
-- made them.
local function replay(db, calls)
  db:transaction(function()
    for _, c in ipairs(calls) do
      if not c.step then db[c[1]](db, unpack(c, 2)) end
    end
  end)
  for _, c in ipairs(calls) do
    if c.step then
      compile(db, calls)
      db[c[1]](db, unpack(c, 2))
    end
  end
end

local function apply_db(db, call)
  return db[call[1]](db, unpack(call, 2))
end

-- }}}
-- Probing one check: the first problem found, as kind, message.  {{{

local stats = { worlds = 0, checks = 0, allowed = 0, denials = 0, fixes = 0, committed = 0,
                impossible = 0, effective = 0, pages = 0, steps = 0, reasons = {} }

-- a scope value as {rank, customer}, a flag as itself: to compare values
-- whatever their spelling
local function norm(world, right, v)
  if world.rights[right].kind == "flag" then return v end
  local ok, rank, customer = pcall(reference.parse, world, v)
  if not ok then return "unparsable " .. show(v) end
  return rank .. (customer and "+customer" or "")
end

local ROLLBACK = setmetatable({}, { __tostring = function() return "rollback" end })

-- check inside a transaction that applies `call` and is rolled back
local function check_with(db, call, user, right, record)
  local seen
  local ok, err = pcall(db.transaction, db, function()
    apply_db(db, call)
    seen = { db:check(user, right, record) }
    error(ROLLBACK)
  end)
  if ok then return nil, "the transaction did not fail" end
  if seen == nil then return nil, "applying it raised: " .. tostring(err) end
  return seen
end

-- the single changes the reference tries: would one of them allow it?
local function candidates(world, user, right, record)
  local u = world.users[user]
  if u == nil then return {} end
  local list = {}
  if u.active == false then list[#list + 1] = { "put_user", user, { active = true } } end
  if record and record.tenant and world.tenants[record.tenant] then
    list[#list + 1] = { "set_access", user, record.tenant, "full" }
  end
  local r = world.rights[right]
  list[#list + 1] = { "set_override", user, right, r.kind == "flag" or "all" }
  return list
end

-- the reference's answer with `call` applied; the change is undone after
local function ref_check_with(world, call, user, right, record)
  local u = world.users[user]
  local field, key
  if call[1] == "set_access" then field, key = u.access, call[3]
  elseif call[1] == "set_override" then field, key = u.overrides, call[3]
  else
    local w = copy(world)
    apply_ref[call[1]](w, unpack(call, 2))
    return { reference.check(w, user, right, record) }
  end
  local old = field[key]
  apply_ref[call[1]](world, unpack(call, 2))
  local ok, result, reason = pcall(reference.check, world, user, right, record)
  field[key] = old
  if not ok then error(result, 0) end
  return { result, reason }
end

-- Why a fix is not the smallest change, or nil.  An override fix keeps
-- what the user holds (it may only add), and no value one rung lower, nor
-- the same without the customer part, would do; an access fix grants read
-- when read does.
local function not_smallest(world, call, user, right, record)
  if call[1] == "set_access" then
    if call[4] == "full" and ref_check_with(world, { "set_access", user, call[3], "read" }, user,
                                            right, record)[1] then
      return "read access would do"
    end
  elseif call[1] == "set_override" and world.rights[right].kind == "scope" then
    local old = reference.effective(world, user, right)
    local orank, ocust = reference.parse(world, old)
    local rank, cust = reference.parse(world, call[4])
    if rank < orank or ocust and not cust then
      return format("it takes away what the user holds (%s)", show(old))
    end
    local smaller = {}
    if rank - 1 >= math.max(orank, 1) then smaller[#smaller + 1] = reference.format(world, rank - 1, cust) end
    if cust and not ocust then smaller[#smaller + 1] = reference.format(world, rank, false) end
    for _, v in ipairs(smaller) do
      if v ~= "none" and ref_check_with(world, { "set_override", user, right, v }, user, right,
                                        record)[1] then
        return format("%s would do", show(v))
      end
    end
  end
  return nil
end

-- The id paths (check_ids, db:checker(), db:prepare) must decide exactly
-- as db:check, unknown keys included: db:id gives -1 for those, never the
-- nil that means an absent field.
local function id_paths(db, user, right, record, ok, reason)
  local rec = record or {}
  local function id(kind, key)
    if key == nil then return nil end
    return db:id(kind, key)
  end
  local args = { id("user", user), id("right", right), id("tenant", rec.tenant),
                 id("user", rec.owner), id("unit", rec.unit), id("customer", rec.customer) }
  local paths = {
    check_ids = { db:check_ids(unpack(args, 1, 6)) },
    checker = { db:checker()(unpack(args, 1, 6)) },
    prepare = { db:prepare(user, right)(record) },
  }
  for name, got in pairs(paths) do
    if got[1] ~= ok or got[2] ~= reason then
      return "ids", format("%s: %s, check %s (ids %s)", name, show_result(got[1], got[2]),
                           show_result(ok, reason), show(args))
    end
  end
end

local function probe_check(db, world, p, count)
  local user, right, record = p.user, p.right, p.record
  local ok, reason = db:check(user, right, record)
  local rok, rreason = reference.check(world, user, right, record)
  if ok ~= rok or reason ~= rreason then
    return "check", format("check: engine %s, reference %s", show_result(ok, reason),
                           show_result(rok, rreason))
  end
  local kind, message = id_paths(db, user, right, record, ok, reason)
  if kind then return kind, message end
  if count then
    stats.checks = stats.checks + 1
    if ok then stats.allowed = stats.allowed + 1 else stats.denials = stats.denials + 1 end
    local by = reason or "allowed"
    stats.reasons[by] = (stats.reasons[by] or 0) + 1
  end

  local why = db:explain(user, right, record)
  if why.allowed ~= ok or why.reason ~= reason then
    return "explain", format("explain: allowed %s, reason %s; check %s", tostring(why.allowed),
                             tostring(why.reason), show_result(ok, reason))
  end
  if type(why.text) ~= "string" then return "explain", "explain: no text" end
  local u = world.users[user]
  if u and u.active ~= false then
    local value, source = reference.effective(world, user, right)
    if norm(world, right, why.value) ~= norm(world, right, value) then
      return "explain-value", format("explain: value %s, reference %s", show(why.value), show(value))
    end
    if why.source ~= source then
      return "explain-source", format("explain: source %s, reference %s", show(why.source),
                                      show(source))
    end
    if record and record.tenant and world.tenants[record.tenant] then
      local access, explicit = reference.access(world, user, record.tenant)
      if why.access ~= access or why.access_explicit ~= explicit then
        return "explain-access", format("explain: access %s (explicit %s), reference %s (%s)",
                                        show(why.access), show(why.access_explicit),
                                        access, tostring(explicit))
      end
    end
    if why.anchor ~= nil and world.rights[right].kind == "scope" then
      local rank = reference.parse(world, value)
      local n = #world.levels
      local expected = rank >= 2 and rank <= n + 1
                       and reference.anchor(world, user, world.levels[n - rank + 2]) or nil
      if why.anchor ~= expected then
        return "explain-anchor", format("explain: anchor %s, reference %s", show(why.anchor),
                                        show(expected))
      end
    end
  end
  if ok then
    if why.fix ~= nil then return "explain-fix", "explain: a fix for an allowed check" end
    return nil
  end

  local fix = why.fix
  if fix and fix.call then
    if count then stats.fixes = stats.fixes + 1 end
    local seen, err = check_with(db, fix.call, user, right, record)
    if not seen then return "fix", format("fix %s: %s", show_call(fix.call), err) end
    if seen[1] ~= true then
      return "fix", format("fix %s does not allow it: %s", show_call(fix.call),
                           show_result(seen[1], seen[2]))
    end
    local ref = ref_check_with(world, fix.call, user, right, record)
    if ref[1] ~= true then
      return "fix-reference", format("fix %s allows it in the engine, the reference says %s",
                                     show_call(fix.call), show_result(ref[1], ref[2]))
    end
    local why_not = not_smallest(world, fix.call, user, right, record)
    if why_not then return "fix-not-smallest", format("fix %s: %s", show_call(fix.call), why_not) end
    local again, again_reason = db:check(user, right, record)
    if again ~= ok or again_reason ~= reason then
      return "rollback", format("after the rolled-back fix %s: %s, before %s",
                                show_call(fix.call), show_result(again, again_reason),
                                show_result(ok, reason))
    end
  else
    if count then stats.impossible = stats.impossible + 1 end
    for _, c in ipairs(candidates(world, user, right, record)) do
      local ref = ref_check_with(world, c, user, right, record)
      if ref[1] == true then
        return "no-fix", format("explain offers no fix (%s), but %s would allow it",
                                fix and show(fix.kind) or "nil", show_call(c))
      end
    end
  end
  return nil
end

local function probe_effective(db, world, p)
  local rows = db:effective(p.user)
  if world.users[p.user] == nil then
    if rows ~= nil then return "effective", "effective: rows for a deleted user" end
    return nil
  end
  local order = {}
  for _, c in ipairs(p.calls) do
    if c[1] == "put_right" and not order[c[2]] then
      order[#order + 1] = c[2]
      order[c[2]] = true
    end
  end
  if type(rows) ~= "table" or #rows ~= #order then
    return "effective", format("effective: %s rows, %d rights", type(rows) == "table" and #rows
                               or show(rows), #order)
  end
  local active = world.users[p.user].active ~= false
  for i, row in ipairs(rows) do
    if row.right ~= order[i] then
      return "effective", format("effective: row %d is %s, catalog order says %s", i,
                                 show(row.right), order[i])
    end
    local value, source = reference.effective(world, p.user, row.right)
    if active and norm(world, row.right, row.effective) ~= norm(world, row.right, value) then
      return "effective", format("effective: %s is %s, reference %s", row.right,
                                 show(row.effective), show(value))
    end
    if active and row.source ~= source then
      return "effective", format("effective: %s source %s, reference %s", row.right,
                                 show(row.source), source)
    end
    -- an inactive user holds nothing (docs/semantics.md section 3.2)
    local nothing = "none"
    if world.rights[row.right].kind == "flag" then nothing = false end
    if not active and (row.effective ~= nothing or row.source ~= "inactive") then
      return "effective", format("effective: inactive user's %s is %s (%s), not %s (inactive)",
                                 row.right, show(row.effective), show(row.source), show(nothing))
    end
    local user = world.users[p.user]
    if row.override ~= user.overrides[row.right] then
      return "effective", format("effective: %s override %s, reference %s", row.right,
                                 show(row.override), show(user.overrides[row.right]))
    end
    -- every bundle of the user with its value; one that does not mention
    -- the right may be missing or give false / none
    local mine = {}
    for _, b in ipairs(user.bundles) do
      mine[b] = true
      local given, listed = world.bundles[b][row.right], nil
      if type(row.bundles) == "table" then listed = row.bundles[b] end
      local same
      if world.rights[row.right].kind == "flag" then
        same = listed == given or given == nil and listed == false
      else
        same = norm(world, row.right, listed) == norm(world, row.right, given)
      end
      if not same then
        return "effective", format("effective: %s by bundle %s is %s, reference %s", row.right,
                                   b, show(listed), show(given))
      end
    end
    for b in pairs(type(row.bundles) == "table" and row.bundles or {}) do
      if not mine[b] then
        return "effective", format("effective: %s lists bundle %s the user lacks", row.right, b)
      end
    end
  end
  return nil
end

-- db:allowed on a page of records: the ones the reference allows, in order,
-- the same table objects
local function probe_page(db, world, p)
  local got, want = db:allowed(p.user, p.right, p.records), {}
  for _, rec in ipairs(p.records) do
    if reference.check(world, p.user, p.right, rec) then want[#want + 1] = rec end
  end
  for j = 1, math.max(#got, #want) do
    if got[j] ~= want[j] then
      return "allowed", format("allowed: %d of %d records, the reference allows %d; first "
                               .. "difference at %d", #got, #p.records, #want, j)
    end
  end
  stats.pages = stats.pages + 1
  return nil
end

local function run_probe(db, world, p, count)
  if p.kind == "effective" then return probe_effective(db, world, p) end
  if p.kind == "page" then return probe_page(db, world, p) end
  return probe_check(db, world, p, count)
end

-- }}}
-- Shrinking a failure to a small list of calls.  {{{

-- the kind of problem `probe` finds in the world of `calls`, or nil
local function reproduce(calls, p)
  local db = assert(mandate.open(":memory:"))
  if not pcall(replay, db, calls) then
    db:close()
    return nil
  end
  local world = build_world(calls)
  p.calls = calls
  local ok, kind, message = pcall(run_probe, db, world, p)
  db:close()
  if not ok then return "error", tostring(kind) end
  return kind, message
end

local function without(list, i)
  local c = {}
  for j, v in ipairs(list) do if j ~= i then c[#c + 1] = v end end
  return c
end

-- the places inside calls whose removal may keep a failure: option fields,
-- bundle values, list entries
local function removable(calls)
  local places = {}
  local function add(i, a, sub, t)
    local keys = {}
    for k in pairs(t) do
      if k ~= "level" and k ~= "kind" and type(t[k]) ~= "table" then keys[#keys + 1] = k end
    end
    table.sort(keys, function(x, y)
      if type(x) ~= type(y) then return type(x) < type(y) end
      if type(x) == "number" then return x > y end   -- remove list entries from the end
      return x < y
    end)
    for _, k in ipairs(keys) do places[#places + 1] = { i, a, sub, k } end
  end
  for i, c in ipairs(calls) do
    for a = 3, #c do
      if type(c[a]) == "table" then
        add(i, a, nil, c[a])
        for _, sub in ipairs{ "rights", "bundles" } do
          if type(c[a][sub]) == "table" then add(i, a, sub, c[a][sub]) end
        end
      end
    end
  end
  return places
end

local function remove_at(calls, place)
  local c = copy(calls)
  local t = c[place[1]][place[2]]
  if place[3] then t = t[place[3]] end
  if type(place[4]) == "number" then table.remove(t, place[4]) else t[place[4]] = nil end
  return c
end

local function shrink(calls, p, kind)
  local changed = true
  while changed do
    changed = false
    -- drop whole calls
    for i = #calls, 1, -1 do
      local c = without(calls, i)
      if reproduce(c, p) == kind then calls, changed = c, true end
    end
    -- drop options, bundle values and list entries inside calls
    local places = removable(calls)
    for n = #places, 1, -1 do
      local c = remove_at(calls, places[n])
      if reproduce(c, p) == kind then
        calls, changed = c, true
        break
      end
    end
  end
  -- drop record fields
  if p.record then
    for _, f in ipairs{ "tenant", "owner", "unit", "customer" } do
      if p.record[f] ~= nil then
        local old = p.record[f]
        p.record[f] = nil
        if reproduce(calls, p) ~= kind then p.record[f] = old end
      end
    end
  end
  return calls
end

local function script(calls, p, message)
  local lines = { 'local db = assert(require("mandate").open(":memory:"))' }
  for _, c in ipairs(calls) do
    if c.step then
      for _, k in ipairs(calls) do
        if k[1] == "put_right" then
          lines[#lines + 1] = format("db:check(\"nobody\", %s)  -- compile the snapshot", show(k[2]))
          break
        end
      end
    end
    lines[#lines + 1] = show_call(c)
  end
  if p.kind == "write" then
    lines[#lines] = lines[#lines] .. "  -- raises"
  elseif p.kind == "effective" then
    lines[#lines + 1] = format("for _, row in ipairs(db:effective(%s)) do ... end", show(p.user))
  elseif p.kind == "page" then
    lines[#lines + 1] = format("print(#db:allowed(%s, %s, %s))", show(p.user), show(p.right),
                               show(p.records))
  else
    local args = show(p.user) .. ", " .. show(p.right)
    if p.record then args = args .. ", " .. show(p.record) end
    lines[#lines + 1] = format("print(db:check(%s)) print(db:explain(%s).text)", args, args)
  end
  lines[#lines + 1] = "-- " .. message
  return concat(lines, "\n")
end

-- }}}
-- The run.  {{{

local function reproduction(i, seed, calls, p, kind, message)
  local head = format("world %d (seed %d; rerun with MANDATE_DIFF_SEED=%d MANDATE_DIFF_FIRST=%d "
                      .. "MANDATE_DIFF_WORLDS=1)\n  %s\n", i, seed, SEED, i, message)
  if kind == "write" or reproduce(calls, copy(p)) ~= kind then
    -- a refused write is not shrunk (fewer calls may make it invalid); a
    -- failure that a fresh replay does not show depends on the run's
    -- history (explains, rolled-back fixes): the whole world then
    return head .. "the world's calls (not shrunk):\n" .. script(calls, p, message)
  end
  local small = shrink(copy(calls), copy(p), kind)
  local _, small_message = reproduce(small, p)
  return head .. "shrunk to:\n" .. script(small, p, small_message or message)
end

-- one world: returns a failure report or nil
local function run_world(i)
  local seed = SEED + i
  local r = rng(seed)
  local calls, keys = generate(r)
  local db = assert(mandate.open(":memory:"))
  local ok, err = pcall(replay, db, calls)
  if not ok then
    db:close()
    return format("world %d (seed %d): writing the world failed: %s\n%s", i, seed,
                  tostring(err), script(calls, { kind = "check", user = "-", right = "-" }, ""))
  end
  local world = build_world(calls)
  stats.worlds = stats.worlds + 1

  -- an unknown right raises on both sides
  if pcall(db.check, db, keys.users[1], "no.such.right") then
    db:close()
    return format("world %d (seed %d): check with an unknown right did not raise", i, seed)
  end
  assert(not pcall(reference.check, world, keys.users[1], "no.such.right"))

  -- run probe p on this world as it stands: a failure report, or nil
  local function failure(p, count)
    local pok, kind, message = pcall(run_probe, db, world, p, count)
    if not pok then kind, message = "error", tostring(kind) end
    if kind then
      db:close()
      return reproduction(i, seed, calls, p, kind, message)
    end
  end

  local committed = false
  local records = {}                    -- the probes' records, for pages
  for _ = 1, CHECKS do
    local p = random_probe(r, keys)
    p.calls = calls
    records[#records + 1] = p.record
    local report = failure(p, true)
    if report then return report end
    -- now and then a change, seen by the next checks
    if r:chance(0.15) then
      local step = random_step(r, world, keys)
      if step then
        step.step = true
        local sok, serr = pcall(apply_db, db, step)
        calls[#calls + 1] = step
        if not sok then
          db:close()
          return reproduction(i, seed, calls, { kind = "write", user = "-", right = "-" }, "write",
                              show_call(step) .. " raised: " .. tostring(serr))
        end
        apply_ref[step[1]](world, unpack(step, 2))
        stats.steps = stats.steps + 1
      end
    end
    -- commit the first fix of the world and go on from the changed world
    if not committed then
      local why = db:explain(p.user, p.right, p.record)
      if why.fix and why.fix.call then
        apply_db(db, why.fix.call)
        calls[#calls + 1] = copy(why.fix.call)
        calls[#calls].step = true
        world = build_world(calls)
        committed = true
        stats.committed = stats.committed + 1
        local now = { db:check(p.user, p.right, p.record) }
        if now[1] ~= true then
          db:close()
          return reproduction(i, seed, calls, p, "fix",
                              "committed fix does not allow it: " .. show_result(now[1], now[2]))
        end
      end
    end
  end

  -- pages of the records checked above, for random users and rights
  for _ = 1, #records > 0 and 4 or 0 do
    local p = { kind = "page", user = r:chance(0.1) and "nobody" or r:pick(keys.users),
                right = r:pick(keys.rights), records = {}, calls = calls }
    local from = r:int(1, #records)
    for j = from, math.min(#records, from + 15) do p.records[#p.records + 1] = records[j] end
    local report = failure(p)
    if report then return report end
  end

  for _, u in ipairs(keys.users) do
    local report = failure({ kind = "effective", user = u, calls = calls })
    if report then return report end
    stats.effective = stats.effective + 1
  end
  db:close()
  return nil
end

describe("the engine against the reference of docs/semantics.md section 3", function()
  it(format("agrees on %d random worlds x %d checks (seed %d)", WORLDS, CHECKS, SEED), function()
    local started = os.clock()
    local failures = {}
    for i = FIRST, FIRST + WORLDS - 1 do
      local report = run_world(i)
      if report then
        failures[#failures + 1] = report
        if #failures >= MAX_REPORTS then break end
      end
    end
    if VERBOSE then
      io.stderr:write(format("\ndifferential: %d worlds, %d checks (%d allowed, %d denied: "
                             .. "%d fixes tried, %d without a fix), %d changes, %d committed fixes, "
                             .. "%d effective tables, %d pages, %.1f s cpu\n",
                             stats.worlds, stats.checks, stats.allowed, stats.denials,
                             stats.fixes, stats.impossible, stats.steps, stats.committed,
                             stats.effective, stats.pages,
                             os.clock() - started))
      local reasons = {}
      for k, n in pairs(stats.reasons) do reasons[#reasons + 1] = format("%s %d", k, n) end
      table.sort(reasons)
      io.stderr:write("  " .. concat(reasons, ", ") .. "\n")
    end
    assert(#failures == 0, format("%d disagreement(s) (seed %d):\n\n%s", #failures, SEED,
                                  concat(failures, "\n\n")))
  end)
end)

-- }}}
