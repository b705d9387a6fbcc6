/*
** compile.c -- turning what the builder was given into what checks read:
** the org tree validated and numbered in pre order, the anchor of every
** unit for every level, and one effective value per user and right.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define UKEY(s, id) ((s)->keys[MDT_UNIT].key[id])

/* The tree {{{ */

/* Message naming the units of the cycle through unit x. */
static int cycle(mdt_snap *s, mdt_id x)
{
  char path[ERRMSG_SIZE];
  size_t len = 0;
  mdt_id y = x;
  path[0] = '\0';
  do {
    int n = snprintf(path + len, sizeof path - len, "'%s' -> ", UKEY(s, y));
    if (n < 0 || (size_t)n >= sizeof path - len) break;  /* long: cut */
    len += (size_t)n;
    y = s->unit[y].parent;
  } while (y != x);
  return mdtB_error(s, MDT_CONSTRAINT, "units form a cycle: %s'%s'", path,
                    UKEY(s, x));
}

/*
** Every parent exists, no unit is its own ancestor, every parent sits on
** a higher level than its children.  MDT_CONSTRAINT otherwise.
*/
static int checktree(mdt_snap *s)
{
  mdt_id max = s->keys[MDT_UNIT].max, id, x;
  unsigned char *mark;                      /* 1: on the walk, 2: done */
  for (id = 1; id <= max; id++) {
    mdt_id p = HAS(s, MDT_UNIT, id) ? s->unit[id].parent : 0;
    if (p != 0 && !HAS(s, MDT_UNIT, p))
      return mdtB_error(s, MDT_CONSTRAINT, "unit '%s' (%" PRId64 "): parent "
                        "%" PRId64 " does not exist", UKEY(s, id), id, p);
  }
  if ((mark = calloc((size_t)max + 1, 1)) == NULL)
    return mdtB_error(s, MDT_NOMEM, "out of memory");
  for (id = 1; id <= max; id++) {
    if (!HAS(s, MDT_UNIT, id)) continue;
    for (x = id; x != 0 && mark[x] == 0; x = s->unit[x].parent) mark[x] = 1;
    if (x != 0 && mark[x] == 1) {
      free(mark);
      return cycle(s, x);
    }
    for (x = id; x != 0 && mark[x] == 1; x = s->unit[x].parent) mark[x] = 2;
  }
  free(mark);
  for (id = 1; id <= max; id++) {
    const Unit *u = &s->unit[id];
    if (HAS(s, MDT_UNIT, id) && u->parent != 0 &&
        s->unit[u->parent].depth >= u->depth)
      return mdtB_error(s, MDT_CONSTRAINT, "unit '%s': parent '%s' sits on "
                        "level '%s', not above level '%s'", UKEY(s, id),
                        UKEY(s, u->parent),
                        s->levelv[s->unit[u->parent].depth],
                        s->levelv[u->depth]);
  }
  return MDT_OK;
}

/*
** anchor(c, d): the topmost unit on the path up from c whose depth is d
** or more; c itself when c sits above d.  Depths fall strictly going up,
** so the units at d or below form the start of the path and the parent's
** anchor, when the parent qualifies, is the child's.
*/
static void anchors(mdt_snap *s, mdt_id c)
{
  int n = s->nlevels, d, depth = s->unit[c].depth;
  mdt_id p = s->unit[c].parent;
  mdt_id *a = s->anchor + (size_t)c * (size_t)n;
  for (d = 0; d < n; d++)
    a[d] = (depth >= d && p != 0 && s->unit[p].depth >= d)
             ? s->anchor[(size_t)p * (size_t)n + (size_t)d] : c;
}

/*
** Number the forest in pre order (children in id order) and fill the
** anchors on the way down.  Children are listed CSR style: the kids of p
** are kid[first[p] .. first[p+1]), the roots those of the virtual unit 0.
*/
static int number(mdt_snap *s)
{
  struct { mdt_id u; size_t next; } stack[MDT_MAX_LEVELS + 1];
  mdt_id max = s->keys[MDT_UNIT].max, id, pre = 0;
  size_t *first = calloc((size_t)max + 2, sizeof *first), sum = 0, i;
  mdt_id *kid = malloc(((size_t)max + 1) * sizeof *kid);
  int top = 0;
  if (first == NULL || kid == NULL) {
    free(first);
    free(kid);
    return mdtB_error(s, MDT_NOMEM, "out of memory");
  }
  for (id = 1; id <= max; id++)
    if (HAS(s, MDT_UNIT, id)) first[s->unit[id].parent]++;
  for (i = 0; i <= (size_t)max + 1; i++) first[i] = sum += first[i];
  for (id = max; id >= 1; id--)             /* backwards: kids in id order */
    if (HAS(s, MDT_UNIT, id)) kid[--first[s->unit[id].parent]] = id;
  stack[0].u = 0;
  stack[0].next = first[0];
  while (top >= 0) {                        /* depth < nlevels: no overflow */
    mdt_id u = stack[top].u;
    if (stack[top].next < first[u + 1]) {
      mdt_id c = kid[stack[top].next++];
      s->unit[c].pre = pre++;
      anchors(s, c);
      top++;
      stack[top].u = c;
      stack[top].next = first[c];
    } else {
      if (u != 0) s->unit[u].size = pre - s->unit[u].pre;
      top--;
    }
  }
  free(first);
  free(kid);
  return MDT_OK;
}
/* }}} */

