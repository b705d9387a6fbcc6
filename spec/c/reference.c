/*
** reference.c -- docs/semantics.md sections 3 and 4, read literally, over
** the plain world of reference.h.  Every rule is written the way the text
** says it, not the way the engine computes it: anchors walk parent links,
** values are joined bundle by bundle, the fix is the first candidate up
** the order that matches.  Calls no engine function.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

/* Describing a world {{{ */

static void full(const char *what)
{
  fprintf(stderr, "reference: more %s than the world holds\n", what);
  abort();
}

/* The next free entity of an array of n, counted, zeroed, with id and key. */
#define APPEND(arr, n, what, id_, key_, out) do { \
    if ((n) >= REF_MAX) full(what); \
    (out) = &(arr)[(n)++]; \
    memset((out), 0, sizeof *(out)); \
    (out)->id = (id_); \
    snprintf((out)->key, REF_KEYLEN, "%s", (key_)); \
  } while (0)

void ref_levels(ref_world *w, int n, const char *const *names)
{
  int i;
  w->nlevels = n;
  for (i = 0; i < n; i++) w->level[i] = names[i];
}

ref_unit *ref_add_unit(ref_world *w, mdt_id id, const char *key, int depth,
                       mdt_id parent)
{
  ref_unit *u;
  APPEND(w->unit, w->nunits, "units", id, key, u);
  u->depth = depth;
  u->parent = parent;
  return u;
}

ref_tenant *ref_add_tenant(ref_world *w, mdt_id id, const char *key, int def)
{
  ref_tenant *t;
  APPEND(w->tenant, w->ntenants, "tenants", id, key, t);
  t->def = def;
  return t;
}

ref_right *ref_add_right(ref_world *w, mdt_id id, const char *key, int kind,
                         int mode, int cust)
{
  ref_right *r;
  APPEND(w->right, w->nrights, "rights", id, key, r);
  r->kind = kind;
  r->mode = mode;
  r->cust = kind == MDT_SCOPE && cust;      /* a flag never has it (1.5) */
  return r;
}

ref_bundle *ref_add_bundle(ref_world *w, mdt_id id, const char *key)
{
  ref_bundle *b;
  APPEND(w->bundle, w->nbundles, "bundles", id, key, b);
  return b;
}

ref_customer *ref_add_customer(ref_world *w, mdt_id id, const char *key)
{
  ref_customer *c;
  APPEND(w->cust, w->ncusts, "customers", id, key, c);
  return c;
}

ref_user *ref_put_user(ref_world *w, mdt_id id, const char *key, mdt_id unit,
                       int active)
{
  ref_user *u = ref_user_of(w, id);
  if (u == NULL) APPEND(w->user, w->nusers, "users", id, key, u);
  memset(u, 0, sizeof *u);
  u->id = id;
  snprintf(u->key, REF_KEYLEN, "%s", key);
  u->unit = unit;
  u->active = active != 0;
  return u;
}

/* Set (id, val) in a row list of *n, replacing a value given before. */
static void pairset(ref_pair *p, int *n, mdt_id id, int val, const char *what)
{
  int i;
  for (i = 0; i < *n; i++)
    if (p[i].id == id) {
      p[i].val = val;
      return;
    }
  if (*n >= REF_LIST) full(what);
  p[*n].id = id;
  p[(*n)++].val = val;
}

/* Add id to a list of *n once. */
static void idadd(mdt_id *p, int *n, mdt_id id, const char *what)
{
  int i;
  for (i = 0; i < *n; i++) if (p[i] == id) return;
  if (*n >= REF_LIST) full(what);
  p[(*n)++] = id;
}

void ref_bundle_value(ref_bundle *b, mdt_id right, mdt_value v)
{
  pairset(b->v, &b->n, right, v, "bundle values");
}

void ref_user_bundle(ref_user *u, mdt_id bundle)
{
  idadd(u->bundle, &u->nb, bundle, "bundles of a user");
}

void ref_user_override(ref_user *u, mdt_id right, mdt_value v)
{
  pairset(u->over, &u->no, right, v, "overrides");
}

void ref_user_access(ref_user *u, mdt_id tenant, int access)
{
  pairset(u->acc, &u->na, tenant, access, "access rows");
}

void ref_user_customer(ref_user *u, mdt_id customer)
{
  idadd(u->cust, &u->nc, customer, "customers of a user");
}

