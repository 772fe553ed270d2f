-- reap.lua: takes back tasks whose lease expired (their host died or hung).
-- Each goes back to the front of its priority list with the attempt counted,
-- or to the dead set when that was its last attempt, or becomes cancelled if
-- cancellation was requested. Ids whose lease was acked or extended since
-- expired.lua listed them are skipped, so racing reapers are harmless.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5..7] pending p0 p1 p2 LISTs   KEYS[8] dead ZSET   KEYS[9] cancel SET
-- KEYS[10] wake LIST   KEYS[11] stats HASH   KEYS[12] throughput HASH
-- KEYS[13] garbage LIST   KEYS[14..] final-record STRINGs r:<id>, one per id
-- ARGV[1] record TTL ms   ARGV[2] dead max count   ARGV[3] dead max age ms
-- ARGV[4] n   ARGV[5..] ids
-- Returns {requeued, dead, cancelled}.
local ttl = tonumber(ARGV[1])
local n = tonumber(ARGV[4])
local now = now_ms()
local requeued, buried, cancelled = 0, 0, 0
for i = 1, n do
  local id = ARGV[4 + i]
  local deadline = redis.call('ZSCORE', KEYS[1], id)
  if deadline and tonumber(deadline) <= now then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HINCRBY', KEYS[11], 'expired', 1)
    count(KEYS[11], KEYS[12], 'failed', 1, now)
    if redis.call('SREM', KEYS[9], id) == 1 then
      finish_cancelled(KEYS[13 + i], ttl, KEYS[4], KEYS[3], KEYS[11], id, now)
      cancelled = cancelled + 1
    else
      local level, max_retries = header(redis.call('HGET', KEYS[4], id))
      local a, s, f, v = meta_parse(redis.call('HGET', KEYS[3], id))
      if not level then
        set_aside(KEYS[13], KEYS[8], KEYS[3], KEYS[11], id, now, 'the stored body has no valid header')
        buried = buried + 1
      elseif a >= max_retries + 1 then
        bury(KEYS[8], KEYS[3], KEYS[11], id, now, a, s, v, 'lease-expired',
          'the lease expired on the last attempt (' .. int(a) .. '): its host died, hung or lost Redis')
        buried = buried + 1
      else
        redis.call('HSET', KEYS[3], id, meta_join(a, s, f, v, '',
          'the lease expired on attempt ' .. int(a) .. ': its host died, hung or lost Redis'))
        redis.call('LPUSH', KEYS[4 + level], id)
        requeued = requeued + 1
      end
    end
  end
end
if requeued > 0 then wake(KEYS[10]) end
if buried > 0 then
  trim_dead(KEYS[8], KEYS[4], KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]), now, 100)
end
return { requeued, buried, cancelled }
