/*
** mandate.h -- the one public header of the mandate decision engine.
**
** The engine answers "may user u use right r on this record?" from an
** in-memory snapshot.  It knows nothing of Lua, SQLite or files: a caller
** (the SQLite store in src/store, or any C program) feeds a snapshot with
** the model through the builder functions, compiles it, then checks.
**
** Ids are the caller's stable 64-bit row ids (>= 1); the snapshot indexes
** arrays with them directly, so keep them dense.  0 means "absent".  Ids
** above 2^31 - 1 are refused with MDT_RANGE.  Levels have ids too, for
** mdt_lookup, mdt_key and mdt_max_id: depth + 1.
**
** Life cycle:
**   s = mdt_snap_new();  mdt_snap_set_levels(s, ...);
**   mdt_snap_add_unit / _tenant / _right / _bundle / _customer ...;
**   mdt_snap_bundle_value(...);
**   mdt_snap_put_user(...); mdt_snap_user_bundle / _override / _access /
**   _customer(...);
**   mdt_snap_compile(s);                 -- now mdt_check may be called
**   mdt_check(s, user, right, &record);
**   mdt_snap_free(s);
**
** After compile only users and customers may change: mdt_snap_put_user
** resets one user (new or existing), the mdt_snap_user_* calls refill it,
** and mdt_snap_compile_user makes it checkable again.  Anything else
** (levels, units, tenants, rights, bundles) needs a new snapshot.
**
** Order: whatever a call names must have been added before it (a unit's
** parent and a user's unit excepted: compile checks those), else
** MDT_NOTFOUND.  A call that fails changes nothing.
**
** A compiled snapshot is never written by mdt_check, mdt_explain or any
** accessor, so any number of readers may share it as long as nobody calls
** a builder function at the same time.
*/
#ifndef MANDATE_H
#define MANDATE_H

#include <stddef.h>
#include <stdint.h>

#define MDT_VERSION "0.1.0"

typedef struct mdt_snap mdt_snap;
typedef int64_t mdt_id;

#define MDT_ABSENT  ((mdt_id)0)   /* record field not given */
#define MDT_UNKNOWN ((mdt_id)-1)  /* record field given, but names nothing */

#define MDT_MAX_LEVELS 32         /* ranks must fit in 8 bits */

/* Result codes {{{ */
enum {
  MDT_OK = 0,        /* success */
  MDT_ERROR,         /* generic failure; mdt_snap_errmsg has details */
  MDT_NOMEM,         /* out of memory; the snapshot is unchanged */
  MDT_MISUSE,        /* NULL handle, wrong phase, bad enum value */
  MDT_RANGE,         /* id <= 0, or count out of range */
  MDT_NOTFOUND,      /* an id names nothing in the snapshot */
  MDT_INVALID,       /* malformed value text or key */
  MDT_CONSTRAINT,    /* breaks a rule of the model: cycle, level order */
  MDT_BUSY,          /* the store is locked by another connection */
  MDT_IOERR,         /* the store cannot be read or written */
  MDT_NCODES
};

/*
** Static English text for a result code; never NULL ("unknown error code"
** for codes out of range).
*/
const char *mdt_errstr(int code);
/* }}} */

/* Decisions {{{ */
typedef enum mdt_reason {
  MDT_ALLOWED = 0,          /* the check passed */
  MDT_UNKNOWN_USER,         /* no such user */
  MDT_INACTIVE_USER,        /* the user is not active */
  MDT_UNKNOWN_TENANT,       /* the record names no known tenant */
  MDT_TENANT_HIDDEN,        /* access to the record's tenant is hidden */
  MDT_TENANT_READ_ONLY,     /* read access, and the right's mode is write */
  MDT_NO_RIGHT,             /* the effective value is false / none */
  MDT_OUT_OF_SCOPE,         /* held, but the record lies outside the scope */
  MDT_UNKNOWN_RIGHT         /* not a denial: the caller named no right */
} mdt_reason;

/*
** Stable lower-case name of a reason: "allowed", "unknown_user",
** "inactive_user", "unknown_tenant", "tenant_hidden", "tenant_read_only",
** "no_right", "out_of_scope", "unknown_right".  NULL when out of range.
*/
const char *mdt_reason_name(int reason);
/* }}} */

/* The org tree's rules {{{ */

