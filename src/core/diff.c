/*
** diff.c -- where two snapshots are compared: which users' effective
** values and tenant access differ between them (a dry run's impact).
**
** Entities are matched by key, not id, so that a user deleted and put
** again (with a new id, or the old one reused) is still that user.  Most
** users of a change keep their rows: with the same levels, rights and
** tenants on both sides, a user whose row of effective values and whose
** access rows are equal is skipped after one comparison each.
*/
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

typedef struct Match {       /* one key of a kind, its id on each side */
  const char *key;
  mdt_id a, b;               /* 0 where that side lacks it */
} Match;

typedef struct Rows {        /* the growing result */
  mdt_diff_row *p;
  size_t n, cap;
} Rows;

static int by_key(const void *x, const void *y)
{
  return strcmp(((const Match *)x)->key, ((const Match *)y)->key);
}

/*
** The keys of kind in a or b, matched, in byte order: *out (free it) and
** *n.  MDT_OK or MDT_NOMEM.
*/
static int match(const mdt_snap *a, const mdt_snap *b, int kind, Match **out,
                 size_t *n)
{
  mdt_id ma = a->keys[kind].max, mb = b->keys[kind].max, id;
  Match *m = malloc(((size_t)ma + (size_t)mb + 1) * sizeof *m);
  size_t k = 0;
  if (m == NULL) return MDT_NOMEM;
  for (id = 1; id <= ma; id++) {
    const char *key = a->keys[kind].key[id];
    if (key == NULL) continue;
    m[k].key = key;
    m[k].a = id;
    m[k++].b = mdt_lookup(b, kind, key, strlen(key));
  }
  for (id = 1; id <= mb; id++) {
    const char *key = b->keys[kind].key[id];
    if (key == NULL || mdt_lookup(a, kind, key, strlen(key))) continue;
    m[k].key = key;
    m[k].a = 0;
    m[k++].b = id;
  }
  qsort(m, k, sizeof *m, by_key);
  *out = m;
  *n = k;
  return MDT_OK;
}

static int same_levels(const mdt_snap *a, const mdt_snap *b)
{
  int i;
  if (a->nlevels != b->nlevels) return 0;
  for (i = 0; i < a->nlevels; i++)
    if (strcmp(a->levelv[i], b->levelv[i]) != 0) return 0;
  return 1;
}

/* Do the matched rights have the same ids and kinds on both sides? */
static int rights_alike(const mdt_snap *a, const mdt_snap *b, const Match *m,
                        size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (m[i].a != m[i].b || a->right[m[i].a].kind != b->right[m[i].b].kind)
      return 0;
  return 1;
}

/* Do the matched tenants have the same ids and defaults on both sides? */
static int tenants_alike(const mdt_snap *a, const mdt_snap *b, const Match *m,
                         size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (m[i].a != m[i].b || a->tdefault[m[i].a] != b->tdefault[m[i].b])
      return 0;
  return 1;
}

static int same_pairs(const PairVec *x, const PairVec *y)
{
  size_t i;
  if (x->n != y->n) return 0;
  for (i = 0; i < x->n; i++)
    if (x->p[i].id != y->p[i].id || x->p[i].val != y->p[i].val) return 0;
  return 1;
}

/* Does user ua of a hold what ub of b holds (both compiled, rights alike)? */
static int same_eff(const mdt_snap *a, mdt_id ua, const mdt_snap *b,
                    mdt_id ub, mdt_id maxright)
{
  if (!COMPILED(a, ua) || !COMPILED(b, ub)) return 0;
  if (!a->user[ua].active && !b->user[ub].active) return 1;
  if (a->user[ua].active != b->user[ub].active) return 0;
  return memcmp(&EFF(a, ua, 0), &EFF(b, ub, 0),
                ((size_t)maxright + 1) * sizeof(mdt_value)) == 0;
}

/* What user u of s holds of right r: nothing when inactive or absent. */
static mdt_value held(const mdt_snap *s, mdt_id u, mdt_id r)
{
  if (!u || !r || !COMPILED(s, u) || !s->user[u].active) return 0;
  return EFF(s, u, r);
}

