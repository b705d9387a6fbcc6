/*
** llog.c -- the decision log's binding: what a check hands the log, and
** the primitives that turn it on and flush it (lua/mandate/activity.lua).
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
**
** Which calls log: every call that returns a decision an application acts
** on -- db:check, a prepared check, db:allowed (each record, as check
** would), db:check_ids and db:checker() (also through LuaJIT's FFI).  Not
** db:explain (an administrator's diagnosis, not an access), db:access
** and the list views.  A check tests d->log and nothing else while the
** log is off; the logging itself is kept out of line.
*/

/* The decision log {{{ */

#if defined(__GNUC__)
#define OUT_OF_LINE __attribute__((noinline, cold))
#else
#define OUT_OF_LINE
#endif

/*
** Log the decision reason of user u on right r and record p, made on s,
** which the caller still reads.  user and fields (tenant, owner, unit,
** customer) are the call's keys where it had them as text (idx 0: none):
** the text of one that named nothing goes with the decision.
*/
static OUT_OF_LINE void log_decision(lua_State *L, ldb *d, const mdt_snap *s,
                                     mdt_id u, mdt_id r,
                                     const mdt_record *p, int reason,
                                     const Key *user, const Key *fields)
{
  mdt_dlog_text t;
  int f, any = 0;
  memset(&t, 0, sizeof t);
  if (user && user->idx && user->id == 0) {
    t.p[0] = lua_tolstring(L, user->idx, &t.n[0]);
    any = 1;
  }
  for (f = 0; fields && f < 4; f++) {
    if (fields[f].idx && fields[f].id == 0) {
      t.p[2 + f] = lua_tolstring(L, fields[f].idx, &t.n[2 + f]);
      any = 1;
    }
  }
  mdt_dlog_add(d->log, s, u, r, p, reason, any ? &t : NULL);
}

/*
** log_on(db, sample, max_rows, buffer, seed) -> true: turn the log on or
** change it (lua/mandate/activity.lua checks the arguments); false,
** changing nothing, for a read-only store, whose log could never be
** written.
*/
static int l_log_on(lua_State *L)
{
  ldb *d = todb(L);
  mdt_dlog_config c;
  mdt_dlog *g;
  int rc;
  c.sample = (double)luaL_checknumber(L, 2);
  c.max_rows = (int64_t)luaL_checkinteger(L, 3);
  c.buffer = (size_t)luaL_checkinteger(L, 4);
  c.seed = (uint64_t)luaL_optinteger(L, 5, 0);
  lua_pushboolean(L, sqlite3_db_readonly(mdt_store_db(d->st), "main") != 1);
  if (!lua_toboolean(L, -1)) return 1;
  if ((rc = mdt_store_log_on(d->st, &c, &g)) != MDT_OK)
    return raise_store(L, d->st, rc);
  d->log = g;
  return 1;
}

/* log_off(db): checks log nothing from now on; the buffer stays. */
static int l_log_off(lua_State *L)
{
  ldb *d = todb(L);
  mdt_store_log_off(d->st);
  d->log = NULL;
  return 0;
}

/* flush_log(db) -> written, lost; or nil, message, code. */
static int l_flush_log(lua_State *L)
{
  ldb *d = todb(L);
  int64_t written, lost;
  int rc = mdt_store_log_flush(d->st, &written, &lost);
  if (rc != MDT_OK) return fail_result(L, mdt_store_errmsg(d->st), rc);
  lua_pushinteger(L, (lua_Integer)written);
  lua_pushinteger(L, (lua_Integer)lost);
  return 2;
}

/*
** At close: flush what the buffer holds, after rolling back a change set
** that is still open (closing rolls it back anyway, and the log is
** written outside transactions).  Pushes nil, message, code and returns
** 3 when the flush fails (its decisions are lost then), else 0.
*/
static int close_log(lua_State *L, ldb *d)
{
  int64_t written, lost;
  int rc;
  d->log = NULL;
  if (!mdt_store_log_pending(d->st)) return 0;
  if (!sqlite3_get_autocommit(mdt_store_db(d->st))) mdt_change_abandon(d->st);
  if ((rc = mdt_store_log_flush(d->st, &written, &lost)) == MDT_OK) return 0;
  return fail_result(L, mdt_store_errmsg(d->st), rc);
}
/* }}} */
