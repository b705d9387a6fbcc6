/*
** load.c -- compiling the snapshot from the store, and keeping it fresh.
**
** A full build reads every table once, in id order, and feeds the core
** builder.  A patch reloads the rows of touched users only, with the very
** same queries restricted to one id (user_id BETWEEN ?1 AND ?2), so the
** two paths cannot drift apart.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

/* Rows of the model, in the order the builder wants them {{{ */

static const char *const sql_levels =
  "SELECT name FROM levels ORDER BY depth";
static const char *const sql_units =
  "SELECT u.id, u.key, l.depth, u.parent_id FROM units u"
  " JOIN levels l ON l.name = u.level ORDER BY u.id";
static const char *const sql_tenants =
  "SELECT id, key, CASE default_access WHEN 'full' THEN 2"
  " WHEN 'read' THEN 1 ELSE 0 END FROM tenants ORDER BY id";
static const char *const sql_rights =
  "SELECT id, key, kind = 'scope', mode = 'read', customer FROM rights"
  " ORDER BY id";
static const char *const sql_bundles =
  "SELECT id, key FROM bundles ORDER BY id";
static const char *const sql_bundle_rights =
  "SELECT bundle_id, right_id, value FROM bundle_rights";
static const char *const sql_customers =
  "SELECT id, key FROM customers WHERE id > ?1 ORDER BY id";
static const char *const sql_users =
  "SELECT id, key, unit_id, active FROM users"
  " WHERE id BETWEEN ?1 AND ?2 ORDER BY id";
static const char *const sql_user_bundles =
  "SELECT user_id, bundle_id FROM user_bundles"
  " WHERE user_id BETWEEN ?1 AND ?2 ORDER BY user_id, position";
static const char *const sql_overrides =
  "SELECT user_id, right_id, value FROM overrides"
  " WHERE user_id BETWEEN ?1 AND ?2";
static const char *const sql_access =
  "SELECT user_id, tenant_id, CASE access WHEN 'full' THEN 2"
  " WHEN 'read' THEN 1 ELSE 0 END FROM access"
  " WHERE user_id BETWEEN ?1 AND ?2";
static const char *const sql_managers =
  "SELECT user_id, customer_id FROM account_managers"
  " WHERE user_id BETWEEN ?1 AND ?2";
/* }}} */

/* Reading rows {{{ */

typedef int (*row_fn)(mdt_store *st, mdt_snap *s, sqlite3_stmt *row);

/*
** Run sql with up to two integer parameters and hand every row to fn.
** Builder failures keep the core's message, prefixed with the query.
*/
static int each_row(mdt_store *st, mdt_snap *s, const char *sql, int nparams,
                    mdt_id a, mdt_id b, row_fn fn)
{
  sqlite3_stmt *stmt;
  int rc = mdt_store_prepare(st, sql, strlen(sql), &stmt);
  if (rc != MDT_OK) return rc;
  if (nparams > 0) sqlite3_bind_int64(stmt, 1, a);
  if (nparams > 1) sqlite3_bind_int64(stmt, 2, b);
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    int r = fn(st, s, stmt);
    if (r != MDT_OK) {
      sqlite3_reset(stmt);
      return mdt_store_error(st, r, "loading the snapshot: %s",
                             mdt_snap_errmsg(s));
    }
  }
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE ? MDT_OK : mdt_store_fail(st, rc);
}

static const char *text(sqlite3_stmt *row, int col)
{
  const unsigned char *t = sqlite3_column_text(row, col);
  return t ? (const char *)t : "";
}

static int col_int(sqlite3_stmt *row, int col)
{
  return sqlite3_column_int(row, col);
}

static mdt_id col_id(sqlite3_stmt *row, int col)
{
  return (mdt_id)sqlite3_column_int64(row, col);
}

