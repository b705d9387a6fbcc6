-- mandate behind nginx: one store per worker, opened in init_worker, and
-- two handlers.  See examples/openresty/nginx.conf and README.
--   GET /check?user=&right=&tenant=&owner=&unit=&customer=
--       200 "allowed" | 403 "denied: REASON" | 400 bad request | 503 store failure
--   GET /explain?... (same arguments): 200 and the explanation's text
local mandate = require "mandate"

local M = {}
local db

--- Open the store for this worker.  Other processes' commits (an admin
-- script, another worker's writes) are seen within refresh seconds.
function M.init(path, refresh)
  db = assert(mandate.open(path))
  db:set_refresh_interval(refresh or 1)
end

local function request()
  local a = ngx.req.get_uri_args()
  local function arg(name)
    local v = a[name]
    if type(v) == "table" then v = v[1] end   -- ?x=1&x=2: the first
    if v == true or v == "" then return nil end
    return v
  end
  local record = { tenant = arg("tenant"), owner = arg("owner"), unit = arg("unit"),
                   customer = arg("customer") }
  if not next(record) then record = nil end
  return arg("user"), arg("right"), record
end

local function bad_request(message)
  ngx.status = ngx.HTTP_BAD_REQUEST
  ngx.say(message)
end

--- content_by_lua handler: the decision as a status code.
function M.check()
  local user, right, record = request()
  if not (user and right) then return bad_request("user and right are required") end
  -- an unknown right raises: a bug in the caller, answered 400, never allowed
  local ok, allowed, reason, code = pcall(db.check, db, user, right, record)
  if not ok then return bad_request(tostring(allowed)) end
  if allowed == nil then
    ngx.status = ngx.HTTP_SERVICE_UNAVAILABLE
    return ngx.say("store failure (", code, "): ", reason)
  end
  if allowed then return ngx.say("allowed") end
  ngx.status = ngx.HTTP_FORBIDDEN
  ngx.say("denied: ", reason)
end

--- content_by_lua handler: why, in words, with the smallest fix.
function M.explain()
  local user, right, record = request()
  if not (user and right) then return bad_request("user and right are required") end
  local ok, e = pcall(db.explain, db, user, right, record)
  if not ok then return bad_request(tostring(e)) end
  ngx.say(e.text)
end

return M
