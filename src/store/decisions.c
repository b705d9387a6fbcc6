/*
** decisions.c -- the decision log: a ring buffer of checks, written to
** the store's table decisions when flushed.
**
** A check that logs (mdt_dlog_add) fills one slot of a buffer allocated
** when the log is turned on, and allocates nothing: the time, the ids of
** user, right and record as the snapshot decided them, the reason, and
** the text of a key that named nothing (which no snapshot could give back
** later) copied into the slot.  Ids are turned into keys only when the
** slot leaves the snapshot it was decided on: at the flush, or before
** that snapshot is patched, rebuilt or let go (mdt_store_log_settle, called
** by load.c), since the rows behind an id may be deleted (the key is then
** gone) or rolled back (AUTOINCREMENT hands the id out again) before the
** flush.  So slots are settled in order: the settled ones are the oldest,
** the unsettled ones the newest `fresh`, whose snapshots are all alive.
**
** The flush writes every slot in one transaction of its own (never a
** change set: no revision, no audit row) and then keeps the newest
** max_rows rows of the table.  A full buffer overwrites its oldest slot
** and counts it lost; a failed flush keeps the buffer.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define TEXTCAP 64              /* bytes of a slot for keys that named
                                   nothing; longer ones are cut */
#define CUT "..."

enum { F_USER, F_RIGHT, F_TENANT, F_OWNER, F_UNIT, F_CUSTOMER, NFIELDS };

static const int field_kind[NFIELDS] = { MDT_USER, MDT_RIGHT, MDT_TENANT,
                                         MDT_USER, MDT_UNIT, MDT_CUSTOMER };

typedef struct dslot {
  int64_t ms;               /* Unix time in milliseconds */
  const mdt_snap *snap;     /* the snapshot its ids belong to, until settled */
  char *keys;               /* settled: the keys' texts (see settle_slot) */
  mdt_id id[NFIELDS];       /* MDT_ABSENT, an id, or MDT_UNKNOWN */
  unsigned char reason;
  unsigned char dropped;    /* settling it failed: lost */
  unsigned char cut;        /* bit f: the text of field f was cut */
  unsigned char off[NFIELDS], len[NFIELDS];   /* its text in text[] */
  char text[TEXTCAP];       /* texts of keys that named nothing */
} dslot;

struct mdt_dlog {
  dslot *slot;
  size_t cap, first, n;     /* the buffer: n slots from first, wrapping */
  size_t fresh;             /* the newest fresh slots are not settled */
  int on;
  int all;                  /* keep every allowed decision */
  uint64_t cut;             /* else those whose draw is below cut */
  uint64_t rng;             /* xorshift64* state, never 0 */
  int64_t max_rows;
  int64_t lost;             /* slots overwritten or dropped since a flush */
};

/* Turning it on and off {{{ */

static void free_keys(mdt_dlog *g)
{
  size_t i;
  for (i = 0; i < g->n; i++) {
    dslot *e = &g->slot[(g->first + i) % g->cap];
    free(e->keys);
    e->keys = NULL;
  }
}

void mdt_dlog_free(mdt_dlog *g)
{
  if (!g) return;
  free_keys(g);
  free(g->slot);
  free(g);
}

/* Move g's slots, newest last, into a buffer of cap slots (the oldest
   beyond it are lost); MDT_NOMEM leaves g as it was. */
static int resize(mdt_dlog *g, size_t cap)
{
  dslot *fresh = calloc(cap, sizeof *fresh);
  size_t keep = g->n < cap ? g->n : cap, skip = g->n - keep, i;
  if (!fresh) return MDT_NOMEM;
  for (i = 0; i < skip; i++) {
    dslot *e = &g->slot[(g->first + i) % g->cap];
    free(e->keys);
    g->lost++;
  }
  for (i = 0; i < keep; i++)
    fresh[i] = g->slot[(g->first + skip + i) % g->cap];
  free(g->slot);
  g->slot = fresh;
  g->cap = cap;
  g->first = 0;
  g->n = keep;
  if (g->fresh > keep) g->fresh = keep;
  return MDT_OK;
}

int mdt_store_log_on(mdt_store *st, const mdt_dlog_config *c, mdt_dlog **out)
{
  mdt_dlog *g = st->log;
  *out = NULL;
  if (c->buffer < 1 || c->max_rows < 1 || !(c->sample >= 0 && c->sample <= 1))
    return mdt_store_error(st, MDT_MISUSE, "bad decision log configuration");
  if (!g) {
    if ((g = calloc(1, sizeof *g)) == NULL)
      return mdt_store_error(st, MDT_NOMEM, "out of memory");
    st->log = g;
  }
  if (g->cap != c->buffer && resize(g, c->buffer) != MDT_OK)
    return mdt_store_error(st, MDT_NOMEM, "out of memory");
  g->all = c->sample >= 1;
  /* 2^64 * sample, in two steps: a double cannot hold 2^64 - 1 exactly */
  g->cut = (uint64_t)(c->sample * 9007199254740992.0) << 11;
  g->rng = c->seed ? c->seed : UINT64_C(0x9e3779b97f4a7c15);
  g->max_rows = c->max_rows;
  g->on = 1;
  *out = g;
  return MDT_OK;
}

