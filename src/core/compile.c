/*
** compile.c -- turning what the builder was given into what checks read:
** the org tree validated and numbered in pre order, the anchor of every
** unit for every level, and each user's row of effective values, shared
** with every user whose row is equal (core_int.h, Profiles).
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
** The tree rules (tree.c) over every unit, in id order; a fault becomes
** MDT_CONSTRAINT with a message naming the units.
*/
static int checktree(mdt_snap *s)
{
  mdt_id max = s->keys[MDT_UNIT].max, id;
  mdt_tree_unit *units = malloc(((size_t)max + 1) * sizeof *units);
  mdt_tree_fault f;
  size_t n = 0;
  int rc;
  if (units == NULL) return mdtB_error(s, MDT_NOMEM, "out of memory");
  for (id = 1; id <= max; id++)
    if (HAS(s, MDT_UNIT, id)) {
      units[n].id = id;
      units[n].parent = s->unit[id].parent;
      units[n++].depth = s->unit[id].depth;
    }
  rc = mdt_tree_check(units, n, &f);
  free(units);
  if (rc == MDT_NOMEM) return mdtB_error(s, MDT_NOMEM, "out of memory");
  if (rc != MDT_CONSTRAINT) return rc;
  switch (f.rule) {
    case MDT_TREE_PARENT:
      return mdtB_error(s, MDT_CONSTRAINT, "unit '%s' (%" PRId64 "): parent "
                        "%" PRId64 " does not exist", UKEY(s, f.unit), f.unit,
                        f.parent);
    case MDT_TREE_CYCLE:
      return cycle(s, f.unit);
    default:
      return mdtB_error(s, MDT_CONSTRAINT, "unit '%s': parent '%s' sits on "
                        "level '%s', not above level '%s'", UKEY(s, f.unit),
                        UKEY(s, f.parent), s->levelv[s->unit[f.parent].depth],
                        s->levelv[s->unit[f.unit].depth]);
  }
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

/* Profiles {{{ */

/* Profile q's row. */
static mdt_value *row(const mdt_snap *s, uint32_t q)
{
  return s->eff + (size_t)q * s->stride;
}

/* A row's hash: its 64-bit words (stride holds whole words) mixed in. */
static uint32_t rowhash(const mdt_value *r, size_t stride)
{
  uint64_t h = 0, w;
  size_t i;
  for (i = 0; i < stride; i += sizeof w / sizeof *r) {
    memcpy(&w, r + i, sizeof w);
    h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
    h ^= h >> 29;
  }
  return (uint32_t)(h ^ (h >> 32));
}

static void place(Profiles *p, uint32_t q)
{
  size_t mask = p->nslot - 1, i = p->hash[q] & mask;
  while (p->slot[i] != 0) i = (i + 1) & mask;
  p->slot[i] = q + 1;
}

/* Remove profile q from the table; later entries of its run shift back
   over the gap, as in keys.c. */
static void unslot(Profiles *p, uint32_t q)
{
  size_t mask = p->nslot - 1, i = p->hash[q] & mask, j;
  while (p->slot[i] != q + 1) i = (i + 1) & mask;
  p->slot[i] = 0;
  for (j = (i + 1) & mask; p->slot[j] != 0; j = (j + 1) & mask) {
    size_t home = p->hash[p->slot[j] - 1] & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {  /* home not in (i, j] */
      p->slot[i] = p->slot[j];
      p->slot[j] = 0;
      i = j;
    }
  }
}

/* Grow arr to cap entries. */
#define REGROW(arr, cap) do { \
    void *p_ = realloc((arr), (size_t)(cap) * sizeof *(arr)); \
    if (p_ == NULL) return MDT_NOMEM; \
    (arr) = p_; \
  } while (0)

