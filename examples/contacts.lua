-- A PR agency's contacts and distribution lists: a freelance journalist
-- with roles at two media (one of them private to a client), a politician
-- with three offices, lists owned by the clients (tenants), resolved for
-- consultants with full, read and hidden access to them.
-- Run through `make demo`, or: lua5.4 examples/contacts.lua contacts.db
local mandate = require "mandate"
local report = require "mandate.report"

local M = {}

--- Set up the agency's contacts in db (idempotent: put_* create or update).
function M.setup(db)
  -- the agency of examples/agency.lua: its clients, consultants and access
  require("agency").setup(db)
  db:set_actor("contacts-setup")
  db:transaction(function()
    -- common data: maintained once, shared by every client's team
    db:put_contact("lena-kraus", { label = "Lena Kraus (freelance journalist)" })
    db:put_role("lena-tribune", { contact = "lena-kraus", label = "Food & mobility, Daily Tribune",
      channels = { email = "lena.kraus@tribune.example",
                   postal = "Daily Tribune, Hafenstr. 1, 20457 Hamburg" },
      tags = { "food", "mobility" } })
    -- Bolt's team keeps its direct line to Lena's other medium to itself
    db:put_role("lena-wheels", { contact = "lena-kraus", label = "Editor, Wheels Weekly",
      channels = { email = "lena@wheels-weekly.example" },
      tags = { "mobility", "food" }, tenant = "bolt" })

    db:put_contact("mara-vogt", { label = "Dr. Mara Vogt MP" })
    db:put_role("mara-constituency", { contact = "mara-vogt", label = "Constituency office",
      channels = { email = "office@mara-vogt.example",
                   postal = "Marktplatz 3, 21073 Hamburg" },
      tags = { "politics", "food" } })
    db:put_role("mara-parliament", { contact = "mara-vogt", label = "Parliament office",
      channels = { email = "mara.vogt@parliament.example",
                   postal = "Platz der Republik 1, 11011 Berlin" },
      tags = { "politics" } })
    -- the committee secretariat answers through the constituency office
    db:put_role("mara-committee", { contact = "mara-vogt", label = "Transport committee",
      channels = { email = "office@mara-vogt.example" },
      tags = { "politics", "mobility" } })

    db:put_contact("food-weekly", { label = "Food Weekly (magazine)" })
    db:put_role("food-weekly-desk", { contact = "food-weekly", label = "News desk",
      channels = { email = "desk@foodweekly.example" }, tags = { "food" }, active = false })
    db:put_role("food-weekly-editor", { contact = "food-weekly", label = "Editor in chief",
      channels = { email = "editor@foodweekly.example" }, tags = { "food" } })

    -- Civic Trust's own contact: invisible to anyone without access to civic
    db:put_contact("tom-berg", { label = "Tom Berg", tenant = "civic" })
    db:put_role("tom-civic-news", { contact = "tom-berg", label = "Civic News",
      channels = { email = "tom@civic-news.example" }, tags = { "politics" } })

    -- the clients' distribution lists: dynamic by interest, plus and minus
    db:put_list("acme-food-press", { tenant = "acme", label = "ACME: food press",
                                     tags = { "food" } })
    db:put_list("bolt-launch", { tenant = "bolt", label = "Bolt: scooter launch",
                                 tags = { "mobility" } })
    db:exclude_from_list("bolt-launch", "mara-committee")   -- not before the hearing
    db:put_list("civic-hearing", { tenant = "civic", label = "Civic: public hearing",
                                   tags = { "politics" } })
    db:add_to_list("civic-hearing", "lena-tribune")
  end)
end

local USERS = { "nina", "petra", "omar" }

local function why(left_out)
  local parts = {}
  for _, k in ipairs { "tenant_hidden", "inactive", "no_channel", "duplicate" } do
    if (left_out[k] or 0) > 0 then parts[#parts + 1] = left_out[k] .. " " .. k end
  end
  return #parts > 0 and table.concat(parts, ", ") or "nothing"
end

local function show_list(db, out, list, opts, note)
  local l = db:get_list(list)
  out(string.format("\n== Contacts: list %s (%s), owned by %s%s\n", list, l.label,
                    l.tenant, note and ("; " .. note) or ""))
  for _, user in ipairs(USERS) do
    local r, reason = db:resolve_list(list, user, opts)
    if not r then
      out(string.format("  %-6s cannot see this list (%s)\n", user, reason))
    else
      out(string.format("  %-6s (%s access): %d to address, left out: %s\n", user,
                        r.access, r.total, why(r.left_out)))
      for _, role in ipairs(r.roles) do
        out(string.format("           %-34s %-30s %s\n", role.contact_label,
                          role.label or role.role, role.channels.email or "-"))
      end
    end
  end
end

function M.show(db, out)
  out = out or io.write
  out("\n== Contacts: the lists each consultant sees (db:lists)\n")
  local rows = {}
  for _, user in ipairs(USERS) do
    for _, l in ipairs(db:lists(user)) do
      rows[#rows + 1] = { user = user, list = l.key, access = l.access, members = l.members,
                          left = why(l.left_out) }
    end
  end
  out(report.text_table({ { "user", "user" }, { "list", "list" }, { "access", "access" },
                          { "members", "members" }, { "left out", "left" } }, rows), "\n")

  show_list(db, out, "acme-food-press", nil, "every role")
  show_list(db, out, "bolt-launch", { dedupe = "contact" }, "one role per person")
  show_list(db, out, "civic-hearing", { dedupe = "email" }, "one mail per address")

  out("\n== Contacts: the hearing's invitation letters, two per page (dedupe = \"postal\")\n")
  local page, n = { next = nil }, 0
  repeat
    page = db:resolve_list("civic-hearing", "petra",
                           { dedupe = "postal", limit = 2, after = page.next })
    n = n + 1
    for _, role in ipairs(page.roles) do
      out(string.format("  page %d: %-30s %s\n", n, role.label, role.channels.postal))
    end
  until not page.next
  out(string.format("  (%d letters; %s)\n", page.total, why(page.left_out)))

  out("\n== Contacts: before deleting a role, where is it used? (admin)\n")
  for _, role in ipairs { "mara-committee", "lena-wheels" } do
    for _, l in ipairs(db:lists_of_role(role)) do
      local how = l.excluded and "excluded" or l.explicit and "explicit"
                  or ("by tag " .. table.concat(l.tags, ", "))
      out(string.format("  %-16s on %-16s (%s) %s\n", role, l.key, l.tenant, how))
    end
  end
  out("\n== Contacts: through which lists may each consultant address lena-wheels?\n")
  for _, user in ipairs(USERS) do
    local lists, reason = db:lists_for(user, "lena-wheels")
    local names = {}
    for i, l in ipairs(lists or {}) do names[i] = l.key .. " (" .. l.access .. ")" end
    out(string.format("  %-6s %s\n", user,
                      lists and (#names > 0 and table.concat(names, ", ") or "none")
                            or ("none: " .. reason)))
  end
end

if arg and arg[0] and arg[0]:match("contacts%.lua$") then
  local db = assert(mandate.open(arg[1] or "contacts.db"))
  M.setup(db)
  M.show(db)
  db:close()
end

return M