/*
** One unit as the tree rules see it: its id (>= 1), its parent's (0 for
** a root) and its level's depth (0 = top).
*/
typedef struct mdt_tree_unit {
  mdt_id id, parent;
  int depth;
} mdt_tree_unit;

enum {
  MDT_TREE_OK = 0,     /* the tree is valid */
  MDT_TREE_PARENT,     /* unit's parent is not among the units */
  MDT_TREE_CYCLE,      /* unit is its own ancestor (parent: the next one
                          up the cycle; == unit for its own parent) */
  MDT_TREE_LEVEL       /* unit's level is not below its parent's */
};

typedef struct mdt_tree_fault {
  int rule;            /* MDT_TREE_* */
  mdt_id unit, parent; /* the unit breaking it and its parent */
} mdt_tree_fault;

/*
** Decide whether units[0..n-1] form a valid org tree: every parent is
** among them, no unit is its own ancestor, each unit's depth is greater
** than its parent's (roots on any level).  The rules are tried in that
** order, each over the rows in the order given, and the first row that
** breaks one is reported: MDT_CONSTRAINT with *fault set, else MDT_OK
** (fault->rule MDT_TREE_OK).  MDT_RANGE for an id <= 0 or a negative
** parent, MDT_MISUSE for NULL or an id given twice, MDT_NOMEM.  The
** compile checks the whole tree with it; a caller changing a valid tree
** may give only the rows the change touches (the unit, its children and
** its new parent's ancestors), which break a rule exactly when the whole
** tree would.
*/
int mdt_tree_check(const mdt_tree_unit *units, size_t n,
                   mdt_tree_fault *fault);
/* }}} */

/* Vocabulary {{{ */
enum { MDT_LEVEL, MDT_UNIT, MDT_TENANT, MDT_RIGHT, MDT_BUNDLE, MDT_USER,
       MDT_CUSTOMER, MDT_NKINDS };                       /* kinds of key */
enum { MDT_HIDDEN = 0, MDT_READ = 1, MDT_FULL = 2 };     /* tenant access */
enum { MDT_FLAG = 0, MDT_SCOPE = 1 };                    /* right kinds */
enum { MDT_WRITE = 0, MDT_READ_MODE = 1 };               /* right modes */

/*
** Values.  A flag's value is 0 (false) or 1 (true).  A scope value keeps a
** rank in its low 8 bits and MDT_V_CUSTOMER for the "+customer" part.
** With n levels (depth 0 = top):
**   none = 0, own = 1, level at depth d = n - d + 1, all = n + 2,
** so ranks compare the way docs/semantics.md section 3.1 orders them:
**   none < own < bottom level < ... < top level < all.
*/
typedef uint16_t mdt_value;
#define MDT_V_CUSTOMER   ((mdt_value)0x100)
#define MDT_V_RANK(v)    ((int)((v) & 0xff))
#define MDT_V_NONE       0
#define MDT_V_OWN        1
#define MDT_V_LEVEL(n, d) ((n) - (d) + 1)
#define MDT_V_ALL(n)     ((n) + 2)

/*
** Parse value text for a right of the given kind against the level names
** levels[0..nlevels-1] (top to bottom).  Flags accept "true" and "false".
** Scopes accept "none", "own", a level name, "all", each optionally
** followed by "+customer", or "customer" alone (= "none+customer"); the
** customer part only when customer_ok is non-zero.  Returns MDT_OK and
** sets *out, MDT_INVALID for text that is none of these, MDT_MISUSE for
** NULL pointers or a bad kind.
*/
int mdt_value_parse(const char *const *levels, int nlevels, int kind,
                    int customer_ok, const char *text, size_t len,
                    mdt_value *out);

/*
** Write the canonical text of v ("true", "team+customer", "customer") into
** buf (cap bytes, always NUL-terminated when cap > 0).  Returns the length
** the full text needs, excluding the NUL, like snprintf; 0 on misuse.
*/
size_t mdt_value_format(const char *const *levels, int nlevels, int kind,
                        mdt_value v, char *buf, size_t cap);
/* }}} */

/* Building a snapshot {{{ */

/* A new, empty snapshot, or NULL when out of memory. */
mdt_snap *mdt_snap_new(void);

/* Free a snapshot and all it owns.  Accepts NULL. */
void mdt_snap_free(mdt_snap *s);

