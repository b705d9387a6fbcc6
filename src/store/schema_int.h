/*
** schema_int.h -- the schema's migrations and what its tables' rows make
** stale, for store.c and watch.c (internal).
*/
#ifndef MDT_SCHEMA_INT_H
#define MDT_SCHEMA_INT_H

#include <sqlite3.h>

int mdt_schema_version(void);
const char *mdt_schema_migration(int v);

/* What a row written to a table makes stale (schema.c, watch.c). */
enum {
  MDT_STALE_NONE, MDT_STALE_ALL, MDT_STALE_USER,
  MDT_STALE_ROLE, MDT_STALE_LIST, MDT_STALE_CONTACT
};
enum { MDT_WATCH_INSERT, MDT_WATCH_UPDATE, MDT_WATCH_DELETE };
#define MDT_MAX_WATCHES 32

typedef struct mdt_watch {
  const char *table;
  const char *column;       /* the id a USER, ROLE, LIST, CONTACT names */
  unsigned char on[3];      /* per MDT_WATCH_ op: an MDT_STALE_ kind */
} mdt_watch;

/* The table of watches and its length. */
const mdt_watch *mdt_schema_watches(size_t *n);

#endif
