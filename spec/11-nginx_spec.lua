-- A real nginx (Debian's nginx-light with the lua module, LuaJIT) serving
-- checks from a real SQLite file through examples/openresty/app.lua, while
-- this process, like an admin script, writes to the same file.  Each
-- server is started and stopped with scripts/run-openresty-example (what
-- `make nginx-example` runs), and the spec verifies in /proc that every
-- nginx process it started is gone: it fails when one is left running.
local helpers = require "helpers"

-- Outside tools (make, nginx, curl) run without the sanitizer runtime that
-- `make asan` preloads into this interpreter: they are not under test.
local sh = helpers.sh

-- sh, and the command's exit status (io.popen's close does not tell on 5.1)
local function run(cmd)
  local out = sh(cmd .. " 2>&1; echo \"exit=$?\"")
  local text, status = out:match("^(.-)exit=(%d+)%s*$")
  return text, tonumber(status)
end

local function read_file(path)
  return helpers.read_file(path) or ""
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function query(user, right, record)
  local q = { "user=" .. urlencode(user), "right=" .. urlencode(right) }
  for _, k in ipairs { "tenant", "owner", "unit", "customer" } do
    if record and record[k] then q[#q + 1] = k .. "=" .. urlencode(record[k]) end
  end
  return table.concat(q, "&")
end

-- Wait (bounded) until pred() holds; returns whether it did.
local function eventually(pred, seconds)
  for _ = 1, seconds * 20 do
    if pred() then return true end
    sh("sleep 0.05")
  end
  return pred()
end

-- Processes, from /proc alone {{{

-- The pids of the live processes in process group pgid: nginx's master
-- (which made the group when it became a daemon) and its workers, also
-- those it starts while it is being stopped.
local function group(pgid)
  local out = sh([[sh -c 'for f in /proc/[0-9]*/stat; do read -r l <"$f" && echo "$l"; done' ]]
                 .. "2>/dev/null")
  local pids = {}
  for line in out:gmatch("[^\n]+") do
    local pid, state, pgrp = line:match("^(%d+) %(.*%) (%a) %d+ (%d+)")
    if pgrp == tostring(pgid) and state ~= "Z" then pids[#pids + 1] = pid end
  end
  return pids
end
-- }}}

local LUAJIT_BUILD = os.getenv("MANDATE_LUAJIT_BUILD") or "build/luajit"

--[[
Start the example on a port of its own, serving store: a server
{prefix =, port =, base =, error_log =}.  nginx's directory is a new
temporary one.
]]
local function start(store)
  local prefix = os.tmpname()
  os.remove(prefix)
  local env = ("EXAMPLE_PREFIX=%s EXAMPLE_STORE=%s EXAMPLE_SEED=no EXAMPLE_LOG=0.2 "
               .. "MANDATE_LUAJIT_BUILD=%s"):format(prefix, store, LUAJIT_BUILD)
  local port, out, status
  -- a port of our own: retry when another process holds it (status 3)
  for attempt = 1, 20 do
    port = 20000 + (tonumber(tostring(os.time()):sub(-4)) * 7 + attempt * 131) % 30000
    out, status = run(("%s scripts/run-openresty-example start %d"):format(env, port))
    if status ~= 3 then break end
  end
  assert(status == 0, "scripts/run-openresty-example start failed: " .. out)
  local server = { prefix = prefix, port = port, env = env,
                   base = ("http://127.0.0.1:%d"):format(port),
                   error_log = prefix .. "/error.log" }
  return server
end

--[[
Stop a server with `scripts/run-openresty-example stop` and verify that
its master and workers are gone (a zombie has exited: it only waits for
its parent to collect it).  Whatever is left is killed (the shell's own
kill: procps' /bin/kill may be missing), and the spec fails.
]]
local function stop(server)
  local master = read_file(server.prefix .. "/nginx.pid"):match("%d+")
  local out = run(server.env .. " scripts/run-openresty-example stop")
  local left = master and group(master) or {}
  if #left > 0 then sh("sh -c 'kill -KILL -" .. master .. "'") end
  sh("rm -rf " .. server.prefix)
  assert(master, "nginx wrote no pid file")
  assert(#left == 0, "nginx still ran after `run-openresty-example stop` (pids "
         .. table.concat(left, " ") .. "; killed): " .. out)
end

local function get(server, path)
  local out = sh(("curl -s -m 5 -w '\\n%%{http_code}' '%s%s'"):format(server.base, path))
  local body, status = out:match("^(.*)\n(%d%d%d)$")
  return tonumber(status), body and body:gsub("%s+$", "")
end

-- The lines of a server's error log that name the store.
local function store_log_lines(server)
  local n = 0
  for _ in read_file(server.error_log):gmatch("mandate: store [^\n]*") do n = n + 1 end
  return n
end

describe("mandate in nginx", function()
  local prefix, store, server

  setup(function()
    prefix = os.tmpname()
    os.remove(prefix)
    assert(os.execute("mkdir -p " .. prefix))
    store = prefix .. "/crm.db"
    local db = assert(require("mandate").open(store))
    helpers.world(db)
    db:close()
    server = start(store)
    assert(eventually(function() return get(server, "/check?user=alice&right=admin.open") ~= nil end, 5),
           "nginx did not answer: " .. read_file(server.error_log))
  end)

  teardown(function()
    if server then stop(server) end
    if prefix then sh("rm -rf " .. prefix) end
  end)

  it("answers every check exactly as db:check does", function()
    local db = assert(require("mandate").open(store))
    local records = {
      false, { tenant = "team-a", owner = "alice" }, { tenant = "team-a", owner = "bob" },
      { tenant = "common", owner = "bob", customer = "ACME" }, { owner = "nobody" },
      { unit = "lab" }, { tenant = "no-such-tenant" }, { customer = "ACME" },
    }
    local n = 0
    for _, user in ipairs { "alice", "bob", "carol", "nobody" } do
      for _, right in ipairs { "documents.edit", "documents.see", "admin.open" } do
        for _, rec in ipairs(records) do
          rec = rec or nil
          local ok, reason = db:check(user, right, rec)
          local status, body = get(server, "/check?" .. query(user, right, rec))
          if ok then
            assert.same({ 200, "allowed" }, { status, body })
          else
            assert.same({ 403, "denied: " .. reason }, { status, body })
          end
          n = n + 1
        end
      end
    end
    assert.equal(96, n)
    db:close()
  end)

  it("sees an admin script's commit within the refresh interval", function()
    local path = "/check?" .. query("bob", "documents.edit", { tenant = "team-a", owner = "bob" })
    assert.same({ 403, "denied: tenant_read_only" }, { get(server, path) })
    local db = assert(require("mandate").open(store))
    db:set_access("bob", "team-a", "full")
    db:close()
    assert.is_true(eventually(function() return get(server, path) == 200 end, 5))
  end)

  it("logs each worker's denials and flushes them from a timer", function()
    local path = "/check?" .. query("probe", "admin.open", { tenant = "team-a" })
    assert.same({ 403, "denied: unknown_user" }, { get(server, path) })
    local db = assert(require("mandate").open(store))
    assert.is_true(eventually(function()
      local rows = db:activity { user = "probe" }.rows
      return #rows == 1 and rows[1].reason == "unknown_user"
             and rows[1].tenant == "team-a"
    end, 5))
    db:close()
  end)

  it("explains, and answers 400 to an unknown right or a missing argument", function()
    local status, body = get(server, "/explain?" .. query("carol", "admin.open"))
    assert.equal(200, status)
    assert.matches("not active", body)
    status, body = get(server, "/check?" .. query("alice", "documents.edti"))
    assert.equal(400, status)
    assert.matches("unknown right 'documents.edti'", body)
    assert.equal(400, (get(server, "/check?user=alice")))
  end)

  it("answers 503 from the first request on when the store cannot be opened, "
     .. "and logs it once per worker", function()
    local bad = prefix .. "/not-a-store.db"
    local f = assert(io.open(bad, "w"))
    f:write(("not a SQLite database\n"):rep(20))
    f:close()
    local s = start(bad)
    local ok, err = pcall(function()
      assert(eventually(function() return get(s, "/check?user=a&right=b") ~= nil end, 5),
             "nginx did not answer: " .. read_file(s.error_log))
      for _ = 1, 5 do
        local status, body = get(s, "/check?" .. query("alice", "admin.open"))
        assert.equal(503, status)
        assert.matches("^store failure %(%a+%): .*not a database", body)
        status, body = get(s, "/explain?" .. query("alice", "admin.open"))
        assert.equal(503, status)
        assert.matches("^store failure %(%a+%): .*not a database", body)
      end
      -- two workers: each logs the failure once, not once per request
      local n = store_log_lines(s)
      assert(n >= 1 and n <= 2, "expected the failure logged once per worker, got "
             .. n .. " lines:\n" .. read_file(s.error_log))
      assert.not_matches("attempt to index", read_file(s.error_log))
    end)
    stop(s)
    assert(ok, err)
  end)

  it("answers 503 for a store that does not exist, and creates none", function()
    local missing = prefix .. "/no-such-store.db"
    local s = start(missing)
    local ok, err = pcall(function()
      assert(eventually(function() return get(s, "/check?user=a&right=b") ~= nil end, 5),
             "nginx did not answer: " .. read_file(s.error_log))
      for _ = 1, 3 do
        local status, body = get(s, "/check?" .. query("alice", "admin.open"))
        assert.equal(503, status)
        assert.matches("^store failure %(notfound%): ", body)
      end
      assert.is_nil(io.open(missing))
      local n = store_log_lines(s)
      assert(n >= 1 and n <= 2, "expected the failure logged once per worker, got "
             .. n .. " lines:\n" .. read_file(s.error_log))
    end)
    stop(s)
    assert(ok, err)
  end)
end)
