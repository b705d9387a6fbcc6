/*
** fuzz_api.c -- libFuzzer target driving random programs of core API
** calls, checked against a model and a naive reference of
** docs/semantics.md section 3.
**
** The input is decoded first into a program (an array of Op: an op code
** and six argument bytes), then run.  Each builder call's return code is
** checked against what a model world (plain data, World below) says the
** header promises: a call that breaks no rule must succeed, one that
** breaks rules must fail with the code of one of them (MDT_RANGE, _INVALID,
** _CONSTRAINT, _NOTFOUND, _MISUSE) and a non-empty mdt_snap_errmsg, and a
** failing call changes nothing (the model is updated only on MDT_OK, and
** every later check, key and info read compares the snapshot with it).
** mdt_snap_compile must succeed exactly when the tree and the users'
** units are sound.
**
** Every check (explicit ops, then a sweep over all users and rights):
**   - mdt_check == the reference, written from section 3 alone (walks
**     parent links, no precomputation);
**   - mdt_explain(...).reason == mdt_check(...), value/source/access agree
**     with the reference;
**   - a fix of MDT_FIX_ACTIVATE/ACCESS/OVERRIDE, applied to a copy of the
**     model, makes the reference allow it AND a snapshot rebuilt from that
**     copy (all calls, compile, then the users still pending re-put) allow
**     it; the fix is the smallest mandate.h describes; MDT_FIX_IMPOSSIBLE
**     means no single change (activate, full access, override to all) helps.
** Ids stay small (1..8 and 300, dense enough to keep allocations tiny)
** plus invalid ones (0, negative, above 2^31 - 1).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_api: %s:%d: invariant failed: %s\n", \
            __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define MAXID   ((mdt_id)0x7fffffff)
#define NENT    16             /* distinct valid ids: 1..8 and 300 */
#define KEYLEN  128
#define MAXOPS  256
#define NARGS   6
#define REBUILDS 12            /* fix rebuilds per input: keep exec/s up */

/* The model world {{{ */
typedef struct WUnit { mdt_id id; char key[KEYLEN]; int depth;
                       mdt_id parent; } WUnit;
typedef struct WTenant { mdt_id id; char key[KEYLEN]; int def; } WTenant;
typedef struct WRight { mdt_id id; char key[KEYLEN]; int kind, mode,
                        cust; } WRight;
typedef struct WPair { mdt_id id; int val; } WPair;
typedef struct WBundle { mdt_id id; char key[KEYLEN]; int n;
                         WPair v[NENT]; } WBundle;
typedef struct WCust { mdt_id id; char key[KEYLEN]; } WCust;
typedef struct WUser {
  mdt_id id; char key[KEYLEN]; mdt_id unit; int active, compiled;
  int nb, no, na, nc;
  mdt_id bundle[NENT];
  WPair over[NENT];          /* (right, value) */
  WPair acc[NENT];           /* (tenant, access) */
  mdt_id cust[NENT];
} WUser;

typedef struct World {
  int nlevels;
  const char *level[MDT_MAX_LEVELS];
  int nu, nt, nr, nbu, nc, nus;
  WUnit unit[NENT];
  WTenant tenant[NENT];
  WRight right[NENT];
  WBundle bundle[NENT];
  WCust cust[NENT];
  WUser user[NENT];
  int valued, compiled;
} World;

#define FIND(arr, n, x) \
  for (i = 0; i < (n); i++) if ((arr)[i].id == (x)) return &(arr)[i]; \
  return NULL

static WUnit *wunit(World *w, mdt_id x)
{ int i; FIND(w->unit, w->nu, x); }
static WTenant *wtenant(World *w, mdt_id x)
{ int i; FIND(w->tenant, w->nt, x); }
static WRight *wright(World *w, mdt_id x)
{ int i; FIND(w->right, w->nr, x); }
static WBundle *wbundle(World *w, mdt_id x)
{ int i; FIND(w->bundle, w->nbu, x); }
static WCust *wcust(World *w, mdt_id x)
{ int i; FIND(w->cust, w->nc, x); }
static WUser *wuser(World *w, mdt_id x)
{ int i; FIND(w->user, w->nus, x); }

static int haskey(const char *k1, const char *k2) { return !strcmp(k1, k2); }

/* Is key taken by an entity of the array other than id? */
#define KEYTAKEN(arr, n, k_, id) \
  for (i = 0; i < (n); i++) \
    if ((arr)[i].id != (id) && haskey((arr)[i].key, (k_))) return 1; \
  return 0

static int ukeytaken(World *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->unit, w->nu, k, id); }
static int tkeytaken(World *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->tenant, w->nt, k, id); }
static int rkeytaken(World *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->right, w->nr, k, id); }
static int bkeytaken(World *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->bundle, w->nbu, k, id); }
static int ckeytaken(World *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->cust, w->nc, k, id); }
static int userkeytaken(World *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->user, w->nus, k, id); }

/* Set (id, val) in a pair list, replacing. */
static void pairset(WPair *p, int *n, mdt_id id, int val)
{
  int i;
  for (i = 0; i < *n; i++)
    if (p[i].id == id) { p[i].val = val; return; }
  CHECK(*n < NENT);
  p[*n].id = id;
  p[*n].val = val;
  (*n)++;
}