/* Users {{{ */

static int checkuser(mdt_snap *s, mdt_id id)
{
  mdt_id unit = s->user[id].unit;
  if (unit != 0 && !HAS(s, MDT_UNIT, unit))
    return mdtB_error(s, MDT_CONSTRAINT, "user '%s': unit %" PRId64 " does "
                      "not exist", s->keys[MDT_USER].key[id], unit);
  return MDT_OK;
}

/* The join of DESIGN.md: flags OR (of 0/1: the max); scopes the highest
   rank, customer parts OR. */
static mdt_value join(mdt_value a, mdt_value b)
{
  int ra = MDT_V_RANK(a), rb = MDT_V_RANK(b);
  return (mdt_value)((ra > rb ? ra : rb) | ((a | b) & MDT_V_CUSTOMER));
}

/* Fill the user's row of effective values: bundles joined, then overrides. */
static void effective(mdt_snap *s, mdt_id id)
{
  const UserLists *l = &s->lists[id];
  mdt_value *row = s->eff + (size_t)id * s->stride;
  size_t i, j;
  memset(row, 0, s->stride * sizeof *row);
  for (i = 0; i < l->bundles.n; i++) {
    const PairVec *v = &s->bundle[l->bundles.p[i]].vals;
    for (j = 0; j < v->n; j++)
      row[v->p[j].id] = join(row[v->p[j].id], (mdt_value)v->p[j].val);
  }
  for (j = 0; j < l->over.n; j++)
    row[l->over.p[j].id] = (mdt_value)l->over.p[j].val;
  s->user[id].compiled = 1;
}
/* }}} */

/*
** Compile; see mandate.h.  MDT_CONSTRAINT (with a message naming the
** units or user) for a missing parent, a cycle, a parent not above its
** child, or a user whose unit does not exist; MDT_NOMEM; MDT_MISUSE when
** compiled already.  On failure nothing is compiled: fix and call again.
*/
int mdt_snap_compile(mdt_snap *s)
{
  mdt_id id, maxuser, maxunit;
  size_t nanchor;
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if (s->compiled)
    return mdtB_error(s, MDT_MISUSE, "the snapshot is compiled already");
  if ((rc = checktree(s)) != MDT_OK) return rc;
  maxuser = s->keys[MDT_USER].max;
  maxunit = s->keys[MDT_UNIT].max;
  for (id = 1; id <= maxuser; id++)
    if (HAS(s, MDT_USER, id) && (rc = checkuser(s, id)) != MDT_OK)
      return rc;
  nanchor = ((size_t)maxunit + 1) * (size_t)s->nlevels;
  s->stride = (size_t)s->keys[MDT_RIGHT].max + 1;
  s->effrows = maxuser + 1;
  s->anchor = malloc((nanchor ? nanchor : 1) * sizeof *s->anchor);
  s->eff = malloc((size_t)s->effrows * s->stride * sizeof *s->eff);
  if (s->anchor == NULL || s->eff == NULL || number(s) != MDT_OK) {
    free(s->anchor);
    free(s->eff);
    s->anchor = NULL;
    s->eff = NULL;
    return mdtB_error(s, MDT_NOMEM, "out of memory");
  }
  for (id = 1; id <= maxuser; id++)
    if (HAS(s, MDT_USER, id)) effective(s, id);
  s->compiled = 1;
  return MDT_OK;
}

/*
** Compile one user after mdt_snap_put_user on a compiled snapshot (also
** a user compiled already: recomputed).  MDT_MISUSE before
** mdt_snap_compile, MDT_NOTFOUND for an unknown user, MDT_CONSTRAINT when
** its unit does not exist, MDT_NOMEM; the user stays uncompiled then.
*/
int mdt_snap_compile_user(mdt_snap *s, mdt_id user)
{
  int rc;
  if (s == NULL) return MDT_MISUSE;
  if (!s->compiled)
    return mdtB_error(s, MDT_MISUSE, "compile the snapshot before a user");
  if (!HAS(s, MDT_USER, user))
    return mdtB_error(s, MDT_NOTFOUND, "no user %" PRId64, user);
  if ((rc = checkuser(s, user)) != MDT_OK) return rc;
  if (user >= s->effrows) {                 /* a new id beyond the rows */
    mdt_id rows = s->effrows * 2 > user ? s->effrows * 2 : user + 1;
    void *p = realloc(s->eff, (size_t)rows * s->stride * sizeof *s->eff);
    if (p == NULL) return mdtB_error(s, MDT_NOMEM, "out of memory");
    s->eff = p;                             /* new rows: filled when used */
    s->effrows = rows;
  }
  effective(s, user);
  return MDT_OK;
}
