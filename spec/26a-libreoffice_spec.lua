-- What a real spreadsheet saves is read back unchanged (issue 15, section
-- 1): LibreOffice (headless, Debian's libreoffice-calc-nogui, installed by
-- scripts/install-deps --gates) opens the exports of a world whose keys
-- and labels are made to be misread (numbers, dates, TRUE, formulas,
-- separators, quotes, line breaks, non-ASCII), saves them as CSV, and as
-- xlsx converted back to CSV; each is read cell by cell as the export
-- reads, and imported with no change to any table.
--
-- The filter strings (LibreOffice's CSV filter options, one token per
-- comma; help.libreoffice.org, "CSV Filter Options"):
--
--   open:  CSV:SEP,34,76,1,1/2/2/2/.../N/2,1033,false,false,false,false,false
--          SEP the separator's code (59 ';', 44 ',', 9 tab), 34 the quote,
--          76 UTF-8, from line 1, every column N formatted 2 (Text: no
--          cell becomes a number, a date, a boolean or a formula), the
--          language en-US, quoted fields not forced to text (token 7; the
--          column format does it), special numbers not detected (8), and
--          spaces kept (11)
--   save:  csv:Text - txt - csv (StarCalc):59,34,76,1,,1033,false,true,false,false,false
--          ';', the quote, UTF-8; text cells quoted only when needed (7),
--          cell contents as stored, not as shown (9), no formulas (10),
--          spaces kept (11)
--
-- LibreOffice writes no BOM and LF line ends; mandate reads both.
local helpers = require "helpers"
local csv = require "mandate.csv"

local sh = helpers.sh

local SEP_CODES = { [";"] = 59, [","] = 44, ["\t"] = 9 }
local SAVE = "csv:Text - txt - csv (StarCalc):59,34,76,1,,1033,false,true,false,false,false"

local function open_filter(sep, columns)
  local formats = {}
  for c = 1, columns do formats[c] = c .. "/2" end
  return string.format("CSV:%d,34,76,1,%s,1033,false,false,false,false,false",
                       SEP_CODES[sep], table.concat(formats, "/"))
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local write_file = helpers.write_file

-- A world made to be misread: keys that look like numbers, dates,
-- booleans, formulas and access cells, with separators, quotes and
-- non-ASCII text; labels with line breaks.
local function world()
  local db = helpers.open()
  assert(db:transaction(function()
    db:set_levels({ "country", "branch", "team" })
    local rights = {
      { "1e5", "flag", "=SUM(A1)", "two\nlines" },
      { "2024-03-01", "scope", "; , \"", "-5%" },
      { "TRUE", "flag", nil, "@home" },
      { "+49 40 123", "scope", "äöü 日本 😀", "'quoted'" },
      { "a;b,c", "scope" },
      { "0012", "flag", " spaced ", "(read)" },
    }
    for _, r in ipairs(rights) do
      db:put_right(r[1], { kind = r[2], customer = r[2] == "scope", area = r[3], label = r[4] })
    end
    db:put_bundle("=1+1", { rights = { ["1e5"] = true, ["2024-03-01"] = "team+customer",
                                       ["TRUE"] = false, ["a;b,c"] = "customer" } })
    db:put_bundle('say "hi"', { rights = { ["+49 40 123"] = "all", ["0012"] = true } })
    db:put_bundle("-1", { rights = { ["2024-03-01"] = "none", ["1e5"] = false } })
    db:put_bundle("ä 日本", { rights = {} })
    db:put_bundle("'x", { rights = { ["TRUE"] = true, ["a;b,c"] = "own" } })
    for _, t in ipairs({ "1.5", "=t", "a,b", "(hidden)" }) do
      db:put_tenant(t, { default = t == "a,b" and "read" or "hidden" })
    end
    for i, u in ipairs({ "@alice", "2024-01-01", "+bob", "ä;ö", "FALSE" }) do
      db:put_user(u)
      db:set_access(u, ({ "1.5", "=t", "a,b", "(hidden)", "1.5" })[i],
                    ({ "full", "read", "hidden", "read", "full" })[i])
    end
  end))
  return db
end

local SEPS = { semicolon = ";", comma = ",", tab = "\t" }
local TABLES = { bundles = "import_bundles", access = "import_access" }

describe("LibreOffice", function()
  local dir, soffice, db

  setup(function()
    soffice = sh("sh -c 'command -v soffice'"):match("^(/%S+)")
    dir = os.tmpname()
    os.remove(dir)
    sh("mkdir -p " .. quote(dir))
    db = world()
  end)

  teardown(function()
    if dir then sh("rm -rf " .. quote(dir)) end
  end)

  -- soffice converts dir/FILE for each file to format into dir/outdir,
  -- with a profile of its own in dir (no other LibreOffice is touched);
  -- one process for all files, as starting it costs most of the time
  local function convert(files, format, outdir, infilter)
    local paths = {}
    for i, file in ipairs(files) do paths[i] = quote(dir .. "/" .. file) end
    return sh(soffice .. " -env:UserInstallation=file://" .. dir .. "/profile"
      .. " --headless --norestore"
      .. (infilter and " --infilter=" .. quote(infilter) or "")
      .. " --convert-to " .. quote(format) .. " --outdir " .. quote(dir .. "/" .. outdir)
      .. " " .. table.concat(paths, " "))
  end

  it("is installed (scripts/install-deps --gates: libreoffice-calc-nogui)", function()
    assert(soffice, "soffice not found: scripts/install-deps --gates installs "
                    .. "libreoffice-calc-nogui")
  end)

  it("saves the exports, each separator, as CSV and as xlsx: imported, nothing changes",
     function()
    assert(soffice, "soffice not found")
    local exported, xlsx, log = {}, {}, {}
    for name, sep in pairs(SEPS) do
      local files, columns = {}, 0
      for t in pairs(TABLES) do
        local text = db["export_" .. t](db, { sep = sep })
        local file = t .. "-" .. name
        exported[file] = text
        write_file(dir .. "/" .. file .. ".csv", text)
        files[#files + 1] = file .. ".csv"
        xlsx[#xlsx + 1] = "xlsx/" .. file .. ".xlsx"
        columns = math.max(columns, #assert(csv.decode(text))[1])
      end
      local filter = open_filter(sep, columns)
      log[#log + 1] = convert(files, SAVE, "csv", filter)
      log[#log + 1] = convert(files, "xlsx", "xlsx", filter)
    end
    log[#log + 1] = convert(xlsx, SAVE, "xlsx-csv")
    for file, text in pairs(exported) do
      local rows = assert(csv.decode(text))
      for _, path in ipairs({ "csv/" .. file .. ".csv", "xlsx-csv/" .. file .. ".csv" }) do
        local back = helpers.read_file(dir .. "/" .. path)
        assert(back, "soffice wrote no " .. path .. ":\n" .. table.concat(log, "\n"))
        assert.are.same(rows, (csv.decode(back)), path)
        local before = helpers.snapshot_rows(db)
        assert.is_true(db[TABLES[file:match("^%a+")]](db, { file = dir .. "/" .. path }))
        assert.are.same(before, helpers.snapshot_rows(db), path)
      end
    end
  end)
end)
