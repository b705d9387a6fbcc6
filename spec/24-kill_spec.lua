-- A writer killed with SIGKILL inside a bulk transaction: the store holds
-- the last committed state, PRAGMA integrity_check passes, and nothing of
-- the killed change set (rows, audit rows, revision) is left.
local helpers = require "helpers"
local mandate = require "mandate"
local prim = require "primitives"

local LUA = os.getenv("MANDATE_LUA") or (rawget(_G, "jit") and "luajit")
            or ("lua" .. _VERSION:match("%d+%.%d+"))

local sh = helpers.sh

describe("a writer killed inside a bulk transaction", function()
  it("leaves the last committed state and a sound file", function()
    local path = helpers.tmpname()
    local db = assert(mandate.open(path))
    helpers.world(db)
    for i = 1, 200 do db:put_tenant("k" .. i, {}) end
    local revision, audited = db:revision(), #db:audit {}
    local before = helpers.snapshot_rows(db)
    db:close()
    -- the child writes set_access rows in one transaction and never ends
    local child = os.tmpname()
    local f = assert(io.open(child, "w"))
    f:write(string.format([[
      package.path = %q
      package.cpath = %q
      local db = assert(require("mandate").open(%q))
      db:transaction(function()
        for i = 1, 1e9 do
          db:set_access(i %% 2 == 0 and "alice" or "bob", "k" .. (i %% 200 + 1),
                        i %% 3 == 0 and "full" or "read")
          if i == 5000 then io.open(%q, "w"):close() end
        end
      end)
    ]], package.path, package.cpath, path, child .. ".ready"))
    f:close()
    -- started as the specs run (under make asan, with its LD_PRELOAD)
    local p = assert(io.popen(LUA .. " " .. child .. " >/dev/null 2>&1 & echo $!"))
    local pid = p:read("*a"):match("%d+")
    p:close()
    assert.truthy(pid)
    for _ = 1, 600 do                        -- wait until it is deep inside
      if io.open(child .. ".ready") then break end
      sh("sleep 0.05")
    end
    assert.truthy(io.open(child .. ".ready"), "the writer never got going")
    sh("kill -KILL " .. pid .. "; sleep 0.2")
    assert.falsy(io.open("/proc/" .. pid .. "/cmdline") and
                 sh("cat /proc/" .. pid .. "/stat 2>/dev/null"):match("^%d+ %S+ [RS]"),
                 "the writer still runs")
    db = assert(mandate.open(path))
    assert.equal("ok", prim.row(db, "PRAGMA integrity_check").integrity_check)
    assert.equal(revision, db:revision())
    assert.equal(audited, #db:audit {})
    assert.same(before, helpers.snapshot_rows(db))
    assert.is_true(db:set_access("alice", "k1", "full"))     -- and it goes on
    db:close()
    os.remove(child)
    os.remove(child .. ".ready")
    helpers.remove_store(path)
  end)
end)