/*
** The element of arr (n of size bytes each, every one starting with its
** mdt_id id) with that id, or NULL.
*/
static void *find(const void *arr, int n, size_t size, mdt_id id)
{
  const char *p = arr;
  int i;
  for (i = 0; i < n; i++, p += size)
    if (*(const mdt_id *)(const void *)p == id)
      return (void *)p;                             /* as strchr does */
  return NULL;
}

#define FIND(arr, n, id) find((arr), (n), sizeof (arr)[0], (id))

ref_unit *ref_unit_of(const ref_world *w, mdt_id id)
{ return FIND(w->unit, w->nunits, id); }
ref_tenant *ref_tenant_of(const ref_world *w, mdt_id id)
{ return FIND(w->tenant, w->ntenants, id); }
ref_right *ref_right_of(const ref_world *w, mdt_id id)
{ return FIND(w->right, w->nrights, id); }
ref_bundle *ref_bundle_of(const ref_world *w, mdt_id id)
{ return FIND(w->bundle, w->nbundles, id); }
ref_customer *ref_customer_of(const ref_world *w, mdt_id id)
{ return FIND(w->cust, w->ncusts, id); }
ref_user *ref_user_of(const ref_world *w, mdt_id id)
{ return FIND(w->user, w->nusers, id); }

static const ref_pair *pairget(const ref_pair *p, int n, mdt_id id)
{
  int i;
  for (i = 0; i < n; i++) if (p[i].id == id) return &p[i];
  return NULL;
}

int ref_manages(const ref_user *u, mdt_id customer)
{
  int i;
  for (i = 0; i < u->nc; i++) if (u->cust[i] == customer) return 1;
  return 0;
}

int ref_sound(const ref_world *w)
{
  int i, steps;
  for (i = 0; i < w->nunits; i++) {
    const ref_unit *x = &w->unit[i], *p;
    if (x->parent == 0) continue;                   /* a root: any level */
    if ((p = ref_unit_of(w, x->parent)) == NULL) return 0;
    if (p->depth >= x->depth) return 0;             /* parent sits higher */
    for (steps = 0, p = x; p != NULL && p->parent != 0; steps++) {
      if (steps > w->nunits) return 0;              /* a cycle */
      p = ref_unit_of(w, p->parent);
    }
  }
  for (i = 0; i < w->nusers; i++)
    if (w->user[i].unit != 0 && ref_unit_of(w, w->user[i].unit) == NULL)
      return 0;
  return 1;
}
/* }}} */

/* Section 3 {{{ */

/* A user the checks know: described and not pending (section 3.9 step 2). */
static const ref_user *known(const ref_world *w, mdt_id id)
{
  const ref_user *u = ref_user_of(w, id);
  return u != NULL && !u->pending ? u : NULL;
}

/* Section 3.1: a value is held when it has a rank or the customer part. */
static int held(mdt_value v)
{
  return MDT_V_RANK(v) > MDT_V_NONE || (v & MDT_V_CUSTOMER) != 0;
}

/*
** Section 3.2: u's override for r; else the join of what u's bundles give
** r (a flag's OR, a scope's highest rank and OR of customer parts); else
** false or none.
*/
static mdt_value effective(const ref_world *w, const ref_user *u,
                           const ref_right *r, int *src)
{
  const ref_pair *o = pairget(u->over, u->no, r->id);
  int i, rank = MDT_V_NONE, flag = 0, cust = 0, given = 0;
  if (o != NULL) {
    *src = MDT_SRC_OVERRIDE;
    return (mdt_value)o->val;
  }
  for (i = 0; i < u->nb; i++) {
    const ref_bundle *b = ref_bundle_of(w, u->bundle[i]);
    const ref_pair *p = b != NULL ? pairget(b->v, b->n, r->id) : NULL;
    if (p == NULL) continue;                        /* gives r nothing */
    given = 1;
    flag |= p->val != 0;
    if (MDT_V_RANK((mdt_value)p->val) > rank)
      rank = MDT_V_RANK((mdt_value)p->val);
    cust |= (p->val & MDT_V_CUSTOMER) != 0;
  }
  *src = given ? MDT_SRC_BUNDLES : MDT_SRC_NONE;
  if (r->kind == MDT_FLAG) return (mdt_value)flag;
  return (mdt_value)(rank | (cust ? MDT_V_CUSTOMER : 0));
}