/* Parse a stored value for right r; the writers only store valid text. */
static int value_of(mdt_snap *s, mdt_id right, sqlite3_stmt *row, int col,
                    mdt_value *v)
{
  int kind, mode, customer_ok, n, rc;
  const char *const *levels = mdt_levels(s, &n);
  if ((rc = mdt_right_info(s, right, &kind, &mode, &customer_ok)) != MDT_OK)
    return rc;
  return mdt_value_parse(levels, n, kind, customer_ok, text(row, col),
                         (size_t)sqlite3_column_bytes(row, col), v);
}
/* }}} */

/* Row handlers {{{ */

static int on_unit(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_add_unit(s, col_id(r, 0), text(r, 1), col_int(r, 2),
                           col_id(r, 3));
}

static int on_tenant(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_add_tenant(s, col_id(r, 0), text(r, 1), col_int(r, 2));
}

static int on_right(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_add_right(s, col_id(r, 0), text(r, 1),
                            col_int(r, 2) ? MDT_SCOPE : MDT_FLAG,
                            col_int(r, 3) ? MDT_READ_MODE : MDT_WRITE,
                            col_int(r, 4));
}

static int on_bundle(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_add_bundle(s, col_id(r, 0), text(r, 1));
}

static int on_bundle_right(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  mdt_value v;
  int rc = value_of(s, col_id(r, 1), r, 2, &v);
  (void)st;
  return rc != MDT_OK ? rc : mdt_snap_bundle_value(s, col_id(r, 0),
                                                   col_id(r, 1), v);
}

static int on_customer(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_add_customer(s, col_id(r, 0), text(r, 1));
}

static int on_user(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  st->users_loaded++;
  return mdt_snap_put_user(s, col_id(r, 0), text(r, 1), col_id(r, 2),
                           col_int(r, 3));
}

static int on_user_bundle(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_user_bundle(s, col_id(r, 0), col_id(r, 1));
}

static int on_override(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  mdt_value v;
  int rc = value_of(s, col_id(r, 1), r, 2, &v);
  (void)st;
  return rc != MDT_OK ? rc : mdt_snap_user_override(s, col_id(r, 0),
                                                    col_id(r, 1), v);
}

static int on_access(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_user_access(s, col_id(r, 0), col_id(r, 1), col_int(r, 2));
}

static int on_manager(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  (void)st;
  return mdt_snap_user_customer(s, col_id(r, 0), col_id(r, 1));
}
/* }}} */

/* Building and patching {{{ */

/* Users lo..hi and everything that hangs off them. */
static int load_users(mdt_store *st, mdt_snap *s, mdt_id lo, mdt_id hi)
{
  int rc;
  if ((rc = each_row(st, s, sql_customers, 1, mdt_max_id(s, MDT_CUSTOMER), 0,
                     on_customer)) != MDT_OK ||
      (rc = each_row(st, s, sql_users, 2, lo, hi, on_user)) != MDT_OK ||
      (rc = each_row(st, s, sql_user_bundles, 2, lo, hi, on_user_bundle))
        != MDT_OK ||
      (rc = each_row(st, s, sql_overrides, 2, lo, hi, on_override)) != MDT_OK ||
      (rc = each_row(st, s, sql_access, 2, lo, hi, on_access)) != MDT_OK)
    return rc;
  return each_row(st, s, sql_managers, 2, lo, hi, on_manager);
}

static int load_levels(mdt_store *st, mdt_snap *s)
{
  const char *names[MDT_MAX_LEVELS];
  char *copies[MDT_MAX_LEVELS];
  sqlite3_stmt *stmt;
  int n = 0, i, rc = mdt_store_prepare(st, sql_levels, strlen(sql_levels),
                                        &stmt);
  if (rc != MDT_OK) return rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && n < MDT_MAX_LEVELS) {
    copies[n] = malloc((size_t)sqlite3_column_bytes(stmt, 0) + 1);
    if (!copies[n]) { rc = SQLITE_NOMEM; break; }
    strcpy(copies[n], text(stmt, 0));
    names[n] = copies[n];
    n++;
  }
  sqlite3_reset(stmt);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
    /* a store without levels yet still answers checks: flags, own, all */
    rc = n ? mdt_snap_set_levels(s, names, n) : MDT_OK;
    if (rc != MDT_OK)
      mdt_store_error(st, rc, "loading levels: %s", mdt_snap_errmsg(s));
  } else {
    rc = mdt_store_fail(st, rc);
  }
  for (i = 0; i < n; i++) free(copies[i]);
  return rc;
}

