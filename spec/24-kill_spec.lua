-- A writer killed with SIGKILL inside a bulk transaction: the store holds
-- the last committed state, PRAGMA integrity_check passes, and nothing of
-- the killed change set (rows, audit rows, revision) is left.
local helpers = require "helpers"
local mandate = require "mandate"
local prim = require "primitives"

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
    local child = helpers.start_child(string.format([[
      local db = assert(require("mandate").open(%q))
      db:transaction(function()
        for i = 1, 1e9 do
          db:set_access(i %% 2 == 0 and "alice" or "bob", "k" .. (i %% 200 + 1),
                        i %% 3 == 0 and "full" or "read")
          if i == 5000 then io.open(READY, "w"):close() end
        end
      end)
    ]], path))
    helpers.kill_child(child)
    db = assert(mandate.open(path))
    assert.equal("ok", prim.row(db, "PRAGMA integrity_check").integrity_check)
    assert.equal(revision, db:revision())
    assert.equal(audited, #db:audit {})
    assert.same(before, helpers.snapshot_rows(db))
    assert.is_true(db:set_access("alice", "k1", "full"))     -- and it goes on
    db:close()
    helpers.remove_store(path)
  end)
end)
