-- Shared by the specs: GC modes, in-memory stores, a sample world, a dump
-- of every table, and assertions for rejected writes.
--
-- busted loads this file first (.busted: helper = spec/helpers.lua); specs
-- `require "helpers"` for the functions.  MANDATE_GC reruns the whole suite
-- under another collector:
--   MANDATE_GC=generational  collectgarbage("generational") (Lua 5.4)
--   MANDATE_GC=aggressive    collectgarbage("setpause", 0): a cycle after
--                            every allocation step, to flush lifetime bugs

local prim = require "primitives"   -- the test-only path to raw SQL
local luassert = require "luassert"
local mandate = require "mandate"

local helpers = {}

local gc = os.getenv("MANDATE_GC")
if gc == "generational" then
  pcall(collectgarbage, "generational")       -- 5.1-5.3 have no such mode
elseif gc == "aggressive" then
  collectgarbage("setpause", 0)               -- every Lua from 5.1 to 5.4
end

--- A new in-memory store.
function helpers.open()
  return assert(mandate.open(":memory:"))
end

--- A fresh file name for a store (the file does not exist yet).
function helpers.tmpname()
  local name = os.tmpname()
  os.remove(name)
  return name .. ".db"
end

--- Remove a file store with its WAL and shared-memory files.
function helpers.remove_store(path)
  os.remove(path)
  os.remove(path .. "-wal")
  os.remove(path .. "-shm")
end

--- The levels of the sample world, top to bottom.
helpers.LEVELS = { "country", "branch", "department", "team" }

--[[
A small world on db (a new in-memory store when nil):

  de (country, "Germany")
  +- hh (branch)
  |  +- hh-sales (department)
  |     +- hh-sales-a (team)     alice
  |  bob sits in hh-sales
  +- m (branch)
  lab (department, a root)
  carol has no unit and is inactive.

Tenants team-a (hidden by default) and common (read by default).
Rights documents.edit (scope, customer), documents.see (scope, read mode),
admin.open (flag), reports.create (flag, read mode).
Bundles inside-sales and admin; alice has an override, access rows and
manages customer ACME.
]]
function helpers.world(db)
  db = db or helpers.open()
  assert(db:set_levels(helpers.LEVELS))
  assert(db:put_unit("de", { level = "country", label = "Germany" }))
  assert(db:put_unit("hh", { level = "branch", parent = "de" }))
  assert(db:put_unit("hh-sales", { level = "department", parent = "hh" }))
  assert(db:put_unit("hh-sales-a", { level = "team", parent = "hh-sales" }))
  assert(db:put_unit("m", { level = "branch", parent = "de" }))
  assert(db:put_unit("lab", { level = "department" }))
  assert(db:put_tenant("team-a", { label = "Team A" }))
  assert(db:put_tenant("common", { default = "read" }))
  assert(db:put_right("documents.edit", { kind = "scope", customer = true,
                                          area = "Documents",
                                          label = "Edit documents" }))
  assert(db:put_right("documents.see", { kind = "scope", mode = "read" }))
  assert(db:put_right("admin.open", { kind = "flag" }))
  assert(db:put_right("reports.create", { kind = "flag", mode = "read" }))
  assert(db:put_bundle("inside-sales", { label = "Inside sales", rights = {
    ["documents.edit"] = "team", ["documents.see"] = "branch",
    ["admin.open"] = false, ["reports.create"] = true } }))
  assert(db:put_bundle("admin", { rights = { ["admin.open"] = true } }))
  assert(db:put_user("alice", { unit = "hh-sales-a",
                                bundles = { "inside-sales" } }))
  assert(db:put_user("bob", { unit = "hh-sales", label = "Bob",
                              bundles = { "inside-sales", "admin" } }))
  assert(db:put_user("carol", { active = false }))
  assert(db:set_override("alice", "documents.edit", "department+customer"))
  assert(db:set_access("alice", "team-a", "full"))
  assert(db:set_access("bob", "team-a", "read"))
  assert(db:assign_customer("alice", "ACME"))
  return db
end

-- Every table of the schema with an order that makes the dump stable.
local DUMP = {
  meta = "SELECT * FROM meta ORDER BY key",
  levels = "SELECT * FROM levels ORDER BY name",
  units = "SELECT * FROM units ORDER BY id",
  tenants = "SELECT * FROM tenants ORDER BY id",
  rights = "SELECT * FROM rights ORDER BY id",
  bundles = "SELECT * FROM bundles ORDER BY id",
  bundle_rights = "SELECT * FROM bundle_rights ORDER BY bundle_id, right_id",
  users = "SELECT * FROM users ORDER BY id",
  user_bundles = "SELECT * FROM user_bundles ORDER BY user_id, position",
  overrides = "SELECT * FROM overrides ORDER BY user_id, right_id",
  access = "SELECT * FROM access ORDER BY user_id, tenant_id",
  unit_access = "SELECT * FROM unit_access ORDER BY unit_id, tenant_id",
  customers = "SELECT * FROM customers ORDER BY id",
  account_managers = "SELECT * FROM account_managers"
                     .. " ORDER BY user_id, customer_id",
  audit = "SELECT * FROM audit ORDER BY id",
  revisions = "SELECT * FROM revisions ORDER BY revision",
  decisions = "SELECT * FROM decisions ORDER BY id",
  sqlite_sequence = "SELECT * FROM sqlite_sequence ORDER BY name",
}

-- What each schema after 5 added, undone (src/store/schema.c).
local UNDO = { [6] = "DROP TABLE unit_access", [7] = "DROP TABLE decisions" }
local NEWEST = 7

