rockspec_format = "3.0"
package = "mandate"
version = "scm-1"
source = {
  url = "git+file://.",   -- `luarocks make` builds the checkout in place
}
description = {
  summary = "Embeddable multi-tenant rights engine: C core, Lua API, SQLite store",
  detailed = [[
mandate answers "may this user see or change this record?" across tenants,
an org tree, scoped rights, bundles and per-user overrides, from a compiled
in-memory snapshot of a SQLite store.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
external_dependencies = {
  SQLITE = { header = "sqlite3.h", library = "sqlite3" },
}
build = {
  type = "builtin",
  modules = {
    ["mandate"] = "lua/mandate/init.lua",
    ["mandate.contacts"] = "lua/mandate/contacts.lua",
    ["mandate.explain"] = "lua/mandate/explain.lua",
    ["mandate.fast"] = "lua/mandate/fast.lua",
    ["mandate.json"] = "lua/mandate/json.lua",
    ["mandate.read"] = "lua/mandate/read.lua",
    ["mandate.report"] = "lua/mandate/report.lua",
    ["mandate.validate"] = "lua/mandate/validate.lua",
    ["mandate.write"] = "lua/mandate/write.lua",
    ["mandate.core"] = {
      sources = {
        "src/core/build.c", "src/core/check.c", "src/core/compile.c",
        "src/core/explain.c", "src/core/keys.c", "src/core/read.c",
        "src/core/value.c",
        "src/store/load.c", "src/store/schema.c", "src/store/store.c",
        "src/lua/lmandate.c",
      },
      incdirs = { "src/core", "src/store", "$(SQLITE_INCDIR)" },
      libdirs = { "$(SQLITE_LIBDIR)" },
      libraries = { "sqlite3" },
    },
  },
}
