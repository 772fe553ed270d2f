-- kv_set.lua: sets one key of a plugin's key-value bucket and renews the
-- bucket's expiry, if it has one, in one step.
-- KEYS[1] bucket HASH
-- ARGV[1] key
-- ARGV[2] value
-- ARGV[3] ttl ms (0: the bucket does not expire)
-- Returns 1.
local bucket = KEYS[1]
local ttl = tonumber(ARGV[3])
redis.call('HSET', bucket, ARGV[1], ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', bucket, ttl)
end
return 1
