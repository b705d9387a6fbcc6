/*
** lsql.c -- the SQL primitives of the Lua layer (its writers and
** readers' statements, the lists' epoch, ids for writers).
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

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

/* exec(db, sql, ...) -> number of changed rows, last inserted row id */
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

/* rows(db, sql, ...) -> array of row tables (NULL columns are absent) */
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

/* row(db, sql, ...) -> the first row table, or nil */
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
** list_changes(db) -> epoch, all, roles, lists, contacts: what changed for
** the distribution lists since the last call, after polling for other
** connections' commits (a resolved list shows them at once), and the log
** emptied.  epoch steps with any change; all is true when anything may
** have changed (start over), else the three sequences hold the ids of the
** roles, lists and contacts whose rows changed (see src/store/lists.c).
*/
static int l_list_changes(lua_State *L)
{
  ldb *d = todb(L);
  const mdt_id *ids[MDT_NLISTLOGS];
  size_t n0[MDT_NLISTLOGS], n[MDT_NLISTLOGS], i;
  int k, all, rc = mdt_store_refresh(d->st);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  mdt_store_list_changes(d->st, ids, n0);
  for (k = 0; k < MDT_NLISTLOGS; k++)   /* may run a finalizer that writes */
    lua_createtable(L, n0[k] < INT_MAX ? (int)n0[k] : 0, 0);
  all = mdt_store_list_changes(d->st, ids, n);  /* so read it again */
  for (k = 0; k < MDT_NLISTLOGS; k++)
    if (n[k] != n0[k]) all = 1;
  for (k = 0; k < MDT_NLISTLOGS && !all; k++)  /* presized: no allocation */
    for (i = 0; i < n[k]; i++) {
      lua_pushinteger(L, (lua_Integer)ids[k][i]);
      lua_rawseti(L, -MDT_NLISTLOGS + k - 1, (int)i + 1);
    }
  mdt_store_clear_list_changes(d->st);
  lua_pushinteger(L, (lua_Integer)mdt_store_lists_epoch(d->st));
  lua_insert(L, -MDT_NLISTLOGS - 1);
  lua_pushboolean(L, all);
  lua_insert(L, -MDT_NLISTLOGS - 1);
  return MDT_NLISTLOGS + 2;
}

static int l_in_transaction(lua_State *L)
{
  lua_pushboolean(L, !sqlite3_get_autocommit(mdt_store_db(todb(L)->st)));
  return 1;
}

/*
** copy(dst, src): make dst's store a copy of src's as src sees it
** (mdt_store_copy), for db:at; raises the store's error.  Both are Dbs.
*/
static int l_copy(lua_State *L)
{
  ldb *dst = todb(L);
  mdt_store *src;
  int rc;
  lua_pushvalue(L, 2);
  lua_replace(L, 1);
  src = live(L, todb(L));
  if ((rc = mdt_store_copy(dst->st, src)) != MDT_OK)
    return raise_store(L, dst->st, rc);
  return 0;
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
/*
** write_access(db, op, user, tenant, access or nil) -> 0, or 1, 2, 3 for
** the argument (user, tenant, access) that names nothing or is no access:
** a whole set_access or clear_access in one call (mdt_store_write_access),
** inside the level of a change set the writer holds.
*/
static int l_write_access(lua_State *L)
{
  ldb *d = todb(L);
  size_t ul, tl;
  const char *op = luaL_checkstring(L, 2);
  const char *user = luaL_checklstring(L, 3, &ul);
  const char *tenant = luaL_checklstring(L, 4, &tl);
  const char *access = luaL_optstring(L, 5, NULL);
  int missing, rc = mdt_store_write_access(d->st, op, user, ul, tenant, tl,
                                           access, &missing);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  lua_pushinteger(L, missing);
  return 1;
}

static const char *const tree_rules[] = { "ok", "parent", "cycle", "level" };

/* Push f as unit_fault returns it. */
static int push_fault(lua_State *L, const mdt_unit_fault *f)
{
  if (f->rule == MDT_TREE_OK) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 8);
  lua_pushstring(L, code_name(MDT_CONSTRAINT));
  lua_setfield(L, -2, "code");
  lua_pushstring(L, tree_rules[f->rule]);
  lua_setfield(L, -2, "rule");
  lua_pushstring(L, f->unit);
  lua_setfield(L, -2, "unit");
  lua_pushstring(L, f->parent);
  lua_setfield(L, -2, "parent");
  lua_pushinteger(L, f->unit_depth + 1);
  lua_setfield(L, -2, "unit_depth");
  lua_pushinteger(L, f->parent_depth + 1);
  lua_setfield(L, -2, "parent_depth");
  lua_pushinteger(L, f->lo + 1);
  lua_setfield(L, -2, "lo");
  if (f->hi >= 0) {
    lua_pushinteger(L, f->hi + 1);
    lua_setfield(L, -2, "hi");
  }
  return 1;
}

/*
** unit_fault(db, key, id or nil, parent id or nil, depth) -> nil when unit
** key (id nil: a new one) may sit under that parent (nil: a root) on the
** level at depth (1 = top), else the fault as a table {code =
** "constraint", rule = "parent" | "cycle" | "level", unit =, parent =
** (keys: the unit breaking the rule and its parent), unit_depth =,
** parent_depth =, lo =, hi = (the depths the unit may take; hi nil when
** it has no children)}, for the writer to word (mdt_store_unit_fault).
*/
static int l_unit_fault(lua_State *L)
{
  ldb *d = todb(L);
  const char *key = luaL_checkstring(L, 2);
  mdt_id unit = (mdt_id)luaL_optinteger(L, 3, 0);
  mdt_id parent = (mdt_id)luaL_optinteger(L, 4, 0);
  int depth = (int)luaL_checkinteger(L, 5) - 1;
  mdt_unit_fault f;
  int rc = mdt_store_unit_fault(live(L, d), key, unit, parent, depth, &f);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  return push_fault(L, &f);
}

/*
** levels_fault(db, names) -> nil when every unit stays below its parent
** with the levels names (top to bottom; each unit's level among them),
** else the fault as unit_fault returns it (mdt_store_levels_fault).
*/
static int l_levels_fault(lua_State *L)
{
  ldb *d = todb(L);
  const char *names[MDT_MAX_LEVELS];
  int n = 0, rc;
  mdt_unit_fault f;
  luaL_checktype(L, 2, LUA_TTABLE);
  while (n < MDT_MAX_LEVELS) {
    lua_rawgeti(L, 2, n + 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    names[n++] = luaL_checkstring(L, -1);   /* held by the table */
    lua_pop(L, 1);
  }
  rc = mdt_store_levels_fault(live(L, d), names, n, &f);
  if (rc != MDT_OK) return raise_store(L, d->st, rc);
  return push_fault(L, &f);
}
/* }}} */
