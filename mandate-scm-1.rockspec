rockspec_format = "3.0"
package = "mandate"
version = "scm-1"
-- `luarocks build mandate-scm-1.rockspec` fetches the repository's main
-- branch; `luarocks make` builds a checkout (or a copy of one) offline.  A
-- release's rockspec is this file as mandate-X.Y.Z-1.rockspec with
-- version = "X.Y.Z-1" and tag = "vX.Y.Z" in source.
source = {
  url = "git+https://github.com/mandate-rights/mandate.git",
  branch = "main",
}
description = {
  summary = "Embeddable multi-tenant rights engine: C core, Lua API, SQLite store",
  detailed = [[
mandate answers "may this user see or change this record?" across tenants,
an org tree, scoped rights, bundles and per-user overrides, from a compiled
in-memory snapshot of a SQLite store.]],
  license = "MIT",   -- LICENSE
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
    ["mandate.activity"] = "lua/mandate/activity.lua",
    ["mandate.change"] = "lua/mandate/change.lua",
    ["mandate.contacts"] = "lua/mandate/contacts.lua",
    ["mandate.entity"] = "lua/mandate/entity.lua",
    ["mandate.csv"] = "lua/mandate/csv.lua",
    ["mandate.explain"] = "lua/mandate/explain.lua",
    ["mandate.fast"] = "lua/mandate/fast.lua",
    ["mandate.impact"] = "lua/mandate/impact.lua",
    ["mandate.history"] = "lua/mandate/history.lua",
    ["mandate.json"] = "lua/mandate/json.lua",
    ["mandate.moves"] = "lua/mandate/moves.lua",
    ["mandate.plan"] = "lua/mandate/plan.lua",
    ["mandate.read"] = "lua/mandate/read.lua",
    ["mandate.report"] = "lua/mandate/report.lua",
    ["mandate.sheets"] = "lua/mandate/sheets.lua",
    ["mandate.suggest"] = "lua/mandate/suggest.lua",
    ["mandate.resolve"] = "lua/mandate/resolve.lua",
    ["mandate.validate"] = "lua/mandate/validate.lua",
    ["mandate.write"] = "lua/mandate/write.lua",
    ["mandate.core"] = {
      sources = {
        "src/core/build.c", "src/core/check.c", "src/core/compile.c",
        "src/core/diff.c",
        "src/core/explain.c", "src/core/keys.c", "src/core/read.c",
        "src/core/tree.c", "src/core/value.c",
        "src/store/access.c", "src/store/change.c", "src/store/decisions.c",
        "src/store/lists.c",
        "src/store/load.c",
        "src/store/schema.c",
        "src/store/store.c", "src/store/tree.c", "src/store/watch.c",
        "src/lua/lmandate.c",
      },
      incdirs = { "src/core", "src/store", "$(SQLITE_INCDIR)" },
      libdirs = { "$(SQLITE_LIBDIR)" },
      libraries = { "sqlite3" },
    },
  },
}