void mdt_store_log_off(mdt_store *st)
{
  if (st->log) st->log->on = 0;
}

int mdt_store_log_pending(const mdt_store *st)
{
  return st->log && st->log->n > 0;
}
/* }}} */

/* Logging a decision {{{ */

static uint64_t draw(mdt_dlog *g)
{
  uint64_t x = g->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  g->rng = x;
  return x * UINT64_C(0x2545f4914f6cdd1d);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy the text of field f that named nothing into e, cut to fit. */
static void keep_text(dslot *e, size_t *used, int f, const char *p, size_t n)
{
  size_t room = TEXTCAP - *used;
  if (n > room) {
    n = room;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) n--;   /* UTF-8 */
    e->cut |= (unsigned char)(1u << f);
  }
  memcpy(e->text + *used, p, n);
  e->off[f] = (unsigned char)*used;
  e->len[f] = (unsigned char)n;
  *used += n;
}

void mdt_dlog_add(mdt_dlog *g, const mdt_snap *s, mdt_id user, mdt_id right,
                  const mdt_record *rec, int reason, const mdt_dlog_text *t)
{
  dslot *e;
  size_t used = 0;
  int f;
  if (!g->on || reason < MDT_ALLOWED || reason >= MDT_UNKNOWN_RIGHT) return;
  if (reason == MDT_ALLOWED && !g->all && draw(g) >= g->cut) return;
  if (g->n == g->cap) {             /* full: the oldest goes */
    e = &g->slot[g->first];
    if (e->keys) free(e->keys);
    if (++g->first == g->cap) g->first = 0;
    g->n--;
    if (g->fresh > g->n) g->fresh = g->n;
    g->lost++;
  }
  e = &g->slot[g->first + g->n < g->cap ? g->first + g->n
                                        : g->first + g->n - g->cap];
  g->n++;
  g->fresh++;
  e->ms = now_ms();
  e->snap = s;
  e->keys = NULL;
  e->reason = (unsigned char)reason;
  e->dropped = e->cut = 0;
  e->id[F_USER] = user;
  e->id[F_RIGHT] = right;
  e->id[F_TENANT] = rec ? rec->tenant : MDT_ABSENT;
  e->id[F_OWNER] = rec ? rec->owner : MDT_ABSENT;
  e->id[F_UNIT] = rec ? rec->unit : MDT_ABSENT;
  e->id[F_CUSTOMER] = rec ? rec->customer : MDT_ABSENT;
  memset(e->len, 0, sizeof e->len);
  if (!t) return;
  for (f = 0; f < NFIELDS; f++)
    if (t->p[f]) keep_text(e, &used, f, t->p[f], t->n[f]);
}
/* }}} */

/* Keys {{{ */

/*
** The text of field f of e, unsettled: the key of its id in its snapshot,
** or the text given for a key that named nothing (cut ones end in "...",
** for which buf has room); NULL for an absent field and for an id that
** named nothing.
*/
static const char *live_text(const dslot *e, int f, char *buf, size_t *n)
{
  const char *k;
  if (e->id[f] > 0 && (k = mdt_key(e->snap, field_kind[f], e->id[f]))) {
    *n = strlen(k);
    return k;
  }
  if (e->id[f] == MDT_ABSENT || e->len[f] == 0) return NULL;
  *n = e->len[f];
  memcpy(buf, e->text + e->off[f], *n);
  if (e->cut & (1u << f)) {
    memcpy(buf + *n, CUT, sizeof CUT - 1);
    *n += sizeof CUT - 1;
  }
  return buf;
}

/*
** Settled keys are one block: per field a length byte count as 4 bytes
** (0xFFFFFFFF: no text) and the bytes.  Settles e from its snapshot; an
** allocation that fails drops the slot (it is counted lost at the flush).
*/
static void settle_slot(dslot *e)
{
  char buf[NFIELDS][TEXTCAP + sizeof CUT];
  const char *p[NFIELDS];
  size_t n[NFIELDS], total = 0;
  char *out;
  int f;
  for (f = 0; f < NFIELDS; f++) {
    p[f] = live_text(e, f, buf[f], &n[f]);
    total += 4 + (p[f] ? n[f] : 0);
  }
  e->snap = NULL;
  if ((e->keys = out = malloc(total)) == NULL) {
    e->dropped = 1;
    return;
  }
  for (f = 0; f < NFIELDS; f++) {
    uint32_t len = p[f] ? (uint32_t)n[f] : UINT32_MAX;
    memcpy(out, &len, 4);
    out += 4;
    if (p[f]) memcpy(out, p[f], n[f]);
    out += p[f] ? n[f] : 0;
  }
}

