--- The SQL baseline: docs/semantics.md section 3 as one prepared SQLite
-- query per check, the way an application without mandate's engine would
-- ask its database.  It reads the store's own tables plus two helper
-- tables that `setup` creates in the benchmark's copy of the store (never
-- in a cached world): `b_closure`, the org tree's closure (descendant,
-- ancestor, the ancestor's depth), and `b_values`, every value text a
-- right can hold split into rank and customer part.
--
-- The query takes string keys, like db:check, and returns the reason
-- ("allowed" or the denial) in the order of docs/semantics.md section 3.9.
--
-- @module sql_baseline
local prim = require "primitives"   -- the test-only path to raw SQL

local M = {}

local function exec(db, sql, ...)
  return prim.exec(db, sql, ...)
end

--- Create (again) the helper tables in db's store.
-- @tparam table levels the level names, top to bottom
function M.setup(db, levels)
  local n = #levels
  exec(db, "DROP TABLE IF EXISTS b_closure")
  exec(db, "DROP TABLE IF EXISTS b_values")
  exec(db, [[
CREATE TABLE b_closure (
  des INTEGER NOT NULL, anc INTEGER NOT NULL, anc_depth INTEGER NOT NULL,
  PRIMARY KEY (des, anc)) WITHOUT ROWID]])
  exec(db, [[
INSERT INTO b_closure (des, anc, anc_depth)
WITH RECURSIVE up(des, anc) AS (
  SELECT id, id FROM units
  UNION ALL
  SELECT up.des, u.parent_id FROM up JOIN units u ON u.id = up.anc
   WHERE u.parent_id IS NOT NULL)
SELECT up.des, up.anc, l.depth
  FROM up JOIN units a ON a.id = up.anc JOIN levels l ON l.name = a.level]])
  exec(db, "CREATE INDEX b_closure_anc ON b_closure (anc, des)")
  exec(db, [[
CREATE TABLE b_values (
  text TEXT PRIMARY KEY, code INTEGER NOT NULL) WITHOUT ROWID]])
  -- code = rank * 2 + customer part, so that MAX over bundles of rank and
  -- OR of the customer part fit in one scalar: MAX(rank)*2 + MAX(cust)
  local function value(text, rank, cust)
    exec(db, "INSERT INTO b_values (text, code) VALUES (?, ?)", text,
         rank * 2 + cust)
  end
  value("false", 0, 0)
  value("true", 1, 0)
  local bases = { { "none", 0 }, { "own", 1 }, { "all", n + 2 } }
  for i, level in ipairs(levels) do bases[#bases + 1] = { level, n - i + 2 } end
  for _, b in ipairs(bases) do
    value(b[1], b[2], 0)
    if b[1] == "none" then value("customer", 0, 1)
    else value(b[1] .. "+customer", b[2], 1) end
  end
  exec(db, "ANALYZE")
end

--- The query for a store with n levels.  Parameters: ?1 user, ?2 right,
-- ?3 tenant, ?4 owner, ?5 unit, ?6 customer (keys; NULL when absent).
function M.sql(n)
  return ([[
SELECT CASE
  WHEN rid IS NULL THEN 'unknown_right'
  WHEN uid IS NULL THEN 'unknown_user'
  WHEN active = 0 THEN 'inactive_user'
  WHEN ?3 IS NOT NULL AND tid IS NULL THEN 'unknown_tenant'
  WHEN ?3 IS NOT NULL AND acc = 'hidden' THEN 'tenant_hidden'
  WHEN ?3 IS NOT NULL AND acc = 'read' AND mode = 'write'
    THEN 'tenant_read_only'
  WHEN kind = 'flag' THEN CASE WHEN code >= 2 THEN 'allowed'
                               ELSE 'no_right' END
  WHEN code = 0 THEN 'no_right'
  WHEN ?4 IS NULL AND ?5 IS NULL AND ?6 IS NULL THEN 'allowed'
  WHEN code % 2 = 1 AND ?6 IS NOT NULL AND EXISTS (
         SELECT 1 FROM customers c
           JOIN account_managers am ON am.customer_id = c.id
          WHERE c.key = ?6 AND am.user_id = uid) THEN 'allowed'
  WHEN code >= 2 AND oid = uid THEN 'allowed'
  WHEN code / 2 = $ALL THEN 'allowed'
  WHEN code >= 4 AND uunit IS NOT NULL AND runit IS NOT NULL AND EXISTS (
         SELECT 1 FROM b_closure up
           JOIN b_closure down ON down.anc = up.anc AND down.des = runit
          WHERE up.des = uunit
            AND (up.anc_depth >= $N1 - code / 2 OR up.anc = uunit))
    THEN 'allowed'
  ELSE 'out_of_scope' END AS reason
FROM (
  SELECT q.*,
    COALESCE((SELECT v.code FROM overrides o
                JOIN b_values v ON v.text = o.value
               WHERE o.user_id = q.uid AND o.right_id = q.rid),
             (SELECT MAX(v.code / 2) * 2 + MAX(v.code % 2)
                FROM user_bundles ub
                JOIN bundle_rights br ON br.bundle_id = ub.bundle_id
                JOIN b_values v ON v.text = br.value
               WHERE ub.user_id = q.uid AND br.right_id = q.rid),
             0) AS code,
    COALESCE((SELECT a.access FROM access a
               WHERE a.user_id = q.uid AND a.tenant_id = q.tid),
             q.tdefault) AS acc
  FROM (
    SELECT u.id AS uid, u.unit_id AS uunit, u.active AS active,
           r.id AS rid, r.kind AS kind, r.mode AS mode,
           t.id AS tid, t.default_access AS tdefault, o.id AS oid,
           CASE WHEN ?5 IS NOT NULL THEN un.id ELSE o.unit_id END AS runit
      FROM (SELECT 1)
      LEFT JOIN users u ON u.key = ?1
      LEFT JOIN rights r ON r.key = ?2
      LEFT JOIN tenants t ON t.key = ?3
      LEFT JOIN users o ON o.key = ?4
      LEFT JOIN units un ON un.key = ?5) AS q)]])
    :gsub("%$ALL", tostring(n + 2)):gsub("%$N1", tostring(n + 1))
end

--- A checker over db with the same results as db:check.
-- @treturn function `check(user, right, record) -> true | false, reason`
function M.checker(db, nlevels)
  local sql = M.sql(nlevels)
  local row = prim.row
  return function(user, right, rec)
    local r
    if rec then
      r = row(db, sql, user, right, rec.tenant, rec.owner, rec.unit,
              rec.customer).reason
    else
      r = row(db, sql, user, right).reason
    end
    if r == "allowed" then return true end
    if r == "unknown_right" then
      error("unknown right '" .. tostring(right) .. "'", 2)
    end
    return false, r
  end
end

return M
