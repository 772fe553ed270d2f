-- kv_swap.lua: compare-and-swap on one key of a bucket. Writes the new
-- value only if the key still holds the expected one (or is still absent).
-- KEYS[1] bucket HASH: a plugin's key-value bucket
-- ARGV[1] key: the key in the bucket
-- ARGV[2] expect: "1" if a value is expected, "0" if the key is expected absent
-- ARGV[3] expected: the expected value (ignored when absent is expected)
-- ARGV[4] value: the new value
-- ARGV[5] ttl: ms (0: the bucket does not expire)
-- Returns {1} when written, {0, current} (current false when absent) when not.
local bucket = KEYS[1]
local key, expected, old, value = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4]
local ttl = tonumber(ARGV[5])

local current = redis.call('HGET', bucket, key)
local same = (current == false and not expected) or (current ~= false and expected and current == old)
if not same then
  return {0, current}
end
redis.call('HSET', bucket, key, value)
renew(bucket, ttl)
return {1}
