-- Instructions per check, counted by callgrind: a figure that does not
-- move with the load of a shared machine.  `make bench-instructions` runs
-- this script once per mode under valgrind --tool=callgrind and divides
-- (mode - empty loop) by the number of iterations.
-- Usage: lua5.4 bench/instructions.lua MODE [N]
local mode, N = arg[1] or "none", tonumber(arg[2]) or 200000
local db, ids = require("hot_world")()
local uid, rid, tid, oid = ids.user, ids.right, ids.tenant, ids.owner
local record = { tenant = "crm", owner = "u7" }
local hidden = { tenant = "vault", owner = "u7" }
assert(db:check("u5", "documents.view", record))
assert(not db:check("u5", "documents.view", hidden))
-- the *_log modes: the decision log on (denials only, as by default)
if mode:find("_log$") then db:log_decisions {} end

local floor, check_ids, can = rawequal, db.check_ids, db:prepare("u5", "documents.view")
local loops = {
  none = function() for _ = 1, N do end end,
  -- the floor: a plain C function of the interpreter called with 3 arguments
  floor = function() for _ = 1, N do floor(uid, rid, tid) end end,
  check = function() for _ = 1, N do db:check("u5", "documents.view", record) end end,
  denied = function() for _ = 1, N do db:check("u5", "documents.view", hidden) end end,
  prepared = function() for _ = 1, N do can(record) end end,
  check_ids = function() for _ = 1, N do check_ids(db, uid, rid, tid, oid) end end,
}
loops.check_log, loops.denied_log = loops.check, loops.denied
assert(loops[mode], "mode: none, floor, check, prepared, check_ids, denied, "
       .. "check_log or denied_log")()
-- every mode ends without closing the store: its close would flush the
-- *_log modes' buffers, which no check pays for
os.exit(0)
