-- A CRM with branches and teams: the org tree, job-function bundles, one
-- override, tenants for two country subsidiaries and HR.  Run through
-- `make demo`, or: lua5.4 examples/crm.lua crm.db
local mandate = require "mandate"
local report = require "mandate.report"

local M = {}

--- Set up the CRM world in db (idempotent: put_* create or update).
function M.setup(db)
  db:set_actor("setup-script")
  db:transaction(function()
    db:set_levels { "country", "branch", "department", "team" }
    db:put_unit("de", { level = "country", label = "Germany" })
    db:put_unit("hh", { level = "branch", parent = "de", label = "Hamburg" })
    db:put_unit("muc", { level = "branch", parent = "de", label = "Munich" })
    db:put_unit("hh-sales", { level = "department", parent = "hh", label = "Sales Hamburg" })
    db:put_unit("hh-inside", { level = "team", parent = "hh-sales", label = "Inside sales" })
    db:put_unit("hh-field", { level = "team", parent = "hh-sales", label = "Field sales" })
    db:put_unit("muc-sales", { level = "department", parent = "muc", label = "Sales Munich" })
    db:put_unit("muc-key", { level = "team", parent = "muc-sales", label = "Key accounts" })
    -- a team straight under a branch: levels may skip rungs
    db:put_unit("muc-support", { level = "team", parent = "muc", label = "Support Munich" })

    db:put_tenant("crm-de", { label = "CRM Germany", default = "read" })
    db:put_tenant("crm-at", { label = "CRM Austria", default = "hidden" })
    db:put_tenant("hr", { label = "Human resources", default = "hidden" })

    local function right(key, opts) db:put_right(key, opts) end
    right("customers.view", { kind = "scope", mode = "read", customer = true, area = "Customers",
                              label = "See customers" })
    right("documents.view", { kind = "scope", mode = "read", customer = true, area = "Documents",
                              label = "See documents" })
    right("documents.edit", { kind = "scope", mode = "write", customer = true, area = "Documents",
                              label = "Edit documents" })
    right("appointments.view", { kind = "scope", mode = "read", area = "Calendar",
                                 label = "See appointments" })
    right("appointments.edit", { kind = "scope", area = "Calendar", label = "Edit appointments" })
    right("admin.open", { kind = "flag", area = "Administration", label = "Open the administration" })
    right("reports.create", { kind = "flag", area = "Reports", label = "Create general reports" })

    -- the example of docs/semantics.md section 1.10: branch-wide customers
    -- and documents, the team's appointments; edit the team's documents but
    -- only one's own appointments
    db:put_bundle("inside-sales", { label = "Inside sales", rights = {
      ["customers.view"] = "branch", ["documents.view"] = "branch",
      ["appointments.view"] = "team", ["documents.edit"] = "team",
      ["appointments.edit"] = "own", ["admin.open"] = false } })
    db:put_bundle("key-account", { label = "Key account manager", rights = {
      ["customers.view"] = "team+customer", ["documents.view"] = "team+customer",
      ["documents.edit"] = "own+customer" } })
    db:put_bundle("branch-lead", { label = "Branch lead", rights = {
      ["customers.view"] = "branch", ["documents.view"] = "branch",
      ["documents.edit"] = "branch", ["appointments.view"] = "branch",
      ["reports.create"] = true } })
    db:put_bundle("admin", { label = "Administrator", rights = {
      ["admin.open"] = true, ["customers.view"] = "all" } })

    db:put_user("alice", { unit = "hh-inside", bundles = { "inside-sales" }, label = "Alice" })
    db:put_user("bob", { unit = "hh-field", bundles = { "inside-sales" }, label = "Bob" })
    db:put_user("carol", { unit = "muc-key", bundles = { "key-account" }, label = "Carol" })
    db:put_user("dave", { unit = "hh", bundles = { "branch-lead" }, label = "Dave" })
    db:put_user("erin", { unit = "muc-support", bundles = { "inside-sales" }, active = false,
                          label = "Erin (left the company)" })
    db:put_user("root", { bundles = { "admin" }, label = "Administrator" })

    db:set_override("bob", "documents.edit", "department")  -- covers for a colleague
    db:set_access("alice", "crm-de", "full")
    db:set_access("bob", "crm-de", "full")
    db:set_access("carol", "crm-de", "full")
    db:set_access("dave", "crm-de", "full")
    db:set_access("dave", "hr", "read")
    db:set_access("root", "crm-at", "full")
    db:assign_customer("carol", "ACME")
  end)
