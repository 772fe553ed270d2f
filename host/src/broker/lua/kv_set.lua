-- kv_set.lua: sets one key of a plugin's key-value bucket and renews the
-- bucket's expiry, if it has one, in one step.
-- KEYS[1] bucket HASH: a plugin's key-value bucket
-- ARGV[1] key: the key in the bucket
-- ARGV[2] value: its new value
-- ARGV[3] ttl: ms (0: the bucket does not expire)
-- Returns 1.
local bucket = KEYS[1]
local key, value, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

redis.call('HSET', bucket, key, value)
renew(bucket, ttl)
return 1
