/*
** store.c -- opening a store: connection, pragmas, migrations, the
** statement cache and error mapping.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "schema_int.h"

#define BUSY_TIMEOUT_MS 5000    /* writers of other processes are short */
#define DEFAULT_INTERVAL 1.0    /* seconds between data_version polls */

/* Errors {{{ */

int mdt_store_error(mdt_store *st, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
  va_end(ap);
  return code;
}

static int map_rc(int rc)
{
  switch (rc & 0xff) {
    case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return MDT_OK;
    case SQLITE_NOMEM: return MDT_NOMEM;
    case SQLITE_BUSY: case SQLITE_LOCKED: return MDT_BUSY;
    case SQLITE_CONSTRAINT: return MDT_CONSTRAINT;
    case SQLITE_MISUSE: case SQLITE_RANGE: return MDT_MISUSE;
    case SQLITE_IOERR: case SQLITE_CANTOPEN: case SQLITE_FULL:
    case SQLITE_READONLY: case SQLITE_CORRUPT: case SQLITE_NOTADB:
    case SQLITE_PERM: case SQLITE_PROTOCOL: return MDT_IOERR;
    default: return MDT_ERROR;
  }
}

int mdt_store_fail(mdt_store *st, int rc)
{
  return mdt_store_error(st, map_rc(rc), "%s", sqlite3_errmsg(st->db));
}

const char *mdt_store_errmsg(const mdt_store *st)
{
  return st ? st->errmsg : "not a store";
}
/* }}} */

/* Statement cache {{{ */

