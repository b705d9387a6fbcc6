--- Benchmark: resolving a distribution list of 50k roles for one user.
--
--     make all && LUA_PATH="build/lua5.4/?.lua;build/lua5.4/?/init.lua;spec/?.lua;bench/?.lua;;" \
--       LUA_CPATH="build/lua5.4/?.so;;" lua5.4 bench/contacts_bench.lua [ROLES] [REPS]
--
-- Builds a fresh file store through the public API (the M world's 200
-- tenants; ROLES roles, 50000 by default, of about 0.6 ROLES contacts;
-- 30% of the contacts and 10% of the roles owned by a tenant, 3% of the
-- roles inactive), one list of a tenant the user can read that reaches
-- every role by a tag (plus a few explicit members and exclusions), and a
-- user with full, read and hidden access to a third of the tenants each.
-- Then it times `db:resolve_list` for that user, min and median over REPS
-- runs (CPU time, os.clock), with and without de-duplication and paging,
-- against the first call after a change (the list is compiled from SQL
-- again: what a resolver without a cache pays on every call), and
-- `db:lists(user)`.  Target: the full resolution <= 20 ms.

local mandate = require "mandate"

local clock = os.clock
local fmt = string.format

local ROLES = tonumber(arg and arg[1]) or 50000
local REPS = tonumber(arg and arg[2]) or 15
local TENANTS = 200
-- MANDATE_GC=generational (Lua 5.4) or stop (to see the collector's share)
local GC = os.getenv("MANDATE_GC")
if GC == "generational" then pcall(collectgarbage, "generational") end

local function say(...)
  io.stdout:write(fmt(...), "\n")
  io.stdout:flush()
end

-- A Park-Miller generator: the same store on every Lua.
local seed = 20240601
local function rand(n)
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

local function build(db)
  local t0 = clock()
  db:transaction(function()
    for t = 1, TENANTS do db:put_tenant(fmt("t%03d", t)) end
    db:put_user("viewer", { label = "The viewer" })
    for t = 1, TENANTS do
      local access = ({ "full", "read", "hidden" })[t % 3 + 1]
      db:set_access("viewer", fmt("t%03d", t), access)
    end
    local contacts = math.floor(ROLES * 0.6)
    for c = 1, contacts do
      db:put_contact(fmt("c%06d", c), {
        label = fmt("Contact %d", c),
        tenant = rand(10) <= 3 and fmt("t%03d", rand(TENANTS)) or nil })
    end
    for r = 1, ROLES do
      local c = r <= contacts and r or rand(contacts)
      db:put_role(fmt("r%06d", r), {
        contact = fmt("c%06d", c), label = fmt("Role %d", r),
        channels = { email = fmt("p%d@example.com", rand(ROLES)),
                     postal = fmt("Street %d\n%05d Town", r, rand(99999)) },
        tags = { "press", ({ "tech", "politics", "food" })[rand(3)] },
        active = rand(100) > 3,
        tenant = rand(10) == 1 and fmt("t%03d", rand(TENANTS)) or nil })
    end
    -- t001: access index 1 % 3 + 1 = 2, read for the viewer
    db:put_list("big", { tenant = "t001", label = "Everybody",
                         tags = { "press" } })
    for r = 1, 50 do db:exclude_from_list("big", fmt("r%06d", r * 7)) end
  end)
  return clock() - t0
end

local function stats(times)
  table.sort(times)
  return times[1] * 1000, times[math.floor((#times + 1) / 2)] * 1000
end

-- min and median ms of f() over REPS runs, after one warm-up run
local function time(f, reps)
  reps = reps or REPS
  f()
  local times = {}
  for i = 1, reps do
    local t0 = clock()
    f()
    times[i] = clock() - t0
  end
  return stats(times)
end

local path = os.tmpname()
os.remove(path)
path = path .. ".db"
local db = assert(mandate.open(path))
say("mandate %s on %s; %d roles, %d tenants, %d repetitions", mandate.version,
    _VERSION, ROLES, TENANTS, REPS)
say("building the store through the public API: %.1f s", build(db))

if GC == "stop" then collectgarbage("collect"); collectgarbage("stop") end
local r = assert(db:resolve_list("big", "viewer"))
say("list 'big' for 'viewer' (%s access): %d roles addressed; left out: "
    .. "%d tenant_hidden, %d inactive; %d members in all",
    r.access, r.total, r.left_out.tenant_hidden, r.left_out.inactive,
    r.total + r.left_out.tenant_hidden + r.left_out.inactive)

local rows = {}
local function row(name, lo, med, note)
  rows[#rows + 1] = { name, lo, med, note or "" }
end

local bumps = 0
-- the list's own row changes: it is compiled again from SQL
local function recompile()
  bumps = bumps + 1
  assert(db:put_list("big", { label = "Everybody, change " .. bumps }))
end
-- one role joins the list (a new role with its tag): the list is patched
local function add_role()
  bumps = bumps + 1
  assert(db:put_role(fmt("n%06d", bumps), { contact = "c000001", tags = { "press" },
                                            channels = { email = fmt("n%d@example.com", bumps) } }))
end

row("`resolve_list(list, user)`", time(function()
  db:resolve_list("big", "viewer")
end))
local warm_min, warm_med = rows[1][2], rows[1][3]
row("`resolve_list`, `dedupe = \"contact\"`", time(function()
  db:resolve_list("big", "viewer", { dedupe = "contact" })
end))
row("`resolve_list`, `dedupe = \"email\"`", time(function()
  db:resolve_list("big", "viewer", { dedupe = "email" })
end))
local middle = r.roles[math.floor(#r.roles / 2)].role
row("`resolve_list`, a page: `limit = 100, after =` (middle)", time(function()
  db:resolve_list("big", "viewer", { limit = 100, after = middle })
end))
row("`lists(user)`: the counts of every visible list", time(function()
  db:lists("viewer")
end))
local added_min, added_med = time(function()
  add_role()
  db:resolve_list("big", "viewer")
end)
row("first `resolve_list` after one role is added to the list (patched)", added_min,
    added_med, "the write included")
local cold_min, cold_med = time(function()
  recompile()
  db:resolve_list("big", "viewer")
end, math.max(3, math.floor(REPS / 3)))
row("first `resolve_list` after the list's own row changes (compiled from SQL)",
    cold_min, cold_med, "what every call costs without the cache")
row("first `lists(user)` after one role is added", time(function()
  add_role()
  db:lists("viewer")
end))
db:close()
for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. suffix) end

say("")
say("| %d roles, one user | min | median | note |", ROLES)
say("|---|--:|--:|---|")
for _, x in ipairs(rows) do
  say("| %s | %.2f ms | %.2f ms | %s |", x[1], x[2], x[3], x[4])
end
say("")
say("target: resolve_list of %d roles <= 20 ms: min %.2f ms, median %.2f ms, %s",
    ROLES, warm_min, warm_med, warm_med <= 20 and "met" or "NOT met")
say("target: first resolve_list after one role is added to a %d-role list <= 20 ms:"
    .. " min %.2f ms, median %.2f ms, %s", ROLES, added_min, added_med,
    added_med <= 20 and "met" or "NOT met")
say("compiled from SQL on every call (no cache) would cost %.1fx (median)",
    cold_med / warm_med)