/*
** Build a complete snapshot inside one read transaction, so that it shows
** one consistent state even while other processes write.
*/
static int build(mdt_store *st, mdt_snap **out)
{
  mdt_snap *s = mdt_snap_new();
  int own_tx = sqlite3_get_autocommit(st->db), rc;
  if (!s) return mdt_store_error(st, MDT_NOMEM, "out of memory");
  if (own_tx && (rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL))
                  != SQLITE_OK) {
    mdt_snap_free(s);
    return mdt_store_fail(st, rc);
  }
  if ((rc = load_levels(st, s)) == MDT_OK &&
      (rc = each_row(st, s, sql_units, 0, 0, 0, on_unit)) == MDT_OK &&
      (rc = each_row(st, s, sql_tenants, 0, 0, 0, on_tenant)) == MDT_OK &&
      (rc = each_row(st, s, sql_rights, 0, 0, 0, on_right)) == MDT_OK &&
      (rc = each_row(st, s, sql_bundles, 0, 0, 0, on_bundle)) == MDT_OK &&
      (rc = each_row(st, s, sql_bundle_rights, 0, 0, 0, on_bundle_right))
        == MDT_OK &&
      (rc = load_users(st, s, 1, INT64_MAX)) == MDT_OK) {
    rc = mdt_snap_compile(s);
    if (rc != MDT_OK)
      mdt_store_error(st, rc, "compiling the snapshot: %s", mdt_snap_errmsg(s));
  }
  if (own_tx) sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
  if (rc != MDT_OK) {
    mdt_snap_free(s);
    return rc;
  }
  *out = s;
  return MDT_OK;
}

static int patch(mdt_store *st)
{
  size_t i;
  int rc = MDT_OK;
  st->epoch++;                      /* even a failed patch may change keys */
  for (i = 0; i < st->ntouched && rc == MDT_OK; i++) {
    mdt_id u = st->touched[i];
    int64_t seen = st->users_loaded;
    if ((rc = load_users(st, st->snap, u, u)) != MDT_OK) break;
    /* a user gone from the store cannot be reset by its own rows */
    if (st->users_loaded == seen) return MDT_NOTFOUND;
    if ((rc = mdt_snap_compile_user(st->snap, u)) != MDT_OK)
      mdt_store_error(st, rc, "patching user %lld: %s", (long long)u,
                      mdt_snap_errmsg(st->snap));
    st->patches++;
  }
  return rc;
}
/* }}} */

/* Freshness {{{ */

static double now(void)
{
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);   /* no syscall, ~4 ms steps */
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int data_version(mdt_store *st, int64_t *v)
{
  static const char sql[] = "PRAGMA data_version";
  sqlite3_stmt *stmt;
  int rc = mdt_store_prepare(st, sql, sizeof sql - 1, &stmt);
  if (rc != MDT_OK) return rc;
  rc = sqlite3_step(stmt);
  *v = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_reset(stmt);
  return rc == SQLITE_ROW ? MDT_OK : mdt_store_fail(st, rc);
}

int mdt_store_refresh(mdt_store *st)
{
  int64_t v;
  int rc = data_version(st, &v);
  if (rc != MDT_OK) return rc;
  if (v != st->data_version) st->stale = 1;
  st->data_version = v;
  st->next_poll = st->interval >= 0 ? now() + st->interval : 0;
  return MDT_OK;
}

