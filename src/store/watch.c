/*
** watch.c -- the snapshot and the lists' cache learn what each row written
** on the store's connection makes stale.
**
** What a row makes stale is declared beside the tables (schema.c's
** watches); SQLite's preupdate hook hands this file every row inserted,
** updated or deleted on the connection, whoever wrote it, before the
** change (a statement that then fails only makes too much stale).  The
** hook is one C call per row: the TEMP triggers it replaces ran a trigger
** program and an SQL function per row, 0.1 s of a 100k-row bulk change.
** Unlike the update hook, it sees WITHOUT ROWID tables (access, overrides,
** user_bundles, account_managers).  A rollback marks everything.
*/
#define SQLITE_ENABLE_PREUPDATE_HOOK   /* declares sqlite3_preupdate_* */

#include <string.h>

#include "store_int.h"

/* The value of column col of the row before (old) or after the change. */
static mdt_id column_id(sqlite3 *db, int old, int col)
{
  sqlite3_value *v = NULL;
  int rc = old ? sqlite3_preupdate_old(db, col, &v)
               : sqlite3_preupdate_new(db, col, &v);
  return rc == SQLITE_OK && v ? (mdt_id)sqlite3_value_int64(v) : 0;
}

static void mark(mdt_store *st, int kind, mdt_id id)
{
  switch (kind) {
  case MDT_STALE_ALL: mdt_store_touch_all(st); break;
  case MDT_STALE_USER: mdt_store_touch_user(st, id); break;
  case MDT_STALE_ROLE: mdt_store_log_list(st, MDT_LOG_ROLE, id); break;
  case MDT_STALE_LIST: mdt_store_log_list(st, MDT_LOG_LIST, id); break;
  case MDT_STALE_CONTACT: mdt_store_log_list(st, MDT_LOG_CONTACT, id); break;
  default: break;
  }
}

static void on_row(void *ctx, sqlite3 *db, int op, const char *schema,
                   const char *table, sqlite3_int64 key1, sqlite3_int64 key2)
{
  mdt_store *st = (mdt_store *)ctx;
  const mdt_watch *w;
  size_t i, n;
  int which, kind, col;
  (void)key1;
  (void)key2;
  if (strcmp(schema, "main") != 0) return;
  w = mdt_schema_watches(&n);
  for (i = 0; i < n; i++)
    if (w[i].table[0] == table[0] && strcmp(w[i].table, table) == 0) break;
  if (i == n) return;                   /* a table that decides nothing */
  which = op == SQLITE_INSERT ? MDT_WATCH_INSERT
        : op == SQLITE_DELETE ? MDT_WATCH_DELETE : MDT_WATCH_UPDATE;
  kind = w[i].on[which];
  if (kind == MDT_STALE_NONE) return;
  if (kind == MDT_STALE_ALL) {
    mdt_store_touch_all(st);
    return;
  }
  col = st->watchcol[i];
  if (which != MDT_WATCH_INSERT) mark(st, kind, column_id(db, 1, col));
  if (which != MDT_WATCH_DELETE) mark(st, kind, column_id(db, 0, col));
}

static void on_rollback(void *st)
{
  mdt_store_touch_all((mdt_store *)st);
}

int mdt_store_watch(mdt_store *st)
{
  static const char sql[] =
    "SELECT cid FROM pragma_table_info(?1) WHERE name = ?2";
  const mdt_watch *w;
  size_t i, n;
  sqlite3_stmt *stmt;
  int rc;
  w = mdt_schema_watches(&n);
  if (n > MDT_MAX_WATCHES)
    return mdt_store_error(st, MDT_MISUSE, "too many watched tables");
  if ((rc = mdt_store_prepare(st, sql, sizeof sql - 1, &stmt)) != MDT_OK)
    return rc;
  for (i = 0; i < n; i++) {           /* each watch's column by its name */
    st->watchcol[i] = -1;
    if (!w[i].column) continue;
    sqlite3_bind_text(stmt, 1, w[i].table, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, w[i].column, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) st->watchcol[i] = sqlite3_column_int(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
      return rc == SQLITE_DONE
        ? mdt_store_error(st, MDT_INVALID, "table %s has no column %s",
                          w[i].table, w[i].column)
        : mdt_store_fail(st, rc);
  }
  sqlite3_preupdate_hook(st->db, on_row, st);
  /* any rollback of a whole transaction, by a writer, by SQL or by SQLite
     itself after an I/O error, may undo rows the snapshot holds */
  sqlite3_rollback_hook(st->db, on_rollback, st);
  return MDT_OK;
}
