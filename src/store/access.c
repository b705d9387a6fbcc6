/*
** access.c -- where a user's explicit access to a tenant is written.
**
** set_access and clear_access are the writers of bulk changes (100k in
** one transaction), so the store writes them in one call: both keys
** resolved (the snapshot, else one query each), the old row read, the row
** written or deleted, and its audit row with the JSON texts the Lua layer
** writes for every other change ({"access":...,"tenant":...}).  The
** caller holds a level of a change set (change.c); the triggers tell the
** snapshot (schema.c).  Messages are the Lua layer's: this file returns
** which argument named nothing.
*/
#include <string.h>

#include "store_int.h"

static const char *const accesses[] = { "hidden", "read", "full" };

/* Append s (len bytes) to b as a JSON string, as lua/mandate/json.lua
   writes it; 0 when it does not fit in cap. */
static size_t json_string(char *b, size_t at, size_t cap, const char *s,
                          size_t len)
{
  static const char hex[] = "0123456789abcdef";
  size_t i;
  if (at >= cap) return 0;
  b[at++] = '"';
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default: break;
    }
    if (at + 6 >= cap) return 0;
    if (esc) {
      while (*esc) b[at++] = *esc++;
    } else if (c < 0x20 || c == 0x7f) {
      b[at++] = '\\';
      b[at++] = 'u';
      b[at++] = '0';
      b[at++] = '0';
      b[at++] = hex[c >> 4];
      b[at++] = hex[c & 15];
    } else {
      b[at++] = (char)c;
    }
  }
  if (at + 1 >= cap) return 0;
  b[at++] = '"';
  return at;
}

/* The audit text of an access row: {"access":"a","tenant":"t"}. */
static size_t access_json(char *b, size_t cap, const char *access,
                          const char *tenant, size_t tlen)
{
  static const char a[] = "{\"access\":", t[] = ",\"tenant\":";
  size_t at = sizeof a - 1;
  memcpy(b, a, at);
  if ((at = json_string(b, at, cap, access, strlen(access))) == 0 ||
      at + sizeof t >= cap)
    return 0;
  memcpy(b + at, t, sizeof t - 1);
  at += sizeof t - 1;
  if ((at = json_string(b, at, cap, tenant, tlen)) == 0 || at + 2 >= cap)
    return 0;
  b[at++] = '}';
  b[at] = '\0';
  return at;
}

int mdt_store_write_access(mdt_store *st, const char *op, const char *user,
                           size_t ulen, const char *tenant, size_t tlen,
                           const char *access, int *missing)
{
  static const char sql_old[] = "SELECT access FROM access"
    " WHERE user_id = ?1 AND tenant_id = ?2";
  static const char sql_put[] = "INSERT INTO access(user_id, tenant_id,"
    " access) VALUES (?1, ?2, ?3) ON CONFLICT(user_id, tenant_id)"
    " DO UPDATE SET access = excluded.access";
  static const char sql_del[] = "DELETE FROM access"
    " WHERE user_id = ?1 AND tenant_id = ?2";
  char before[600], after[600], subject[256];
  size_t nb = 0, na = 0;
  sqlite3_stmt *stmt;
  mdt_id u, t;
  int rc, k, has_old = 0;
  *missing = 0;
  if ((rc = mdt_store_id(st, MDT_USER, user, ulen, &u)) != MDT_OK) return rc;
  if (!u) return *missing = 1, MDT_OK;
  if ((rc = mdt_store_id(st, MDT_TENANT, tenant, tlen, &t)) != MDT_OK)
    return rc;
  if (!t) return *missing = 2, MDT_OK;
  if (access) {
    for (k = 0; k < 3 && strcmp(access, accesses[k]) != 0; k++) {}
    if (k == 3) return *missing = 3, MDT_OK;
  }
  if ((rc = mdt_store_prepare(st, sql_old, sizeof sql_old - 1, &stmt))
      != MDT_OK)
    return rc;
  sqlite3_bind_int64(stmt, 1, u);
  sqlite3_bind_int64(stmt, 2, t);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const char *old = (const char *)sqlite3_column_text(stmt, 0);
    has_old = 1;
    if (access && old && strcmp(old, access) == 0) has_old = 2;  /* same */
    else if (old) nb = access_json(before, sizeof before, old, tenant, tlen);
  }
  sqlite3_reset(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return mdt_store_fail(st, rc);
  if (has_old == 2 || (!access && !has_old)) return MDT_OK;  /* no change */
  if (has_old && nb == 0)
    return mdt_store_error(st, MDT_RANGE, "access row too long to audit");
  if (access) {
    if ((na = access_json(after, sizeof after, access, tenant, tlen)) == 0)
      return mdt_store_error(st, MDT_RANGE, "access row too long to audit");
    rc = mdt_store_prepare(st, sql_put, sizeof sql_put - 1, &stmt);
  } else {
    rc = mdt_store_prepare(st, sql_del, sizeof sql_del - 1, &stmt);
  }
  if (rc != MDT_OK) return rc;
  sqlite3_bind_int64(stmt, 1, u);
  sqlite3_bind_int64(stmt, 2, t);
  if (access) sqlite3_bind_text(stmt, 3, access, -1, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return mdt_store_fail(st, rc);
  if (ulen + 6 > sizeof subject)
    return mdt_store_error(st, MDT_RANGE, "user key too long to audit");
  memcpy(subject, "user:", 5);
  memcpy(subject + 5, user, ulen);
  subject[5 + ulen] = '\0';
  return mdt_change_audit(st, op, subject, has_old ? before : NULL, nb,
                          access ? after : NULL, na);
}
