/*
** read.c -- reading a snapshot back: keys, levels, what was given for
** each entity, and the derived effective values and access.  None of
** these writes to the snapshot.
*/
#include "core_int.h"

/* Keys and levels {{{ */

/*
** Key of id of the given kind, or NULL when there is none.
*/
const char *mdt_key(const mdt_snap *s, int kind, mdt_id id)
{
  const Keys *k;
  if (s == NULL || kind < 0 || kind >= MDT_NKINDS) return NULL;
  k = &s->keys[kind];
  return id > 0 && id <= k->max ? k->key[id] : NULL;   /* NULL for holes */
}

/*
** Largest id of a kind ever added; 0 for none or bad arguments.
*/
mdt_id mdt_max_id(const mdt_snap *s, int kind)
{
  if (s == NULL || kind < 0 || kind >= MDT_NKINDS) return 0;
  return s->keys[kind].max;
}

/*
** Level names, top to bottom, *n their count (NULL and 0 for NULL s).
*/
const char *const *mdt_levels(const mdt_snap *s, int *n)
{
  if (n != NULL) *n = s != NULL ? s->nlevels : 0;
  return s != NULL ? s->levelv : NULL;
}
/* }}} */

/* Entities {{{ */

/*
** A right's kind, mode and customer option (any pointer may be NULL).
** MDT_NOTFOUND when unknown, MDT_MISUSE for NULL s.
*/
int mdt_right_info(const mdt_snap *s, mdt_id right, int *kind, int *mode,
                   int *customer_ok)
{
  const Right *rt;
  if (s == NULL) return MDT_MISUSE;
  if (!HAS(s, MDT_RIGHT, right)) return MDT_NOTFOUND;
  rt = &s->right[right];
  if (kind != NULL) *kind = rt->kind;
  if (mode != NULL) *mode = rt->mode;
  if (customer_ok != NULL) *customer_ok = rt->custok;
  return MDT_OK;
}

/*
** A unit's depth and parent (any pointer may be NULL).  MDT_NOTFOUND when
** unknown, MDT_MISUSE for NULL s.
*/
int mdt_unit_info(const mdt_snap *s, mdt_id unit, int *depth,
                  mdt_id *parent)
{
  if (s == NULL) return MDT_MISUSE;
  if (!HAS(s, MDT_UNIT, unit)) return MDT_NOTFOUND;
  if (depth != NULL) *depth = s->unit[unit].depth;
  if (parent != NULL) *parent = s->unit[unit].parent;
  return MDT_OK;
}

/*
** A user's unit, active flag and bundles, as given (also before the user
** is compiled; any pointer may be NULL).  MDT_NOTFOUND when unknown,
** MDT_MISUSE for NULL s.
*/
int mdt_user_info(const mdt_snap *s, mdt_id user, mdt_id *unit, int *active,
                  const mdt_id **bundles, int *nbundles)
{
  const User *u;
  if (s == NULL) return MDT_MISUSE;
  if (!HAS(s, MDT_USER, user)) return MDT_NOTFOUND;
  u = &s->user[user];
  if (unit != NULL) *unit = u->unit;
  if (active != NULL) *active = u->active;
  if (bundles != NULL) *bundles = s->lists[user].bundles.p;
  if (nbundles != NULL) *nbundles = (int)s->lists[user].bundles.n;
  return MDT_OK;
}

/* 1 and *v set (v may be NULL) when r's value is in pairs, else 0. */
static int given(const PairVec *pairs, mdt_id r, mdt_value *v)
{
  size_t i = mdtC_pairpos(pairs, r);
  if (i >= pairs->n || pairs->p[i].id != r) return 0;
  if (v != NULL) *v = (mdt_value)pairs->p[i].val;
  return 1;
}

/*
** 1 and *v set when bundle gives right a value, 0 otherwise.
*/
int mdt_bundle_value(const mdt_snap *s, mdt_id bundle, mdt_id right,
                     mdt_value *v)
{
  if (s == NULL || !HAS(s, MDT_BUNDLE, bundle)) return 0;
  return given(&s->bundle[bundle].vals, right, v);
}

/*
** 1 and *v set when user has an override for right, 0 otherwise.
*/
int mdt_override(const mdt_snap *s, mdt_id user, mdt_id right, mdt_value *v)
{
  if (s == NULL || !HAS(s, MDT_USER, user)) return 0;
  return given(&s->lists[user].over, right, v);
}
/* }}} */

/* Derived {{{ */

/* Where user's value for right comes from: MDT_SRC_*. */
static int source(const mdt_snap *s, const UserLists *l, mdt_id right)
{
  size_t i;
  if (given(&l->over, right, NULL)) return MDT_SRC_OVERRIDE;
  for (i = 0; i < l->bundles.n; i++)
    if (given(&s->bundle[l->bundles.p[i]].vals, right, NULL))
      return MDT_SRC_BUNDLES;
  return MDT_SRC_NONE;
}

/*
** The user's effective value for right; see mandate.h.  *source (may be
** NULL) is MDT_SRC_OVERRIDE for an override, MDT_SRC_BUNDLES when one of
** the user's bundles gives right a value, MDT_SRC_NONE otherwise.  0 and
** MDT_SRC_NONE for unknown rights and users, also users not compiled yet.
*/
mdt_value mdt_effective(const mdt_snap *s, mdt_id user, mdt_id right,
                        int *src)
{
  if (src != NULL) *src = MDT_SRC_NONE;
  if (s == NULL || !HAS(s, MDT_RIGHT, right) || !COMPILED(s, user))
    return 0;
  if (src != NULL) *src = source(s, &s->lists[user], right);
  return EFF(s, user, right);
}

/*
** What the user's bundles give right, joined (docs/semantics.md section
** 3.2, steps 2 and 3: the override left out); 0 for unknown users and
** rights.
*/
mdt_value mdt_bundled(const mdt_snap *s, mdt_id user, mdt_id right)
{
  const IdVec *b;
  mdt_value v = 0, x;
  size_t i;
  if (s == NULL || !HAS(s, MDT_USER, user) || !HAS(s, MDT_RIGHT, right))
    return 0;
  b = &s->lists[user].bundles;
  for (i = 0; i < b->n; i++)
    if (given(&s->bundle[b->p[i]].vals, right, &x)) v = mdtV_join(v, x);
  return v;
}

/*
** The user's access to tenant: the explicit row, else the tenant default;
** *explicit_row (may be NULL) gets 1 or 0.  -1 for an unknown user or
** tenant.  Read from the rows as given, so users not compiled yet answer
** too; checks read the compiled copy (mdtC_access), equal once compiled.
*/
int mdt_access(const mdt_snap *s, mdt_id user, mdt_id tenant,
               int *explicit_row)
{
  mdt_value v = 0;
  int ex = 0, a = -1;
  if (s != NULL && HAS(s, MDT_USER, user) && HAS(s, MDT_TENANT, tenant)) {
    ex = given(&s->lists[user].acc, tenant, &v);
    a = ex ? v : s->tdefault[tenant];
  }
  if (explicit_row != NULL) *explicit_row = ex;
  return a;
}

/*
** 1 when user manages customer, else 0.
*/
int mdt_manages(const mdt_snap *s, mdt_id user, mdt_id customer)
{
  return s != NULL && HAS(s, MDT_USER, user) &&
         mdtC_manages(s, user, customer);
}
/* }}} */
