/*
** lmandate.c -- the Lua binding: luaopen_mandate_core.
**
** A mandate.Db userdata boxes one store.  The checks (check, check_ids,
** prepare, explain, effective) are C functions because they are the hot
** path; the writers live in lua/mandate/ and reach the store through the
** primitives of mandate.core's internal table (see internal_funcs), which
** raise a mandate.Error table ({code =, message =}) on runtime failures so
** that the Lua layer can roll back and return nil, message, code.
**
** One translation unit, one file per concern (luv's pattern), in the order
** they build on each other: this file holds the types every part shares
** and the registration.
*/
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "mandate.h"
#include "store.h"

#define DB_TYPE "mandate.Db"
#define ERROR_TYPE "mandate.Error"

typedef struct KeyEntry {  /* see "Key cache" */
  const char *p;            /* the interned string's address */
  uint32_t tag;             /* generation << 3 | kind; 0: never used */
  int32_t id;
} KeyEntry;

typedef struct ldb {
  mdt_store *st;            /* NULL once closed */
  KeyEntry *key;            /* NULL until the first key is cached */
  uint32_t keymask, keyused, gen;
  size_t keylimit;          /* most entries in this generation's table */
  int anchors;              /* registry ref of this generation's strings */
  uint32_t anchorgen;       /* the generation anchors belongs to */
  uint64_t epoch;           /* the store's epoch the generation is for */
  int owned;                /* a coroutine's change set is open: see
                               "Change sets and coroutines" */
  int away;                 /* this call comes from outside it */
  int owner;                /* registry ref of a weak table {owner} */
  mdt_dlog *log;            /* the store's decision log while it is on:
                               what a check tests (see llog.c) */
  int log_allowed;          /* it keeps allowed decisions (sample > 0) */
} ldb;

/*
** Upvalues shared by every method: the Db metatable's address (a light
** userdata), so the type test is one pointer compare instead of a
** registry lookup and a strcmp, and the record's field names, so reading
** a record interns no string.
*/
#define UV_META 1
#define UV_FIELDS 2         /* tenant, owner, unit, customer: 2..5 */
#define UV_REASONS 6        /* reason names by code, pushed without hashing */
#define NUV 6
static const char *const field_names[] = { "tenant", "owner", "unit",
                                           "customer" };

static const char *const code_names[MDT_NCODES] = {
  "ok", "error", "nomem", "misuse", "range", "notfound", "invalid",
  "constraint", "busy", "ioerr"
};

static const char *code_name(int code)
{
  return code >= 0 && code < MDT_NCODES ? code_names[code] : "error";
}

#include "lhandle.c"      /* the box, errors, open and close */
#include "lcoro.c"        /* change sets and coroutines */
#include "lsnap.c"        /* the snapshot a call reads, freshness */
#include "lsql.c"         /* the Lua layer's SQL primitives */
#include "lkeys.c"        /* key cache, arguments, records, values */
#include "llog.c"         /* the decision log */
#include "lcheck.c"       /* the checks */
#include "lexplain.c"     /* explain and effective */
#include "limpact.c"      /* a dry run's impact */

/* Registration {{{ */

/* The methods of a mandate.Db: documented, all of them. */
static const luaL_Reg db_methods[] = {
  { "close", l_close },
  { "is_open", l_isopen },
  { "check", l_check },
  { "allowed", l_allowed },
  { "check_ids", l_check_ids },
  { "prepare", l_prepare },
  { "id", l_id },
  { "access", l_access },
  { "refresh", l_refresh },
  { "set_refresh_interval", l_set_refresh_interval },
  { "refresh_interval", l_refresh_interval },
  { "stats", l_stats },
  { NULL, NULL }
};