static unsigned hash_text(const char *s, size_t len)
{
  unsigned h = 2166136261u;     /* FNV-1a */
  size_t i;
  for (i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static int grow_stmts(mdt_store *st)
{
  size_t cap = st->capstmts ? st->capstmts * 2 : 64, i;
  stmt_slot *slots = calloc(cap, sizeof *slots);
  if (!slots) return MDT_NOMEM;
  for (i = 0; i < st->capstmts; i++) {
    stmt_slot *o = &st->stmts[i];
    size_t j;
    if (!o->sql) continue;
    for (j = o->hash & (cap - 1); slots[j].sql; j = (j + 1) & (cap - 1)) {}
    slots[j] = *o;
  }
  free(st->stmts);
  st->stmts = slots;
  st->capstmts = cap;
  return MDT_OK;
}

int mdt_store_prepare(mdt_store *st, const char *sql, size_t len,
                      sqlite3_stmt **out)
{
  unsigned h = hash_text(sql, len);
  size_t j;
  stmt_slot *slot;
  int rc;
  *out = NULL;
  if (2 * (st->nstmts + 1) > st->capstmts && grow_stmts(st) != MDT_OK)
    return mdt_store_error(st, MDT_NOMEM, "out of memory");
  for (j = h & (st->capstmts - 1); st->stmts[j].sql;
       j = (j + 1) & (st->capstmts - 1)) {
    slot = &st->stmts[j];
    if (slot->hash == h && slot->len == len && !memcmp(slot->sql, sql, len)) {
      sqlite3_reset(slot->stmt);
      sqlite3_clear_bindings(slot->stmt);
      *out = slot->stmt;
      return MDT_OK;
    }
  }
  slot = &st->stmts[j];
  if (len > (size_t)0x7ffffff0)
    return mdt_store_error(st, MDT_RANGE, "statement too long");
  rc = sqlite3_prepare_v3(st->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT,
                          out, NULL);
  if (rc != SQLITE_OK) return mdt_store_fail(st, rc);
  if (!*out) return mdt_store_error(st, MDT_MISUSE, "empty statement");
  slot->sql = malloc(len + 1);
  if (!slot->sql) {
    sqlite3_finalize(*out);
    *out = NULL;
    return mdt_store_error(st, MDT_NOMEM, "out of memory");
  }
  memcpy(slot->sql, sql, len);
  slot->sql[len] = '\0';
  slot->len = len;
  slot->hash = h;
  slot->stmt = *out;
  st->nstmts++;
  return MDT_OK;
}

int mdt_store_int64(mdt_store *st, const char *sql, size_t len,
                    int64_t *out)
{
  sqlite3_stmt *stmt;
  int rc = mdt_store_prepare(st, sql, len, &stmt);
  if (rc != MDT_OK) return rc;
  rc = sqlite3_step(stmt);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_reset(stmt);
  return rc == SQLITE_ROW ? MDT_OK : mdt_store_fail(st, rc);
}

static void free_stmts(mdt_store *st)
{
  size_t i;
  for (i = 0; i < st->capstmts; i++) {
    if (!st->stmts[i].sql) continue;
    sqlite3_finalize(st->stmts[i].stmt);
    free(st->stmts[i].sql);
  }
  free(st->stmts);
  st->stmts = NULL;
  st->nstmts = st->capstmts = 0;
}
/* }}} */

/* Opening {{{ */

static int exec(mdt_store *st, const char *sql)
{
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? MDT_OK : mdt_store_fail(st, rc);
}

static int user_version(mdt_store *st, int *v)
{
  sqlite3_stmt *stmt;
  int rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc != SQLITE_OK) return mdt_store_fail(st, rc);
  rc = sqlite3_step(stmt);
  *v = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  return rc == SQLITE_ROW ? MDT_OK : mdt_store_fail(st, rc);
}

/*
** Apply the missing migrations in one IMMEDIATE transaction: a second
** process opening the same new file waits for the first instead of
** migrating twice, and reads the version again once it holds the lock.
*/
static int migrate(mdt_store *st)
{
  int have, want = mdt_schema_version(), rc, v;
  char pragma[48];
  if ((rc = user_version(st, &have)) != MDT_OK) return rc;
  if (have == want) return MDT_OK;
  if ((rc = exec(st, "BEGIN IMMEDIATE")) != MDT_OK) return rc;
  if ((rc = user_version(st, &have)) != MDT_OK) goto fail;
  if (have > want) {
    rc = mdt_store_error(st, MDT_ERROR,
        "store schema version %d is newer than this mandate (%d)", have, want);
    goto fail;
  }
  for (v = have + 1; v <= want; v++) {
    if ((rc = exec(st, mdt_schema_migration(v))) != MDT_OK) goto fail;
  }
  snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", want);
  if ((rc = exec(st, pragma)) != MDT_OK) goto fail;
  return exec(st, "COMMIT");
fail:
  sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/*
** Refuse, before anything in the file changes, what is not a mandate
** store of a version this build can use: a newer schema, a database of
** another application (unless MDT_OPEN_ADOPT), an older schema that a
** read-only open cannot upgrade.
*/
static int inspect(mdt_store *st, int flags)
{
  static const char sql[] = "SELECT count(*), coalesce(sum(name = 'meta'), 0)"
    " FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
  int have, want = mdt_schema_version(), rc, tables, meta;
  sqlite3_stmt *stmt;
  if ((rc = user_version(st, &have)) != MDT_OK) return rc;
  if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL)) != SQLITE_OK)
    return mdt_store_fail(st, rc);
  rc = sqlite3_step(stmt);
  tables = sqlite3_column_int(stmt, 0);
  meta = sqlite3_column_int(stmt, 1);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return mdt_store_fail(st, rc);
  if (have > want)
    return mdt_store_error(st, MDT_ERROR,
        "store schema version %d is newer than this mandate (%d)", have, want);
  if (have > 0 && !meta)
    return mdt_store_error(st, MDT_INVALID, "not a mandate store: its "
        "user_version is %d, and it has no table meta", have);
  if (have == 0 && tables > 0 && !(flags & MDT_OPEN_ADOPT))
    return mdt_store_error(st, MDT_INVALID, "not a mandate store: it holds "
        "%d table%s of another application (the create option adds "
        "mandate's tables to it)", tables, tables == 1 ? "" : "s");
  if (have < want && (flags & MDT_OPEN_READONLY))
    return mdt_store_error(st, MDT_ERROR, "store schema version %d is older "
        "than this mandate (%d): open it writable once to upgrade it",
        have, want);
  return MDT_OK;
}

