/*
** store.h -- internal interface of the SQLite store (not installed).
**
** The store owns one SQLite connection and the compiled snapshot that
** checks read.  SQLite is the source of truth; the snapshot is rebuilt or
** patched lazily, when a check asks for it after writes:
**   - mdt_store_touch_all: structure changed (levels, units, tenants,
**     rights, bundles) or a transaction rolled back: rebuild everything;
**   - mdt_store_touch_user: one user's rows changed: patch that user only.
** Commits of other connections are noticed by polling PRAGMA data_version
** at most once per refresh interval, never on every check.
*/
#ifndef MDT_STORE_H
#define MDT_STORE_H

#include <sqlite3.h>
#include "mandate.h"

typedef struct mdt_store mdt_store;

/* Flags of mdt_store_open. */
#define MDT_OPEN_READONLY 1     /* no writes; an older schema is refused */
#define MDT_OPEN_NOCREATE 2     /* a missing file is MDT_NOTFOUND */
#define MDT_OPEN_ADOPT    4     /* add mandate's tables to a database that
                                   holds other tables */

/*
** Open (creating when missing, unless MDT_OPEN_NOCREATE) the store at
** path; NULL or ":memory:" gives a private in-memory store.  Applies
** pragmas (foreign keys, busy timeout) and migrates the schema to the
** current version inside one transaction, then switches a file to WAL.
** Refuses, changing nothing in the file: a newer schema (MDT_ERROR), a
** database of another application (MDT_INVALID; one with tables but no
** schema version is adopted with MDT_OPEN_ADOPT), an older schema when
** MDT_OPEN_READONLY.  Returns MDT_OK and *out, or an error code with *out
** NULL and the message copied to errbuf (errcap bytes).
*/
int mdt_store_open(const char *path, int flags, mdt_store **out,
                   char *errbuf, size_t errcap);

/* Close the connection and free everything.  Accepts NULL. */
void mdt_store_close(mdt_store *st);

/* The detailed message of the last failure ("" when none). */
const char *mdt_store_errmsg(const mdt_store *st);

/* The SQLite connection (owned by the store). */
sqlite3 *mdt_store_db(mdt_store *st);

/*
** Make dst's main database a copy of src's as src's connection sees it
** (its open transaction included), by SQLite's backup API, and mark dst's
** snapshot stale.  dst must have no change set open.  Returns MDT_OK, or
** the code of SQLite's failure with its message in dst (MDT_BUSY while
** src is locked; an in-memory dst needs src's page size).
*/
int mdt_store_copy(mdt_store *dst, mdt_store *src);

/*
** A prepared statement for sql (len bytes), from the store's cache: reset
** and with bindings cleared.  Returns MDT_OK, or an error code with the
** SQLite message in mdt_store_errmsg.  The statement belongs to the store.
*/
int mdt_store_prepare(mdt_store *st, const char *sql, size_t len,
                      sqlite3_stmt **out);

/*
** The first column of the one row sql returns (len bytes), as an integer:
** MDT_OK, or the failure (a statement that returns no row is one).
*/
int mdt_store_int64(mdt_store *st, const char *sql, size_t len,
                    int64_t *out);

/* Map a SQLite result code to an MDT_ code and keep SQLite's message. */
int mdt_store_fail(mdt_store *st, int rc);

/*
** Mark the whole snapshot stale, or only one user's part of it.  The
** store's preupdate hook calls these for every row written (schema.c's
** watches, watch.c); a rollback marks everything.
*/
void mdt_store_touch_all(mdt_store *st);
int mdt_store_touch_user(mdt_store *st, mdt_id user);

/* Watch the connection's writes and rollbacks (at open, watch.c). */
int mdt_store_watch(mdt_store *st);

/*
** A number that steps whenever a distribution list may have changed
** (its rows or anything structural, here or, once polled, elsewhere):
** what the resolved lists are cached against.
*/
uint64_t mdt_store_lists_epoch(const mdt_store *st);

