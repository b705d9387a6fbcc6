/*
** build.c -- feeding a snapshot: its life cycle, the builder calls and
** their error messages.  Every call validates all its arguments before
** it changes anything, so a failing call leaves the snapshot as it was.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define MINIDS 16

static const char *const kindname[MDT_NKINDS] = {
  "level", "unit", "tenant", "right", "bundle", "user", "customer"
};

/* Life cycle and errors {{{ */

/*
** A new, empty snapshot, or NULL when out of memory.
*/
mdt_snap *mdt_snap_new(void)
{
  return calloc(1, sizeof(mdt_snap));
}

static void freepairs(PairVec *v) { free(v->p); }
static void freeids(IdVec *v) { free(v->p); }

/*
** Free a snapshot and all it owns.  Accepts NULL.
*/
void mdt_snap_free(mdt_snap *s)
{
  mdt_id id;
  int kind;
  if (s == NULL) return;
  for (id = 1; id < s->keys[MDT_BUNDLE].cap; id++)
    freepairs(&s->bundle[id].vals);
  for (id = 1; id < s->keys[MDT_USER].cap; id++) {
    UserLists *l = &s->lists[id];
    freeids(&l->bundles);
    freeids(&l->cust);
    freepairs(&l->over);
    freepairs(&l->acc);
  }
  for (kind = 0; kind < MDT_NKINDS; kind++) mdtK_free(&s->keys[kind]);
  free(s->unit);
  free(s->tdefault);
  free(s->right);
  free(s->bundle);
  free(s->user);
  free(s->lists);
  free(s->anchor);
  mdtP_free(s);
  free(s);
}

/*
** The last failing builder call's message, "" when none failed.
*/
const char *mdt_snap_errmsg(const mdt_snap *s)
{
  return s != NULL ? s->errmsg : "NULL snapshot";
}

/*
** Record a detailed message for code and return code.
*/
int mdtB_error(mdt_snap *s, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  return code;
}

static int nomem(mdt_snap *s)
{
  return mdtB_error(s, MDT_NOMEM, "out of memory");
}

static const char *keyof(const mdt_snap *s, int kind, mdt_id id)
{
  return HAS(s, kind, id) ? s->keys[kind].key[id] : "?";
}

/* MDT_MISUSE once compiled: only users and customers change then. */
static int frozen(mdt_snap *s, const char *what)
{
  return s->compiled ? mdtB_error(s, MDT_MISUSE, "%s: the snapshot is "
                                  "compiled; only users and customers may "
                                  "change", what)
                     : MDT_OK;
}
/* }}} */

/* Growing {{{ */

/* Grow arr from old to n entries, zeroing the new ones. */
#define GROW(arr) do { \
    void *p_ = realloc((arr), n * sizeof *(arr)); \
    if (p_ == NULL) return nomem(s); \
    (arr) = p_; \
    memset((arr) + old, 0, (n - old) * sizeof *(arr)); \
  } while (0)

/* Room for one more element in v, a PairVec or an IdVec. */
#define ROOM(v) do { \
    if ((v)->n == (v)->cap) { \
      size_t n_ = (v)->cap ? (v)->cap * 2 : 4; \
      void *p_ = realloc((v)->p, n_ * sizeof *(v)->p); \
      if (p_ == NULL) return nomem(s); \
      (v)->p = p_; \
      (v)->cap = n_; \
    } \
  } while (0)

/* Make room for id in the arrays of kind (keys and entities). */
static int grow(mdt_snap *s, int kind, mdt_id id)
{
  Keys *k = &s->keys[kind];
  size_t old = (size_t)k->cap, n = old ? old : MINIDS;
  if (id < k->cap) return MDT_OK;
  while (n <= (size_t)id) n *= 2;          /* doubling: ids mostly ascend */
  switch (kind) {
    case MDT_UNIT: GROW(s->unit); break;
    case MDT_TENANT: GROW(s->tdefault); break;
    case MDT_RIGHT: GROW(s->right); break;
    case MDT_BUNDLE: GROW(s->bundle); break;
    case MDT_USER: GROW(s->user); GROW(s->lists); break;
    default: break;                          /* customers have only keys */
  }
  /* entity arrays grow first: they are never shorter than k->cap */
  return mdtK_reserve(k, (mdt_id)n) == MDT_OK ? MDT_OK : nomem(s);
}

static int pairset(mdt_snap *s, PairVec *v, mdt_id id, int val)
{
  size_t i = mdtC_pairpos(v, id);
  if (i < v->n && v->p[i].id == id) {
    v->p[i].val = val;
    return MDT_OK;
  }
  ROOM(v);
  memmove(v->p + i + 1, v->p + i, (v->n - i) * sizeof *v->p);
  v->p[i].id = id;
  v->p[i].val = val;
  v->n++;
  return MDT_OK;
}

