/*
** core_test.c -- the engine through its public header only.
**
** Hand-written cases walk every rule of docs/semantics.md section 3 on a
** small CRM world, each against the engine and the C reference
** (spec/c/reference.c, shared with fuzz/fuzz_api.c); a randomized part
** compares mdt_check, mdt_explain and the patching of users after
** compile with that reference.  Prints "core_test: N checks passed",
** exits 1 on any failure.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate.h"
#include "reference.h"

/* Harness {{{ */

typedef struct T {
  long passed, failed;
  long reasons[MDT_UNKNOWN_RIGHT + 1];   /* coverage of the random part */
  long fixes[MDT_FIX_IMPOSSIBLE + 1];
  long matched[MDT_MATCH_FLAG + 1];
} T;

static void ok_(T *t, int cond, const char *what, int line)
{
  if (cond) {
    t->passed++;
  } else {
    t->failed++;
    fprintf(stderr, "core_test.c:%d: FAILED: %s\n", line, what);
  }
}

static void eq_(T *t, long long a, long long b, const char *what, int line)
{
  if (a == b) {
    t->passed++;
  } else {
    t->failed++;
    fprintf(stderr, "core_test.c:%d: FAILED: %s: got %lld, want %lld\n",
            line, what, a, b);
  }
}

#define OK(cond) ok_(t, (cond) != 0, #cond, __LINE__)
#define EQ(a, b) eq_(t, (long long)(a), (long long)(b), #a, __LINE__)
#define STREQ(a, b) ok_(t, strcmp((a), (b)) == 0, #a " == " #b, __LINE__)
#define HAS_TEXT(msg, part) \
  ok_(t, strstr((msg), (part)) != NULL, "message has " #part, __LINE__)

/* Deterministic xorshift64*: runs are reproducible. */
static unsigned rnd(unsigned long long *st, unsigned n)
{
  *st ^= *st >> 12;
  *st ^= *st << 25;
  *st ^= *st >> 27;
  return (unsigned)(((*st * 2685821657736338717ULL) >> 33) % n);
}
/* }}} */

/* The world's snapshot {{{ */

/* Give the user's rows to an engine user that was just put. */
static int fill_user(mdt_snap *s, const ref_user *u)
{
  int i, rc = MDT_OK;
  for (i = 0; i < u->nb && rc == MDT_OK; i++)
    rc = mdt_snap_user_bundle(s, u->id, u->bundle[i]);
  for (i = 0; i < u->no && rc == MDT_OK; i++)
    rc = mdt_snap_user_override(s, u->id, u->over[i].id,
                                (mdt_value)u->over[i].val);
  for (i = 0; i < u->na && rc == MDT_OK; i++)
    rc = mdt_snap_user_access(s, u->id, u->acc[i].id, u->acc[i].val);
  for (i = 0; i < u->nc && rc == MDT_OK; i++)
    rc = mdt_snap_user_customer(s, u->id, u->cust[i]);
  return rc;
}

/*
** Build and compile w.  Units go in in an order given by seed (children
** may come before their parents).  NULL, with a message, on any failure.
*/
static mdt_snap *build(const ref_world *w, unsigned long long seed)
{
  int order[REF_MAX], i, j, rc = MDT_OK;
  mdt_snap *s = mdt_snap_new();
  if (s == NULL) return NULL;
  if (w->nlevels) rc = mdt_snap_set_levels(s, w->level, w->nlevels);
  for (i = 0; i < w->nunits; i++) order[i] = i;
  for (i = w->nunits - 1; seed && i > 0; i--) {
    int k = (int)rnd(&seed, (unsigned)i + 1), x = order[i];
    order[i] = order[k];
    order[k] = x;
  }
  for (i = 0; i < w->nunits && rc == MDT_OK; i++) {
    const ref_unit *u = &w->unit[order[i]];
    rc = mdt_snap_add_unit(s, u->id, u->key, u->depth, u->parent);
  }
  for (i = 0; i < w->ntenants && rc == MDT_OK; i++)
    rc = mdt_snap_add_tenant(s, w->tenant[i].id, w->tenant[i].key,
                             w->tenant[i].def);
  for (i = 0; i < w->nrights && rc == MDT_OK; i++)
    rc = mdt_snap_add_right(s, w->right[i].id, w->right[i].key,
                            w->right[i].kind, w->right[i].mode,
                            w->right[i].cust);
  for (i = 0; i < w->nbundles && rc == MDT_OK; i++) {
    const ref_bundle *b = &w->bundle[i];
    rc = mdt_snap_add_bundle(s, b->id, b->key);
    for (j = 0; j < b->n && rc == MDT_OK; j++)
      rc = mdt_snap_bundle_value(s, b->id, b->v[j].id, (mdt_value)b->v[j].val);
  }
  for (i = 0; i < w->ncusts && rc == MDT_OK; i++)
    rc = mdt_snap_add_customer(s, w->cust[i].id, w->cust[i].key);
  for (i = 0; i < w->nusers && rc == MDT_OK; i++) {
    const ref_user *u = &w->user[i];
    if ((rc = mdt_snap_put_user(s, u->id, u->key, u->unit, u->active))
        == MDT_OK)
      rc = fill_user(s, u);
  }
  if (rc == MDT_OK) rc = mdt_snap_compile(s);
  if (rc != MDT_OK) {
    fprintf(stderr, "build: %s: %s\n", mdt_errstr(rc), mdt_snap_errmsg(s));
    mdt_snap_free(s);
    return NULL;
  }
  return s;
}
/* }}} */

/* The CRM world of the hand-written cases {{{ */

enum { DE = 1, HH, HH_SALES, HH_SALES_A, HH_SALES_B, HH_IT, MUC, MUC_SALES,
       MUC_SALES_A, AT, HH_DIRECT, LONE, VIENNA = 14 };
enum { TEAM_A = 1, COMMON, OPEN };
enum { DOCS_SEE = 1, DOCS_EDIT, APPTS_EDIT, ADMIN_OPEN, REPORTS, ALL_SEE = 7 };
enum { INSIDE = 1, MANAGER, EMPTY };
enum { ACME = 1, GLOBEX, INITECH };
enum { ALICE = 1, BOB, CAROL, DAVE, ERIN, FRANK, GINA, HANK, IVAN = 10 };

/* with 4 levels: none 0, own 1, team 2, department 3, branch 4, country 5,
   all 6 */
#define V_TEAM 2
#define V_DEPT 3
#define V_BRANCH 4
#define V_COUNTRY 5
#define V_ALL 6
#define CUST MDT_V_CUSTOMER

static void crm(ref_world *w)
{
  static const char *const levels[] = {"country", "branch", "department",
                                       "team"};
  ref_bundle *b;
  ref_user *u;
  memset(w, 0, sizeof *w);
  ref_levels(w, 4, levels);
  ref_add_unit(w, DE, "de", 0, 0);
  ref_add_unit(w, HH, "hh", 1, DE);
  ref_add_unit(w, HH_SALES, "hh-sales", 2, HH);
  ref_add_unit(w, HH_SALES_A, "hh-sales-a", 3, HH_SALES);
  ref_add_unit(w, HH_SALES_B, "hh-sales-b", 3, HH_SALES);
  ref_add_unit(w, HH_IT, "hh-it", 2, HH);
  ref_add_unit(w, MUC, "muc", 1, DE);
  ref_add_unit(w, MUC_SALES, "muc-sales", 2, MUC);
  ref_add_unit(w, MUC_SALES_A, "muc-sales-a", 3, MUC_SALES);
  ref_add_unit(w, AT, "at", 0, 0);
  ref_add_unit(w, HH_DIRECT, "hh-direct", 3, HH); /* a team right below */
  ref_add_unit(w, LONE, "lone", 3, 0);            /* a root on team level */
  ref_add_unit(w, VIENNA, "vienna", 1, AT);       /* id 13 is a hole */
  ref_add_tenant(w, TEAM_A, "team-a", MDT_HIDDEN);
  ref_add_tenant(w, COMMON, "common", MDT_READ);
  ref_add_tenant(w, OPEN, "open", MDT_FULL);
  ref_add_right(w, DOCS_SEE, "docs.see", MDT_SCOPE, MDT_READ_MODE, 1);
  ref_add_right(w, DOCS_EDIT, "docs.edit", MDT_SCOPE, MDT_WRITE, 1);
  ref_add_right(w, APPTS_EDIT, "appts.edit", MDT_SCOPE, MDT_WRITE, 0);
  ref_add_right(w, ADMIN_OPEN, "admin.open", MDT_FLAG, MDT_WRITE, 0);
  ref_add_right(w, REPORTS, "reports.create", MDT_FLAG, MDT_READ_MODE, 0);
  ref_add_right(w, ALL_SEE, "all.see", MDT_SCOPE, MDT_READ_MODE, 0);
  b = ref_add_bundle(w, INSIDE, "inside-sales");
  ref_bundle_value(b, DOCS_SEE, V_BRANCH);
  ref_bundle_value(b, DOCS_EDIT, V_TEAM);
  ref_bundle_value(b, APPTS_EDIT, MDT_V_OWN);
  ref_bundle_value(b, ADMIN_OPEN, 0);
  b = ref_add_bundle(w, MANAGER, "manager");
  ref_bundle_value(b, DOCS_SEE, V_DEPT | CUST);
  ref_bundle_value(b, DOCS_EDIT, V_DEPT);
  ref_bundle_value(b, ADMIN_OPEN, 1);
  ref_bundle_value(b, REPORTS, 1);
  ref_bundle_value(b, ALL_SEE, V_ALL);
  ref_add_bundle(w, EMPTY, "empty");
  ref_add_customer(w, ACME, "ACME");
  ref_add_customer(w, GLOBEX, "Globex");
  ref_add_customer(w, INITECH, "Initech");
  u = ref_put_user(w, ALICE, "alice", HH_SALES_A, 1);
  ref_user_bundle(u, INSIDE);
  ref_user_access(u, TEAM_A, MDT_FULL);
  ref_user_customer(u, ACME);
  u = ref_put_user(w, BOB, "bob", HH_SALES_B, 1);
  ref_user_bundle(u, INSIDE);
  ref_user_access(u, OPEN, MDT_HIDDEN);
  u = ref_put_user(w, CAROL, "carol", HH_SALES, 1);
  ref_user_bundle(u, MANAGER);
  ref_user_bundle(u, INSIDE);
  ref_user_override(u, APPTS_EDIT, MDT_V_NONE);   /* restricts */
  ref_user_access(u, TEAM_A, MDT_READ);
  ref_user_customer(u, INITECH);
  u = ref_put_user(w, DAVE, "dave", HH_SALES_A, 0);
  ref_user_bundle(u, MANAGER);
  ref_user_access(u, TEAM_A, MDT_FULL);
  u = ref_put_user(w, ERIN, "erin", 0, 1);        /* no unit */
  ref_user_bundle(u, INSIDE);
  ref_user_override(u, ALL_SEE, V_ALL);
  ref_user_override(u, DOCS_EDIT, V_DEPT | CUST);
  ref_user_customer(u, GLOBEX);
  u = ref_put_user(w, FRANK, "frank", HH, 1);     /* branch head */
  ref_user_override(u, DOCS_SEE, V_TEAM);
  u = ref_put_user(w, GINA, "gina", HH_DIRECT, 1);
  ref_user_bundle(u, INSIDE);
  ref_user_override(u, APPTS_EDIT, V_DEPT);
  ref_put_user(w, HANK, "hank", LONE, 1);         /* no bundles */
  u = ref_put_user(w, IVAN, "ivan", MUC_SALES_A, 1); /* id 9 is a hole */
  ref_user_bundle(u, INSIDE);
  ref_user_bundle(u, EMPTY);
  ref_user_override(u, DOCS_EDIT, CUST);          /* "customer" alone */
  ref_user_customer(u, GLOBEX);
}

static mdt_record rec_of(mdt_id tenant, mdt_id owner, mdt_id unit,
                         mdt_id customer)
{
  mdt_record r;
  r.tenant = tenant;
  r.owner = owner;
  r.unit = unit;
  r.customer = customer;
  return r;
}
/* }}} */

/* Values {{{ */

static void test_values(T *t)
{
  static const char *const lv[] = {"country", "branch", "department", "team"};
  char buf[64];
  mdt_value v = 0;
  int rank, c;

  /* every scope value and both flags survive format -> parse */
  for (rank = 0; rank <= MDT_V_ALL(4); rank++)
    for (c = 0; c <= 1; c++) {
      mdt_value in = (mdt_value)(rank | (c ? CUST : 0)), out = 0xffff;
      size_t n = mdt_value_format(lv, 4, MDT_SCOPE, in, buf, sizeof buf);
      EQ(n, strlen(buf));
      OK(n > 0);
      EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, buf, n, &out), MDT_OK);
      EQ(out, in);
    }
  for (rank = 0; rank <= 1; rank++) {
    mdt_value out = 0xffff;
    size_t n = mdt_value_format(lv, 4, MDT_FLAG, (mdt_value)rank, buf,
                                sizeof buf);
    EQ(mdt_value_parse(lv, 4, MDT_FLAG, 0, buf, n, &out), MDT_OK);
    EQ(out, rank);
  }

  /* canonical texts */
  mdt_value_format(lv, 4, MDT_SCOPE, V_TEAM | CUST, buf, sizeof buf);
  STREQ(buf, "team+customer");
  mdt_value_format(lv, 4, MDT_SCOPE, CUST, buf, sizeof buf);
  STREQ(buf, "customer");
  mdt_value_format(lv, 4, MDT_SCOPE, 0, buf, sizeof buf);
  STREQ(buf, "none");
  mdt_value_format(lv, 4, MDT_SCOPE, V_COUNTRY, buf, sizeof buf);
  STREQ(buf, "country");
  mdt_value_format(lv, 4, MDT_SCOPE, V_ALL | CUST, buf, sizeof buf);
  STREQ(buf, "all+customer");
  mdt_value_format(lv, 4, MDT_FLAG, 1, buf, sizeof buf);
  STREQ(buf, "true");

  /* parse: accepted spellings */
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "none+customer", 13, &v), MDT_OK);
  EQ(v, CUST);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, "department", 10, &v), MDT_OK);
  EQ(v, V_DEPT);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, "own", 3, &v), MDT_OK);
  EQ(v, MDT_V_OWN);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, "teamXX", 4, &v), MDT_OK);
  EQ(v, V_TEAM);                            /* len counts, not the NUL */
  EQ(mdt_value_parse(lv, 4, MDT_FLAG, 0, "false", 5, &v), MDT_OK);
  EQ(v, 0);

  /* parse: rejects, leaving *out alone */
  v = 77;
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "galaxy", 6, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, "customer", 8, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, "team+customer", 13, &v),
     MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "team+customer+customer", 22, &v),
     MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "", 0, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "+customer", 9, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "team+", 5, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "Team", 4, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 1, "true", 4, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_FLAG, 0, "team", 4, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_FLAG, 1, "customer", 8, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_FLAG, 0, "", 0, &v), MDT_INVALID);
  EQ(mdt_value_parse(lv, 4, MDT_FLAG, 0, "TRUE", 4, &v), MDT_INVALID);
  EQ(v, 77);

  /* parse/format misuse */
  EQ(mdt_value_parse(lv, 4, 7, 0, "own", 3, &v), MDT_MISUSE);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, NULL, 0, &v), MDT_MISUSE);
  EQ(mdt_value_parse(lv, 4, MDT_SCOPE, 0, "own", 3, NULL), MDT_MISUSE);
  EQ(mdt_value_parse(NULL, 4, MDT_SCOPE, 0, "own", 3, &v), MDT_MISUSE);
  EQ(mdt_value_parse(NULL, 0, MDT_SCOPE, 0, "all", 3, &v), MDT_OK);
  EQ(v, MDT_V_ALL(0));

  /* format: bad values give 0 and "", long texts are cut like snprintf */
  strcpy(buf, "junk");
  EQ(mdt_value_format(lv, 4, MDT_FLAG, 2, buf, sizeof buf), 0);
  STREQ(buf, "");
  EQ(mdt_value_format(lv, 4, MDT_SCOPE, 7, buf, sizeof buf), 0);
  EQ(mdt_value_format(lv, 4, MDT_SCOPE, 0x200, buf, sizeof buf), 0);
  EQ(mdt_value_format(lv, 4, 9, 1, buf, sizeof buf), 0);
  EQ(mdt_value_format(lv, 4, MDT_SCOPE, V_DEPT | CUST, buf, 5),
     strlen("department+customer"));
  STREQ(buf, "depa");
  EQ(mdt_value_format(lv, 4, MDT_SCOPE, V_DEPT, NULL, 0), 10);

  /* codes and reasons */
  STREQ(mdt_errstr(MDT_OK), "not an error");
  STREQ(mdt_errstr(-1), "unknown error code");
  STREQ(mdt_errstr(MDT_NCODES), "unknown error code");
  for (c = 0; c < MDT_NCODES; c++) OK(strlen(mdt_errstr(c)) > 0);
  STREQ(mdt_reason_name(MDT_ALLOWED), "allowed");
  STREQ(mdt_reason_name(MDT_TENANT_READ_ONLY), "tenant_read_only");
  STREQ(mdt_reason_name(MDT_UNKNOWN_RIGHT), "unknown_right");
  OK(mdt_reason_name(MDT_UNKNOWN_RIGHT + 1) == NULL);
  OK(mdt_reason_name(-1) == NULL);
}
/* }}} */

