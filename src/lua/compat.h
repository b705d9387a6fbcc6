/*
** compat.h -- the few differences between Lua 5.1/LuaJIT, 5.3 and 5.4 that
** the binding meets.  Everything else is written against 5.4.
*/
#ifndef MDT_COMPAT_H
#define MDT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if !defined(LUA_VERSION_NUM) || (LUA_VERSION_NUM != 501 && \
    LUA_VERSION_NUM != 503 && LUA_VERSION_NUM != 504)
#error "mandate needs Lua 5.1 (or LuaJIT), 5.3 or 5.4"
#endif

#if LUA_VERSION_NUM == 501

#ifndef LUA_OK
#define LUA_OK 0
#endif
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))

#ifndef luaL_newlib                 /* LuaJIT 2.1 has these two */
static void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))
#endif

/* 5.1 has only doubles: an integral double within 2^53 is an integer */
static int lua_isinteger(lua_State *L, int i)
{
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, i);
    return n == (lua_Number)(long long)n && n > -9007199254740992.0 &&
           n < 9007199254740992.0;
  }
  return 0;
}

/*
** 5.1's luaL_checkinteger truncates 1.5 to 1: an id that names nothing
** would name something.  Refuse what 5.3 and 5.4 refuse.
*/
static lua_Integer mdt_checkinteger(lua_State *L, int i)
{
  lua_Number n = luaL_checknumber(L, i);
  if (!(n > -9007199254740992.0 && n < 9007199254740992.0) ||
      n != (lua_Number)(lua_Integer)n)
    luaL_argerror(L, i, "number has no integer representation");
  return (lua_Integer)n;
}
#define luaL_checkinteger(L, i) mdt_checkinteger((L), (i))

#elif LUA_VERSION_NUM == 503

#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))

#endif

#endif
