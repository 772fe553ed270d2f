-- trim.lua: bounded housekeeping every host runs: drops dead tasks beyond
-- the age and count bounds and throughput buckets older than the retention.
-- KEYS[1] dead ZSET   KEYS[2] tasks HASH   KEYS[3] meta HASH   KEYS[4] throughput HASH
-- ARGV[1] dead max count   ARGV[2] dead max age ms   ARGV[3] bucket retention minutes
-- ARGV[4] limit (dead tasks and minutes per call)
-- Returns {dead tasks dropped, minutes trimmed}.
local limit = tonumber(ARGV[4])
local now = now_ms()
local dropped = trim_dead(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), now, limit)
local minutes = 0
local lo = tonumber(redis.call('HGET', KEYS[4], 'lo'))
if lo then
  local cutoff = math.floor(now / 60000) - tonumber(ARGV[3])
  local stop = math.min(cutoff, lo + limit)
  while lo < stop do
    redis.call('HDEL', KEYS[4], 'c:' .. int(lo), 'f:' .. int(lo))
    lo = lo + 1
    minutes = minutes + 1
  end
  if minutes > 0 then redis.call('HSET', KEYS[4], 'lo', int(lo)) end
end
return { dropped, minutes }
