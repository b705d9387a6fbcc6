/*
** lhandle.c -- a mandate.Db: the box, its type test, errors as
** results or raised, opening and closing.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

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
static int close_log(lua_State *L, ldb *d);
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

/*
** db:close(), also __gc and __close: flushes the decision log first; when
** that fails the store still closes, and close returns nil, message,
** code (the log's unwritten decisions are lost).
*/
static int l_close(lua_State *L)
{
  ldb *d = anydb(L);
  int results = 0;
  if (d->st && mdt_store_held(d->st))
    return luaL_error(L, "mandate.Db: the store cannot be closed while "
                         "another call on it is under way");
  if (d->st) results = close_log(L, d);
  mdt_store_close(d->st);
  d->st = NULL;
  free(d->key);
  d->key = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, d->anchors);
  d->anchors = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, d->owner);
  d->owner = LUA_NOREF;
  d->owned = 0;
  return results;
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