static WPair *pairget(WPair *p, int n, mdt_id id)
{
  int i;
  for (i = 0; i < n; i++) if (p[i].id == id) return &p[i];
  return NULL;
}

static int idin(const mdt_id *p, int n, mdt_id id)
{
  int i;
  for (i = 0; i < n; i++) if (p[i] == id) return 1;
  return 0;
}

/* A value fits a right: mandate.h's mdt_snap_bundle_value. */
static int wfits(World *w, const WRight *r, mdt_value v)
{
  if (r->kind == MDT_FLAG) return v <= 1;
  return (v & ~(MDT_V_CUSTOMER | 0xff)) == 0 &&
         MDT_V_RANK(v) <= w->nlevels + 2 &&
         (r->cust || !(v & MDT_V_CUSTOMER));
}

static void resetuser(WUser *u)
{
  u->nb = u->no = u->na = u->nc = 0;
}
/* }}} */

/* The reference: docs/semantics.md section 3, naively {{{ */

/* E(u, r): the override, else the join of the bundles, else none. */
static mdt_value refE(World *w, WUser *u, WRight *r, int *src)
{
  WPair *o = pairget(u->over, u->no, r->id);
  int i, rank = 0, cust = 0, any = 0;
  if (o != NULL) {
    *src = MDT_SRC_OVERRIDE;
    return (mdt_value)o->val;
  }
  for (i = 0; i < u->nb; i++) {
    WBundle *b = wbundle(w, u->bundle[i]);
    WPair *p = b ? pairget(b->v, b->n, r->id) : NULL;
    if (p == NULL) continue;
    any = 1;
    if (MDT_V_RANK((mdt_value)p->val) > rank)
      rank = MDT_V_RANK((mdt_value)p->val);
    if (p->val & MDT_V_CUSTOMER) cust = 1;
  }
  *src = any ? MDT_SRC_BUNDLES : MDT_SRC_NONE;
  return (mdt_value)(rank | (cust ? MDT_V_CUSTOMER : 0));
}

/* A known user: exists and compiled (checks see no other). */
static WUser *known(World *w, mdt_id id)
{
  WUser *u = wuser(w, id);
  return u != NULL && u->compiled ? u : NULL;
}

/* Access of u (NULL: none) to tenant t: explicit, else default. */
static int refaccess(WUser *u, WTenant *t, int *expl)
{
  WPair *a = u ? pairget(u->acc, u->na, t->id) : NULL;
  *expl = a != NULL;
  return a ? a->val : t->def;
}

/* Is x in the subtree of a?  Walk up from x. */
static int under(World *w, mdt_id x, mdt_id a)
{
  int steps = 0;
  while (x != 0 && steps++ <= NENT) {
    WUnit *ux;
    if (x == a) return 1;
    ux = wunit(w, x);
    x = ux ? ux->parent : 0;
  }
  return 0;
}

/* anchor(u, L) for level depth d: section 3 word by word. */
static mdt_id refanchor(World *w, WUser *u, int d)
{
  mdt_id x = u->unit, a = 0;
  int steps = 0;
  while (x != 0 && steps++ <= NENT) {
    WUnit *ux = wunit(w, x);
    if (ux == NULL) break;
    if (ux->depth >= d) a = x;     /* on level L or below: keep the topmost */
    x = ux->parent;
  }
  return a != 0 ? a : u->unit;     /* u's unit above L: u's unit itself */
}

/* Does scope value v of u match the record? */
static int refmatch(World *w, WUser *u, mdt_value v, const mdt_record *rec)
{
  int rank = MDT_V_RANK(v), n = w->nlevels;
  mdt_id ru;
  WUser *owner;
  if (rec == NULL || (rec->owner == MDT_ABSENT && rec->unit == MDT_ABSENT &&
                      rec->customer == MDT_ABSENT))
    return 1;                      /* "does u hold r here": v is not none */
  if ((v & MDT_V_CUSTOMER) && idin(u->cust, u->nc, rec->customer) &&
      wcust(w, rec->customer) != NULL)
    return 1;
  if (rank >= MDT_V_OWN && rec->owner == u->id) return 1;
  if (rank == MDT_V_ALL(n)) return 1;
  if (rank >= 2 && rank <= n + 1 && u->unit != 0) {
    owner = known(w, rec->owner);
    ru = rec->unit != MDT_ABSENT ? rec->unit : owner ? owner->unit : 0;
    if (ru != 0 && wunit(w, ru) != NULL &&
        under(w, ru, refanchor(w, u, n + 1 - rank)))
      return 1;
  }
  return 0;
}

