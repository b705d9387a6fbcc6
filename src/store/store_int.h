/*
** store_int.h -- the store's state, shared by the files of src/store.
*/
#ifndef MDT_STORE_INT_H
#define MDT_STORE_INT_H

#include "schema_int.h"
#include "store.h"

typedef struct mdt_change {  /* one open level of a change set */
  int kind;                 /* see change.c */
  int torn;                 /* a writer failed in it: it can only roll back */
  int64_t audited;          /* audit rows written before it began */
} mdt_change;

typedef struct mdt_idlog {   /* ids a distribution list cache must update */
  mdt_id *id;
  size_t n, cap;
} mdt_idlog;

typedef struct stmt_slot {
  char *sql;                /* owned copy of the statement text */
  size_t len;
  unsigned hash;
  sqlite3_stmt *stmt;
} stmt_slot;

struct mdt_store {
  sqlite3 *db;
  stmt_slot *stmts;         /* open-addressing cache, power-of-two size */
  size_t nstmts, capstmts;
  mdt_snap *snap;           /* NULL until first needed */
  mdt_snap *pinned;         /* the committed state while a change set is
                               open for a coroutine (mdt_store_pin) */
  mdt_snap **kept;          /* snapshots kept as they are (mdt_store_keep) */
  size_t nkept, capkept;
  int stale;                /* rebuild the whole snapshot before use */
  int holds;                /* > 0: hand out the snapshot as it is */
  mdt_id *touched;          /* users to patch before use (may repeat) */
  size_t ntouched, captouched;
  int64_t data_version;     /* last PRAGMA data_version seen */
  int64_t polled_revision;  /* the revision the last poll saw; -1: none */
  double interval;          /* seconds between polls; < 0: never */
  double next_poll;         /* monotonic time of the next poll */
  int64_t rebuilds, patches;
  uint64_t epoch;           /* steps before the snapshot changes in any way */
  int64_t users_loaded;     /* user rows read, to notice deleted users */
  mdt_change *changes;      /* the open levels of the change set */
  size_t nchanges, capchanges;
  int64_t base;             /* the revision it started from */
  int64_t audited;          /* audit rows it holds */
  char *actor;              /* recorded with each revision; NULL: nobody */
  uint64_t lists;           /* steps when a distribution list may change */
  int lists_all;            /* since the last drain: anything may have */
  mdt_idlog listlog[MDT_NLISTLOGS];   /* else these roles, lists, contacts */
  int watchcol[MDT_MAX_WATCHES];      /* the ordinal of each watch's column */
  mdt_dlog *log;            /* the decision log; NULL until turned on */
  char errmsg[512];
};

/* The revision of the last commit, from meta (change.c). */
int mdt_store_revision(mdt_store *st, int64_t *out);

/* Log a role, list or contact (k: MDT_LOG_) whose rows changed (lists.c). */
void mdt_store_log_list(mdt_store *st, int k, mdt_id id);

/* Free the list log (at close). */
void mdt_store_free_list_changes(mdt_store *st);

/*
** Turn the decision log's unsettled ids into keys while the snapshots they
** belong to are unchanged: before a patch, a rebuild or an unpin
** (load.c).  mdt_dlog_free frees a log (at close; NULL is fine).
*/
void mdt_store_log_settle(mdt_store *st);
void mdt_dlog_free(mdt_dlog *g);

/* Set the store's message, printf-style; returns code. */
int mdt_store_error(mdt_store *st, int code, const char *fmt, ...);

#endif
