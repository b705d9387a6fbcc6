/*
** lmandate.c -- the Lua binding: luaopen_mandate_core.
**
** A mandate.Db userdata boxes one store.  The checks (check, check_ids,
** prepare, explain, effective) are C functions here because they are the
** hot path; the writers live in lua/mandate/ and reach SQLite through the
** few underscore primitives (_exec, _rows, _row, _touch_*), which raise a
** mandate.Error table ({code =, message =}) on runtime failures so that the
** Lua layer can roll back and return nil, message, code.
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

/* Handles and errors {{{ */

#define CLOSED "mandate.Db: the store is closed"

/* The Db at argument 1, open or closed. */
static ldb *anydb(lua_State *L)
{
  ldb *d = (ldb *)lua_touserdata(L, 1);
  if (d == NULL || !lua_getmetatable(L, 1))
    return (ldb *)luaL_checkudata(L, 1, DB_TYPE);   /* raises the error */
  if (lua_topointer(L, -1) != lua_touserdata(L, lua_upvalueindex(UV_META)))
    d = (ldb *)luaL_checkudata(L, 1, DB_TYPE);
  lua_pop(L, 1);
  return d;
}

/*
** d's store, which must be open.  Also after a call has begun: converting
** an argument (a finalizer) or reading a record (its __index) runs Lua
** code, which may close it.
*/
static mdt_store *live(lua_State *L, const ldb *d)
{
  if (!d->st) luaL_error(L, CLOSED);
  return d->st;
}

/* The open Db at argument 1. */
static ldb *todb(lua_State *L)
{
  ldb *d = anydb(L);
  live(L, d);
  return d;
}

#define SHOWN_MAX 60            /* bytes of a string quoted in a message */

/*
** Push value i as a message shows it, as lua/mandate/validate.lua's
** V.show does: a string quoted, control bytes escaped, one longer than
** SHOWN_MAX cut to SHOWN_MAX - 3 bytes at a character's start and "..."
** (a 1 MB key must not make a 1 MB message that a web server echoes); a
** number as it is, anything else by its type.
*/
static const char *push_shown(lua_State *L, int i)
{
  size_t len, n, j;
  const char *p;
  luaL_Buffer b;
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_pushvalue(L, i);
    return lua_tostring(L, -1);     /* the copy is converted, not i */
  }
  if (lua_type(L, i) != LUA_TSTRING) {
    lua_pushfstring(L, "a %s", luaL_typename(L, i));
    return lua_tostring(L, -1);
  }
  p = lua_tolstring(L, i, &len);
  n = len;
  if (len > SHOWN_MAX) {
    n = SHOWN_MAX - 3;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) n--;
  }
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '\'');
  for (j = 0; j < n; j++) {
    unsigned char c = (unsigned char)p[j];
    char esc[8];
    if (c == '\n') luaL_addstring(&b, "\\n");
    else if (c == '\r') luaL_addstring(&b, "\\r");
    else if (c == '\t') luaL_addstring(&b, "\\t");
    else if (c == '\\') luaL_addstring(&b, "\\\\");
    else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\%03d", c);
      luaL_addstring(&b, esc);
    } else {
      luaL_addchar(&b, (char)c);
    }
  }
  if (n < len) luaL_addstring(&b, "...");
  luaL_addchar(&b, '\'');
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/*
** luaL_checkoption, with the bad value shown by push_shown: the stock one
** quotes it whole.
*/
static int check_option(lua_State *L, int i, const char *const names[])
{
  const char *name = luaL_checkstring(L, i);
  int k;
  for (k = 0; names[k]; k++)
    if (strcmp(names[k], name) == 0) return k;
  return luaL_argerror(L, i, lua_pushfstring(L, "invalid option %s",
                                             push_shown(L, i)));
}

/* Raise a mandate.Error for a runtime failure of the store. */
static int raise_store(lua_State *L, mdt_store *st, int code)
{
  lua_createtable(L, 0, 2);
  lua_pushstring(L, code_name(code));
  lua_setfield(L, -2, "code");
  lua_pushstring(L, mdt_store_errmsg(st));
  lua_setfield(L, -2, "message");
  luaL_getmetatable(L, ERROR_TYPE);
  lua_setmetatable(L, -2);
  return lua_error(L);
}

/* nil, message, code: a runtime failure as a result */
static int fail_result(lua_State *L, const char *msg, int code)
{
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, code_name(code));
  return 3;
}

static int l_error_tostring(lua_State *L)
{
  lua_getfield(L, 1, "message");
  return 1;
}

static void renew_keys(ldb *d, const mdt_snap *s);

/* Change sets and coroutines {{{ */

/*
** A change set belongs to the coroutine that opened it.  In a web server
** every request of a worker is a coroutine sharing one handle, and any
** I/O yields: while the owner is suspended, a call from anywhere else
** must neither see its uncommitted rows nor join it.  So:
**  - a change set opened by a coroutine (not the main thread, which
**    cannot yield) claims the handle (db:_begin) and pins the committed
**    snapshot (mdt_store_pin);
**  - a call made while the owner is suspended, or after it died inside
**    the change set, is "away": its checks read the pinned snapshot,
**    resolve keys by their text (the key cache may hold ids of rows the
**    change set created) and cache nothing; writers and SQL readers
**    refuse as busy (lua/mandate/write.lua, read.lua);
**  - a call made by the owner, or by a coroutine it resumed (the owner
**    is then "normal"), is inside it, as before.
** The owner is held weakly: a coroutine dropped while suspended inside a
** change set (a request the server aborted) is collected, and the next
** writer rolls the change set back.
*/
enum { OWN_NONE, OWN_IN, OWN_AWAY, OWN_GONE };

static const char *const own_names[] = { "none", "in", "away", "gone" };

/* Where the running coroutine L stands to d's open change set. */
static int owner_state(lua_State *L, const ldb *d)
{
  lua_State *co;
  lua_Debug ar;
  if (!d->owned) return OWN_NONE;
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->owner);
  lua_rawgeti(L, -1, 1);
  co = lua_tothread(L, -1);
  lua_pop(L, 2);
  if (co == NULL) return OWN_GONE;          /* collected while suspended */
  if (co == L) return OWN_IN;
  if (lua_status(co) == LUA_YIELD) return OWN_AWAY;
  if (lua_status(co) == LUA_OK && lua_getstack(co, 0, &ar))
    return OWN_IN;                          /* "normal": it resumed L */
  return OWN_GONE;                          /* dead: closed or failed */
}

/* db:_owner() -> "none" | "in" | "away" | "gone" (see owner_state) */
static int l_owner(lua_State *L)
{
  lua_pushstring(L, own_names[owner_state(L, todb(L))]);
  return 1;
}

/* Release d's claim: its change set has ended. */
static void release(lua_State *L, ldb *d)
{
  if (!d->owned) return;
  d->owned = 0;
  mdt_store_unpin(d->st);
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->owner);
  lua_pushnil(L);
  lua_rawseti(L, -2, 1);
  lua_pop(L, 1);
}