--- Take out of a store what the schemas after v (5 or later) added, for
-- specs that make an older store by hand.
function helpers.without_after(db, v)
  for n = NEWEST, v + 1, -1 do prim.exec(db, UNDO[n]) end
end

--- Give a store the audit of schema 3 (a time and an actor in every row,
-- no table of revisions) and nothing of later schemas, for specs that
-- make an older store by hand.
function helpers.audit_as_schema_3(db)
  helpers.without_after(db, 5)
  prim.exec(db, "CREATE TABLE audit_v3 (id INTEGER PRIMARY KEY,"
           .. " revision INTEGER NOT NULL, time TEXT NOT NULL, actor TEXT,"
           .. " op TEXT NOT NULL, subject TEXT NOT NULL, before TEXT, after TEXT) STRICT")
  prim.exec(db, "INSERT INTO audit_v3 SELECT a.id, a.revision, coalesce(a.time, r.time),"
           .. " CASE WHEN a.time IS NULL THEN r.actor ELSE a.actor END, a.op,"
           .. " a.subject, a.before, a.after"
           .. " FROM audit a LEFT JOIN revisions r ON r.revision = a.revision")
  prim.exec(db, "DROP TABLE audit")
  prim.exec(db, "DROP TABLE revisions")
  prim.exec(db, "ALTER TABLE audit_v3 RENAME TO audit")
  prim.exec(db, "CREATE INDEX audit_revision ON audit(revision)")
  prim.exec(db, "CREATE INDEX audit_subject ON audit(subject)")
  prim.exec(db, "CREATE INDEX audit_actor ON audit(actor)")
end

--- Every row of every table: {table = {row, ...}}.
function helpers.snapshot_rows(db)
  local dump = {}
  for name, sql in pairs(DUMP) do dump[name] = prim.rows(db, sql) end
  return dump
end

--- Every row of every table as snapshot_rows has it, the revisions
-- without their time: what two stores that made the same change at
-- different instants (a change and its plan applied) have alike.
function helpers.store_rows(db)
  local rows = helpers.snapshot_rows(db)
  for _, r in ipairs(rows.revisions) do r.time = nil end
  return rows
end

--- A plan's changes as {user, what, key, before, after} rows.
function helpers.change_list(plan)
  local out = {}
  for i, c in ipairs(plan:changes()) do
    out[i] = { c.user, c.what, c.key, c.before, c.after }
  end
  return out
end

local function strip_position(msg)
  return (msg:gsub("^[^\n]-:%d+: ", "", 1))
end

--[[
Assert that fn raises a string error whose text (without the position) is
exactly `expected`, that the position names the calling spec file (the
writer raised at level 2), and that db's tables are unchanged.
`expected` may also be {pattern = "..."} for a Lua pattern.
]]
function helpers.rejects(db, expected, fn)
  local before = helpers.snapshot_rows(db)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error, but the call succeeded")
  assert(type(err) == "string", "expected a string error, got " .. type(err))
  local where = err:match("^([^\n]-):%d+: ")
  assert(where and where:find("_spec%.lua$"),
         "the error should point at the spec, got: " .. err)
  local text = strip_position(err)
  if type(expected) == "table" then
    assert(text:find(expected.pattern),
           ("error %q does not match %q"):format(text, expected.pattern))
  else
    luassert.are.equal(expected, text)
  end
  luassert.are.same(before, helpers.snapshot_rows(db))
  return text
end

--- Run a shell command without the sanitizer's LD_PRELOAD (the tools it
-- runs are not built for it): its output, stderr included.
function helpers.sh(cmd)
  local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

--[[
Start Lua code in a child process of this spec's interpreter (MANDATE_LUA,
else the running one), with this process's package paths, and wait until
the code has created the file named by its local READY (it signals that
it is under way): returns the child {pid =, script =, ready =}.  Started as
the specs run: under make asan, with its LD_PRELOAD.
]]
function helpers.start_child(code)
  local lua = os.getenv("MANDATE_LUA") or (rawget(_G, "jit") and "luajit")
              or ("lua" .. _VERSION:match("%d+%.%d+"))
  local child = { script = os.tmpname() }
  child.ready = child.script .. ".ready"
  local f = assert(io.open(child.script, "w"))
  f:write(string.format("package.path = %q\npackage.cpath = %q\nlocal READY = %q\n",
                        package.path, package.cpath, child.ready), code)
  f:close()
  local p = assert(io.popen(lua .. " " .. child.script .. " >/dev/null 2>&1 & echo $!"))
  child.pid = p:read("*a"):match("%d+")
  p:close()
  assert(child.pid, "the child did not start")
  for _ = 1, 600 do                          -- wait until it is under way
    if io.open(child.ready) then break end
    helpers.sh("sleep 0.05")
  end
  assert(io.open(child.ready), "the child never got going")
  return child
end

--- Kill a child of start_child with SIGKILL, make sure it is gone, and
-- remove its files.
function helpers.kill_child(child)
  helpers.sh("kill -KILL " .. child.pid .. "; sleep 0.2")
  assert(not (io.open("/proc/" .. child.pid .. "/cmdline") and
              helpers.sh("cat /proc/" .. child.pid .. "/stat 2>/dev/null")
                :match("^%d+ %S+ [RS]")), "the child still runs")
  os.remove(child.script)
  os.remove(child.ready)
end

--- A file's bytes, or nil when it cannot be read.
function helpers.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Write text to a file (made or emptied).
function helpers.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The error text of fn without its position ("" when fn succeeds).
function helpers.error_of(fn)
  local ok, err = pcall(fn)
  if ok then return "" end
  return type(err) == "string" and strip_position(err) or err
end

return helpers
