-- cancel.lua: cancels a task. A scheduled, pending or retry-waiting task is
-- removed and becomes cancelled at once; an active one is flagged and its id
-- published so the host running it can interrupt it (the flag also turns its
-- next retry, release or lease expiry into a cancellation).
-- KEYS[1] tasks HASH   KEYS[2] meta HASH   KEYS[3..5] pending p0 p1 p2 LISTs
-- KEYS[6] scheduled ZSET   KEYS[7] retry ZSET   KEYS[8] active ZSET
-- KEYS[9] cancel SET   KEYS[10] stats HASH   KEYS[11] dead ZSET
-- KEYS[12] result bucket HASH   KEYS[13] result bucket index ZSET
-- ARGV[1] local id   ARGV[2] cancel channel   ARGV[3] full id
-- ARGV[4..7] result bucket: keep 0/1, number, width ms, TTL ms
-- Returns 'cancelled' | 'requested' | 'dead' | 'unknown' (finished, or no
-- such task: the caller tells them apart with a status lookup).
local id = ARGV[1]
if redis.call('ZSCORE', KEYS[8], id) then
  redis.call('SADD', KEYS[9], id)
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 'requested'
end
local removed = redis.call('ZREM', KEYS[6], id) + redis.call('ZREM', KEYS[7], id)
if removed == 0 then
  local level = header(redis.call('HGET', KEYS[1], id))
  if level then removed = redis.call('LREM', KEYS[3 + level], 1, id) end
end
if removed > 0 then
  finish_cancelled(bucket_args(4, 12), KEYS[1], KEYS[2], KEYS[10], id, now_ms())
  return 'cancelled'
end
if redis.call('ZSCORE', KEYS[11], id) then return 'dead' end
return 'unknown'
