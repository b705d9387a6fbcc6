/*
** schema_int.h -- the schema's migrations, for store.c (internal).
*/
#ifndef MDT_SCHEMA_INT_H
#define MDT_SCHEMA_INT_H

#include <sqlite3.h>

int mdt_schema_version(void);
int mdt_schema_watch(sqlite3 *db);
const char *mdt_schema_migration(int v);

#endif
