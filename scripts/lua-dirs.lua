-- Where this interpreter looks for modules under a prefix, for `make
-- install`: run it with the interpreter to install for, without LUA_PATH,
-- LUA_CPATH or LUA_INIT in the environment, as
--   lua5.4 scripts/lua-dirs.lua PREFIX
-- It prints "SHAREDIR LIBDIR searched" when the interpreter's own
-- package.path and package.cpath have a directory under PREFIX (Debian's
-- lua5.4: /usr/local/share/lua/5.4 and /usr/local/lib/lua/5.4 for
-- /usr/local; /usr/share/lua/5.4 and /usr/lib/x86_64-linux-gnu/lua/5.4 for
-- /usr), else "PREFIX/share/lua/V PREFIX/lib/lua/V not-searched" (Lua's
-- own layout, as luarocks uses it; the user then sets LUA_PATH and
-- LUA_CPATH).
local prefix = (arg[1] or "/usr/local"):gsub("/+$", "")
local version = _VERSION:match("%d+%.%d+")

-- The first directory of a search path, entries DIR/?SUFFIX, that lies
-- under prefix as PREFIX/share/lua/V, PREFIX/lib/lua/V or
-- PREFIX/lib/MULTIARCH/lua/V (not PREFIX/local/..., nor LuaJIT's own
-- PREFIX/share/luajit-2.1...).
local function pick(path, suffix)
  for entry in path:gmatch("[^;]+") do
    local dir = entry:match("^(.*)/%?" .. suffix .. "$")
    if dir and dir:sub(1, #prefix + 1) == prefix .. "/" then
      local rest = dir:sub(#prefix + 1)
      if rest:match("^/share/lua/%d") or rest:match("^/lib/lua/%d")
         or rest:match("^/lib/[^/]+/lua/%d") then
        return dir
      end
    end
  end
end

local share = pick(package.path, "%.lua")
local lib = pick(package.cpath, "%.so")
local searched = share and lib and "searched" or "not-searched"
io.write(share or prefix .. "/share/lua/" .. version, " ",
         lib or prefix .. "/lib/lua/" .. version, " ", searched, "\n")
