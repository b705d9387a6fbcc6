/*
** load.c -- compiling the snapshot from the store, and keeping it fresh.
**
** A full build reads every table once, in id order, and feeds the core
** builder.  A patch reloads the rows of touched users only, with the very
** same queries restricted to one id (user_id BETWEEN ?1 AND ?2), so the
** two paths cannot drift apart.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "schema_int.h"

/* Rows of the model, in the order the builder wants them {{{ */

/*
** Every column a row handler checks is read as the store holds it (a
** word stays a word: an unknown one is named, never read as a default),
** so that a row written by hand names itself when it cannot be loaded.
*/
static const char *const sql_levels =
  "SELECT name, depth FROM levels ORDER BY depth";
static const char *const sql_units =
  "SELECT u.id, u.key, l.depth, u.parent_id, u.level FROM units u"
  " LEFT JOIN levels l ON l.name = u.level ORDER BY u.id";
static const char *const sql_tenants =
  "SELECT id, key, CASE default_access WHEN 'full' THEN 2"
  " WHEN 'read' THEN 1 WHEN 'hidden' THEN 0 ELSE -1 END, default_access"
  " FROM tenants ORDER BY id";
static const char *const sql_rights =
  "SELECT id, key, CASE kind WHEN 'scope' THEN 1 WHEN 'flag' THEN 0"
  " ELSE -1 END, CASE mode WHEN 'read' THEN 1 WHEN 'write' THEN 0"
  " ELSE -1 END, CASE WHEN customer IN (0, 1) THEN customer ELSE -1 END,"
  " kind, mode, customer FROM rights ORDER BY id";
static const char *const sql_bundles =
  "SELECT id, key FROM bundles ORDER BY id";
static const char *const sql_bundle_rights =
  "SELECT bundle_id, right_id, value FROM bundle_rights";
static const char *const sql_customers =
  "SELECT id, key FROM customers WHERE id > ?1 ORDER BY id";
static const char *const sql_users =
  "SELECT id, key, unit_id, CASE WHEN active IN (0, 1) THEN active"
  " ELSE -1 END, active FROM users WHERE id BETWEEN ?1 AND ?2 ORDER BY id";
static const char *const sql_user_bundles =
  "SELECT user_id, bundle_id FROM user_bundles"
  " WHERE user_id BETWEEN ?1 AND ?2 ORDER BY user_id, position";
static const char *const sql_overrides =
  "SELECT user_id, right_id, value FROM overrides"
  " WHERE user_id BETWEEN ?1 AND ?2";
static const char *const sql_access =
  "SELECT user_id, tenant_id, CASE access WHEN 'full' THEN 2"
  " WHEN 'read' THEN 1 WHEN 'hidden' THEN 0 ELSE -1 END, access FROM access"
  " WHERE user_id BETWEEN ?1 AND ?2";
static const char *const sql_managers =
  "SELECT user_id, customer_id FROM account_managers"
  " WHERE user_id BETWEEN ?1 AND ?2";
/* }}} */

/* Naming a row that cannot be loaded {{{ */

/*
** A row the writers would never store (written by hand, or by another
** program) fails the load with a message that names the table, the row's
** keys and the bad value:
**
**   loading the snapshot: bundle_rights (bundle "b", right "r"): value
**   "galaxy" is not a value of a scope right (none, own, team, all)
**
** Stored text is quoted with at most SHOWN bytes of it, so no message
** grows with what the store holds.
*/
#define SHOWN 60

static const char *const kindname[MDT_NKINDS] = {
  "level", "unit", "tenant", "right", "bundle", "user", "customer"
};

typedef struct Msg {
  char buf[448];              /* within the store's message, with room */
  size_t n;
} Msg;

/* Append to m, printf-style; what does not fit is dropped. */
static void add(Msg *m, const char *fmt, ...)
{
  va_list ap;
  int k;
  size_t room = sizeof m->buf - m->n;
  if (room <= 1) return;
  va_start(ap, fmt);
  k = vsnprintf(m->buf + m->n, room, fmt, ap);
  va_end(ap);
  if (k > 0) m->n += (size_t)k < room ? (size_t)k : room - 1;
}

