-- release.lua: gives leased tasks back unrun (graceful shutdown): each goes
-- to the front of its priority list and its attempt is not counted.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5..7] pending p0 p1 p2 LISTs   KEYS[8] wake LIST   KEYS[9] cancel SET
-- KEYS[10] stats HASH   KEYS[11..] final-record STRINGs r:<id>, one per task
-- ARGV[1] record TTL ms   ARGV[2] n   then 2 per task: id, lease token
-- Returns n integers: 1 released, 0 stale lease, 2 cancelled (cancellation
-- had been requested).
local ttl = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local now = now_ms()
local out = {}
local released = 0
-- Walk backwards so that LPUSH leaves the batch in its original order.
for i = n, 1, -1 do
  local id, token = ARGV[1 + i * 2], ARGV[2 + i * 2]
  if redis.call('HGET', KEYS[2], id) ~= token then
    out[i] = 0
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    if redis.call('SREM', KEYS[9], id) == 1 then
      finish_cancelled(KEYS[10 + i], ttl, KEYS[4], KEYS[3], KEYS[10], id, now)
      out[i] = 2
    else
      local level = header(redis.call('HGET', KEYS[4], id)) or 1
      local a, s, f, v, r, e = meta_parse(redis.call('HGET', KEYS[3], id))
      if a <= 1 then
        redis.call('HDEL', KEYS[3], id)
      else
        redis.call('HSET', KEYS[3], id, meta_join(a - 1, s, f, v, r, e))
      end
      redis.call('LPUSH', KEYS[5 + level], id)
      released = released + 1
      out[i] = 1
    end
  end
end
if released > 0 then wake(KEYS[8]) end
return out
