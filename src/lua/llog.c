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
** Whether checks of d log a decision of reason: the log is on, and keeps
** allowed decisions at all (sample > 0) or this is a denial.  While it is
** off a check tests d->log and nothing else.
*/
#define LOGS(d, reason) \
  ((d)->log && ((reason) != MDT_ALLOWED || (d)->log_allowed))

/*
** Log the decision reason of the user of key user (its id, or 0: it names
** nothing) on right r and record p, made on s, which the caller still
** reads.  user and fields (tenant, owner, unit, customer) are the call's
** keys (idx 0: not given as text): the text of one that named nothing
** goes with the decision, since no snapshot can give it back.
*/
static OUT_OF_LINE void log_decision(lua_State *L, ldb *d, const mdt_snap *s,
                                     const Key *user, mdt_id r,
                                     const mdt_record *p, int reason,
                                     const Key *fields)
{
  mdt_dlog_text t;
  const Key *k[6];
  int f, any = 0;
  k[0] = user;
  k[1] = NULL;
  for (f = 2; f < 6; f++) k[f] = &fields[f - 2];
  for (f = 0; f < 6; f++) any |= k[f] && k[f]->idx && k[f]->id == 0;
  if (any) {
    memset(&t, 0, sizeof t);
    for (f = 0; f < 6; f++)
      if (k[f] && k[f]->idx && k[f]->id == 0)
        t.p[f] = lua_tolstring(L, k[f]->idx, &t.n[f]);
  }
  mdt_dlog_add(d->log, s, user->id ? user->id : MDT_UNKNOWN, r, p, reason,
               any ? &t : NULL);
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
  d->log_allowed = c.sample > 0;
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