/* Builder errors {{{ */

static void test_null(T *t)
{
  mdt_record r = rec_of(0, 0, 0, 0);
  mdt_explanation e;
  const mdt_id *bs;
  int n = 5;
  mdt_snap_free(NULL);
  STREQ(mdt_snap_errmsg(NULL), "NULL snapshot");
  EQ(mdt_snap_set_levels(NULL, NULL, 1), MDT_MISUSE);
  EQ(mdt_snap_add_unit(NULL, 1, "u", 0, 0), MDT_MISUSE);
  EQ(mdt_snap_add_tenant(NULL, 1, "t", 0), MDT_MISUSE);
  EQ(mdt_snap_add_right(NULL, 1, "r", 0, 0, 0), MDT_MISUSE);
  EQ(mdt_snap_add_bundle(NULL, 1, "b"), MDT_MISUSE);
  EQ(mdt_snap_add_customer(NULL, 1, "c"), MDT_MISUSE);
  EQ(mdt_snap_bundle_value(NULL, 1, 1, 0), MDT_MISUSE);
  EQ(mdt_snap_put_user(NULL, 1, "u", 0, 1), MDT_MISUSE);
  EQ(mdt_snap_user_bundle(NULL, 1, 1), MDT_MISUSE);
  EQ(mdt_snap_user_override(NULL, 1, 1, 0), MDT_MISUSE);
  EQ(mdt_snap_user_access(NULL, 1, 1, 0), MDT_MISUSE);
  EQ(mdt_snap_user_customer(NULL, 1, 1), MDT_MISUSE);
  EQ(mdt_snap_compile(NULL), MDT_MISUSE);
  EQ(mdt_snap_compile_user(NULL, 1), MDT_MISUSE);
  EQ(mdt_check(NULL, 1, 1, &r), MDT_UNKNOWN_RIGHT);
  EQ(mdt_explain(NULL, 1, 1, &r, &e), MDT_MISUSE);
  EQ(mdt_lookup(NULL, MDT_USER, "x", 1), 0);
  OK(mdt_key(NULL, MDT_USER, 1) == NULL);
  EQ(mdt_max_id(NULL, MDT_USER), 0);
  OK(mdt_levels(NULL, &n) == NULL);
  EQ(n, 0);
  EQ(mdt_right_info(NULL, 1, NULL, NULL, NULL), MDT_MISUSE);
  EQ(mdt_unit_info(NULL, 1, NULL, NULL), MDT_MISUSE);
  EQ(mdt_user_info(NULL, 1, NULL, NULL, &bs, &n), MDT_MISUSE);
  EQ(mdt_bundle_value(NULL, 1, 1, NULL), 0);
  EQ(mdt_override(NULL, 1, 1, NULL), 0);
  EQ(mdt_effective(NULL, 1, 1, &n), 0);
  EQ(n, MDT_SRC_NONE);
  EQ(mdt_access(NULL, 1, 1, &n), -1);
  EQ(mdt_manages(NULL, 1, 1), 0);
}

