/*
** schema.c -- the store's schema and its migrations.
**
** PRAGMA user_version holds the number of migrations applied.  Opening a
** store applies the missing ones in order, inside one transaction, so a
** store made by an older mandate is upgraded in place or not at all.
** Migrations are append-only: never edit one that has shipped.
*/
#include <stddef.h>
#include <stdio.h>
#include "schema_int.h"

/*
** Ids are AUTOINCREMENT so that an id, once handed out (prepared checks
** keep them), never names another entity after a delete.  Keys are the
** integrator's strings; everything else refers by id.  Right values are
** stored as canonical text ("team+customer", "true") so that they survive
** a change of the level list.
*/
static const char *const migrations[] = {
  /* 1: the rights model */
  "CREATE TABLE meta ("
  "  key   TEXT PRIMARY KEY,"
  "  value INTEGER NOT NULL"
  ") STRICT;"
  "INSERT INTO meta(key, value) VALUES ('revision', 0);"

  "CREATE TABLE levels ("
  "  name  TEXT PRIMARY KEY,"
  "  depth INTEGER NOT NULL"                  /* 0 = top */
  ") STRICT;"

  "CREATE TABLE units ("
  "  id        INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key       TEXT NOT NULL UNIQUE,"
  "  level     TEXT NOT NULL REFERENCES levels(name),"
  "  parent_id INTEGER REFERENCES units(id),"
  "  label     TEXT"
  ") STRICT;"
  "CREATE INDEX units_parent ON units(parent_id);"

  "CREATE TABLE tenants ("
  "  id             INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key            TEXT NOT NULL UNIQUE,"
  "  label          TEXT,"
  "  default_access TEXT NOT NULL DEFAULT 'hidden'"
  "                 CHECK (default_access IN ('full', 'read', 'hidden'))"
  ") STRICT;"

  "CREATE TABLE rights ("
  "  id       INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key      TEXT NOT NULL UNIQUE,"
  "  kind     TEXT NOT NULL CHECK (kind IN ('flag', 'scope')),"
  "  mode     TEXT NOT NULL DEFAULT 'write' CHECK (mode IN ('read', 'write')),"
  "  customer INTEGER NOT NULL DEFAULT 0 CHECK (customer IN (0, 1)),"
  "  area     TEXT,"
  "  label    TEXT"
  ") STRICT;"

  "CREATE TABLE bundles ("
  "  id    INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key   TEXT NOT NULL UNIQUE,"
  "  label TEXT"
  ") STRICT;"

  "CREATE TABLE bundle_rights ("
  "  bundle_id INTEGER NOT NULL REFERENCES bundles(id),"
  "  right_id  INTEGER NOT NULL REFERENCES rights(id),"
  "  value     TEXT NOT NULL,"
  "  PRIMARY KEY (bundle_id, right_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX bundle_rights_right ON bundle_rights(right_id);"

  "CREATE TABLE users ("
  "  id      INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key     TEXT NOT NULL UNIQUE,"
  "  unit_id INTEGER REFERENCES units(id),"
  "  active  INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"
  "  label   TEXT"
  ") STRICT;"
  "CREATE INDEX users_unit ON users(unit_id);"

  "CREATE TABLE user_bundles ("
  "  user_id   INTEGER NOT NULL REFERENCES users(id),"
  "  position  INTEGER NOT NULL,"
  "  bundle_id INTEGER NOT NULL REFERENCES bundles(id),"
  "  PRIMARY KEY (user_id, position),"
  "  UNIQUE (user_id, bundle_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX user_bundles_bundle ON user_bundles(bundle_id);"

  "CREATE TABLE overrides ("
  "  user_id  INTEGER NOT NULL REFERENCES users(id),"
  "  right_id INTEGER NOT NULL REFERENCES rights(id),"
  "  value    TEXT NOT NULL,"
  "  PRIMARY KEY (user_id, right_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX overrides_right ON overrides(right_id);"

  "CREATE TABLE access ("
  "  user_id   INTEGER NOT NULL REFERENCES users(id),"
  "  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
  "  access    TEXT NOT NULL CHECK (access IN ('full', 'read', 'hidden')),"
  "  PRIMARY KEY (user_id, tenant_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX access_tenant ON access(tenant_id);"

  "CREATE TABLE customers ("
  "  id  INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key TEXT NOT NULL UNIQUE"
  ") STRICT;"

  "CREATE TABLE account_managers ("
  "  user_id     INTEGER NOT NULL REFERENCES users(id),"
  "  customer_id INTEGER NOT NULL REFERENCES customers(id),"
  "  PRIMARY KEY (user_id, customer_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX account_managers_customer ON account_managers(customer_id);"

  /* one row per change; before/after are JSON texts, NULL when absent */
  "CREATE TABLE audit ("
  "  id       INTEGER PRIMARY KEY,"
  "  revision INTEGER NOT NULL,"
  "  time     TEXT NOT NULL,"
  "  actor    TEXT,"
  "  op       TEXT NOT NULL,"
  "  subject  TEXT NOT NULL,"
  "  before   TEXT,"
  "  after    TEXT"
  ") STRICT;"
  "CREATE INDEX audit_revision ON audit(revision);"
  "CREATE INDEX audit_subject ON audit(subject);"
  "CREATE INDEX audit_actor ON audit(actor);",

  /*
  ** 2: contacts, their roles and distribution lists.  A NULL tenant_id of
  ** a contact or role is common data.  Channels and tags are rows, so
  ** that SQL can answer "who has this address" and "who carries this
  ** tag"; a list's explicit entries are one row per role, excluded = 1
  ** for an exclusion.  The meta row 'revision.contacts' counts every
  ** change to these tables: resolved lists are cached against it.
  */
  "INSERT INTO meta(key, value) VALUES ('revision.contacts', 0);"

  "CREATE TABLE contacts ("
  "  id        INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key       TEXT NOT NULL UNIQUE,"
  "  label     TEXT,"
  "  tenant_id INTEGER REFERENCES tenants(id)"
  ") STRICT;"
  "CREATE INDEX contacts_tenant ON contacts(tenant_id);"

  "CREATE TABLE roles ("
  "  id         INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key        TEXT NOT NULL UNIQUE,"
  "  contact_id INTEGER NOT NULL REFERENCES contacts(id),"
  "  label      TEXT,"
  "  active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"
  "  tenant_id  INTEGER REFERENCES tenants(id)"
  ") STRICT;"
  "CREATE INDEX roles_contact ON roles(contact_id);"
  "CREATE INDEX roles_tenant ON roles(tenant_id);"

  "CREATE TABLE role_channels ("
  "  role_id INTEGER NOT NULL REFERENCES roles(id),"
  "  channel TEXT NOT NULL,"                  /* "email", "postal", ... */
  "  value   TEXT NOT NULL,"
  "  PRIMARY KEY (role_id, channel)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX role_channels_value ON role_channels(channel, value);"

  "CREATE TABLE role_tags ("
  "  role_id INTEGER NOT NULL REFERENCES roles(id),"
  "  tag     TEXT NOT NULL,"
  "  PRIMARY KEY (role_id, tag)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX role_tags_tag ON role_tags(tag);"

  "CREATE TABLE lists ("
  "  id        INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  key       TEXT NOT NULL UNIQUE,"
  "  label     TEXT,"
  "  tenant_id INTEGER NOT NULL REFERENCES tenants(id)"
  ") STRICT;"
  "CREATE INDEX lists_tenant ON lists(tenant_id);"

  "CREATE TABLE list_tags ("                  /* dynamic members */
  "  list_id INTEGER NOT NULL REFERENCES lists(id),"
  "  tag     TEXT NOT NULL,"
  "  PRIMARY KEY (list_id, tag)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX list_tags_tag ON list_tags(tag);"

  "CREATE TABLE list_entries ("
  "  list_id  INTEGER NOT NULL REFERENCES lists(id),"
  "  role_id  INTEGER NOT NULL REFERENCES roles(id),"
  "  excluded INTEGER NOT NULL CHECK (excluded IN (0, 1)),"
  "  PRIMARY KEY (list_id, role_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX list_entries_role ON list_entries(role_id);",

  /*
  ** 3: access rows check their level with = instead of IN.  SQLite tests
  ** a constant IN list of three or more against a temporary b-tree that
  ** it builds on every insert or update: that was a quarter of the cost
  ** of a set_access in a bulk change.
  */
  "CREATE TABLE access_v3 ("
  "  user_id   INTEGER NOT NULL REFERENCES users(id),"
  "  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
  "  access    TEXT NOT NULL"
  "            CHECK (access = 'full' OR access = 'read' OR access = 'hidden'),"
  "  PRIMARY KEY (user_id, tenant_id)"
  ") STRICT, WITHOUT ROWID;"
  "INSERT INTO access_v3(user_id, tenant_id, access)"
  "  SELECT user_id, tenant_id, access FROM access;"
  "DROP TABLE access;"
  "ALTER TABLE access_v3 RENAME TO access;"
  "CREATE INDEX access_tenant ON access(tenant_id);",

  /*
  ** 4: the audit made for bulk work.  A change set's time and actor are
  ** one row of revisions, written when it commits, instead of a time
  ** computed and an actor indexed for every audit row.  The audit keeps
  ** two indexes: by subject (a user's or an entity's history) and by
  ** revision (db:audit's bounds; appended in order, so cheap to keep).
  ** Rows from before keep their own time and actor (NULL in newer rows).
  */
  "CREATE TABLE revisions ("
  "  revision INTEGER PRIMARY KEY,"
  "  time     TEXT NOT NULL,"
  "  actor    TEXT"
  ") STRICT;"
  "CREATE INDEX revisions_time ON revisions(time);"
  "INSERT INTO revisions(revision, time, actor)"
  "  SELECT revision, min(time), NULL FROM audit GROUP BY revision;"
  "CREATE TABLE audit_v4 ("
  "  id       INTEGER PRIMARY KEY,"
  "  revision INTEGER NOT NULL,"
  "  op       TEXT NOT NULL,"
  "  subject  TEXT NOT NULL,"
  "  before   TEXT,"
  "  after    TEXT,"
  "  time     TEXT,"
  "  actor    TEXT"
  ") STRICT;"
  "INSERT INTO audit_v4(id, revision, op, subject, before, after, time, actor)"
  "  SELECT id, revision, op, subject, before, after, time, actor FROM audit;"
  "DROP TABLE audit;"
  "ALTER TABLE audit_v4 RENAME TO audit;"
  "CREATE INDEX audit_subject ON audit(subject);"
  "CREATE INDEX audit_revision ON audit(revision);"
  /* the resolved lists learn what went stale as the snapshot does
     (mdt_schema_watch), not from a counter every writer bumps */
  "DELETE FROM meta WHERE key = 'revision.contacts';",

  /*
  ** 5: a revision knows the last audit row it wrote (last_id), so
  ** db:audit bounds the rows of revisions by their ids (a change set's
  ** rows are contiguous: writers are serialized by BEGIN IMMEDIATE and
  ** the audit's ids only grow) instead of an index on revision that every
  ** audited row paid for (40 ms of a 100k-row bulk change) and that no
  ** query used.
  */
  "ALTER TABLE revisions ADD COLUMN last_id INTEGER;"
  "UPDATE revisions SET last_id ="
  "  (SELECT max(id) FROM audit WHERE audit.revision = revisions.revision);"
  "DROP INDEX audit_revision;",

  /*
  ** 6: access templates of units.  A unit's rows say which access a user
  ** moved into it (or below it, unless a nearer unit says otherwise) gets
  ** on a tenant (lua/mandate/moves.lua).  They decide nothing until a
  ** move copies them into the user's access rows, so they are not among
  ** the watches below.
  */
  "CREATE TABLE unit_access ("
  "  unit_id   INTEGER NOT NULL REFERENCES units(id),"
  "  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
  "  access    TEXT NOT NULL"
  "            CHECK (access = 'full' OR access = 'read' OR access = 'hidden'),"
  "  PRIMARY KEY (unit_id, tenant_id)"
  ") STRICT, WITHOUT ROWID;"
  "CREATE INDEX unit_access_tenant ON unit_access(tenant_id);",

  /*
  ** 7: the decision log (decisions.c), a table of its own beside the
  ** audit: the checks a handle logged, written when it flushes.  Keys are
  ** texts, as the check saw them (a key given as an id that named
  ** nothing is NULL); reason is NULL for an allowed decision.  Rows are
  ** only appended and cut from the oldest end, so ids are contiguous.
  */
  "CREATE TABLE decisions ("
  "  id           INTEGER PRIMARY KEY,"
  "  time         TEXT NOT NULL,"
  "  user_key     TEXT,"
  "  right_key    TEXT NOT NULL,"
  "  tenant_key   TEXT,"
  "  owner_key    TEXT,"
  "  unit_key     TEXT,"
  "  customer_key TEXT,"
  "  reason       TEXT"
  ") STRICT;"
  "CREATE INDEX decisions_time ON decisions(time);",
};