/*
** Raise a change set's failure: a mandate.Error whose rule names the
** change set's own rules ("torn", "lost"), for the Lua layer to word.
*/
static int raise_change(lua_State *L, ldb *d, int rc)
{
  const char *rule = rc == MDT_TORN ? "torn" : rc == MDT_LOST ? "lost" : NULL;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, code_name(rule ? MDT_ERROR : rc));
  lua_setfield(L, -2, "code");
  lua_pushstring(L, mdt_store_errmsg(d->st));
  lua_setfield(L, -2, "message");
  if (rule) {
    lua_pushstring(L, rule);
    lua_setfield(L, -2, "rule");
  }
  luaL_getmetatable(L, ERROR_TYPE);
  lua_setmetatable(L, -2);
  return lua_error(L);
}

/*
** db:_begin(direct) -> level (1: the outermost), settled: open a level of
** a change set (mdt_change_begin), after rolling back one whose owner is
** gone (settled = true: the Lua layer forgets its state).  The outermost,
** opened by a coroutine, claims the handle and pins the committed
** snapshot.  nil, "busy" while another coroutine's change set is open;
** a failure raises (raise_change).
*/
static int l_begin(lua_State *L)
{
  ldb *d = todb(L);
  int direct = lua_toboolean(L, 2), level, rc, settled = 0;
  switch (owner_state(L, d)) {
    case OWN_AWAY:
      lua_pushnil(L);
      lua_pushliteral(L, "busy");
      return 2;
    case OWN_GONE:
      mdt_change_abandon(d->st);
      release(L, d);
      settled = 1;
      break;
    default: break;
  }
  if ((rc = mdt_change_begin(d->st, direct, &level)) != MDT_OK)
    return raise_change(L, d, rc);
  if (level == 1 && !lua_pushthread(L)) {   /* a coroutine: claim */
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->owner);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 1);
    if ((rc = mdt_store_pin(d->st)) != MDT_OK) {
      lua_pushnil(L);
      lua_rawseti(L, -2, 1);
      mdt_change_end(d->st, MDT_CHANGE_ROLLBACK);
      return raise_change(L, d, rc);
    }
    d->owned = 1;
  }
  lua_pushinteger(L, level);
  lua_pushboolean(L, settled);
  return 2;
}

static const char *const end_names[] = { "commit", "rollback", "tear", NULL };

/*
** db:_end(how): close the innermost level ("commit", "rollback", "tear":
** see mdt_change_end); the outermost releases the handle.  A failure
** raises (raise_change), the change set rolled back.
*/
static int l_end(lua_State *L)
{
  ldb *d = todb(L);
  int how = check_option(L, 2, end_names);
  int rc = mdt_change_end(d->st, how);
  if (mdt_change_level(d->st) == 0) release(L, d);
  if (rc != MDT_OK) return raise_change(L, d, rc);
  return 0;
}

/* db:_audit(op, subject, before, after): an audit row of the change set
** (before/after: JSON texts or nil). */
static int l_audit(lua_State *L)
{
  ldb *d = todb(L);
  size_t nb = 0, na = 0;
  const char *op = luaL_checkstring(L, 2), *subject = luaL_checkstring(L, 3);
  const char *before = luaL_optlstring(L, 4, NULL, &nb);
  const char *after = luaL_optlstring(L, 5, NULL, &na);
  int rc = mdt_change_audit(d->st, op, subject, before, nb, after, na);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  return 0;
}

/* db:_set_actor(name or nil): recorded with every revision from now on. */
static int l_set_actor(lua_State *L)
{
  ldb *d = todb(L);
  int rc = mdt_change_set_actor(d->st, luaL_optstring(L, 2, NULL));
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  return 0;
}

static int l_actor(lua_State *L)
{
  const char *actor = mdt_change_actor(todb(L)->st);
  if (actor) lua_pushstring(L, actor);
  else lua_pushnil(L);
  return 1;
}
/* }}} */

/*
** mdt_store_snapshot, and a new key cache generation whenever the
** snapshot may have changed; for a call away from an open change set,
** the committed snapshot it pinned.  What a caller reads from *s it must
** read before it next runs Lua code or allocates (see key_keep), or hold
** the store meanwhile (see held).
*/
static int current(lua_State *L, ldb *d, const mdt_snap **s)
{
  int rc;
  mdt_store *st = live(L, d);
  if (d->owned && (d->away = owner_state(L, d) >= OWN_AWAY) != 0) {
    *s = mdt_store_pinned(st);
    return MDT_OK;
  }
  d->away = 0;
  rc = mdt_store_snapshot(st, s);
  if (mdt_store_epoch(d->st) != d->epoch) renew_keys(d, *s);
  return rc;
}

/*
** The up-to-date snapshot, or a raised mandate.Error (checks return
** nil, message, code instead: a failure there is a result, like a denial).
*/
static const mdt_snap *snapshot(lua_State *L, ldb *d)
{
  const mdt_snap *s;
  int rc = current(L, d, &s);
  if (rc != MDT_OK) raise_store(L, d->st, rc);
  return s;
}

/*
** Call body (a method of this file) with this call's arguments while the
** store is held, which keeps it open and its snapshot in place: for
** methods that read the snapshot (fresh: brought up to date first) or step
** a statement while they build their results, since each allocation may
** run a finalizer that checks, writes or closes on this store.  Inside
** lua_pcall, so that no error leaves the store held.
*/
static int held(lua_State *L, lua_CFunction body, int fresh)
{
  ldb *d = todb(L);
  int i, n = lua_gettop(L), rc;
  for (i = 1; i <= NUV; i++) lua_pushvalue(L, lua_upvalueindex(i));
  lua_pushcclosure(L, body, NUV);
  for (i = 1; i <= n; i++) lua_pushvalue(L, i);   /* the Db stays at 1 */
  if (fresh) snapshot(L, d);
  mdt_store_hold(live(L, d));
  rc = lua_pcall(L, n, LUA_MULTRET, 0);
  mdt_store_release(d->st);         /* still open: held, it cannot close */
  if (rc != LUA_OK) return lua_error(L);
  return lua_gettop(L) - n;
}
/* }}} */

/* Opening and closing {{{ */

/*
** core.open(path, readonly, create): create nil opens or creates, false
** only opens, true also adds mandate's tables to a database holding
** others (see mdt_store_open).  mandate.open checks the arguments.
*/
static int l_open(lua_State *L)
{
  const char *path = luaL_optstring(L, 1, NULL);
  char err[600];
  int rc, flags = lua_toboolean(L, 2) ? MDT_OPEN_READONLY : 0;
  if (lua_type(L, 3) == LUA_TBOOLEAN)
    flags |= lua_toboolean(L, 3) ? MDT_OPEN_ADOPT : MDT_OPEN_NOCREATE;
  lua_settop(L, 1);
  ldb *d = (ldb *)lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);           /* closed until the open succeeds */
  d->anchors = d->owner = LUA_NOREF;
  d->gen = 1;                        /* tag 0 marks a never-used entry */
  lua_newtable(L);                   /* the anchors' registry slot, made */
  d->anchors = luaL_ref(L, LUA_REGISTRYINDEX);  /* now: later, no allocation */
  lua_newtable(L);                   /* {owner}, weak: see owner_state */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  d->owner = luaL_ref(L, LUA_REGISTRYINDEX);
  luaL_getmetatable(L, DB_TYPE);
  lua_setmetatable(L, -2);
  rc = mdt_store_open(path, flags, &d->st, err, sizeof err);
  if (rc != MDT_OK) return fail_result(L, err, rc);
  return 1;
}

