/*
** limpact.c -- a dry run's impact: keeping the snapshot before a change
** and the rows that differ from it after.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

/* Impact {{{ */

/*
** keep(db) -> a light userdata: the snapshot, brought up to date and kept
** as it is until unkeep (mdt_store_keep); a failure raises.
*/
static int l_keep(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  int rc = mdt_store_keep(d->st, &s);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  lua_pushlightuserdata(L, (void *)(uintptr_t)s);
  return 1;
}

/*
** unkeep(db, kept [, restore]): let a kept snapshot go (anything else is
** ignored); restore: the transaction opened right before keep has been
** rolled back, so the kept snapshot is current again (mdt_store_restore).
*/
static int l_unkeep(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s = (const mdt_snap *)lua_touserdata(L, 2);
  if (lua_toboolean(L, 3) && !d->owned) mdt_store_restore(d->st, s);
  else mdt_store_unkeep(d->st, s);
  return 0;
}

typedef struct Diff {
  const mdt_snap *a, *b;
  mdt_diff_row *rows;
  size_t n;
} Diff;

/* The rows of a Diff (argument 1, a light userdata) as a Lua sequence. */
static int push_diff(lua_State *L)
{
  const Diff *df = (const Diff *)lua_touserdata(L, 1);
  size_t i;
  lua_createtable(L, df->n < INT_MAX ? (int)df->n : INT_MAX, 0);
  for (i = 0; i < df->n; i++) {
    const mdt_diff_row *r = &df->rows[i];
    lua_createtable(L, 0, 5);
    set_string(L, "user", r->user);
    set_string(L, "key", r->key);
    if (r->what == MDT_DIFF_RIGHT) {
      set_string(L, "what", "right");
      push_value(L, df->a, r->kind_a, (mdt_value)r->a);
      lua_setfield(L, -2, "before");
      push_value(L, df->b, r->kind_b, (mdt_value)r->b);
      lua_setfield(L, -2, "after");
    } else {
      set_string(L, "what", "access");
      set_string(L, "before", access_names[r->a]);
      set_string(L, "after", access_names[r->b]);
    }
    lua_rawseti(L, -2, (int)(i + 1));
  }
  return 1;
}

/*
** impact(db, kept) -> {{user =, what = "right"|"access", key =, before =,
** after =}, ...}: what differs from the kept snapshot to the current one
** (mdt_diff), in its order.  The store is held while the rows are made,
** so that neither snapshot moves.
*/
static int l_impact(lua_State *L)
{
  ldb *d = todb(L);
  Diff df;
  int rc;
  df.a = (const mdt_snap *)lua_touserdata(L, 2);
  luaL_argcheck(L, df.a != NULL && mdt_store_is_kept(d->st, df.a), 2,
                "expected a kept snapshot");
  df.b = snapshot(L, d);
  if ((rc = mdt_diff(df.a, df.b, &df.rows, &df.n)) != MDT_OK)
    return luaL_error(L, "impact: %s", mdt_errstr(rc));
  mdt_store_hold(d->st);
  lua_pushcfunction(L, push_diff);
  lua_pushlightuserdata(L, &df);
  rc = lua_pcall(L, 1, 1, 0);
  mdt_store_release(d->st);
  mdt_diff_free(df.rows);
  if (rc != LUA_OK) return lua_error(L);
  return 1;
}
/* }}} */
