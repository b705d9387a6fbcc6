/*
** reference.h -- the C reference of mandate's decision rules: a naive
** reading of docs/semantics.md sections 3 and 4 over a plain description
** of a world, which spec/c/core_test.c and fuzz/fuzz_api.c hold mdt_check
** and mdt_explain against.  spec/reference.lua is the independent oracle
** in Lua.
**
** The reference calls no engine function and reads nothing of the
** engine's: mandate.h gives it only its vocabulary (ids, the encoding of
** values, reasons, the record and the explanation).  It walks parent
** links and scans arrays, precomputes nothing, and answers for any world
** the description can hold; the harnesses give it the worlds they give
** the engine.
*/
#ifndef REFERENCE_H
#define REFERENCE_H

#include "mandate.h"

/* The world {{{ */

#define REF_MAX    64     /* entities of one kind */
#define REF_LIST   16     /* a bundle's values; a user's rows of one kind */
#define REF_KEYLEN 128    /* keys, NUL included (longer ones are cut) */

typedef struct ref_pair { mdt_id id; int val; } ref_pair;

typedef struct ref_unit {
  mdt_id id; char key[REF_KEYLEN];
  int depth;                   /* its level: 0 is the top rung */
  mdt_id parent;               /* 0: a root */
} ref_unit;

typedef struct ref_tenant {
  mdt_id id; char key[REF_KEYLEN];
  int def;                     /* default access: MDT_HIDDEN, _READ, _FULL */
} ref_tenant;

typedef struct ref_right {
  mdt_id id; char key[REF_KEYLEN];
  int kind, mode;              /* MDT_FLAG, _SCOPE; MDT_WRITE, _READ_MODE */
  int cust;                    /* a scope that allows the customer part */
} ref_right;

typedef struct ref_bundle {
  mdt_id id; char key[REF_KEYLEN];
  int n; ref_pair v[REF_LIST];  /* (right, value) */
} ref_bundle;

typedef struct ref_customer { mdt_id id; char key[REF_KEYLEN]; } ref_customer;

typedef struct ref_user {
  mdt_id id; char key[REF_KEYLEN];
  mdt_id unit;                 /* 0: no unit */
  int active;
  int pending;                 /* put but not compiled (mandate.h's life
                                  cycle): checks do not know it yet */
  int nb, no, na, nc;
  mdt_id bundle[REF_LIST];     /* in order */
  ref_pair over[REF_LIST];     /* (right, value) */
  ref_pair acc[REF_LIST];      /* (tenant, access) */
  mdt_id cust[REF_LIST];       /* customers the user manages */
} ref_user;

typedef struct ref_world {
  int nlevels;
  const char *level[MDT_MAX_LEVELS];   /* top to bottom; not copied */
  int nunits, ntenants, nrights, nbundles, ncusts, nusers;
  ref_unit unit[REF_MAX];
  ref_tenant tenant[REF_MAX];
  ref_right right[REF_MAX];
  ref_bundle bundle[REF_MAX];
  ref_customer cust[REF_MAX];
  ref_user user[REF_MAX];
} ref_world;

/*
** Describing a world.  The ref_add_* calls append an entity and return it
** (a memset world is empty); ref_put_user appends a user or resets the one
** with that id to no rows, as mdt_snap_put_user does, and leaves it not
** pending.  The row calls replace a value given before (a bundle's value,
** an override, an access row) or keep a bundle or customer once.  More
** than REF_MAX entities or REF_LIST rows abort: the harness is wrong.
*/
void ref_levels(ref_world *w, int n, const char *const *names);
ref_unit *ref_add_unit(ref_world *w, mdt_id id, const char *key, int depth,
                       mdt_id parent);
ref_tenant *ref_add_tenant(ref_world *w, mdt_id id, const char *key,
                           int def);
ref_right *ref_add_right(ref_world *w, mdt_id id, const char *key, int kind,
                         int mode, int cust);
