/*
** lkeys.c -- keys and values: the key cache, a call's arguments, a
** record's fields, values as Lua writes them, ids.
**
** Part of the binding's one translation unit: included by lmandate.c,
** never compiled alone, so that the check path keeps its static inlining
** (luv's pattern).
*/

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
