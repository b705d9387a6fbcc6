/*
** bulk.c -- the baseline of the bulk write figure: the rows of N
** set_access calls written by prepared statements in a bare C loop, on
** the same schema, in one transaction, as a writer in C would write them
** (no Lua, no engine, no snapshot).  For each change: the user's and the
** tenant's ids by key, the old access row, the upsert when the access
** changes, and its audit row with the same JSON texts; at the end one
** revision.  bench/run.lua times it beside db:set_access in the same run.
**
**   local bulk = require "bench_bulk"
**   local seconds, written = bulk.set_access(path, {{user, tenant, access}, ...})
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <sqlite3.h>

#if LUA_VERSION_NUM == 501
#define lua_rawlen(L, i) lua_objlen((L), (i))
#endif

typedef struct Change {
  const char *user, *tenant, *access;
} Change;

#define STMTS 7
static const char *const sql[STMTS] = {
  "SELECT id FROM users WHERE key = ?1",
  "SELECT id FROM tenants WHERE key = ?1",
  "SELECT access FROM access WHERE user_id = ?1 AND tenant_id = ?2",
  "INSERT INTO access(user_id, tenant_id, access) VALUES (?1, ?2, ?3)"
  " ON CONFLICT(user_id, tenant_id) DO UPDATE SET access = excluded.access",
  "INSERT INTO audit(revision, op, subject, before, after)"
  " VALUES (?1, 'set_access', ?2, ?3, ?4)",
  "INSERT INTO revisions(revision, time, actor, last_id)"
  " VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NULL,"
  " (SELECT max(id) FROM audit))",
  "UPDATE meta SET value = ?1 WHERE key = 'revision'",
};
enum { USER, TENANT, OLD, UPSERT, AUDIT, REVISION, BUMP };

static sqlite3_int64 id_of(sqlite3_stmt *st, const char *key)
{
  sqlite3_int64 id = 0;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return id;
}

static int fail(lua_State *L, sqlite3 *db, const char *what)
{
  lua_pushfstring(L, "bench_bulk: %s: %s", what, sqlite3_errmsg(db));
  sqlite3_close_v2(db);
  return lua_error(L);
}

/* The loop; returns the number of rows changed or -1. */
static long run(sqlite3 *db, sqlite3_stmt **st, const Change *c, size_t n)
{
  sqlite3_int64 revision = 0;
  long written = 0;
  size_t i;
  char before[512], after[512], subject[256];
  sqlite3_stmt *rev;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'revision'",
                         -1, &rev, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(rev) == SQLITE_ROW) revision = sqlite3_column_int64(rev, 0);
  sqlite3_finalize(rev);
  for (i = 0; i < n; i++) {
    sqlite3_int64 u = id_of(st[USER], c[i].user);
    sqlite3_int64 t = id_of(st[TENANT], c[i].tenant);
    int has_old = 0;
    if (!u || !t) return -1;
    sqlite3_bind_int64(st[OLD], 1, u);
    sqlite3_bind_int64(st[OLD], 2, t);
    if (sqlite3_step(st[OLD]) == SQLITE_ROW) {
      const char *old = (const char *)sqlite3_column_text(st[OLD], 0);
      if (strcmp(old, c[i].access) == 0) {
        sqlite3_reset(st[OLD]);
        continue;
      }
      snprintf(before, sizeof before, "{\"access\":\"%s\",\"tenant\":\"%s\"}",
               old, c[i].tenant);
      has_old = 1;
    }
    sqlite3_reset(st[OLD]);
    sqlite3_bind_int64(st[UPSERT], 1, u);
    sqlite3_bind_int64(st[UPSERT], 2, t);
    sqlite3_bind_text(st[UPSERT], 3, c[i].access, -1, SQLITE_STATIC);
    if (sqlite3_step(st[UPSERT]) != SQLITE_DONE) return -1;
    sqlite3_reset(st[UPSERT]);
    snprintf(after, sizeof after, "{\"access\":\"%s\",\"tenant\":\"%s\"}",
             c[i].access, c[i].tenant);
    snprintf(subject, sizeof subject, "user:%s", c[i].user);
    sqlite3_bind_int64(st[AUDIT], 1, revision + 1);
    sqlite3_bind_text(st[AUDIT], 2, subject, -1, SQLITE_STATIC);
    if (has_old) sqlite3_bind_text(st[AUDIT], 3, before, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st[AUDIT], 3);
    sqlite3_bind_text(st[AUDIT], 4, after, -1, SQLITE_STATIC);
    if (sqlite3_step(st[AUDIT]) != SQLITE_DONE) return -1;
    sqlite3_reset(st[AUDIT]);
    written++;
  }
  if (written > 0) {
    sqlite3_bind_int64(st[REVISION], 1, revision + 1);
    sqlite3_bind_int64(st[BUMP], 1, revision + 1);
    if (sqlite3_step(st[REVISION]) != SQLITE_DONE ||
        sqlite3_step(st[BUMP]) != SQLITE_DONE)
      return -1;
    sqlite3_reset(st[REVISION]);
    sqlite3_reset(st[BUMP]);
  }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return -1;
  return written;
}

/* set_access(path, changes) -> CPU seconds of the loop, rows written */
static int l_set_access(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  size_t n, i;
  Change *c;
  sqlite3 *db;
  sqlite3_stmt *st[STMTS];
  clock_t t0;
  long written;
  int k;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (size_t)lua_rawlen(L, 2);
  c = (Change *)lua_newuserdata(L, (n ? n : 1) * sizeof *c);
  for (i = 0; i < n; i++) {          /* the strings stay in the table */
    lua_rawgeti(L, 2, (lua_Integer)i + 1);
    lua_rawgeti(L, -1, 1);
    c[i].user = lua_tostring(L, -1);
    lua_rawgeti(L, -2, 2);
    c[i].tenant = lua_tostring(L, -1);
    lua_rawgeti(L, -3, 3);
    c[i].access = lua_tostring(L, -1);
    lua_pop(L, 4);
    if (!c[i].user || !c[i].tenant || !c[i].access)
      return luaL_error(L, "changes[%d]: {user, tenant, access} expected",
                        (int)i + 1);
  }
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    return fail(L, db, "open");
  /* the store's own settings (src/store/store.c) */
  sqlite3_exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
               " PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY",
               NULL, NULL, NULL);
  for (k = 0; k < STMTS; k++)
    if (sqlite3_prepare_v2(db, sql[k], -1, &st[k], NULL) != SQLITE_OK)
      return fail(L, db, sql[k]);
  t0 = clock();
  written = run(db, st, c, n);
  lua_pushnumber(L, (lua_Number)(clock() - t0) / CLOCKS_PER_SEC);
  for (k = 0; k < STMTS; k++) sqlite3_finalize(st[k]);
  if (written < 0) return fail(L, db, "the loop");
  sqlite3_close_v2(db);
  lua_pushinteger(L, (lua_Integer)written);
  return 2;
}

int luaopen_bench_bulk(lua_State *L);
int luaopen_bench_bulk(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    { "set_access", l_set_access },
    { NULL, NULL }
  };
  lua_newtable(L);
  luaL_setfuncs(L, funcs, 0);
  return 1;
}
