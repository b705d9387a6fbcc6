/*
** tree.c -- whether a unit may be written where a writer puts it: the
** tree rules of the engine (src/core/tree.c, the very function the
** compile runs) over the rows the change touches, read in two queries
** however deep the tree: the unit as it would be, its children, and its
** new parent's ancestors (for a new unit, which has no children and can
** close no cycle, its parent alone).  The stored tree is valid (the writers keep it
** so), so these rows break a rule exactly when the whole tree would.
** A new order of the levels is checked the same way, over every unit.
** The fault comes back as a rule and the keys and levels involved; the
** Lua layer words it.
*/
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define NEW_UNIT INT64_MAX      /* the id of a unit not written yet */

typedef struct Rows {
  mdt_tree_unit *u;
  size_t n, cap;
} Rows;

static int has(const Rows *r, mdt_id id)
{
  size_t i;
  for (i = 0; i < r->n; i++)
    if (r->u[i].id == id) return 1;
  return 0;
}

static int push(Rows *r, mdt_id id, mdt_id parent, int depth)
{
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    mdt_tree_unit *u = realloc(r->u, cap * sizeof *u);
    if (u == NULL) return MDT_NOMEM;
    r->u = u;
    r->cap = cap;
  }
  r->u[r->n].id = id;
  r->u[r->n].parent = parent;
  r->u[r->n++].depth = depth;
  return MDT_OK;
}

/* Append the rows sql selects over id (id, parent id, depth), but none
   that is there already. */
static int add_rows(mdt_store *st, Rows *r, const char *sql, size_t len,
                    mdt_id id)
{
  sqlite3_stmt *stmt;
  int step = SQLITE_DONE, rc = mdt_store_prepare(st, sql, len, &stmt);
  if (rc != MDT_OK) return rc;
  sqlite3_bind_int64(stmt, 1, id);
  while (rc == MDT_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
    mdt_id u = sqlite3_column_int64(stmt, 0);
    if (!has(r, u))
      rc = push(r, u, sqlite3_column_int64(stmt, 1),
                sqlite3_column_int(stmt, 2));
  }
  sqlite3_reset(stmt);
  if (rc != MDT_OK) return mdt_store_error(st, rc, "out of memory");
  return step == SQLITE_DONE ? MDT_OK : mdt_store_fail(st, step);
}

/* Copy the key of unit id into buf (cut to cap - 1 bytes). */
static int key_of(mdt_store *st, mdt_id id, char *buf, size_t cap)
{
  static const char sql[] = "SELECT key FROM units WHERE id = ?1";
  sqlite3_stmt *stmt;
  int rc = mdt_store_prepare(st, sql, sizeof sql - 1, &stmt);
  if (rc != MDT_OK) return rc;
  sqlite3_bind_int64(stmt, 1, id);
  buf[0] = '\0';
  if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
    if (len >= cap) len = cap - 1;
    memcpy(buf, sqlite3_column_text(stmt, 0), len);
    buf[len] = '\0';
  }
  sqlite3_reset(stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? MDT_OK
                                                : mdt_store_fail(st, rc);
}

/* The key of unit id, which is the written unit's key when id is unit. */
static int name(mdt_store *st, mdt_id id, mdt_id unit, const char *key,
                char *buf, size_t cap)
{
  size_t len = strlen(key);
  if (id != unit) return key_of(st, id, buf, cap);
  if (len >= cap) len = cap - 1;
  memcpy(buf, key, len);
  buf[len] = '\0';
  return MDT_OK;
}

/* Fill fault from f over rows r, for unit key (id unit) put under parent
   (see mdt_store_unit_fault). */
static int describe(mdt_store *st, const Rows *r, const mdt_tree_fault *f,
                    const char *key, mdt_id unit, mdt_id parent,
                    mdt_unit_fault *fault)
{
  size_t i;
  int rc;
  fault->rule = f->rule;
  for (i = 0; i < r->n; i++) {
    if (r->u[i].id == f->unit) fault->unit_depth = r->u[i].depth;
    if (r->u[i].id == f->parent) fault->parent_depth = r->u[i].depth;
    if (r->u[i].parent == unit && (fault->hi < 0 || r->u[i].depth - 1 < fault->hi))
      fault->hi = r->u[i].depth - 1;        /* above every child */
    if (r->u[i].id == parent) fault->lo = r->u[i].depth + 1;  /* below it */
  }
  rc = name(st, f->unit, unit, key, fault->unit, sizeof fault->unit);
  if (rc == MDT_OK && f->parent)
    rc = name(st, f->parent, unit, key, fault->parent, sizeof fault->parent);
  return rc;
}