/*
** Append t (len bytes, NULs included) with control characters, quotes
** and backslashes escaped; beyond SHOWN bytes only the first SHOWN - 3,
** cut at a character's start, then "...".
*/
static void add_text(Msg *m, const char *t, size_t len, int quoted)
{
  size_t i, end = len;
  if (len > SHOWN)
    for (end = SHOWN - 3; end > 0 && ((unsigned char)t[end] & 0xC0) == 0x80;)
      end--;
  if (quoted) add(m, "\"");
  for (i = 0; i < end; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c < 0x20 || c == 0x7f) add(m, "\\%03u", (unsigned)c);
    else if (quoted && (c == '"' || c == '\\')) add(m, "\\%c", c);
    else add(m, "%c", c);
  }
  add(m, "%s%s", end < len ? "..." : "", quoted ? "\"" : "");
}

/* Append column col of row as quoted text. */
static void add_col(Msg *m, sqlite3_stmt *row, int col)
{
  const unsigned char *t = sqlite3_column_text(row, col);
  if (t == NULL) add(m, "NULL");
  else add_text(m, (const char *)t, (size_t)sqlite3_column_bytes(row, col), 1);
}

/* Append `kind "key"` for id, or `kind id N` when the snapshot has none. */
static void add_key(Msg *m, const mdt_snap *s, int kind, mdt_id id)
{
  const char *k = mdt_key(s, kind, id);
  if (k == NULL) {
    add(m, "%s id %lld", kindname[kind], (long long)id);
    return;
  }
  add(m, "%s ", kindname[kind]);
  add_text(m, k, strlen(k), 1);
}

/* Start m: "loading the snapshot: table (". */
static void head(Msg *m, const char *table)
{
  m->n = 0;
  m->buf[0] = '\0';
  add(m, "loading the snapshot: %s (", table);
}

/* Start m for a row of an entity: "...: table (kind "key"): ". */
static void head_entity(Msg *m, const char *table, int kind,
                        sqlite3_stmt *row, int keycol)
{
  head(m, table);
  add(m, "%s ", kindname[kind]);
  add_col(m, row, keycol);
  add(m, "): ");
}

/* Start m for a row that links two ids: "...: table (a "x", b "y"): ". */
static void head_link(Msg *m, const mdt_snap *s, const char *table,
                      int kind_a, mdt_id a, int kind_b, mdt_id b)
{
  head(m, table);
  add_key(m, s, kind_a, a);
  add(m, ", ");
  add_key(m, s, kind_b, b);
  add(m, "): ");
}

/* Fail with m. */
static int fail(mdt_store *st, int rc, Msg *m)
{
  return mdt_store_error(st, rc, "%s", m->buf);
}

/* Fail with m and the message of the builder, which returned rc. */
static int fail_core(mdt_store *st, const mdt_snap *s, int rc, Msg *m)
{
  add(m, "%s", mdt_snap_errmsg(s));
  return fail(st, rc, m);
}

/*
** Fail a row that links a user (loaded just before its rows) to an id of
** kind: the id names nothing, or the builder refused.
*/
static int fail_link(mdt_store *st, const mdt_snap *s, int rc, Msg *m,
                     int kind)
{
  if (rc != MDT_NOTFOUND) return fail_core(st, s, rc, m);
  add(m, "there is no %s with this id", kindname[kind]);
  return fail(st, rc, m);
}

/* Append the values a right of this kind takes, levels bottom up. */
static void add_values(Msg *m, const mdt_snap *s, int kind, int custok)
{
  int n, d;
  const char *const *levels = mdt_levels(s, &n);
  if (kind == MDT_FLAG) {
    add(m, "a flag right (true, false)");
    return;
  }
  add(m, "a scope right%s (none, own", custok ? "" : " without a customer part");
  for (d = n - 1; d >= 0; d--) {
    add(m, ", ");
    add_text(m, levels[d], strlen(levels[d]), 0);
  }
  add(m, ", all%s)", custok ? ", each optionally with +customer" : "");
}
/* }}} */