/* check(u, r, record) of section 3, step by step. */
static int refcheck(World *w, mdt_id user, mdt_id right,
                    const mdt_record *rec)
{
  WRight *r = wright(w, right);
  WUser *u = known(w, user);
  mdt_value e;
  int src, expl;
  if (r == NULL) return MDT_UNKNOWN_RIGHT;
  if (u == NULL) return MDT_UNKNOWN_USER;
  if (!u->active) return MDT_INACTIVE_USER;
  if (rec != NULL && rec->tenant != MDT_ABSENT) {
    WTenant *t = wtenant(w, rec->tenant);
    int a;
    if (t == NULL) return MDT_UNKNOWN_TENANT;
    a = refaccess(u, t, &expl);
    if (a == MDT_HIDDEN) return MDT_TENANT_HIDDEN;
    if (a == MDT_READ && r->mode == MDT_WRITE) return MDT_TENANT_READ_ONLY;
  }
  e = refE(w, u, r, &src);
  if (r->kind == MDT_FLAG) return e ? MDT_ALLOWED : MDT_NO_RIGHT;
  if (MDT_V_RANK(e) == MDT_V_NONE && !(e & MDT_V_CUSTOMER))
    return MDT_NO_RIGHT;
  return refmatch(w, u, e, rec) ? MDT_ALLOWED : MDT_OUT_OF_SCOPE;
}

/* Tree and users sound: what mdt_snap_compile must accept. */
static int refcompilable(World *w)
{
  int i, steps;
  for (i = 0; i < w->nu; i++) {
    WUnit *x = &w->unit[i], *p;
    if (x->parent == 0) continue;
    if ((p = wunit(w, x->parent)) == NULL) return 0;
    if (p->depth >= x->depth) return 0;
    for (steps = 0, p = x; p != NULL && p->parent != 0; steps++) {
      if (steps > NENT) return 0;              /* a cycle */
      p = wunit(w, p->parent);
    }
  }
  for (i = 0; i < w->nus; i++)
    if (w->user[i].unit != 0 && wunit(w, w->user[i].unit) == NULL) return 0;
  return 1;
}
/* }}} */

/* Rebuilding a snapshot from a model {{{ */

static void putrows(mdt_snap *s, const WUser *u)
{
  int i;
  for (i = 0; i < u->nb; i++)
    CHECK(mdt_snap_user_bundle(s, u->id, u->bundle[i]) == MDT_OK);
  for (i = 0; i < u->no; i++)
    CHECK(mdt_snap_user_override(s, u->id, u->over[i].id,
                                 (mdt_value)u->over[i].val) == MDT_OK);
  for (i = 0; i < u->na; i++)
    CHECK(mdt_snap_user_access(s, u->id, u->acc[i].id, u->acc[i].val)
          == MDT_OK);
  for (i = 0; i < u->nc; i++)
    CHECK(mdt_snap_user_customer(s, u->id, u->cust[i]) == MDT_OK);
}

/*
** The world's snapshot built from scratch: everything, compile (when the
** world is compiled), then the users that are pending re-put and refilled.
*/
static mdt_snap *build(World *w)
{
  mdt_snap *s = mdt_snap_new();
  int i, j;
  CHECK(s != NULL);
  if (w->nlevels > 0)
    CHECK(mdt_snap_set_levels(s, w->level, w->nlevels) == MDT_OK);
  for (i = 0; i < w->nu; i++)
    CHECK(mdt_snap_add_unit(s, w->unit[i].id, w->unit[i].key,
                            w->unit[i].depth, w->unit[i].parent) == MDT_OK);
  for (i = 0; i < w->nt; i++)
    CHECK(mdt_snap_add_tenant(s, w->tenant[i].id, w->tenant[i].key,
                              w->tenant[i].def) == MDT_OK);
  for (i = 0; i < w->nr; i++)
    CHECK(mdt_snap_add_right(s, w->right[i].id, w->right[i].key,
                             w->right[i].kind, w->right[i].mode,
                             w->right[i].cust) == MDT_OK);
  for (i = 0; i < w->nbu; i++) {
    CHECK(mdt_snap_add_bundle(s, w->bundle[i].id, w->bundle[i].key)
          == MDT_OK);
    for (j = 0; j < w->bundle[i].n; j++)
      CHECK(mdt_snap_bundle_value(s, w->bundle[i].id, w->bundle[i].v[j].id,
                                  (mdt_value)w->bundle[i].v[j].val) == MDT_OK);
  }
  for (i = 0; i < w->nc; i++)
    CHECK(mdt_snap_add_customer(s, w->cust[i].id, w->cust[i].key) == MDT_OK);
  for (i = 0; i < w->nus; i++) {
    const WUser *u = &w->user[i];
    if (w->compiled && !u->compiled) continue;
    CHECK(mdt_snap_put_user(s, u->id, u->key, u->unit, u->active) == MDT_OK);
    putrows(s, u);
  }
  if (w->compiled) {
    CHECK(mdt_snap_compile(s) == MDT_OK);
    for (i = 0; i < w->nus; i++) {
      const WUser *u = &w->user[i];
      if (u->compiled) continue;
      CHECK(mdt_snap_put_user(s, u->id, u->key, u->unit, u->active)
            == MDT_OK);
      putrows(s, u);
    }
  }
  return s;
}
/* }}} */

/* Checking one request {{{ */

#ifdef FUZZ_STATS              /* -DFUZZ_STATS: what the checks reached */
static long st_reason[MDT_UNKNOWN_RIGHT + 1], st_fix[MDT_FIX_IMPOSSIBLE + 1],
            st_compile[2], st_op[16][2];
