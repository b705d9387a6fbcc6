/*
** fuzz_keys.c -- libFuzzer target for keys: the builder calls that take
** a key and an id, mdt_lookup, mdt_key, mdt_max_id and mdt_levels.
**
** Input: pieces separated by NUL bytes (keys are C strings, so they cannot
** hold a NUL themselves).  A piece is an op byte, an id byte and the key:
**   op % 10: 0 unit, 1 tenant, 2 right, 3 bundle, 4 customer, 5 user
**            (mdt_snap_put_user: a second time renames), 6 set levels
**            (names split on '|'), 7 lookup of the key bytes in kind
**            op / 10 % 7, 8 lookup of a window of the raw input (NULs
**            and all), 9 compile
**   id byte: < 200 a dense id 1..40 (so duplicates are common); else one
**            of 0, negative, 2^31 and above, INT64_MIN/MAX, or a sparse
**            but allocatable id.
** The target keeps its own model of what each kind's keys should be and
** checks every return code against it: an id out of 1..2^31-1 MDT_RANGE,
** an empty key MDT_INVALID, a taken id or key MDT_CONSTRAINT, anything
** but customers and users after compile MDT_MISUSE; a failing call
** changes nothing.  mdt_lookup of arbitrary bytes returns 0 or an id
** whose key is exactly those bytes.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_keys: %s:%d: invariant failed: %s\n", \
            __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define MAXID   ((mdt_id)0x7fffffff)
#define MAXENT  512                     /* model entries per kind */

static const char *const base_levels[] = { "top", "mid", "bot" };

/* The model {{{ */
typedef struct Ent {
  mdt_id id;
  char *key;
} Ent;

typedef struct Model {
  Ent e[MDT_NKINDS][MAXENT];
  int n[MDT_NKINDS];
  mdt_id max[MDT_NKINDS];
  int compiled;
  int units;                            /* a unit was added */
} Model;

static Ent *byid(Model *m, int kind, mdt_id id)
{
  int i;
  for (i = 0; i < m->n[kind]; i++)
    if (m->e[kind][i].id == id) return &m->e[kind][i];
  return NULL;
}

static Ent *bykey(Model *m, int kind, const char *key, size_t len)
{
  int i;
  for (i = 0; i < m->n[kind]; i++)
    if (strlen(m->e[kind][i].key) == len &&
        memcmp(m->e[kind][i].key, key, len) == 0)
      return &m->e[kind][i];
  return NULL;
}

static char *dup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  CHECK(p != NULL);
  memcpy(p, s, n);
  return p;
}

static void model_free(Model *m)
{
  int k, i;
  for (k = 0; k < MDT_NKINDS; k++)
    for (i = 0; i < m->n[k]; i++) free(m->e[k][i].key);
}

/* Levels: kind MDT_LEVEL, ids depth + 1, replaced as a whole. */
static void model_levels(Model *m, const char *const *names, int n)
{
  int i;
  for (i = 0; i < m->n[MDT_LEVEL]; i++) free(m->e[MDT_LEVEL][i].key);
  m->n[MDT_LEVEL] = 0;
  for (i = 0; i < n; i++) {
    m->e[MDT_LEVEL][i].id = i + 1;
    m->e[MDT_LEVEL][i].key = dup(names[i]);
  }
  m->n[MDT_LEVEL] = n;
  m->max[MDT_LEVEL] = n;
}
/* }}} */

/* Checks {{{ */

/* Lookup from an exactly sized copy, so an overread is an ASan report. */
static mdt_id lookup(const mdt_snap *s, int kind, const char *key, size_t len)
{
  char *copy = malloc(len ? len : 1);
  mdt_id id;
  CHECK(copy != NULL);
  if (len) memcpy(copy, key, len);
  id = mdt_lookup(s, kind, copy, len);
  free(copy);
  return id;
}

/* What the model says of id and key agrees with the snapshot. */
static void agree(const mdt_snap *s, Model *m, int kind, mdt_id id,
                  const char *key, size_t len)
{
  Ent *e = byid(m, kind, id);
  const char *k = mdt_key(s, kind, id);
  mdt_id got = lookup(s, kind, key, len);
  if (e == NULL) {
    CHECK(k == NULL);
  } else {
    CHECK(k != NULL && strcmp(k, e->key) == 0);
  }
  e = bykey(m, kind, key, len);
  CHECK(got == (e ? e->id : 0));
}