/*
** The log of what changed for the lists since the last clear (lists.c):
** ids[k] and n[k] for k = MDT_LOG_ROLE (roles whose row, channels, tags or
** list entries changed), MDT_LOG_LIST (lists whose row or tags changed)
** and MDT_LOG_CONTACT (contacts whose row changed); the result is 1 when
** anything may have changed beyond that (start over), else 0.
** mdt_store_touch_lists marks "anything"; clear empties the log.
*/
enum { MDT_LOG_ROLE, MDT_LOG_LIST, MDT_LOG_CONTACT, MDT_NLISTLOGS };
int mdt_store_list_changes(const mdt_store *st, const mdt_id **ids,
                           size_t *n);
void mdt_store_clear_list_changes(mdt_store *st);
void mdt_store_touch_lists(mdt_store *st);

/*
** The snapshot, brought up to date first: polls data_version when the
** refresh interval has passed (outside transactions), rebuilds or patches
** what was touched.  On failure the previous snapshot stays in use, the
** code is returned and *out still points at a usable (older) snapshot when
** there was one.
*/
int mdt_store_snapshot(mdt_store *st, const mdt_snap **out);

/*
** Poll now: when another connection committed since the last look, the
** next mdt_store_snapshot rebuilds.  Returns MDT_OK or an error code.
*/
int mdt_store_refresh(mdt_store *st);

/*
** The snapshot as it stands, neither rebuilt nor patched, or NULL when
** there is none yet or it must be rebuilt.  Its keys and ids are the
** store's as of the last poll (mdt_store_refresh), except that entities
** created since are missing; touched users' rows may be behind.  For
** writers resolving keys to ids without SQL.
*/
const mdt_snap *mdt_store_current(const mdt_store *st);

/*
** The id of key (len bytes) of kind (MDT_UNIT ... MDT_CUSTOMER; MDT_LEVEL
** names none), for writers: from the snapshot as it stands when it knows
** the key (see mdt_store_current), else by one indexed query; 0 when the
** key names nothing.  Returns MDT_OK or the query's failure.
*/
int mdt_store_id(mdt_store *st, int kind, const char *key, size_t len,
                 mdt_id *out);

/*
** Write user's explicit access to tenant (keys of ulen and tlen bytes),
** access "full", "read" or "hidden", or delete it when access is NULL, in
** the open change set, with its audit row under op (access.c).  *missing
** gets 1 or 2 when the user or the tenant key names nothing, 3 when
** access is no access; then nothing is written.  Nothing is written
** either when nothing would change.  Returns MDT_OK or the failure.
*/
int mdt_store_write_access(mdt_store *st, const char *op, const char *user,
                           size_t ulen, const char *tenant, size_t tlen,
                           const char *access, int *missing);

/*
** Whether unit key (id unit, 0 for a new one) may sit under parent (0 for
** a root) on the level at depth: the engine's tree rules (mdt_tree_check)
** over the rows the change touches, two queries however deep the tree
** (tree.c).  Returns MDT_OK with fault->rule MDT_TREE_OK when it may, else
** the rule it breaks and the keys and depths involved (the unit breaking
** it and its parent: the written unit itself, or a child of it for the
** level rule), with the depths the written unit may take: lo (below its
** parent) to hi (above its children; -1 when it has none).  Returns the
** failure of a query otherwise.
*/
typedef struct mdt_unit_fault {
  int rule;                 /* MDT_TREE_*; MDT_TREE_OK: none broken */
  char unit[256], parent[256];   /* keys, cut to 255 bytes */
  int unit_depth, parent_depth;
  int lo, hi;
} mdt_unit_fault;
int mdt_store_unit_fault(mdt_store *st, const char *key, mdt_id unit,
                         mdt_id parent, int depth, mdt_unit_fault *fault);

/*
** The same rules over every unit (in key order) with the levels
** names[0..n-1], top to bottom, instead of the stored ones: for
** set_levels.  Every unit's level must be among them (MDT_INVALID
** otherwise); lo and hi mean nothing here.
*/
int mdt_store_levels_fault(mdt_store *st, const char *const *names, int n,
                           mdt_unit_fault *fault);