static int cur_code;
static void stats(void)
{
  int i;
  fprintf(stderr, "reasons:");
  for (i = 0; i <= MDT_UNKNOWN_RIGHT; i++)
    fprintf(stderr, " %s=%ld", mdt_reason_name(i), st_reason[i]);
  fprintf(stderr, "\nfixes:");
  for (i = 0; i <= MDT_FIX_IMPOSSIBLE; i++) fprintf(stderr, " %ld", st_fix[i]);
  fprintf(stderr, "\ncompile ok=%ld failed=%ld\nops ok/failed:",
          st_compile[0], st_compile[1]);
  for (i = 0; i < 16; i++)
    fprintf(stderr, " %d:%ld/%ld", i, st_op[i][0], st_op[i][1]);
  fprintf(stderr, "\n");
}
#define STAT(x) (x)
#else
#define STAT(x) ((void)0)
#endif

typedef struct Run {
  World w;
  mdt_snap *s;
  int rebuilds;
} Run;

/* Apply the fix to a copy of the world and check it allows, both ways. */
static void tryfix(Run *R, World *fixed, mdt_id user, mdt_id right,
                   const mdt_record *rec)
{
  mdt_snap *s2;
  CHECK(refcheck(fixed, user, right, rec) == MDT_ALLOWED);
  if (R->rebuilds >= REBUILDS) return;
  R->rebuilds++;
  s2 = build(fixed);
  CHECK(mdt_check(s2, user, right, rec) == MDT_ALLOWED);
  mdt_snap_free(s2);
}

static void setover(World *w, mdt_id user, mdt_id right, mdt_value v)
{
  WUser *u = wuser(w, user);
  pairset(u->over, &u->no, right, v);
}

static void setaccess(World *w, mdt_id user, mdt_id tenant, int a)
{
  WUser *u = wuser(w, user);
  pairset(u->acc, &u->na, tenant, a);
}

/* The smallest override mandate.h promises for a denied scope right. */
static mdt_value smallest(World *w, WUser *u, WRight *r, mdt_value cur,
                          mdt_id right, const mdt_record *rec)
{
  int cust = cur & MDT_V_CUSTOMER, rank;
  static World tmp;
  if (r->kind == MDT_FLAG) return 1;
  if (r->cust && !cust && rec != NULL && rec->customer > 0 &&
      idin(u->cust, u->nc, rec->customer))
    return (mdt_value)(cur | MDT_V_CUSTOMER);
  for (rank = MDT_V_RANK(cur) + 1; rank < MDT_V_ALL(w->nlevels); rank++) {
    tmp = *w;
    setover(&tmp, u->id, right, (mdt_value)(rank | cust));
    if (refcheck(&tmp, u->id, right, rec) == MDT_ALLOWED) break;
  }
  return (mdt_value)(rank | cust);
}

static void check1(Run *R, mdt_id user, mdt_id right, const mdt_record *rec)
{
  static World fixed;
  World *w = &R->w;
  mdt_explanation e;
  int c = mdt_check(R->s, user, right, rec), rc, ref, src = 0;
  WUser *u = known(w, user);
  WRight *r = wright(w, right);
  mdt_value E = 0;
  memset(&e, 0x5a, sizeof e);
  rc = mdt_explain(R->s, user, right, rec, &e);
  ref = refcheck(w, user, right, rec);
  if (c != ref)
    fprintf(stderr, "fuzz_api: check(%lld, %lld, %s) = %s, reference %s\n",
            (long long)user, (long long)right, rec ? "rec" : "NULL",
            mdt_reason_name(c), mdt_reason_name(ref));
  CHECK(c == ref);
  CHECK(e.reason == c);
  STAT(st_reason[c]++);
  STAT(st_fix[e.fix >= 0 && e.fix <= MDT_FIX_IMPOSSIBLE ? e.fix : 0]++);
  CHECK(rc == (c == MDT_UNKNOWN_RIGHT ? MDT_NOTFOUND : MDT_OK));
  if (r == NULL) return;
  CHECK(e.kind == r->kind && e.mode == r->mode);
  if (u != NULL) E = refE(w, u, r, &src);
  CHECK(e.value == E);
  CHECK(e.source == src);
  CHECK(mdt_effective(R->s, user, right, NULL) == E);
  if (rec != NULL && rec->tenant != MDT_ABSENT) {
    WTenant *t = wtenant(w, rec->tenant);
    int expl = 0, a = t ? refaccess(u, t, &expl) : -1;
    CHECK(e.access == a);
    CHECK(e.access_explicit == expl);
  } else {
    CHECK(e.access == -1);
  }
  CHECK((c == MDT_ALLOWED) == (e.fix == MDT_FIX_NONE));
  switch (e.fix) {
    case MDT_FIX_NONE:
      break;
    case MDT_FIX_ACTIVATE:
      CHECK(c == MDT_INACTIVE_USER);
      fixed = *w;
      wuser(&fixed, user)->active = 1;
      tryfix(R, &fixed, user, right, rec);
      break;
    case MDT_FIX_ACCESS:
      CHECK(c == MDT_TENANT_HIDDEN || c == MDT_TENANT_READ_ONLY);
      CHECK(e.fix_access == (r->mode == MDT_READ_MODE ? MDT_READ : MDT_FULL));
      fixed = *w;
      setaccess(&fixed, user, rec->tenant, e.fix_access);
      tryfix(R, &fixed, user, right, rec);
      break;
    case MDT_FIX_OVERRIDE:
      CHECK(c == MDT_NO_RIGHT || c == MDT_OUT_OF_SCOPE);
      CHECK(e.fix_value == smallest(w, u, r, E, right, rec));
      fixed = *w;
      setover(&fixed, user, right, e.fix_value);
      tryfix(R, &fixed, user, right, rec);
      break;
    case MDT_FIX_IMPOSSIBLE:
      CHECK(c != MDT_ALLOWED);
      if (u != NULL) {                /* no single change allows it */
        fixed = *w;
        wuser(&fixed, user)->active = 1;
        CHECK(refcheck(&fixed, user, right, rec) != MDT_ALLOWED);
        if (rec != NULL && wtenant(w, rec->tenant) != NULL) {
          fixed = *w;
          setaccess(&fixed, user, rec->tenant, MDT_FULL);
          CHECK(refcheck(&fixed, user, right, rec) != MDT_ALLOWED);
        }
        fixed = *w;
        setover(&fixed, user, right, r->kind == MDT_FLAG ? 1 :
                (mdt_value)(MDT_V_ALL(w->nlevels) |
                            (r->cust ? MDT_V_CUSTOMER : 0)));
        CHECK(refcheck(&fixed, user, right, rec) != MDT_ALLOWED);
      }
      break;
    default:
      CHECK(0);
  }
}
/* }}} */

