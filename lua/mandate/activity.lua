--- The cross-tenant activity view: the decision log and `db:activity`.
--
-- The decision log is off until `db:log_decisions` turns it on.  Then
-- the checks of this handle record denials always and allowed decisions
-- at a sample rate into a ring buffer in C (src/store/decisions.c),
-- allocating nothing on the check path; `db:flush_log` writes it to the
-- store's table of decisions (never the audit), and so does `db:close`
-- (and the collector, through it).  `db:activity` reads the audit's
-- changes and the logged decisions of every tenant as one trail in time
-- order, in pages.
--
-- Which calls log (src/lua/llog.c): `db:check`, prepared checks
-- (`db:prepare`), `db:allowed` (each record, as `check` would decide it),
-- `db:check_ids` and `db:checker()` (on LuaJIT through the FFI too): every
-- call whose answer an application acts on.  `db:explain`, `db:access`,
-- `db:effective` and the list views do not: they are diagnoses and views,
-- not accesses.
-- @module mandate.activity

local I = require("mandate.core").internal   -- the primitives, captured at load
local json = require "mandate.json"
local read = require "mandate.read"
local V = require "mandate.validate"

local M = {}      -- the public methods, installed into mandate.Db

local unpack = table.unpack or unpack
local show = V.show

-- Raise a usage error with this whole message (see V.method).
local function usage(message)
  error(setmetatable({ message = message }, V.Usage), 0)
end

-- The decision log {{{

local LOG_OPTIONS = { "sample", "max_rows", "buffer", "seed" }
local MAX_BUFFER = 1048576           -- 128 MB of slots
local DEFAULT_MAX_ROWS = 1000000
local DEFAULT_BUFFER = 8192

-- An integer option from lo to hi, or its default when nil.
local function integer_option(fn, name, v, lo, hi, what, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v % 1 ~= 0 or v < lo or v > hi then
    V.fail(fn, "options." .. name, "expected %s (an integer from %d to %s), "
           .. "got %s", what, lo, hi == V.MAX_COUNT and "2^53" or hi, show(v))
  end
  return v
end

--- Turn the decision log on, change it, or turn it off.
--
-- While it is on, every check of this handle that an application acts on
-- (`check`, prepared checks, `allowed`, `check_ids`, `checker`) records
-- its denials, and allowed decisions at the rate `sample`, with the user,
-- the right, the record's keys, the reason and the time (UTC, in
-- milliseconds), into a buffer of `buffer` decisions; `db:flush_log`
-- writes the buffer to the store, `db:close` too.  A full buffer loses
-- its oldest decision (`flush_log` counts them).  Keys are logged as the
-- check saw them; one that named nothing is logged as given (a
-- decision's unknown keys share 64 bytes: a longer one is cut and ends in
-- "..."), or as nil when it came as an id.  Calling it again
-- changes the options (a smaller buffer keeps its newest decisions);
-- `false` stops logging, and what the buffer holds is still flushed.
-- @function log_decisions
-- @tparam[opt] table|false options `false` turns the log off
-- @tparam[opt=0] number options.sample the share of allowed decisions
-- logged, from 0 (denials only) to 1 (every decision)
-- @tparam[opt=1000000] number options.max_rows the most rows the store
-- keeps: each flush removes the oldest beyond it
-- @tparam[opt=8192] number options.buffer decisions held between
-- flushes (1 to 1048576; 128 bytes each)
-- @tparam[opt] number options.seed the sampling's seed (an integer), for
-- repeatable runs
-- @treturn boolean true; raises for a store opened read-only, whose log
-- could never be written
M.log_decisions = V.method("log_decisions", function(db, opts)
  local fn = "log_decisions"
  if opts == false then
    I.log_off(db)
    return true
  end
  if opts ~= nil and type(opts) ~= "table" then
    V.fail(fn, "options", "expected a table {%s=} or false (off), got %s",
           table.concat(LOG_OPTIONS, "=, "), show(opts))
  end
  opts = V.options(fn, opts, LOG_OPTIONS)
  local sample = opts.sample or 0
  if type(sample) ~= "number" or not (sample >= 0 and sample <= 1) then
    V.fail(fn, "options.sample", "expected the share of allowed decisions "
           .. "to log (a number from 0 to 1), got %s", show(sample))
  end
  local max_rows = integer_option(fn, "max_rows", opts.max_rows, 1,
                                  V.MAX_COUNT, "the most rows to keep",
                                  DEFAULT_MAX_ROWS)
  local buffer = integer_option(fn, "buffer", opts.buffer, 1, MAX_BUFFER,
                                "the decisions held between flushes",
                                DEFAULT_BUFFER)
  local seed = integer_option(fn, "seed", opts.seed, 1, V.MAX_COUNT,
                              "a seed", nil)
  if not I.log_on(db, sample, max_rows, buffer, seed) then
    usage("log_decisions: the store is open read-only, so its decision log "
          .. "could never be written (open it without readonly = true)")
  end
  return true
end)

--- Write the logged decisions to the store, in a transaction of its own
-- (no revision, no audit row), and keep the store's newest `max_rows`.
-- Call it from a timer (in nginx: `ngx.timer.every`, see
-- examples/openresty/app.lua) or after a batch; `db:close` calls it.
-- Each flush is a commit: other processes on the store see their
-- `PRAGMA data_version` move and build their snapshot again at their
-- next poll.
-- @function flush_log
-- @treturn number the decisions written
-- @treturn number the decisions lost since the last flush (a full
-- buffer lost its oldest)
-- @treturn[2] nil
-- @treturn[2] string message ("busy": another coroutine's change set is
-- open; the buffer is kept)
-- @treturn[2] string code
M.flush_log = V.method("flush_log", function(db)
  local where = I.owner(db)
  if where ~= "none" then require("mandate.change").may_read(db, "flush_log", where) end
  if I.in_transaction(db) then
    usage("flush_log: called inside a transaction: the log is written in "
          .. "a transaction of its own (flush once it has ended)")
  end
  local written, lost, code = I.flush_log(db)
  if written == nil then return nil, lost, code end
  return written, lost
end)
-- }}}

