--- Benchmark: the all-bundles CSV round trip, 100 bundles x 100 rights.
--
--     make bench-csv      (or, after make all:
--     LUA_PATH="build/lua5.4/?.lua;build/lua5.4/?/init.lua;spec/?.lua;bench/?.lua;;" \
--       LUA_CPATH="build/lua5.4/?.so;;" lua5.4 bench/csv_bench.lua [REPS])
--
-- A file store with 100 rights (flags and scopes, some with a customer
-- part) and 100 bundles, each setting every right: 10,000 values.  Timed
-- (CPU time, os.clock, min and median of REPS runs):
--   - `db:export_bundles()`;
--   - `db:import_bundles(text, {create = true})` of that export into a
--     store with the same rights and no bundles: all 10,000 values
--     written (100 `put_bundle`, one transaction);
--   - the baseline: the same 10,000 values written into the same kind of
--     store by plain `db:set_bundle_right` calls (after a `put_bundle`
--     per bundle) in one `db:transaction`;
--   - the writes alone: the same values by 100 `db:put_bundle` calls in
--     one `db:transaction`, what the import makes after its checks;
--   - `db:import_bundles(text)` of the export into its own store: every
--     cell checked, nothing written.
-- Target (issue 15): export plus import of 100 bundles x 100 rights at
-- most 0.1 s.  Before timing, each import's store must export the very
-- text it imported.

local mandate = require "mandate"

local clock = os.clock
local fmt = string.format

local REPS = tonumber(arg and arg[1]) or 7
local RIGHTS, BUNDLES = 100, 100
local LEVELS = { "country", "branch", "department", "team" }
local SCOPES = { "none", "own", "team", "department", "branch", "country", "all" }

local function say(...)
  io.stdout:write(fmt(...), "\n")
  io.stdout:flush()
end

local rand = require("world").rng(20241208).int    -- the same store on every Lua

local dir = os.getenv("MANDATE_BENCH_DIR") or "build/bench"
os.execute("mkdir -p " .. dir)
local stores = 0

-- A new file store with the levels and the rights: a fresh name each time.
local function catalog()
  stores = stores + 1
  local path = fmt("%s/csv-%d.db", dir, stores)
  for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. suffix) end
  local db = assert(mandate.open(path))
  assert(db:transaction(function()
    db:set_levels(LEVELS)
    for r = 1, RIGHTS do
      local flag = r % 2 == 0
      db:put_right(fmt("right.%03d", r), { kind = flag and "flag" or "scope",
                                           customer = not flag and r % 3 == 0,
                                           area = fmt("Area %d", r % 7),
                                           label = fmt("Right number %d", r) })
    end
  end))
  return db, path
end

local function close(db, path)
  db:close()
  for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. suffix) end
end

-- every bundle's values, {bundle key = {right key = value}}, in key order
local values, keys = {}, {}
for b = 1, BUNDLES do
  local key = fmt("bundle-%03d", b)
  keys[b] = key
  local v = {}
  for r = 1, RIGHTS do
    if r % 2 == 0 then
      v[fmt("right.%03d", r)] = rand(2) == 1
    else
      local s = SCOPES[rand(#SCOPES)]
      if r % 3 == 0 and rand(2) == 1 then s = s .. "+customer" end
      v[fmt("right.%03d", r)] = s
    end
  end
  values[key] = v
end

local function put_bundles(db)
  assert(db:transaction(function()
    for _, key in ipairs(keys) do db:put_bundle(key, { rights = values[key] }) end
  end))
end

local source, source_path = catalog()
local t0 = clock()
put_bundles(source)
say("mandate %s on %s; %d bundles x %d rights, %d repetitions", mandate.version, _VERSION,
    BUNDLES, RIGHTS, REPS)
say("building the store through the public API: %.1f ms", (clock() - t0) * 1000)
local text = assert(source:export_bundles())

-- the store an import or the baseline wrote must export the same text
local function verify(db, what)
  if db:export_bundles() ~= text then
    io.stderr:write("csv_bench: ABORT: ", what, " did not write the exported values\n")
    os.exit(1)
  end
end

local function baseline(db)
  assert(db:transaction(function()
    for _, key in ipairs(keys) do
      db:put_bundle(key)
      for right, v in pairs(values[key]) do db:set_bundle_right(key, right, v) end
    end
  end))
end

local function import(db)
  assert(db:import_bundles(text, { create = true }))
end

-- min and median seconds of f(db) over REPS runs, each on a new store
-- with the catalog (made outside the timing), and a check of that store
local function time_on_catalog(f, what)
  local times = {}
  for i = 1, REPS do
    local db, path = catalog()
    collectgarbage()
    local t = clock()
    f(db)
    times[i] = clock() - t
    verify(db, what)
    close(db, path)
  end
  table.sort(times)
  return times[1], times[math.floor((#times + 1) / 2)]
end

local function time_it(f)
  local times = {}
  for i = 1, REPS do
    collectgarbage()
    local t = clock()
    f()
    times[i] = clock() - t
  end
  table.sort(times)
  return times[1], times[math.floor((#times + 1) / 2)]
end

local exp_min, exp_med = time_it(function() assert(source:export_bundles()) end)
local before = source:revision()
local same_min, same_med = time_it(function() assert(source:import_bundles(text)) end)
assert(source:revision() == before, "importing the export changed the store")
local imp_min, imp_med = time_on_catalog(import, "import_bundles")
local base_min, base_med = time_on_catalog(baseline, "the baseline")
local put_min, put_med = time_on_catalog(put_bundles, "put_bundle")
close(source, source_path)

local function ms(s) return fmt("%.2f ms", s * 1000) end

say("")
say("| %d bundles x %d rights (%d values, %d bytes of CSV) | min | median | note |",
    BUNDLES, RIGHTS, BUNDLES * RIGHTS, #text)
say("|---|--:|--:|---|")
say("| `export_bundles()` | %s | %s | |", ms(exp_min), ms(exp_med))
say("| `import_bundles(text, {create = true})` into a store without bundles | %s | %s | "
    .. "every value written: 100 `put_bundle` |", ms(imp_min), ms(imp_med))
say("| baseline: the same values by `set_bundle_right`, one transaction | %s | %s | "
    .. "import %.2fx the baseline (medians) |", ms(base_min), ms(base_med), imp_med / base_med)
say("| the writes alone: the same values by 100 `put_bundle`, one transaction | %s | %s | "
    .. "import %.2fx these writes (medians) |", ms(put_min), ms(put_med), imp_med / put_med)
say("| `import_bundles(text)` of the export into its own store | %s | %s | every cell "
    .. "checked, nothing written |", ms(same_min), ms(same_med))
say("")
local total = exp_med + imp_med
say("target: export plus import of %d bundles x %d rights <= 0.1 s: %s (medians), %s",
    BUNDLES, RIGHTS, ms(total), total <= 0.1 and "met" or "**missed**")