static void agree_all(const mdt_snap *s, Model *m)
{
  int kind, i, nl = -1;
  const char *const *lv;
  for (kind = 0; kind < MDT_NKINDS; kind++) {
    CHECK(mdt_max_id(s, kind) == m->max[kind]);
    for (i = 0; i < m->n[kind]; i++) {
      const Ent *e = &m->e[kind][i];
      CHECK(mdt_lookup(s, kind, e->key, strlen(e->key)) == e->id);
      CHECK(mdt_key(s, kind, e->id) != NULL);
      CHECK(strcmp(mdt_key(s, kind, e->id), e->key) == 0);
    }
    for (i = -2; i <= m->max[kind] + 2 && i < 64; i++)
      if (byid(m, kind, i) == NULL) CHECK(mdt_key(s, kind, i) == NULL);
    CHECK(mdt_key(s, kind, INT64_MAX) == NULL);
    CHECK(mdt_key(s, kind, INT64_MIN) == NULL);
  }
  lv = mdt_levels(s, &nl);
  CHECK(nl == m->n[MDT_LEVEL]);
  for (i = 0; i < nl; i++) CHECK(strcmp(lv[i], m->e[MDT_LEVEL][i].key) == 0);
  CHECK(mdt_lookup(s, -1, "x", 1) == 0);
  CHECK(mdt_lookup(s, MDT_NKINDS, "x", 1) == 0);
  CHECK(mdt_lookup(s, MDT_USER, NULL, 3) == 0);
  CHECK(mdt_key(s, MDT_NKINDS, 1) == NULL);
}
/* }}} */

static mdt_id pickid(uint8_t b)
{
  static const mdt_id odd[] = {
    0, -1, -2, INT64_MIN, INT64_MAX, MAXID + 1, (mdt_id)0xffffffff,
    -MAXID, (mdt_id)1 << 40, 300, 1000, 2047, 64, 41, 128, 255,
    (mdt_id)0x100000001, -(mdt_id)0x100000000
  };
  if (b < 200) return 1 + b % 40;
  return odd[(b - 200) % (sizeof odd / sizeof odd[0])];
}

/* Add an entity of kind; check the code against the model. */
static void add(mdt_snap *s, Model *m, int kind, mdt_id id, const char *key,
                uint8_t op)
{
  size_t len = strlen(key);
  Ent *old = byid(m, kind, id), *holder = bykey(m, kind, key, len);
  int rc, frozen, range, empty, idtaken, keytaken;
  char *before = old ? dup(old->key) : NULL;
  frozen = m->compiled && kind != MDT_CUSTOMER && kind != MDT_USER;
  range = id < 1 || id > MAXID;
  empty = len == 0;
  idtaken = kind != MDT_USER && old != NULL;
  keytaken = holder != NULL && holder->id != id;
  switch (kind) {
    case MDT_UNIT:
      rc = mdt_snap_add_unit(s, id, key, (op >> 4) % 3, 0);
      /* depth 0..2 exists only while the levels are the base ones */
      break;
    case MDT_TENANT:
      rc = mdt_snap_add_tenant(s, id, key, (op >> 4) % 3);
      break;
    case MDT_RIGHT:
      rc = mdt_snap_add_right(s, id, key, (op >> 4) & 1, (op >> 5) & 1,
                              (op >> 6) & 1);
      break;
    case MDT_BUNDLE: rc = mdt_snap_add_bundle(s, id, key); break;
    case MDT_CUSTOMER: rc = mdt_snap_add_customer(s, id, key); break;
    default: rc = mdt_snap_put_user(s, id, key, 0, op & 1); break;
  }
  if (kind == MDT_UNIT && rc == MDT_RANGE && !range &&
      (op >> 4) % 3 >= m->n[MDT_LEVEL]) {
    range = 1;                          /* the depth was out of range */
  }
  if (!frozen && !range && !empty && !idtaken && !keytaken) {
    CHECK(rc == MDT_OK);
  } else {
    CHECK(rc != MDT_OK);
    CHECK(mdt_snap_errmsg(s)[0] != '\0');
    CHECK((frozen && rc == MDT_MISUSE) || (range && rc == MDT_RANGE) ||
          (empty && rc == MDT_INVALID) ||
          ((idtaken || keytaken) && rc == MDT_CONSTRAINT));
  }
  if (rc == MDT_OK) {
    if (old != NULL) {                  /* a renamed user */
      free(old->key);
      old->key = dup(key);
    } else if (m->n[kind] < MAXENT) {
      m->e[kind][m->n[kind]].id = id;
      m->e[kind][m->n[kind]].key = dup(key);
      m->n[kind]++;
    } else {
      abort();                          /* inputs are too short for this */
    }
    if (id > m->max[kind]) m->max[kind] = id;
    if (kind == MDT_UNIT) m->units = 1;
  } else if (before != NULL) {          /* unchanged */
    CHECK(mdt_key(s, kind, id) != NULL);
    CHECK(strcmp(mdt_key(s, kind, id), before) == 0);
  }
  agree(s, m, kind, id, key, len);
  if (before != NULL) agree(s, m, kind, id, before, strlen(before));
  free(before);
}