/* User u's access to tenant t in s: hidden when either is absent. */
static int access(const mdt_snap *s, mdt_id u, mdt_id t)
{
  int x = u && t ? mdt_access(s, u, t, NULL) : -1;
  return x < 0 ? 0 : x;
}

static int same_value(const mdt_snap *a, int ka, mdt_value va,
                      const mdt_snap *b, int kb, mdt_value vb, int levels)
{
  char ta[256], tb[256];
  if (ka != kb) return 0;           /* a flag's false is not "none" */
  if (levels || ka == MDT_FLAG) return va == vb;
  mdt_value_format(a->levelv, a->nlevels, ka, va, ta, sizeof ta);
  mdt_value_format(b->levelv, b->nlevels, kb, vb, tb, sizeof tb);
  return strcmp(ta, tb) == 0;
}

static int add(Rows *r, const char *user, int what, const char *key, int ka,
               int va, int kb, int vb)
{
  mdt_diff_row *row;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    mdt_diff_row *p = realloc(r->p, cap * sizeof *p);
    if (p == NULL) return MDT_NOMEM;
    r->p = p;
    r->cap = cap;
  }
  row = &r->p[r->n++];
  row->user = user;
  row->what = what;
  row->key = key;
  row->kind_a = ka;
  row->a = va;
  row->kind_b = kb;
  row->b = vb;
  return MDT_OK;
}

/*
** The differences; see mandate.h.  Each user in key order: access rows,
** then right rows, each in key order.
*/
int mdt_diff(const mdt_snap *a, const mdt_snap *b, mdt_diff_row **rows,
             size_t *nrows)
{
  Match *users = NULL, *rights = NULL, *tenants = NULL;
  size_t nu = 0, nr = 0, nt = 0, i, j;
  Rows out = { NULL, 0, 0 };
  int rc, levels, fast_rights, fast_tenants;
  if (rows == NULL || nrows == NULL) return MDT_MISUSE;
  *rows = NULL;
  *nrows = 0;
  if (a == NULL || b == NULL || !a->compiled || !b->compiled)
    return MDT_MISUSE;
  if ((rc = match(a, b, MDT_USER, &users, &nu)) != MDT_OK ||
      (rc = match(a, b, MDT_RIGHT, &rights, &nr)) != MDT_OK ||
      (rc = match(a, b, MDT_TENANT, &tenants, &nt)) != MDT_OK)
    goto done;
  levels = same_levels(a, b);
  fast_rights = levels && a->keys[MDT_RIGHT].max == b->keys[MDT_RIGHT].max &&
                rights_alike(a, b, rights, nr);
  fast_tenants = tenants_alike(a, b, tenants, nt);
  for (i = 0; i < nu && rc == MDT_OK; i++) {
    mdt_id ua = users[i].a, ub = users[i].b;
    if (!(fast_tenants && ua && ub &&
          same_pairs(&a->lists[ua].acc, &b->lists[ub].acc))) {
      for (j = 0; j < nt && rc == MDT_OK; j++) {
        int xa = access(a, ua, tenants[j].a), xb = access(b, ub, tenants[j].b);
        if (xa != xb)
          rc = add(&out, users[i].key, MDT_DIFF_ACCESS, tenants[j].key, 0, xa,
                   0, xb);
      }
    }
    if (fast_rights && ua && ub &&
        same_eff(a, ua, b, ub, a->keys[MDT_RIGHT].max))
      continue;
    for (j = 0; j < nr && rc == MDT_OK; j++) {
      mdt_id ra = rights[j].a, rb = rights[j].b;
      int ka = ra ? a->right[ra].kind : b->right[rb].kind;
      int kb = rb ? b->right[rb].kind : ka;
      mdt_value va = held(a, ua, ra), vb = held(b, ub, rb);
      if (!same_value(a, ka, va, b, kb, vb, levels))
        rc = add(&out, users[i].key, MDT_DIFF_RIGHT, rights[j].key, ka, va,
                 kb, vb);
    }
  }
done:
  free(users);
  free(rights);
  free(tenants);
  if (rc != MDT_OK) {
    free(out.p);
    return rc;
  }
  *rows = out.p;
  *nrows = out.n;
  return MDT_OK;
}

void mdt_diff_free(mdt_diff_row *rows)
{
  free(rows);
}
