-- CSV both ways (issue 15, section 1): the dialect (mandate.csv), the
-- exports and imports of a store (mandate.sheets), their round trip on
-- random worlds whose keys and labels hold ; , " line breaks, leading
-- = + - @, non-ASCII text and empty cells, and one spec per error class
-- of every import, each naming the place and leaving every table as it
-- was.  What LibreOffice saves is read back in spec/26a-libreoffice_spec.lua.
local helpers = require "helpers"
local csv = require "mandate.csv"

local BOM = csv.BOM
local SEPS = { ";", ",", "\t" }
local ACCESS = { "full", "read", "hidden" }

-- A Park-Miller generator: the same cases on every Lua.
local function generator(seed)
  return function(n)
    seed = (seed * 16807) % 2147483647
    return seed % n + 1
  end
end

-- Pieces of random keys and labels: what a spreadsheet or a CSV reader
-- could take for something else.
local PIECES = { "a", "b", "Z", "0", "1.5", "1e5", "2024-03-01", " ", ";", ",", '"', "'",
                 "=", "+", "-", "@", "ä", "日本", "😀", "true", "TRUE", "(read)",
                 "sep=", "\\", "%", "=SUM(A1)" }
local LABEL_PIECES = { "\n", "\r\n", "\t", "\r" }   -- labels only: keys have no controls