/* Set levels named by key split on '|'. */
static void levels(mdt_snap *s, Model *m, char *key)
{
  char *names[MDT_MAX_LEVELS + 2], *p = key, *bar;
  int n = 0, rc, bad = 0, i, j;
  for (;;) {
    if (n < MDT_MAX_LEVELS + 2) names[n] = p;
    n++;
    if ((bar = strchr(p, '|')) == NULL) break;
    *bar = '\0';
    p = bar + 1;
  }
  rc = mdt_snap_set_levels(s, (const char *const *)names,
                           n > MDT_MAX_LEVELS + 2 ? MDT_MAX_LEVELS + 1 : n);
  if (n > MDT_MAX_LEVELS) {
    CHECK(rc == MDT_RANGE || rc == MDT_MISUSE);
    return;
  }
  for (i = 0; i < n; i++) {
    const char *x = names[i];
    if (*x == '\0' || strchr(x, '+') || !strcmp(x, "none") ||
        !strcmp(x, "own") || !strcmp(x, "all") || !strcmp(x, "customer"))
      bad = 1;
    for (j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0) bad = 1;
  }
  if (m->compiled || m->units) {
    CHECK(rc == MDT_MISUSE || (bad && rc == MDT_INVALID));
  } else if (bad) {
    CHECK(rc == MDT_INVALID);
  } else {
    CHECK(rc == MDT_OK);
  }
  if (rc == MDT_OK) model_levels(m, (const char *const *)names, n);
  for (i = 0; i < n; i++)
    agree(s, m, MDT_LEVEL, i + 1, names[i], strlen(names[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static Model m;
  mdt_snap *s;
  char *buf;
  size_t i = 0;
  if (size > 4096) return 0;            /* MAXENT entries suffice */
  memset(&m, 0, sizeof m);
  s = mdt_snap_new();
  CHECK(s != NULL);
  CHECK(mdt_snap_set_levels(s, base_levels, 3) == MDT_OK);
  model_levels(&m, base_levels, 3);
  buf = malloc(size + 1);
  CHECK(buf != NULL);
  memcpy(buf, data, size);
  buf[size] = '\0';
  while (i < size) {                    /* one piece per NUL */
    char *piece = buf + i;
    size_t plen = strlen(piece);
    uint8_t op = plen > 0 ? (uint8_t)piece[0] : 0;
    uint8_t idb = plen > 1 ? (uint8_t)piece[1] : 0;
    char *key = piece + (plen > 1 ? 2 : plen);
    mdt_id id = pickid(idb);
    i += plen + 1;
    switch (op % 10) {
      case 0: add(s, &m, MDT_UNIT, id, key, op); break;
      case 1: add(s, &m, MDT_TENANT, id, key, op); break;
      case 2: add(s, &m, MDT_RIGHT, id, key, op); break;
      case 3: add(s, &m, MDT_BUNDLE, id, key, op); break;
      case 4: add(s, &m, MDT_CUSTOMER, id, key, op); break;
      case 5: add(s, &m, MDT_USER, id, key, op); break;
      case 6: levels(s, &m, key); break;
      case 7: {
        int kind = op / 10 % MDT_NKINDS;
        agree(s, &m, kind, id, key, strlen(key));
        break;
      }
      case 8: {                         /* a window of the raw input */
        size_t from = idb % (size + 1), len = (op / 10) % 32;
        int kind = idb % MDT_NKINDS;
        mdt_id got;
        if (len > size - from) len = size - from;
        got = lookup(s, kind, (const char *)data + from, len);
        if (memchr(data + from, 0, len) != NULL) {
          CHECK(got == 0);
        } else {
          Ent *e = bykey(&m, kind, (const char *)data + from, len);
          CHECK(got == (e ? e->id : 0));
        }
        break;
      }
      default: {
        int rc = mdt_snap_compile(s);
        CHECK(rc == (m.compiled ? MDT_MISUSE : MDT_OK));
        m.compiled = 1;
        break;
      }
    }
  }
  agree_all(s, &m);
  mdt_snap_free(s);
  model_free(&m);
  free(buf);
  return 0;
}