/*
** The detailed message of the last failing builder call ("unit 'hh-a':
** parent 'hh-b' sits on level 'team', not above level 'team'"), or ""
** when none failed; "NULL snapshot" for NULL.
*/
const char *mdt_snap_errmsg(const mdt_snap *s);

/*
** Set the level names, top to bottom, before anything else is added.
** 1 <= n <= MDT_MAX_LEVELS; names are copied.  MDT_MISUSE after units,
** bundle values or overrides were added or after compile, MDT_RANGE for a
** bad n, MDT_INVALID for NULL/empty/duplicate names and for names the
** value syntax reserves ("none", "own", "all", "customer", any "+").
** Without levels a snapshot still works: flags, own and all.
*/
int mdt_snap_set_levels(mdt_snap *s, const char *const *names, int n);

/*
** Add entities.  Keys are copied; ids must be >= 1 and unique per kind
** (MDT_RANGE, MDT_CONSTRAINT otherwise).  A unit's parent may be added
** after the unit: parents are resolved by mdt_snap_compile.
**   depth:          the unit's level, 0 = top
**   parent:         0 for a root
**   default_access: MDT_HIDDEN, MDT_READ or MDT_FULL
**   kind, mode:     MDT_FLAG / MDT_SCOPE, MDT_WRITE / MDT_READ_MODE
**   customer_ok:    non-zero when the "+customer" part is allowed
**                   (ignored for flags)
** MDT_RANGE also for a depth outside the levels; MDT_MISUSE for a bad
** access, kind or mode, and after compile.  Customers may also be added
** after compile.
*/
int mdt_snap_add_unit(mdt_snap *s, mdt_id id, const char *key, int depth,
                      mdt_id parent);
int mdt_snap_add_tenant(mdt_snap *s, mdt_id id, const char *key,
                        int default_access);
int mdt_snap_add_right(mdt_snap *s, mdt_id id, const char *key, int kind,
                       int mode, int customer_ok);
int mdt_snap_add_bundle(mdt_snap *s, mdt_id id, const char *key);
int mdt_snap_add_customer(mdt_snap *s, mdt_id id, const char *key);

/*
** Give bundle b the value v for right r (both added before).  MDT_INVALID
** when v does not fit the right (a flag above 1, a rank above all, a
** customer part the right does not allow).
*/
int mdt_snap_bundle_value(mdt_snap *s, mdt_id bundle, mdt_id right,
                          mdt_value v);

/*
** Create user id, or reset it when it exists: its bundles, overrides,
** access rows and customers are dropped and must be given again with the
** mdt_snap_user_* calls.  unit is 0 for a user without a unit.  On a
** compiled snapshot the user answers MDT_UNKNOWN_USER until
** mdt_snap_compile_user(s, id) succeeds.  A changed key renames the user;
** MDT_CONSTRAINT when another user holds it.  The mdt_snap_user_* calls
** replace a row given twice; on a compiled snapshot they accept only a
** user reset by mdt_snap_put_user (MDT_MISUSE otherwise).  A bad access
** is MDT_MISUSE, a value that does not fit the right MDT_INVALID.
*/
int mdt_snap_put_user(mdt_snap *s, mdt_id id, const char *key, mdt_id unit,
                      int active);
int mdt_snap_user_bundle(mdt_snap *s, mdt_id user, mdt_id bundle);
int mdt_snap_user_override(mdt_snap *s, mdt_id user, mdt_id right,
                           mdt_value v);
int mdt_snap_user_access(mdt_snap *s, mdt_id user, mdt_id tenant,
                         int access);
int mdt_snap_user_customer(mdt_snap *s, mdt_id user, mdt_id customer);

/*
** Compile: resolve parents, check the tree (every parent exists and sits
** on a higher level, no cycles: MDT_CONSTRAINT), number the tree in pre
** order, precompute anchors and every user's effective values.  Call once
** after building; MDT_MISUSE when called twice.  A user whose unit does
** not exist is MDT_CONSTRAINT too.  A failed compile compiles nothing:
** add what was missing and call again.
*/
int mdt_snap_compile(mdt_snap *s);

/*
** Recompile one user after mdt_snap_put_user on a compiled snapshot.
** MDT_MISUSE before mdt_snap_compile, MDT_NOTFOUND for an unknown user,
** MDT_CONSTRAINT when its unit does not exist.
*/
int mdt_snap_compile_user(mdt_snap *s, mdt_id user);
/* }}} */

