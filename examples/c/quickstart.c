/*
** quickstart.c -- the mandate engine from C, with nothing but mandate.h.
**
** Builds a small world by hand (what src/store does from SQLite), compiles
** it, asks a few questions and explains one denial.  Build and run:
**
**   make build/lua5.4/quickstart && build/lua5.4/quickstart
** or by hand: compile examples/c/quickstart.c with every .c file of
** src/core and -Isrc/core; nothing else is needed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate.h"

/* Ids are the caller's row ids; a C program just picks them. */
enum { DE = 1, HH, HH_SALES, HH_SALES_A, HH_SALES_B, MUC };    /* units */
enum { HAMBURG = 1 };                                         /* tenants */
enum { DOCS_EDIT = 1, APPTS_EDIT, ADMIN_OPEN };               /* rights */
enum { INSIDE_SALES = 1, TEAM_LEAD };                         /* bundles */
enum { ACME = 1, GLOBEX };                                    /* customers */
enum { ALICE = 1, BOB, CAROL, DAVE };                         /* users */

/* Builder calls return a code; mdt_snap_errmsg says what went wrong. */
static void must(mdt_snap *s, int rc, const char *what)
{
  if (rc == MDT_OK) return;
  fprintf(stderr, "%s: %s (%s)\n", what, mdt_errstr(rc), mdt_snap_errmsg(s));
  exit(1);
}

/* Values are easiest to write as text: "team", "own+customer", "true". */
static mdt_value value(mdt_snap *s, mdt_id right, const char *text)
{
  int n, kind, mode, customer_ok;
  const char *const *levels = mdt_levels(s, &n);
  mdt_value v = 0;
  must(s, mdt_right_info(s, right, &kind, &mode, &customer_ok), "right");
  must(s, mdt_value_parse(levels, n, kind, customer_ok, text, strlen(text),
                          &v), text);
  return v;
}

static mdt_snap *build_world(void)
{
  static const char *const levels[] = {"country", "branch", "department",
                                       "team"};
  mdt_snap *s = mdt_snap_new();
  if (s == NULL) exit(1);
  must(s, mdt_snap_set_levels(s, levels, 4), "levels");

  /* the org tree: unit id, key, depth (0 = country), parent */
  must(s, mdt_snap_add_unit(s, DE, "de", 0, 0), "unit");
  must(s, mdt_snap_add_unit(s, HH, "hamburg", 1, DE), "unit");
  must(s, mdt_snap_add_unit(s, HH_SALES, "hh-sales", 2, HH), "unit");
  must(s, mdt_snap_add_unit(s, HH_SALES_A, "hh-sales-a", 3, HH_SALES), "unit");
  must(s, mdt_snap_add_unit(s, HH_SALES_B, "hh-sales-b", 3, HH_SALES), "unit");
  must(s, mdt_snap_add_unit(s, MUC, "munich", 1, DE), "unit");

  /* a tenant everybody may read unless given more (or less) */
  must(s, mdt_snap_add_tenant(s, HAMBURG, "hamburg", MDT_READ), "tenant");

  /* the rights catalog */
  must(s, mdt_snap_add_right(s, DOCS_EDIT, "documents.edit", MDT_SCOPE,
                             MDT_WRITE, 1), "right");     /* +customer ok */
  must(s, mdt_snap_add_right(s, APPTS_EDIT, "appointments.edit", MDT_SCOPE,
                             MDT_WRITE, 0), "right");
  must(s, mdt_snap_add_right(s, ADMIN_OPEN, "admin.open", MDT_FLAG,
                             MDT_READ_MODE, 0), "right");

  /* bundles: what a function gets */
  must(s, mdt_snap_add_bundle(s, INSIDE_SALES, "inside-sales"), "bundle");
  must(s, mdt_snap_bundle_value(s, INSIDE_SALES, DOCS_EDIT,
                                value(s, DOCS_EDIT, "team+customer")), "val");
  must(s, mdt_snap_bundle_value(s, INSIDE_SALES, APPTS_EDIT,
                                value(s, APPTS_EDIT, "own")), "val");
  must(s, mdt_snap_add_bundle(s, TEAM_LEAD, "team-lead"), "bundle");
  must(s, mdt_snap_bundle_value(s, TEAM_LEAD, APPTS_EDIT,
                                value(s, APPTS_EDIT, "team")), "val");
  must(s, mdt_snap_bundle_value(s, TEAM_LEAD, ADMIN_OPEN,
                                value(s, ADMIN_OPEN, "true")), "val");

  must(s, mdt_snap_add_customer(s, ACME, "ACME"), "customer");
  must(s, mdt_snap_add_customer(s, GLOBEX, "Globex"), "customer");

  /* users: id, key, unit, active; then their bundles and exceptions */
  must(s, mdt_snap_put_user(s, ALICE, "alice", HH_SALES_A, 1), "user");
  must(s, mdt_snap_user_bundle(s, ALICE, INSIDE_SALES), "user");
  must(s, mdt_snap_user_bundle(s, ALICE, TEAM_LEAD), "user");
  must(s, mdt_snap_user_access(s, ALICE, HAMBURG, MDT_FULL), "user");
  must(s, mdt_snap_user_customer(s, ALICE, ACME), "user");

  must(s, mdt_snap_put_user(s, BOB, "bob", HH_SALES_B, 1), "user");
  must(s, mdt_snap_user_bundle(s, BOB, INSIDE_SALES), "user");
  must(s, mdt_snap_user_override(s, BOB, DOCS_EDIT,
                                 value(s, DOCS_EDIT, "department")), "user");

  must(s, mdt_snap_put_user(s, CAROL, "carol", HH_SALES_B, 1), "user");
  must(s, mdt_snap_user_bundle(s, CAROL, INSIDE_SALES), "user");

  must(s, mdt_snap_put_user(s, DAVE, "dave", HH_SALES_A, 0), "user");
  must(s, mdt_snap_user_bundle(s, DAVE, TEAM_LEAD), "user");

  must(s, mdt_snap_compile(s), "compile");
  return s;
}

