/*
** lcoro.c -- change sets and coroutines: which coroutine a change
** set belongs to, and the primitives that open and close one.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

/* Change sets and coroutines {{{ */

/*
** A change set belongs to the coroutine that opened it.  In a web server
** every request of a worker is a coroutine sharing one handle, and any
** I/O yields: while the owner is suspended, a call from anywhere else
** must neither see its uncommitted rows nor join it.  So:
**  - a change set opened by a coroutine (not the main thread, which
**    cannot yield) claims the handle (begin) and pins the committed
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
** owner_state, after rolling back a change set whose owner is gone (the
** answer is then still OWN_GONE, for the caller to forget its state).
*/
static int settle(lua_State *L, ldb *d)
{
  int where = owner_state(L, d);
  if (where == OWN_GONE) {
    mdt_change_abandon(d->st);
    release(L, d);
  }
  return where;
}

/*
** owner(db) -> "none" | "in" | "away" | "gone" (see owner_state); "gone":
** the abandoned change set has just been rolled back (settle).
*/
static int l_owner(lua_State *L)
{
  lua_pushstring(L, own_names[settle(L, todb(L))]);
  return 1;
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
** begin(db, direct) -> level (1: the outermost), settled: open a level of
** a change set (mdt_change_begin), after rolling back one whose owner is
** gone (settled = true: the Lua layer forgets its state).  The outermost,
** opened by a coroutine, claims the handle and pins the committed
** snapshot.  nil, "busy" while another coroutine's change set is open;
** a failure raises (raise_change).
*/
static int l_begin(lua_State *L)
{
  ldb *d = todb(L);
  int direct = lua_toboolean(L, 2), level, rc, settled;
  if ((settled = settle(L, d)) == OWN_AWAY) {
    lua_pushnil(L);
    lua_pushliteral(L, "busy");
    return 2;
  }
  settled = settled == OWN_GONE;
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
** finish(db, how): close the innermost level ("commit", "rollback", "tear":
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

/* audit(db, op, subject, before, after): an audit row of the change set
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

/* set_actor(db, name or nil): recorded with every revision from now on. */
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
