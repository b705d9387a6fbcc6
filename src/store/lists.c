/*
** lists.c -- what the resolved distribution lists must update.
**
** The Lua layer keeps each list's members compiled (lua/mandate/
** contacts.lua).  The store's watches (schema.c, watch.c) name every role,
** list and contact whose rows this connection writes; the cache drains that
** log and patches just those, so one role added to a 50k-role list costs
** what the role costs, not a new list.  Anything it cannot tell apart (a
** rollback, another connection's commit, a structural change, a log grown
** long) sets "all": the cache starts over.
*/
#include <stdlib.h>

#include "store_int.h"

#define MAX_LOGGED 4096         /* past this, starting over is cheaper */

void mdt_store_log_list(mdt_store *st, int k, mdt_id id)
{
  mdt_idlog *log = &st->listlog[k];
  st->lists++;
  if (st->lists_all) return;
  if (log->n > 0 && log->id[log->n - 1] == id) return;
  if (log->n == log->cap) {
    size_t cap = log->cap ? 2 * log->cap : 16;
    mdt_id *p = cap <= MAX_LOGGED ? realloc(log->id, cap * sizeof *p) : NULL;
    if (!p) {                       /* too long, or no memory: start over */
      st->lists_all = 1;
      return;
    }
    log->id = p;
    log->cap = cap;
  }
  log->id[log->n++] = id;
}

void mdt_store_touch_lists(mdt_store *st)
{
  st->lists++;
  st->lists_all = 1;
}

uint64_t mdt_store_lists_epoch(const mdt_store *st)
{
  return st->lists;
}

int mdt_store_list_changes(const mdt_store *st, const mdt_id **ids,
                           size_t *n)
{
  int k;
  for (k = 0; k < MDT_NLISTLOGS; k++) {
    ids[k] = st->listlog[k].id;
    n[k] = st->listlog[k].n;
  }
  return st->lists_all;
}

void mdt_store_clear_list_changes(mdt_store *st)
{
  int k;
  for (k = 0; k < MDT_NLISTLOGS; k++) st->listlog[k].n = 0;
  st->lists_all = 0;
}

void mdt_store_free_list_changes(mdt_store *st)
{
  int k;
  for (k = 0; k < MDT_NLISTLOGS; k++) {
    free(st->listlog[k].id);
    st->listlog[k].id = NULL;
    st->listlog[k].n = st->listlog[k].cap = 0;
  }
}