/*
** The tree rules over rows r (freed here), rc being how reading them went:
** the fault for unit key (id unit) put under parent, or the failure.
*/
static int judge(mdt_store *st, int rc, Rows *r, const char *key,
                 mdt_id unit, mdt_id parent, mdt_unit_fault *fault)
{
  mdt_tree_fault f = { MDT_TREE_OK, 0, 0 };
  if (rc == MDT_OK) {
    rc = mdt_tree_check(r->u, r->n, &f);
    if (rc == MDT_CONSTRAINT) rc = MDT_OK;
    else if (rc != MDT_OK) rc = mdt_store_error(st, rc, "%s", mdt_errstr(rc));
  }
  if (rc == MDT_OK && f.rule != MDT_TREE_OK)
    rc = describe(st, r, &f, key, unit, parent, fault);
  free(r->u);
  return rc;
}

int mdt_store_unit_fault(mdt_store *st, const char *key, mdt_id unit,
                         mdt_id parent, int depth, mdt_unit_fault *fault)
{
  static const char sql_children[] = "SELECT u.id, u.parent_id, l.depth"
    " FROM units u JOIN levels l ON l.name = u.level WHERE u.parent_id = ?1"
    " ORDER BY u.key";
  /* UNION, not UNION ALL: ends on a stored cycle too */
  static const char sql_up[] = "WITH RECURSIVE up(id) AS (VALUES (?1)"
    " UNION SELECT u.parent_id FROM units u JOIN up ON u.id = up.id"
    " WHERE u.parent_id IS NOT NULL)"
    " SELECT u.id, coalesce(u.parent_id, 0), l.depth FROM up"
    " JOIN units u ON u.id = up.id JOIN levels l ON l.name = u.level";
  /* a new unit's parent, as a root: nothing above it changes */
  static const char sql_parent[] = "SELECT u.id, 0, l.depth FROM units u"
    " JOIN levels l ON l.name = u.level WHERE u.id = ?1";
  Rows r = { NULL, 0, 0 };
  int rc = MDT_OK;
  memset(fault, 0, sizeof *fault);
  fault->hi = -1;
  if (!unit) unit = NEW_UNIT;
  if (push(&r, unit, parent, depth) != MDT_OK)
    rc = mdt_store_error(st, MDT_NOMEM, "out of memory");
  else if (unit == NEW_UNIT && parent)      /* no children, no cycle */
    rc = add_rows(st, &r, sql_parent, sizeof sql_parent - 1, parent);
  else if (unit != NEW_UNIT) {
    rc = add_rows(st, &r, sql_children, sizeof sql_children - 1, unit);
    if (rc == MDT_OK && parent)
      rc = add_rows(st, &r, sql_up, sizeof sql_up - 1, parent);
  }
  return judge(st, rc, &r, key, unit, parent, fault);
}

int mdt_store_levels_fault(mdt_store *st, const char *const *names, int n,
                           mdt_unit_fault *fault)
{
  static const char sql[] = "SELECT id, coalesce(parent_id, 0), level"
    " FROM units ORDER BY key";
  Rows r = { NULL, 0, 0 };
  sqlite3_stmt *stmt;
  int step = SQLITE_DONE, rc = mdt_store_prepare(st, sql, sizeof sql - 1,
                                                 &stmt);
  memset(fault, 0, sizeof *fault);
  fault->hi = -1;
  if (rc != MDT_OK) return rc;
  while (rc == MDT_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
    const char *level = (const char *)sqlite3_column_text(stmt, 2);
    mdt_id id = sqlite3_column_int64(stmt, 0);
    int d = 0;
    while (d < n && level && strcmp(level, names[d]) != 0) d++;
    if (d == n)
      rc = mdt_store_error(st, MDT_INVALID, "unit %lld is on a level that "
                           "is not among the new ones", (long long)id);
    else if (push(&r, id, sqlite3_column_int64(stmt, 1), d) != MDT_OK)
      rc = mdt_store_error(st, MDT_NOMEM, "out of memory");
  }
  sqlite3_reset(stmt);
  if (rc == MDT_OK && step != SQLITE_DONE) rc = mdt_store_fail(st, step);
  return judge(st, rc, &r, "", 0, 0, fault);
}