/* Section 1.2: u's explicit row for t, else t's default (u may be NULL). */
static int access_of(const ref_user *u, const ref_tenant *t, int *explicit_row)
{
  const ref_pair *a = u != NULL ? pairget(u->acc, u->na, t->id) : NULL;
  *explicit_row = a != NULL;
  return a != NULL ? a->val : t->def;
}

/*
** Section 3.3, the tenant gate for right r: MDT_ALLOWED (no record, no
** tenant: common data) or the tenant's reason; *acc gets the access
** applied, -1 without a gate or for a tenant that names nothing.
*/
static int gate(const ref_world *w, const ref_user *u, const ref_right *r,
                const mdt_record *rec, int *acc, int *explicit_row)
{
  const ref_tenant *t;
  *acc = -1;
  *explicit_row = 0;
  if (rec == NULL || rec->tenant == MDT_ABSENT) return MDT_ALLOWED;
  if ((t = ref_tenant_of(w, rec->tenant)) == NULL) return MDT_UNKNOWN_TENANT;
  *acc = access_of(u, t, explicit_row);
  if (*acc == MDT_HIDDEN) return MDT_TENANT_HIDDEN;
  if (*acc == MDT_READ && r->mode == MDT_WRITE) return MDT_TENANT_READ_ONLY;
  return MDT_ALLOWED;
}

/*
** Section 3.5, anchor(u, L) for the level at depth d: the topmost unit on
** the path up from u's unit (included) whose level is L or below; u's unit
** itself when it sits above L.  0 for a user without a unit.
*/
static mdt_id anchor(const ref_world *w, const ref_user *u, int d)
{
  const ref_unit *x = ref_unit_of(w, u->unit);
  mdt_id top = u->unit;
  int steps = 0;
  for (; x != NULL && steps <= w->nunits; steps++) {
    if (x->depth >= d) top = x->id;                 /* at L or below */
    x = x->parent != 0 ? ref_unit_of(w, x->parent) : NULL;
  }
  return top;
}

/* Is unit x in the subtree of unit a, a itself included?  Walks up from x. */
static int inside(const ref_world *w, mdt_id x, mdt_id a)
{
  const ref_unit *p = ref_unit_of(w, x);
  int steps = 0;
  for (; p != NULL && steps <= w->nunits; steps++) {
    if (p->id == a) return 1;
    p = p->parent != 0 ? ref_unit_of(w, p->parent) : NULL;
  }
  return 0;
}

/*
** Section 3.4: the record's unit is its unit when given (also one that
** names nothing, section 3.6), else its owner's when the owner is a user
** (known, section 3.6) with a unit; 0 when none or none that exists.
*/
static mdt_id record_unit(const ref_world *w, const ref_user *u,
                          const mdt_record *rec)
{
  mdt_id x = rec->unit;
  if (x == MDT_ABSENT) {
    const ref_user *o = rec->owner == u->id ? u : known(w, rec->owner);
    x = o != NULL ? o->unit : 0;
  }
  return x != 0 && ref_unit_of(w, x) != NULL ? x : 0;
}

/*
** Sections 3.4 to 3.8: which part of value v of right r lets u reach rec
** (MDT_MATCH_*), in the order customer, own, then all or the level;
** MDT_MATCH_NONE when none does.
*/
static int match(const ref_world *w, const ref_user *u, const ref_right *r,
                 mdt_value v, const mdt_record *rec)
{
  int n = w->nlevels, rank = MDT_V_RANK(v);
  mdt_id x;
  if (r->kind == MDT_FLAG) return v ? MDT_MATCH_FLAG : MDT_MATCH_NONE;
  if (!held(v)) return MDT_MATCH_NONE;
  if (rec == NULL || (rec->owner == MDT_ABSENT && rec->unit == MDT_ABSENT &&
                      rec->customer == MDT_ABSENT))
    return MDT_MATCH_HOLD;                          /* section 3.8 */
  /* a customer u manages: one that names nothing is managed by nobody */
  if ((v & MDT_V_CUSTOMER) && ref_manages(u, rec->customer))
    return MDT_MATCH_CUSTOMER;
  if (rank >= MDT_V_OWN && rec->owner == u->id) return MDT_MATCH_OWN;
  if (rank == MDT_V_ALL(n)) return MDT_MATCH_ALL;
  if (rank > MDT_V_OWN && u->unit != 0 && (x = record_unit(w, u, rec)) != 0 &&
      inside(w, x, anchor(w, u, n + 1 - rank)))
    return MDT_MATCH_LEVEL;
  return MDT_MATCH_NONE;
}