const mdt_snap *mdt_store_current(const mdt_store *st)
{
  return st->stale ? NULL : st->snap;
}

void mdt_store_touch_all(mdt_store *st)
{
  st->stale = 1;
}

int mdt_store_touch_user(mdt_store *st, mdt_id user)
{
  if (st->stale) return MDT_OK;                /* a rebuild covers it */
  if (st->ntouched == st->captouched) {
    size_t cap = st->captouched ? st->captouched * 2 : 16;
    mdt_id *t = realloc(st->touched, cap * sizeof *t);
    if (!t) {                                  /* degrade, don't fail */
      st->stale = 1;
      return MDT_OK;
    }
    st->touched = t;
    st->captouched = cap;
  }
  st->touched[st->ntouched++] = user;
  return MDT_OK;
}

/*
** Patching costs a handful of indexed queries per user; past a fraction
** of all users one sequential rebuild is cheaper.
*/
static int patch_is_cheaper(const mdt_store *st)
{
  return st->ntouched <= 64 ||
         (mdt_id)st->ntouched * 8 <= mdt_max_id(st->snap, MDT_USER);
}

int mdt_store_snapshot(mdt_store *st, const mdt_snap **out)
{
  int rc = MDT_OK;
  *out = st->snap;
  /* the path of nearly every check: fresh, and no poll due yet */
  if (!st->stale && !st->ntouched &&
      (st->interval < 0 || now() < st->next_poll))
    return MDT_OK;
  if (st->holds && st->snap) return MDT_OK;   /* someone works on this one */
  if (st->interval >= 0 && sqlite3_get_autocommit(st->db) &&
      now() >= st->next_poll && (rc = mdt_store_refresh(st)) != MDT_OK)
    return rc;
  /* a pinned snapshot is read as it is: the change set gets a new one */
  if (!st->stale && st->ntouched &&
      (st->snap == st->pinned || !patch_is_cheaper(st)))
    st->stale = 1;
  if (st->stale) {
    mdt_snap *s = NULL;
    if ((rc = build(st, &s)) != MDT_OK) return rc;
    if (st->snap != st->pinned) mdt_snap_free(st->snap);
    *out = st->snap = s;
    st->epoch++;
    st->stale = 0;
    st->rebuilds++;
  } else if (st->ntouched && patch(st) != MDT_OK) {
    st->ntouched = 0;                          /* half-patched: rebuild */
    st->stale = 1;
    return mdt_store_snapshot(st, out);
  }
  st->ntouched = 0;
  return rc;
}

int mdt_store_pin(mdt_store *st)
{
  const mdt_snap *s;
  int rc;
  mdt_store_unpin(st);
  if ((rc = mdt_store_snapshot(st, &s)) != MDT_OK) return rc;
  st->pinned = st->snap;
  return MDT_OK;
}

const mdt_snap *mdt_store_pinned(const mdt_store *st)
{
  return st->pinned;
}

void mdt_store_unpin(mdt_store *st)
{
  if (st->pinned != st->snap) mdt_snap_free(st->pinned);
  st->pinned = NULL;
}

void mdt_store_set_interval(mdt_store *st, double seconds)
{
  st->interval = seconds;
  st->next_poll = 0;
}

double mdt_store_interval(const mdt_store *st)
{
  return st->interval;
}

void mdt_store_hold(mdt_store *st)
{
  st->holds++;
}

void mdt_store_release(mdt_store *st)
{
  st->holds--;
}

int mdt_store_held(const mdt_store *st)
{
  return st->holds > 0;
}

uint64_t mdt_store_epoch(const mdt_store *st)
{
  return st->epoch;
}

void mdt_store_stats(const mdt_store *st, int64_t *rebuilds, int64_t *patches)
{
  *rebuilds = st->rebuilds;
  *patches = st->patches;
}
/* }}} */
