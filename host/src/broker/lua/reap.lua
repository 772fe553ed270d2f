-- reap.lua: takes back tasks whose lease expired (their host died or hung).
-- Each goes back to the front of its priority list with the attempt counted,
-- or to the dead set when that was its last attempt, or becomes cancelled if
-- cancellation was requested. Reading the expired leases and moving them
-- happen in one script, so racing reapers on many hosts are harmless.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5..7] pending p0 p1 p2 LISTs   KEYS[8] dead ZSET   KEYS[9] cancel SET
-- KEYS[10] wake LIST   KEYS[11] stats HASH   KEYS[12] throughput HASH
-- KEYS[13] garbage LIST   KEYS[14] result bucket HASH   KEYS[15] result bucket index ZSET
-- ARGV[1] limit   ARGV[2] dead max count   ARGV[3] dead max age ms
-- ARGV[4..7] result bucket: keep 0/1, number, width ms, TTL ms
-- Returns {requeued, dead, cancelled}.
local rb = bucket_args(4, 14)
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local requeued, buried, cancelled = 0, 0, 0
for _, id in ipairs(ids) do
  local a, s = lease_of(redis.call('HGET', KEYS[2], id))
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HINCRBY', KEYS[11], 'expired', 1)
  count(KEYS[11], KEYS[12], 'failed', 1, now)
  local _, _, _, v = meta_parse(redis.call('HGET', KEYS[3], id))
  if not a then
    -- An active member without a lease value: count it as one more attempt.
    a, s = meta_parse(redis.call('HGET', KEYS[3], id)) + 1, ''
  end
  if redis.call('SREM', KEYS[9], id) == 1 then
    finish_cancelled(rb, KEYS[4], KEYS[3], KEYS[11], id, now, a, s)
    cancelled = cancelled + 1
  else
    local level, max_retries = header(redis.call('HGET', KEYS[4], id))
    if not level then
      set_aside(KEYS[13], KEYS[8], KEYS[3], KEYS[11], id, now, 'the stored body has no valid header')
      buried = buried + 1
    elseif a >= max_retries + 1 then
      bury(KEYS[8], KEYS[3], KEYS[11], id, now, a, s, v, 'lease-expired',
        'the lease expired on the last attempt (' .. int(a) .. '): its host died, hung or lost Redis')
      buried = buried + 1
    else
      redis.call('HSET', KEYS[3], id, meta_join(a, s, '', v, '',
        'the lease expired on attempt ' .. int(a) .. ': its host died, hung or lost Redis'))
      redis.call('LPUSH', KEYS[4 + level], id)
      requeued = requeued + 1
    end
  end
end
if requeued > 0 then wake(KEYS[10]) end
if buried > 0 then
  trim_dead(KEYS[8], KEYS[4], KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]), now, 100)
end
return { requeued, buried, cancelled }