/* The program {{{ */
enum { OP_LEVELS, OP_UNIT, OP_TENANT, OP_RIGHT, OP_BUNDLE, OP_CUSTOMER,
       OP_VALUE, OP_USER, OP_UBUNDLE, OP_UOVER, OP_UACCESS, OP_UCUST,
       OP_COMPILE, OP_CUSER, OP_CHECK, OP_CHECKNULL, NOPS };

typedef struct Op {
  uint8_t code;
  uint8_t a[NARGS];
} Op;

static const char *const canon[] = { "country", "branch", "dept", "team",
                                     "person" };
static const char *const oddname[] = { "none", "own", "all", "customer",
                                       "a+b", "", "country", "team", "true",
                                       "x", "+customer", "customer " };
static char gen32[MDT_MAX_LEVELS][8];

/* An id: mostly 1..8 or 300, sometimes 0, negative or too large. */
static mdt_id pick(uint8_t b)
{
  static const mdt_id t[13] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 300 };
  switch (b & 15) {
    case 13: return 0;
    case 14: return (b >> 4) & 1 ? -1 : INT64_MIN;
    case 15: return (b >> 4) & 1 ? MAXID + 1 : INT64_MAX;
    default: return t[b & 15];
  }
}

/* A record field: absent, unknown, an id, or junk. */
static mdt_id field(uint8_t b)
{
  switch (b & 15) {
    case 0: case 1: case 2: case 3: case 4: return MDT_ABSENT;
    case 5: return MDT_UNKNOWN;
    case 6: return 300;
    case 7: return (b >> 4) & 1 ? INT64_MAX : -7;
    default: return 1 + (b >> 4) % 8;
  }
}

static const char *key(char *buf, uint8_t b, mdt_id id)
{
  static const char *const pool[] = { "", "k1", "k2", "x", "k300",
                                      "k\xc3\xa9", "%s%n" };
  if (b < 200) {
    snprintf(buf, KEYLEN, "k%lld", (long long)id);
    return buf;
  }
  if (b >= 250) {              /* long keys: messages must cut them */
    snprintf(buf, KEYLEN, "%0100lld", (long long)id);
    return buf;
  }
  return pool[b % 7];
}

/* A value for right (its kind from the world); sometimes one that fits
   no right. */
static mdt_value value(World *w, mdt_id right, uint8_t b)
{
  WRight *r = wright(w, right);
  if (b == 0xff) return 0xffff;
  if (b == 0xfe) return 0x201;
  if (r != NULL && r->kind == MDT_FLAG) return (mdt_value)(b & 0x40 ? b % 4
                                                                    : b & 1);
  return (mdt_value)((b & 0x3f) % (w->nlevels + 4) |
                     (b & 0x80 ? MDT_V_CUSTOMER : 0));
}

/*
** What mandate.h says a builder call returns: every rule the call breaks
** adds its code; none broken, MDT_OK; else one of the codes (the header
** does not order the rules).  The caller updates the model only on MDT_OK.
*/
typedef struct Want {
  int n;
  int code[12];
} Want;

static void want(Want *W, int broken, int code)
{
  if (broken && W->n < 12) W->code[W->n++] = code;
}

