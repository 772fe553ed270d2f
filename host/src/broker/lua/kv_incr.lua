-- kv_incr.lua: adds a delta to the integer at one key of a bucket (0 if
-- absent) and renews the bucket's expiry, if it has one. HINCRBY fails,
-- before anything is written, on a value that is not an integer or on
-- overflow; the client names the key in its error.
-- KEYS[1] bucket HASH: a plugin's key-value bucket
-- ARGV[1] key: the key in the bucket
-- ARGV[2] delta: the integer to add
-- ARGV[3] ttl: ms (0: the bucket does not expire)
-- Returns the new value.
local bucket = KEYS[1]
local key, delta, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local value = redis.call('HINCRBY', bucket, key, delta)
renew(bucket, ttl)
return value