/*
** Room for one new profile: a row to compute it in and a table at most
** half full with it.  MDT_NOMEM leaves every profile as it was.
*/
static int room(mdt_snap *s)
{
  Profiles *p = &s->prof;
  if (p->nfree == 0 && p->n == p->cap) {
    uint32_t cap = p->cap ? p->cap * 2 : 16;
    if (cap < p->cap) return MDT_NOMEM;     /* 2^31 profiles: never */
    REGROW(s->eff, (size_t)cap * s->stride);
    REGROW(p->users, cap);
    REGROW(p->hash, cap);
    REGROW(p->free, cap);
    p->cap = cap;
  }
  if ((size_t)(p->n - p->nfree + 1) * 2 > p->nslot) {
    size_t nslot = p->nslot ? p->nslot * 2 : 32, i;
    uint32_t *old = p->slot, *slot = calloc(nslot, sizeof *slot);
    if (slot == NULL) return MDT_NOMEM;
    p->slot = slot;
    p->nslot = nslot;
    for (i = 0; old != NULL && i < nslot / 2; i++)
      if (old[i] != 0) place(p, old[i] - 1);
    free(old);
  }
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

/*
** Compile user id: its row of effective values (bundles joined, then
** overrides) is computed where a new profile would go, then the user
** takes an equal profile if there is one, else that new one.  The
** profile it had loses a user.  MDT_NOMEM changes nothing.
*/
static int effective(mdt_snap *s, mdt_id id)
{
  Profiles *p = &s->prof;
  const UserLists *l = &s->lists[id];
  User *u = &s->user[id];
  uint32_t q, h, old = u->profile;
  mdt_value *r;
  size_t i, j;
  if (room(s) != MDT_OK) return MDT_NOMEM;
  q = p->nfree ? p->free[p->nfree - 1] : p->n;
  r = row(s, q);
  memset(r, 0, s->stride * sizeof *r);
  for (i = 0; i < l->bundles.n; i++) {
    const PairVec *v = &s->bundle[l->bundles.p[i]].vals;
    for (j = 0; j < v->n; j++)
      r[v->p[j].id] = mdtV_join(r[v->p[j].id], (mdt_value)v->p[j].val);
  }
  for (j = 0; j < l->over.n; j++)
    r[l->over.p[j].id] = (mdt_value)l->over.p[j].val;
  h = rowhash(r, s->stride);
  for (i = h & (p->nslot - 1); p->slot[i] != 0; i = (i + 1) & (p->nslot - 1))
    if (p->hash[p->slot[i] - 1] == h &&
        memcmp(row(s, p->slot[i] - 1), r, s->stride * sizeof *r) == 0)
      break;
  if (p->slot[i] != 0) {
    q = p->slot[i] - 1;
  } else {                                  /* a new profile: q */
    p->hash[q] = h;
    p->slot[i] = q + 1;
    p->users[q] = 0;
    if (p->nfree) p->nfree--;
    else p->n++;
  }
  p->users[q]++;
  u->profile = q;
  u->compiled = 1;
  if (old != 0 && --p->users[old] == 0) {   /* its last user moved away */
    unslot(p, old);
    p->free[p->nfree++] = old;
  }
  return MDT_OK;
}
/* }}} */

/* Access rows {{{ */

/* Write rows as the block at acc[at] (the layout: core_int.h). */
static void block(mdt_snap *s, size_t at, const PairVec *rows)
{
  uint32_t *b = s->acc + at;
  size_t i, n = rows->n;
  b[0] = (uint32_t)n;
  for (i = 0; i < n; i++) {
    b[1 + i] = (uint32_t)rows->p[i].id;
    b[1 + n + i] = (uint32_t)rows->p[i].val;
  }
}

static size_t blocklen(const uint32_t *b)
{
  return 1 + 2 * (size_t)b[0];
}

/*
** Room for len more entries at the end of acc: grown, or packed anew
** into cap entries when dead blocks make up half of it.  The blocks of
** users not compiled are dropped then (they point at block 0).  Offsets
** are 32 bits: MDT_NOMEM beyond.
*/
static int accroom(mdt_snap *s, size_t len)
{
  size_t need = s->nacc + len, cap, at = 1;
  int repack = s->deadacc * 2 > s->nacc;
  uint32_t *acc;
  mdt_id id;
  if (need <= s->capacc) return MDT_OK;
  if (need > UINT32_MAX) return MDT_NOMEM;
  cap = repack ? 2 * (s->nacc - s->deadacc + len)
               : s->capacc * 2 > need ? s->capacc * 2 : need;
  if (cap > UINT32_MAX) cap = UINT32_MAX;   /* still >= need */
  if (!repack) {
    if ((acc = realloc(s->acc, cap * sizeof *acc)) == NULL) return MDT_NOMEM;
    s->acc = acc;
    s->capacc = cap;
    return MDT_OK;
  }
  if ((acc = malloc(cap * sizeof *acc)) == NULL) return MDT_NOMEM;
  acc[0] = 0;
  for (id = 1; id <= s->keys[MDT_USER].max; id++) {
    User *u = &s->user[id];
    size_t n = u->compiled ? blocklen(s->acc + u->acc) : 0;
    memcpy(acc + at, s->acc + u->acc, n * sizeof *acc);
    u->acc = n ? (uint32_t)at : 0;
    at += n;
  }
  free(s->acc);
  s->acc = acc;
  s->nacc = at;
  s->capacc = cap;
  s->deadacc = 0;
  return MDT_OK;
}

/*
** Write the block of user id's rows: where its block is when the count
** is the same, else at the end (the old block dies).  MDT_NOMEM.
*/
static int accrows(mdt_snap *s, mdt_id id)
{
  const PairVec *rows = &s->lists[id].acc;
  User *u = &s->user[id];
  size_t len = 1 + 2 * rows->n;
  if (u->acc != 0 && s->acc[u->acc] == rows->n) {
    block(s, u->acc, rows);
    return MDT_OK;
  }
  if (accroom(s, len) != MDT_OK) return MDT_NOMEM;
  if (u->acc != 0) s->deadacc += blocklen(s->acc + u->acc);
  u->acc = (uint32_t)s->nacc;
  block(s, s->nacc, rows);
  s->nacc += len;
  return MDT_OK;
}
/* }}} */

/*
** Free what compiling users adds to s (the profiles and the packed access
** rows) and zero it; the users themselves are left as they are.
*/
void mdtP_free(mdt_snap *s)
{
  Profiles *p = &s->prof;
  free(s->eff);
  free(p->users);
  free(p->hash);
  free(p->free);
  free(p->slot);
  free(s->acc);
  s->eff = NULL;
  s->acc = NULL;
  s->nacc = s->capacc = s->deadacc = 0;
  memset(p, 0, sizeof *p);
}

/* Forget every profile and block of access rows: no user is compiled. */
static void uncompile(mdt_snap *s)
{
  mdt_id id;
  for (id = 1; id <= s->keys[MDT_USER].max; id++) {
    s->user[id].profile = 0;
    s->user[id].acc = 0;
    s->user[id].compiled = 0;
  }
  mdtP_free(s);
}

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
  s->stride = ((size_t)s->keys[MDT_RIGHT].max + 4) & ~(size_t)3;
  s->anchor = malloc((nanchor ? nanchor : 1) * sizeof *s->anchor);
  s->acc = calloc(1, sizeof *s->acc);       /* block 0: no rows */
  rc = s->anchor != NULL && s->acc != NULL && number(s) == MDT_OK ? room(s)
                                                                  : MDT_NOMEM;
  if (rc == MDT_OK) {                       /* profile 0, the placeholder */
    memset(row(s, 0), 0, s->stride * sizeof *s->eff);
    s->prof.n = 1;
    s->nacc = s->capacc = 1;
  }
  for (id = 1; id <= maxuser && rc == MDT_OK; id++)
    if (HAS(s, MDT_USER, id) && (rc = accrows(s, id)) == MDT_OK)
      rc = effective(s, id);
  if (rc != MDT_OK) {
    free(s->anchor);
    s->anchor = NULL;
    uncompile(s);
    return mdtB_error(s, MDT_NOMEM, "out of memory");
  }
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
  if (accrows(s, user) != MDT_OK || effective(s, user) != MDT_OK)
    return mdtB_error(s, MDT_NOMEM, "out of memory");
  return MDT_OK;
}
