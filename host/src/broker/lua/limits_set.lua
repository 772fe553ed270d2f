-- limits_set.lua: replaces a queue's limits as a whole (so no host ever
-- reads half old, half new). An empty set of fields still writes `set_at`:
-- an existing hash means "no limit" even where a manifest sets a default.
-- KEYS[1] limits HASH: rate, period, burst, concurrency, set_at
-- KEYS[2] rl STRING: GCRA state, reset so a new rate starts afresh
-- ARGV[1] set_at: ms
-- ARGV[2..] fields: field, value, field, value, ...
-- Returns 1.
local limits, rl = KEYS[1], KEYS[2]

redis.call('DEL', limits, rl)
redis.call('HSET', limits, 'set_at', ARGV[1], unpack(ARGV, 2))
return 1
