-- mandate behind nginx: one store per worker, opened in init_worker, and
-- two handlers.  See examples/openresty/nginx.conf and README.
--   GET /check?user=&right=&tenant=&owner=&unit=&customer=
--       200 "allowed" | 403 "denied: REASON" | 400 bad request | 503 store failure
--   GET /explain?... (same arguments): 200 and the explanation's text
--
-- The store is opened {create = false} (a mistyped path is a failure, not
-- a new empty store that answers "unknown right").  Each worker logs its
-- denials (db:log_decisions) and flushes them from a timer every few
-- seconds (ngx.timer.every), and once more when it exits; the store is
-- then opened writable, for the log alone.  Without the log (flush
-- interval 0) the workers only read: the store is opened {readonly =
-- true}, and every writer would return the store's error.
-- When the store cannot be opened, or fails later, every request is
-- answered 503 from the first one on; the worker logs each failure once
-- (until the store answers again) and tries to open it again at most once
-- per refresh interval.
local mandate = require "mandate"

local M = {}
local db                                -- the worker's store, once open
local path, refresh, flush_every = nil, 1, 0
local failure                           -- {code =, message =} while none
local last_attempt = -math.huge         -- ngx.now() of the last open
local logged                            -- the failure logged last

-- Log a store failure once: not again until the store has answered.
local function note(code, message)
  local text = ("mandate: store %s: %s (%s)"):format(path, message, code)
  if text ~= logged then
    ngx.log(ngx.ERR, text)
    logged = text
  end
end

local function open()
  last_attempt = ngx.now()
  local d, message, code = mandate.open(path, { readonly = flush_every <= 0,
                                                create = false })
  if not d then
    failure = { code = code or "error", message = message }
    return note(failure.code, message)
  end
  d:set_refresh_interval(refresh)
  if flush_every > 0 then d:log_decisions {} end
  db, failure, logged = d, nil, nil
end

-- The timer: write the worker's logged decisions; on the worker's exit
-- (premature), close the store, which flushes too.
local function flush(premature)
  if not db then return end
  local ok, message, code = db:flush_log()
  if ok == nil then note(code, message) end
  if premature then db:close() end
end

--- Open the store for this worker.  Other processes' commits (an admin
-- script, another worker's writes) are seen within refresh seconds.  With
-- flush > 0 the worker logs its denials and writes them every flush
-- seconds, where nginx has ngx.timer.every (lua-nginx-module 0.10.9 on).
function M.init(store, seconds, flush_seconds)
  path, refresh = store, seconds or 1
  flush_every = ngx.timer and ngx.timer.every and flush_seconds or 0
  open()
  if flush_every > 0 then ngx.timer.every(flush_every, flush) end
end

local function unavailable(code, message)
  note(code, message)
  ngx.status = ngx.HTTP_SERVICE_UNAVAILABLE
  ngx.say("store failure (", code, "): ", message)
end

-- The store, or nil after answering 503.
local function store()
  if not db and ngx.now() - last_attempt >= refresh then open() end
  if db then return db end
  unavailable(failure.code, failure.message)
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
  local s = store()
  if not s then return end
  -- an unknown right raises: a bug in the caller, answered 400, never allowed
  local ok, allowed, reason, code = pcall(s.check, s, user, right, record)
  if not ok then return bad_request(tostring(allowed)) end
  if allowed == nil then return unavailable(code, reason) end
  logged = nil
  if allowed then return ngx.say("allowed") end
  ngx.status = ngx.HTTP_FORBIDDEN
  ngx.say("denied: ", reason)
end

--- content_by_lua handler: why, in words, with the smallest fix.
function M.explain()
  local user, right, record = request()
  if not (user and right) then return bad_request("user and right are required") end
  local s = store()
  if not s then return end
  local ok, e, message, code = pcall(s.explain, s, user, right, record)
  if not ok then return bad_request(tostring(e)) end
  if e == nil then return unavailable(code, message) end
  logged = nil
  ngx.say(e.text)
end

return M
