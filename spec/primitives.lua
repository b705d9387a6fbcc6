--- The test-only path to the Lua layer's primitives (raw SQL on a store's
-- own connection: `prim.exec(db, sql, ...)`, `prim.rows`, `prim.row`,
-- `prim.in_transaction`, ...), for specs and benchmarks.  A mandate.Db
-- carries none of them, and `require "mandate"` takes them off the C
-- module (see internal_funcs in src/lua/lmandate.c); the rockspec does not
-- install this file.
require "mandate.core"
return assert(debug.getregistry()["mandate.internal"], "mandate.core has no primitives")
