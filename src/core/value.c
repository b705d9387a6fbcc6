/*
** value.c -- the words of the engine: result codes, reasons, and right
** values with their text ("true", "team+customer", "customer").
*/
#include <stdio.h>
#include <string.h>

#include "core_int.h"

/* Codes and reasons {{{ */

/*
** Static English text for a result code; "unknown error code" when out of
** range.
*/
const char *mdt_errstr(int code)
{
  static const char *const text[MDT_NCODES] = {
    "not an error",
    "generic error",
    "out of memory",
    "library routine called out of sequence or with bad arguments",
    "id out of range",
    "no such entity",
    "malformed value or key",
    "constraint of the model violated",
    "store is locked",
    "store cannot be read or written",
  };
  return code >= 0 && code < MDT_NCODES ? text[code] : "unknown error code";
}

/*
** Stable lower-case name of a reason; NULL when out of range.
*/
const char *mdt_reason_name(int reason)
{
  static const char *const name[] = {
    "allowed", "unknown_user", "inactive_user", "unknown_tenant",
    "tenant_hidden", "tenant_read_only", "no_right", "out_of_scope",
    "unknown_right"
  };
  return reason >= MDT_ALLOWED && reason <= MDT_UNKNOWN_RIGHT ? name[reason]
                                                              : NULL;
}
/* }}} */

/* Values {{{ */

#define CUSTOMER_SUFFIX "+customer"
#define SUFFIX_LEN (sizeof CUSTOMER_SUFFIX - 1)

/* Is text[0..len) exactly the NUL-terminated word w? */
static int is(const char *text, size_t len, const char *w)
{
  return strlen(w) == len && memcmp(text, w, len) == 0;
}

static int levels_ok(const char *const *levels, int nlevels)
{
  return nlevels >= 0 && nlevels <= MDT_MAX_LEVELS &&
         (nlevels == 0 || levels != NULL);
}

/* Rank of a scope word without the customer part, -1 when it is none. */
static int rankof(const char *const *levels, int n, const char *text,
                  size_t len)
{
  int d;
  if (is(text, len, "none")) return MDT_V_NONE;
  if (is(text, len, "own")) return MDT_V_OWN;
  if (is(text, len, "all")) return MDT_V_ALL(n);
  for (d = 0; d < n; d++)
    if (levels[d] != NULL && is(text, len, levels[d]))
      return MDT_V_LEVEL(n, d);
  return -1;
}

/*
** Does v fit a right of this kind: a flag 0 or 1; a scope rank up to all,
** no bits but the rank and MDT_V_CUSTOMER, that one only when custok.
*/
int mdtV_fits(int kind, int nlevels, int custok, mdt_value v)
{
  if (kind == MDT_FLAG) return v <= 1;
  return (v & ~(MDT_V_CUSTOMER | 0xff)) == 0 &&
         MDT_V_RANK(v) <= MDT_V_ALL(nlevels) &&
         (custok || (v & MDT_V_CUSTOMER) == 0);
}

/*
** 1 when name cannot be a level name: NULL, empty, a word of the value
** syntax, or containing '+' (values would not parse back).
*/
int mdtV_badname(const char *name)
{
  return name == NULL || *name == '\0' || strchr(name, '+') != NULL ||
         strcmp(name, "none") == 0 || strcmp(name, "own") == 0 ||
         strcmp(name, "all") == 0 || strcmp(name, "customer") == 0;
}

/*
** Parse value text; see mandate.h.  MDT_INVALID for unknown words, a
** customer part where customer_ok is 0, or a customer part given twice.
*/
int mdt_value_parse(const char *const *levels, int nlevels, int kind,
                    int customer_ok, const char *text, size_t len,
                    mdt_value *out)
{
  size_t base = len;
  int rank, cust = 0;
  if (text == NULL || out == NULL || !levels_ok(levels, nlevels) ||
      (kind != MDT_FLAG && kind != MDT_SCOPE))
    return MDT_MISUSE;
  if (kind == MDT_FLAG) {
    if (is(text, len, "true")) rank = 1;
    else if (is(text, len, "false")) rank = 0;
    else return MDT_INVALID;
    *out = (mdt_value)rank;
    return MDT_OK;
  }
  if (is(text, len, "customer")) {          /* "customer" = none+customer */
    rank = MDT_V_NONE;
    cust = 1;
  } else {
    if (len > SUFFIX_LEN &&
        memcmp(text + len - SUFFIX_LEN, CUSTOMER_SUFFIX, SUFFIX_LEN) == 0) {
      base = len - SUFFIX_LEN;
      cust = 1;
    }
    rank = rankof(levels, nlevels, text, base);
  }
  if (rank < 0 || (cust && !customer_ok)) return MDT_INVALID;
  *out = (mdt_value)(rank | (cust ? MDT_V_CUSTOMER : 0));
  return MDT_OK;
}

/*
** Canonical text of v into buf; see mandate.h.  0 (and "" in buf) for a
** value that fits no right of this kind, or bad arguments.
*/
size_t mdt_value_format(const char *const *levels, int nlevels, int kind,
                        mdt_value v, char *buf, size_t cap)
{
  const char *word, *suffix = "";
  int rank = MDT_V_RANK(v), n;
  if (buf == NULL) cap = 0;
  if (cap > 0) buf[0] = '\0';
  if (!levels_ok(levels, nlevels) || (kind != MDT_FLAG && kind != MDT_SCOPE)
      || !mdtV_fits(kind, nlevels, 1, v))
    return 0;
  if (kind == MDT_FLAG) {
    word = v ? "true" : "false";
  } else {
    if (rank == MDT_V_NONE) word = (v & MDT_V_CUSTOMER) ? "" : "none";
    else if (rank == MDT_V_OWN) word = "own";
    else if (rank == MDT_V_ALL(nlevels)) word = "all";
    else word = levels[nlevels + 1 - rank];
    if (word == NULL) return 0;
    if (v & MDT_V_CUSTOMER) suffix = rank ? CUSTOMER_SUFFIX : "customer";
  }
  n = snprintf(buf, cap, "%s%s", word, suffix);
  return n > 0 ? (size_t)n : 0;
}
/* }}} */
