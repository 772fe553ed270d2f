-- kv_incr.lua: adds a delta to the integer at one key of a bucket (0 if
-- absent) and renews the bucket's expiry, if it has one. HINCRBY fails,
-- before anything is written, on a value that is not an integer or on
-- overflow; the client names the key in its error.
-- KEYS[1] bucket HASH
-- ARGV[1] key
-- ARGV[2] delta
-- ARGV[3] ttl ms (0: the bucket does not expire)
-- Returns the new value.
local bucket = KEYS[1]
local ttl = tonumber(ARGV[3])
local value = redis.call('HINCRBY', bucket, ARGV[1], ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', bucket, ttl)
end
return value
