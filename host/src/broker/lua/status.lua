-- status.lua: where a task is and what is known about it (read-only).
-- KEYS[1] tasks HASH
-- KEYS[2] meta HASH
-- KEYS[3] active ZSET
-- KEYS[4] scheduled ZSET
-- KEYS[5] retry ZSET
-- KEYS[6] dead ZSET
-- KEYS[7] cancel SET
-- KEYS[8] lease HASH
-- KEYS[9] waiting ZSET (flow parents)
-- KEYS[10] flow HASH of this id (fl:<local id>; exists only for a flow parent)
-- KEYS[11..] result bucket HASHes, newest first
-- ARGV[1] local id
-- Returns {state, body header line or false, meta or false, score or false,
-- cancel requested 0/1, lease value or false} for live and dead tasks (a
-- waiting flow parent's body is in its flow hash, not in tasks, until it is
-- released), {'final', record header line} for completed and cancelled
-- ones, or {}.
local tasks, meta, active, scheduled, retry, dead =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local cancel, lease, waiting, flow = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local FIRST_BUCKET = 11

-- The header line of a body (false when it has none within 128 bytes).
local function head_of(body)
  if not body then return false end
  local nl = string.find(body, '\n', 1, true)
  if nl and nl <= 128 then return string.sub(body, 1, nl - 1) end
  return false
end

local id = ARGV[1]
local body = redis.call('HGET', tasks, id)
local m = redis.call('HGET', meta, id)
local head = head_of(body)
local flag = redis.call('SISMEMBER', cancel, id)
local states = { { active, 'active' }, { scheduled, 'scheduled' }, { retry, 'retry-wait' }, { dead, 'dead' } }
for _, st in ipairs(states) do
  local score = redis.call('ZSCORE', st[1], id)
  if score then
    return { st[2], head, m, score, flag, redis.call('HGET', lease, id) }
  end
end
if body then return { 'pending', head, m, false, flag, false } end
local since = redis.call('ZSCORE', waiting, id)
if since then
  return { 'waiting', head_of(redis.call('HGET', flow, 'body')), m, since, 0, false }
end
for i = FIRST_BUCKET, #KEYS do
  local rec = redis.call('HGET', KEYS[i], id)
  if rec then
    local nl = string.find(rec, '\n', 1, true)
    return { 'final', nl and string.sub(rec, 1, nl - 1) or rec }
  end
end
return {}