/*
** The primitives of the Lua layer (lua/mandate/), called as f(db, ...):
** captured by its modules when they load, then taken off the module
** table (lua/mandate/init.lua), so that no handle carries them and no
** program reaches them by accident.  Specs and benchmarks reach them
** through spec/sql.lua (the registry's "mandate.internal"), which is not
** installed.  A seal for well-behaved code, not a sandbox: Lua code in
** the same process can always open the store's file itself.
*/
static const luaL_Reg internal_funcs[] = {
  { "checker", l_checker },
  { "box", l_box },
  { "prepare_ids", l_prepare_ids },
  { "check_prepared", l_check_prepared },
  { "owner", l_owner },
  { "begin", l_begin },
  { "finish", l_end },
  { "audit", l_audit },
  { "set_actor", l_set_actor },
  { "actor", l_actor },
  { "tenant_access", l_tenant_access },
  { "explain", l_explain },
  { "effective", l_effective },
  { "overrides", l_overrides },
  { "bundled", l_bundled },
  { "exec", l_exec },
  { "rows", l_rows },
  { "row", l_row },
  { "list_changes", l_list_changes },
  { "in_transaction", l_in_transaction },
  { "known", l_known },
  { "write_access", l_write_access },
  { "log_on", l_log_on },
  { "log_off", l_log_off },
  { "flush_log", l_flush_log },
  { "keep", l_keep },
  { "unkeep", l_unkeep },
  { "impact", l_impact },
  { "copy", l_copy },
  { "unit_fault", l_unit_fault },
  { "levels_fault", l_levels_fault },
  { NULL, NULL }
};

static const luaL_Reg db_meta[] = {
  { "__gc", l_close },
#if LUA_VERSION_NUM >= 504
  { "__close", l_close },
#endif
  { "__tostring", l_tostring },
  { NULL, NULL }
};

static const luaL_Reg module_funcs[] = {
  { "open", l_open },
  { "parse_value", l_parse_value },
  { NULL, NULL }
};

/*
** The methods' upvalues (see UV_META), with the metatable at index mt
** and the table of reason names at index reasons.
*/
static void push_upvalues(lua_State *L, int mt, int reasons)
{
  int f;
  lua_pushlightuserdata(L, (void *)lua_topointer(L, mt));
  for (f = 0; f < 4; f++) lua_pushstring(L, field_names[f]);
  lua_pushvalue(L, reasons);
}

/* A new table of the reason names by code. */
static void push_reasons(lua_State *L)
{
  int i;
  lua_newtable(L);
  for (i = 0; mdt_reason_name(i) != NULL; i++) {
    lua_pushstring(L, mdt_reason_name(i));
    lua_rawseti(L, -2, i);
  }
}

/*
** require "mandate.core": the module table holds open, parse_value,
** version, reasons, Db (the methods table, which lua/mandate/init.lua
** extends with the writers), Error (the metatable of raised store errors)
** and internal (the Lua layer's primitives: see internal_funcs).
*/
int luaopen_mandate_core(lua_State *L);
int luaopen_mandate_core(lua_State *L)
{
  int mod, reasons;
  luaL_newlib(L, module_funcs);
  mod = lua_gettop(L);
  lua_pushliteral(L, MDT_VERSION);
  lua_setfield(L, -2, "version");

  push_reasons(L);                  /* the methods' own copy */
  reasons = lua_gettop(L);
  luaL_newmetatable(L, DB_TYPE);
  push_upvalues(L, lua_gettop(L), reasons);
  luaL_setfuncs(L, db_meta, NUV);
  lua_createtable(L, 0, sizeof db_methods / sizeof db_methods[0] - 1);
  push_upvalues(L, lua_gettop(L) - 1, reasons);
  luaL_setfuncs(L, db_methods, NUV);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_setfield(L, mod, "Db");
  lua_pushliteral(L, DB_TYPE);
  lua_setfield(L, -2, "__name");
  lua_createtable(L, 0, sizeof internal_funcs / sizeof internal_funcs[0] - 1);
  push_upvalues(L, lua_gettop(L) - 1, reasons);
  luaL_setfuncs(L, internal_funcs, NUV);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "mandate.internal");
  lua_setfield(L, mod, "internal");
  lua_pop(L, 2);                    /* the metatable and reasons */

  luaL_newmetatable(L, ERROR_TYPE);
  lua_pushcfunction(L, l_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setfield(L, -2, "Error");

  push_reasons(L);                  /* for the FFI */
  lua_setfield(L, -2, "reasons");
  return 1;
}
/* }}} */
