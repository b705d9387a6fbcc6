-- A PR agency whose clients are tenants: each consultant works for some
-- clients (full), may look at others (read) and never sees the rest
-- (hidden).  Run through `make demo`, or: lua5.4 examples/agency.lua pr.db
local mandate = require "mandate"
local report = require "mandate.report"

local M = {}

function M.setup(db)
  db:set_actor("agency-setup")
  db:transaction(function()
    db:set_levels { "agency", "team" }
    db:put_unit("agency", { level = "agency", label = "Brandt & Partner PR" })
    db:put_unit("consumer", { level = "team", parent = "agency", label = "Consumer team" })
    db:put_unit("public-affairs", { level = "team", parent = "agency", label = "Public affairs" })

    -- common data (no tenant) is shared; every client's data is its own
    for _, t in ipairs { { "acme", "ACME Foods" }, { "bolt", "Bolt Mobility" },
                         { "civic", "Civic Trust" } } do
      db:put_tenant(t[1], { label = t[2], default = "hidden" })
    end

    db:put_right("press.view", { kind = "scope", mode = "read", area = "Press",
                                 label = "See press releases" })
    db:put_right("press.edit", { kind = "scope", mode = "write", area = "Press",
                                 label = "Write press releases" })
    db:put_right("press.send", { kind = "flag", mode = "write", area = "Press",
                                 label = "Send to distribution lists" })
    db:put_right("billing.view", { kind = "flag", mode = "read", area = "Billing",
                                   label = "See the client's billing" })

    db:put_bundle("consultant", { label = "Consultant", rights = {
      ["press.view"] = "agency", ["press.edit"] = "team", ["press.send"] = true } })
    db:put_bundle("junior", { label = "Junior consultant", rights = {
      ["press.view"] = "team", ["press.edit"] = "own" } })
    db:put_bundle("account-director", { label = "Account director", rights = {
      ["press.view"] = "all", ["press.edit"] = "agency", ["press.send"] = true,
      ["billing.view"] = true } })

    db:put_user("nina", { unit = "consumer", bundles = { "consultant" }, label = "Nina" })
    db:put_user("omar", { unit = "consumer", bundles = { "junior" }, label = "Omar" })
    db:put_user("petra", { unit = "public-affairs", bundles = { "consultant" }, label = "Petra" })
    db:put_user("quinn", { unit = "agency", bundles = { "account-director" }, label = "Quinn" })

    db:set_access("nina", "acme", "full")
    db:set_access("nina", "bolt", "read")
    db:set_access("omar", "acme", "full")
    db:set_access("petra", "civic", "full")
    db:set_access("petra", "acme", "read")
    for _, t in ipairs { "acme", "bolt", "civic" } do db:set_access("quinn", t, "full") end
  end)
end

function M.show(db, out)
  out = out or io.write
  out("\n== Agency: consultants x clients (* = set for the user)\n")
  out(report.access_matrix_text(db), "\n")

  out("\n== Agency: who may edit ACME's release written by omar?\n")
  local release = { tenant = "acme", owner = "omar" }
  for _, u in ipairs(db:users()) do
    local ok, reason = db:check(u.key, "press.edit", release)
    out(string.format("  %-6s %s\n", u.key, ok and "yes" or ("no (" .. reason .. ")")))
  end
  out("\n== Agency: explained\n")
  out("- ", db:explain("nina", "press.edit", { tenant = "bolt", owner = "nina" }).text, "\n")
  out("- ", db:explain("petra", "press.view", { tenant = "bolt", owner = "nina" }).text, "\n")
end

if arg and arg[0] and arg[0]:match("agency%.lua$") then
  local db = assert(mandate.open(arg[1] or "pr.db"))
  M.setup(db)
  M.show(db)
  db:close()
end

return M