static void test_builder(T *t)
{
  static const char *const lv[] = {"country", "branch", "department", "team"};
  const char *bad[2];
  mdt_snap *s = mdt_snap_new();
  mdt_explanation e;
  mdt_record r;

  OK(s != NULL);
  STREQ(mdt_snap_errmsg(s), "");

  /* levels */
  EQ(mdt_snap_set_levels(s, lv, 0), MDT_RANGE);
  EQ(mdt_snap_set_levels(s, lv, MDT_MAX_LEVELS + 1), MDT_RANGE);
  EQ(mdt_snap_set_levels(s, NULL, 2), MDT_MISUSE);
  bad[0] = "a"; bad[1] = NULL;
  EQ(mdt_snap_set_levels(s, bad, 2), MDT_INVALID);
  bad[1] = "";
  EQ(mdt_snap_set_levels(s, bad, 2), MDT_INVALID);
  bad[1] = "a";
  EQ(mdt_snap_set_levels(s, bad, 2), MDT_INVALID);
  HAS_TEXT(mdt_snap_errmsg(s), "twice");
  bad[1] = "all";
  EQ(mdt_snap_set_levels(s, bad, 2), MDT_INVALID);
  bad[1] = "x+y";
  EQ(mdt_snap_set_levels(s, bad, 2), MDT_INVALID);
  bad[1] = "b";
  EQ(mdt_snap_set_levels(s, bad, 2), MDT_OK);   /* may be set again ... */
  EQ(mdt_snap_set_levels(s, lv, 4), MDT_OK);
  EQ(mdt_lookup(s, MDT_LEVEL, "a", 1), 0);
  EQ(mdt_lookup(s, MDT_LEVEL, "team", 4), 4);   /* level id = depth + 1 */
  STREQ(mdt_key(s, MDT_LEVEL, 2), "branch");
  EQ(mdt_max_id(s, MDT_LEVEL), 4);

  /* units */
  EQ(mdt_snap_add_unit(s, 0, "x", 0, 0), MDT_RANGE);
  EQ(mdt_snap_add_unit(s, -5, "x", 0, 0), MDT_RANGE);
  EQ(mdt_snap_add_unit(s, (mdt_id)1 << 40, "x", 0, 0), MDT_RANGE);
  EQ(mdt_snap_add_unit(s, 1, "x", 4, 0), MDT_RANGE);
  EQ(mdt_snap_add_unit(s, 1, "x", -1, 0), MDT_RANGE);
  EQ(mdt_snap_add_unit(s, 1, "x", 0, -1), MDT_RANGE);
  EQ(mdt_snap_add_unit(s, 1, NULL, 0, 0), MDT_INVALID);
  EQ(mdt_snap_add_unit(s, 1, "", 0, 0), MDT_INVALID);
  EQ(mdt_snap_add_unit(s, 2, "hh", 1, 1), MDT_OK);  /* parent comes later */
  EQ(mdt_snap_add_unit(s, 1, "de", 0, 0), MDT_OK);
  EQ(mdt_snap_add_unit(s, 1, "de2", 0, 0), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "already taken");
  EQ(mdt_snap_add_unit(s, 3, "de", 0, 0), MDT_CONSTRAINT);
  EQ(mdt_max_id(s, MDT_UNIT), 2);
  EQ(mdt_snap_set_levels(s, lv, 4), MDT_MISUSE);   /* ... until units exist */

  /* tenants, rights, bundles, customers */
  EQ(mdt_snap_add_tenant(s, 1, "t", 3), MDT_MISUSE);
  EQ(mdt_snap_add_tenant(s, 1, "t", MDT_READ), MDT_OK);
  EQ(mdt_snap_add_tenant(s, 1, "t2", MDT_READ), MDT_CONSTRAINT);
  EQ(mdt_snap_add_right(s, 1, "r", 2, MDT_WRITE, 0), MDT_MISUSE);
  EQ(mdt_snap_add_right(s, 1, "r", MDT_FLAG, 2, 0), MDT_MISUSE);
  EQ(mdt_snap_add_right(s, 1, "flag", MDT_FLAG, MDT_WRITE, 1), MDT_OK);
  EQ(mdt_snap_add_right(s, 2, "scope", MDT_SCOPE, MDT_WRITE, 0), MDT_OK);
  EQ(mdt_snap_add_right(s, 3, "cscope", MDT_SCOPE, MDT_WRITE, 1), MDT_OK);
  EQ(mdt_snap_add_bundle(s, 1, "b"), MDT_OK);
  EQ(mdt_snap_add_bundle(s, 0, "b0"), MDT_RANGE);
  EQ(mdt_snap_add_customer(s, 1, "c"), MDT_OK);
  EQ(mdt_snap_add_customer(s, 2, "c"), MDT_CONSTRAINT);

  /* bundle values */
  EQ(mdt_snap_bundle_value(s, 9, 1, 1), MDT_NOTFOUND);
  EQ(mdt_snap_bundle_value(s, 1, 9, 1), MDT_NOTFOUND);
  EQ(mdt_snap_bundle_value(s, 1, 0, 1), MDT_NOTFOUND);
  EQ(mdt_snap_bundle_value(s, 1, 1, 2), MDT_INVALID);
  EQ(mdt_snap_bundle_value(s, 1, 1, CUST | 1), MDT_INVALID);  /* a flag */
  EQ(mdt_snap_bundle_value(s, 1, 2, V_ALL + 1), MDT_INVALID);
  EQ(mdt_snap_bundle_value(s, 1, 2, CUST | V_TEAM), MDT_INVALID);
  HAS_TEXT(mdt_snap_errmsg(s), "no customer part allowed");
  EQ(mdt_snap_bundle_value(s, 1, 3, 0x200), MDT_INVALID);
  EQ(mdt_snap_bundle_value(s, 1, 3, CUST | V_TEAM), MDT_OK);
  EQ(mdt_snap_bundle_value(s, 1, 1, 1), MDT_OK);

  /* users */
  EQ(mdt_snap_put_user(s, 0, "u", 0, 1), MDT_RANGE);
  EQ(mdt_snap_put_user(s, 1, "u", -1, 1), MDT_RANGE);
  EQ(mdt_snap_put_user(s, 1, "", 0, 1), MDT_INVALID);
  EQ(mdt_snap_put_user(s, 1, "u1", 2, 1), MDT_OK);
  EQ(mdt_snap_put_user(s, 2, "u1", 2, 1), MDT_CONSTRAINT);
  EQ(mdt_snap_put_user(s, 2, "u2", 99, 1), MDT_OK);   /* unit: at compile */
  EQ(mdt_snap_user_bundle(s, 3, 1), MDT_NOTFOUND);
  EQ(mdt_snap_user_bundle(s, 1, 2), MDT_NOTFOUND);
  EQ(mdt_snap_user_bundle(s, 1, 1), MDT_OK);
  EQ(mdt_snap_user_bundle(s, 1, 1), MDT_OK);          /* kept once */
  EQ(mdt_snap_user_override(s, 1, 4, 0), MDT_NOTFOUND);
  EQ(mdt_snap_user_override(s, 1, 1, 3), MDT_INVALID);
  EQ(mdt_snap_user_override(s, 1, 2, V_TEAM), MDT_OK);
  EQ(mdt_snap_user_access(s, 1, 2, MDT_FULL), MDT_NOTFOUND);
  EQ(mdt_snap_user_access(s, 1, 1, 3), MDT_MISUSE);
  EQ(mdt_snap_user_access(s, 1, 1, -1), MDT_MISUSE);
  EQ(mdt_snap_user_access(s, 1, 1, MDT_HIDDEN), MDT_OK);
  EQ(mdt_snap_user_customer(s, 1, 5), MDT_NOTFOUND);
  EQ(mdt_snap_user_customer(s, 1, 1), MDT_OK);
  EQ(mdt_snap_user_customer(s, 1, 1), MDT_OK);

  /* checking before compile: nobody is known yet */
  EQ(mdt_check(s, 1, 1, NULL), MDT_UNKNOWN_USER);
  EQ(mdt_check(s, 1, 7, NULL), MDT_UNKNOWN_RIGHT);
  EQ(mdt_snap_compile_user(s, 1), MDT_MISUSE);

  /* compile fails on the user's unit; fix it and compile again */
  EQ(mdt_snap_compile(s), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "u2");
  HAS_TEXT(mdt_snap_errmsg(s), "99");
  EQ(mdt_snap_put_user(s, 2, "u2", 0, 1), MDT_OK);
  EQ(mdt_snap_compile(s), MDT_OK);
  EQ(mdt_check(s, 1, 1, NULL), MDT_ALLOWED);
  EQ(mdt_check(s, 1, 2, NULL), MDT_ALLOWED);

  /* after compile only users and customers may change */
  EQ(mdt_snap_compile(s), MDT_MISUSE);
  EQ(mdt_snap_set_levels(s, lv, 4), MDT_MISUSE);
  EQ(mdt_snap_add_unit(s, 5, "u5", 0, 0), MDT_MISUSE);
  HAS_TEXT(mdt_snap_errmsg(s), "compiled");
  EQ(mdt_snap_add_tenant(s, 5, "t5", 0), MDT_MISUSE);
  EQ(mdt_snap_add_right(s, 5, "r5", 0, 0, 0), MDT_MISUSE);
  EQ(mdt_snap_add_bundle(s, 5, "b5"), MDT_MISUSE);
  EQ(mdt_snap_bundle_value(s, 1, 1, 0), MDT_MISUSE);
  EQ(mdt_snap_user_bundle(s, 1, 1), MDT_MISUSE);    /* compiled: put first */
  EQ(mdt_snap_user_override(s, 1, 2, 0), MDT_MISUSE);
  EQ(mdt_snap_user_access(s, 1, 1, MDT_FULL), MDT_MISUSE);
  EQ(mdt_snap_user_customer(s, 1, 1), MDT_MISUSE);
  EQ(mdt_snap_add_customer(s, 2, "c2"), MDT_OK);
  EQ(mdt_snap_compile_user(s, 3), MDT_NOTFOUND);

  /* a user put after compile is unknown until compiled; a bad unit fails */
  EQ(mdt_snap_put_user(s, 1, "u1-renamed", 7, 1), MDT_OK);
  EQ(mdt_lookup(s, MDT_USER, "u1", 2), 0);
  EQ(mdt_lookup(s, MDT_USER, "u1-renamed", 10), 1);
  EQ(mdt_check(s, 1, 1, NULL), MDT_UNKNOWN_USER);
  EQ(mdt_explain(s, 1, 1, NULL, &e), MDT_OK);
  EQ(e.reason, MDT_UNKNOWN_USER);
  EQ(mdt_effective(s, 1, 1, NULL), 0);
  EQ(mdt_snap_compile_user(s, 1), MDT_CONSTRAINT);
  EQ(mdt_check(s, 1, 1, NULL), MDT_UNKNOWN_USER);
  EQ(mdt_snap_put_user(s, 1, "u1", 2, 1), MDT_OK);
  EQ(mdt_snap_user_customer(s, 1, 2), MDT_OK);
  EQ(mdt_snap_user_override(s, 1, 3, CUST), MDT_OK);
  EQ(mdt_snap_compile_user(s, 1), MDT_OK);
  EQ(mdt_check(s, 1, 1, NULL), MDT_NO_RIGHT);       /* bundles were reset */
  r = rec_of(0, 0, 0, 2);
  EQ(mdt_check(s, 1, 3, &r), MDT_ALLOWED);
  r.customer = 1;
  EQ(mdt_check(s, 1, 3, &r), MDT_OUT_OF_SCOPE);
  EQ(mdt_manages(s, 1, 2), 1);
  EQ(mdt_manages(s, 1, 1), 0);
  EQ(mdt_snap_compile_user(s, 1), MDT_OK);          /* again: harmless */
  mdt_snap_free(s);
}