/* Checking {{{ */

/*
** What a check is about.  Each field is MDT_ABSENT (not given), an id, or
** MDT_UNKNOWN (given, but naming nothing).  unit defaults to the owner's
** unit when absent.
*/
typedef struct mdt_record {
  mdt_id tenant;
  mdt_id owner;      /* a user id */
  mdt_id unit;
  mdt_id customer;
} mdt_record;

/*
** Decide per docs/semantics.md section 3.9.  rec may be NULL (no record:
** "does the user hold the right at all").  Returns MDT_ALLOWED or the
** first failing reason; MDT_UNKNOWN_RIGHT when right names no right (the
** caller must treat that as an error, not a denial; also for a NULL s).
** Never allocates; s must be compiled (MDT_UNKNOWN_USER otherwise).
*/
int mdt_check(const mdt_snap *s, mdt_id user, mdt_id right,
              const mdt_record *rec);

/*
** The user step of mdt_check alone: MDT_ALLOWED for a known, active user,
** else MDT_UNKNOWN_USER or MDT_INACTIVE_USER.  For every other gate that
** asks "may this user ..." (distribution lists), so that it answers from
** the same snapshot and the same rule as a check.
*/
int mdt_user_step(const mdt_snap *s, mdt_id user);

/*
** The id for key (len bytes, need not be NUL-terminated) of the given kind,
** or 0 when there is none.  One hash lookup.
*/
mdt_id mdt_lookup(const mdt_snap *s, int kind, const char *key, size_t len);

/* What matched in a scope decision. */
enum { MDT_MATCH_NONE, MDT_MATCH_HOLD, MDT_MATCH_CUSTOMER, MDT_MATCH_OWN,
       MDT_MATCH_LEVEL, MDT_MATCH_ALL, MDT_MATCH_FLAG };

/* Where the effective value comes from. */
enum { MDT_SRC_NONE, MDT_SRC_BUNDLES, MDT_SRC_OVERRIDE };

/* The single change that would allow a denied check. */
enum {
  MDT_FIX_NONE,        /* allowed: nothing to fix */
  MDT_FIX_ACTIVATE,    /* make the user active */
  MDT_FIX_ACCESS,      /* set_access(user, tenant, fix_access) */
  MDT_FIX_OVERRIDE,    /* set_override(user, right, fix_value) */
  MDT_FIX_IMPOSSIBLE   /* no single change allows it; see failing */
};

/* Bits of mdt_explanation.failing: every step that fails, not just the first. */
#define MDT_FAIL_USER    1   /* unknown or inactive user */
#define MDT_FAIL_TENANT  2   /* unknown tenant, hidden or read-only access */
#define MDT_FAIL_RIGHT   4   /* value none/false or record out of scope */
#define MDT_FAIL_UNKNOWN 8   /* unknown user or tenant: no write to either
                                entity's rights can help */

typedef struct mdt_explanation {
  int reason;             /* exactly what mdt_check returns */
  int kind, mode;         /* of the right */
  mdt_value value;        /* effective value (0 for unknown users; what an
                             inactive user would hold) */
  int source;             /* MDT_SRC_* */
  int access;             /* access applied by the tenant gate, -1: no gate */
  int access_explicit;    /* 1: the user's own row, 0: the tenant default */
  mdt_id anchor;          /* unit whose subtree a level value reaches, or 0 */
  int matched;            /* MDT_MATCH_*: what allowed the right step (the
                             first of customer, own, level, all that did) */
  int failing;            /* MDT_FAIL_* bits */
  int fix;                /* MDT_FIX_* */
  int fix_access;         /* with MDT_FIX_ACCESS */
  mdt_value fix_value;    /* with MDT_FIX_OVERRIDE */
} mdt_explanation;

/*
** Explain a check: fills *out so that out->reason == mdt_check(...) and,
** for a denial, out->fix is the smallest single change that allows it:
** the least access that passes the gate, or the override with the lowest
** value that matches (keeping the customer part the user already has):
** the current value plus "+customer" when the right allows it and the
** user manages the record's customer, else the next rank up that
** matches ("own" for a record asking whether the user holds the right).
** Returns MDT_OK, MDT_NOTFOUND for an unknown right (out->reason is then
** MDT_UNKNOWN_RIGHT), MDT_MISUSE for NULL arguments.
*/
int mdt_explain(const mdt_snap *s, mdt_id user, mdt_id right,
                const mdt_record *rec, mdt_explanation *out);
