/*
** fuzz_api.c -- libFuzzer target driving random programs of core API
** calls, checked against a model world and the C reference of
** docs/semantics.md sections 3 and 4 (spec/c/reference.c, shared with
** spec/c/core_test.c).
**
** The input is decoded first into a program (an array of Op: an op code
** and six argument bytes), then run.  Each builder call's return code is
** checked against what the model world (a ref_world, plus which users are
** pending) says the header promises: a call that breaks no rule must
** succeed, one that breaks rules must fail with the code of one of them
** (MDT_RANGE, _INVALID, _CONSTRAINT, _NOTFOUND, _MISUSE) and a non-empty
** mdt_snap_errmsg, and a failing call changes nothing (the model is
** updated only on MDT_OK, and every later check, key and info read
** compares the snapshot with it).  mdt_snap_compile must succeed exactly
** when the tree and the users' units are sound (ref_sound).
**
** Every check (explicit ops, then a sweep over all users and rights):
**   - mdt_check == ref_check;
**   - mdt_explain == ref_explain in every field (reason, value, source,
**     access, anchor, matched, failing, fix), and its reason is
**     mdt_check's;
**   - a fix of MDT_FIX_ACTIVATE/ACCESS/OVERRIDE, applied to the user,
**     makes the reference allow it AND a snapshot rebuilt from a copy of
**     the model with it (all calls, compile, then the users still pending
**     re-put) allow it; MDT_FIX_IMPOSSIBLE means no single change
**     (activate, full access, override to all) helps.
** Ids stay small (1..8 and 300, dense enough to keep allocations tiny)
** plus invalid ones (0, negative, above 2^31 - 1).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate.h"
#include "reference.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_api: %s:%d: invariant failed: %s\n", \
            __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define MAXID   ((mdt_id)0x7fffffff)
#define MAXOPS  256
#define NARGS   6
#define REBUILDS 12            /* fix rebuilds per input: keep exec/s up */

/* The model world {{{ */

/* Is key taken by an entity of the array other than id? */
#define KEYTAKEN(arr, n, k_, id) \
  for (i = 0; i < (n); i++) \
    if ((arr)[i].id != (id) && !strcmp((arr)[i].key, (k_))) return 1; \
  return 0

static int ukeytaken(const ref_world *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->unit, w->nunits, k, id); }
static int tkeytaken(const ref_world *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->tenant, w->ntenants, k, id); }
static int rkeytaken(const ref_world *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->right, w->nrights, k, id); }
static int bkeytaken(const ref_world *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->bundle, w->nbundles, k, id); }
static int ckeytaken(const ref_world *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->cust, w->ncusts, k, id); }
static int userkeytaken(const ref_world *w, const char *k, mdt_id id)
{ int i; KEYTAKEN(w->user, w->nusers, k, id); }

/* A value fits a right: mandate.h's mdt_snap_bundle_value. */
static int wfits(const ref_world *w, const ref_right *r, mdt_value v)
{
  if (r->kind == MDT_FLAG) return v <= 1;
  return (v & ~(MDT_V_CUSTOMER | 0xff)) == 0 &&
         MDT_V_RANK(v) <= w->nlevels + 2 &&
         (r->cust || !(v & MDT_V_CUSTOMER));
}
/* }}} */

/* Rebuilding a snapshot from a model {{{ */

