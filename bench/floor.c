/*
** floor.c -- the benchmarks' floor: the cheapest C call Lua can make.
**
** bench/run.lua times floor.call3(a, b, c) over the very same argument
** arrays as db:check(user, right, record), so that the ratio of the two is
** what the engine adds on top of crossing the Lua/C boundary once.  The
** function looks at its arguments only as much as any binding must (their
** count) and returns a boolean, like a check that allows.
*/
#include <lua.h>
#include <lauxlib.h>

/* floor.call3(a, b, c) -> true */
static int l_call3(lua_State *L)
{
  lua_pushboolean(L, lua_gettop(L) == 3);
  return 1;
}

/*
** floor.fields(a, b, record) -> a boolean: the floor plus what every
** check of a record pays before deciding anything, reading its four
** fields (raw, by the interned names in the upvalues, as the binding
** does).  A record table of the bench's streams is cold, so this is
** mostly cache misses.
*/
static int l_fields(lua_State *L)
{
  int f, given = 0;
  if (!lua_istable(L, 3)) {         /* a query without a record: nil */
    lua_pushboolean(L, 0);
    return 1;
  }
  for (f = 1; f <= 4; f++) {
    lua_pushvalue(L, lua_upvalueindex(f));
    lua_rawget(L, 3);
    given += lua_type(L, -1) == LUA_TSTRING;
  }
  lua_pushboolean(L, given > 0);
  return 1;
}

/* floor.call6(a, b, c, d, e, f) -> true: the arguments of db:checker() */
static int l_call6(lua_State *L)
{
  lua_pushboolean(L, lua_gettop(L) == 6);
  return 1;
}

/* floor.call1(a) -> true: the same for one argument (the prepared path) */
static int l_call1(lua_State *L)
{
  lua_pushboolean(L, lua_gettop(L) == 1);
  return 1;
}

static const luaL_Reg floor_funcs[] = {
  { "call3", l_call3 },
  { "call1", l_call1 },
  { "call6", l_call6 },
  { NULL, NULL }
};

/*
** require "bench_floor" -> {call3 =, call1 =, call6 =, fields =}.
*/
int luaopen_bench_floor(lua_State *L);
int luaopen_bench_floor(lua_State *L)
{
  static const char *const names[] = { "tenant", "owner", "unit",
                                       "customer" };
  int f;
#if LUA_VERSION_NUM >= 502
  luaL_newlib(L, floor_funcs);
#else
  lua_newtable(L);
  luaL_register(L, NULL, floor_funcs);
#endif
  for (f = 0; f < 4; f++) lua_pushstring(L, names[f]);
  lua_pushcclosure(L, l_fields, 4);
  lua_setfield(L, -2, "fields");
  return 1;
}