static int l_close(lua_State *L)
{
  ldb *d = anydb(L);
  if (d->st && mdt_store_held(d->st))
    return luaL_error(L, "mandate.Db: the store cannot be closed while "
                         "another call on it is under way");
  mdt_store_close(d->st);
  d->st = NULL;
  free(d->key);
  d->key = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, d->anchors);
  d->anchors = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, d->owner);
  d->owner = LUA_NOREF;
  d->owned = 0;
  return 0;
}

static int l_tostring(lua_State *L)
{
  ldb *d = anydb(L);
  if (d->st) lua_pushfstring(L, DB_TYPE " (%p)", (void *)d);
  else lua_pushliteral(L, DB_TYPE " (closed)");
  return 1;
}

static int l_isopen(lua_State *L)
{
  ldb *d = anydb(L);
  lua_pushboolean(L, d->st != NULL);
  return 1;
}
/* }}} */

/* SQL primitives for the Lua layer {{{ */

static sqlite3_stmt *prepare_args(lua_State *L, ldb *d)
{
  size_t len;
  const char *sql = luaL_checklstring(L, 2, &len);
  int n = lua_gettop(L), i, rc;
  sqlite3_stmt *stmt;
  if ((rc = mdt_store_prepare(live(L, d), sql, len, &stmt)) != MDT_OK)
    raise_store(L, d->st, rc);
  for (i = 3; i <= n; i++) {
    int p = i - 2;
    switch (lua_type(L, i)) {
      case LUA_TNIL: rc = sqlite3_bind_null(stmt, p); break;
      case LUA_TBOOLEAN:
        rc = sqlite3_bind_int(stmt, p, lua_toboolean(L, i));
        break;
      case LUA_TNUMBER:
        rc = lua_isinteger(L, i)
           ? sqlite3_bind_int64(stmt, p, (sqlite3_int64)lua_tointeger(L, i))
           : sqlite3_bind_double(stmt, p, (double)lua_tonumber(L, i));
        break;
      case LUA_TSTRING: {
        size_t sl;
        const char *sv = lua_tolstring(L, i, &sl);
        rc = sqlite3_bind_text64(stmt, p, sv, (sqlite3_uint64)sl,
                                 SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
      }
      default:
        luaL_argerror(L, i, "expected nil, boolean, number or string");
    }
    if (rc != SQLITE_OK) raise_store(L, d->st, mdt_store_fail(d->st, rc));
  }
  return stmt;
}

static void push_column(lua_State *L, sqlite3_stmt *stmt, int c)
{
  switch (sqlite3_column_type(stmt, c)) {
    case SQLITE_INTEGER:
      lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(stmt, c));
      break;
    case SQLITE_FLOAT:
      lua_pushnumber(L, (lua_Number)sqlite3_column_double(stmt, c));
      break;
    case SQLITE_NULL: lua_pushnil(L); break;
    default:
      lua_pushlstring(L, (const char *)sqlite3_column_blob(stmt, c),
                      (size_t)sqlite3_column_bytes(stmt, c));
  }
}

static void push_row(lua_State *L, sqlite3_stmt *stmt)
{
  int c, n = sqlite3_column_count(stmt);
  lua_createtable(L, 0, n);
  for (c = 0; c < n; c++) {
    push_column(L, stmt, c);
    lua_setfield(L, -2, sqlite3_column_name(stmt, c));
  }
}

/* A step that failed: reset (which releases locks) and raise. */
static int step_failed(lua_State *L, ldb *d, sqlite3_stmt *stmt, int rc)
{
  int code = mdt_store_fail(d->st, rc);
  sqlite3_reset(stmt);
  return raise_store(L, d->st, code);
}

/* db:_exec(sql, ...) -> number of changed rows, last inserted row id */
static int l_exec(lua_State *L)
{
  ldb *d = todb(L);
  sqlite3_stmt *stmt = prepare_args(L, d);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {}
  if (rc != SQLITE_DONE) return step_failed(L, d, stmt, rc);
  sqlite3_reset(stmt);
  lua_pushinteger(L, (lua_Integer)sqlite3_changes(mdt_store_db(d->st)));
  lua_pushinteger(L,
      (lua_Integer)sqlite3_last_insert_rowid(mdt_store_db(d->st)));
  return 2;
}

/* db:_rows(sql, ...) -> array of row tables (NULL columns are absent) */
static int rows(lua_State *L)
{
  ldb *d = todb(L);
  sqlite3_stmt *stmt = prepare_args(L, d);
  lua_Integer i = 0;
  int rc;
  lua_newtable(L);
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    push_row(L, stmt);
    lua_rawseti(L, -2, (int)++i);
  }
  if (rc != SQLITE_DONE) return step_failed(L, d, stmt, rc);
  sqlite3_reset(stmt);
  return 1;
}

/* db:_row(sql, ...) -> the first row table, or nil */
static int row(lua_State *L)
{
  ldb *d = todb(L);
  sqlite3_stmt *stmt = prepare_args(L, d);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) push_row(L, stmt);
  else if (rc == SQLITE_DONE) lua_pushnil(L);
  else return step_failed(L, d, stmt, rc);
  sqlite3_reset(stmt);
  return 1;
}

/* Pushing a row allocates: held, so that no finalizer closes the store
** under the statement. */
static int l_rows(lua_State *L)
{
  return held(L, rows, 0);
}

static int l_row(lua_State *L)
{
  return held(L, row, 0);
}

/*
** db:_lists_epoch() -> a number that steps whenever a distribution list
** may have changed (see mdt_store_lists_epoch), after polling for other
** connections' commits (PRAGMA data_version: a resolved list shows them
** at once).
*/
static int l_lists_epoch(lua_State *L)
{
  ldb *d = todb(L);
  int rc = mdt_store_refresh(d->st);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  lua_pushinteger(L, (lua_Integer)mdt_store_lists_epoch(d->st));
  return 1;
}

static int l_in_transaction(lua_State *L)
{
  lua_pushboolean(L, !sqlite3_get_autocommit(mdt_store_db(todb(L)->st)));
  return 1;
}

static const char *const kind_names[] = {
  "level", "unit", "tenant", "right", "bundle", "user", "customer", NULL
};

/*
** known(db, kind, key) -> the id of the entity key names, or nil: from the
** snapshot when it knows the key (one hash lookup; it never rebuilds or
** patches here, as a bulk write touches a user per call), else by one
** query (mdt_store_id).  For writers, which raise their own "not found".
*/
static int l_known(lua_State *L)
{
  ldb *d = todb(L);
  int kind = check_option(L, 2, kind_names);
  size_t len;
  const char *key = luaL_checklstring(L, 3, &len);
  mdt_id id;
  int rc = mdt_store_id(live(L, d), kind, key, len, &id);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  if (id) lua_pushinteger(L, (lua_Integer)id);
  else lua_pushnil(L);
  return 1;
}
/* }}} */

/* Freshness {{{ */