static void putrows(mdt_snap *s, const ref_user *u)
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
static mdt_snap *build(const ref_world *w, int compiled)
{
  mdt_snap *s = mdt_snap_new();
  int i, j;
  CHECK(s != NULL);
  if (w->nlevels > 0)
    CHECK(mdt_snap_set_levels(s, w->level, w->nlevels) == MDT_OK);
  for (i = 0; i < w->nunits; i++)
    CHECK(mdt_snap_add_unit(s, w->unit[i].id, w->unit[i].key,
                            w->unit[i].depth, w->unit[i].parent) == MDT_OK);
  for (i = 0; i < w->ntenants; i++)
    CHECK(mdt_snap_add_tenant(s, w->tenant[i].id, w->tenant[i].key,
                              w->tenant[i].def) == MDT_OK);
  for (i = 0; i < w->nrights; i++)
    CHECK(mdt_snap_add_right(s, w->right[i].id, w->right[i].key,
                             w->right[i].kind, w->right[i].mode,
                             w->right[i].cust) == MDT_OK);
  for (i = 0; i < w->nbundles; i++) {
    CHECK(mdt_snap_add_bundle(s, w->bundle[i].id, w->bundle[i].key)
          == MDT_OK);
    for (j = 0; j < w->bundle[i].n; j++)
      CHECK(mdt_snap_bundle_value(s, w->bundle[i].id, w->bundle[i].v[j].id,
                                  (mdt_value)w->bundle[i].v[j].val) == MDT_OK);
  }
  for (i = 0; i < w->ncusts; i++)
    CHECK(mdt_snap_add_customer(s, w->cust[i].id, w->cust[i].key) == MDT_OK);
  for (i = 0; i < w->nusers; i++) {
    const ref_user *u = &w->user[i];
    if (compiled && u->pending) continue;
    CHECK(mdt_snap_put_user(s, u->id, u->key, u->unit, u->active) == MDT_OK);
    putrows(s, u);
  }
  if (compiled) {
    CHECK(mdt_snap_compile(s) == MDT_OK);
    for (i = 0; i < w->nusers; i++) {
      const ref_user *u = &w->user[i];
      if (!u->pending) continue;
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
  ref_world w;
  int valued;                  /* a bundle value or override was given */
  int compiled;                /* mdt_snap_compile succeeded */
  mdt_snap *s;
  int rebuilds;
} Run;

/*
** e's fix allows the check: in the reference for the user with the fix,
** and in a snapshot rebuilt from a copy of the model with it.
*/
static void tryfix(Run *R, const mdt_explanation *e, mdt_id user,
                   mdt_id right, const mdt_record *rec)
{
  static ref_world fixed;
  ref_user u = *ref_user_of(&R->w, user);
  mdt_snap *s2;
  ref_apply_fix(&u, e, right, rec);
  CHECK(ref_check_as(&R->w, &u, right, rec) == MDT_ALLOWED);
  if (R->rebuilds >= REBUILDS) return;
  R->rebuilds++;
  fixed = R->w;
  *ref_user_of(&fixed, user) = u;
  s2 = build(&fixed, R->compiled);
  CHECK(mdt_check(s2, user, right, rec) == MDT_ALLOWED);
  mdt_snap_free(s2);
}

static void check1(Run *R, mdt_id user, mdt_id right, const mdt_record *rec)
{
  const ref_world *w = &R->w;
  mdt_explanation e, ref;
  int c = mdt_check(R->s, user, right, rec), rc, want;
  const ref_right *r = ref_right_of(w, right);
  memset(&e, 0x5a, sizeof e);
  rc = mdt_explain(R->s, user, right, rec, &e);
  want = ref_check(w, user, right, rec);
  if (c != want)
    fprintf(stderr, "fuzz_api: check(%lld, %lld, %s) = %s, reference %s\n",
            (long long)user, (long long)right, rec ? "rec" : "NULL",
            mdt_reason_name(c), mdt_reason_name(want));
  CHECK(c == want);
  CHECK(e.reason == c);
  STAT(st_reason[c]++);
  STAT(st_fix[e.fix >= 0 && e.fix <= MDT_FIX_IMPOSSIBLE ? e.fix : 0]++);
  CHECK(rc == (c == MDT_UNKNOWN_RIGHT ? MDT_NOTFOUND : MDT_OK));
  /* kind, mode, value, source, access, anchor, matched, failing, fix */
  CHECK(rc == ref_explain(w, user, right, rec, &ref));
  CHECK(ref_same_explanation(&e, &ref));
  CHECK(mdt_effective(R->s, user, right, NULL) == e.value);
  if (r == NULL) return;
  CHECK((c == MDT_ALLOWED) == (e.fix == MDT_FIX_NONE));
  switch (e.fix) {
    case MDT_FIX_NONE:
      break;
    case MDT_FIX_ACTIVATE:
      CHECK(c == MDT_INACTIVE_USER);
      tryfix(R, &e, user, right, rec);
      break;
    case MDT_FIX_ACCESS:
      CHECK(c == MDT_TENANT_HIDDEN || c == MDT_TENANT_READ_ONLY);
      CHECK(e.fix_access == (r->mode == MDT_READ_MODE ? MDT_READ : MDT_FULL));
      tryfix(R, &e, user, right, rec);
      break;
    case MDT_FIX_OVERRIDE:
      CHECK(c == MDT_NO_RIGHT || c == MDT_OUT_OF_SCOPE);
      tryfix(R, &e, user, right, rec);
      break;
    case MDT_FIX_IMPOSSIBLE:
      CHECK(c != MDT_ALLOWED);
      if (c != MDT_UNKNOWN_USER) {    /* no single change allows it */
        const ref_user *u = ref_user_of(w, user);
        ref_user x = *u;
        x.active = 1;
        CHECK(ref_check_as(w, &x, right, rec) != MDT_ALLOWED);
        if (rec != NULL && ref_tenant_of(w, rec->tenant) != NULL) {
          x = *u;
          ref_user_access(&x, rec->tenant, MDT_FULL);
          CHECK(ref_check_as(w, &x, right, rec) != MDT_ALLOWED);
        }
        x = *u;
        ref_user_override(&x, right, r->kind == MDT_FLAG ? 1 :
                          (mdt_value)(MDT_V_ALL(w->nlevels) |
                                      (r->cust ? MDT_V_CUSTOMER : 0)));
        CHECK(ref_check_as(w, &x, right, rec) != MDT_ALLOWED);
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
    snprintf(buf, REF_KEYLEN, "k%lld", (long long)id);
    return buf;
  }
  if (b >= 250) {              /* long keys: messages must cut them */
    snprintf(buf, REF_KEYLEN, "%0100lld", (long long)id);
    return buf;
  }
  return pool[b % 7];
}

/* A value for right (its kind from the world); sometimes one that fits
   no right. */
static mdt_value value(const ref_world *w, mdt_id right, uint8_t b)
{
  const ref_right *r = ref_right_of(w, right);
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
  ref_world *w = &R->w;
  mdt_snap *s = R->s;
  const uint8_t *a = op->a;
  char kb[REF_KEYLEN];
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
      want(&W, R->compiled || w->nunits > 0 || R->valued, MDT_MISUSE);
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
      if (rc == MDT_OK) ref_levels(w, n, names);      /* all static */
      break;
    }
    case OP_UNIT: {
      mdt_id id = pick(a[0]), parent = (a[3] & 3) == 0 ? 0 : pick(a[3] >> 2);
      int depth = a[2] == 255 ? -1 : a[2] % (w->nlevels + 1);
      const char *k = key(kb, a[1], id);
      want(&W, R->compiled, MDT_MISUSE);
      want(&W, depth < 0 || depth >= w->nlevels, MDT_RANGE);
      want(&W, parent < 0 || parent > MAXID || !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, ref_unit_of(w, id) || ukeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_unit(s, id, k, depth, parent);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_add_unit(w, id, k, depth, parent);
      break;
    }
    case OP_TENANT: {
      mdt_id id = pick(a[0]);
      int def = a[2] == 255 ? -1 : a[2] % 4;
      const char *k = key(kb, a[1], id);
      want(&W, R->compiled || def < 0 || def > 2, MDT_MISUSE);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, ref_tenant_of(w, id) || tkeytaken(w, k, id),
           MDT_CONSTRAINT);
      rc = mdt_snap_add_tenant(s, id, k, def);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_add_tenant(w, id, k, def);
      break;
    }
    case OP_RIGHT: {
      mdt_id id = pick(a[0]);
      int kind = a[2] == 255 ? 2 : a[2] & 1;
      int mode = a[3] == 255 ? -1 : a[3] & 1;
      int cust = a[2] == 255 ? 0 : (a[2] >> 1) & 1;
      const char *k = key(kb, a[1], id);
      want(&W, R->compiled || kind > 1 || mode < 0, MDT_MISUSE);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, ref_right_of(w, id) || rkeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_add_right(s, id, k, kind, mode, cust);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        const ref_right *r = ref_add_right(w, id, k, kind, mode, cust);
        int ck = -1, mo = -1, co = -1;
        CHECK(mdt_right_info(s, id, &ck, &mo, &co) == MDT_OK);
        CHECK(ck == kind && mo == mode && co == r->cust);
      }
      break;
    }
    case OP_BUNDLE: {
      mdt_id id = pick(a[0]);
      const char *k = key(kb, a[1], id);
      want(&W, R->compiled, MDT_MISUSE);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, ref_bundle_of(w, id) || bkeytaken(w, k, id),
           MDT_CONSTRAINT);
      rc = mdt_snap_add_bundle(s, id, k);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_add_bundle(w, id, k);
      break;
    }
    case OP_CUSTOMER: {
      mdt_id id = pick(a[0]);
      const char *k = key(kb, a[1], id);
      want(&W, !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, ref_customer_of(w, id) || ckeytaken(w, k, id),
           MDT_CONSTRAINT);
      rc = mdt_snap_add_customer(s, id, k);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_add_customer(w, id, k);
      break;
    }
    case OP_VALUE: {
      mdt_id b = pick(a[0]), r = pick(a[1]);
      mdt_value v = value(w, r, a[2]);
      ref_bundle *wb = ref_bundle_of(w, b);
      const ref_right *wr = ref_right_of(w, r);
      mdt_value got = 0;
      want(&W, R->compiled, MDT_MISUSE);
      want(&W, !wb || !wr, MDT_NOTFOUND);
      want(&W, wr && !wfits(w, wr, v), MDT_INVALID);
      rc = mdt_snap_bundle_value(s, b, r, v);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        ref_bundle_value(wb, r, v);
        R->valued = 1;
        CHECK(mdt_bundle_value(s, b, r, &got) == 1 && got == v);
      }
      break;
    }
    case OP_USER: {
      mdt_id id = pick(a[0]), unit = (a[2] % 3) == 0 ? 0 : pick(a[2] >> 2);
      int active = (a[3] & 7) != 0;
      const char *k = key(kb, a[1], id);
      want(&W, unit < 0 || unit > MAXID || !idok(id), MDT_RANGE);
      want(&W, !*k, MDT_INVALID);
      want(&W, userkeytaken(w, k, id), MDT_CONSTRAINT);
      rc = mdt_snap_put_user(s, id, k, unit, active);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        ref_put_user(w, id, k, unit, active)->pending = 1;  /* no rows */
        CHECK(mdt_lookup(s, MDT_USER, k, strlen(k)) == id);
        CHECK(mdt_check(s, id, 1, NULL) == MDT_UNKNOWN_USER ||
              !ref_right_of(w, 1));
      }
      break;
    }
    case OP_UBUNDLE: {
      mdt_id uid = pick(a[0]), b = pick(a[1]);
      ref_user *u = ref_user_of(w, uid);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && !u->pending, MDT_MISUSE);
      want(&W, !ref_bundle_of(w, b), MDT_NOTFOUND);
      rc = mdt_snap_user_bundle(s, uid, b);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_user_bundle(u, b);
      break;
    }
    case OP_UOVER: {
      mdt_id uid = pick(a[0]), r = pick(a[1]);
      mdt_value v = value(w, r, a[2]), got = 0;
      ref_user *u = ref_user_of(w, uid);
      const ref_right *wr = ref_right_of(w, r);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && !u->pending, MDT_MISUSE);
      want(&W, !wr, MDT_NOTFOUND);
      want(&W, wr && !wfits(w, wr, v), MDT_INVALID);
      rc = mdt_snap_user_override(s, uid, r, v);
      expect(s, rc, &W);
      if (rc == MDT_OK) {
        ref_user_override(u, r, v);
        R->valued = 1;
        CHECK(mdt_override(s, uid, r, &got) == 1 && got == v);
      }
      break;
    }
    case OP_UACCESS: {
      mdt_id uid = pick(a[0]), t = pick(a[1]);
      int acc = a[2] == 255 ? -1 : a[2] % 4;
      ref_user *u = ref_user_of(w, uid);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && !u->pending, MDT_MISUSE);
      want(&W, !ref_tenant_of(w, t), MDT_NOTFOUND);
      want(&W, acc < 0 || acc > 2, MDT_MISUSE);
      rc = mdt_snap_user_access(s, uid, t, acc);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_user_access(u, t, acc);
      break;
    }
    case OP_UCUST: {
      mdt_id uid = pick(a[0]), c = pick(a[1]);
      ref_user *u = ref_user_of(w, uid);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && !u->pending, MDT_MISUSE);
      want(&W, !ref_customer_of(w, c), MDT_NOTFOUND);
      rc = mdt_snap_user_customer(s, uid, c);
      expect(s, rc, &W);
      if (rc == MDT_OK) ref_user_customer(u, c);
      break;
    }
    case OP_COMPILE:
      if (R->compiled) want(&W, 1, MDT_MISUSE);  /* the tree was sound */
      else want(&W, !ref_sound(w), MDT_CONSTRAINT);
      rc = mdt_snap_compile(s);
      expect(s, rc, &W);
      STAT(st_compile[rc != MDT_OK]++);
      if (rc == MDT_OK) {
        R->compiled = 1;
        for (i = 0; i < w->nusers; i++) w->user[i].pending = 0;
      }
      break;
    case OP_CUSER: {
      mdt_id uid = pick(a[0]);
      ref_user *u = ref_user_of(w, uid);
      want(&W, !R->compiled, MDT_MISUSE);
      want(&W, !u, MDT_NOTFOUND);
      want(&W, u && u->unit != 0 && !ref_unit_of(w, u->unit), MDT_CONSTRAINT);
      rc = mdt_snap_compile_user(s, uid);
      expect(s, rc, &W);
      if (rc == MDT_OK) u->pending = 0;
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
  const ref_world *w = &R->w;
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
  for (i = 0; i < w->nunits; i++) {
    KEYOK(MDT_UNIT, w->unit[i]);
    CHECK(mdt_unit_info(R->s, w->unit[i].id, &d, &p) == MDT_OK);
    CHECK(d == w->unit[i].depth && p == w->unit[i].parent);
  }
  for (i = 0; i < w->ntenants; i++) KEYOK(MDT_TENANT, w->tenant[i]);
  for (i = 0; i < w->nrights; i++) {
    KEYOK(MDT_RIGHT, w->right[i]);
    CHECK(mdt_right_info(R->s, w->right[i].id, &k, &mo, &co) == MDT_OK);
    CHECK(k == w->right[i].kind && mo == w->right[i].mode &&
          co == w->right[i].cust);
  }
  for (i = 0; i < w->nbundles; i++) KEYOK(MDT_BUNDLE, w->bundle[i]);
  for (i = 0; i < w->ncusts; i++) KEYOK(MDT_CUSTOMER, w->cust[i]);
  for (i = 0; i < w->nusers; i++) {
    const ref_user *u = &w->user[i];
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
      int ex = -1, a = mdt_access(R->s, ids[i], ids[j], &ex), expl = 0;
      const ref_user *x = ref_user_of(&R->w, ids[i]);
      CHECK(a == ref_access(&R->w, ids[i], ids[j], &expl));
      CHECK(ex == expl);
      CHECK(mdt_manages(R->s, ids[i], ids[j]) ==
            (x != NULL && ref_manages(x, ids[j])));
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