ref_bundle *ref_add_bundle(ref_world *w, mdt_id id, const char *key);
ref_customer *ref_add_customer(ref_world *w, mdt_id id, const char *key);
ref_user *ref_put_user(ref_world *w, mdt_id id, const char *key, mdt_id unit,
                       int active);
void ref_bundle_value(ref_bundle *b, mdt_id right, mdt_value v);
void ref_user_bundle(ref_user *u, mdt_id bundle);
void ref_user_override(ref_user *u, mdt_id right, mdt_value v);
void ref_user_access(ref_user *u, mdt_id tenant, int access);
void ref_user_customer(ref_user *u, mdt_id customer);

/*
** The entity of w with that id, NULL when there is none (pending users
** included).  Non-const for the harness to edit what it found, as strchr.
*/
ref_unit *ref_unit_of(const ref_world *w, mdt_id id);
ref_tenant *ref_tenant_of(const ref_world *w, mdt_id id);
ref_right *ref_right_of(const ref_world *w, mdt_id id);
ref_bundle *ref_bundle_of(const ref_world *w, mdt_id id);
ref_customer *ref_customer_of(const ref_world *w, mdt_id id);
ref_user *ref_user_of(const ref_world *w, mdt_id id);

/* 1 when u manages customer (section 1.7). */
int ref_manages(const ref_user *u, mdt_id customer);

/*
** 1 when the org tree and the users' units are sound (sections 1.3 and
** 1.4: a parent that exists on a higher level, no cycle, a user's unit
** that exists): what mdt_snap_compile must accept.
*/
int ref_sound(const ref_world *w);
/* }}} */

/* The rules {{{ */

/*
** E(u, r), section 3.2, with its source (MDT_SRC_*; src may be NULL).  0
** and MDT_SRC_NONE when right names no right or user no user the checks
** know (a pending one), as mdt_effective.
*/
mdt_value ref_effective(const ref_world *w, mdt_id user, mdt_id right,
                        int *src);

/*
** access(u, t), sections 1.2 and 3.3: u's explicit row (*explicit_row =
** 1; may be NULL), else t's default.  -1 when user names no user (pending
** ones answer from their rows, as mdt_access) or tenant no tenant.
*/
int ref_access(const ref_world *w, mdt_id user, mdt_id tenant,
               int *explicit_row);

/* check(u, r, record), section 3.9: MDT_ALLOWED or the reason. */
int ref_check(const ref_world *w, mdt_id user, mdt_id right,
              const mdt_record *rec);

/*
** The same check of u as described, as if u stood in w in place of the
** user with its id: for a changed copy of one user ("would this single
** change allow it?") without copying the world.
*/
int ref_check_as(const ref_world *w, const ref_user *u, mdt_id right,
                 const mdt_record *rec);

/*
** The explanation of section 4 with every field of mdt_explanation as
** mandate.h describes it: the reason is ref_check's, failing has every
** failing step, the fix is the smallest single change.  MDT_OK, or
** MDT_NOTFOUND when right names no right (out->reason is then
** MDT_UNKNOWN_RIGHT, out->access -1, the rest 0).
*/
int ref_explain(const ref_world *w, mdt_id user, mdt_id right,
                const mdt_record *rec, mdt_explanation *out);

/*
** Section 4's fix e, made to u (a user of a world, or a copy): activate
** it, give it e's access to rec's tenant, or e's override of right.  No
** change for MDT_FIX_NONE and MDT_FIX_IMPOSSIBLE.
*/
void ref_apply_fix(ref_user *u, const mdt_explanation *e, mdt_id right,
                   const mdt_record *rec);

/*
** 1 when the engine's explanation equals the reference's in every field;
** else 0, and both are printed to stderr.
*/
int ref_same_explanation(const mdt_explanation *engine,
                         const mdt_explanation *ref);
/* }}} */

#endif
