-- A real nginx (Debian's nginx-light with the lua module, LuaJIT) serving
-- checks from a real SQLite file through examples/openresty/app.lua, while
-- this process, like an admin script, writes to the same file.
local helpers = require "helpers"

-- Outside tools (make, nginx, curl) run without the sanitizer runtime that
-- `make asan` preloads into this interpreter: they are not under test.
local function sh(cmd)
  local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function read_file(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
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

describe("mandate in nginx", function()
  local root = sh("pwd"):gsub("%s+$", "")
  local prefix, store, port, base

  local function get(path)
    local out = sh(("curl -s -m 5 -w '\\n%%{http_code}' '%s%s'"):format(base, path))
    local body, status = out:match("^(.*)\n(%d%d%d)$")
    return tonumber(status), body and body:gsub("%s+$", "")
  end

  setup(function()
    assert(sh("make -s all LUA=luajit LUAPKG=luajit") == "",
           "the LuaJIT build of the module is needed for nginx")
    prefix = os.tmpname()
    os.remove(prefix)
    assert(os.execute("mkdir -p " .. prefix .. "/tmp"))
    store = prefix .. "/crm.db"
    local db = assert(require("mandate").open(store))
    helpers.world(db)
    db:close()
    local conf = read_file(root .. "/examples/openresty/nginx.conf")
    local user = sh("id -un"):gsub("%s+$", "")
    -- a port of our own: retry when another process holds it
    for attempt = 1, 20 do
      port = 20000 + (tonumber(tostring(os.time()):sub(-4)) * 7 + attempt * 131) % 30000
      local f = assert(io.open(prefix .. "/nginx.conf", "w"))
      f:write((conf:gsub("@(%u+)@", { ROOT = root, PREFIX = prefix, PORT = port,
                                       STORE = store, USER = user })))
      f:close()
      local out = sh(("nginx -p %s -c %s/nginx.conf"):format(prefix, prefix))
      if not out:find("Address already in use") then
        assert(out == "" or not out:find("emerg"), out)
        break
      end
    end
    base = ("http://127.0.0.1:%d"):format(port)
    assert(eventually(function() return get("/check?user=alice&right=admin.open") ~= nil end, 5),
           "nginx did not answer: " .. read_file(prefix .. "/error.log"))
  end)

  teardown(function()
    if prefix then
      local pid = read_file(prefix .. "/nginx.pid"):match("%d+")
      if pid then
        sh("kill -QUIT " .. pid)
        eventually(function() return sh("kill -0 " .. pid) ~= "" end, 5)
      end
      sh("rm -rf " .. prefix)
    end
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
          local status, body = get("/check?" .. query(user, right, rec))
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
    assert.same({ 403, "denied: tenant_read_only" }, { get(path) })
    local db = assert(require("mandate").open(store))
    db:set_access("bob", "team-a", "full")
    db:close()
    assert.is_true(eventually(function() return get(path) == 200 end, 5))
  end)

  it("explains, and answers 400 to an unknown right or a missing argument", function()
    local status, body = get("/explain?" .. query("carol", "admin.open"))
    assert.equal(200, status)
    assert.matches("not active", body)
    status, body = get("/check?" .. query("alice", "documents.edti"))
    assert.equal(400, status)
    assert.matches("unknown right 'documents.edti'", body)
    assert.equal(400, (get("/check?user=alice")))
  end)
end)
