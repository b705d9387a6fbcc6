-- mandate.open: what a path may be, the readonly and create options, and
-- the rule that an open that refuses changes nothing in the file.
local helpers = require "helpers"
local mandate = require "mandate"

local bytes = helpers.read_file

local function exists(path)
  return bytes(path) ~= nil
end

local function sqlite(path, sql)
  local p = assert(io.popen("sqlite3 " .. path .. " \"" .. sql .. "\""))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function store_file()
  local path = helpers.tmpname()
  local db = assert(mandate.open(path))
  db:put_tenant("t", { default = "read" })
  db:put_right("r", { kind = "flag", mode = "read" })
  db:put_right("w", { kind = "flag" })
  db:put_user("u", {})
  db:set_override("u", "r", true)
  db:set_override("u", "w", true)
  db:close()
  return path
end

describe("mandate.open", function()
  it("refuses a path that is not a file name, naming it", function()
    for _, bad in ipairs({ "", "a\0b", 7, true, {} }) do
      assert.matches("^mandate%.open: path: expected a file name %(a non%-empty string without NUL%), "
                     .. "\":memory:\" or nil, got ",
                     helpers.error_of(function() mandate.open(bad) end))
    end
  end)

  it("refuses options it does not know, or of the wrong type", function()
    assert.equal("mandate.open: options: 'raedonly' is not an option (readonly, create)",
                 helpers.error_of(function() mandate.open(nil, { raedonly = true }) end))
    assert.equal("mandate.open: options.create: expected true or false, got 1",
                 helpers.error_of(function() mandate.open(nil, { create = 1 }) end))
    assert.equal("mandate.open: options: expected a table {readonly =, create =} or nil, got 'ro'",
                 helpers.error_of(function() mandate.open(nil, "ro") end))
    assert.equal("mandate.open: options.readonly: an in-memory store is always new and writable",
                 helpers.error_of(function() mandate.open(":memory:", { readonly = true }) end))
  end)

  it("with create = false, refuses a missing file and creates nothing", function()
    local path = helpers.tmpname()
    os.remove(path)
    local db, msg, code = mandate.open(path, { create = false })
    assert.is_nil(db)
    assert.equal(path .. ": no such store (and not to be created: create is false)", msg)
    assert.equal("notfound", code)
    assert.is_false(exists(path))
    -- an existing store opens as usual
    path = store_file()
    db = assert(mandate.open(path, { create = false }))
    assert.is_true(db:check("u", "r", { tenant = "t" }))
    db:close()
    helpers.remove_store(path)
  end)

  it("read-only: checks, readers and refresh work, every writer returns the store's error",
     function()
    local path = store_file()
    local before = bytes(path)
    local db = assert(mandate.open(path, { readonly = true }))
    local rev = db:revision()
    assert.is_true(db:check("u", "r", { tenant = "t" }))
    assert.same({ false, "tenant_read_only" }, { db:check("u", "w", { tenant = "t" }) })
    assert.equal("u", db:get_user("u").key)
    assert.is_true(db:refresh())
    local writes = {
      function() return db:put_user("v", {}) end,
      function() return db:set_access("u", "t", "full") end,
    }
    for _, w in ipairs(writes) do
      assert.same({ nil, "attempt to write a readonly database", "ioerr" }, { w() })
    end
    -- a transaction that writes nothing is no write; one that writes raises
    assert.is_true(db:transaction(function() end))
    local ok, err = pcall(db.transaction, db, function() db:put_user("v", {}) end)
    assert.is_false(ok)
    assert.equal("attempt to write a readonly database", err.message)
    assert.equal(rev, db:revision())
    db:close()
    assert.equal(before, bytes(path))
    -- a missing file is refused, not created
    os.remove(path .. ".missing")
    local none, msg, code = mandate.open(path .. ".missing", { readonly = true })
    assert.is_nil(none)
    assert.matches("no such store %(and not to be created: opened read%-only%)", msg)
    assert.equal("notfound", code)
    assert.is_false(exists(path .. ".missing"))
    helpers.remove_store(path)
  end)

  it("refuses a database of another application, changing nothing, unless create = true",
     function()
    local path = helpers.tmpname()
    os.remove(path)
    sqlite(path, "CREATE TABLE orders(id); INSERT INTO orders VALUES (1);")
    local before = bytes(path)
    local db, msg, code = mandate.open(path)
    assert.is_nil(db)
    assert.equal(path .. ": not a mandate store: it holds 1 table of another application "
                 .. "(the create option adds mandate's tables to it)", msg)
    assert.equal("invalid", code)
    assert.equal(before, bytes(path))
    assert.equal("delete", sqlite(path, "PRAGMA journal_mode"))
    assert.is_false(exists(path .. "-wal"))
    db = assert(mandate.open(path, { create = true }))
    db:put_tenant("t", {})
    db:close()
    assert.equal("1", sqlite(path, "SELECT count(*) FROM orders"))
    assert.equal("1", sqlite(path, "SELECT count(*) FROM tenants"))
    helpers.remove_store(path)
  end)

  it("refuses a newer schema or a foreign user_version, changing nothing", function()
    local path = helpers.tmpname()
    os.remove(path)
    sqlite(path, "CREATE TABLE x(a); PRAGMA user_version = 3;")
    local before = bytes(path)
    local db, msg, code = mandate.open(path, { create = true })
    assert.is_nil(db)
    assert.equal(path .. ": not a mandate store: its user_version is 3, and it has no table meta",
                 msg)
    assert.equal("invalid", code)
    assert.equal(before, bytes(path))
    os.remove(path)

    path = store_file()
    sqlite(path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 999;")
    before = bytes(path)
    db, msg = mandate.open(path)
    assert.is_nil(db)
    assert.matches("store schema version 999 is newer than this mandate", msg)
    assert.equal(before, bytes(path))
    assert.equal("delete", sqlite(path, "PRAGMA journal_mode"))
    helpers.remove_store(path)
  end)

  it("read-only refuses a store it would have to upgrade", function()
    local path = helpers.tmpname()
    os.remove(path)
    sqlite(path, "PRAGMA user_version = 0;")
    local db, msg = mandate.open(path, { readonly = true })
    assert.is_nil(db)
    assert.matches("is older than this mandate %(%d+%): open it writable once to upgrade it", msg)
    os.remove(path)
  end)
end)