end

local function yesno(ok, reason) return ok and "allowed" or ("denied: " .. reason) end

local function show_record(r)
  local parts = {}
  for _, k in ipairs { "tenant", "owner", "unit", "customer" } do
    if r[k] then parts[#parts + 1] = k .. "=" .. r[k] end
  end
  return "{" .. table.concat(parts, " ") .. "}"
end

--- Print what an administrator wants to see.
function M.show(db, out)
  out = out or io.write
  out("\n== CRM: alice's rights (right | by bundle | by user | effective)\n")
  local rows = db:effective("alice")
  out(report.text_table({
    { "right", "right" }, { "area", "area" },
    { "inside-sales", function(r) return r.bundles["inside-sales"] end },
    { "override", "override" }, { "effective", "effective" }, { "source", "source" },
  }, rows), "\n")

  out("\n== CRM: users x tenants (* = set for the user, else the tenant's default)\n")
  out(report.access_matrix_text(db), "\n")

  out("\n== CRM: checks\n")
  local doc_bob = { tenant = "crm-de", owner = "bob" }
  local doc_carol = { tenant = "crm-de", owner = "carol", customer = "ACME" }
  local checks = {
    { "alice", "documents.view", { tenant = "crm-de", owner = "dave" } },
    { "alice", "documents.edit", doc_bob },
    { "alice", "appointments.edit", doc_bob },
    { "bob", "documents.edit", { tenant = "crm-de", owner = "alice" } },
    { "carol", "documents.edit", { tenant = "crm-de", owner = "dave", customer = "ACME" } },
    { "alice", "documents.edit", doc_carol },
    { "erin", "documents.view", doc_bob },
    { "dave", "documents.edit", { tenant = "hr", owner = "alice" } },
    { "root", "admin.open" },
  }
  for _, c in ipairs(checks) do
    out(string.format("%-6s %-18s %-52s %s\n", c[1], c[2],
        c[3] and show_record(c[3]) or "(no record)",
        yesno(db:check(c[1], c[2], c[3]))))
  end

  out("\n== CRM: one list page, as each user may see it (db:allowed)\n")
  local page = {     -- the application's rows, each with its record
    { id = "D1", record = { tenant = "crm-de", owner = "alice" } },
    { id = "D2", record = { tenant = "crm-de", owner = "bob" } },
    { id = "D3", record = { tenant = "crm-de", owner = "dave", customer = "ACME" } },
    { id = "D4", record = { tenant = "hr", owner = "alice" } },
    { id = "D5", record = { tenant = "crm-de", owner = "erin" } },
  }
  for _, user in ipairs { "alice", "bob", "carol", "dave", "erin" } do
    local ids = {}
    for _, doc in ipairs(db:allowed(user, "documents.view", page, "record")) do
      ids[#ids + 1] = doc.id
    end
    out(string.format("%-6s documents.view: %s\n", user,
                      #ids > 0 and table.concat(ids, " ") or "(none)"))
  end

  out("\n== CRM: why, and the smallest fix\n")
  for _, c in ipairs { checks[3], checks[6], checks[8] } do
    out("- ", db:explain(c[1], c[2], c[3]).text, "\n")
  end
  local why = db:explain("alice", "appointments.edit", doc_bob)
  out("\napplying ", why.fix.text, " ...\n")
  db:set_actor("demo")
  db[why.fix.call[1]](db, (table.unpack or unpack)(why.fix.call, 2))
  out("alice appointments.edit on bob's record: ",
      yesno(db:check("alice", "appointments.edit", doc_bob)), "\n")
  db:clear_override("alice", "appointments.edit")
end

if arg and arg[0] and arg[0]:match("crm%.lua$") then
  local db = assert(mandate.open(arg[1] or "crm.db"))
  M.setup(db)
  M.show(db)
  db:close()
end

return M
