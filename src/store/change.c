/*
** change.c -- where a change set begins and ends.
**
** Every write is a change set: the outermost one takes the write lock
** (BEGIN IMMEDIATE, so that concurrent writers wait instead of failing
** halfway) and reads the revision it starts from; one opened inside it is
** a savepoint, or nothing at all for a "direct" writer that checks all its
** arguments before its first write (a savepoint copies every page the
** writer touches into its journal, a quarter of the cost of a bulk
** set_access).  A writer's failure inside tears the level around it: that
** level can only roll back (the failure cannot be caught away, and a
** direct writer's half-done work undone alone).  Audit rows are written under the
** next revision; the outermost commit writes that revision once, with
** its time and actor, and only when an audit row survived.
*/
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* What ending a level undoes. */
enum { OUTER_BEGIN, OUTER_SAVEPOINT, SAVEPOINT, DIRECT };

/* Run one statement of the cache that returns no row. */
static int run(mdt_store *st, const char *sql, size_t len)
{
  sqlite3_stmt *stmt;
  int rc = mdt_store_prepare(st, sql, len, &stmt);
  if (rc != MDT_OK) return rc;
  rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? MDT_OK
                                               : mdt_store_fail(st, rc);
}

#define RUN(st, sql) run((st), sql, sizeof sql - 1)

int mdt_store_revision(mdt_store *st, int64_t *out)
{
  static const char sql[] = "SELECT value FROM meta WHERE key = 'revision'";
  return mdt_store_int64(st, sql, sizeof sql - 1, out);
}

/* Undo everything of the outermost level; never fails and keeps the
** store's message (a failure that made it roll back is on its way),
** leaves no level open. */
static void roll_back_all(mdt_store *st)
{
  char keep[sizeof st->errmsg];
  memcpy(keep, st->errmsg, sizeof keep);
  if (st->nchanges > 0 && st->changes[0].kind == OUTER_BEGIN) {
    if (!sqlite3_get_autocommit(st->db)) RUN(st, "ROLLBACK");
  } else if (st->nchanges > 0) {
    RUN(st, "ROLLBACK TO mandate");
    RUN(st, "RELEASE mandate");
  }
  memcpy(st->errmsg, keep, sizeof keep);
  st->nchanges = 0;
  st->audited = 0;
  mdt_store_touch_all(st);
}

/* Is any open level torn? */
static int torn(const mdt_store *st)
{
  size_t i;
  for (i = 0; i < st->nchanges; i++)
    if (st->changes[i].torn) return 1;
  return 0;
}

int mdt_change_begin(mdt_store *st, int direct, int *level)
{
  mdt_change *c;
  int rc, outer = st->nchanges == 0;
  if (!outer && torn(st))
    return mdt_store_error(st, MDT_TORN, "the change set is torn");
  if (!outer && sqlite3_get_autocommit(st->db))
    return mdt_store_error(st, MDT_LOST, "the transaction was rolled back");
  if (st->nchanges == st->capchanges) {
    size_t cap = st->capchanges ? 2 * st->capchanges : 8;
    c = realloc(st->changes, cap * sizeof *c);
    if (!c) return mdt_store_error(st, MDT_NOMEM, "out of memory");
    st->changes = c;
    st->capchanges = cap;
  }
  c = &st->changes[st->nchanges];
  if (outer) {
    c->kind = sqlite3_get_autocommit(st->db) ? OUTER_BEGIN : OUTER_SAVEPOINT;
    rc = c->kind == OUTER_BEGIN ? RUN(st, "BEGIN IMMEDIATE")
                                : RUN(st, "SAVEPOINT mandate");
    if (rc != MDT_OK) return rc;
    /* holding the lock, poll: the snapshot then notices other
       connections' commits, and nobody else commits until we end */
    if ((rc = mdt_store_refresh(st)) != MDT_OK ||
        (rc = mdt_store_revision(st, &st->base)) != MDT_OK) {
      st->nchanges = 1;
      roll_back_all(st);
      return rc;
    }
    st->audited = 0;
  } else if (direct) {
    c->kind = DIRECT;
  } else {
    c->kind = SAVEPOINT;
    if ((rc = RUN(st, "SAVEPOINT mandate")) != MDT_OK) return rc;
  }
  c->audited = st->audited;
  c->torn = 0;
  *level = (int)++st->nchanges;
  return MDT_OK;
}