static void expect(mdt_snap *s, int rc, const Want *W)
{
  int i, ok = 0;
  STAT(st_op[cur_code][rc != MDT_OK]++);
  if (W->n == 0) {
    if (rc != MDT_OK)
      fprintf(stderr, "fuzz_api: unexpected %s: %s\n", mdt_errstr(rc),
              mdt_snap_errmsg(s));
    CHECK(rc == MDT_OK);
    return;
  }
  for (i = 0; i < W->n; i++) if (rc == W->code[i]) ok = 1;
  if (!ok)
    fprintf(stderr, "fuzz_api: got %s (%s), want %s\n", mdt_errstr(rc),
            mdt_snap_errmsg(s), mdt_errstr(W->code[0]));
  CHECK(ok);
  CHECK(mdt_snap_errmsg(s)[0] != '\0');
}

static int idok(mdt_id id) { return id >= 1 && id <= MAXID; }

static void run(Run *R, const Op *op)
{
  World *w = &R->w;
  mdt_snap *s = R->s;
  const uint8_t *a = op->a;
  char kb[KEYLEN];
  int rc, i, j;
  Want W;
  W.n = 0;
  STAT(cur_code = op->code % NOPS);
  switch (op->code % NOPS) {
    case OP_LEVELS: {
      static const int ns[8] = { 0, 1, 2, 3, 4, 5, 33, 32 };
      const char *names[33];
      int n = ns[a[0] & 7];
      for (i = 0; i < n; i++) {
        if (n > 5) {
          snprintf(gen32[i % MDT_MAX_LEVELS], 8, "l%d", i % MDT_MAX_LEVELS);
          names[i] = gen32[i % MDT_MAX_LEVELS];
        } else {
          names[i] = canon[i];
        }
      }
      if (n > 0 && (a[1] & 3) == 3)
        names[a[2] % n] = oddname[a[3] % 12];
      want(&W, w->compiled || w->nu > 0 || w->valued, MDT_MISUSE);
      want(&W, n < 1 || n > MDT_MAX_LEVELS, MDT_RANGE);
      for (i = 0; i < n; i++) {
        const char *x = names[i];
        want(&W, !*x || strchr(x, '+') || !strcmp(x, "none") ||
             !strcmp(x, "own") || !strcmp(x, "all") ||
             !strcmp(x, "customer"), MDT_INVALID);
        for (j = 0; j < i; j++) want(&W, !strcmp(names[j], x), MDT_INVALID);
      }
      rc = mdt_snap_set_levels(s, names, n);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        w->nlevels = n;
        for (i = 0; i < n; i++) w->level[i] = names[i];  /* all static */
      }
      break;
    }
    case OP_UNIT: {
      mdt_id id = pick(a[0]), parent = (a[3] & 3) == 0 ? 0 : pick(a[3] >> 2);
      int depth = a[2] == 255 ? -1 : a[2] % (w->nlevels + 1);
      const char *k = key(kb, a[1], id);
      want(&W, w->compiled, MDT_MISUSE);
      want(&W, depth < 0 || depth >= w->nlevels, MDT_RANGE);
      want(&W, parent < 0 || parent > MAXID || !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, wunit(w, id) || ukeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_unit(s, id, k, depth, parent);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        WUnit *u = &w->unit[w->nu++];
        u->id = id;
        snprintf(u->key, KEYLEN, "%s", k);
        u->depth = depth;
        u->parent = parent;
      }
      break;
    }
    case OP_TENANT: {
      mdt_id id = pick(a[0]);
      int def = a[2] == 255 ? -1 : a[2] % 4;
      const char *k = key(kb, a[1], id);
      want(&W, w->compiled || def < 0 || def > 2, MDT_MISUSE);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, wtenant(w, id) || tkeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_tenant(s, id, k, def);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        WTenant *t = &w->tenant[w->nt++];
        t->id = id;
        snprintf(t->key, KEYLEN, "%s", k);
        t->def = def;
      }
      break;
    }
    case OP_RIGHT: {
      mdt_id id = pick(a[0]);
      int kind = a[2] == 255 ? 2 : a[2] & 1;
      int mode = a[3] == 255 ? -1 : a[3] & 1;
      int cust = a[2] == 255 ? 0 : (a[2] >> 1) & 1;
      const char *k = key(kb, a[1], id);
      want(&W, w->compiled || kind > 1 || mode < 0, MDT_MISUSE);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, wright(w, id) || rkeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_right(s, id, k, kind, mode, cust);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        WRight *r = &w->right[w->nr++];
        int ck = -1, mo = -1, co = -1;
        r->id = id;
        snprintf(r->key, KEYLEN, "%s", k);
        r->kind = kind;
        r->mode = mode;
        r->cust = kind == MDT_SCOPE && cust;
        CHECK(mdt_right_info(s, id, &ck, &mo, &co) == MDT_OK);
        CHECK(ck == kind && mo == mode && co == r->cust);
      }
      break;
    }
    case OP_BUNDLE: {
      mdt_id id = pick(a[0]);
      const char *k = key(kb, a[1], id);
      want(&W, w->compiled, MDT_MISUSE);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, wbundle(w, id) || bkeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_bundle(s, id, k);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        WBundle *b = &w->bundle[w->nbu++];
        b->id = id;
        snprintf(b->key, KEYLEN, "%s", k);
        b->n = 0;
      }
      break;
    }
    case OP_CUSTOMER: {
      mdt_id id = pick(a[0]);
      const char *k = key(kb, a[1], id);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, wcust(w, id) || ckeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_customer(s, id, k);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        WCust *c = &w->cust[w->nc++];
        c->id = id;
        snprintf(c->key, KEYLEN, "%s", k);
      }
      break;
    }
    case OP_VALUE: {
      mdt_id b = pick(a[0]), r = pick(a[1]);
      mdt_value v = value(w, r, a[2]);
      WBundle *wb = wbundle(w, b);
      WRight *wr = wright(w, r);
      mdt_value got = 0;
      want(&W, w->compiled, MDT_MISUSE);
      want(&W, !wb || !wr, MDT_NOTFOUND);
      want(&W, wr && !wfits(w, wr, v), MDT_INVALID);
      rc = mdt_snap_bundle_value(s, b, r, v);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        pairset(wb->v, &wb->n, r, v);
        w->valued = 1;
        CHECK(mdt_bundle_value(s, b, r, &got) == 1 && got == v);
      }
      break;
    }
    case OP_USER: {
      mdt_id id = pick(a[0]), unit = (a[2] % 3) == 0 ? 0 : pick(a[2] >> 2);
      int active = (a[3] & 7) != 0;
      const char *k = key(kb, a[1], id);
      WUser *u = wuser(w, id);
      want(&W, unit < 0 || unit > MAXID || !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, userkeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_put_user(s, id, k, unit, active);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        if (u == NULL) {
          u = &w->user[w->nus++];
          u->id = id;
        }
        snprintf(u->key, KEYLEN, "%s", k);
        u->unit = unit;
        u->active = active;
        u->compiled = 0;
        resetuser(u);
        CHECK(mdt_lookup(s, MDT_USER, k, strlen(k)) == id);
        CHECK(mdt_check(s, id, 1, NULL) == MDT_UNKNOWN_USER ||
              !wright(w, 1));
      }
      break;
    }
    case OP_UBUNDLE: {
      mdt_id uid = pick(a[0]), b = pick(a[1]);
      WUser *u = wuser(w, uid);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && u->compiled, MDT_MISUSE);
      want(&W, !wbundle(w, b), MDT_NOTFOUND);
      rc = mdt_snap_user_bundle(s, uid, b);
      expect(s, rc, &W);
      if (rc == MDT_OK && !idin(u->bundle, u->nb, b)) u->bundle[u->nb++] = b;
      break;
    }
    case OP_UOVER: {
      mdt_id uid = pick(a[0]), r = pick(a[1]);
      mdt_value v = value(w, r, a[2]), got = 0;
      WUser *u = wuser(w, uid);
      WRight *wr = wright(w, r);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && u->compiled, MDT_MISUSE);
      want(&W, !wr, MDT_NOTFOUND);
      want(&W, wr && !wfits(w, wr, v), MDT_INVALID);
      rc = mdt_snap_user_override(s, uid, r, v);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        pairset(u->over, &u->no, r, v);
        w->valued = 1;
        CHECK(mdt_override(s, uid, r, &got) == 1 && got == v);
      }
      break;
    }
    case OP_UACCESS: {
      mdt_id uid = pick(a[0]), t = pick(a[1]);
      int acc = a[2] == 255 ? -1 : a[2] % 4;
      WUser *u = wuser(w, uid);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && u->compiled, MDT_MISUSE);
      want(&W, !wtenant(w, t), MDT_NOTFOUND);
      want(&W, acc < 0 || acc > 2, MDT_MISUSE);
      rc = mdt_snap_user_access(s, uid, t, acc);
      expect(s, rc, &W);
      if (rc == MDT_OK) pairset(u->acc, &u->na, t, acc);
      break;
    }
    case OP_UCUST: {
      mdt_id uid = pick(a[0]), c = pick(a[1]);
      WUser *u = wuser(w, uid);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && u->compiled, MDT_MISUSE);
      want(&W, !wcust(w, c), MDT_NOTFOUND);
      rc = mdt_snap_user_customer(s, uid, c);
      expect(s, rc, &W);
      if (rc == MDT_OK && !idin(u->cust, u->nc, c)) u->cust[u->nc++] = c;
      break;
    }
    case OP_COMPILE:
      if (w->compiled) want(&W, 1, MDT_MISUSE);  /* the tree was sound */
      else want(&W, !refcompilable(w), MDT_CONSTRAINT);
      rc = mdt_snap_compile(s);
      expect(s, rc, &W);
      STAT(st_compile[rc != MDT_OK]++);
      if (rc == MDT_OK) {
        w->compiled = 1;
        for (i = 0; i < w->nus; i++) w->user[i].compiled = 1;
      }
      break;
    case OP_CUSER: {
      mdt_id uid = pick(a[0]);
      WUser *u = wuser(w, uid);
      want(&W, !w->compiled, MDT_MISUSE);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && u->unit != 0 && !wunit(w, u->unit), MDT_CONSTRAINT);
      rc = mdt_snap_compile_user(s, uid);
      expect(s, rc, &W);
      if (rc == MDT_OK) u->compiled = 1;
      break;
    }
    case OP_CHECK: {
      mdt_record rec;
      rec.tenant = field(a[2]);
      rec.owner = field(a[3]);
      rec.unit = field(a[4]);
      rec.customer = field(a[5]);
      check1(R, pick(a[0]), pick(a[1]), &rec);
      break;
    }
    default:
      check1(R, pick(a[0]), pick(a[1]), NULL);
      break;
  }
}

