/*
** fuzz_value.c -- libFuzzer target for the value text of rights
** (mdt_value_parse, mdt_value_format).
**
** Input: byte 0 picks the level list, the kind and customer_ok; bytes 1-2
** are a raw value for the format checks; the rest is the text to parse,
** copied into a buffer of exactly its size (no NUL) so that an overread is
** an ASan report.  Level list 7 takes its names from the text itself
** (split on '|'), so the fuzzer also explores odd level names.
**
** Invariants:
**   - parse accepts exactly the texts of a reference built from the level
**     list (every rank word, alone or with "+customer", and "customer"),
**     with the value the reference gives;
**   - whatever parses formats to text that parses to the same value;
**   - format never writes past cap (heap buffers of cap 0, 1, 5, exact,
**     exact + 1), always NUL-terminates, returns the full length, and
**     agrees with the text it writes into a large buffer;
**   - format of an arbitrary value returns 0 exactly for values that fit
**     no right of the kind, and otherwise round-trips.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate.h"

#define TEXTMAX 8192              /* inputs are cut at 4096 bytes */

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_value: %s:%d: invariant failed: %s\n", \
            __FILE__, __LINE__, #c); \
    abort(); } } while (0)

/* Level lists {{{ */
static const char *const L1[] = { "team" };
static const char *const L2[] = { "country", "branch", "department", "team" };
static const char *const L3[] = { "a", "ab", "abc", "b", "true", "false" };
static const char *const L4[] = { "x", "customer2", "Own", "ALL", "none2",
                                  "own ", " all", "cust" };
static const char *const L5[] = { "t\xc3\xa9\x61m", "\x01", "\x7f", "\xff" };
static const char *L32[MDT_MAX_LEVELS];
static char l32buf[MDT_MAX_LEVELS][8];

static void init32(void)
{
  int i;
  if (L32[0] != NULL) return;
  for (i = 0; i < MDT_MAX_LEVELS; i++) {
    snprintf(l32buf[i], sizeof l32buf[i], "l%d", i);
    L32[i] = l32buf[i];
  }
}

/* As mandate.h's mdt_snap_set_levels: non-empty, no '+', not reserved. */
static int badname(const char *s)
{
  return *s == '\0' || strchr(s, '+') != NULL || strcmp(s, "none") == 0 ||
         strcmp(s, "own") == 0 || strcmp(s, "all") == 0 ||
         strcmp(s, "customer") == 0;
}
/* }}} */

/* Reference parser {{{ */

/*
** The value text means per docs/semantics.md section 3.1, -1 when it
** means none: a rank word (none, own, a level, all) alone or followed by
** "+customer", or "customer" alone.  Assumes a valid level list (unique
** names that are not reserved and hold no '+').
*/
static long refparse(const char *const *lv, int n, int kind, int custok,
                     const char *t, size_t len)
{
  static const char suffix[] = "+customer";
  size_t slen = sizeof suffix - 1, base = len;
  int cust = 0, rank = -1, d;
  if (kind == MDT_FLAG) {
    if (len == 4 && memcmp(t, "true", 4) == 0) return 1;
    if (len == 5 && memcmp(t, "false", 5) == 0) return 0;
    return -1;
  }
  if (len == 8 && memcmp(t, "customer", 8) == 0)
    return custok ? MDT_V_CUSTOMER : -1;
  if (len >= slen && memcmp(t + len - slen, suffix, slen) == 0) {
    cust = 1;
    base = len - slen;
  }
  if (base == 4 && memcmp(t, "none", 4) == 0) rank = 0;
  else if (base == 3 && memcmp(t, "own", 3) == 0) rank = 1;
  else if (base == 3 && memcmp(t, "all", 3) == 0) rank = n + 2;
  else
    for (d = 0; d < n; d++)
      if (strlen(lv[d]) == base && memcmp(t, lv[d], base) == 0)
        rank = n - d + 1;
  if (rank < 0 || (cust && !custok)) return -1;
  return rank | (cust ? MDT_V_CUSTOMER : 0);
}

static int fits(int kind, int n, mdt_value v)
{
  if (kind == MDT_FLAG) return v <= 1;
  return (v & ~(MDT_V_CUSTOMER | 0xff)) == 0 && MDT_V_RANK(v) <= n + 2;
}
/* }}} */

/* Format checks {{{ */

/* Format v into a heap buffer of exactly cap bytes; check it. */
static void format_cap(const char *const *lv, int n, int kind, mdt_value v,
                       const char *full, size_t flen, size_t cap)
{
  char *buf = malloc(cap ? cap : 1);
  size_t r, w;
  CHECK(buf != NULL);
  if (cap > 0) memset(buf, 'Z', cap);
  r = mdt_value_format(lv, n, kind, v, buf, cap);
  CHECK(r == flen);
  if (cap > 0) {
    w = flen < cap - 1 ? flen : cap - 1;
    CHECK(buf[w] == '\0');
    CHECK(memcmp(buf, full, w) == 0);
  }
  free(buf);
}

/*
** Format v every way and return its full text in out (size TEXTMAX),
** its length in *len; 0 when format refuses it.  strict: the level list
** is valid, so format refuses exactly the values that fit no right.
*/
static int format_all(const char *const *lv, int n, int kind, mdt_value v,
                      int strict, char *out, size_t *len)
{
  size_t r = mdt_value_format(lv, n, kind, v, out, TEXTMAX);
  CHECK(mdt_value_format(lv, n, kind, v, NULL, 0) == r);
  CHECK(mdt_value_format(lv, n, kind, v, NULL, 7) == r);
  CHECK(r < TEXTMAX && strlen(out) == r);
  if (strict) CHECK((r != 0) == fits(kind, n, v));
  if (r == 0) return 0;
  format_cap(lv, n, kind, v, out, r, 0);
  format_cap(lv, n, kind, v, out, r, 1);
  format_cap(lv, n, kind, v, out, r, 5);
  format_cap(lv, n, kind, v, out, r, r);
  format_cap(lv, n, kind, v, out, r, r + 1);
  *len = r;
  return 1;
}

