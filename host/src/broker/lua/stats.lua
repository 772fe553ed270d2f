-- stats.lua: one queue's sizes per state and counters (read-only).
-- KEYS[1] pending p0 LIST: high priority ids
-- KEYS[2] pending p1 LIST: normal priority ids
-- KEYS[3] pending p2 LIST: low priority ids
-- KEYS[4] scheduled ZSET: delayed ids by due time
-- KEYS[5] retry ZSET: retry-waiting ids by due time
-- KEYS[6] active ZSET: leased ids by lease deadline
-- KEYS[7] dead ZSET: dead ids by time of death
-- KEYS[8] stats HASH: the queue's counters
-- KEYS[9] paused STRING: exists while the queue is paused
-- KEYS[10] garbage LIST: the last ids set aside as malformed
-- KEYS[11] waiting ZSET: flow parents waiting on dependencies
-- No ARGV.
-- Returns {p0, p1, p2, scheduled, retry, active, dead, paused 0/1, garbage list
-- length, waiting flow parents, {counter, value, ...}}.
local p0, p1, p2, scheduled, retry, active, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local stats, paused, garbage, waiting = KEYS[8], KEYS[9], KEYS[10], KEYS[11]

return {
  redis.call('LLEN', p0), redis.call('LLEN', p1), redis.call('LLEN', p2),
  redis.call('ZCARD', scheduled), redis.call('ZCARD', retry), redis.call('ZCARD', active),
  redis.call('ZCARD', dead), redis.call('EXISTS', paused), redis.call('LLEN', garbage),
  redis.call('ZCARD', waiting),
  redis.call('HGETALL', stats),
}
