/*
** lcheck.c -- the checks: db:check, db:allowed, the id paths, prepared
** checks and the FFI entry.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

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
  if (LOGS(d, reason)) log_decision(L, d, s, k, k[1].id, p, reason, k + 2);
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

/* Log the decision reason on s of the ids from argument base on, read
** again: the check keeps nothing alive for the log while it is off. */
static OUT_OF_LINE void log_ids(lua_State *L, ldb *d, const mdt_snap *s,
                                int base, int reason)
{
  mdt_record rec;
  rec.tenant = opt_id(L, base + 2);
  rec.owner = opt_id(L, base + 3);
  rec.unit = opt_id(L, base + 4);
  rec.customer = opt_id(L, base + 5);
  mdt_dlog_add(d->log, s, (mdt_id)lua_tointeger(L, base),
               (mdt_id)lua_tointeger(L, base + 1), &rec, reason, NULL);
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
  if (LOGS(d, reason)) log_ids(L, d, s, base, reason);
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

/* The closure made by checker(db): upvalues the Db and the reasons. */
static int l_checked(lua_State *L)
{
  ldb *d = (ldb *)lua_touserdata(L, lua_upvalueindex(1));
  live(L, d);
  return check_ids_from(L, d, 1, lua_upvalueindex(2));
}

/*
** checker(db) -> function(user, right, tenant, owner, unit, customer):
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
** box(db) -> the address of the Db's box, which stays valid while the
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
  int reason;
  if (d->st == NULL || d->owned || mdt_store_snapshot(d->st, &s) != MDT_OK)
    return FFI_CLASSIC;             /* owned: only Lua knows who calls */
  reason = mdt_check(s, user, right, rec);
  if (LOGS(d, reason)) mdt_dlog_add(d->log, s, user, right, rec, reason, NULL);
  return reason;
}

/* The closure made by db:prepare: the methods' upvalues, then db, user
** id, right id and the user's key (for the decision log). */
#define UV_PREP_DB (NUV + 1)
#define UV_PREP_USER (NUV + 2)
#define UV_PREP_RIGHT (NUV + 3)
#define UV_PREP_KEY (NUV + 4)

/* The decision of a prepared check: user and right ids, the record at i;
** the user's key at index user (0: none), which the decision log keeps
** when it names nothing. */
static int prepared_check(lua_State *L, ldb *d, mdt_id u, mdt_id r, int i,
                          int user)
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
  if (LOGS(d, reason)) {
    Key who = key_at(user, MDT_USER);
    who.id = u > 0 ? u : 0;
    log_decision(L, d, s, &who, r, p, reason, k);
  }
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
                        1, lua_upvalueindex(UV_PREP_KEY));
}

/*
** check_prepared(db, user id, right id, record, user key): what a
** prepared check does, for lua/mandate/fast.lua's LuaJIT version of
** db:prepare.
*/
static int l_check_prepared(lua_State *L)
{
  ldb *d = todb(L);
  return prepared_check(L, d, (mdt_id)luaL_checkinteger(L, 2),
                        (mdt_id)luaL_checkinteger(L, 3), 4,
                        lua_type(L, 5) == LUA_TSTRING ? 5 : 0);
}

/*
** prepare_ids(db, user, right) -> user id (MDT_UNKNOWN for none), right
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
  lua_pushvalue(L, 2);              /* a string: see key_arg */
  lua_pushcclosure(L, l_prepared, NUV + 4);
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