/* The text of field f of e, settled or not (see live_text). */
static const char *text_of(const dslot *e, int f, char *buf, size_t *n)
{
  const char *q = e->keys;
  uint32_t len;
  int i;
  if (!q) return live_text(e, f, buf, n);
  for (i = 0;; i++) {
    memcpy(&len, q, 4);
    if (i == f) break;
    q += 4 + (len == UINT32_MAX ? 0 : len);
  }
  *n = len;
  return len == UINT32_MAX ? NULL : q + 4;
}

void mdt_store_log_settle(mdt_store *st)
{
  mdt_dlog *g = st->log;
  size_t i;
  if (!g) return;
  for (i = g->n - g->fresh; i < g->n; i++)
    settle_slot(&g->slot[(g->first + i) % g->cap]);
  g->fresh = 0;
}
/* }}} */

/* Flushing {{{ */

/* ms as the audit writes times: "2024-05-01T12:00:00.125Z" (UTC). */
static void time_text(int64_t ms, char *out, size_t cap)
{
  int64_t days = ms / 86400000, rest = ms % 86400000, z, era, doe, yoe, doy,
          mp, y, m, d;
  if (rest < 0) {
    rest += 86400000;
    days--;
  }
  z = days + 719468;                /* civil_from_days, H. Hinnant */
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m,
           (int)d, (int)(rest / 3600000), (int)(rest / 60000 % 60),
           (int)(rest / 1000 % 60), (int)(rest % 1000));
}

static int run(mdt_store *st, const char *sql)
{
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? MDT_OK : mdt_store_fail(st, rc);
}

/* Insert the slots and trim the table, inside the flush's transaction. */
static int write_slots(mdt_store *st, mdt_dlog *g)
{
  static const char sql_insert[] = "INSERT INTO decisions(time, user_key,"
    " right_key, tenant_key, owner_key, unit_key, customer_key, reason)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  /* ids are contiguous: rows are only ever appended (max + 1) and cut
     from the oldest end */
  static const char sql_trim[] = "DELETE FROM decisions"
    " WHERE id <= (SELECT max(id) FROM decisions) - ?1";
  sqlite3_stmt *stmt;
  char buf[NFIELDS][TEXTCAP + sizeof CUT], when[32];
  size_t i;
  int rc, f;
  if ((rc = mdt_store_prepare(st, sql_insert, sizeof sql_insert - 1, &stmt))
      != MDT_OK)
    return rc;
  for (i = 0; i < g->n; i++) {
    const dslot *e = &g->slot[(g->first + i) % g->cap];
    if (e->dropped) continue;
    time_text(e->ms, when, sizeof when);
    sqlite3_bind_text(stmt, 1, when, -1, SQLITE_STATIC);
    for (f = 0; f < NFIELDS; f++) {
      size_t n;
      const char *p = text_of(e, f, buf[f], &n);
      if (p) sqlite3_bind_text64(stmt, f + 2, p, (sqlite3_uint64)n,
                                 SQLITE_STATIC, SQLITE_UTF8);
      else sqlite3_bind_null(stmt, f + 2);
    }
    if (e->reason != MDT_ALLOWED)
      sqlite3_bind_text(stmt, 8, mdt_reason_name(e->reason), -1,
                        SQLITE_STATIC);
    else sqlite3_bind_null(stmt, 8);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE) return mdt_store_fail(st, rc);
  }
  if ((rc = mdt_store_prepare(st, sql_trim, sizeof sql_trim - 1, &stmt))
      != MDT_OK)
    return rc;
  sqlite3_bind_int64(stmt, 1, g->max_rows);
  rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  return rc == SQLITE_DONE ? MDT_OK : mdt_store_fail(st, rc);
}

int mdt_store_log_flush(mdt_store *st, int64_t *written, int64_t *lost)
{
  mdt_dlog *g = st->log;
  size_t i, dropped = 0;
  int rc;
  *written = *lost = 0;
  if (!g || g->n == 0) {
    if (g) {
      *lost = g->lost;
      g->lost = 0;
    }
    return MDT_OK;
  }
  if (!sqlite3_get_autocommit(st->db))
    return mdt_store_error(st, MDT_BUSY, "the decision log is written "
                           "outside transactions, and one is open");
  if ((rc = run(st, "BEGIN IMMEDIATE")) != MDT_OK) return rc;
  if ((rc = write_slots(st, g)) != MDT_OK || (rc = run(st, "COMMIT"))
                                             != MDT_OK) {
    if (!sqlite3_get_autocommit(st->db))
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  for (i = 0; i < g->n; i++)
    dropped += g->slot[(g->first + i) % g->cap].dropped;
  free_keys(g);
  *written = (int64_t)(g->n - dropped);
  *lost = g->lost + (int64_t)dropped;
  g->first = g->n = g->fresh = 0;
  g->lost = 0;
  return MDT_OK;
}
/* }}} */
