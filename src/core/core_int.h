/*
** core_int.h -- what the files of src/core share and nobody else sees.
**
** The snapshot keeps every entity in arrays indexed by the caller's id
** (holes stay zeroed), a key table per kind for id <-> key, and, once
** compiled, the derived arrays the check path reads: pre-order intervals
** of the org tree, anchors per unit and level, and rows of effective
** values (one value per right) that users with equal values share.
**
** Internal functions are named after their file, Lua style:
**   mdtV_  value.c     values and their text
**   mdtK_  keys.c      key interning
**   mdtB_  build.c     builder error messages
**   mdtC_  check.c     the decision steps, shared by check and explain
**   mdtP_  compile.c   profiles and packed access rows of compiled users
*/
#ifndef CORE_INT_H
#define CORE_INT_H

#include "mandate.h"

#define MAXID ((mdt_id)0x7fffffff)   /* ids index arrays: refuse absurd ones */
#define ERRMSG_SIZE 256

#define RANK_ALL(s) MDT_V_ALL((s)->nlevels)

/*
** Internal functions, like Lua's LUAI_FUNC: hidden from a shared
** library's symbol table, which also lets the compiler inline them into
** mdt_check when building position-independent code.
*/
#if defined(__GNUC__) && !defined(_WIN32)
#define MDTI_FUNC __attribute__((visibility("hidden"))) extern
#else
#define MDTI_FUNC extern
#endif

/* Does id name an entity of kind?  Holes have no key. */
#define HAS(s, kind, id) ((id) > 0 && (id) <= (s)->keys[kind].max && \
                          (s)->keys[kind].key[id] != NULL)

/* The effective value of compiled user id for right. */
#define EFF(s, id, right) ((s)->eff[(size_t)(s)->user[id].profile * \
                                    (s)->stride + (size_t)(right)])

/* Is id a compiled user?  Reads the user's own entry only, not the key
   table: holes and users not compiled yet have compiled == 0. */
#define COMPILED(s, id) ((id) > 0 && (id) <= (s)->keys[MDT_USER].max && \
                         (s)->user[id].compiled)

/* Sorted growable arrays {{{ */
typedef struct Pair {        /* (right, value) or (tenant, access) */
  mdt_id id;
  int val;
} Pair;

typedef struct PairVec {     /* sorted by id, ids unique */
  Pair *p;
  size_t n, cap;
} PairVec;

typedef struct IdVec {
  mdt_id *p;
  size_t n, cap;
} IdVec;
/* }}} */

/* Key tables {{{ */

/*
** One kind's keys.  key/hash are indexed by id (entries < cap); slot is an
** open-addressing table (linear probing, power-of-two size, at most half
** full) that carries each key's hash and pointer, so a lookup touches the
** slot and the key bytes only; an empty slot has key NULL.
*/
typedef struct Slot {
  const char *key;           /* == key[id] */
  uint32_t hash;
  uint32_t id;               /* ids are <= MAXID */
  size_t len;
} Slot;

typedef struct Keys {
  char **key;                /* key[id], NULL for a hole */
  uint32_t *hash;
  mdt_id max;                /* largest id ever given a key */
  mdt_id cap;                /* entries allocated in key, hash */
  Slot *slot;
  size_t nslot, used;
} Keys;

MDTI_FUNC uint32_t mdtK_hash(const char *key, size_t len);
MDTI_FUNC int mdtK_reserve(Keys *k, mdt_id n);
MDTI_FUNC int mdtK_put(Keys *k, mdt_id id, const char *key);
MDTI_FUNC mdt_id mdtK_find(const Keys *k, const char *key, size_t len);
MDTI_FUNC void mdtK_free(Keys *k);
/* }}} */

/* Entities {{{ */
typedef struct Unit {
  int depth;
  mdt_id parent;             /* 0 for a root */
  mdt_id pre, size;          /* subtree = pre-order interval [pre, pre+size) */
} Unit;

typedef struct Right {
  unsigned char kind, mode, custok;
} Right;

typedef struct Bundle {
  PairVec vals;              /* (right, value) */
} Bundle;

/*
** A user in two parts.  User is what a check reads, for the checking user
** and for the record's owner: 16 bytes, so each costs one cache line
** however many users there are.  UserLists holds the rest as given.
*/
typedef struct User {
  uint32_t unit;             /* 0: no unit; ids are <= MAXID */
  uint32_t profile;          /* its row of eff; 0: none yet */
  uint32_t acc;              /* its block of access rows in mdt_snap.acc */
  unsigned char active;
  unsigned char compiled;    /* 0 until compiled: checks see no such user */
} User;

