-- trim_results.lua: deletes result buckets whose every record is older than
-- the result TTL, by Redis's clock. The client lists the candidates (the
-- index's oldest entries) beforehand; this script re-checks each against
-- TIME, so a bucket written to meanwhile is kept.
-- KEYS[1] result bucket index ZSET: the queue's result buckets
-- KEYS[2..] candidate result bucket HASHes: one per bucket number below
-- ARGV[1] horizon: bucket width + result TTL, ms
-- ARGV[2..] numbers: the candidates' bucket numbers
-- Returns the number of buckets deleted.
local index = KEYS[1]
local candidates = tail(KEYS, 2)

local cutoff = now_ms() - tonumber(ARGV[1])
local deleted = 0
for i, bucket in ipairs(candidates) do
  local number = ARGV[i + 1]
  local score = tonumber(redis.call('ZSCORE', index, number))
  if score and score < cutoff then
    redis.call('UNLINK', bucket)
    redis.call('ZREM', index, number)
    deleted = deleted + 1
  end
end
return deleted