-- The activity {{{

local ACTIVITY_OPTIONS = { "since", "before", "user", "tenant", "actor",
                           "limit", "after" }
local KINDS = { change = 0, decision = 1 }
local KIND_NAMES = { [0] = "change", [1] = "decision" }

-- A bound: a time, parsed as db:audit parses its bounds; a revision
-- number bounds only the audit.
local function time_bound(fn, name, v)
  local revision, time = read.bound(fn, "options." .. name, v)
  if revision then
    V.fail(fn, "options." .. name, "expected a time (ISO 8601, or '@' and "
           .. "a Unix time), got %s: decisions have no revision (db:audit "
           .. "takes revisions)", show(v))
  end
  return time
end

local CURSOR = "^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ)/(%l+)/(%d+)$"

-- The cursor of a row: where the next page starts after it.
local function cursor_of(row)
  return row.time .. "/" .. KIND_NAMES[row.k] .. "/" .. row.id
end

local function parse_cursor(fn, v)
  local time, kind, id
  if type(v) == "string" then time, kind, id = v:match(CURSOR) end
  if not (time and KINDS[kind]) then
    V.fail(fn, "options.after", "expected a cursor (the `next` of the "
           .. "previous page), got %s", show(v))
  end
  return time, KINDS[kind], tonumber(id)
end

local ACTOR = "CASE WHEN a.time IS NULL THEN r.actor ELSE a.actor END"

-- The query of one page: every filter given, on the changes and on the
-- decisions, then the bounds and the cursor on both, in time order.
local function activity_query(o)
  local changes, decisions, outer = { conds = {}, args = {} },
    { conds = {}, args = {} }, { conds = {}, args = {} }
  local function add(where, cond, ...)
    where.conds[#where.conds + 1] = cond
    for _, v in ipairs({ ... }) do where.args[#where.args + 1] = v end
  end
  if o.user then
    add(changes, "a.subject = ?", "user:" .. o.user)
    add(decisions, "user_key = ?", o.user)
  end
  if o.tenant then
    add(changes, "(a.subject = ? OR json_extract(a.before, '$.tenant') = ?"
        .. " OR json_extract(a.after, '$.tenant') = ?)",
        "tenant:" .. o.tenant, o.tenant, o.tenant)
    add(decisions, "tenant_key = ?", o.tenant)
  end
  if o.actor then
    add(changes, ACTOR .. " = ?", o.actor)
    add(decisions, "user_key = ?", o.actor)
  end
  if o.since then add(outer, "time >= ?", o.since) end
  if o.before then add(outer, "time < ?", o.before) end
  if o.after then
    local t, k, id = unpack(o.after)
    add(outer, "(time > ? OR (time = ? AND (k > ? OR (k = ? AND id > ?))))",
        t, t, k, k, id)
  end
  local function where(w)
    return #w.conds > 0 and " WHERE " .. table.concat(w.conds, " AND ") or ""
  end
  local args = {}
  for _, w in ipairs({ changes, decisions, outer }) do
    for _, v in ipairs(w.args) do args[#args + 1] = v end
  end
  args[#args + 1] = o.limit and o.limit + 1 or -1
  return "SELECT * FROM (SELECT 0 AS k, a.id, coalesce(a.time, r.time) AS time,"
    .. " " .. ACTOR .. " AS actor, a.revision, a.op, a.subject, a.before,"
    .. " a.after, NULL AS user_key, NULL AS right_key, NULL AS tenant_key,"
    .. " NULL AS owner_key, NULL AS unit_key, NULL AS customer_key,"
    .. " NULL AS reason"
    .. " FROM audit a LEFT JOIN revisions r ON r.revision = a.revision"
    .. where(changes)
    .. " UNION ALL SELECT 1, id, time, NULL, NULL, NULL, NULL, NULL, NULL,"
    .. " user_key, right_key, tenant_key, owner_key, unit_key, customer_key,"
    .. " reason FROM decisions" .. where(decisions) .. ")"
    .. where(outer) .. " ORDER BY time, k, id LIMIT ?", args
end

-- A row of the query as activity returns it.
local function entry(row)
  if row.k == 0 then
    return { kind = "change", id = row.id, time = row.time,
             revision = row.revision, actor = row.actor, op = row.op,
             subject = row.subject,
             before = row.before and json.decode(row.before) or nil,
             after = row.after and json.decode(row.after) or nil }
  end
  return { kind = "decision", id = row.id, time = row.time,
           user = row.user_key, right = row.right_key,
           tenant = row.tenant_key, owner = row.owner_key,
           unit = row.unit_key, customer = row.customer_key,
           allowed = row.reason == nil, reason = row.reason }
end

--- The activity of every tenant: the audit's changes and the logged
-- decisions (those flushed by `db:flush_log`) as one trail in time order
-- (changes before decisions of the same millisecond, then by id), in
-- pages.  Filters keep the rows that match each one given:
--
-- - `user`: changes of that user (subject "user:KEY": the user, their
--   access, overrides and customers) and decisions about that user;
-- - `tenant`: changes of that tenant (subject "tenant:KEY") or naming it
--   (before or after has `tenant = KEY`: access rows, contacts, roles,
--   lists) and decisions on its records;
-- - `actor`: changes made by that actor (`db:set_actor`) and decisions
--   about that user (a user's checks are their own actions).
--
-- `since` and `before` are times as `db:audit` takes them (ISO 8601, or
-- '@' and a Unix time): at or after `since`, strictly before `before`
-- (`until` is a word of Lua).  To page, pass the previous result's `next`
-- as `after`: a page starts after that row in the order above, so a page
-- never repeats a row, and rows written since (decisions flushed later
-- with an older time) are seen by a new query, not by the next page.
-- @function activity
-- @tparam[opt] table options
-- @tparam[opt] string options.since a time: rows at or after it
-- @tparam[opt] string options.before a time: rows strictly before it
-- @tparam[opt] string options.user a user's key
-- @tparam[opt] string options.tenant a tenant's key
-- @tparam[opt] string options.actor an actor's name
-- @tparam[opt] number options.limit the page size (an integer >= 1; nil
-- for every row)
-- @tparam[opt] string options.after the `next` of the previous page
-- @treturn table `{rows = {...}, next = cursor or nil}`; a change is
-- `{kind = "change", id =, time =, revision =, actor =, op =, subject =,
-- before =, after =}` as in `db:audit`, a decision `{kind = "decision",
-- id =, time =, user =, right =, tenant =, owner =, unit =, customer =,
-- allowed =, reason =}` (record fields absent when not given; `reason`
-- only for a denial); `next` is set when more rows follow the page
-- @treturn[2] nil
-- @treturn[2] string message
-- @treturn[2] string code
M.activity = read.reader("activity", function(db, opts)
  local fn = "activity"
  if type(opts) == "table" and opts["until"] ~= nil then
    V.fail(fn, "options.until", "write before = (until is a word of Lua; "
           .. "before keeps rows strictly before it, as in db:audit)")
  end
  opts = V.options(fn, opts, ACTIVITY_OPTIONS)
  local o = { since = time_bound(fn, "since", opts.since),
              before = time_bound(fn, "before", opts.before),
              limit = V.page_size(fn, "options.limit", opts.limit,
                                  "every row") }
  for _, name in ipairs({ "user", "tenant", "actor" }) do
    if opts[name] ~= nil then o[name] = V.key(fn, "options." .. name, opts[name]) end
  end
  if opts.after ~= nil then o.after = { parse_cursor(fn, opts.after) } end
  local sql, args = activity_query(o)
  local rows = I.rows(db, sql, unpack(args, 1, #args))
  local page, n, nxt = {}, #rows, nil
  if o.limit and n > o.limit then
    n = o.limit
    nxt = cursor_of(rows[n])
  end
  for i = 1, n do page[i] = entry(rows[i]) end
  return { rows = page, next = nxt }
end)
-- }}}

return { methods = M }