/* Insert id at position i of v. */
static int idput(mdt_snap *s, IdVec *v, size_t i, mdt_id id)
{
  ROOM(v);
  memmove(v->p + i + 1, v->p + i, (v->n - i) * sizeof *v->p);
  v->p[i] = id;
  v->n++;
  return MDT_OK;
}
/* }}} */

/* Levels and entities {{{ */

/*
** Set the level names, top to bottom.  MDT_MISUSE once units, bundle
** values or overrides exist (their depths and ranks depend on the
** levels) or after compile; MDT_RANGE for a bad n; MDT_INVALID for a
** NULL, empty or duplicate name, or one the value syntax reserves
** ("none", "own", "all", "customer", anything with '+').
*/
int mdt_snap_set_levels(mdt_snap *s, const char *const *names, int n)
{
  Keys k;
  int d, rc = MDT_OK;
  if (s == NULL || names == NULL) return MDT_MISUSE;
  if ((rc = frozen(s, "setting levels")) != MDT_OK) return rc;
  if (s->keys[MDT_UNIT].max > 0 || s->valued)
    return mdtB_error(s, MDT_MISUSE, "levels must be set before units, "
                      "bundle values and overrides");
  if (n < 1 || n > MDT_MAX_LEVELS)
    return mdtB_error(s, MDT_RANGE, "%d levels: 1 to %d allowed", n,
                      MDT_MAX_LEVELS);
  for (d = 0; d < n; d++)
    if (mdtV_badname(names[d]))
      return mdtB_error(s, MDT_INVALID, "level %d: name '%s' is empty, "
                        "reserved or contains '+'", d + 1,
                        names[d] ? names[d] : "(null)");
  memset(&k, 0, sizeof k);
  rc = mdtK_reserve(&k, (mdt_id)n + 1);
  for (d = 0; d < n && rc == MDT_OK; d++)
    rc = mdtK_put(&k, (mdt_id)d + 1, names[d]);
  if (rc != MDT_OK) {
    mdtK_free(&k);
    return rc == MDT_NOMEM ? nomem(s) : mdtB_error(s, MDT_INVALID,
           "level %d: name '%s' given twice", d, names[d - 1]);
  }
  mdtK_free(&s->keys[MDT_LEVEL]);
  s->keys[MDT_LEVEL] = k;
  s->nlevels = n;
  for (d = 0; d < n; d++) s->levelv[d] = k.key[d + 1];
  return MDT_OK;
}

/* Key id for an entity of kind; the caller validated everything else. */
static int add(mdt_snap *s, int kind, mdt_id id, const char *key)
{
  int rc;
  if (id < 1 || id > MAXID)
    return mdtB_error(s, MDT_RANGE, "%s id %" PRId64 " out of range 1..%"
                      PRId64, kindname[kind], id, MAXID);
  if (key == NULL || *key == '\0')
    return mdtB_error(s, MDT_INVALID, "%s %" PRId64 ": empty key",
                      kindname[kind], id);
  if (kind != MDT_USER && HAS(s, kind, id))
    return mdtB_error(s, MDT_CONSTRAINT, "%s %" PRId64 ": id already "
                      "taken by '%s'", kindname[kind], id,
                      s->keys[kind].key[id]);
  if ((rc = grow(s, kind, id)) != MDT_OK) return rc;
  rc = mdtK_put(&s->keys[kind], id, key);
  if (rc == MDT_CONSTRAINT)
    return mdtB_error(s, rc, "%s %" PRId64 ": key '%s' already taken by %s "
                      "%" PRId64, kindname[kind], id, key, kindname[kind],
                      mdtK_find(&s->keys[kind], key, strlen(key)));
  return rc == MDT_OK ? MDT_OK : nomem(s);
}

/*
** Add a unit.  MDT_RANGE also for a depth outside the levels or a
** negative parent; parents are checked by mdt_snap_compile.
*/
int mdt_snap_add_unit(mdt_snap *s, mdt_id id, const char *key, int depth,
                      mdt_id parent)
{
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if ((rc = frozen(s, "adding a unit")) != MDT_OK) return rc;
  if (depth < 0 || depth >= s->nlevels)
    return mdtB_error(s, MDT_RANGE, "unit %" PRId64 ": depth %d, but there "
                      "are %d levels", id, depth, s->nlevels);
  if (parent < 0 || parent > MAXID)
    return mdtB_error(s, MDT_RANGE, "unit %" PRId64 ": parent id %" PRId64
                      " out of range", id, parent);
  if ((rc = add(s, MDT_UNIT, id, key)) != MDT_OK) return rc;
  s->unit[id].depth = depth;
  s->unit[id].parent = parent;
  return MDT_OK;
}