/* Section 3.9 step 4 for value v: allowed, no_right or out_of_scope. */
static int right_step(const ref_world *w, const ref_user *u,
                      const ref_right *r, mdt_value v, const mdt_record *rec,
                      int *matched)
{
  *matched = match(w, u, r, v, rec);
  if (*matched != MDT_MATCH_NONE) return MDT_ALLOWED;
  if (r->kind == MDT_FLAG || !held(v)) return MDT_NO_RIGHT;
  return MDT_OUT_OF_SCOPE;
}

/* Section 3.9, every step in order; u NULL: names no user. */
static int check(const ref_world *w, const ref_user *u, mdt_id right,
                 const mdt_record *rec)
{
  const ref_right *r = ref_right_of(w, right);
  int why, acc, explicit_row, src, matched;
  if (r == NULL) return MDT_UNKNOWN_RIGHT;          /* 1 */
  if (u == NULL) return MDT_UNKNOWN_USER;           /* 2 */
  if (!u->active) return MDT_INACTIVE_USER;
  if ((why = gate(w, u, r, rec, &acc, &explicit_row)) != MDT_ALLOWED)
    return why;                                     /* 3 */
  return right_step(w, u, r, effective(w, u, r, &src), rec, &matched);
}

mdt_value ref_effective(const ref_world *w, mdt_id user, mdt_id right,
                        int *src)
{
  const ref_user *u = known(w, user);
  const ref_right *r = ref_right_of(w, right);
  int s = MDT_SRC_NONE;
  mdt_value v = u != NULL && r != NULL ? effective(w, u, r, &s) : 0;
  if (src != NULL) *src = s;
  return v;
}

int ref_access(const ref_world *w, mdt_id user, mdt_id tenant,
               int *explicit_row)
{
  const ref_user *u = ref_user_of(w, user);
  const ref_tenant *t = ref_tenant_of(w, tenant);
  int ex = 0, a = u != NULL && t != NULL ? access_of(u, t, &ex) : -1;
  if (explicit_row != NULL) *explicit_row = ex;
  return a;
}

int ref_check(const ref_world *w, mdt_id user, mdt_id right,
              const mdt_record *rec)
{
  return check(w, known(w, user), right, rec);
}

int ref_check_as(const ref_world *w, const ref_user *u, mdt_id right,
                 const mdt_record *rec)
{
  return check(w, u != NULL && !u->pending ? u : NULL, right, rec);
}
/* }}} */

/* Section 4 {{{ */

/*
** The lowest override of section 4 for u's scope right r, whose value v
** fails: v plus the customer part when r allows it, v has none and u
** manages the record's customer; else the next rank up from v's (own,
** the levels bottom to top, all) that matches, keeping v's customer part.
*/
static mdt_value fix_value(const ref_world *w, const ref_user *u,
                           const ref_right *r, mdt_value v,
                           const mdt_record *rec)
{
  int cust = v & MDT_V_CUSTOMER, rank;
  if (r->kind == MDT_FLAG) return 1;
  if (r->cust && !cust && rec != NULL && ref_manages(u, rec->customer))
    return (mdt_value)(v | MDT_V_CUSTOMER);
  for (rank = MDT_V_RANK(v) + 1; rank < MDT_V_ALL(w->nlevels); rank++)
    if (match(w, u, r, (mdt_value)(rank | cust), rec) != MDT_MATCH_NONE)
      break;
  return (mdt_value)(rank | cust);                  /* all always matches */
}

