-- db:checker() against db:check_ids in a hot loop (1k users, one right):
-- shows what the FFI path buys on LuaJIT.  `make bench-checker LUA=luajit LUAPKG=luajit`
local db, id = require("hot_world")()
local uid, rid, tid = id.user, id.right, id.tenant
local N = 2000000
local function time(name, f)
  local best = math.huge
  for _ = 1, 5 do local t0 = os.clock(); f(); best = math.min(best, os.clock() - t0) end
  print(("%-22s %7.1f ns"):format(name, best / N * 1e9))
  return best
end
local floor = rawequal
-- on LuaJIT rawequal is compiled away: the ratios below mean something on PUC Lua only
local fl = time("floor rawequal(3)", function() for i = 1, N do floor(uid, rid, i) end end)
local ids = time("db:check_ids", function()
  for i = 1, N do db:check_ids(uid, rid, tid, (i % 1000) + 1) end
end)
local check = db:checker()
local ch = time("checker()", function() for i = 1, N do check(uid, rid, tid, (i % 1000) + 1) end end)
print(("%s: check_ids %.1fx floor, checker %.1fx floor (ffi: %s)"):format(_VERSION, ids / fl, ch / fl,
      tostring(require("mandate.fast").uses_ffi)))