static void test_tree_errors(T *t)
{
  static const char *const lv[] = {"country", "branch", "team"};
  mdt_snap *s;

  /* a missing parent */
  s = mdt_snap_new();
  mdt_snap_set_levels(s, lv, 3);
  mdt_snap_add_unit(s, 1, "de", 0, 0);
  mdt_snap_add_unit(s, 2, "hh", 1, 7);
  EQ(mdt_snap_compile(s), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "'hh'");
  HAS_TEXT(mdt_snap_errmsg(s), "does not exist");
  mdt_snap_free(s);

  /* a cycle, its units named */
  s = mdt_snap_new();
  mdt_snap_set_levels(s, lv, 3);
  mdt_snap_add_unit(s, 1, "de", 0, 0);
  mdt_snap_add_unit(s, 2, "a", 1, 3);
  mdt_snap_add_unit(s, 3, "b", 2, 4);
  mdt_snap_add_unit(s, 4, "c", 2, 2);
  EQ(mdt_snap_compile(s), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "cycle");
  HAS_TEXT(mdt_snap_errmsg(s), "'a' -> 'b' -> 'c' -> 'a'");
  EQ(mdt_check(s, 1, 1, NULL), MDT_UNKNOWN_RIGHT);
  mdt_snap_free(s);

  /* a unit that is its own parent */
  s = mdt_snap_new();
  mdt_snap_set_levels(s, lv, 3);
  mdt_snap_add_unit(s, 5, "self", 1, 5);
  EQ(mdt_snap_compile(s), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "'self' -> 'self'");
  mdt_snap_free(s);

  /* a parent on the same level, and one below */
  s = mdt_snap_new();
  mdt_snap_set_levels(s, lv, 3);
  mdt_snap_add_unit(s, 1, "hh", 1, 0);
  mdt_snap_add_unit(s, 2, "muc", 1, 1);
  EQ(mdt_snap_compile(s), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "parent 'hh' sits on level 'branch', "
           "not above level 'branch'");
  mdt_snap_free(s);
  s = mdt_snap_new();
  mdt_snap_set_levels(s, lv, 3);
  mdt_snap_add_unit(s, 1, "t", 2, 0);
  mdt_snap_add_unit(s, 2, "de", 0, 1);
  EQ(mdt_snap_compile(s), MDT_CONSTRAINT);
  HAS_TEXT(mdt_snap_errmsg(s), "'de'");
  mdt_snap_free(s);

  /* no levels at all: a flat world of flags, own and all */
  s = mdt_snap_new();
  EQ(mdt_snap_add_unit(s, 1, "u", 0, 0), MDT_RANGE);
  mdt_snap_add_right(s, 1, "r", MDT_SCOPE, MDT_WRITE, 0);
  EQ(mdt_snap_put_user(s, 1, "u", 0, 1), MDT_OK);
  EQ(mdt_snap_user_override(s, 1, 1, MDT_V_ALL(0)), MDT_OK);
  EQ(mdt_snap_user_override(s, 1, 1, MDT_V_ALL(0) + 1), MDT_INVALID);
  EQ(mdt_snap_compile(s), MDT_OK);
  EQ(mdt_check(s, 1, 1, NULL), MDT_ALLOWED);
  mdt_snap_free(s);

  /* an empty snapshot compiles */
  s = mdt_snap_new();
  EQ(mdt_snap_compile(s), MDT_OK);
  EQ(mdt_check(s, 1, 1, NULL), MDT_UNKNOWN_RIGHT);
  mdt_snap_free(s);
}

/* The tree rules on their own (tree.c): the first row breaking the first
   rule, in the order given; bad input. */
static void test_tree_check(T *t)
{
  mdt_tree_fault f;
  /* rows in any order, ids sparse: a valid forest */
  mdt_tree_unit ok[] = { {900, 7, 2}, {7, 0, 0}, {5, 0, 1}, {40, 5, 3} };
  /* 3 -> 4 -> 3 is a cycle, 2's parent is missing, 1 is below its child */
  mdt_tree_unit bad[] = { {1, 0, 2}, {6, 1, 1}, {3, 4, 1}, {4, 3, 2},
                          {2, 9, 1} };
  mdt_tree_unit self[] = { {8, 8, 0} };
  mdt_tree_unit twice[] = { {1, 0, 0}, {1, 0, 1} };
  mdt_tree_unit zero[] = { {0, 0, 0} };

  EQ(mdt_tree_check(ok, 4, &f), MDT_OK);
  EQ(f.rule, MDT_TREE_OK);
  EQ(mdt_tree_check(NULL, 0, &f), MDT_OK);
  EQ(mdt_tree_check(bad, 5, &f), MDT_CONSTRAINT);   /* the parent first */
  EQ(f.rule, MDT_TREE_PARENT);
  EQ(f.unit, 2);
  EQ(f.parent, 9);
  EQ(mdt_tree_check(bad, 4, &f), MDT_CONSTRAINT);   /* then the cycle */
  EQ(f.rule, MDT_TREE_CYCLE);
  EQ(f.unit, 3);
  EQ(f.parent, 4);
  EQ(mdt_tree_check(bad, 2, &f), MDT_CONSTRAINT);   /* then the level */
  EQ(f.rule, MDT_TREE_LEVEL);
  EQ(f.unit, 6);
  EQ(f.parent, 1);
  EQ(mdt_tree_check(self, 1, &f), MDT_CONSTRAINT);
  EQ(f.rule, MDT_TREE_CYCLE);
  EQ(f.unit, 8);
  EQ(f.parent, 8);
  EQ(mdt_tree_check(twice, 2, &f), MDT_MISUSE);
  EQ(mdt_tree_check(zero, 1, &f), MDT_RANGE);
  EQ(mdt_tree_check(ok, 4, NULL), MDT_MISUSE);
  EQ(mdt_tree_check(NULL, 1, &f), MDT_MISUSE);
}

/* Many keys, renamed: the key table grows and deletes without losing any. */
static void test_keys(T *t)
{
  mdt_snap *s = mdt_snap_new();
  char key[32];
  mdt_id id;
  int bad = 0;
  for (id = 1; id <= 3000; id++) {
    snprintf(key, sizeof key, "user-%d", (int)id);
    if (mdt_snap_put_user(s, id * 2, key, 0, 1) != MDT_OK) bad++;
  }
  for (id = 1; id <= 3000; id += 2) {
    snprintf(key, sizeof key, "renamed-%d", (int)id);
    if (mdt_snap_put_user(s, id * 2, key, 0, 1) != MDT_OK) bad++;
  }
  EQ(bad, 0);
  for (id = 1; id <= 3000; id++) {
    snprintf(key, sizeof key, "%s-%d", id % 2 ? "renamed" : "user", (int)id);
    if (mdt_lookup(s, MDT_USER, key, strlen(key)) != id * 2) bad++;
    if (strcmp(mdt_key(s, MDT_USER, id * 2), key) != 0) bad++;
    snprintf(key, sizeof key, "%s-%d", id % 2 ? "user" : "renamed", (int)id);
    if (mdt_lookup(s, MDT_USER, key, strlen(key)) != 0) bad++;
    if (mdt_key(s, MDT_USER, id * 2 - 1) != NULL) bad++;
  }
  EQ(bad, 0);
  EQ(mdt_max_id(s, MDT_USER), 6000);
  EQ(mdt_lookup(s, MDT_USER, "user-2x", 6), 4);   /* len, not NUL */
  EQ(mdt_lookup(s, MDT_USER, "", 0), 0);
  EQ(mdt_lookup(s, 99, "user-2", 6), 0);
  EQ(mdt_lookup(s, MDT_UNIT, "user-2", 6), 0);
  mdt_snap_free(s);
}
/* }}} */

/* The rules on the CRM world {{{ */

#define CHECK(u, r, rec, want) do { \
    EQ(mdt_check(s, (u), (r), (rec)), (want)); \
    EQ(ref_check(&w, (u), (r), (rec)), (want)); \
  } while (0)