/* }}} */

/* Reading a snapshot {{{ */

/* Key of id of the given kind, or NULL when there is none. */
const char *mdt_key(const mdt_snap *s, int kind, mdt_id id);

/* Largest id of a kind ever added (ids <= it may have holes). */
mdt_id mdt_max_id(const mdt_snap *s, int kind);

/* Level names, top to bottom; *n receives the count. */
const char *const *mdt_levels(const mdt_snap *s, int *n);

/* A right's kind, mode and customer option; MDT_NOTFOUND when unknown. */
int mdt_right_info(const mdt_snap *s, mdt_id right, int *kind, int *mode,
                   int *customer_ok);

/* A unit's depth and parent (0 for a root); MDT_NOTFOUND when unknown. */
int mdt_unit_info(const mdt_snap *s, mdt_id unit, int *depth,
                  mdt_id *parent);

/*
** A user's unit, active flag and bundles (in the order given); the array
** belongs to the snapshot.  MDT_NOTFOUND when unknown.
*/
int mdt_user_info(const mdt_snap *s, mdt_id user, mdt_id *unit, int *active,
                  const mdt_id **bundles, int *nbundles);

/* 1 and *v set when bundle gives right a value, 0 otherwise. */
int mdt_bundle_value(const mdt_snap *s, mdt_id bundle, mdt_id right,
                     mdt_value *v);

/* 1 and *v set when user has an override for right, 0 otherwise. */
int mdt_override(const mdt_snap *s, mdt_id user, mdt_id right, mdt_value *v);

/*
** The user's effective value for right per docs/semantics.md
** section 3.2 (override, else the join of the bundles, else false/none);
** *source gets MDT_SRC_* when not NULL: MDT_SRC_BUNDLES when one of the
** user's bundles gives the right a value, MDT_SRC_NONE when none does.
** 0 for unknown users or rights, and for users not compiled.  Inactive
** users still report the value they would hold (mdt_check denies them
** first).
*/
mdt_value mdt_effective(const mdt_snap *s, mdt_id user, mdt_id right,
                        int *source);

/*
** What the user's bundles give right: the join of their values (section
** 3.2, the override left out; false/none when no bundle gives it).  0
** for unknown users or rights.
*/
mdt_value mdt_bundled(const mdt_snap *s, mdt_id user, mdt_id right);

/*
** The user's access to tenant: the explicit row if any, else the tenant
** default; *explicit_row gets 1 or 0 when not NULL.  -1 for an unknown
** user or tenant.
*/
int mdt_access(const mdt_snap *s, mdt_id user, mdt_id tenant,
               int *explicit_row);

/* 1 when user manages customer, else 0. */
int mdt_manages(const mdt_snap *s, mdt_id user, mdt_id customer);
/* }}} */

/* Differences of two snapshots {{{ */

enum { MDT_DIFF_ACCESS = 0, MDT_DIFF_RIGHT = 1 };  /* what a row is about */

typedef struct mdt_diff_row {
  const char *user;          /* the user's key */
  int what;                  /* MDT_DIFF_ACCESS or MDT_DIFF_RIGHT */
  const char *key;           /* the tenant's or the right's key */
  int kind_a, a;             /* on the first side: the right's kind and */
  int kind_b, b;             /*   effective value (an mdt_value in that
                                side's levels), or the access (kinds 0) */
} mdt_diff_row;

/*
** What differs from snapshot a to snapshot b (both compiled): one row per
** user and right whose effective value (docs/semantics.md section 3.2:
** an inactive user holds nothing) differs, and per user and tenant whose
** access (section 3.3) differs.  Users, rights and tenants are matched by
** key; one that a side lacks holds nothing there (false or none, of the
** other side's kind; hidden).  Rows come sorted by user key, access rows
** before right rows, then by key, keys compared as bytes.  The keys point
** into a and b.  *rows (free it with mdt_diff_free) and *nrows get the
** result; MDT_OK, MDT_NOMEM, or MDT_MISUSE for NULL or uncompiled
** snapshots.
*/
int mdt_diff(const mdt_snap *a, const mdt_snap *b, mdt_diff_row **rows,
             size_t *nrows);
void mdt_diff_free(mdt_diff_row *rows);
/* }}} */

#endif