/*
** Seconds between automatic data_version polls; 0 polls on every snapshot
** request, a negative value never (only mdt_store_refresh).
*/
void mdt_store_set_interval(mdt_store *st, double seconds);
double mdt_store_interval(const mdt_store *st);

/*
** While the store is held, mdt_store_snapshot hands out the snapshot as
** it is: no poll, no patch, no rebuild, so the snapshot and everything in
** it stay where they are.  A caller that keeps using a snapshot across
** code that may check again on the same store (in Lua: a metamethod, a
** finalizer) holds the store meanwhile; writes made then are applied at
** the first snapshot request after the last release.  Holds nest.
*/
void mdt_store_hold(mdt_store *st);
void mdt_store_release(mdt_store *st);
int mdt_store_held(const mdt_store *st);

/*
** Pinning keeps the committed state readable while a change set is open:
** mdt_store_pin (right after the change set's BEGIN, before it writes)
** brings the snapshot up to date and keeps it as it is, so that callers
** outside the change set (in Lua: other coroutines, while its owner has
** yielded) read mdt_store_pinned, never an uncommitted row.  Meanwhile
** the change set's own writes go into a new snapshot: the pinned one is
** never patched.  mdt_store_unpin (after COMMIT or ROLLBACK) lets it go.
** mdt_store_pin returns MDT_OK or the code of a failed refresh;
** mdt_store_pinned is NULL when nothing is pinned.
*/
int mdt_store_pin(mdt_store *st);
const mdt_snap *mdt_store_pinned(const mdt_store *st);
void mdt_store_unpin(mdt_store *st);

/*
** Keeping a snapshot: mdt_store_keep brings the snapshot up to date and
** keeps it as it is until mdt_store_unkeep, never patched nor freed,
** while the store's own snapshot moves on without it (a dry run compares
** the snapshot before its writes with the one after them, mdt_diff).
** Several may be kept at once, the same one more than once (each keep
** wants its unkeep); closing the store frees them all.  mdt_store_keep
** returns MDT_OK, MDT_NOMEM, MDT_MISUSE while the store is held (the
** snapshot might be behind) or the code of a failed refresh or rebuild;
** mdt_store_is_kept tells whether s is kept; mdt_store_unkeep ignores a
** snapshot that is not.
*/
int mdt_store_keep(mdt_store *st, const mdt_snap **out);
int mdt_store_is_kept(const mdt_store *st, const mdt_snap *s);
void mdt_store_unkeep(mdt_store *st, const mdt_snap *s);

/*
** mdt_store_restore unkeeps s and makes it the store's snapshot again,
** instead of a rebuild: for a caller who kept s right after BEGIN and
** has just rolled that whole transaction back, so that the database is
** where s was taken.  1 when s was kept, else 0 and nothing changes.
*/
int mdt_store_restore(mdt_store *st, const mdt_snap *s);

/*
** Change sets (change.c).  mdt_change_begin opens a level: the outermost
** takes the write lock (BEGIN IMMEDIATE; a savepoint inside a transaction
** opened by someone else), polls for other connections' commits and reads
** the revision; an inner one is a savepoint, or nothing when direct (a
** writer that checks everything before its first write).  *level gets the
** new depth, 1 for the outermost.  Refused with MDT_TORN after a writer
** failed inside an open level (it can only roll back), MDT_LOST when SQLite
** rolled the transaction back by itself (some I/O errors do).  mdt_change_end closes the innermost level: COMMIT (the
** outermost writes its revision when an audit row survived, with the time
** and the actor), ROLLBACK (undo the level; a direct level has nothing to
** undo), or TEAR (roll back what can be, and the level around it only
** rolls back from then on).  Committing a torn level rolls it back and
** returns MDT_TORN; a failing COMMIT rolls back and returns the failure.
** Any rollback marks the snapshot stale.
*/
#define MDT_TORN 100            /* results of the change set's own rules */
#define MDT_LOST 101
#define MDT_CHANGE_COMMIT 0
#define MDT_CHANGE_ROLLBACK 1
#define MDT_CHANGE_TEAR 2
int mdt_change_begin(mdt_store *st, int direct, int *level);
int mdt_change_end(mdt_store *st, int how);

