-- Installing: where `make install` puts the module for the interpreter
-- (scripts/lua-dirs.lua), and `make help` naming every target and
-- variable.  The staged install itself, with README's first script run
-- from an empty directory for every Lua, is the gate `make check-install`
-- (scripts/check-install).

local helpers = require "helpers"

-- Outside tools run without the sanitizer runtime that `make asan`
-- preloads into this interpreter: they are not under test.
local sh = helpers.sh

local function read_file(path)
  return assert(helpers.read_file(path), path)
end

-- The interpreter running this spec, as a command.
local function interpreter()
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i]
end

describe("make install", function()
  local lua = interpreter()
  local version = _VERSION:match("%d+%.%d+")

  -- scripts/lua-dirs.lua run by this interpreter, with its own defaults
  local function dirs(prefix)
    local out = sh(("env -u LUA_PATH -u LUA_CPATH -u LUA_INIT -u LUA_PATH_5_4 "
                    .. "-u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 %s "
                    .. "scripts/lua-dirs.lua %s"):format(lua, prefix))
    local share, lib, searched = out:match("^(%S+) (%S+) (%S+)\n$")
    assert(share, "scripts/lua-dirs.lua printed: " .. out)
    return share, lib, searched
  end

  -- Whether dir/?suffix is an entry of this interpreter's default path.
  local function on_default_path(which, dir, suffix)
    local path = sh(("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
                     .. "-u LUA_PATH_5_3 -u LUA_CPATH_5_3 %s -e 'print(package.%s)'")
                    :format(lua, which))
    return (";" .. path:gsub("%s+$", "") .. ";"):find(";" .. dir .. "/?" .. suffix .. ";", 1, true)
  end

  it("installs where the interpreter looks under /usr/local", function()
    local share, lib, searched = dirs("/usr/local")
    assert.equal("searched", searched)
    assert.equal("/usr/local/share/lua/" .. version, share)
    assert.equal("/usr/local/lib/lua/" .. version, lib)
    assert.truthy(on_default_path("path", share, ".lua"))
    assert.truthy(on_default_path("cpath", lib, ".so"))
  end)

  it("installs where the interpreter looks under /usr, never under /usr/local", function()
    local share, lib, searched = dirs("/usr/")
    assert.equal("searched", searched)
    assert.equal("/usr/share/lua/" .. version, share)
    assert.matches("^/usr/lib/.*lua/" .. version:gsub("%.", "%%.") .. "$", lib)
    assert.truthy(on_default_path("path", share, ".lua"))
    assert.truthy(on_default_path("cpath", lib, ".so"))
  end)

  it("takes Lua's own layout under a prefix the interpreter does not search",
     function()
    assert.same({ "/opt/m/share/lua/" .. version, "/opt/m/lib/lua/" .. version,
                  "not-searched" }, { dirs("/opt/m") })
  end)

  it("honours DESTDIR, LUA_SHAREDIR and LUA_LIBDIR", function()
    local out = sh("make -n --no-print-directory install LUA=" .. lua
                   .. " DESTDIR=/stage LUA_SHAREDIR=/s LUA_LIBDIR=/l")
    assert.matches("install %-m 644 [^\n]*lua/mandate/init%.lua[^\n]* /stage/s/mandate/", out)
    assert.matches("install %-m 755 [^\n]*/mandate/core%.so /stage/l/mandate/", out)
    out = sh("make -n --no-print-directory uninstall LUA=" .. lua
             .. " DESTDIR=/stage LUA_SHAREDIR=/s LUA_LIBDIR=/l")
    assert.matches("/stage/s/mandate/init%.lua", out)
    assert.matches("/stage/l/mandate/core%.so", out)
  end)
end)

describe("make help", function()
  local help = sh("make --no-print-directory help")

  it("lists every target of the Makefile and fuzz/fuzz.mk", function()
    local n = 0
    for _, file in ipairs { "Makefile", "fuzz/fuzz.mk" } do
      for line in read_file(file):gmatch("[^\n]+") do
        local target = line:match("^([%a][%w%-]*)%s*:[^=]")
        if target then
          n = n + 1
          assert(help:find("%f[%w%-]" .. target:gsub("%-", "%%-") .. "%f[^%w%-]"),
                 "make help does not name the target " .. target)
        end
      end
    end
    assert(n > 15, "found only " .. n .. " targets")
  end)

  it("lists every variable a user may set", function()
    local names = { "DESTDIR", "LDFLAGS", "COVERAGE_MIN", "MANDATE_GC",
                    "MANDATE_DIFF_WORLDS" }
    for _, file in ipairs { "Makefile", "fuzz/fuzz.mk" } do
      for line in read_file(file):gmatch("[^\n]+") do
        names[#names + 1] = line:match("^([%u_][%u%d_]*)%s*%?=")
      end
    end
    assert(#names > 20, "found only " .. #names .. " variables")
    for _, name in ipairs(names) do
      assert(help:find("%f[%w_]" .. name .. "%f[^%w_]"),
             "make help does not name the variable " .. name)
    end
  end)
end)

describe("the rockspec", function()
  it("builds every C file the Makefile builds", function()
    local spec = read_file("mandate-scm-1.rockspec")
    local p = assert(io.popen("ls src/core/*.c src/store/*.c src/lua/lmandate.c"))
    for file in p:lines() do
      assert.truthy(spec:find('"' .. file .. '"', 1, true), file .. " is not in the rockspec")
    end
    p:close()
  end)

  it("builds the binding as one translation unit: lmandate.c includes every part", function()
    local unit = read_file("src/lua/lmandate.c")
    local p = assert(io.popen("ls src/lua/l*.c"))
    for file in p:lines() do
      local name = file:match("([^/]+)$")
      if name ~= "lmandate.c" then
        assert.truthy(unit:find('#include "' .. name .. '"', 1, true), name .. " is not included")
      end
    end
    p:close()
  end)
end)
