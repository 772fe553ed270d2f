-- kv_swap.lua: compare-and-swap on one key of a bucket. Writes the new
-- value only if the key still holds the expected one (or is still absent).
-- KEYS[1] bucket HASH
-- ARGV[1] key
-- ARGV[2] "1" if a value is expected, "0" if the key is expected absent
-- ARGV[3] the expected value (ignored when absent is expected)
-- ARGV[4] the new value
-- ARGV[5] ttl ms (0: the bucket does not expire)
-- Returns {1} when written, {0, current} (current false when absent) when not.
local bucket = KEYS[1]
local ttl = tonumber(ARGV[5])
local current = redis.call('HGET', bucket, ARGV[1])
local expected = ARGV[2] == '1'
local same = (current == false and not expected) or (current ~= false and expected and current == ARGV[3])
if not same then
  return {0, current}
end
redis.call('HSET', bucket, ARGV[1], ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', bucket, ttl)
end
return {1}