/* The readers agree with the model: keys, max ids, infos. */
static void readers(Run *R)
{
  World *w = &R->w;
  mdt_id mx[MDT_NKINDS] = { 0 };
  int i, j, d = -9, act = -9, nb = -9, k = -9, mo = -9, co = -9;
  mdt_id p = -9, unit = -9;
  const mdt_id *b = NULL;
#define KEYOK(kind, e) do { \
    CHECK(mdt_key(R->s, kind, (e).id) != NULL); \
    CHECK(strcmp(mdt_key(R->s, kind, (e).id), (e).key) == 0); \
    CHECK(mdt_lookup(R->s, kind, (e).key, strlen((e).key)) == (e).id); \
    if ((e).id > mx[kind]) mx[kind] = (e).id; \
  } while (0)
  for (i = 0; i < w->nu; i++) {
    KEYOK(MDT_UNIT, w->unit[i]);
    CHECK(mdt_unit_info(R->s, w->unit[i].id, &d, &p) == MDT_OK);
    CHECK(d == w->unit[i].depth && p == w->unit[i].parent);
  }
  for (i = 0; i < w->nt; i++) KEYOK(MDT_TENANT, w->tenant[i]);
  for (i = 0; i < w->nr; i++) {
    KEYOK(MDT_RIGHT, w->right[i]);
    CHECK(mdt_right_info(R->s, w->right[i].id, &k, &mo, &co) == MDT_OK);
    CHECK(k == w->right[i].kind && mo == w->right[i].mode &&
          co == w->right[i].cust);
  }
  for (i = 0; i < w->nbu; i++) KEYOK(MDT_BUNDLE, w->bundle[i]);
  for (i = 0; i < w->nc; i++) KEYOK(MDT_CUSTOMER, w->cust[i]);
  for (i = 0; i < w->nus; i++) {
    const WUser *u = &w->user[i];
    KEYOK(MDT_USER, w->user[i]);
    CHECK(mdt_user_info(R->s, u->id, &unit, &act, &b, &nb) == MDT_OK);
    CHECK(unit == u->unit && act == u->active && nb == u->nb);
    for (j = 0; j < nb; j++) CHECK(b[j] == u->bundle[j]);
  }