/* One question, asked by keys the way an application has them. */
static void ask(const mdt_snap *s, const char *user, const char *right,
                const char *tenant, const char *owner, const char *customer)
{
  mdt_record rec = {MDT_ABSENT, MDT_ABSENT, MDT_ABSENT, MDT_ABSENT};
  mdt_id u = mdt_lookup(s, MDT_USER, user, strlen(user));
  mdt_id r = mdt_lookup(s, MDT_RIGHT, right, strlen(right));
  int reason;
  /* a key that names nothing is MDT_UNKNOWN: it matches nothing */
  if (tenant) rec.tenant = mdt_lookup(s, MDT_TENANT, tenant, strlen(tenant));
  if (owner) rec.owner = mdt_lookup(s, MDT_USER, owner, strlen(owner));
  if (customer)
    rec.customer = mdt_lookup(s, MDT_CUSTOMER, customer, strlen(customer));
  if (tenant && !rec.tenant) rec.tenant = MDT_UNKNOWN;
  if (owner && !rec.owner) rec.owner = MDT_UNKNOWN;
  if (customer && !rec.customer) rec.customer = MDT_UNKNOWN;
  reason = mdt_check(s, u ? u : MDT_UNKNOWN, r, &rec);
  printf("  %-7s %-18s tenant=%-8s owner=%-6s customer=%-7s -> %s\n", user,
         right, tenant ? tenant : "-", owner ? owner : "-",
         customer ? customer : "-", mdt_reason_name(reason));
}

static void explain(const mdt_snap *s, mdt_id user, mdt_id right,
                    const mdt_record *rec)
{
  static const char *const access[] = {"hidden", "read", "full"};
  static const char *const source[] = {"nothing", "bundles", "override"};
  mdt_explanation e;
  char value_text[64];
  int n;
  const char *const *levels = mdt_levels(s, &n);
  if (mdt_explain(s, user, right, rec, &e) != MDT_OK) return;
  mdt_value_format(levels, n, e.kind, e.value, value_text, sizeof value_text);
  printf("\nWhy may %s not use %s on %s's record?\n",
         mdt_key(s, MDT_USER, user), mdt_key(s, MDT_RIGHT, right),
         mdt_key(s, MDT_USER, rec->owner));
  printf("  reason:  %s\n", mdt_reason_name(e.reason));
  printf("  value:   %s, from %s\n", value_text, source[e.source]);
  if (e.anchor)
    printf("  reaches: the subtree of unit %s\n",
           mdt_key(s, MDT_UNIT, e.anchor));
  if (e.access >= 0)
    printf("  access:  %s (%s)\n", access[e.access],
           e.access_explicit ? "the user's own" : "the tenant's default");
  if (e.fix == MDT_FIX_OVERRIDE) {
    char fix_text[64];
    mdt_value_format(levels, n, e.kind, e.fix_value, fix_text,
                     sizeof fix_text);
    printf("  fix:     override %s for %s with \"%s\"\n",
           mdt_key(s, MDT_RIGHT, right), mdt_key(s, MDT_USER, user),
           fix_text);
  }
}

int main(void)
{
  mdt_snap *s = build_world();
  mdt_record rec = {HAMBURG, BOB, MDT_ABSENT, MDT_ABSENT};

  printf("Checks:\n");
  ask(s, "alice", "documents.edit", "hamburg", "alice", NULL);   /* own */
  ask(s, "alice", "documents.edit", "hamburg", "bob", NULL);     /* team b */
  ask(s, "alice", "documents.edit", "hamburg", "bob", "ACME");   /* manages */
  ask(s, "bob", "documents.edit", "hamburg", "alice", NULL);     /* read */
  ask(s, "bob", "documents.edit", NULL, "alice", NULL);          /* dept */
  ask(s, "carol", "admin.open", NULL, NULL, NULL);               /* flag */
  ask(s, "alice", "admin.open", "hamburg", NULL, NULL);
  ask(s, "dave", "admin.open", NULL, NULL, NULL);                /* inactive */
  ask(s, "mallory", "admin.open", NULL, NULL, NULL);
  ask(s, "alice", "appointments.edit", NULL, "carol", NULL);

  explain(s, ALICE, DOCS_EDIT, &rec);
  mdt_snap_free(s);
  return 0;
}
