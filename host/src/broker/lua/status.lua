-- status.lua: where a task is and what is known about it (read-only).
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] meta HASH: id -> meta
-- KEYS[3] active ZSET: leased ids by lease deadline
-- KEYS[4] scheduled ZSET: delayed ids by due time
-- KEYS[5] retry ZSET: retry-waiting ids by due time
-- KEYS[6] dead ZSET: dead ids by time of death
-- KEYS[7] cancel SET: ids whose cancellation was requested
-- KEYS[8] lease HASH: id -> lease value
-- KEYS[9] waiting ZSET: flow parents waiting on dependencies
-- KEYS[10] flow HASH: this id's flow hash (fl:<local id>; only a flow parent has one)
-- KEYS[11..] result bucket HASHes: the queue's buckets, newest first
-- ARGV[1] id: the local id
-- Returns {state, body header line or false, meta or false, score or false,
-- cancel requested 0/1, lease value or false} for live and dead tasks (a
-- waiting flow parent's body is in its flow hash, not in tasks, until it is
-- released), {'final', record header line} for completed and cancelled
-- ones, or {}.
local tasks, meta, active, scheduled, retry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local dead, cancel, lease, waiting, flow = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local buckets = tail(KEYS, 11)
local id = ARGV[1]

-- Live states first (a task is in at most one), then a waiting flow
-- parent, then the final records, newest bucket first.
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
for _, bucket in ipairs(buckets) do
  local rec = redis.call('HGET', bucket, id)
  if rec then
    local nl = string.find(rec, '\n', 1, true)
    return { 'final', nl and string.sub(rec, 1, nl - 1) or rec }
  end
end
return {}