/* Reading rows {{{ */

typedef int (*row_fn)(mdt_store *st, mdt_snap *s, sqlite3_stmt *row);

/*
** Run sql with up to two integer parameters and hand every row to fn,
** which sets the store's message when it fails.
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
      return r;
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
/* }}} */

/* Row handlers {{{ */

static int on_unit(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc;
  if (sqlite3_column_type(r, 2) == SQLITE_NULL) {   /* no such level */
    head_entity(&m, "units", MDT_UNIT, r, 1);
    add(&m, "level ");
    add_col(&m, r, 4);
    add(&m, " is not a level");
    return fail(st, MDT_INVALID, &m);
  }
  rc = mdt_snap_add_unit(s, col_id(r, 0), text(r, 1), col_int(r, 2),
                         col_id(r, 3));
  if (rc == MDT_OK) return MDT_OK;
  head_entity(&m, "units", MDT_UNIT, r, 1);
  return fail_core(st, s, rc, &m);
}

static int on_tenant(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc;
  if (col_int(r, 2) < 0) {
    head_entity(&m, "tenants", MDT_TENANT, r, 1);
    add(&m, "default_access ");
    add_col(&m, r, 3);
    add(&m, " is not an access (full, read, hidden)");
    return fail(st, MDT_INVALID, &m);
  }
  rc = mdt_snap_add_tenant(s, col_id(r, 0), text(r, 1), col_int(r, 2));
  if (rc == MDT_OK) return MDT_OK;
  head_entity(&m, "tenants", MDT_TENANT, r, 1);
  return fail_core(st, s, rc, &m);
}

static int on_right(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  static const char *const column[] = { "kind", "mode", "customer" };
  static const char *const allowed[] = { "a kind (flag, scope)",
                                         "a mode (read, write)", "0 or 1" };
  Msg m;
  int rc, c;
  for (c = 0; c < 3; c++)
    if (col_int(r, 2 + c) < 0) {
      head_entity(&m, "rights", MDT_RIGHT, r, 1);
      add(&m, "%s ", column[c]);
      add_col(&m, r, 5 + c);
      add(&m, " is not %s", allowed[c]);
      return fail(st, MDT_INVALID, &m);
    }
  rc = mdt_snap_add_right(s, col_id(r, 0), text(r, 1),
                          col_int(r, 2) ? MDT_SCOPE : MDT_FLAG,
                          col_int(r, 3) ? MDT_READ_MODE : MDT_WRITE,
                          col_int(r, 4));
  if (rc == MDT_OK) return MDT_OK;
  head_entity(&m, "rights", MDT_RIGHT, r, 1);
  return fail_core(st, s, rc, &m);
}

static int on_bundle(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc = mdt_snap_add_bundle(s, col_id(r, 0), text(r, 1));
  if (rc == MDT_OK) return MDT_OK;
  head_entity(&m, "bundles", MDT_BUNDLE, r, 1);
  return fail_core(st, s, rc, &m);
}

