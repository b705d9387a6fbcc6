-- make demo: build two real SQLite stores (a CRM and a PR agency) through
-- the public API and print what an administrator looks at.
-- Usage: lua5.4 examples/demo.lua DIR
package.path = "examples/?.lua;" .. package.path
local mandate = require "mandate"

local dir = arg[1] or "."
local function fresh(name)
  local path = dir .. "/" .. name
  for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(path .. suffix) end
  return assert(mandate.open(path)), path
end

print("mandate " .. mandate.version .. " on " .. _VERSION)
for _, example in ipairs { "crm", "agency", "contacts" } do
  local m = require(example)
  local db, path = fresh("demo-" .. example .. ".db")
  m.setup(db)
  m.show(db)
  print(string.format("\n(%s: revision %d, %d audit rows; inspect with: sqlite3 %s)",
                      path, db:revision(), #db:audit {}, path))
  db:close()
end
