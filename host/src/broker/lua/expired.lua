-- expired.lua: lists leases whose deadline has passed (read-only). The
-- reaper then passes these ids, with their final-record keys, to reap.lua,
-- which checks each again atomically.
-- KEYS[1] active ZSET
-- ARGV[1] limit
-- Returns up to `limit` ids, oldest deadline first.
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