/*
** Add a tenant.  MDT_MISUSE for a bad default_access.
*/
int mdt_snap_add_tenant(mdt_snap *s, mdt_id id, const char *key,
                        int default_access)
{
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if ((rc = frozen(s, "adding a tenant")) != MDT_OK) return rc;
  if (default_access < MDT_HIDDEN || default_access > MDT_FULL)
    return mdtB_error(s, MDT_MISUSE, "tenant %" PRId64 ": bad default "
                      "access %d", id, default_access);
  if ((rc = add(s, MDT_TENANT, id, key)) != MDT_OK) return rc;
  s->tdefault[id] = default_access;
  return MDT_OK;
}

/*
** Add a right.  MDT_MISUSE for a bad kind or mode.
*/
int mdt_snap_add_right(mdt_snap *s, mdt_id id, const char *key, int kind,
                       int mode, int customer_ok)
{
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if ((rc = frozen(s, "adding a right")) != MDT_OK) return rc;
  if ((kind != MDT_FLAG && kind != MDT_SCOPE) ||
      (mode != MDT_WRITE && mode != MDT_READ_MODE))
    return mdtB_error(s, MDT_MISUSE, "right %" PRId64 ": bad kind %d or "
                      "mode %d", id, kind, mode);
  if ((rc = add(s, MDT_RIGHT, id, key)) != MDT_OK) return rc;
  s->right[id].kind = (unsigned char)kind;
  s->right[id].mode = (unsigned char)mode;
  s->right[id].custok = (unsigned char)(kind == MDT_SCOPE && customer_ok);
  return MDT_OK;
}

/*
** Add a bundle (its values come with mdt_snap_bundle_value).
*/
int mdt_snap_add_bundle(mdt_snap *s, mdt_id id, const char *key)
{
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if ((rc = frozen(s, "adding a bundle")) != MDT_OK) return rc;
  return add(s, MDT_BUNDLE, id, key);
}

/*
** Add a customer; also after compile.
*/
int mdt_snap_add_customer(mdt_snap *s, mdt_id id, const char *key)
{
  return s == NULL ? MDT_MISUSE : add(s, MDT_CUSTOMER, id, key);
}

/* Is v a value of right r?  MDT_INVALID naming who gives it if not. */
static int fits(mdt_snap *s, int kind, mdt_id who, mdt_id r, mdt_value v)
{
  const Right *rt = &s->right[r];
  if (mdtV_fits(rt->kind, s->nlevels, rt->custok, v)) return MDT_OK;
  return mdtB_error(s, MDT_INVALID, "%s '%s': value 0x%x does not fit right "
                    "'%s' (%s)", kindname[kind], keyof(s, kind, who),
                    (unsigned)v, s->keys[MDT_RIGHT].key[r],
                    rt->kind == MDT_FLAG ? "a flag: 0 or 1"
                    : !rt->custok && (v & MDT_V_CUSTOMER)
                      ? "no customer part allowed"
                      : "a scope: rank up to all, maybe a customer part");
}

/*
** Give bundle b the value v for right r, replacing a value given before.
** MDT_NOTFOUND for an unknown bundle or right, MDT_INVALID for a value
** that does not fit the right, MDT_MISUSE after compile.
*/
int mdt_snap_bundle_value(mdt_snap *s, mdt_id bundle, mdt_id right,
                          mdt_value v)
{
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if ((rc = frozen(s, "giving a bundle value")) != MDT_OK) return rc;
  if (!HAS(s, MDT_BUNDLE, bundle))
    return mdtB_error(s, MDT_NOTFOUND, "no bundle %" PRId64, bundle);
  if (!HAS(s, MDT_RIGHT, right))
    return mdtB_error(s, MDT_NOTFOUND, "bundle '%s': no right %" PRId64,
                      keyof(s, MDT_BUNDLE, bundle), right);
  if ((rc = fits(s, MDT_BUNDLE, bundle, right, v)) != MDT_OK) return rc;
  if ((rc = pairset(s, &s->bundle[bundle].vals, right, v)) == MDT_OK)
    s->valued = 1;
  return rc;
}
/* }}} */

/* Users {{{ */

