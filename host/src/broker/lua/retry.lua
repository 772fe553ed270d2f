-- retry.lua: a leased task failed with a retryable error.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5] retry ZSET    KEYS[6] dead ZSET    KEYS[7..9] pending p0 p1 p2 LISTs
-- KEYS[10] wake LIST    KEYS[11] cancel SET  KEYS[12] stats HASH
-- KEYS[13] throughput HASH   KEYS[14] garbage LIST
-- KEYS[15] result bucket HASH   KEYS[16] result bucket index ZSET
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] delay ms   ARGV[4] plugin version
-- ARGV[5] error message   ARGV[6] dead max count   ARGV[7] dead max age ms
-- ARGV[8..11] result bucket: keep 0/1, number, width ms, TTL ms
-- Returns {'stale'} | {'retry', due ms} | {'requeued'} | {'dead'} | {'cancelled'}.
-- A task whose attempts are used up goes to the dead set instead; one whose
-- cancellation was requested while it ran becomes cancelled.
local id = ARGV[1]
local a, s = lease_of(redis.call('HGET', KEYS[2], id), ARGV[2])
if not a then return { 'stale' } end
local now = now_ms()
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
count(KEYS[12], KEYS[13], 'failed', 1, now)
if redis.call('SREM', KEYS[11], id) == 1 then
  finish_cancelled(bucket_args(8, 15), KEYS[4], KEYS[3], KEYS[12], id, now, a, s)
  return { 'cancelled' }
end
local body = redis.call('HGET', KEYS[4], id)
local level, max_retries = header(body)
if not level then
  set_aside(KEYS[14], KEYS[6], KEYS[3], KEYS[12], id, now, 'the stored body has no valid header')
  return { 'dead' }
end
if a >= max_retries + 1 then
  bury(KEYS[6], KEYS[3], KEYS[12], id, now, a, s, ARGV[4], 'retries-exhausted', ARGV[5])
  trim_dead(KEYS[6], KEYS[4], KEYS[3], tonumber(ARGV[6]), tonumber(ARGV[7]), now, 100)
  return { 'dead' }
end
redis.call('HSET', KEYS[3], id, meta_join(a, s, '', ARGV[4], '', ARGV[5]))
redis.call('HINCRBY', KEYS[12], 'retried', 1)
local delay = tonumber(ARGV[3])
if delay <= 0 then
  redis.call('RPUSH', KEYS[7 + level], id)
  wake(KEYS[10])
  return { 'requeued' }
end
local due = now + delay
redis.call('ZADD', KEYS[5], due, id)
return { 'retry', due }
