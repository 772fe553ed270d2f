-- dead.lua: a leased task failed for good (permanent error, or a body the
-- consumer could not decode).
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5] dead ZSET     KEYS[6] cancel SET   KEYS[7] stats HASH
-- KEYS[8] throughput HASH   KEYS[9] garbage LIST
-- ARGV[1] id   ARGV[2] lease token   ARGV[3] plugin version   ARGV[4] reason
-- ARGV[5] error message   ARGV[6] dead max count   ARGV[7] dead max age ms
-- ARGV[8] '1' to also record the id in the garbage list (malformed body)
-- Returns {'stale'} | {'dead'}.
local id = ARGV[1]
local a, s = lease_of(redis.call('HGET', KEYS[2], id), ARGV[2])
if not a then return { 'stale' } end
local now = now_ms()
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('SREM', KEYS[6], id)
count(KEYS[7], KEYS[8], 'failed', 1, now)
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[3], id, meta_join(a, s, '', ARGV[3], '', ''))
  set_aside(KEYS[9], KEYS[5], KEYS[3], KEYS[7], id, now, ARGV[5])
else
  bury(KEYS[5], KEYS[3], KEYS[7], id, now, a, s, ARGV[3], ARGV[4], ARGV[5])
end
trim_dead(KEYS[5], KEYS[4], KEYS[3], tonumber(ARGV[6]), tonumber(ARGV[7]), now, 100)
return { 'dead' }
