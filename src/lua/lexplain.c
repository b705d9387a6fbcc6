/*
** lexplain.c -- explain and effective: the engine's answers as Lua tables.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

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
** explain(db, user, right [, record]) -> the engine's explanation as data;
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
** effective(db, user) -> one row per right in id order:
** {right =, kind =, bundles = {key = value}, override =, effective =,
**  source =}, or nil for an unknown user.  An inactive user holds nothing
** (docs/semantics.md section 3.2): effective false / none, source
** "inactive", the bundles' values and the override shown as they are.
*/
static int effective(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k = key_at(2, MDT_USER);
  mdt_id u, r, max;
  lua_Integer n = 0;
  int inactive;
  key_arg(L, 2);
  s = snapshot(L, d);
  key_find(L, d, s, &k);
  key_keep(L, d, &k, 1, d->gen);    /* held: s stays valid */
  u = k.id;
  max = mdt_max_id(s, MDT_RIGHT);
  if (!u) return 0;
  inactive = mdt_user_step(s, u) == MDT_INACTIVE_USER;
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
    push_value(L, s, kind, inactive ? 0 : v);
    lua_setfield(L, -2, "effective");
    set_string(L, "source", inactive ? "inactive" : source_names[source]);
    lua_rawseti(L, -2, (int)++n);
  }
  return 1;
}

/*
** overrides(db) -> every override of every user, users in id order, each
** user's in right id order: {user =, right =, value =, bundled =}, where
** bundled is what the user's bundles give the right without it
** (mdt_bundled): for the bundle suggestions (lua/mandate/suggest.lua).
*/
static int overrides(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s = snapshot(L, d);
  mdt_id u, r, maxu = mdt_max_id(s, MDT_USER), maxr = mdt_max_id(s, MDT_RIGHT);
  int n = 0;
  lua_newtable(L);
  for (u = 1; u <= maxu; u++) {
    if (mdt_key(s, MDT_USER, u) == NULL) continue;
    for (r = 1; r <= maxr; r++) {
      int kind;
      mdt_value v;
      if (!mdt_override(s, u, r, &v) ||
          mdt_right_info(s, r, &kind, NULL, NULL) != MDT_OK)
        continue;
      lua_createtable(L, 0, 4);
      push_key(L, s, MDT_USER, u);
      lua_setfield(L, -2, "user");
      push_key(L, s, MDT_RIGHT, r);
      lua_setfield(L, -2, "right");
      push_value(L, s, kind, v);
      lua_setfield(L, -2, "value");
      push_value(L, s, kind, mdt_bundled(s, u, r));
      lua_setfield(L, -2, "bundled");
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}

/*
** bundled(db, user, right) -> what the user's bundles give the right
** (mdt_bundled), or nothing for an unknown user; an unknown right raises.
*/
static int bundled(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_snap *s;
  Key k[2];
  int kind;
  key_arg(L, 2);
  key_arg(L, 3);
  s = snapshot(L, d);
  user_right(L, d, s, k);
  key_keep(L, d, k, 2, d->gen);     /* held: s stays valid */
  if (!k[0].id) return 0;
  mdt_right_info(s, k[1].id, &kind, NULL, NULL);
  push_value(L, s, kind, mdt_bundled(s, k[0].id, k[1].id));
  return 1;
}

static int l_bundled(lua_State *L)
{
  return held(L, bundled, 1);
}

static int l_overrides(lua_State *L)
{
  return held(L, overrides, 1);
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