int ref_explain(const ref_world *w, mdt_id user, mdt_id right,
                const mdt_record *rec, mdt_explanation *out)
{
  const ref_right *r = ref_right_of(w, right);
  const ref_user *u = known(w, user);
  int why_user, why_tenant, why_right, steps;
  memset(out, 0, sizeof *out);
  out->access = -1;
  if (r == NULL) {
    out->reason = MDT_UNKNOWN_RIGHT;
    return MDT_NOTFOUND;
  }
  out->kind = r->kind;
  out->mode = r->mode;
  why_user = u == NULL ? MDT_UNKNOWN_USER
           : !u->active ? MDT_INACTIVE_USER : MDT_ALLOWED;
  /* every step, also after one failed; an unknown user has no rows */
  why_tenant = gate(w, u, r, rec, &out->access, &out->access_explicit);
  if (u != NULL) {                  /* an inactive user: what it would hold */
    int rank;
    out->value = effective(w, u, r, &out->source);
    why_right = right_step(w, u, r, out->value, rec, &out->matched);
    rank = MDT_V_RANK(out->value);
    if (r->kind == MDT_SCOPE && rank > MDT_V_OWN &&
        rank < MDT_V_ALL(w->nlevels) && u->unit != 0)
      out->anchor = anchor(w, u, w->nlevels + 1 - rank);
  } else {
    why_right = MDT_NO_RIGHT;       /* an unknown user holds nothing */
  }
  out->reason = why_user ? why_user : why_tenant ? why_tenant : why_right;
  out->failing = (why_user ? MDT_FAIL_USER : 0) |
                 (why_tenant ? MDT_FAIL_TENANT : 0) |
                 (why_right ? MDT_FAIL_RIGHT : 0) |
                 (u == NULL || why_tenant == MDT_UNKNOWN_TENANT
                    ? MDT_FAIL_UNKNOWN : 0);
  steps = out->failing & (MDT_FAIL_USER | MDT_FAIL_TENANT | MDT_FAIL_RIGHT);
  if (steps == 0) {
    out->fix = MDT_FIX_NONE;
  } else if ((out->failing & MDT_FAIL_UNKNOWN) ||
             (steps != MDT_FAIL_USER && steps != MDT_FAIL_TENANT &&
              steps != MDT_FAIL_RIGHT)) {
    out->fix = MDT_FIX_IMPOSSIBLE;  /* a key names nothing, or two steps */
  } else if (steps == MDT_FAIL_USER) {
    out->fix = MDT_FIX_ACTIVATE;    /* put_user(u, {active = true}) */
  } else if (steps == MDT_FAIL_TENANT) {
    out->fix = MDT_FIX_ACCESS;      /* the least access that passes */
    out->fix_access = r->mode == MDT_READ_MODE ? MDT_READ : MDT_FULL;
  } else {
    out->fix = MDT_FIX_OVERRIDE;
    out->fix_value = fix_value(w, u, r, out->value, rec);
  }
  return MDT_OK;
}

void ref_apply_fix(ref_user *u, const mdt_explanation *e, mdt_id right,
                   const mdt_record *rec)
{
  if (e->fix == MDT_FIX_ACTIVATE) u->active = 1;
  else if (e->fix == MDT_FIX_ACCESS)
    ref_user_access(u, rec->tenant, e->fix_access);
  else if (e->fix == MDT_FIX_OVERRIDE)
    ref_user_override(u, right, e->fix_value);
}
/* }}} */

/* Comparing with the engine {{{ */

int ref_same_explanation(const mdt_explanation *engine,
                         const mdt_explanation *ref)
{
  const mdt_explanation *x[2];
  int i;
  x[0] = engine;
  x[1] = ref;
  if (x[0]->reason == x[1]->reason && x[0]->kind == x[1]->kind &&
      x[0]->mode == x[1]->mode && x[0]->value == x[1]->value &&
      x[0]->source == x[1]->source && x[0]->access == x[1]->access &&
      x[0]->access_explicit == x[1]->access_explicit &&
      x[0]->anchor == x[1]->anchor && x[0]->matched == x[1]->matched &&
      x[0]->failing == x[1]->failing && x[0]->fix == x[1]->fix &&
      x[0]->fix_access == x[1]->fix_access &&
      x[0]->fix_value == x[1]->fix_value)
    return 1;
  for (i = 0; i < 2; i++)
    fprintf(stderr, "%s: reason %d kind %d mode %d value %d source %d "
            "access %d/%d anchor %lld matched %d failing %d fix %d/%d/%d\n",
            i ? "reference" : "engine", x[i]->reason, x[i]->kind,
            x[i]->mode, x[i]->value, x[i]->source, x[i]->access,
            x[i]->access_explicit, (long long)x[i]->anchor, x[i]->matched,
            x[i]->failing, x[i]->fix, x[i]->fix_access, x[i]->fix_value);
  return 0;
}
/* }}} */