typedef struct UserLists {
  IdVec bundles;             /* in the order given, no duplicates */
  IdVec cust;                /* sorted customer ids */
  PairVec over;              /* (right, value) */
  PairVec acc;               /* (tenant, access) */
} UserLists;

/*
** The rows of eff, interned: most users have no overrides and share a
** combination of bundles, so there are far fewer distinct rows than
** users.  Each row is a profile; a user points at one.  Profile 0 is a
** placeholder for users never compiled: it counts no users and is never
** in the table.  A profile whose last user moves away is freed at once
** (taken out of the table, its row reused for the next new one), so
** patches never make more profiles than were in use at one time (at most
** one per user), plus the placeholder.
*/
typedef struct Profiles {
  uint32_t n, cap;           /* profiles made (free ones too), allocated */
  uint32_t *users;           /* users per profile */
  uint32_t *hash;            /* of each profile's row */
  uint32_t *free;            /* freed profiles, nfree of them */
  uint32_t nfree;
  uint32_t *slot;            /* open addressing: profile + 1, 0 empty */
  size_t nslot;
} Profiles;

struct mdt_snap {
  Keys keys[MDT_NKINDS];     /* levels have ids depth + 1 */
  int nlevels;
  const char *levelv[MDT_MAX_LEVELS];  /* = keys[MDT_LEVEL].key[1..n] */
  Unit *unit;                /* each array has keys[kind].cap entries */
  int *tdefault;             /* tenant default access */
  Right *right;
  Bundle *bundle;
  User *user;
  UserLists *lists;
  int valued;                /* a bundle value or override was given */
  int compiled;
  /* filled by mdt_snap_compile */
  mdt_id *anchor;            /* [unit * nlevels + depth] */
  mdt_value *eff;            /* [profile * stride + right] */
  size_t stride;             /* max right id + 1, in whole 64-bit words */
  Profiles prof;
  /*
  ** The access rows of compiled users, packed for the check: a user's
  ** block is its row count n, then n tenant ids in order, then their n
  ** accesses.  Block 0 is empty: users without a block point at it.  A
  ** recompiled user's block is rewritten where it is when its count is
  ** unchanged, else appended (the old one dies).  When acc is full and
  ** dead blocks make up half of it, the live ones are packed anew into
  ** twice their size, so acc stays within a few times the live rows.
  */
  uint32_t *acc;
  size_t nacc, capacc, deadacc;
  char errmsg[ERRMSG_SIZE];
};
/* }}} */

/* Shared helpers {{{ */

/* The join of docs/semantics.md section 3.2: flags OR (of 0/1: the max);
   scopes the highest rank, customer parts OR. */
static inline mdt_value mdtV_join(mdt_value a, mdt_value b)
{
  int ra = MDT_V_RANK(a), rb = MDT_V_RANK(b);
  return (mdt_value)((ra > rb ? ra : rb) | ((a | b) & MDT_V_CUSTOMER));
}

MDTI_FUNC int mdtV_fits(int kind, int nlevels, int custok, mdt_value v);
MDTI_FUNC int mdtV_badname(const char *name);

#if defined(__GNUC__)
#define MDT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MDT_PRINTF(f, a)
#endif
MDTI_FUNC int mdtB_error(mdt_snap *s, int code, const char *fmt, ...)
  MDT_PRINTF(3, 4);

MDTI_FUNC void mdtP_free(mdt_snap *s);
MDTI_FUNC size_t mdtC_pairpos(const PairVec *v, mdt_id id);
MDTI_FUNC size_t mdtC_idpos(const IdVec *v, mdt_id id);
MDTI_FUNC int mdtC_manages(const mdt_snap *s, mdt_id user, mdt_id customer);
MDTI_FUNC int mdtC_access(const mdt_snap *s, mdt_id user, mdt_id tenant,
                          int *explicit_row);
MDTI_FUNC int mdtC_gate(const mdt_snap *s, mdt_id user, int mode,
                        const mdt_record *rec, int *access,
                        int *explicit_row);
MDTI_FUNC mdt_id mdtC_anchor(const mdt_snap *s, mdt_id user, int rank);
MDTI_FUNC int mdtC_match(const mdt_snap *s, mdt_id user, int kind,
                         mdt_value v, const mdt_record *rec);
MDTI_FUNC int mdtC_right(const mdt_snap *s, mdt_id user, int kind,
                         mdt_value v, const mdt_record *rec, int *matched);
/* }}} */

#endif