local function random_text(rand, label)
  local parts = {}
  for i = 1, rand(4) do
    if label and rand(5) == 1 then
      parts[i] = LABEL_PIECES[rand(#LABEL_PIECES)]
    else
      parts[i] = PIECES[rand(#PIECES)]
    end
  end
  return table.concat(parts)
end

-- a key not used yet
local function fresh(rand, used)
  while true do
    local k = random_text(rand)
    if not used[k] then
      used[k] = true
      return k
    end
  end
end

local LEVELS = { "country", "branch", "team" }
local SCOPES = { "none", "own", "country", "branch", "team", "all" }

local function random_value(rand, right)
  if right.kind == "flag" then return rand(2) == 1 end
  local v = SCOPES[rand(#SCOPES)]
  if right.customer and rand(2) == 1 then v = v .. "+customer" end
  return v
end

--[[
A random world: levels, 3 to 10 rights (random kind, mode, customer part,
area and label or none), 1 to 5 bundles setting random values of about
two thirds of the rights, 1 to 4 tenants with random defaults, 1 to 5
users with random own rows on some tenants.
]]
local function random_world(rand)
  local db = helpers.open()
  local used = {}
  assert(db:transaction(function()
    db:set_levels(LEVELS)
    local rights = {}
    for i = 1, 2 + rand(8) do
      local kind = rand(2) == 1 and "flag" or "scope"
      local r = { key = fresh(rand, used), kind = kind,
                  customer = kind == "scope" and rand(2) == 1 }
      db:put_right(r.key, { kind = kind, mode = rand(2) == 1 and "read" or "write",
                            customer = r.customer,
                            area = rand(3) > 1 and random_text(rand, true) or nil,
                            label = rand(3) > 1 and random_text(rand, true) or nil })
      rights[i] = r
    end
    for _ = 1, rand(5) do
      local values = {}
      for _, r in ipairs(rights) do
        if rand(3) > 1 then values[r.key] = random_value(rand, r) end
      end
      db:put_bundle(fresh(rand, used), { rights = values })
    end
    local tenants = {}
    for i = 1, rand(4) do
      tenants[i] = fresh(rand, used)
      db:put_tenant(tenants[i], { default = ACCESS[rand(3)] })
    end
    for _ = 1, rand(5) do
      local u = fresh(rand, used)
      db:put_user(u)
      for _, t in ipairs(tenants) do
        if rand(2) == 1 then db:set_access(u, t, ACCESS[rand(3)]) end
      end
    end
  end))
  return db
end

-- A new store with db's levels, rights, tenants and users (without their
-- access rows), and no bundles.
local function catalog_of(db)
  local copy = helpers.open()
  assert(copy:transaction(function()
    copy:set_levels(db:levels())
    for _, r in ipairs(db:rights()) do
      copy:put_right(r.key, { kind = r.kind, mode = r.mode, customer = r.customer,
                              area = r.area, label = r.label })
    end
    for _, t in ipairs(db:tenants()) do copy:put_tenant(t.key, { default = t.default }) end
    for _, u in ipairs(db:users()) do copy:put_user(u.key) end
  end))
  return copy
end

local function rows_of(text, sep)
  local rows, lines = csv.decode(text, sep)
  assert(rows, lines)
  return rows, lines
end

describe("the CSV dialect", function()
  it("writes a BOM, ';', CRLF, quotes where needed and guards formulas", function()
    local text = csv.encode({ { "right", "a;b", 'say "hi"', "two\nlines", "" },
                              { "=1+1", "+x", "-x", "@x", "\tx", "\rx", "'x", "it's" } }, ";")
    assert.are.equal(BOM .. 'right;"a;b";"say ""hi""";"two\nlines";\r\n'
                     .. "'=1+1;'+x;'-x;'@x;'\tx;\"'\rx\";''x;it's\r\n", text)
    assert.are.equal(BOM .. 'a,"b,c",d;e\r\n', csv.encode({ { "a", "b,c", "d;e" } }, ","))
    assert.are.equal(BOM .. 'a\t"b\tc"\r\n', csv.encode({ { "a", "b\tc" } }, "\t"))
    assert.are.equal(BOM .. '""\r\nx\r\n', csv.encode({ { "" }, { "x" } }, ";"))
  end)

  it("reads a BOM or none, CRLF, LF or CR, quoted breaks, doubled quotes; skips empty lines",
     function()
    local want = { { "right", "a;b", 'say "hi"', "two\r\nlines" }, { "x", "", "", "=y" } }
    for _, text in ipairs({
      BOM .. 'right;"a;b";"say ""hi""";"two\r\nlines"\r\nx;;;\'=y\r\n',
      'right;"a;b";"say ""hi""";"two\r\nlines"\nx;;;\'=y',
      'right;"a;b";"say ""hi""";"two\r\nlines"\rx;;;\'=y\r',
      '\r\nright;"a;b";"say ""hi""";"two\r\nlines"\n\n\r\nx;;;\'=y\n\n',
    }) do
      local rows, _, sep = csv.decode(text)
      assert.are.same(want, rows)
      assert.are.equal(";", sep)
    end
  end)

  it("numbers the lines a row begins on, counting quoted breaks", function()
    local _, lines = rows_of('h;i\r\n"a\nb\nc";x\r\n\r\nd;e\r\n')
    assert.are.same({ 1, 2, 6 }, lines)
  end)

  it("detects the separator: the first of ; , tab in the header, outside quotes", function()
    assert.are.equal(",", select(3, csv.decode("right,a;b;c;d\r\n")))
    assert.are.equal("\t", select(3, csv.decode('"right,;"\ta,b\r\n')))
    assert.are.equal(";", select(3, csv.decode("right\r\n")))
    local rows = rows_of("user,\"a;b\",c\r\n")
    assert.are.same({ { "user", "a;b", "c" } }, rows)
  end)

  it("refuses what is not CSV, naming the line", function()
    assert.are.same({ nil, "line 2: a quoted cell is never closed (its closing \" is missing)" },
                    { csv.decode('a;b\r\n"c;d\r\n') })
    assert.are.same({ nil, "line 3: text follows the closing quote of a quoted cell (a quote "
                           .. "inside a quoted cell is written twice: \"\")" },
                    { csv.decode('a;b\r\n"c\nd"x;e\r\n') })
    local _, message = csv.decode("a;b\r\nc;d\r\ne;\228\r\n")
    assert.are.equal("line 3: the text is not valid UTF-8 (save the file as UTF-8: in Excel "
                     .. "\"CSV UTF-8\", in LibreOffice the character set \"Unicode (UTF-8)\")",
                     message)
  end)

  it("reads back what it writes: random cells, every separator", function()
    local rand = generator(2615)
    local any = { "a", "", ";", ",", "\t", '"', "'", "\r", "\n", "\r\n", "=", "+", "-", "@",
                  " ", "ä", "😀", "\0" }
    for _ = 1, 300 do
      local rows = {}
      for r = 1, rand(4) do
        rows[r] = {}
        for c = 1, rand(4) do
          local parts = {}
          for i = 1, rand(4) - 1 do parts[i] = any[rand(#any)] end
          rows[r][c] = table.concat(parts)
        end
      end
      local has_cr = false
      for _, row in ipairs(rows) do
        for _, cell in ipairs(row) do has_cr = has_cr or cell:find("\r", 1, true) ~= nil end
      end
      for _, sep in ipairs(SEPS) do
        local text = csv.encode(rows, sep)
        assert.are.same(rows, (csv.decode(text, sep)))
        if not has_cr then        -- no BOM, LF line ends
          assert.are.same(rows, (csv.decode(text:sub(4):gsub("\r\n", "\n"), sep)))
        end
      end
    end
  end)
end)

describe("the exports", function()
  it("export_bundles: a row per right in catalog order, a column per bundle", function()
    local db = helpers.world()
    assert.are.equal(BOM .. "right;area;label;kind;mode;admin;inside-sales\r\n"
      .. "documents.edit;Documents;Edit documents;scope;write;;team\r\n"
      .. "documents.see;;;scope;read;;branch\r\n"
      .. "admin.open;;;flag;write;true;false\r\n"
      .. "reports.create;;;flag;read;;true\r\n", db:export_bundles())
    assert.are.equal(BOM .. "right,area,label,kind,mode,admin,inside-sales\r\n"
      .. "documents.edit,Documents,Edit documents,scope,write,,team\r\n",
      db:export_bundles({ sep = "," }):match("^[^\n]*\n[^\n]*\n"))
    assert.are.equal(BOM .. "right\tarea\tlabel\tkind\tmode\tadmin\tinside-sales\r\n",
                     db:export_bundles({ sep = "\t" }):match("^[^\n]*\n"))
  end)

  it("export_user: the user's rights table, as db:effective gives it", function()
    local db = helpers.world()
    assert.are.equal(BOM .. "right;area;label;kind;inside-sales;override;effective;source\r\n"
      .. "documents.edit;Documents;Edit documents;scope;team;department+customer;"
      .. "department+customer;override\r\n"
      .. "documents.see;;;scope;branch;;branch;bundles\r\n"
      .. "admin.open;;;flag;false;;false;bundles\r\n"
      .. "reports.create;;;flag;true;;true;bundles\r\n", db:export_user("alice"))
    assert.are.equal(BOM .. "right;area;label;kind;inside-sales;admin;override;effective;source\r\n"
      .. "documents.edit;Documents;Edit documents;scope;team;none;;team;bundles\r\n",
      db:export_user("bob"):match("^[^\n]*\n[^\n]*\n"))
    assert.are.equal(BOM .. "right;area;label;kind;override;effective;source\r\n"
      .. "documents.edit;Documents;Edit documents;scope;;none;inactive\r\n",
      db:export_user("carol"):match("^[^\n]*\n[^\n]*\n"))
    assert.are.same({ nil, "export_user: unknown user 'zz'", "notfound" },
                    { db:export_user("zz") })
  end)

  it("export_access: own rows as they are, the tenant's default in parentheses", function()
    local db = helpers.world()
    assert.are.equal(BOM .. "user;common;team-a\r\n"
      .. "alice;(read);full\r\n"
      .. "bob;(read);read\r\n"
      .. "carol;(read);(hidden)\r\n", db:export_access())
  end)

  it("write opts.file and return true, or nil, message, 'ioerr'", function()
    local db = helpers.world()
    local path = os.tmpname()
    for _, export in ipairs({ "export_bundles", "export_access" }) do
      assert.is_true(db[export](db, { file = path, sep = "," }))
      assert.are.equal(db[export](db, { sep = "," }), helpers.read_file(path))
    end
    assert.is_true(db:export_user("bob", { file = path }))
    assert.are.equal(db:export_user("bob"), helpers.read_file(path))
    os.remove(path)
    local ok, message, code = db:export_bundles({ file = "/nonexistent/dir/x.csv" })
    assert.is_nil(ok)
    assert.are.equal("export_bundles: /nonexistent/dir/x.csv: No such file or directory", message)
    assert.are.equal("ioerr", code)
  end)

  it("raise for bad options", function()
    local db = helpers.world()
    assert.are.equal("export_bundles: options.sep: '|' is not a separator (allowed: ';', ',' "
                     .. "or '\\t')", helpers.error_of(function() db:export_bundles({ sep = "|" }) end))
    assert.are.equal("export_access: options.delimiter: unknown option (allowed: sep, file)",
                     helpers.error_of(function() db:export_access({ delimiter = ";" }) end))
    assert.are.equal("export_user: options.file: expected a file name (a non-empty string "
                     .. "without NUL), got ''",
                     helpers.error_of(function() db:export_user("bob", { file = "" }) end))
    assert.are.equal("export_user: user: expected a string key, got nil",
                     helpers.error_of(function() db:export_user() end))
  end)
end)

describe("the imports", function()
  it("import_bundles: what was exported changes nothing, not even the revision", function()
    local db = helpers.world()
    local text = db:export_bundles()
    local before = helpers.snapshot_rows(db)
    assert.is_true(db:import_bundles(text))
    assert.are.same(before, helpers.snapshot_rows(db))
  end)

  it("import_bundles: sets, clears and creates, one put_bundle per changed bundle, one revision",
     function()
    local db = helpers.world()
    local revision = db:revision()
    assert.is_true(db:import_bundles("right,area,label,kind,mode,inside-sales,new\r\n"
      .. "documents.edit,,,,,none+customer,\r\n"
      .. "admin.open,,,,,TRUE,False\r\n"
      .. "reports.create,,,,,,true\r\n", { create = true }))
    assert.are.equal(revision + 1, db:revision())
    assert.are.same({ ["documents.edit"] = "customer", ["documents.see"] = "branch",
                      ["admin.open"] = true }, db:get_bundle("inside-sales").rights)
    assert.are.same({ ["admin.open"] = false, ["reports.create"] = true },
                    db:get_bundle("new").rights)
    assert.are.same({ ["admin.open"] = true }, db:get_bundle("admin").rights)
    local audit = db:audit({ since = revision })
    assert.are.equal(2, #audit)
    for _, row in ipairs(audit) do assert.are.equal("put_bundle", row.op) end
  end)

  it("import_bundles {replace = true}: rights missing from the file lose their values", function()
    local db = helpers.world()
    local text = "right;area;label;kind;mode;inside-sales\r\nadmin.open;;;;;true\r\n"
    assert.is_true(db:import_bundles(text, { replace = true }))
    assert.are.same({ ["admin.open"] = true }, db:get_bundle("inside-sales").rights)
    assert.are.same({ ["admin.open"] = true }, db:get_bundle("admin").rights)
  end)

  it("import_access: sets and clears own rows; the default's form clears", function()
    local db = helpers.world()
    local before = helpers.snapshot_rows(db)
    assert.is_true(db:import_access(db:export_access()))
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.is_true(db:import_access("user\tteam-a\tcommon\r\n"
      .. "alice\t(hidden)\tfull\r\nbob\t\t(read)\r\ncarol\thidden\t\r\n"))
    assert.are.same({ common = "full" }, db:access_of("alice"))
    assert.are.same({}, db:access_of("bob"))
    assert.are.same({ ["team-a"] = "hidden" }, db:access_of("carol"))
  end)

  it("read {file = path}; a file that cannot be read is nil, message, 'ioerr'", function()
    local db = helpers.world()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("right;area;label;kind;mode;admin\nreports.create;;;;;true\n")
    f:close()
    assert.is_true(db:import_bundles({ file = path }))
    assert.is_true(db:get_bundle("admin").rights["reports.create"])
    os.remove(path)
    assert.are.same({ nil, "import_access: " .. path .. ": No such file or directory", "ioerr" },
                    { db:import_access({ file = path }) })
  end)

  it("are one transaction inside another: rolled back with it", function()
    local db = helpers.world()
    local before = helpers.snapshot_rows(db)
    assert.has_error(function()
      db:transaction(function()
        assert(db:import_bundles("right;area;label;kind;mode;admin\nreports.create;;;;;true\n"))
        assert(db:import_access("user;common\nbob;full\n"))
        error("changed my mind", 0)
      end)
    end, "changed my mind")
    assert.are.same(before, helpers.snapshot_rows(db))
  end)
end)

local store_rows, change_list = helpers.store_rows, helpers.change_list

describe("the imports' dry runs", function()
  local BUNDLES_CSV = "right;area;label;kind;mode;inside-sales\r\n"
    .. "admin.open;;;;;true\r\ndocuments.see;;;;;department\r\n"
  local ACCESS_CSV = "user;common;team-a\r\nbob;hidden;\r\ncarol;full;(hidden)\r\n"

  it("return the plan of the import and write nothing; apply() imports", function()
    local db, real = helpers.world(), helpers.world()
    local before = helpers.snapshot_rows(db)
    local plan = db:import_bundles(BUNDLES_CSV, { dry_run = true })
    assert.are.same(before, helpers.snapshot_rows(db))
    local same_writes = db:plan(function(d)       -- what the import writes, by hand
      assert(d:set_bundle_right("inside-sales", "admin.open", true))
      assert(d:set_bundle_right("inside-sales", "documents.see", "department"))
    end)
    assert.are.same(change_list(same_writes), change_list(plan))
    assert.are.equal(3, #plan:changes())
    assert.are.equal(plan:text(), same_writes:text())
    assert.are.equal(db:revision(), plan.revision)
    local access = db:import_access(ACCESS_CSV, { dry_run = true })
    assert.are.same(before, helpers.snapshot_rows(db))
    assert.are.same({
      { "bob", "access", "common", "read", "hidden" },
      { "bob", "access", "team-a", "read", "hidden" },
      { "carol", "access", "common", "read", "full" },
    }, change_list(access))
    assert.is_true(plan:apply())
    assert.is_true(real:import_bundles(BUNDLES_CSV))
    assert.are.same(store_rows(real), store_rows(db))
    assert.has_error(function() access:apply() end, "plan:apply: the store is at revision "
      .. db:revision() .. ", the plan was made at revision " .. access.revision
      .. ": nothing was written (make a new plan)")
    assert.is_true(db:import_access(ACCESS_CSV, { dry_run = true }):apply())
    assert.is_true(real:import_access(ACCESS_CSV))
    assert.are.same(store_rows(real), store_rows(db))
  end)

  it("refuse a bad source as the import does, writing nothing", function()
    local db = helpers.world()
    helpers.rejects(db, "import_bundles: source: line 2, column 6 (bundle 'inside-sales'): "
      .. "'yes' is not a value of flag right 'admin.open' (allowed: true, false)", function()
        db:import_bundles(BUNDLES_CSV:gsub(";true", ";yes"), { dry_run = true })
      end)
    helpers.rejects(db, "import_access: source: line 2: 'bobby' is not a user (db:users() "
      .. "lists them; put_user creates users, an import does not)", function()
        db:import_access(ACCESS_CSV:gsub("bob", "bobby"), { dry_run = true })
      end)
  end)
end)

describe("export, import, export on random worlds", function()
  for _, sep in ipairs(SEPS) do
    it("gives the same bytes, sep " .. string.format("%q", sep), function()
      for case = 1, 25 do
        local rand = generator(case * 7919 + #sep)
        local db = random_world(rand)
        local bundles, access = db:export_bundles({ sep = sep }), db:export_access({ sep = sep })
        local before = helpers.snapshot_rows(db)
        assert.is_true(db:import_bundles(bundles))
        assert.is_true(db:import_access(access, { sep = sep }))
        assert.are.same(before, helpers.snapshot_rows(db))
        assert.are.equal(bundles, db:export_bundles({ sep = sep }))
        assert.are.equal(access, db:export_access({ sep = sep }))
        -- into a store that has the catalog, users and tenants only
        local copy = catalog_of(db)
        assert.is_true(copy:import_bundles(bundles, { create = true }))
        assert.is_true(copy:import_access(access))
        assert.are.equal(bundles, copy:export_bundles({ sep = sep }))
        assert.are.equal(access, copy:export_access({ sep = sep }))
      end
    end)
  end

  it("reads back every cell changed at random, in the store's own text", function()
    for case = 1, 25 do
      local rand = generator(case * 104729)
      local db = random_world(rand)
      local rights = {}
      for _, r in ipairs(db:rights()) do rights[r.key] = r end
      local rows = rows_of(db:export_bundles())
      local want = rows_of(db:export_bundles())
      for i = 2, #rows do
        local r = rights[rows[i][1]]
        for c = 6, #rows[i] do
          if rand(2) == 1 then
            if rand(4) == 1 then
              rows[i][c], want[i][c] = "", ""
            else
              local v = tostring(random_value(rand, r))
              want[i][c] = v == "none+customer" and "customer" or v   -- the canonical text
              if r.kind == "flag" and rand(2) == 1 then v = v:upper() end
              rows[i][c] = v
            end
          end
        end
      end
      assert.is_true(db:import_bundles(csv.encode(rows, ",")))
      assert.are.equal(csv.encode(want, ";"), db:export_bundles())

      local defaults = {}
      for _, t in ipairs(db:tenants()) do defaults[t.key] = t.default end
      rows = rows_of(db:export_access())
      want = rows_of(db:export_access())
      for i = 2, #rows do
        for c = 2, #rows[i] do
          local default = "(" .. defaults[rows[1][c]] .. ")"
          local pick = rand(5)
          if pick <= 3 then
            rows[i][c], want[i][c] = ACCESS[pick], ACCESS[pick]
          elseif pick == 4 then
            rows[i][c], want[i][c] = "", default
          else
            rows[i][c], want[i][c] = default, default
          end
        end
      end
      assert.is_true(db:import_access(csv.encode(rows, "\t")))
      assert.are.equal(csv.encode(want, ";"), db:export_access())
    end
  end)
end)

-- helpers.rejects: the error (without its position) is exactly the text,
-- it points at this spec, and every table is as it was.
describe("import_bundles refuses, names the place and writes nothing:", function()
  local HEADER = "right;area;label;kind;mode;admin;inside-sales\r\n"
  local BODY = "documents.edit;Documents;Edit documents;scope;write;;team\r\n"
    .. "documents.see;;;scope;read;;branch\r\n"
    .. "admin.open;;;flag;write;true;false\r\n"
    .. "reports.create;;;flag;read;;true\r\n"
  local PREFIX = "import_bundles: source: "

  local function refuses(expected, text, opts)
    local db = helpers.world()
    helpers.rejects(db, PREFIX .. expected, function() db:import_bundles(text, opts) end)
  end

  it("a bad value", function()
    refuses("line 2, column 7 (bundle 'inside-sales'): 'tem' is not a value of scope right "
            .. "'documents.edit' (allowed: none, own, team, department, branch, country, all, "
            .. "each optionally with +customer)", HEADER .. BODY:gsub("team", "tem"))
    refuses("line 4, column 6 (bundle 'admin'): 'yes' is not a value of flag right "
            .. "'admin.open' (allowed: true, false)", HEADER .. BODY:gsub(";true;", ";yes;"))
    refuses("line 3, column 7 (bundle 'inside-sales'): 'branch+customer' is not a value of "
            .. "scope right 'documents.see': it has no customer part (allowed: none, own, team, "
            .. "department, branch, country, all; put_right with customer = true to allow "
            .. "+customer)", HEADER .. BODY:gsub(";branch", ";branch+customer"))
  end)

  it("an unknown right", function()
    refuses("line 6: 'zz' is not a right (db:rights() lists them; put_right creates rights, "
            .. "an import does not)", HEADER .. BODY .. "zz;;;;;;\r\n")
  end)

  it("an unknown bundle, unless {create = true}", function()
    refuses("line 1, column 8: 'neu' is not a bundle (db:bundles() lists them; pass "
            .. "{create = true} to create it)", HEADER:gsub("\r\n", ";neu\r\n")
            .. BODY:gsub("\r\n", ";\r\n"))
    refuses("line 1, column 6: '' is empty (keys are 1 to 200 bytes of UTF-8 text without "
            .. "control characters)", "right;area;label;kind;mode;\r\nadmin.open;;;;;true\r\n",
            { create = true })
  end)

  it("a duplicate column, a duplicate right, a header that is not the table's", function()
    refuses("line 1, column 7: 'admin' is already column 6 (each once)",
            HEADER:gsub("inside%-sales", "admin") .. BODY)
    refuses("line 6: right 'admin.open' is already on line 4 (each right once)",
            HEADER .. BODY .. "admin.open;;;;;;\r\n")
    refuses("line 1, column 2: 'lable' is not 'area' (the columns are right, area, label, "
            .. "kind, mode, then one column per bundle)", HEADER:gsub("area", "lable") .. BODY)
    refuses("3 problems, nothing was written:\n"
            .. "line 1, column 4: missing, expected 'kind' (the columns are right, area, label, "
            .. "kind, mode, then one column per bundle)\n"
            .. "line 1, column 5: missing, expected 'mode' (the columns are right, area, label, "
            .. "kind, mode, then one column per bundle)\n"
            .. "line 2: 5 cells, but the header has 3 (each row has one cell per column)",
            "right;area;label\r\nadmin.open;;;;true\r\n")
  end)

  it("a ragged row", function()
    refuses("line 3: 6 cells, but the header has 7 (each row has one cell per column)",
            HEADER .. BODY:gsub(";;;scope;read;", ";;scope;read;", 1))
    refuses("line 5: 8 cells, but the header has 7 (each row has one cell per column)",
            HEADER .. BODY:gsub("read;;true", "read;;true;"))
  end)

  it("bad encoding: text that is not UTF-8", function()
    refuses("line 3: the text is not valid UTF-8 (save the file as UTF-8: in Excel \"CSV "
            .. "UTF-8\", in LibreOffice the character set \"Unicode (UTF-8)\")",
            HEADER .. BODY:gsub(";;;scope;read", ";;\228;scope;read", 1))
  end)

  it("an empty file", function()
    for _, text in ipairs({ "", BOM, "\r\n\r\n", BOM .. "\n" }) do
      refuses("there is no header line, the CSV is empty (expected the columns right, area, "
              .. "label, kind, mode, then one column per bundle)", text)
    end
  end)

  it("text that is not CSV", function()
    refuses("line 3: a quoted cell is never closed (its closing \" is missing)",
            HEADER .. BODY:gsub(";;;scope;read", ';;"x;scope;read', 1))
  end)

  it("every bad cell, up to 20, and how many there are", function()
    local text = HEADER .. BODY:gsub("team", "x"):gsub("branch", "x"):gsub("true", "x")
    for i = 1, 25 do text = text .. "nope" .. i .. ";;;;;;\r\n" end
    local db = helpers.world()
    local message = helpers.rejects(db, { pattern = "^" .. PREFIX:gsub("%p", "%%%0")
                                          .. "29 problems, nothing was written %(the first 20 "
                                          .. "shown%):\n" }, function() db:import_bundles(text) end)
    local lines = {}
    for line in message:gmatch("\n([^\n]*)") do lines[#lines + 1] = line end
    assert.are.equal(20, #lines)
    assert.truthy(lines[1]:find("^line 2, column 7 %(bundle 'inside%-sales'%): 'x' is not"))
    assert.truthy(lines[4]:find("^line 5, column 7 "))
    assert.are.equal("line 6: 'nope1' is not a right (db:rights() lists them; put_right "
                     .. "creates rights, an import does not)", lines[5])
    assert.truthy(lines[20]:find("^line 21: 'nope16' is not a right"))
  end)

  it("bad arguments", function()
    local db = helpers.world()
    helpers.rejects(db, "import_bundles: source: expected CSV text or {file = path}, got 42",
                    function() db:import_bundles(42) end)
    helpers.rejects(db, "import_bundles: source.file: expected a file name (a non-empty string "
                    .. "without NUL), got nil", function() db:import_bundles({}) end)
    helpers.rejects(db, "import_bundles: options.create: expected true or false, got 'yes'",
                    function() db:import_bundles(HEADER, { create = "yes" }) end)
    helpers.rejects(db, "import_bundles: options.dry: unknown option (allowed: sep, create, "
                    .. "replace, dry_run)", function() db:import_bundles(HEADER, { dry = true }) end)
    helpers.rejects(db, "import_access: options.dry_run: expected true or false, got 1",
                    function() db:import_access("user\r\n", { dry_run = 1 }) end)
  end)
end)

describe("import_access refuses, names the place and writes nothing:", function()
  local TEXT = "user;common;team-a\r\nalice;(read);full\r\nbob;(read);read\r\n"
    .. "carol;(read);(hidden)\r\n"
  local PREFIX = "import_access: source: "

  local function refuses(expected, text)
    local db = helpers.world()
    helpers.rejects(db, PREFIX .. expected, function() db:import_access(text) end)
  end

  it("a bad value", function()
    refuses("line 3, column 3 (tenant 'team-a'): 'fulll' is not an access (allowed: full, "
            .. "read, hidden; empty or '(hidden)' for the tenant's default)",
            TEXT:gsub("bob;%(read%);read", "bob;(read);fulll"))
    refuses("line 2, column 2 (tenant 'common'): '(full)' is not an access (allowed: full, "
            .. "read, hidden; empty or '(read)' for the tenant's default)",
            TEXT:gsub("alice;%(read%)", "alice;(full)"))
  end)

  it("an unknown user", function()
    refuses("line 5: 'dave' is not a user (db:users() lists them; put_user creates users, an "
            .. "import does not)", TEXT .. "dave;full;full\r\n")
  end)

  it("an unknown tenant", function()
    refuses("line 1, column 4: 'team-b' is not a tenant (db:tenants() lists them; put_tenant "
            .. "creates tenants, an import does not)", TEXT:gsub("\r\n", ";\r\n"):gsub(";\r\n",
            ";team-b\r\n", 1))
  end)

  it("a duplicate column, a duplicate user, a header that is not the table's", function()
    refuses("line 1, column 3: 'common' is already column 2 (each once)",
            TEXT:gsub("team%-a\r\n", "common\r\n", 1))
    refuses("line 5: user 'bob' is already on line 3 (each user once)", TEXT .. "bob;;\r\n")
    refuses("line 1, column 1: 'users' is not 'user' (the columns are user, then one column "
            .. "per tenant)", TEXT:gsub("^user", "users"))
  end)

  it("a ragged row", function()
    refuses("line 4: 2 cells, but the header has 3 (each row has one cell per column)",
            TEXT:gsub("carol;%(read%);", "carol;"))
  end)

  it("bad encoding: text that is not UTF-8", function()
    refuses("line 2: the text is not valid UTF-8 (save the file as UTF-8: in Excel \"CSV "
            .. "UTF-8\", in LibreOffice the character set \"Unicode (UTF-8)\")",
            TEXT:gsub("alice", "al\255ce"))
  end)

  it("an empty file", function()
    refuses("there is no header line, the CSV is empty (expected the columns user, then one "
            .. "column per tenant)", BOM .. "\r\n")
  end)
end)