static int l_refresh(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  int rc = mdt_store_refresh(d->st);
  if (rc == MDT_OK) rc = mdt_store_snapshot(d->st, &s);
  if (rc != MDT_OK) return fail_result(L, mdt_store_errmsg(d->st), rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_set_refresh_interval(lua_State *L)
{
  ldb *d = todb(L);
  lua_Number s = luaL_checknumber(L, 2);
  luaL_argcheck(L, s == s, 2, "interval must be a number of seconds, not NaN");
  mdt_store_set_interval(d->st, (double)s);
  return 0;
}

static int l_refresh_interval(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)mdt_store_interval(todb(L)->st));
  return 1;
}

static int l_stats(lua_State *L)
{
  ldb *d = todb(L);
  int64_t rebuilds, patches;
  uint32_t cached = mdt_store_epoch(d->st) == d->epoch ? d->keyused : 0;
  mdt_store_stats(d->st, &rebuilds, &patches);
  lua_createtable(L, 0, 3);         /* from here on d may be closed */
  lua_pushinteger(L, (lua_Integer)rebuilds);
  lua_setfield(L, -2, "rebuilds");
  lua_pushinteger(L, (lua_Integer)patches);
  lua_setfield(L, -2, "patches");
  lua_pushinteger(L, (lua_Integer)cached);
  lua_setfield(L, -2, "cached_keys");
  return 1;
}
/* }}} */

/* Keys and values {{{ */

/* Key cache {{{ */

/*
** Short Lua strings are interned: while one lives, its address names its
** text.  So the binding resolves a key by hashing that address into a
** table of its own, touching neither the string's bytes nor the
** snapshot's key table: on a large store that is two cache misses less
** per key, most of what a check costs.  What keeps this sound:
**  - each cached string is anchored (in a registry table per Db), so its
**    address cannot pass to another string while its entry lives;
**  - entries belong to a generation, renewed whenever the snapshot may
**    have changed (a patch can rename users, a rebuild anything).  An
**    entry of an older generation counts as empty, so renewing is O(1),
**    and as no entry leaves within a generation, linear probing may stop
**    at the first one;
**  - longer strings, which 5.3 and 5.4 do not intern, are never cached
**    (each request would bring a new copy), and a generation that fills
**    the table to the limit anyway is renewed: memory stays bounded by
**    the store's keys.
** A call resolves its keys in two steps: key_find, which allocates
** nothing, while it uses the snapshot, and key_keep, which anchors (and
** so may run a finalizer that checks, writes or closes), once it no
** longer does.
*/
#if LUA_VERSION_NUM == 501
#define SHORTSTR ((size_t)-1)       /* 5.1 and LuaJIT intern every string */
#else
#define SHORTSTR 40                 /* LUAI_MAXSHORTLEN of 5.3 and 5.4 */
#endif
#define MAXGEN (UINT32_MAX >> 3)
#define MINKEYS 64

typedef struct Key {        /* one key of a call */
  int idx;                  /* its stack index (absolute) */
  int kind;
  int keep;                 /* found by its text: cache it afterwards */
  mdt_id id;                /* 0: names nothing */
} Key;

/* A new generation; s (when given) sets the table's limit. */
static void renew_keys(ldb *d, const mdt_snap *s)
{
  int k;
  d->epoch = mdt_store_epoch(d->st);
  d->keyused = 0;
  if (++d->gen > MAXGEN) {          /* tags would repeat: forget them */
    if (d->key) memset(d->key, 0, ((size_t)d->keymask + 1) * sizeof *d->key);
    d->gen = 1;
  }
  if (s == NULL) return;
  d->keylimit = MINKEYS;
  for (k = 0; k < MDT_NKINDS; k++) d->keylimit += 2 * (size_t)mdt_max_id(s, k);
}

static size_t key_home(const char *p, int kind, uint32_t mask)
{
  uint64_t h = ((uint64_t)(uintptr_t)p + (uint64_t)kind) *
               UINT64_C(0x9e3779b97f4a7c15);
  return (size_t)(h >> 32) & mask;
}

/* The first slot from p's home that holds p or nothing of this generation. */
static KeyEntry *key_slot(const ldb *d, const char *p, int kind)
{
  uint32_t mask = d->keymask;
  size_t i = key_home(p, kind, mask);
  KeyEntry *e;
  while ((e = &d->key[i])->tag >> 3 == d->gen &&
         (e->p != p || (int)(e->tag & 7) != kind))
    i = (i + 1) & mask;
  return e;
}

/*
** Room for one more entry: doubles the table while it is at most half
** full, up to the limit; past that a new generation starts.  0 when out
** of memory (the key is then not cached).
*/
static int key_room(ldb *d)
{
  size_t n = d->key ? (size_t)d->keymask + 1 : 0, i;
  KeyEntry *old = d->key, *fresh;
  if (((size_t)d->keyused + 1) * 2 <= n) return 1;
  if (n >= d->keylimit || n > (UINT32_MAX >> 1)) {
    renew_keys(d, NULL);
    return 1;
  }
  if ((fresh = calloc(n ? 2 * n : MINKEYS, sizeof *fresh)) == NULL) return 0;
  d->key = fresh;
  d->keymask = (uint32_t)((n ? 2 * n : MINKEYS) - 1);
  for (i = 0; i < n; i++)
    if (old[i].tag >> 3 == d->gen)
      *key_slot(d, old[i].p, (int)(old[i].tag & 7)) = old[i];
  free(old);
  return 1;
}

/*
** Resolve k (a string at k->idx) in s, which came from current(): from
** the cache, else by its text (k->keep is set then).  Allocates nothing.
*/
static void key_find(lua_State *L, const ldb *d, const mdt_snap *s, Key *k)
{
  const char *p = lua_tolstring(L, k->idx, NULL);   /* reads no bytes */
  size_t len;
  k->keep = 0;
  if (d->key && !d->away) {
    const KeyEntry *e = key_slot(d, p, k->kind);
    if (e->tag >> 3 == d->gen) {
      k->id = (mdt_id)e->id;
      return;
    }
  }
  p = lua_tolstring(L, k->idx, &len);
  k->id = mdt_lookup(s, k->kind, p, len);
  k->keep = k->id > 0 && len <= SHORTSTR;
}

/* Is d still open and in generation gen? */
#define IN_GEN(d, gen) ((d)->st != NULL && (d)->gen == (gen))