/*
** A row of bundle_rights or overrides: owner id, right id, value text.
** The writers store only values of the right; anything else is named.
*/
static int on_value(mdt_store *st, mdt_snap *s, sqlite3_stmt *r,
                    const char *table, int owner_kind)
{
  mdt_id who = col_id(r, 0), right = col_id(r, 1);
  int kind, mode, custok, n, rc;
  const char *const *levels = mdt_levels(s, &n);
  const char *t;
  mdt_value v;
  Msg m;
  if (mdt_right_info(s, right, &kind, &mode, &custok) != MDT_OK) {
    head_link(&m, s, table, owner_kind, who, MDT_RIGHT, right);
    return fail_link(st, s, MDT_NOTFOUND, &m, MDT_RIGHT);
  }
  t = text(r, 2);
  rc = mdt_value_parse(levels, n, kind, custok, t,
                       (size_t)sqlite3_column_bytes(r, 2), &v);
  if (rc != MDT_OK) {
    head_link(&m, s, table, owner_kind, who, MDT_RIGHT, right);
    add(&m, "value ");
    add_col(&m, r, 2);
    add(&m, " is not a value of ");
    add_values(&m, s, kind, custok);
    return fail(st, MDT_INVALID, &m);
  }
  rc = owner_kind == MDT_BUNDLE ? mdt_snap_bundle_value(s, who, right, v)
                                : mdt_snap_user_override(s, who, right, v);
  if (rc == MDT_OK) return MDT_OK;
  head_link(&m, s, table, owner_kind, who, MDT_RIGHT, right);
  return fail_core(st, s, rc, &m);
}

static int on_bundle_right(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  return on_value(st, s, r, "bundle_rights", MDT_BUNDLE);
}

static int on_customer(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc = mdt_snap_add_customer(s, col_id(r, 0), text(r, 1));
  if (rc == MDT_OK) return MDT_OK;
  head_entity(&m, "customers", MDT_CUSTOMER, r, 1);
  return fail_core(st, s, rc, &m);
}

static int on_user(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc;
  st->users_loaded++;
  if (col_int(r, 3) < 0) {
    head_entity(&m, "users", MDT_USER, r, 1);
    add(&m, "active ");
    add_col(&m, r, 4);
    add(&m, " is not 0 or 1");
    return fail(st, MDT_INVALID, &m);
  }
  rc = mdt_snap_put_user(s, col_id(r, 0), text(r, 1), col_id(r, 2),
                         col_int(r, 3));
  if (rc == MDT_OK) return MDT_OK;
  head_entity(&m, "users", MDT_USER, r, 1);
  return fail_core(st, s, rc, &m);
}

static int on_user_bundle(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc = mdt_snap_user_bundle(s, col_id(r, 0), col_id(r, 1));
  if (rc == MDT_OK) return MDT_OK;
  head_link(&m, s, "user_bundles", MDT_USER, col_id(r, 0), MDT_BUNDLE,
            col_id(r, 1));
  return fail_link(st, s, rc, &m, MDT_BUNDLE);
}

static int on_override(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  return on_value(st, s, r, "overrides", MDT_USER);
}

static int on_access(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc = MDT_INVALID;
  if (col_int(r, 2) >= 0 &&
      (rc = mdt_snap_user_access(s, col_id(r, 0), col_id(r, 1),
                                 col_int(r, 2))) == MDT_OK)
    return MDT_OK;
  head_link(&m, s, "access", MDT_USER, col_id(r, 0), MDT_TENANT,
            col_id(r, 1));
  if (col_int(r, 2) >= 0) return fail_link(st, s, rc, &m, MDT_TENANT);
  add(&m, "access ");
  add_col(&m, r, 3);
  add(&m, " is not an access (full, read, hidden)");
  return fail(st, rc, &m);
}

