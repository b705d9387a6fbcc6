/*
** keys.c -- interning: each kind's keys by id, and ids by key.
**
** An id's key is copied once; lookups hash the key (FNV-1a) and probe an
** open-addressing table of (key, hash, id) slots (linear probing, at most
** half full), so mdt_lookup is one hash, a probe or two and one compare
** of the key bytes: two cache lines on a large table, not five.  Only users change keys
** after they were added; their old slot is removed by backward shift, so
** the table never holds tombstones.
*/
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

#define MINSLOTS 16

/*
** FNV-1a, 32 bits: short keys, cheap and well spread.
*/
uint32_t mdtK_hash(const char *key, size_t len)
{
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 16777619u;
  }
  return h;
}

/*
** Grow key and hash to cap entries, the new ones zeroed.  MDT_NOMEM
** leaves k usable with its old cap (an array may already be larger).
*/
int mdtK_reserve(Keys *k, mdt_id cap)
{
  size_t old = (size_t)k->cap, n = (size_t)cap;
  void *p;
  if (cap <= k->cap) return MDT_OK;
  if ((p = realloc(k->key, n * sizeof *k->key)) == NULL) return MDT_NOMEM;
  k->key = p;
  if ((p = realloc(k->hash, n * sizeof *k->hash)) == NULL) return MDT_NOMEM;
  k->hash = p;
  memset(k->key + old, 0, (n - old) * sizeof *k->key);
  memset(k->hash + old, 0, (n - old) * sizeof *k->hash);
  k->cap = cap;
  return MDT_OK;
}

/* Slot table {{{ */

static void place(Slot *slot, size_t mask, Slot entry)
{
  size_t i = entry.hash & mask;
  while (slot[i].key != NULL) i = (i + 1) & mask;
  slot[i] = entry;
}

static int rehash(Keys *k, size_t nslot)
{
  Slot *slot = calloc(nslot, sizeof *slot);
  size_t i;
  if (slot == NULL) return MDT_NOMEM;
  for (i = 0; i < k->nslot; i++)
    if (k->slot[i].key != NULL) place(slot, nslot - 1, k->slot[i]);
  free(k->slot);
  k->slot = slot;
  k->nslot = nslot;
  return MDT_OK;
}

/* Remove id's slot; later entries of its run shift back over the gap. */
static void unslot(Keys *k, mdt_id id)
{
  size_t mask = k->nslot - 1, i = k->hash[id] & mask, j;
  while (k->slot[i].id != (uint32_t)id) i = (i + 1) & mask;
  k->slot[i].key = NULL;
  for (j = (i + 1) & mask; k->slot[j].key != NULL; j = (j + 1) & mask) {
    size_t home = k->slot[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {  /* home not in (i, j] */
      k->slot[i] = k->slot[j];
      k->slot[j].key = NULL;
      i = j;
    }
  }
}
/* }}} */

/*
** Give id (< k->cap) the key, replacing a key it had.  MDT_CONSTRAINT when
** another id holds key, MDT_NOMEM; k is unchanged on failure.
*/
int mdtK_put(Keys *k, mdt_id id, const char *key)
{
  size_t len = strlen(key);
  mdt_id other = mdtK_find(k, key, len);
  char *copy;
  Slot entry;
  if (other == id) return MDT_OK;
  if (other != 0) return MDT_CONSTRAINT;
  if ((copy = malloc(len + 1)) == NULL) return MDT_NOMEM;
  memcpy(copy, key, len + 1);
  if ((k->used + 1) * 2 > k->nslot &&
      rehash(k, k->nslot ? k->nslot * 2 : MINSLOTS) != MDT_OK) {
    free(copy);
    return MDT_NOMEM;
  }
  if (k->key[id] != NULL) {                 /* a renamed user */
    unslot(k, id);
    free(k->key[id]);
    k->used--;
  }
  k->key[id] = copy;
  k->hash[id] = mdtK_hash(key, len);
  entry.key = copy;
  entry.hash = k->hash[id];
  entry.id = (uint32_t)id;
  entry.len = len;
  place(k->slot, k->nslot - 1, entry);
  k->used++;
  if (id > k->max) k->max = id;
  return MDT_OK;
}

/*
** The id holding key[0..len), or 0.
*/
mdt_id mdtK_find(const Keys *k, const char *key, size_t len)
{
  uint32_t h;
  size_t mask, i;
  const Slot *e;
  if (k->nslot == 0) return 0;
  h = mdtK_hash(key, len);
  mask = k->nslot - 1;
  for (i = h & mask; (e = &k->slot[i])->key != NULL; i = (i + 1) & mask)
    if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
      return (mdt_id)e->id;
  return 0;
}

/*
** Free everything k owns and zero it.
*/
void mdtK_free(Keys *k)
{
  mdt_id id;
  for (id = 1; id < k->cap; id++) free(k->key[id]);
  free(k->key);
  free(k->hash);
  free(k->slot);
  memset(k, 0, sizeof *k);
}

/*
** The id for key of the given kind, or 0 when there is none (also for a
** NULL snapshot or key, or a bad kind).
*/
mdt_id mdt_lookup(const mdt_snap *s, int kind, const char *key, size_t len)
{
  if (s == NULL || key == NULL || kind < 0 || kind >= MDT_NKINDS) return 0;
  return mdtK_find(&s->keys[kind], key, len);
}
