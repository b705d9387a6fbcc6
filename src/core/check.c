/*
** check.c -- where a check is decided: the steps of docs/semantics.md
** section 3.9 as helpers (tenant gate, scope match) that mdt_check runs
** in order and mdt_explain runs all of.  Nothing here allocates or
** hashes: a check is a few array loads, a binary search over the user's
** access rows for a tenant, over the user's customers for a "+customer"
** value.
*/
#include "core_int.h"

/* Sorted lookups {{{ */

/*
** Index of the first pair with an id >= id (v->n when none).
*/
size_t mdtC_pairpos(const PairVec *v, mdt_id id)
{
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->p[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/*
** Index of the first id >= id (v->n when none).
*/
size_t mdtC_idpos(const IdVec *v, mdt_id id)
{
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->p[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/*
** 1 when the (present) user manages customer.
*/
int mdtC_manages(const mdt_snap *s, mdt_id user, mdt_id customer)
{
  const IdVec *c = &s->lists[user].cust;
  size_t i = mdtC_idpos(c, customer);
  return i < c->n && c->p[i] == customer;
}
/* }}} */

/* Steps {{{ */

/*
** Access of compiled user to tenant: the user's explicit row
** (*explicit_row = 1), else the tenant's default (0); user 0 has no rows.
** -1 for a tenant that names nothing.
*/
int mdtC_access(const mdt_snap *s, mdt_id user, mdt_id tenant,
                int *explicit_row)
{
  *explicit_row = 0;
  if (!HAS(s, MDT_TENANT, tenant)) return -1;
  if (user != 0) {
    const uint32_t *b = s->acc + s->user[user].acc, *t = b + 1;
    size_t n = b[0], lo = 0, hi = n;        /* the block: see core_int.h */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (t[mid] < tenant) lo = mid + 1;
      else hi = mid;
    }
    if (lo < n && t[lo] == tenant) {
      *explicit_row = 1;
      return (int)t[n + lo];
    }
  }
  return s->tdefault[tenant];
}

/*
** Step 3, the tenant gate for a right of mode: MDT_ALLOWED (also for no
** record or no tenant) or the tenant reason.  *access gets the access
** applied, -1 without a gate or for an unknown tenant.
*/
int mdtC_gate(const mdt_snap *s, mdt_id user, int mode,
              const mdt_record *rec, int *access, int *explicit_row)
{
  *access = -1;
  *explicit_row = 0;
  if (rec == NULL || rec->tenant == MDT_ABSENT) return MDT_ALLOWED;
  *access = mdtC_access(s, user, rec->tenant, explicit_row);
  if (*access < 0) return MDT_UNKNOWN_TENANT;
  if (*access == MDT_HIDDEN) return MDT_TENANT_HIDDEN;
  if (*access == MDT_READ && mode == MDT_WRITE) return MDT_TENANT_READ_ONLY;
  return MDT_ALLOWED;
}

/*
** The unit whose subtree a level rank of the (compiled) user reaches, 0
** when rank is no level or the user has no unit.
*/
mdt_id mdtC_anchor(const mdt_snap *s, mdt_id user, int rank)
{
  int n = s->nlevels;
  mdt_id unit = s->user[user].unit;
  if (rank <= MDT_V_OWN || rank > n + 1 || unit == 0) return 0;
  return s->anchor[(size_t)unit * (size_t)n + (size_t)(n + 1 - rank)];
}

/*
** The record's unit: its own, else its owner's when the owner is a known
** user with a unit; 0 when none, or when it names no unit.
*/
static mdt_id recunit(const mdt_snap *s, const mdt_record *rec)
{
  mdt_id x = rec->unit, o = rec->owner;
  if (x == MDT_ABSENT && COMPILED(s, o))
    x = s->user[o].unit;
  /* a unit of the numbered tree spans at least itself, a hole nothing:
     unit[x], read next anyway, tells without the key table */
  return x > 0 && x <= s->keys[MDT_UNIT].max && s->unit[x].size > 0 ? x : 0;
}

/*
** What in value v of a right of kind lets the (compiled) user reach rec:
** MDT_MATCH_NONE when nothing does (docs/semantics.md section 3.4).
** Scope parts are tried in the order customer, own, then all or the
** level (a value has one rank, never both).
*/
int mdtC_match(const mdt_snap *s, mdt_id user, int kind, mdt_value v,
               const mdt_record *rec)
{
  int rank = MDT_V_RANK(v);
  mdt_id a, x;
  if (kind == MDT_FLAG) return v ? MDT_MATCH_FLAG : MDT_MATCH_NONE;
  if (v == 0) return MDT_MATCH_NONE;        /* none, no customer part */
  if (rec == NULL || (rec->owner == MDT_ABSENT && rec->unit == MDT_ABSENT &&
                      rec->customer == MDT_ABSENT))
    return MDT_MATCH_HOLD;
  if ((v & MDT_V_CUSTOMER) && rec->customer > 0 &&
      mdtC_manages(s, user, rec->customer))
    return MDT_MATCH_CUSTOMER;
  if (rank >= MDT_V_OWN && rec->owner == user) return MDT_MATCH_OWN;
  if (rank == RANK_ALL(s)) return MDT_MATCH_ALL;
  if ((a = mdtC_anchor(s, user, rank)) != 0 && (x = recunit(s, rec)) != 0 &&
      s->unit[a].pre <= s->unit[x].pre &&
      s->unit[x].pre < s->unit[a].pre + s->unit[a].size)
    return MDT_MATCH_LEVEL;
  return MDT_MATCH_NONE;
}

/*
** Step 4 for value v: MDT_ALLOWED, MDT_NO_RIGHT (false / none) or
** MDT_OUT_OF_SCOPE; *matched gets mdtC_match's answer.
*/
int mdtC_right(const mdt_snap *s, mdt_id user, int kind, mdt_value v,
               const mdt_record *rec, int *matched)
{
  *matched = mdtC_match(s, user, kind, v, rec);
  if (*matched != MDT_MATCH_NONE) return MDT_ALLOWED;
  return v == 0 ? MDT_NO_RIGHT : MDT_OUT_OF_SCOPE;
}
/* }}} */

/* Step 2, the user: see mandate.h. */
static int user_step(const mdt_snap *s, mdt_id user)
{
  if (!COMPILED(s, user)) return MDT_UNKNOWN_USER;
  return s->user[user].active ? MDT_ALLOWED : MDT_INACTIVE_USER;
}

int mdt_user_step(const mdt_snap *s, mdt_id user)
{
  return s == NULL ? MDT_UNKNOWN_USER : user_step(s, user);
}

/*
** Decide; see mandate.h.  A NULL snapshot knows no right: the answer is
** MDT_UNKNOWN_RIGHT.
*/
int mdt_check(const mdt_snap *s, mdt_id user, mdt_id right,
              const mdt_record *rec)
{
  const Right *rt;
  int why, access, explicit_row, matched;
  if (s == NULL || !HAS(s, MDT_RIGHT, right)) return MDT_UNKNOWN_RIGHT;
  if ((why = user_step(s, user)) != MDT_ALLOWED) return why;
  rt = &s->right[right];
  why = mdtC_gate(s, user, rt->mode, rec, &access, &explicit_row);
  if (why != MDT_ALLOWED) return why;
  return mdtC_right(s, user, rt->kind, EFF(s, user, right), rec, &matched);
}
