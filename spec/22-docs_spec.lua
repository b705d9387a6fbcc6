-- The project documents its own semantics: docs/semantics.md states the
-- model and the decision rules, and everything else cites it by section
-- ("docs/semantics.md section 3.4").  Nothing in the repository may cite a
-- document the repository does not hold: not the shared design it was
-- derived from, not a section docs/semantics.md does not have, not a
-- Markdown file that is not tracked.

local SEMANTICS = "docs/semantics.md"
local SHARED = "DESIGN" .. ".md"   -- spelt in two pieces: this file is tracked too

-- Outside tools run without the sanitizer runtime that `make asan`
-- preloads into this interpreter: they are not under test.
local function lines_of(cmd)
  local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>/dev/null"))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- The tracked files that exist in the work tree, as {path = text}.
local function tracked()
  local files = {}
  local paths = lines_of("git ls-files")
  assert(#paths > 0, "git ls-files lists nothing: run the specs from the checkout")
  for _, path in ipairs(paths) do
    local f = io.open(path, "rb")
    if f then                       -- tracked but deleted in the work tree: skip
      files[path] = f:read("*a") or ""
      f:close()
    end
  end
  return files
end

-- The line number of byte position pos in text.
local function line_at(text, pos)
  local _, n = text:sub(1, pos):gsub("\n", "")
  return n + 1
end

-- The sections docs/semantics.md has: the numbers of its headings
-- ("## 3. Decision rules" is 3, "### 3.4 The scope match" is 3.4).
local function sections(text)
  local have = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local number = line:match("^#+%s+(%d[%d%.]*)")
    if number then have[(number:gsub("%.+$", ""))] = true end
  end
  return have
end

-- Each "docs/semantics.md section X.Y" in text, also when a line break and
-- a comment leader (--, **, #) fall between the words: {number, line}.
local function citations(text)
  local found = {}
  local pattern = "()docs/semantics%.md[%s%-%*#/]*section[%s%-%*#/]*(%d[%d%.]*)"
  for pos, number in text:gmatch(pattern) do
    found[#found + 1] = { number = number:gsub("%.+$", ""), line = line_at(text, pos) }
  end
  return found
end

describe("the project's documents", function()
  local files
  setup(function() files = tracked() end)

  it("docs/semantics.md is tracked", function()
    assert.is_not_nil(files[SEMANTICS], SEMANTICS .. " is not in git ls-files")
  end)

  it("no tracked file but docs/semantics.md mentions the shared design", function()
    local bad = {}
    for path, text in pairs(files) do
      local pos = path ~= SEMANTICS and text:find(SHARED, 1, true)
      if pos then bad[#bad + 1] = path .. ":" .. line_at(text, pos) end
    end
    table.sort(bad)
    assert.same({}, bad, "these cite " .. SHARED .. ", which the repository does not hold")
  end)

  it("docs/semantics.md has every section a citation names", function()
    local have = sections(files[SEMANTICS] or "")
    assert.is_true(have["3.4"], "docs/semantics.md has no numbered headings")
    local bad, count = {}, 0
    for path, text in pairs(files) do
      for _, c in ipairs(citations(text)) do
        count = count + 1
        if not have[c.number] then
          bad[#bad + 1] = ("%s:%d: section %s"):format(path, c.line, c.number)
        end
      end
    end
    table.sort(bad)
    assert.same({}, bad, "these cite sections docs/semantics.md does not have")
    assert.is_true(count >= 20, "only " .. count .. " citations found: is the pattern broken?")
  end)

  it("docs/semantics.md has every section it refers to itself", function()
    local text = files[SEMANTICS] or ""
    local have = sections(text)
    local bad = {}
    for pos, number in text:gmatch("()sections?%s+(%d[%d%.]*)") do
      number = number:gsub("%.+$", "")
      if not have[number] then bad[#bad + 1] = ("line %d: section %s"):format(line_at(text, pos), number) end
    end
    assert.same({}, bad)
  end)

  it("no tracked file names a Markdown file the repository does not hold", function()
    local bad = {}
    for path, text in pairs(files) do
      local dir = path:match("^(.*/)") or ""
      text = text:gsub("%a+://%S+", "")   -- addresses on the web are not files here
      for pos, name in text:gmatch("()([%w_%-%./]*[%w_%-]%.md)%f[^%w]") do
        if not files[name] and not files[dir .. name] then
          bad[#bad + 1] = ("%s:%d: %s"):format(path, line_at(text, pos), name)
        end
      end
    end
    table.sort(bad)
    assert.same({}, bad)
  end)
end)
