/*
** schema_int.h -- the schema's migrations, for store.c (internal).
*/
#ifndef MDT_SCHEMA_INT_H
#define MDT_SCHEMA_INT_H

int mdt_schema_version(void);
const char *mdt_schema_migration(int v);

#endif