/*
** What a change to each table makes stale, declared once beside the
** tables: the whole snapshot (ALL: structure, and any delete, since
** writers take ids from the snapshot and a patch cannot reset a row that
** is gone), one user's part of it (USER, patched at the next check), or,
** for the resolved distribution lists, the role, list or contact a row
** belongs to (ROLE, LIST, CONTACT: the lists' cache patches those), named
** by the row's column `column` (an update names its old and new value).
** The store's preupdate hook (watch.c) applies this to every row written
** on its connection, so whatever writes a row (a writer, a future C
** writer, a spec's raw SQL) is seen.  Tables not named here (meta, audit,
** revisions, unit_access) change no decision.
*/
#define ALL MDT_STALE_ALL
#define USER MDT_STALE_USER
#define ROLE MDT_STALE_ROLE
#define LIST MDT_STALE_LIST
#define CONTACT MDT_STALE_CONTACT

static const mdt_watch watches[] = {
  /* table             column        insert  update  delete */
  { "levels",          NULL,         { ALL, ALL, ALL } },
  { "units",           NULL,         { ALL, ALL, ALL } },
  { "tenants",         NULL,         { ALL, ALL, ALL } },
  { "rights",          NULL,         { ALL, ALL, ALL } },
  { "bundles",         NULL,         { ALL, ALL, ALL } },
  { "bundle_rights",   NULL,         { ALL, ALL, ALL } },
  { "users",           "id",         { USER, USER, ALL } },
  { "user_bundles",    "user_id",    { USER, USER, USER } },
  { "overrides",       "user_id",    { USER, USER, USER } },
  { "access",          "user_id",    { USER, USER, USER } },
  /* a new customer enters with its manager's row, which patches them */
  { "customers",       NULL,         { MDT_STALE_NONE, ALL, ALL } },
  { "account_managers", "user_id",   { USER, USER, USER } },
  /* the lists' cache patches the roles, lists and contacts named */
  { "contacts",        "id",         { CONTACT, CONTACT, CONTACT } },
  { "roles",           "id",         { ROLE, ROLE, ROLE } },
  { "role_channels",   "role_id",    { ROLE, ROLE, ROLE } },
  { "role_tags",       "role_id",    { ROLE, ROLE, ROLE } },
  { "lists",           "id",         { LIST, LIST, LIST } },
  { "list_tags",       "list_id",    { LIST, LIST, LIST } },
  { "list_entries",    "role_id",    { ROLE, ROLE, ROLE } },
};

const mdt_watch *mdt_schema_watches(size_t *n)
{
  *n = sizeof watches / sizeof watches[0];
  return watches;
}

/*
** The number of migrations this build knows, i.e. the user_version of a
** store it has migrated.
*/
int mdt_schema_version(void)
{
  return (int)(sizeof migrations / sizeof migrations[0]);
}

/*
** The SQL that brings a store from version v - 1 to v (1 <= v <=
** mdt_schema_version()), or NULL for any other v.
*/
const char *mdt_schema_migration(int v)
{
  if (v < 1 || v > mdt_schema_version()) return NULL;
  return migrations[v - 1];
}
