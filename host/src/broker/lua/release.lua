-- release.lua: gives leased tasks back unrun (graceful shutdown): each goes
-- to the front of its priority list and its attempt is not counted (meta,
-- which holds the attempts of earlier runs, is left as it was).
-- KEYS[1] active ZSET: leased ids by lease deadline
-- KEYS[2] lease HASH: id -> lease value
-- KEYS[3] meta HASH: id -> meta of earlier attempts
-- KEYS[4] tasks HASH: id -> task body
-- KEYS[5] pending p0 LIST: high priority ids
-- KEYS[6] pending p1 LIST: normal priority ids
-- KEYS[7] pending p2 LIST: low priority ids
-- KEYS[8] wake LIST: wake-up tokens for blocked consumers
-- KEYS[9] cancel SET: ids whose cancellation was requested
-- KEYS[10] stats HASH: the queue's counters
-- KEYS[11] result bucket HASH: where final records of cancelled tasks go
-- KEYS[12] result bucket index ZSET: the queue's result buckets
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] keep: 1 when final records are kept, 0 when not
-- ARGV[3] bucket number: the result bucket's number
-- ARGV[4] bucket width: ms
-- ARGV[5] result TTL: ms
-- ARGV[6] n: the number of tasks
-- ARGV[7..] tasks: 2 per task: id, lease token
-- Returns n integers: 1 released, 0 stale lease, 2 cancelled (cancellation
-- had been requested).
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local p0, p1, p2, wakeup, cancel = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local stats, bucket, bucket_index = KEYS[10], KEYS[11], KEYS[12]
local pending = { p0, p1, p2 }
local rb = bucket_args(2, bucket, bucket_index)
local n = tonumber(ARGV[6])

local now = now_ms()
local out = {}
local released = 0
-- Walk backwards so that LPUSH leaves the batch in its original order.
for i = n, 1, -1 do
  local id, token = ARGV[5 + i * 2], ARGV[6 + i * 2]
  local a, s = lease_of(redis.call('HGET', lease, id), token)
  if not a then
    out[i] = 0
  else
    redis.call('ZREM', active, id)
    redis.call('HDEL', lease, id)
    if redis.call('SREM', cancel, id) == 1 then
      finish_cancelled(rb, tasks, meta, stats, id, now, a - 1, s)
      out[i] = 2
    else
      local level = header(redis.call('HGET', tasks, id)) or 1
      redis.call('LPUSH', pending[level + 1], id)
      released = released + 1
      out[i] = 1
    end
  end
end
if released > 0 then wake(wakeup, ARGV[1]) end
return out
