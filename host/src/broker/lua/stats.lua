-- stats.lua: one queue's sizes per state and counters (read-only).
-- KEYS[1..3] pending p0 p1 p2 LISTs   KEYS[4] scheduled ZSET   KEYS[5] retry ZSET
-- KEYS[6] active ZSET   KEYS[7] dead ZSET   KEYS[8] stats HASH   KEYS[9] paused STRING
-- KEYS[10] garbage LIST
-- Returns {p0, p1, p2, scheduled, retry, active, dead, paused 0/1, garbage list
-- length, {counter, value, ...}}.
return {
  redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[6]),
  redis.call('ZCARD', KEYS[7]), redis.call('EXISTS', KEYS[9]), redis.call('LLEN', KEYS[10]),
  redis.call('HGETALL', KEYS[8]),
}
