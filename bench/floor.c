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

/* floor.call1(a) -> true: the same for one argument (the prepared path) */
static int l_call1(lua_State *L)
{
  lua_pushboolean(L, lua_gettop(L) == 1);
  return 1;
}

static const luaL_Reg floor_funcs[] = {
  { "call3", l_call3 },
  { "call1", l_call1 },
  { NULL, NULL }
};

/*
** require "bench_floor" -> {call3 =, call1 =}.
*/
int luaopen_bench_floor(lua_State *L);
int luaopen_bench_floor(lua_State *L)
{
#if LUA_VERSION_NUM >= 502
  luaL_newlib(L, floor_funcs);
#else
  lua_newtable(L);
  luaL_register(L, NULL, floor_funcs);
#endif
  return 1;
}