/* Parse text[0..len) from an exactly sized buffer, no NUL after it. */
static int parse_exact(const char *const *lv, int n, int kind, int custok,
                       const char *text, size_t len, mdt_value *out)
{
  char *copy = malloc(len ? len : 1);
  int rc;
  CHECK(copy != NULL);
  if (len) memcpy(copy, text, len);
  rc = mdt_value_parse(lv, n, kind, custok, copy, len, out);
  free(copy);
  return rc;
}

/* Formatting v, then parsing the text, gives v back. */
static void roundtrip(const char *const *lv, int n, int kind, mdt_value v)
{
  char text[TEXTMAX];
  size_t len = 0;
  mdt_value back = 0xdead;
  if (!format_all(lv, n, kind, v, 1, text, &len)) return;
  CHECK(parse_exact(lv, n, kind, 1, text, len, &back) == MDT_OK);
  CHECK(back == v);
  if (kind == MDT_SCOPE && (v & MDT_V_CUSTOMER)) {   /* needs customer_ok */
    CHECK(parse_exact(lv, n, kind, 0, text, len, &back) == MDT_INVALID);
  }
}
/* }}} */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *const *lv = NULL;
  const char *own[MDT_MAX_LEVELS];
  char *names = NULL;
  const char *text;
  size_t len;
  int n = 0, kind, custok, valid = 1, rc, i;
  mdt_value v = 0xbeef, raw;
  long want;
  if (size < 3 || size > 4096) return 0;
  init32();
  kind = (data[0] & 1) ? MDT_SCOPE : MDT_FLAG;
  custok = (data[0] >> 1) & 1;
  raw = (mdt_value)(data[1] | (data[2] << 8));
  text = (const char *)data + 3;
  len = size - 3;
  switch ((data[0] >> 2) & 7) {
    case 0: lv = NULL; n = 0; break;
    case 1: lv = L1; n = 1; break;
    case 2: lv = L2; n = 4; break;
    case 3: lv = L3; n = 6; break;
    case 4: lv = L4; n = 8; break;
    case 5: lv = L5; n = 4; break;
    case 6: lv = L32; n = MDT_MAX_LEVELS; break;
    default: {                  /* level names from the text: a|b|c|value */
      char *p, *end;
      if ((names = malloc(len + 1)) == NULL) return 0;
      memcpy(names, text, len);
      names[len] = '\0';
      p = names;
      end = names + len;
      while (n < MDT_MAX_LEVELS && (end = strchr(p, '|')) != NULL) {
        *end = '\0';
        own[n++] = p;
        p = end + 1;
      }
      text += p - names;        /* the rest, NULs and all, is the value */
      len -= (size_t)(p - names);
      lv = own;
      for (i = 0; i < n; i++) {
        int j;
        if (badname(own[i])) valid = 0;
        for (j = 0; j < i; j++)
          if (strcmp(own[i], own[j]) == 0) valid = 0;
      }
      break;
    }
  }

  /* codes and reasons: static text for any int */
  {
    int code = (int)(int16_t)raw;
    CHECK(mdt_errstr(code) != NULL && mdt_errstr(code)[0] != '\0');
    CHECK((mdt_reason_name(code) != NULL) ==
          (code >= MDT_ALLOWED && code <= MDT_UNKNOWN_RIGHT));
  }

  /* misuse never crashes */
  CHECK(mdt_value_parse(lv, n, 2, custok, text, len, &v) == MDT_MISUSE);
  CHECK(mdt_value_parse(lv, n, kind, custok, NULL, len, &v) == MDT_MISUSE);
  CHECK(mdt_value_parse(lv, n, kind, custok, text, len, NULL) == MDT_MISUSE);
  CHECK(mdt_value_format(lv, n, -1, raw, NULL, 0) == 0);

  rc = parse_exact(lv, n, kind, custok, text, len, &v);
  CHECK(rc == MDT_OK || rc == MDT_INVALID);
  if (valid) {
    want = refparse(lv, n, kind, custok, text, len);
    if (want < 0) {
      CHECK(rc == MDT_INVALID);
    } else {
      CHECK(rc == MDT_OK);
      CHECK(v == (mdt_value)want);
    }
  }
  if (rc == MDT_OK) {
    char t1[TEXTMAX], t2[TEXTMAX];
    size_t l1 = 0, l2 = 0;
    mdt_value back = 0xdead;
    CHECK(fits(kind, n, v));
    CHECK(custok || !(v & MDT_V_CUSTOMER));
    CHECK(format_all(lv, n, kind, v, valid, t1, &l1) || !valid);
    if (valid) {               /* round trip, and format is canonical */
      CHECK(parse_exact(lv, n, kind, custok, t1, l1, &back) == MDT_OK);
      CHECK(back == v);
      CHECK(format_all(lv, n, kind, back, 1, t2, &l2));
      CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0);
    }
  }
  /* any 16-bit value: format refuses it or it round-trips */
  if (valid) {
    roundtrip(lv, n, kind, raw);
    roundtrip(lv, n, kind, (mdt_value)(raw & 0x1ff));
  } else {
    char t[TEXTMAX];
    size_t l = 0;
    format_all(lv, n, kind, raw, 0, t, &l);
  }
  free(names);
  return 0;
}