/*
** Cache keys[0..n) that key_find found by their text in generation gen.
** Each allocation may run a finalizer that renews the generation or
** closes the store, so the state is looked at again after each; a key
** whose generation has passed is simply not cached.
*/
static void key_keep(lua_State *L, ldb *d, const Key *keys, int n,
                     uint32_t gen)
{
  int j;
  if (d->away) return;              /* its ids are the pinned snapshot's */
  for (j = 0; j < n; j++) {
    const Key *k = &keys[j];
    KeyEntry *e;
    if (!k->keep) continue;
    if (!IN_GEN(d, gen) || !key_room(d) || d->gen != gen) return;
    if (d->anchorgen != gen) {      /* this generation's anchors */
      lua_newtable(L);
      if (!IN_GEN(d, gen)) return;
      if (d->anchorgen != gen) {    /* the slot exists: no allocation */
        lua_rawseti(L, LUA_REGISTRYINDEX, d->anchors);
        d->anchorgen = gen;
      } else {
        lua_pop(L, 1);
      }
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, d->anchors);
    lua_pushvalue(L, k->idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    if (!IN_GEN(d, gen)) return;
    e = key_slot(d, lua_tolstring(L, k->idx, NULL), k->kind);
    if (e->tag >> 3 != gen) d->keyused++;
    e->p = lua_tolstring(L, k->idx, NULL);
    e->tag = gen << 3 | (uint32_t)k->kind;
    e->id = (int32_t)k->id;
  }
}
/* }}} */

/* Arguments {{{ */

/*
** Argument i as a key: a string stays, a number becomes one, anything
** else raises.  Before the snapshot is taken: converting allocates.
*/
static void key_arg(lua_State *L, int i)
{
  if (lua_type(L, i) != LUA_TSTRING) luaL_checklstring(L, i, NULL);
}

/* A key of the call at index i. */
static Key key_at(int i, int kind)
{
  Key k;
  k.idx = i;
  k.kind = kind;
  k.keep = 0;
  k.id = 0;
  return k;
}

/* Resolve argument 2, a user, and 3, a key of kind, in s into k[0..2). */
static void user_and(lua_State *L, const ldb *d, const mdt_snap *s, int kind,
                     Key *k)
{
  k[0] = key_at(2, MDT_USER);
  k[1] = key_at(3, kind);
  key_find(L, d, s, &k[0]);
  key_find(L, d, s, &k[1]);
}

/* Raise for the unknown right at index i: a programmer error. */
static int unknown_right(lua_State *L, int i)
{
  return luaL_error(L, "unknown right %s (not in the catalog; see "
                       "db:rights())", push_shown(L, i));
}

/* user_and for argument 3 a right, which must be known. */
static void user_right(lua_State *L, const ldb *d, const mdt_snap *s, Key *k)
{
  user_and(L, d, s, MDT_RIGHT, k);
  if (!k[1].id) unknown_right(L, 3);
}

/* A record's fields as pushed by record_fields. */
typedef struct Fields {
  int record;               /* 0: no record */
  int given;                /* bit f: field f is a string, not nil */
  int idx[4];               /* stack index of each given field */
} Fields;

#define RECORD_SHAPE "a table {tenant=, owner=, unit=, customer=}"
#define FIELDS_ALLOWED "a record's fields are tenant, owner, unit and customer"

/* The field a key at index k names: 0..3, or -1 (not a field). */
static int field_of(lua_State *L, int k)
{
  size_t len;
  const char *p;
  int f;
  if (lua_type(L, k) != LUA_TSTRING) return -1;   /* never converted: next */
  p = lua_tolstring(L, k, &len);
  switch (len) {                    /* the four names differ in length */
    case 6: f = 0; break;
    case 5: f = 1; break;
    case 4: f = 2; break;
    case 8: f = 3; break;
    default: return -1;
  }
  return memcmp(p, field_names[f], len) == 0 ? f : -1;
}

/*
** Push the place errors name: "record", or "records[elem]" (then
** ".field" when the record is that field of a row: see db:allowed).
*/
static const char *record_place(lua_State *L, lua_Integer elem,
                                const char *field)
{
  if (elem == 0) lua_pushliteral(L, "record");   /* void in 5.1 */
  else if (field == NULL) lua_pushfstring(L, "records[%d]", (int)elem);
  else lua_pushfstring(L, "records[%d].%s", (int)elem, field);
  return lua_tostring(L, -1);
}

/*
** Push the four fields of the record at index i: argument i (nil or a
** table) when elem is 0, else element elem of a sequence of records (a
** table), which errors name.  Any other key raises: a misspelt "tenant"
** would make the record common data, a misspelt "owner" ask only whether
** the user holds the right at all.  One pass of lua_next reads the fields
** and finds strays, about what four raw reads cost.  A table with a
** metatable is read with lua_gettable (a proxy's __index answers), and
** its raw keys must be fields too.  Before the snapshot is taken: a
** record's __index may run any code, writes and checks too.
*/
static Fields record_fields(lua_State *L, int i, lua_Integer elem,
                            const char *field)
{
  Fields r;
  int f, meta, t, top;
  r.record = r.given = 0;
  if (elem == 0) {
    if (lua_isnoneornil(L, i)) return r;
    luaL_argcheck(L, lua_istable(L, i), i,
                  "record must be " RECORD_SHAPE " or nil");
  } else if (!lua_istable(L, i)) {
    luaL_error(L, "%s must be " RECORD_SHAPE ", got %s",
               record_place(L, elem, field), luaL_typename(L, i));
  }
  r.record = 1;
  /* room: a caller has at most 6 slots in use, LUA_MINSTACK (20) takes
     the four pairs and a message's three; the gets want four more */
  if ((meta = lua_getmetatable(L, i)) != 0) {
    lua_pop(L, 1);
    luaL_checkstack(L, 4, "record");
  }
  top = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, i)) {          /* each pair stays: value at top */
    if ((f = field_of(L, -2)) >= 0) {
      r.idx[f] = top += 2;
      r.given |= 1 << f;
      lua_pushvalue(L, -2);         /* the key, for the next step */
      continue;
    }
    lua_pop(L, 1);
    luaL_checkstack(L, 4, "record");
    record_place(L, elem, field);
    push_shown(L, -2);
    luaL_error(L, "%s: %s is not a field (" FIELDS_ALLOWED ")",
               lua_tostring(L, -2), lua_tostring(L, -1));
  }
  for (f = 0; f < 4; f++) {
    if (meta) {
      lua_pushvalue(L, lua_upvalueindex(UV_FIELDS + f));
      lua_gettable(L, i);
      r.idx[f] = lua_gettop(L);
      r.given |= 1 << f;
    }
    if (!(r.given & (1 << f))) continue;
    if ((t = lua_type(L, r.idx[f])) == LUA_TNIL) r.given &= ~(1 << f);
    else if (t != LUA_TSTRING) {
      luaL_error(L, "%s.%s: expected a string key or nil, got %s",
                 record_place(L, elem, field), field_names[f],
                 luaL_typename(L, r.idx[f]));
    }
  }
  return r;
}

/*
** The record of fs into *rec, its keys resolved into keys[0..4); NULL for
** no record.  Each field is absent, a known key or MDT_UNKNOWN.
*/
static const mdt_record *record_of(lua_State *L, const ldb *d,
                                   const mdt_snap *s, Fields fs, Key *keys,
                                   mdt_record *rec)
{
  static const int kinds[4] = { MDT_TENANT, MDT_USER, MDT_UNIT,
                                MDT_CUSTOMER };
  mdt_id id[4];
  int f;
  for (f = 0; f < 4; f++) {
    keys[f] = key_at(fs.given & (1 << f) ? fs.idx[f] : 0, kinds[f]);
    id[f] = MDT_ABSENT;
    if (fs.given & (1 << f)) {
      key_find(L, d, s, &keys[f]);
      id[f] = keys[f].id ? keys[f].id : MDT_UNKNOWN;
    }
  }
  if (!fs.record) return NULL;
  rec->tenant = id[0];
  rec->owner = id[1];
  rec->unit = id[2];
  rec->customer = id[3];
  return rec;
}
/* }}} */

