/*
** tree.c -- what makes an org tree valid: every parent exists, no unit is
** its own ancestor, and every unit sits on a level below its parent's
** (roots on any level).  Decided here once, for the compile (the whole
** tree, compile.c) and for the store's writer (the rows one change
** touches, src/store/tree.c), so that the two cannot disagree.
*/
#include <stdlib.h>

#include "mandate.h"

typedef struct ByID {        /* a row's id and its place in the input */
  mdt_id id;
  size_t at;
} ByID;

static int byid(const void *a, const void *b)
{
  mdt_id x = ((const ByID *)a)->id, y = ((const ByID *)b)->id;
  return x < y ? -1 : x > y;
}

/* The place of the row with id in the sorted index, or n when none. */
static size_t find(const ByID *index, size_t n, mdt_id id)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (index[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && index[lo].id == id ? index[lo].at : n;
}

static int fault_at(mdt_tree_fault *f, int rule, const mdt_tree_unit *u)
{
  f->rule = rule;
  f->unit = u->id;
  f->parent = u->parent;
  return MDT_CONSTRAINT;
}

/*
** Check units[0..n-1]; see mandate.h.  The rules are tried one after the
** other over all rows, each in the rows' order, so the first fault is the
** first row breaking the first rule: a missing parent, then a cycle (the
** first row whose walk up closes one: found by marking, each row walked
** once), then the level order.
*/
int mdt_tree_check(const mdt_tree_unit *units, size_t n,
                   mdt_tree_fault *fault)
{
  ByID *index;
  size_t *up, i, x;
  unsigned char *mark;                      /* 1: on the walk, 2: done */
  int rc = MDT_OK;
  if (fault == NULL || (units == NULL && n > 0)) return MDT_MISUSE;
  fault->rule = MDT_TREE_OK;
  fault->unit = fault->parent = 0;
  if (n == 0) return MDT_OK;
  index = malloc(n * sizeof *index);
  up = malloc(n * sizeof *up);
  mark = calloc(n, 1);
  if (index == NULL || up == NULL || mark == NULL) {
    rc = MDT_NOMEM;
    goto done;
  }
  for (i = 0; i < n; i++) {
    if (units[i].id <= 0 || units[i].parent < 0) {
      rc = MDT_RANGE;
      goto done;
    }
    index[i].id = units[i].id;
    index[i].at = i;
  }
  qsort(index, n, sizeof *index, byid);
  for (i = 1; i < n; i++)
    if (index[i].id == index[i - 1].id) {
      rc = MDT_MISUSE;                      /* one row per unit */
      goto done;
    }
  for (i = 0; i < n; i++) {
    up[i] = units[i].parent ? find(index, n, units[i].parent) : n;
    if (units[i].parent && up[i] == n) {
      rc = fault_at(fault, MDT_TREE_PARENT, &units[i]);
      goto done;
    }
  }
  for (i = 0; i < n; i++) {
    for (x = i; x != n && mark[x] == 0; x = up[x]) mark[x] = 1;
    if (x != n && mark[x] == 1) {
      rc = fault_at(fault, MDT_TREE_CYCLE, &units[x]);
      goto done;
    }
    for (x = i; x != n && mark[x] == 1; x = up[x]) mark[x] = 2;
  }
  for (i = 0; i < n; i++)
    if (up[i] != n && units[up[i]].depth >= units[i].depth) {
      rc = fault_at(fault, MDT_TREE_LEVEL, &units[i]);
      goto done;
    }
done:
  free(index);
  free(up);
  free(mark);
  return rc;
}