/*
** Create or reset user id; see mandate.h.  MDT_RANGE for a bad id or
** unit id, MDT_INVALID for an empty key, MDT_CONSTRAINT when another user
** holds key.  The unit is checked when the user is compiled.
*/
int mdt_snap_put_user(mdt_snap *s, mdt_id id, const char *key, mdt_id unit,
                      int active)
{
  User *u;
  UserLists *l;
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if (unit < 0 || unit > MAXID)
    return mdtB_error(s, MDT_RANGE, "user %" PRId64 ": unit id %" PRId64
                      " out of range", id, unit);
  if ((rc = add(s, MDT_USER, id, key)) != MDT_OK) return rc;
  u = &s->user[id];
  l = &s->lists[id];
  u->unit = (uint32_t)unit;
  u->active = (unsigned char)(active != 0);
  u->compiled = 0;
  l->bundles.n = l->cust.n = l->over.n = l->acc.n = 0;  /* keep capacity */
  return MDT_OK;
}

/* The lists of user id, to give it item of kind, or NULL with *rc set: no
   snapshot, an unknown or compiled user, an unknown item. */
static UserLists *refill(mdt_snap *s, mdt_id id, int kind, mdt_id item,
                         int *rc)
{
  if (s == NULL) {
    *rc = MDT_MISUSE;
    return NULL;
  }
  if (!HAS(s, MDT_USER, id)) {
    *rc = mdtB_error(s, MDT_NOTFOUND, "no user %" PRId64, id);
    return NULL;
  }
  if (s->user[id].compiled) {
    *rc = mdtB_error(s, MDT_MISUSE, "user '%s' is compiled: reset it with "
                     "mdt_snap_put_user first", s->keys[MDT_USER].key[id]);
    return NULL;
  }
  if (!HAS(s, kind, item)) {
    *rc = mdtB_error(s, MDT_NOTFOUND, "user '%s': no %s %" PRId64,
                     keyof(s, MDT_USER, id), kindname[kind], item);
    return NULL;
  }
  return &s->lists[id];
}

/*
** Give user the bundle (kept once, in the order given).  MDT_NOTFOUND for
** an unknown user or bundle, MDT_MISUSE for a compiled user.
*/
int mdt_snap_user_bundle(mdt_snap *s, mdt_id user, mdt_id bundle)
{
  UserLists *l;
  size_t i;
  int rc;
  if ((l = refill(s, user, MDT_BUNDLE, bundle, &rc)) == NULL) return rc;
  for (i = 0; i < l->bundles.n; i++)
    if (l->bundles.p[i] == bundle) return MDT_OK;
  return idput(s, &l->bundles, l->bundles.n, bundle);
}

/*
** Give user the override v for right, replacing one given before.
** MDT_NOTFOUND, MDT_MISUSE as for mdt_snap_user_bundle; MDT_INVALID for a
** value that does not fit the right.
*/
int mdt_snap_user_override(mdt_snap *s, mdt_id user, mdt_id right,
                           mdt_value v)
{
  UserLists *l;
  int rc;
  if ((l = refill(s, user, MDT_RIGHT, right, &rc)) == NULL) return rc;
  if ((rc = fits(s, MDT_USER, user, right, v)) != MDT_OK) return rc;
  if ((rc = pairset(s, &l->over, right, v)) == MDT_OK) s->valued = 1;
  return rc;
}

/*
** Give user an explicit access to tenant, replacing one given before.
** MDT_NOTFOUND, MDT_MISUSE as for mdt_snap_user_bundle; MDT_MISUSE also
** for a bad access.
*/
int mdt_snap_user_access(mdt_snap *s, mdt_id user, mdt_id tenant,
                         int access)
{
  UserLists *l;
  int rc;
  if ((l = refill(s, user, MDT_TENANT, tenant, &rc)) == NULL) return rc;
  if (access < MDT_HIDDEN || access > MDT_FULL)
    return mdtB_error(s, MDT_MISUSE, "user '%s': bad access %d",
                      keyof(s, MDT_USER, user), access);
  return pairset(s, &l->acc, tenant, access);
}

/*
** Make user an account manager of customer.  MDT_NOTFOUND, MDT_MISUSE as
** for mdt_snap_user_bundle.
*/
int mdt_snap_user_customer(mdt_snap *s, mdt_id user, mdt_id customer)
{
  UserLists *l;
  size_t i;
  int rc;
  if ((l = refill(s, user, MDT_CUSTOMER, customer, &rc)) == NULL) return rc;
  i = mdtC_idpos(&l->cust, customer);
  if (i < l->cust.n && l->cust.p[i] == customer) return MDT_OK;
  return idput(s, &l->cust, i, customer);
}
/* }}} */