/* Write an audit row of the open change set (texts of the given length,
   before/after NULL when absent). */
int mdt_change_audit(mdt_store *st, const char *op, const char *subject,
                     const char *before, size_t nbefore, const char *after,
                     size_t nafter);

/* The depth of the open change set, 0 when none. */
int mdt_change_level(const mdt_store *st);

/* Roll back whatever is open (its owner is gone). */
void mdt_change_abandon(mdt_store *st);

/* Who acts: recorded with every revision from now on (NULL: nobody). */
int mdt_change_set_actor(mdt_store *st, const char *actor);
const char *mdt_change_actor(const mdt_store *st);

/*
** A number that changes before the snapshot changes in any way (a
** rebuild, or a patch of users whose keys may change): what a caller
** derived from the snapshot, such as ids of keys, holds until it moves.
*/
uint64_t mdt_store_epoch(const mdt_store *st);

/* How many full rebuilds and user patches the store has made so far. */
void mdt_store_stats(const mdt_store *st, int64_t *rebuilds,
                     int64_t *patches);

/*
** The decision log (decisions.c), off until mdt_store_log_on: checks that
** log call mdt_dlog_add, which records denials always and allowed
** decisions at the sample rate into a ring buffer of `buffer` slots,
** allocating nothing; mdt_store_log_flush writes the buffer to the table
** decisions and keeps its newest max_rows rows.
*/
typedef struct mdt_dlog mdt_dlog;

typedef struct mdt_dlog_config {
  double sample;            /* 0 to 1: the share of allowed decisions kept */
  int64_t max_rows;         /* >= 1: rows the table keeps, the newest */
  size_t buffer;            /* >= 1: slots between flushes */
  uint64_t seed;            /* of the sampling; 0: a fixed one */
} mdt_dlog_config;

/*
** The texts of a decision's keys that named nothing, as the caller was
** given them (user, right, tenant, owner, unit, customer; p NULL: none),
** for the keys an id cannot give back.
*/
typedef struct mdt_dlog_text {
  const char *p[6];
  size_t n[6];
} mdt_dlog_text;

/*
** Turn the log on, or change its configuration (a smaller buffer keeps
** the newest slots): MDT_OK and *out, the log for mdt_dlog_add, valid
** until mdt_store_close; MDT_MISUSE for a bad configuration, MDT_NOMEM.
** mdt_store_log_off stops recording; what the buffer holds stays for the
** next flush.
*/
int mdt_store_log_on(mdt_store *st, const mdt_dlog_config *c, mdt_dlog **out);
void mdt_store_log_off(mdt_store *st);

/* Whether a flush has anything to write or report. */
int mdt_store_log_pending(const mdt_store *st);

/*
** Log the decision reason of user on right and rec (NULL: no record) made
** on snapshot s, which must be the store's current or pinned snapshot;
** t (or NULL) gives texts of keys that named nothing.  MDT_UNKNOWN_RIGHT
** is no decision and is not logged.  Never allocates; a full buffer loses
** its oldest slot.
*/
void mdt_dlog_add(mdt_dlog *g, const mdt_snap *s, mdt_id user, mdt_id right,
                  const mdt_record *rec, int reason, const mdt_dlog_text *t);

/*
** Write the buffer to the table decisions in a transaction of its own
** and keep the table's newest max_rows rows; *written gets the rows
** written, *lost the decisions lost since the last flush (overwritten in
** a full buffer).  MDT_BUSY while a transaction is open on the
** connection; on any failure the buffer stays as it was.  Close calls it
** first: mdt_store_close discards what is left.
*/
int mdt_store_log_flush(mdt_store *st, int64_t *written, int64_t *lost);

#endif