/* Push a value the way Lua users write it: a boolean or a scope string. */
static void push_value(lua_State *L, const mdt_snap *s, int kind,
                       mdt_value v)
{
  char buf[256];
  int n;
  const char *const *levels = mdt_levels(s, &n);
  if (kind == MDT_FLAG) {
    lua_pushboolean(L, v != 0);
    return;
  }
  mdt_value_format(levels, n, kind, v, buf, sizeof buf);
  lua_pushstring(L, buf);
}

static void push_key(lua_State *L, const mdt_snap *s, int kind, mdt_id id)
{
  const char *k = id > 0 ? mdt_key(s, kind, id) : NULL;
  if (k) lua_pushstring(L, k);
  else lua_pushnil(L);
}

static const char *const access_names[] = { "hidden", "read", "full" };

/*
** core.parse_value(levels, kind, customer_ok, value) -> canonical text, or
** nil when value is not a value of that kind.  For the writers' checks.
*/
static int l_parse_value(lua_State *L)
{
  const char *levels[MDT_MAX_LEVELS];
  int n, i, kind, customer_ok = lua_toboolean(L, 3);
  size_t len;
  const char *text;
  char buf[256];
  mdt_value v;
  static const char *const kinds[] = { "flag", "scope", NULL };
  luaL_checktype(L, 1, LUA_TTABLE);
  kind = check_option(L, 2, kinds) ? MDT_SCOPE : MDT_FLAG;
  n = (int)lua_rawlen(L, 1);
  luaL_argcheck(L, n <= MDT_MAX_LEVELS, 1, "too many levels");
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)   /* not converted: see the pop */
      luaL_argerror(L, 1, "levels must be strings");
    levels[i] = lua_tostring(L, -1);
    lua_pop(L, 1);                  /* the table keeps the string alive */
  }
  if (lua_type(L, 4) == LUA_TBOOLEAN) {
    text = lua_toboolean(L, 4) ? "true" : "false";
    len = strlen(text);
  } else if (lua_type(L, 4) == LUA_TSTRING) {
    text = lua_tolstring(L, 4, &len);   /* all of it: "team\0+x" is no value */
  } else {
    return 0;
  }
  if (mdt_value_parse(levels, n, kind, customer_ok, text, len, &v) != MDT_OK)
    return 0;
  mdt_value_format(levels, n, kind, v, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

/*
** db:id(kind, key) -> the stable integer id, or MDT_UNKNOWN (-1) for a
** key that names nothing: never nil, which the id path reads as an absent
** field (an unknown tenant would become common data).
*/
static int l_id(lua_State *L)
{
  ldb *d = todb(L);
  int kind = check_option(L, 2, kind_names), rc;
  Key k = key_at(3, kind);
  const mdt_snap *s;
  key_arg(L, 3);
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  key_find(L, d, s, &k);
  key_keep(L, d, &k, 1, d->gen);
  lua_pushinteger(L, (lua_Integer)(k.id ? k.id : MDT_UNKNOWN));
  return 1;
}
/* }}} */

/* Checks {{{ */

/* true, or false and the reason's name from the table at index names */
static int decision(lua_State *L, int reason, int names)
{
  if (reason == MDT_ALLOWED) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_rawgeti(L, names, reason);
  return 2;
}

/*
** The decision for the user and right of k[0..2) on the record of fs, in
** s of generation gen; the keys found by their text are then cached.
*/
static int decide(lua_State *L, ldb *d, const mdt_snap *s, Fields fs, Key *k,
                  uint32_t gen)
{
  mdt_record rec;
  const mdt_record *p = record_of(L, d, s, fs, k + 2, &rec);
  int reason = mdt_check(s, k[0].id ? k[0].id : MDT_UNKNOWN, k[1].id, p);
  key_keep(L, d, k, 6, gen);
  return reason;
}

/* db:check(user, right [, record]) -> true | false, reason */
static int l_check(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k[6];
  Fields fs;
  int rc;
  key_arg(L, 2);
  key_arg(L, 3);
  fs = record_fields(L, 4, 0, NULL);
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  user_right(L, d, s, k);
  return decision(L, decide(L, d, s, fs, k, d->gen),
                  lua_upvalueindex(UV_REASONS));
}

/*
** db:allowed(user, right, records [, field]) -> a new sequence of the
** records (a sequence, read raw) that db:check(user, right, record)
** allows, in order: a page of records in one call.  With field, records
** are an application's rows and each row's record is row[field] (a
** table): the rows it allows are returned.  Each is decided exactly as
** db:check would at that moment (a record's __index may write); user and
** right are resolved again only when the snapshot may have changed.
*/
static int l_allowed(lua_State *L)
{
  ldb *d = todb(L);
  lua_Integer i, n, kept = 0;
  const mdt_snap *s;
  Key k[6];
  uint32_t gen;                     /* the generation k[0..2) belong to */
  int rc;
  const char *field;
  key_arg(L, 2);
  key_arg(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  field = luaL_optstring(L, 5, NULL);
  lua_settop(L, 5);
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  gen = d->gen;
  user_right(L, d, s, k);           /* also for an empty page */
  n = (lua_Integer)lua_rawlen(L, 4);
  /* 6: the result, sized for all: growing it step by step would leave
     garbage whose collection, on a large heap, costs more than the slots */
  lua_createtable(L, n < INT_MAX ? (int)n : 0, 0);
  for (i = 1; i <= n; i++) {
    Fields fs;
    int allowed;
    lua_settop(L, 6);
    lua_rawgeti(L, 4, (int)i);      /* 7: the record, or the row */
    if (field != NULL) {            /* 8: the row's record */
      if (!lua_istable(L, 7))
        luaL_error(L, "records[%d] must be a row (a table) with a record "
                      "at .%s, got %s", (int)i, field, luaL_typename(L, 7));
      lua_getfield(L, 7, field);
    } else {
      lua_pushvalue(L, 7);
    }
    fs = record_fields(L, 8, i, field);
    if ((rc = current(L, d, &s)) != MDT_OK)
      return fail_result(L, mdt_store_errmsg(d->st), rc);
    if (gen != d->gen) {
      gen = d->gen;
      user_right(L, d, s, k);
    }
    allowed = decide(L, d, s, fs, k, gen) == MDT_ALLOWED;
    k[0].keep = k[1].keep = 0;      /* kept now, or never in this gen */
    if (allowed) {
      lua_pushvalue(L, 7);
      lua_rawseti(L, 6, (int)++kept);
    }
  }
  lua_settop(L, 6);
  return 1;
}

static mdt_id opt_id(lua_State *L, int i)
{
  return lua_isnoneornil(L, i) ? MDT_ABSENT : (mdt_id)luaL_checkinteger(L, i);
}

/* Integer ids from argument base on: user, right, tenant, owner, unit,
** customer; the decision of d's current snapshot, named from names. */
static int check_ids_from(lua_State *L, ldb *d, int base, int names)
{
  const mdt_snap *s;
  mdt_record rec;
  mdt_id u = (mdt_id)luaL_checkinteger(L, base);
  mdt_id r = (mdt_id)luaL_checkinteger(L, base + 1);
  int reason, rc;
  rec.tenant = opt_id(L, base + 2);
  rec.owner = opt_id(L, base + 3);
  rec.unit = opt_id(L, base + 4);
  rec.customer = opt_id(L, base + 5);
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  reason = mdt_check(s, u, r, &rec);
  if (reason == MDT_UNKNOWN_RIGHT)
    return luaL_error(L, "unknown right id %s", push_shown(L, base + 1));
  return decision(L, reason, names);
}

/*
** db:check_ids(user, right, tenant, owner, unit, customer) with integer
** ids from db:id (nil or 0 for absent fields, ids start at 1): the fast
** path for hot loops.
*/
static int l_check_ids(lua_State *L)
{
  return check_ids_from(L, todb(L), 2, lua_upvalueindex(UV_REASONS));
}

/* The closure made by db:_checker: upvalues the Db and the reasons. */
static int l_checked(lua_State *L)
{
  ldb *d = (ldb *)lua_touserdata(L, lua_upvalueindex(1));
  live(L, d);
  return check_ids_from(L, d, 1, lua_upvalueindex(2));
}

/*
** db:_checker() -> function(user, right, tenant, owner, unit, customer):
** check_ids bound to db, without the method lookup and type test.
** lua/mandate/fast.lua hands this out, or an FFI version under LuaJIT.
*/
static int l_checker(lua_State *L)
{
  todb(L);
  lua_settop(L, 1);                 /* the closure keeps the Db alive */
  lua_pushvalue(L, lua_upvalueindex(UV_REASONS));
  lua_pushcclosure(L, l_checked, 2);
  return 1;
}

/*
** db:_box() -> the address of the Db's box, which stays valid while the
** Db lives, open or closed: what LuaJIT's FFI hands to mandate_ffi_check.
*/
static int l_box(lua_State *L)
{
  lua_pushlightuserdata(L, anydb(L));
  return 1;
}

/*
** The check of lua/mandate/fast.lua's FFI checker, for LuaJIT, given the
** Db's box rather than its store or snapshot: LuaJIT's interpreter may run
** a GC step each time it boxes a pointer read out of a cdata, and so a
** finalizer that closes the store, leaving such a pointer dangling before
** it is passed on.  Here no Lua code runs.  The decision, else
** FFI_CLASSIC when the store is closed or its snapshot could not be
** brought up to date: the classic path then raises or reports why.
*/
#define FFI_CLASSIC (-1)

int mandate_ffi_check(const void *box, mdt_id user, mdt_id right,
                      const mdt_record *rec);
int mandate_ffi_check(const void *box, mdt_id user, mdt_id right,
                      const mdt_record *rec)
{
  const ldb *d = (const ldb *)box;
  const mdt_snap *s;
  if (d->st == NULL || d->owned || mdt_store_snapshot(d->st, &s) != MDT_OK)
    return FFI_CLASSIC;             /* owned: only Lua knows who calls */
  return mdt_check(s, user, right, rec);
}

/* The closure made by db:prepare: the methods' upvalues, then db, user
** id and right id. */
#define UV_PREP_DB (NUV + 1)
#define UV_PREP_USER (NUV + 2)
#define UV_PREP_RIGHT (NUV + 3)

/* The decision of a prepared check: user and right ids, the record at i. */
static int prepared_check(lua_State *L, ldb *d, mdt_id u, mdt_id r, int i)
{
  const mdt_snap *s;
  mdt_record rec;
  const mdt_record *p;
  Key k[4];
  Fields fs = record_fields(L, i, 0, NULL);
  int reason, rc;
  uint32_t gen;
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  gen = d->gen;
  p = record_of(L, d, s, fs, k, &rec);
  reason = mdt_check(s, u, r, p);
  key_keep(L, d, k, 4, gen);
  if (reason == MDT_UNKNOWN_RIGHT)
    return luaL_error(L, "the prepared right was deleted");
  return decision(L, reason, lua_upvalueindex(UV_REASONS));
}

static int l_prepared(lua_State *L)
{
  ldb *d = (ldb *)lua_touserdata(L, lua_upvalueindex(UV_PREP_DB));
  live(L, d);
  return prepared_check(L, d,
                        (mdt_id)lua_tointeger(L, lua_upvalueindex(UV_PREP_USER)),
                        (mdt_id)lua_tointeger(L, lua_upvalueindex(UV_PREP_RIGHT)),
                        1);
}

/*
** db:_check_prepared(user id, right id, record): what a prepared check
** does, for lua/mandate/fast.lua's LuaJIT version of db:prepare.
*/
static int l_check_prepared(lua_State *L)
{
  ldb *d = todb(L);
  return prepared_check(L, d, (mdt_id)luaL_checkinteger(L, 2),
                        (mdt_id)luaL_checkinteger(L, 3), 4);
}

/*
** db:_prepare_ids(user, right) -> user id (MDT_UNKNOWN for none), right
** id: what a prepared check keeps; raises for an unknown right; nil,
** message, code when the snapshot cannot be brought up to date.
*/
static int l_prepare_ids(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k[2];
  int rc;
  key_arg(L, 2);
  key_arg(L, 3);
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  user_right(L, d, s, k);
  key_keep(L, d, k, 2, d->gen);
  lua_pushinteger(L, (lua_Integer)(k[0].id ? k[0].id : MDT_UNKNOWN));
  lua_pushinteger(L, (lua_Integer)k[1].id);
  return 2;
}

/*
** db:prepare(user, right) -> function(record) -> true | false, reason.
** Keys are resolved once; ids are stable, so later writes are still seen.
*/
static int l_prepare(lua_State *L)
{
  int i;
  if (l_prepare_ids(L) != 2) return 3;  /* nil, message, code */
  for (i = 1; i <= NUV; i++) lua_pushvalue(L, lua_upvalueindex(i));
  lua_pushvalue(L, 1);              /* the closure keeps the Db alive */
  lua_pushvalue(L, -NUV - 3);
  lua_pushvalue(L, -NUV - 3);
  lua_pushcclosure(L, l_prepared, NUV + 3);
  return 1;
}

/*
** db:access(user, tenant) -> "full" | "read" | "hidden", explicit; the
** tenant gate's view (explicit = false: the tenant's default).  nil for an
** unknown user or tenant.
*/
static int l_access(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k[2];
  int explicit_row, a, rc;
  key_arg(L, 2);
  key_arg(L, 3);
  if ((rc = current(L, d, &s)) != MDT_OK)
    return fail_result(L, mdt_store_errmsg(d->st), rc);
  user_and(L, d, s, MDT_TENANT, k);
  a = k[0].id ? mdt_access(s, k[0].id, k[1].id, &explicit_row) : -1;
  key_keep(L, d, k, 2, d->gen);
  if (a < 0) return 0;
  lua_pushstring(L, access_names[a]);
  lua_pushboolean(L, explicit_row);
  return 2;
}

/*
** tenant_access(db, user) -> {[tenant id] = 0 hidden | 1 read | 2 full}
** for every tenant; or nil and the reason ("unknown_user",
** "inactive_user") when the user step of a check denies: lets list
** resolution gate thousands of rows with one table lookup each, by the
** engine's rules on the same snapshot as db:check.
*/
static int tenant_access(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k = key_at(2, MDT_USER);
  mdt_id t, max;
  int explicit_row, why;
  key_arg(L, 2);
  s = snapshot(L, d);
  key_find(L, d, s, &k);
  if ((why = mdt_user_step(s, k.id ? k.id : MDT_UNKNOWN)) != MDT_ALLOWED) {
    lua_pushnil(L);
    lua_pushstring(L, mdt_reason_name(why));
    return 2;
  }
  max = mdt_max_id(s, MDT_TENANT);
  lua_createtable(L, (int)max, 0);
  for (t = 1; t <= max; t++) {
    int a = mdt_access(s, k.id, t, &explicit_row);
    if (a < 0) continue;
    lua_pushinteger(L, a);
    lua_rawseti(L, -2, (int)t);
  }
  return 1;
}

static int l_tenant_access(lua_State *L)
{
  return held(L, tenant_access, 1);
}
/* }}} */

/* Explain and effective {{{ */

static const char *const source_names[] = { "none", "bundles", "override" };
static const char *const match_names[] = {
  "none", "hold", "customer", "own", "level", "all", "flag"
};
static const char *const fix_names[] = {
  "none", "activate", "access", "override", "impossible"
};

static void set_string(lua_State *L, const char *field, const char *v)
{
  lua_pushstring(L, v);
  lua_setfield(L, -2, field);
}

/* {bundle key = value, ...} of the user's bundles for one right */
static void push_bundle_values(lua_State *L, const mdt_snap *s, mdt_id u,
                               mdt_id r, int kind)
{
  const mdt_id *bundles;
  int nb = 0, i, active;
  mdt_id unit;
  lua_newtable(L);
  if (mdt_user_info(s, u, &unit, &active, &bundles, &nb) != MDT_OK) return;
  for (i = 0; i < nb; i++) {
    mdt_value v;
    if (!mdt_bundle_value(s, bundles[i], r, &v)) v = 0;
    push_value(L, s, kind, v);
    lua_setfield(L, -2, mdt_key(s, MDT_BUNDLE, bundles[i]));
  }
}

/*
** db:_explain(user, right [, record]) -> the engine's explanation as data;
** lua/mandate/explain.lua turns it into words.
*/
static int explain(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  mdt_record rec;
  mdt_explanation e;
  const mdt_record *p;
  Key k[6];
  mdt_id u, r, unit;
  Fields fs;
  int active, nb;
  const mdt_id *bundles;
  key_arg(L, 2);
  key_arg(L, 3);
  fs = record_fields(L, 4, 0, NULL);
  s = snapshot(L, d);
  user_right(L, d, s, k);
  p = record_of(L, d, s, fs, k + 2, &rec);
  key_keep(L, d, k, 6, d->gen);     /* held: s stays valid */
  u = k[0].id;
  r = k[1].id;
  mdt_explain(s, u ? u : MDT_UNKNOWN, r, p, &e);
  lua_createtable(L, 0, 16);
  lua_pushboolean(L, e.reason == MDT_ALLOWED);
  lua_setfield(L, -2, "allowed");
  if (e.reason != MDT_ALLOWED) set_string(L, "reason", mdt_reason_name(e.reason));
  set_string(L, "kind", e.kind == MDT_FLAG ? "flag" : "scope");
  set_string(L, "mode", e.mode == MDT_WRITE ? "write" : "read");
  push_value(L, s, e.kind, e.value);
  lua_setfield(L, -2, "value");
  set_string(L, "source", source_names[e.source]);
  if (u && mdt_user_info(s, u, &unit, &active, &bundles, &nb) == MDT_OK) {
    lua_pushboolean(L, active);
    lua_setfield(L, -2, "active");
    push_key(L, s, MDT_UNIT, unit);
    lua_setfield(L, -2, "unit");
    push_bundle_values(L, s, u, r, e.kind);
    lua_setfield(L, -2, "bundles");
    if (e.source == MDT_SRC_OVERRIDE) {
      push_value(L, s, e.kind, e.value);
      lua_setfield(L, -2, "override");
    }
  }
  if (e.access >= 0) {
    set_string(L, "access", access_names[e.access]);
    lua_pushboolean(L, e.access_explicit);
    lua_setfield(L, -2, "access_explicit");
  }
  push_key(L, s, MDT_UNIT, e.anchor);
  lua_setfield(L, -2, "anchor");
  set_string(L, "matched", match_names[e.matched]);
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, (e.failing & MDT_FAIL_USER) != 0);
  lua_setfield(L, -2, "user");
  lua_pushboolean(L, (e.failing & MDT_FAIL_TENANT) != 0);
  lua_setfield(L, -2, "tenant");
  lua_pushboolean(L, (e.failing & MDT_FAIL_RIGHT) != 0);
  lua_setfield(L, -2, "right");
  lua_pushboolean(L, (e.failing & MDT_FAIL_UNKNOWN) != 0);
  lua_setfield(L, -2, "unknown");
  lua_setfield(L, -2, "failing");
  set_string(L, "fix_kind", fix_names[e.fix]);
  if (e.fix == MDT_FIX_ACCESS) set_string(L, "fix_access",
                                          access_names[e.fix_access]);
  if (e.fix == MDT_FIX_OVERRIDE) {
    push_value(L, s, e.kind, e.fix_value);
    lua_setfield(L, -2, "fix_value");
  }
  return 1;
}

/*
** db:_effective(user) -> one row per right in id order:
** {right =, kind =, bundles = {key = value}, override =, effective =,
**  source =}, or nil for an unknown user.
*/
static int effective(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k = key_at(2, MDT_USER);
  mdt_id u, r, max;
  lua_Integer n = 0;
  key_arg(L, 2);
  s = snapshot(L, d);
  key_find(L, d, s, &k);
  key_keep(L, d, &k, 1, d->gen);    /* held: s stays valid */
  u = k.id;
  max = mdt_max_id(s, MDT_RIGHT);
  if (!u) return 0;
  lua_newtable(L);
  for (r = 1; r <= max; r++) {
    int kind, mode, customer_ok, source;
    mdt_value v;
    if (mdt_right_info(s, r, &kind, &mode, &customer_ok) != MDT_OK) continue;
    lua_createtable(L, 0, 6);
    push_key(L, s, MDT_RIGHT, r);
    lua_setfield(L, -2, "right");
    set_string(L, "kind", kind == MDT_FLAG ? "flag" : "scope");
    push_bundle_values(L, s, u, r, kind);
    lua_setfield(L, -2, "bundles");
    if (mdt_override(s, u, r, &v)) {
      push_value(L, s, kind, v);
      lua_setfield(L, -2, "override");
    }
    v = mdt_effective(s, u, r, &source);
    push_value(L, s, kind, v);
    lua_setfield(L, -2, "effective");
    set_string(L, "source", source_names[source]);
    lua_rawseti(L, -2, (int)++n);
  }
  return 1;
}

static int l_explain(lua_State *L)
{
  return held(L, explain, 1);
}

static int l_effective(lua_State *L)
{
  return held(L, effective, 1);
}
/* }}} */

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
  { "exec", l_exec },
  { "rows", l_rows },
  { "row", l_row },
  { "lists_epoch", l_lists_epoch },
  { "in_transaction", l_in_transaction },
  { "known", l_known },
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