/*
** Connection settings, the checks of inspect, the migrations, and only
** then what persists in the file (WAL): an open that refuses changes
** nothing.
*/
static int configure(mdt_store *st, int in_memory, int flags)
{
  int rc;
  sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(st->db, 1);
  if ((rc = exec(st, "PRAGMA foreign_keys = ON")) != MDT_OK) return rc;
  if ((rc = exec(st, "PRAGMA synchronous = NORMAL")) != MDT_OK) return rc;
  /* bulk changes: keep a large transaction's pages and every savepoint's
     journal in memory instead of spilling to pwrite/pread */
  if ((rc = exec(st, "PRAGMA cache_size = -65536")) != MDT_OK) return rc;
  if ((rc = exec(st, "PRAGMA temp_store = MEMORY")) != MDT_OK) return rc;
  if ((rc = inspect(st, flags)) != MDT_OK) return rc;
  if (!(flags & MDT_OPEN_READONLY) && (rc = migrate(st)) != MDT_OK)
    return rc;
  if ((rc = mdt_store_watch(st)) != MDT_OK) return rc;
  if (flags & MDT_OPEN_READONLY) return MDT_OK;
  /* WAL lets web workers read while an admin script writes */
  if (!in_memory && (rc = exec(st, "PRAGMA journal_mode = WAL")) != MDT_OK)
    return rc;
  return MDT_OK;
}

int mdt_store_open(const char *path, int flags, mdt_store **out,
                   char *errbuf, size_t errcap)
{
  mdt_store *st;
  int in_memory = !path || !strcmp(path, ":memory:");
  int rc, open_flags = SQLITE_OPEN_NOMUTEX;
  *out = NULL;
  open_flags |= flags & MDT_OPEN_READONLY ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE;
  if (in_memory || !(flags & (MDT_OPEN_NOCREATE | MDT_OPEN_READONLY)))
    open_flags |= SQLITE_OPEN_CREATE;         /* read-only creates nothing */
  st = calloc(1, sizeof *st);
  if (!st) {
    if (errcap) snprintf(errbuf, errcap, "out of memory");
    return MDT_NOMEM;
  }
  st->stale = 1;
  st->interval = DEFAULT_INTERVAL;
  st->polled_revision = -1;
  rc = sqlite3_open_v2(in_memory ? ":memory:" : path, &st->db, open_flags,
                       NULL);
  if (rc != SQLITE_OK && (rc & 0xff) == SQLITE_CANTOPEN &&
      !(open_flags & SQLITE_OPEN_CREATE)) {
    rc = mdt_store_error(st, MDT_NOTFOUND, "no such store (and not to be "
                         "created: %s)", open_flags & SQLITE_OPEN_READONLY ?
                         "opened read-only" : "create is false");
  } else if (rc != SQLITE_OK) {
    rc = st->db ? mdt_store_fail(st, rc)
                : mdt_store_error(st, MDT_NOMEM, "out of memory");
  } else {
    rc = configure(st, in_memory, flags);
  }
  if (rc != MDT_OK) {
    if (errcap) snprintf(errbuf, errcap, "%s: %s", in_memory ? ":memory:" : path,
                         st->errmsg);
    mdt_store_close(st);
    return rc;
  }
  *out = st;
  return MDT_OK;
}

void mdt_store_close(mdt_store *st)
{
  if (!st) return;
  mdt_dlog_free(st->log);       /* first: nothing left to settle */
  st->log = NULL;
  free_stmts(st);
  sqlite3_close_v2(st->db);     /* NULL is a harmless no-op */
  mdt_store_unpin(st);
  while (st->nkept > 0) mdt_store_unkeep(st, st->kept[st->nkept - 1]);
  free(st->kept);
  mdt_snap_free(st->snap);
  free(st->touched);
  free(st->changes);
  free(st->actor);
  mdt_store_free_list_changes(st);
  free(st);
}

sqlite3 *mdt_store_db(mdt_store *st)
{
  return st->db;
}

int mdt_store_copy(mdt_store *dst, mdt_store *src)
{
  sqlite3_backup *b;
  int rc;
  if (dst->nchanges > 0)
    return mdt_store_error(dst, MDT_MISUSE, "a change set is open");
  b = sqlite3_backup_init(dst->db, "main", src->db, "main");
  if (!b) return mdt_store_fail(dst, sqlite3_errcode(dst->db));
  sqlite3_backup_step(b, -1);
  rc = sqlite3_backup_finish(b);      /* the step's error, if any */
  mdt_store_touch_all(dst);
  return rc == SQLITE_OK ? MDT_OK : mdt_store_fail(dst, rc);
}
/* }}} */