static int on_manager(mdt_store *st, mdt_snap *s, sqlite3_stmt *r)
{
  Msg m;
  int rc = mdt_snap_user_customer(s, col_id(r, 0), col_id(r, 1));
  if (rc == MDT_OK) return MDT_OK;
  head_link(&m, s, "account_managers", MDT_USER, col_id(r, 0),
            MDT_CUSTOMER, col_id(r, 1));
  return fail_link(st, s, rc, &m, MDT_CUSTOMER);
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

/*
** The level names, top to bottom.  Their depths run 0, 1, 2, ... (units
** take their depth from this table); a gap, a repeat or a 33rd level is
** named like any bad row.
*/
static int load_levels(mdt_store *st, mdt_snap *s)
{
  const char *names[MDT_MAX_LEVELS];
  char *copies[MDT_MAX_LEVELS];
  sqlite3_stmt *stmt;
  Msg m;
  int n = 0, i, step = SQLITE_DONE, rc = mdt_store_prepare(st, sql_levels,
                                              strlen(sql_levels), &stmt);
  if (rc != MDT_OK) return rc;
  while (rc == MDT_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (n == MDT_MAX_LEVELS || sqlite3_column_int64(stmt, 1) != n) {
      head_entity(&m, "levels", MDT_LEVEL, stmt, 0);
      if (n == MDT_MAX_LEVELS)
        add(&m, "a level beyond the %d allowed", MDT_MAX_LEVELS);
      else
        add(&m, "depth %lld, but the next level's depth is %d (depths run "
            "0, 1, 2, ... from the top)",
            (long long)sqlite3_column_int64(stmt, 1), n);
      rc = fail(st, MDT_INVALID, &m);
    } else if ((copies[n] = malloc((size_t)sqlite3_column_bytes(stmt, 0)
                                   + 1)) == NULL) {
      rc = mdt_store_error(st, MDT_NOMEM, "out of memory");
    } else {
      strcpy(copies[n], text(stmt, 0));
      names[n] = copies[n];
      n++;
    }
  }
  if (rc == MDT_OK && step != SQLITE_DONE) rc = mdt_store_fail(st, step);
  sqlite3_reset(stmt);
  /* a store without levels yet still answers checks: flags, own, all */
  if (rc == MDT_OK && n > 0 &&
      (rc = mdt_snap_set_levels(s, names, n)) != MDT_OK) {
    m.n = 0;
    add(&m, "loading the snapshot: levels: ");
    fail_core(st, s, rc, &m);
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
  mdt_store_log_settle(st);
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
  return mdt_store_int64(st, sql, sizeof sql - 1, v);
}

/*
** Notice other connections' commits.  Every change set moves the store's
** revision, so the poll of a check (by_revision) rebuilds only when the
** revision moved too: a commit that changes no row of the model (another
** process flushing its decision log, as every nginx worker does each
** second) costs one query, not a rebuild.  mdt_store_refresh (db:refresh,
** a writer's begin) goes by data_version alone and so also sees raw SQL of
** another process, which moves no revision.
*/
static int refresh(mdt_store *st, int by_revision)
{
  int64_t v, r = -1;                /* -1: the revision is not known */
  int rc = data_version(st, &v);
  if (rc != MDT_OK) return rc;
  if (v != st->data_version) {     /* another connection committed */
    if (by_revision && (rc = mdt_store_revision(st, &r)) != MDT_OK)
      return rc;
    if (r < 0 || r != st->polled_revision) {
      st->stale = 1;
      mdt_store_touch_lists(st);
    }
    st->polled_revision = r;
  }
  st->data_version = v;
  st->next_poll = st->interval >= 0 ? now() + st->interval : 0;
  return MDT_OK;
}

int mdt_store_refresh(mdt_store *st)
{
  return refresh(st, 0);
}

const mdt_snap *mdt_store_current(const mdt_store *st)
{
  return st->stale ? NULL : st->snap;
}

int mdt_store_id(mdt_store *st, int kind, const char *key, size_t len,
                 mdt_id *out)
{
  static const char *const sql[MDT_NKINDS] = {
    NULL, "SELECT id FROM units WHERE key = ?1",
    "SELECT id FROM tenants WHERE key = ?1",
    "SELECT id FROM rights WHERE key = ?1",
    "SELECT id FROM bundles WHERE key = ?1",
    "SELECT id FROM users WHERE key = ?1",
    "SELECT id FROM customers WHERE key = ?1"
  };
  const mdt_snap *s = mdt_store_current(st);
  sqlite3_stmt *stmt;
  int rc;
  *out = s ? mdt_lookup(s, kind, key, len) : 0;
  if (*out || kind < 0 || kind >= MDT_NKINDS || sql[kind] == NULL)
    return MDT_OK;
  if ((rc = mdt_store_prepare(st, sql[kind], strlen(sql[kind]), &stmt))
      != MDT_OK)
    return rc;
  sqlite3_bind_text64(stmt, 1, key, (sqlite3_uint64)len, SQLITE_STATIC,
                      SQLITE_UTF8);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) *out = (mdt_id)sqlite3_column_int64(stmt, 0);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? MDT_OK
                                               : mdt_store_fail(st, rc);
}

void mdt_store_touch_all(mdt_store *st)
{
  st->stale = 1;
  mdt_store_touch_lists(st);        /* a rollback may undo list rows too */
}

int mdt_store_touch_user(mdt_store *st, mdt_id user)
{
  if (st->stale) return MDT_OK;                /* a rebuild covers it */
  if (st->ntouched > 0 && st->touched[st->ntouched - 1] == user)
    return MDT_OK;                  /* an update's old and new row */
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

/* Is s pinned or kept: to be read as it is, and freed by its owner? */
static int in_use(const mdt_store *st, const mdt_snap *s)
{
  return s == st->pinned || mdt_store_is_kept(st, s);
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
      now() >= st->next_poll && (rc = refresh(st, 1)) != MDT_OK)
    return rc;
  /* a pinned or kept snapshot is read as it is: writes get a new one */
  if (!st->stale && st->ntouched &&
      (in_use(st, st->snap) || !patch_is_cheaper(st)))
    st->stale = 1;
  if (st->stale) {
    mdt_snap *s = NULL;
    if ((rc = build(st, &s)) != MDT_OK) return rc;
    mdt_store_log_settle(st);
    if (!in_use(st, st->snap)) mdt_snap_free(st->snap);
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
  mdt_snap *s = st->pinned;
  st->pinned = NULL;
  if (s != st->snap && !in_use(st, s)) {
    mdt_store_log_settle(st);
    mdt_snap_free(s);
  }
}

int mdt_store_keep(mdt_store *st, const mdt_snap **out)
{
  int rc;
  if (st->holds)                    /* it might be behind, and stay so */
    return mdt_store_error(st, MDT_MISUSE, "a snapshot cannot be kept "
                           "while a call reads the store");
  if (st->nkept == st->capkept) {
    size_t cap = st->capkept ? 2 * st->capkept : 4;
    mdt_snap **k = realloc(st->kept, cap * sizeof *k);
    if (!k) return mdt_store_error(st, MDT_NOMEM, "out of memory");
    st->kept = k;
    st->capkept = cap;
  }
  if ((rc = mdt_store_snapshot(st, out)) != MDT_OK) return rc;
  st->kept[st->nkept++] = st->snap;
  return MDT_OK;
}

int mdt_store_restore(mdt_store *st, const mdt_snap *s)
{
  size_t i;
  mdt_snap *k;
  for (i = st->nkept; i-- > 0;)
    if (st->kept[i] == s) break;
  if (i == (size_t)-1) return 0;
  k = st->kept[i];
  st->kept[i] = st->kept[--st->nkept];
  if (st->snap != k) {
    mdt_store_log_settle(st);
    if (!in_use(st, st->snap)) mdt_snap_free(st->snap);
    st->snap = k;
  }
  st->stale = 0;
  st->ntouched = 0;
  st->epoch++;                      /* keys made since are gone */
  return 1;
}

int mdt_store_is_kept(const mdt_store *st, const mdt_snap *s)
{
  size_t i;
  for (i = 0; i < st->nkept; i++)
    if (st->kept[i] == s) return 1;
  return 0;
}

void mdt_store_unkeep(mdt_store *st, const mdt_snap *s)
{
  size_t i;
  mdt_snap *k;
  for (i = st->nkept; i-- > 0;)
    if (st->kept[i] == s) break;
  if (i == (size_t)-1) return;
  k = st->kept[i];
  st->kept[i] = st->kept[--st->nkept];
  if (k != st->snap && !in_use(st, k)) {
    mdt_store_log_settle(st);
    mdt_snap_free(k);
  }
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