/* The outermost level's commit: its revision, then COMMIT or RELEASE. */
static int commit_outer(mdt_store *st)
{
  static const char sql_revision[] = "INSERT INTO revisions(revision, time,"
    " actor, last_id) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?2,"
    " (SELECT max(id) FROM audit))";
  static const char sql_bump[] = "UPDATE meta SET value = ?1"
    " WHERE key = 'revision'";
  sqlite3_stmt *stmt;
  int rc = MDT_OK;
  if (st->audited > 0) {            /* a change that changed nothing has
                                       no revision */
    if ((rc = mdt_store_prepare(st, sql_revision, sizeof sql_revision - 1,
                                &stmt)) != MDT_OK)
      return rc;
    sqlite3_bind_int64(stmt, 1, st->base + 1);
    if (st->actor) sqlite3_bind_text(stmt, 2, st->actor, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE) return mdt_store_fail(st, rc);
    if ((rc = mdt_store_prepare(st, sql_bump, sizeof sql_bump - 1, &stmt))
        != MDT_OK)
      return rc;
    sqlite3_bind_int64(stmt, 1, st->base + 1);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return mdt_store_fail(st, rc);
  }
  return st->changes[0].kind == OUTER_BEGIN ? RUN(st, "COMMIT")
                                            : RUN(st, "RELEASE mandate");
}

int mdt_change_end(mdt_store *st, int how)
{
  mdt_change *c;
  int rc = MDT_OK;
  if (st->nchanges == 0)
    return mdt_store_error(st, MDT_MISUSE, "no change set is open");
  c = &st->changes[st->nchanges - 1];
  if (how == MDT_CHANGE_COMMIT && c->torn) {
    mdt_change_end(st, MDT_CHANGE_ROLLBACK);
    return mdt_store_error(st, MDT_TORN, "the change set is torn");
  }
  if (st->nchanges == 1) {
    if (how == MDT_CHANGE_COMMIT && (rc = commit_outer(st)) == MDT_OK) {
      st->nchanges = 0;
      st->audited = 0;
      return MDT_OK;
    }
    roll_back_all(st);
    return rc;
  }
  if (c->kind == SAVEPOINT) {
    if (how == MDT_CHANGE_COMMIT) {
      rc = RUN(st, "RELEASE mandate");
    } else {
      RUN(st, "ROLLBACK TO mandate");
      RUN(st, "RELEASE mandate");
      st->audited = c->audited;
      mdt_store_touch_all(st);
    }
  }
  st->nchanges--;
  if (how == MDT_CHANGE_TEAR) st->changes[st->nchanges - 1].torn = 1;
  return rc;
}

int mdt_change_audit(mdt_store *st, const char *op, const char *subject,
                     const char *before, size_t nbefore, const char *after,
                     size_t nafter)
{
  static const char sql[] = "INSERT INTO audit(revision, op, subject,"
    " before, after) VALUES (?1, ?2, ?3, ?4, ?5)";
  sqlite3_stmt *stmt;
  int rc;
  if (st->nchanges == 0)
    return mdt_store_error(st, MDT_MISUSE, "no change set is open");
  if ((rc = mdt_store_prepare(st, sql, sizeof sql - 1, &stmt)) != MDT_OK)
    return rc;
  sqlite3_bind_int64(stmt, 1, st->base + 1);
  sqlite3_bind_text(stmt, 2, op, -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 3, subject, -1, SQLITE_STATIC);
  if (before) sqlite3_bind_text64(stmt, 4, before, nbefore, SQLITE_STATIC,
                                  SQLITE_UTF8);
  if (after) sqlite3_bind_text64(stmt, 5, after, nafter, SQLITE_STATIC,
                                 SQLITE_UTF8);
  rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (rc != SQLITE_DONE) return mdt_store_fail(st, rc);
  st->audited++;
  return MDT_OK;
}

int mdt_change_level(const mdt_store *st)
{
  return (int)st->nchanges;
}

void mdt_change_abandon(mdt_store *st)
{
  roll_back_all(st);
}

int mdt_change_set_actor(mdt_store *st, const char *actor)
{
  char *copy = NULL;
  if (actor) {
    size_t n = strlen(actor) + 1;
    if ((copy = malloc(n)) == NULL)
      return mdt_store_error(st, MDT_NOMEM, "out of memory");
    memcpy(copy, actor, n);
  }
  free(st->actor);
  st->actor = copy;
  return MDT_OK;
}

const char *mdt_change_actor(const mdt_store *st)
{
  return st->actor;
}
