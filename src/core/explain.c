/*
** explain.c -- why a check came out as it did, and the smallest single
** change that would allow it.  Runs every step of check.c, not only up
** to the first failing one, with the same helpers, so the reason always
** equals mdt_check's.
*/
#include <string.h>

#include "core_int.h"

/*
** The lowest override for right rt that lets user reach rec, given its
** value v fails: a flag's true; for a scope v plus the customer part when
** that reaches rec, else the next rank up (own, levels bottom to top,
** all) that reaches it, keeping v's customer part.  all always does.
*/
static mdt_value smallest(const mdt_snap *s, mdt_id user, const Right *rt,
                          mdt_value v, const mdt_record *rec)
{
  int cust = v & MDT_V_CUSTOMER, rank;
  if (rt->kind == MDT_FLAG) return 1;
  if (rt->custok && !cust && rec != NULL && rec->customer > 0 &&
      mdtC_manages(s, user, rec->customer))
    return (mdt_value)(v | MDT_V_CUSTOMER);
  for (rank = MDT_V_RANK(v) + 1; rank < RANK_ALL(s); rank++)
    if (mdtC_match(s, user, MDT_SCOPE, (mdt_value)(rank | cust), rec)
        != MDT_MATCH_NONE)
      break;
  return (mdt_value)(rank | cust);
}

/*
** Explain a check; see mandate.h.  An unknown user holds nothing and has
** no access rows; an inactive user's steps run with the value and rows
** it would have.  MDT_NOTFOUND (out->reason = MDT_UNKNOWN_RIGHT, the rest
** zero) for an unknown right, MDT_MISUSE for NULL s or out.
*/
int mdt_explain(const mdt_snap *s, mdt_id user, mdt_id right,
                const mdt_record *rec, mdt_explanation *out)
{
  const Right *rt;
  int known, why_user, why_tenant, why_right, steps;
  if (s == NULL || out == NULL) return MDT_MISUSE;
  memset(out, 0, sizeof *out);
  out->access = -1;
  if (!HAS(s, MDT_RIGHT, right)) {
    out->reason = MDT_UNKNOWN_RIGHT;
    return MDT_NOTFOUND;
  }
  rt = &s->right[right];
  out->kind = rt->kind;
  out->mode = rt->mode;
  known = COMPILED(s, user);
  why_user = !known ? MDT_UNKNOWN_USER
           : !s->user[user].active ? MDT_INACTIVE_USER : MDT_ALLOWED;
  why_tenant = mdtC_gate(s, known ? user : 0, rt->mode, rec, &out->access,
                         &out->access_explicit);
  if (known) {
    out->value = mdt_effective(s, user, right, &out->source);
    why_right = mdtC_right(s, user, rt->kind, out->value, rec,
                           &out->matched);
    if (rt->kind == MDT_SCOPE)
      out->anchor = mdtC_anchor(s, user, MDT_V_RANK(out->value));
  } else {
    why_right = MDT_NO_RIGHT;               /* an unknown user holds nothing */
  }
  out->failing = (why_user ? MDT_FAIL_USER : 0) |
                 (why_tenant ? MDT_FAIL_TENANT : 0) |
                 (why_right ? MDT_FAIL_RIGHT : 0) |
                 (!known || why_tenant == MDT_UNKNOWN_TENANT
                    ? MDT_FAIL_UNKNOWN : 0);
  out->reason = why_user ? why_user : why_tenant ? why_tenant : why_right;
  steps = out->failing & (MDT_FAIL_USER | MDT_FAIL_TENANT | MDT_FAIL_RIGHT);
  if (steps == 0) {
    out->fix = MDT_FIX_NONE;
  } else if ((out->failing & MDT_FAIL_UNKNOWN) || (steps & (steps - 1))) {
    out->fix = MDT_FIX_IMPOSSIBLE;          /* unknown, or two steps fail */
  } else if (steps == MDT_FAIL_USER) {
    out->fix = MDT_FIX_ACTIVATE;
  } else if (steps == MDT_FAIL_TENANT) {
    out->fix = MDT_FIX_ACCESS;
    out->fix_access = rt->mode == MDT_READ_MODE ? MDT_READ : MDT_FULL;
  } else {
    out->fix = MDT_FIX_OVERRIDE;
    out->fix_value = smallest(s, user, rt, out->value, rec);
  }
  return MDT_OK;
}
