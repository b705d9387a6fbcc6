/*
** lsnap.c -- the snapshot a call reads, and its freshness.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

/* The snapshot a call reads {{{ */

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