static void test_rules(T *t)
{
  ref_world w;
  mdt_snap *s;
  mdt_record r;
  const mdt_id *bs;
  mdt_id unit, parent;
  int n, src, ex, kind, mode, cust, active, depth;
  mdt_value v;
  const char *const *lv;

  crm(&w);
  s = build(&w, 7);
  OK(s != NULL);
  if (s == NULL) return;

  /* reading back */
  EQ(mdt_lookup(s, MDT_USER, "alice", 5), ALICE);
  EQ(mdt_lookup(s, MDT_RIGHT, "docs.edit", 9), DOCS_EDIT);
  EQ(mdt_lookup(s, MDT_TENANT, "team-a", 6), TEAM_A);
  EQ(mdt_lookup(s, MDT_CUSTOMER, "Globex", 6), GLOBEX);
  EQ(mdt_lookup(s, MDT_UNIT, "hh-direct", 9), HH_DIRECT);
  EQ(mdt_lookup(s, MDT_BUNDLE, "manager", 7), MANAGER);
  EQ(mdt_lookup(s, MDT_USER, "nobody", 6), 0);
  STREQ(mdt_key(s, MDT_UNIT, VIENNA), "vienna");
  OK(mdt_key(s, MDT_UNIT, 13) == NULL);
  OK(mdt_key(s, MDT_UNIT, 0) == NULL);
  OK(mdt_key(s, MDT_UNIT, 99) == NULL);
  EQ(mdt_max_id(s, MDT_USER), IVAN);
  lv = mdt_levels(s, &n);
  EQ(n, 4);
  STREQ(lv[3], "team");
  EQ(mdt_right_info(s, DOCS_SEE, &kind, &mode, &cust), MDT_OK);
  EQ(kind, MDT_SCOPE);
  EQ(mode, MDT_READ_MODE);
  EQ(cust, 1);
  EQ(mdt_right_info(s, 6, &kind, &mode, &cust), MDT_NOTFOUND);
  EQ(mdt_unit_info(s, HH_SALES_A, &depth, &parent), MDT_OK);
  EQ(depth, 3);
  EQ(parent, HH_SALES);
  EQ(mdt_unit_info(s, 13, &depth, &parent), MDT_NOTFOUND);
  EQ(mdt_user_info(s, CAROL, &unit, &active, &bs, &n), MDT_OK);
  EQ(unit, HH_SALES);
  EQ(active, 1);
  EQ(n, 2);
  EQ(bs[0], MANAGER);
  EQ(bs[1], INSIDE);
  EQ(mdt_user_info(s, 9, &unit, &active, &bs, &n), MDT_NOTFOUND);
  EQ(mdt_bundle_value(s, MANAGER, DOCS_SEE, &v), 1);
  EQ(v, V_DEPT | CUST);
  EQ(mdt_bundle_value(s, INSIDE, REPORTS, &v), 0);
  EQ(mdt_override(s, CAROL, APPTS_EDIT, &v), 1);
  EQ(v, 0);
  EQ(mdt_override(s, CAROL, DOCS_SEE, &v), 0);

  /* effective values: override, join, nothing */
  EQ(mdt_effective(s, CAROL, DOCS_SEE, &src), V_BRANCH | CUST);  /* join */
  EQ(src, MDT_SRC_BUNDLES);
  EQ(mdt_effective(s, CAROL, ADMIN_OPEN, &src), 1);  /* false OR true */
  EQ(mdt_effective(s, CAROL, APPTS_EDIT, &src), 0);  /* restricted */
  EQ(src, MDT_SRC_OVERRIDE);
  EQ(mdt_effective(s, ALICE, REPORTS, &src), 0);     /* not mentioned */
  EQ(src, MDT_SRC_NONE);
  EQ(mdt_effective(s, ALICE, ADMIN_OPEN, &src), 0);  /* mentioned: false */
  EQ(src, MDT_SRC_BUNDLES);
  EQ(mdt_effective(s, HANK, DOCS_SEE, &src), 0);     /* no bundles */
  EQ(src, MDT_SRC_NONE);
  EQ(mdt_effective(s, DAVE, DOCS_EDIT, &src), V_DEPT);  /* inactive: kept */
  EQ(mdt_effective(s, 9, DOCS_EDIT, &src), 0);
  EQ(mdt_effective(s, ALICE, 6, &src), 0);

  /* access */
  EQ(mdt_access(s, ALICE, TEAM_A, &ex), MDT_FULL);
  EQ(ex, 1);
  EQ(mdt_access(s, BOB, TEAM_A, &ex), MDT_HIDDEN);
  EQ(ex, 0);
  EQ(mdt_access(s, BOB, OPEN, &ex), MDT_HIDDEN);
  EQ(ex, 1);
  EQ(mdt_access(s, BOB, 4, &ex), -1);
  EQ(mdt_access(s, 9, OPEN, &ex), -1);
  EQ(mdt_manages(s, ALICE, ACME), 1);
  EQ(mdt_manages(s, ALICE, GLOBEX), 0);

  /* 1. unknown right, before anything else */
  CHECK(999, 999, NULL, MDT_UNKNOWN_RIGHT);
  CHECK(ALICE, 0, NULL, MDT_UNKNOWN_RIGHT);
  CHECK(ALICE, -1, NULL, MDT_UNKNOWN_RIGHT);
  CHECK(ALICE, 6, NULL, MDT_UNKNOWN_RIGHT);          /* a hole */
  CHECK(ALICE, 8, NULL, MDT_UNKNOWN_RIGHT);

  /* 2. unknown and inactive users, before the tenant */
  r = rec_of(MDT_UNKNOWN, 0, 0, 0);
  CHECK(0, DOCS_SEE, &r, MDT_UNKNOWN_USER);
  CHECK(MDT_UNKNOWN, DOCS_SEE, &r, MDT_UNKNOWN_USER);
  CHECK(9, DOCS_SEE, &r, MDT_UNKNOWN_USER);          /* a hole */
  CHECK(11, DOCS_SEE, &r, MDT_UNKNOWN_USER);
  CHECK(DAVE, DOCS_SEE, &r, MDT_INACTIVE_USER);
  CHECK(DAVE, DOCS_SEE, NULL, MDT_INACTIVE_USER);    /* holds nothing */

  /* 3. the tenant gate */
  CHECK(ALICE, DOCS_SEE, &r, MDT_UNKNOWN_TENANT);
  r.tenant = 99;
  CHECK(ALICE, DOCS_SEE, &r, MDT_UNKNOWN_TENANT);
  r.tenant = 4;
  CHECK(ALICE, DOCS_SEE, &r, MDT_UNKNOWN_TENANT);
  r = rec_of(TEAM_A, 0, 0, 0);
  CHECK(BOB, DOCS_SEE, &r, MDT_TENANT_HIDDEN);       /* default hidden */
  CHECK(HANK, DOCS_SEE, &r, MDT_TENANT_HIDDEN);      /* before no_right */
  CHECK(ALICE, DOCS_EDIT, &r, MDT_ALLOWED);          /* explicit full */
  CHECK(CAROL, DOCS_SEE, &r, MDT_ALLOWED);           /* explicit read */
  CHECK(CAROL, DOCS_EDIT, &r, MDT_TENANT_READ_ONLY);
  CHECK(CAROL, REPORTS, &r, MDT_ALLOWED);            /* read-mode flag */
  CHECK(CAROL, ADMIN_OPEN, &r, MDT_TENANT_READ_ONLY); /* write-mode flag */
  r.tenant = COMMON;                                 /* default read */
  CHECK(ALICE, DOCS_SEE, &r, MDT_ALLOWED);
  CHECK(ALICE, DOCS_EDIT, &r, MDT_TENANT_READ_ONLY);
  r.tenant = OPEN;                                   /* default full */
  CHECK(ALICE, DOCS_EDIT, &r, MDT_ALLOWED);
  CHECK(BOB, DOCS_SEE, &r, MDT_TENANT_HIDDEN);       /* explicit hidden */
  r.tenant = MDT_ABSENT;                             /* common data */
  CHECK(BOB, DOCS_EDIT, &r, MDT_ALLOWED);

  /* 4. flags: the record does not matter beyond the gate */
  r = rec_of(0, MDT_UNKNOWN, MDT_UNKNOWN, MDT_UNKNOWN);
  CHECK(CAROL, ADMIN_OPEN, &r, MDT_ALLOWED);
  CHECK(CAROL, ADMIN_OPEN, NULL, MDT_ALLOWED);
  CHECK(ALICE, ADMIN_OPEN, NULL, MDT_NO_RIGHT);      /* false */
  CHECK(ALICE, REPORTS, NULL, MDT_NO_RIGHT);         /* not in the bundle */
  CHECK(HANK, REPORTS, NULL, MDT_NO_RIGHT);          /* no bundles */

  /* 4. scopes: none is no right, even for records in reach */
  r = rec_of(0, CAROL, 0, 0);
  CHECK(CAROL, APPTS_EDIT, &r, MDT_NO_RIGHT);        /* override none */
  CHECK(HANK, DOCS_SEE, NULL, MDT_NO_RIGHT);

  /* "does u hold r here": no record, or no owner, unit or customer */
  CHECK(ALICE, APPTS_EDIT, NULL, MDT_ALLOWED);
  r = rec_of(OPEN, 0, 0, 0);
  CHECK(ALICE, APPTS_EDIT, &r, MDT_ALLOWED);
  CHECK(IVAN, DOCS_EDIT, NULL, MDT_ALLOWED);         /* "customer" is held */
  CHECK(IVAN, DOCS_EDIT, &r, MDT_ALLOWED);

  /* own */
  r = rec_of(0, ALICE, 0, 0);
  CHECK(ALICE, APPTS_EDIT, &r, MDT_ALLOWED);
  r.owner = BOB;
  CHECK(ALICE, APPTS_EDIT, &r, MDT_OUT_OF_SCOPE);
  r = rec_of(0, ALICE, MUC_SALES_A, 0);              /* levels include own */
  CHECK(ALICE, DOCS_EDIT, &r, MDT_ALLOWED);
  CHECK(IVAN, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);      /* customer: no own */

  /* levels: the record's unit, else the owner's */
  r = rec_of(0, 0, HH_SALES_A, 0);
  CHECK(ALICE, DOCS_EDIT, &r, MDT_ALLOWED);          /* team */
  r.unit = HH_SALES_B;
  CHECK(ALICE, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);
  CHECK(ALICE, DOCS_SEE, &r, MDT_ALLOWED);           /* branch */
  r = rec_of(0, BOB, 0, 0);                          /* bob's unit */
  CHECK(ALICE, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);
  CHECK(CAROL, DOCS_EDIT, &r, MDT_ALLOWED);          /* department */
  r.unit = HH_SALES_A;                               /* unit wins */
  CHECK(ALICE, DOCS_EDIT, &r, MDT_ALLOWED);
  r = rec_of(0, 0, HH_IT, 0);
  CHECK(ALICE, DOCS_SEE, &r, MDT_ALLOWED);
  CHECK(CAROL, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);
  r.unit = HH;                                       /* above the anchor */
  CHECK(CAROL, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);
  CHECK(ALICE, DOCS_SEE, &r, MDT_ALLOWED);
  r.unit = MUC_SALES_A;
  CHECK(ALICE, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  r = rec_of(0, IVAN, 0, 0);
  CHECK(ALICE, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  r = rec_of(0, 0, HH_DIRECT, 0);
  CHECK(ALICE, DOCS_SEE, &r, MDT_ALLOWED);

  /* anchor: no top-down narrowing for a user above the level */
  r = rec_of(0, 0, HH_SALES_A, 0);
  CHECK(FRANK, DOCS_SEE, &r, MDT_ALLOWED);           /* team at a branch */
  r.unit = HH;
  CHECK(FRANK, DOCS_SEE, &r, MDT_ALLOWED);
  r.unit = MUC;
  CHECK(FRANK, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  /* anchor: a skipped level stops at the topmost unit at L or below */
  r = rec_of(0, 0, HH_DIRECT, 0);
  CHECK(GINA, APPTS_EDIT, &r, MDT_ALLOWED);          /* department */
  r.unit = HH_SALES_A;
  CHECK(GINA, APPTS_EDIT, &r, MDT_OUT_OF_SCOPE);
  CHECK(GINA, DOCS_SEE, &r, MDT_ALLOWED);            /* branch: hh */
  /* a root on a low level reaches only its own subtree */
  ref_user_override(ref_user_of(&w, HANK), DOCS_SEE, V_COUNTRY);
  mdt_snap_free(s);
  s = build(&w, 0);
  r = rec_of(0, 0, LONE, 0);
  CHECK(HANK, DOCS_SEE, &r, MDT_ALLOWED);
  r.unit = DE;
  CHECK(HANK, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  r.unit = HH_SALES_A;
  CHECK(CAROL, ALL_SEE, &r, MDT_ALLOWED);

  /* keys naming nothing match nothing; all matches anyway */
  r = rec_of(0, MDT_UNKNOWN, 0, 0);
  CHECK(ALICE, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);      /* no unit, not own */
  CHECK(CAROL, ALL_SEE, &r, MDT_ALLOWED);
  r = rec_of(0, 9, 0, 0);                            /* a hole as owner */
  CHECK(ALICE, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  r = rec_of(0, 0, 13, 0);                           /* a hole as unit */
  CHECK(ALICE, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  r = rec_of(0, 0, MDT_UNKNOWN, 0);
  CHECK(ALICE, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  CHECK(CAROL, ALL_SEE, &r, MDT_ALLOWED);
  r = rec_of(0, 0, 0, MDT_UNKNOWN);
  CHECK(CAROL, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  r = rec_of(0, 0, 0, 55);
  CHECK(CAROL, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);

  /* the customer part */
  r = rec_of(0, 0, 0, GLOBEX);
  CHECK(IVAN, DOCS_EDIT, &r, MDT_ALLOWED);
  r.customer = ACME;
  CHECK(IVAN, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);
  CHECK(ALICE, DOCS_EDIT, &r, MDT_OUT_OF_SCOPE);     /* manages, no part */
  r = rec_of(0, 0, MUC_SALES_A, INITECH);
  CHECK(CAROL, DOCS_SEE, &r, MDT_ALLOWED);           /* branch+customer */
  r.customer = ACME;
  CHECK(CAROL, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);

  /* a user without a unit: own, all and the customer part only */
  r = rec_of(0, 0, HH, 0);
  CHECK(ERIN, DOCS_SEE, &r, MDT_OUT_OF_SCOPE);
  CHECK(ERIN, ALL_SEE, &r, MDT_ALLOWED);
  r = rec_of(0, ERIN, 0, 0);
  CHECK(ERIN, DOCS_SEE, &r, MDT_ALLOWED);
  r = rec_of(0, 0, HH, GLOBEX);
  CHECK(ERIN, DOCS_EDIT, &r, MDT_ALLOWED);
  CHECK(ERIN, DOCS_SEE, NULL, MDT_ALLOWED);
  r = rec_of(0, 0, 0, 0);
  CHECK(ERIN, DOCS_SEE, &r, MDT_ALLOWED);
  mdt_snap_free(s);
}
/* }}} */

/* Explanations {{{ */

/*
** Everything an explanation promises: it is the reference's (section 4),
** the reason is the check's, the failing bits are every failing step, and
** a fix, applied to a rebuilt snapshot, allows the check, while no smaller
** fix would.
*/
static void verify_explain(T *t, const ref_world *w, const mdt_snap *s,
                           mdt_id user, mdt_id right, const mdt_record *rec)
{
  static ref_world fixed;                   /* too large for every frame */
  mdt_explanation e, ref;
  const ref_user *u = ref_user_of(w, user);
  int rc = mdt_explain(s, user, right, rec, &e), want = mdt_check(s, user,
                                                                  right, rec);
  EQ(rc, ref_explain(w, user, right, rec, &ref));
  OK(ref_same_explanation(&e, &ref));
  EQ(e.reason, want);
  t->reasons[e.reason]++;
  t->fixes[e.fix]++;
  t->matched[e.matched]++;
  if (want == MDT_UNKNOWN_RIGHT) {
    EQ(rc, MDT_NOTFOUND);
    return;
  }
  EQ(rc, MDT_OK);
  EQ(e.value, mdt_effective(s, user, right, NULL));
  OK((e.reason == MDT_ALLOWED) == (e.fix == MDT_FIX_NONE));
  OK((e.reason == MDT_ALLOWED) == (e.failing == 0));
  OK(u != NULL || e.fix == MDT_FIX_IMPOSSIBLE);
  if (u == NULL) {
    EQ(e.failing & (MDT_FAIL_USER | MDT_FAIL_UNKNOWN),
       MDT_FAIL_USER | MDT_FAIL_UNKNOWN);
    return;
  }
  {
    /* each step on its own: the same user made active, gate, right */
    ref_user a = *u;
    int gate, tenant_fails;
    mdt_record norec = rec ? *rec : rec_of(0, 0, 0, 0);
    a.active = 1;
    gate = ref_check_as(w, &a, right, rec);
    tenant_fails = gate == MDT_UNKNOWN_TENANT || gate == MDT_TENANT_HIDDEN ||
                   gate == MDT_TENANT_READ_ONLY;
    norec.tenant = 0;
    EQ((e.failing & MDT_FAIL_USER) != 0, !u->active);
    EQ((e.failing & MDT_FAIL_TENANT) != 0, tenant_fails);
    EQ((e.failing & MDT_FAIL_RIGHT) != 0,
       ref_check_as(w, &a, right, &norec) != MDT_ALLOWED);
    EQ((e.failing & MDT_FAIL_UNKNOWN) != 0, gate == MDT_UNKNOWN_TENANT);
  }
  if (e.fix == MDT_FIX_ACCESS || e.fix == MDT_FIX_ACTIVATE ||
      e.fix == MDT_FIX_OVERRIDE) {
    mdt_snap *s2;
    ref_user lower;
    fixed = *w;
    ref_apply_fix(ref_user_of(&fixed, user), &e, right, rec);
    s2 = build(&fixed, 0);
    OK(s2 != NULL);
    if (s2 != NULL) EQ(mdt_check(s2, user, right, rec), MDT_ALLOWED);
    mdt_snap_free(s2);
    EQ(ref_check(&fixed, user, right, rec), MDT_ALLOWED);
    if (e.fix == MDT_FIX_ACCESS && e.fix_access > MDT_HIDDEN) {
      lower = *u;                              /* one access less fails */
      ref_user_access(&lower, rec->tenant, e.fix_access - 1);
      OK(ref_check_as(w, &lower, right, rec) != MDT_ALLOWED);
    }
    if (e.fix == MDT_FIX_OVERRIDE && e.kind == MDT_SCOPE) {
      int rank, cust = e.value & CUST;           /* nothing in between */
      OK(e.fix_value > e.value);
      OK((e.fix_value & CUST) >= cust);
      for (rank = MDT_V_RANK(e.value) + 1; rank < MDT_V_RANK(e.fix_value);
           rank++) {
        lower = *u;
        ref_user_override(&lower, right, (mdt_value)(rank | cust));
        OK(ref_check_as(w, &lower, right, rec) != MDT_ALLOWED);
      }
      if (MDT_V_RANK(e.fix_value) > MDT_V_RANK(e.value) && !cust &&
          ref_right_of(w, right)->cust && rec != NULL &&
          (rec->owner || rec->unit || rec->customer)) {
        /* "customer" alone would hold r, but the fix for holding is own */
        lower = *u;
        ref_user_override(&lower, right, (mdt_value)(e.value | CUST));
        OK(ref_check_as(w, &lower, right, rec) != MDT_ALLOWED);
      }
    }
  }
}

static void test_explain(T *t)
{
  ref_world w;
  mdt_snap *s;
  mdt_explanation e;
  mdt_record r;

  crm(&w);
  s = build(&w, 3);
  if (s == NULL) { OK(0); return; }

  EQ(mdt_explain(s, ALICE, DOCS_SEE, NULL, NULL), MDT_MISUSE);
  EQ(mdt_explain(s, ALICE, 6, NULL, &e), MDT_NOTFOUND);
  EQ(e.reason, MDT_UNKNOWN_RIGHT);

  /* allowed: what matched, and where from */
  r = rec_of(TEAM_A, 0, HH_IT, 0);
  EQ(mdt_explain(s, ALICE, DOCS_SEE, &r, &e), MDT_OK);
  EQ(e.reason, MDT_ALLOWED);
  EQ(e.fix, MDT_FIX_NONE);
  EQ(e.failing, 0);
  EQ(e.kind, MDT_SCOPE);
  EQ(e.mode, MDT_READ_MODE);
  EQ(e.value, V_BRANCH);
  EQ(e.source, MDT_SRC_BUNDLES);
  EQ(e.access, MDT_FULL);
  EQ(e.access_explicit, 1);
  EQ(e.anchor, HH);
  EQ(e.matched, MDT_MATCH_LEVEL);
  r = rec_of(COMMON, ALICE, MUC, 0);
  mdt_explain(s, ALICE, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_TENANT_READ_ONLY);
  EQ(e.access, MDT_READ);
  EQ(e.access_explicit, 0);
  EQ(e.matched, MDT_MATCH_OWN);
  EQ(e.anchor, HH_SALES_A);
  mdt_explain(s, IVAN, DOCS_EDIT, NULL, &e);
  EQ(e.matched, MDT_MATCH_HOLD);
  EQ(e.source, MDT_SRC_OVERRIDE);
  EQ(e.access, -1);
  EQ(e.anchor, 0);
  r = rec_of(0, 0, 0, GLOBEX);
  mdt_explain(s, IVAN, DOCS_EDIT, &r, &e);
  EQ(e.matched, MDT_MATCH_CUSTOMER);
  mdt_explain(s, CAROL, ALL_SEE, &r, &e);
  EQ(e.matched, MDT_MATCH_ALL);
  mdt_explain(s, CAROL, ADMIN_OPEN, &r, &e);
  EQ(e.matched, MDT_MATCH_FLAG);
  EQ(e.kind, MDT_FLAG);
  r = rec_of(0, 0, HH, 0);
  mdt_explain(s, ERIN, DOCS_SEE, &r, &e);            /* no unit: no anchor */
  EQ(e.reason, MDT_OUT_OF_SCOPE);
  EQ(e.anchor, 0);
  EQ(e.fix_value, V_ALL);

  /* one failing step: its fix */
  r = rec_of(TEAM_A, 0, HH_SALES_B, 0);
  mdt_explain(s, BOB, DOCS_SEE, &r, &e);
  EQ(e.reason, MDT_TENANT_HIDDEN);
  EQ(e.failing, MDT_FAIL_TENANT);
  EQ(e.fix, MDT_FIX_ACCESS);
  EQ(e.fix_access, MDT_READ);                        /* a read right */
  mdt_explain(s, BOB, DOCS_EDIT, &r, &e);
  EQ(e.fix, MDT_FIX_ACCESS);
  EQ(e.fix_access, MDT_FULL);
  verify_explain(t, &w, s, BOB, DOCS_EDIT, &r);
  r = rec_of(TEAM_A, 0, HH_SALES_B, 0);
  mdt_explain(s, DAVE, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_INACTIVE_USER);
  EQ(e.failing, MDT_FAIL_USER);
  EQ(e.fix, MDT_FIX_ACTIVATE);
  EQ(e.value, V_DEPT);                               /* what it would hold */
  verify_explain(t, &w, s, DAVE, DOCS_EDIT, &r);
  r = rec_of(0, 0, HH_SALES_B, 0);
  mdt_explain(s, ALICE, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_OUT_OF_SCOPE);
  EQ(e.failing, MDT_FAIL_RIGHT);
  EQ(e.fix, MDT_FIX_OVERRIDE);
  EQ(e.fix_value, V_DEPT);
  verify_explain(t, &w, s, ALICE, DOCS_EDIT, &r);
  r = rec_of(0, BOB, 0, 0);                          /* bob's unit counts */
  mdt_explain(s, ALICE, APPTS_EDIT, &r, &e);
  EQ(e.fix_value, V_DEPT);
  r = rec_of(0, 0, MUC, ACME);                       /* alice manages ACME */
  mdt_explain(s, ALICE, DOCS_EDIT, &r, &e);
  EQ(e.fix_value, V_TEAM | CUST);
  verify_explain(t, &w, s, ALICE, DOCS_EDIT, &r);
  mdt_explain(s, ALICE, APPTS_EDIT, &r, &e);         /* no customer option */
  EQ(e.fix_value, V_COUNTRY);
  verify_explain(t, &w, s, ALICE, APPTS_EDIT, &r);
  r = rec_of(0, 0, HH_SALES_A, 0);
  mdt_explain(s, IVAN, DOCS_EDIT, &r, &e);           /* keeps its customer */
  EQ(e.fix_value, V_COUNTRY | CUST);
  verify_explain(t, &w, s, IVAN, DOCS_EDIT, &r);
  mdt_explain(s, HANK, ADMIN_OPEN, NULL, &e);
  EQ(e.reason, MDT_NO_RIGHT);
  EQ(e.fix, MDT_FIX_OVERRIDE);
  EQ(e.fix_value, 1);
  mdt_explain(s, HANK, DOCS_SEE, NULL, &e);          /* hold: own is least */
  EQ(e.fix_value, MDT_V_OWN);
  r = rec_of(0, HANK, 0, 0);
  mdt_explain(s, CAROL, APPTS_EDIT, &r, &e);         /* lone: only all */
  EQ(e.fix_value, V_ALL);
  verify_explain(t, &w, s, CAROL, APPTS_EDIT, &r);

  /* no single fix */
  r = rec_of(TEAM_A, 0, MUC, 0);
  mdt_explain(s, BOB, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_TENANT_HIDDEN);
  EQ(e.failing, MDT_FAIL_TENANT | MDT_FAIL_RIGHT);
  EQ(e.fix, MDT_FIX_IMPOSSIBLE);
  mdt_explain(s, DAVE, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_INACTIVE_USER);
  EQ(e.failing, MDT_FAIL_USER | MDT_FAIL_RIGHT);
  EQ(e.fix, MDT_FIX_IMPOSSIBLE);
  mdt_explain(s, 9, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_UNKNOWN_USER);
  EQ(e.fix, MDT_FIX_IMPOSSIBLE);
  OK(e.failing & MDT_FAIL_UNKNOWN);
  OK(e.failing & MDT_FAIL_USER);
  EQ(e.value, 0);
  mdt_explain(s, MDT_UNKNOWN, DOCS_EDIT, NULL, &e);
  EQ(e.reason, MDT_UNKNOWN_USER);
  EQ(e.failing, MDT_FAIL_USER | MDT_FAIL_RIGHT | MDT_FAIL_UNKNOWN);
  r = rec_of(MDT_UNKNOWN, 0, 0, 0);
  mdt_explain(s, ALICE, DOCS_EDIT, &r, &e);
  EQ(e.reason, MDT_UNKNOWN_TENANT);
  EQ(e.failing, MDT_FAIL_TENANT | MDT_FAIL_UNKNOWN);
  EQ(e.fix, MDT_FIX_IMPOSSIBLE);
  EQ(e.access, -1);
  mdt_snap_free(s);
}
/* }}} */

/* Random worlds against the reference {{{ */

static mdt_value random_value(unsigned long long *st, const ref_world *w,
                              const ref_right *r)
{
  if (r->kind == MDT_FLAG) return (mdt_value)rnd(st, 2);
  return (mdt_value)(rnd(st, (unsigned)w->nlevels + 3) |
                     (r->cust && rnd(st, 3) == 0 ? CUST : 0));
}

/*
** An id to ask about: mostly one that exists (given), else absent,
** unknown, or any id up to max + 2 (holes, beyond the last).
*/
static mdt_id pick(unsigned long long *st, mdt_id existing, mdt_id max)
{
  switch (rnd(st, 8)) {
    case 0: return MDT_UNKNOWN;
    case 1: return MDT_ABSENT;
    case 2: return (mdt_id)rnd(st, (unsigned)max + 3);
    default: return existing;
  }
}

#define PICK(st, arr, n) \
  pick((st), (n) ? (arr)[rnd((st), (unsigned)(n))].id : 0, \
       (n) ? (arr)[(n) - 1].id : 2)

static void random_user(unsigned long long *st, ref_world *w, ref_user *u)
{
  int i, n;
  u->unit = rnd(st, 5) ? w->unit[rnd(st, (unsigned)w->nunits)].id : 0;
  u->active = rnd(st, 6) != 0;
  u->nb = u->no = u->na = u->nc = 0;
  n = (int)rnd(st, 4);
  for (i = 0; i < n && w->nbundles; i++) {
    mdt_id b = w->bundle[rnd(st, (unsigned)w->nbundles)].id;
    int j, dup = 0;
    for (j = 0; j < u->nb; j++) dup |= u->bundle[j] == b;
    if (!dup) ref_user_bundle(u, b);
  }
  n = (int)rnd(st, 3);
  for (i = 0; i < n; i++) {
    const ref_right *r = &w->right[rnd(st, (unsigned)w->nrights)];
    ref_user_override(u, r->id, random_value(st, w, r));
  }
  n = (int)rnd(st, 3);
  for (i = 0; i < n; i++) {
    mdt_id te = w->tenant[rnd(st, (unsigned)w->ntenants)].id;
    ref_user_access(u, te, (int)rnd(st, 3));
  }
  n = (int)rnd(st, 3);
  for (i = 0; i < n && w->ncusts; i++) {
    mdt_id c = w->cust[rnd(st, (unsigned)w->ncusts)].id;
    ref_user_customer(u, c);                     /* kept once */
  }
}

static void random_world(unsigned long long *st, ref_world *w)
{
  static const char *const levels[] = {"L0", "L1", "L2", "L3", "L4"};
  char key[REF_KEYLEN];
  mdt_id id;
  int i, j, n;
  memset(w, 0, sizeof *w);
  ref_levels(w, 1 + (int)rnd(st, 5), levels);
  n = 1 + (int)rnd(st, 30);
  for (i = 0, id = 0; i < n; i++) {
    int depth = (int)rnd(st, (unsigned)w->nlevels);
    mdt_id parent = 0;
    id += 1 + rnd(st, 3);
    for (j = 0; j < 4 && w->nunits && rnd(st, 6); j++) {  /* not a root */
      const ref_unit *p = &w->unit[rnd(st, (unsigned)w->nunits)];
      if (p->depth < depth) { parent = p->id; break; }
    }
    snprintf(key, REF_KEYLEN, "u%d", (int)id);
    ref_add_unit(w, id, key, depth, parent);
  }
  n = 1 + (int)rnd(st, 4);
  for (i = 0, id = 0; i < n; i++) {
    id += 1 + rnd(st, 2);
    snprintf(key, REF_KEYLEN, "t%d", (int)id);
    ref_add_tenant(w, id, key, (int)rnd(st, 3));
  }
  n = 1 + (int)rnd(st, 8);
  for (i = 0, id = 0; i < n; i++) {
    int kind = (int)rnd(st, 2), mode = (int)rnd(st, 2);
    int cust = kind == MDT_SCOPE && rnd(st, 2);
    id += 1 + rnd(st, 2);
    snprintf(key, REF_KEYLEN, "r%d", (int)id);
    ref_add_right(w, id, key, kind, mode, cust);
  }
  n = (int)rnd(st, 5);
  for (i = 0, id = 0; i < n; i++) {
    ref_bundle *b;
    id += 1 + rnd(st, 2);
    snprintf(key, REF_KEYLEN, "b%d", (int)id);
    b = ref_add_bundle(w, id, key);
    for (j = 0; j < w->nrights; j++)
      if (rnd(st, 3)) ref_bundle_value(b, w->right[j].id,
                               random_value(st, w, &w->right[j]));
  }
  n = (int)rnd(st, 5);
  for (i = 0, id = 0; i < n; i++) {
    id += 1 + rnd(st, 2);
    snprintf(key, REF_KEYLEN, "c%d", (int)id);
    ref_add_customer(w, id, key);
  }
  n = 1 + (int)rnd(st, 30);
  for (i = 0, id = 0; i < n; i++) {
    id += 1 + rnd(st, 2);
    snprintf(key, REF_KEYLEN, "user%d", (int)id);
    random_user(st, w, ref_put_user(w, id, key, 0, 1));
  }
}

static mdt_record random_record(unsigned long long *st, const ref_world *w)
{
  mdt_record r = rec_of(0, 0, 0, 0);
  if (rnd(st, 2)) r.tenant = PICK(st, w->tenant, w->ntenants);
  if (rnd(st, 4) == 0) return r;                    /* "hold" questions */
  if (rnd(st, 2)) r.owner = PICK(st, w->user, w->nusers);
  if (rnd(st, 2)) r.unit = PICK(st, w->unit, w->nunits);
  if (rnd(st, 3) == 0)
    r.customer = PICK(st, w->cust, w->ncusts);
  return r;
}

/* n random checks of user: the engine against the reference. */
static long compare_user(unsigned long long *st, const ref_world *w,
                         const mdt_snap *s, mdt_id user, int n)
{
  long diffs = 0;
  int i;
  for (i = 0; i < n; i++) {
    mdt_record r = random_record(st, w);
    mdt_id right = PICK(st, w->right, w->nrights);
    const mdt_record *rp = rnd(st, 10) ? &r : NULL;
    int got = mdt_check(s, user, right, rp), want = ref_check(w, user, right,
                                                            rp);
    if (got != want && diffs++ < 5)
      fprintf(stderr, "user %d right %d rec {%d,%d,%d,%d}%s: got %s, "
              "want %s\n", (int)user, (int)right, (int)r.tenant,
              (int)r.owner, (int)r.unit, (int)r.customer,
              rp ? "" : " (not passed)", mdt_reason_name(got),
              mdt_reason_name(want));
  }
  return diffs;
}

static void test_random(T *t)
{
  unsigned long long st = 0x9e3779b97f4a7c15ULL;
  long diffs = 0, checks = 0;
  int world, i;
  for (world = 0; world < 300; world++) {
    ref_world w;
    mdt_snap *s;
    random_world(&st, &w);
    s = build(&w, st | 1);
    OK(s != NULL);
    if (s == NULL) continue;

    /* checks and their explanations */
    for (i = 0; i < 50; i++) {
      mdt_id user = PICK(&st, w.user, w.nusers), right;
      mdt_record r = random_record(&st, &w);
      diffs += compare_user(&st, &w, s, user, 4);
      checks += 4;
      right = PICK(&st, w.right, w.nrights);
      verify_explain(t, &w, s, user, right, rnd(&st, 10) ? &r : NULL);
    }
    for (i = 0; i < w.nusers; i++) {
      const ref_user *u = &w.user[i];
      int j;
      for (j = 0; j < w.nrights; j++)
        EQ(mdt_effective(s, u->id, w.right[j].id, NULL),
           ref_effective(&w, u->id, w.right[j].id, NULL));
    }

    /* patching: a changed user, and a brand-new id far beyond the max */
    {
      ref_user *u = &w.user[rnd(&st, (unsigned)w.nusers)];
      ref_user *nu;
      mdt_id fresh = w.user[w.nusers - 1].id + 1 + rnd(&st, 300);
      char key[REF_KEYLEN];
      mdt_id c = (w.ncusts ? w.cust[w.ncusts - 1].id : 0) + 1;
      snprintf(key, REF_KEYLEN, "late%d", (int)c);
      EQ(mdt_snap_add_customer(s, c, key), MDT_OK);  /* after compile */
      ref_add_customer(&w, c, key);
      random_user(&st, &w, u);
      if (rnd(&st, 2)) ref_user_customer(u, c);
      EQ(mdt_snap_put_user(s, u->id, u->key, u->unit, u->active), MDT_OK);
      EQ(fill_user(s, u), MDT_OK);
      EQ(mdt_check(s, u->id, w.right[0].id, NULL), MDT_UNKNOWN_USER);
      EQ(mdt_snap_compile_user(s, u->id), MDT_OK);
      diffs += compare_user(&st, &w, s, u->id, 100);
      snprintf(key, REF_KEYLEN, "fresh%d", (int)fresh);
      nu = ref_put_user(&w, fresh, key, 0, 1);
      random_user(&st, &w, nu);
      EQ(mdt_snap_put_user(s, fresh, key, nu->unit, nu->active), MDT_OK);
      EQ(fill_user(s, nu), MDT_OK);
      EQ(mdt_check(s, fresh, w.right[0].id, NULL), MDT_UNKNOWN_USER);
      EQ(mdt_snap_compile_user(s, fresh), MDT_OK);
      EQ(mdt_max_id(s, MDT_USER), fresh);
      diffs += compare_user(&st, &w, s, fresh, 100);
      for (i = 0; i < w.nusers; i++)               /* nobody else moved */
        diffs += compare_user(&st, &w, s, w.user[i].id, 10);
      for (i = 0; i < 20; i++) {
        mdt_record r = random_record(&st, &w);
        verify_explain(t, &w, s, fresh, PICK(&st, w.right, w.nrights),
                       &r);
      }
    }
    mdt_snap_free(s);
  }
  EQ(diffs, 0);
  OK(checks > 0);
  for (i = 0; i <= MDT_UNKNOWN_RIGHT; i++) OK(t->reasons[i] > 0);
  for (i = 0; i <= MDT_FIX_IMPOSSIBLE; i++) OK(t->fixes[i] > 0);
  for (i = 0; i <= MDT_MATCH_FLAG; i++) OK(t->matched[i] > 0);
}

/*
** Effective values of every user and right, and checks of every user on
** a record of each tenant (a random right), that differ from the
** reference.
*/
static long users_differ(unsigned long long *st, const ref_world *w,
                         const mdt_snap *s)
{
  long diffs = 0;
  int i, j;
  for (i = 0; i < w->nusers; i++) {
    mdt_id u = w->user[i].id;
    for (j = 0; j < w->nrights; j++)
      diffs += mdt_effective(s, u, w->right[j].id, NULL) !=
               ref_effective(w, u, w->right[j].id, NULL);
    for (j = 0; j < w->ntenants; j++) {
      mdt_record r = rec_of(w->tenant[j].id, 0, 0, 0);
      mdt_id right = w->right[rnd(st, (unsigned)w->nrights)].id;
      diffs += mdt_check(s, u, right, &r) != ref_check(w, u, right, &r);
    }
  }
  return diffs;
}

/* Put, fill and compile u again. */
static void repatch(T *t, mdt_snap *s, const ref_user *u)
{
  EQ(mdt_snap_put_user(s, u->id, u->key, u->unit, u->active), MDT_OK);
  EQ(fill_user(s, u), MDT_OK);
  EQ(mdt_snap_compile_user(s, u->id), MDT_OK);
}

/*
** Users with equal rows share them.  Patch users over and over: to
** another user's bundles and overrides (sharing its row), away again, to
** the very lists they had, or put now and compiled only after a patch of
** someone else.  After every patch every user's values and access must
** still be the reference's: a shared row is never written through one
** user, and packing the access rows anew moves no user's rows to another.
*/
static void test_profiles(T *t)
{
  unsigned long long st = 0x2545f4914f6cdd1dULL;
  long diffs = 0;
  int world, i;
  for (world = 0; world < 100; world++) {
    ref_world w;
    mdt_snap *s;
    random_world(&st, &w);
    if ((s = build(&w, 0)) == NULL) {
      OK(0);
      continue;
    }
    diffs += users_differ(&st, &w, s);
    for (i = 0; i < 200; i++) {
      ref_user *u = &w.user[rnd(&st, (unsigned)w.nusers)];
      const ref_user *o = &w.user[rnd(&st, (unsigned)w.nusers)];
      switch (rnd(&st, 4)) {
        case 0:                              /* share o's row */
          memcpy(u->bundle, o->bundle, sizeof u->bundle);
          memcpy(u->over, o->over, sizeof u->over);
          u->nb = o->nb;
          u->no = o->no;
          break;
        case 1: random_user(&st, &w, u); break;
        case 2: break;                       /* the same lists again */
        default: {                           /* compiled after another */
          ref_user *v = &w.user[rnd(&st, (unsigned)w.nusers)];
          if (v == u) break;
          random_user(&st, &w, u);
          EQ(mdt_snap_put_user(s, u->id, u->key, u->unit, u->active),
             MDT_OK);
          EQ(fill_user(s, u), MDT_OK);
          EQ(mdt_check(s, u->id, w.right[0].id, NULL), MDT_UNKNOWN_USER);
          random_user(&st, &w, v);
          repatch(t, s, v);
        }
      }
      repatch(t, s, u);
      diffs += users_differ(&st, &w, s) + compare_user(&st, &w, s, u->id, 5);
    }
    mdt_snap_free(s);
  }
  EQ(diffs, 0);
}
/* }}} */

int main(void)
{
  T tt, *t = &tt;
  memset(t, 0, sizeof *t);
  test_values(t);
  test_null(t);
  test_builder(t);
  test_tree_errors(t);
  test_tree_check(t);
  test_keys(t);
  test_rules(t);
  test_explain(t);
  test_random(t);
  test_profiles(t);
  if (t->failed) {
    fprintf(stderr, "core_test: %ld of %ld checks FAILED\n", t->failed,
            t->passed + t->failed);
    return 1;
  }
  printf("core_test: %ld checks passed\n", t->passed);
  return 0;
}