#undef KEYOK
  for (k = MDT_UNIT; k < MDT_NKINDS; k++) CHECK(mdt_max_id(R->s, k) == mx[k]);
  CHECK(mdt_max_id(R->s, MDT_LEVEL) == w->nlevels);
  CHECK(mdt_unit_info(R->s, 0, NULL, NULL) == MDT_NOTFOUND);
  CHECK(mdt_user_info(R->s, -1, NULL, NULL, NULL, NULL) == MDT_NOTFOUND);
}

/* After the program: every user and right, a few records each. */
static void sweep(Run *R)
{
  static const mdt_id ids[] = { 1, 2, 3, 4, 5, 6, 7, 8, 300, 0, -1 };
  size_t i, j;
  int k;
  for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    for (j = 0; j < sizeof ids / sizeof ids[0]; j++) {
      mdt_record rec;
      check1(R, ids[i], ids[j], NULL);
      for (k = 0; k < 4; k++) {
        memset(&rec, 0, sizeof rec);
        rec.owner = ids[(i + (size_t)k) % 9];
        if (k & 1) rec.unit = ids[(j + (size_t)k) % 9];
        if (k & 2) rec.customer = ids[(size_t)k * 2];
        if (k == 3) rec.tenant = ids[j % 9];
        check1(R, ids[i], ids[j], &rec);
      }
    }
    for (j = 0; j < sizeof ids / sizeof ids[0]; j++) {
      WTenant *t = wtenant(&R->w, ids[j]);
      int ex = -1, a = mdt_access(R->s, ids[i], ids[j], &ex), expl = 0;
      WUser *x = wuser(&R->w, ids[i]);
      CHECK(a == (x && t ? refaccess(x, t, &expl) : -1));
      CHECK(ex == expl);
      CHECK(mdt_manages(R->s, ids[i], ids[j]) ==
            (x != NULL && idin(x->cust, x->nc, ids[j])));
    }
  }
}
/* }}} */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static Run R;
  static Op prog[MAXOPS];
  size_t n = 0, i = 0;
  int k;
  while (i < size && n < MAXOPS) {     /* decode: code, then NARGS bytes */
    prog[n].code = data[i++];
    for (k = 0; k < NARGS; k++) prog[n].a[k] = i < size ? data[i++] : 0;
    n++;
  }
#ifdef FUZZ_STATS
  static int once;
  if (!once++) atexit(stats);
#endif
  memset(&R, 0, sizeof R);
  R.s = mdt_snap_new();
  CHECK(R.s != NULL);
  for (i = 0; i < n; i++) run(&R, &prog[i]);
  readers(&R);
  sweep(&R);
  mdt_snap_free(R.s);
  return 0;
}
