-- release.lua: gives leased tasks back unrun (graceful shutdown): each goes
-- to the front of its priority list and its attempt is not counted (meta,
-- which holds the attempts of earlier runs, is left as it was).
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5..7] pending p0 p1 p2 LISTs   KEYS[8] wake LIST   KEYS[9] cancel SET
-- KEYS[10] stats HASH   KEYS[11] result bucket HASH   KEYS[12] result bucket index ZSET
-- ARGV[1..4] result bucket: keep 0/1, number, width ms, TTL ms
-- ARGV[5] n   then 2 per task: id, lease token
-- Returns n integers: 1 released, 0 stale lease, 2 cancelled (cancellation
-- had been requested).
local rb = bucket_args(1, 11)
local n = tonumber(ARGV[5])
local now = now_ms()
local out = {}
local released = 0
-- Walk backwards so that LPUSH leaves the batch in its original order.
for i = n, 1, -1 do
  local id, token = ARGV[4 + i * 2], ARGV[5 + i * 2]
  local a, s = lease_of(redis.call('HGET', KEYS[2], id), token)
  if not a then
    out[i] = 0
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    if redis.call('SREM', KEYS[9], id) == 1 then
      finish_cancelled(rb, KEYS[4], KEYS[3], KEYS[10], id, now, a - 1, s)
      out[i] = 2
    else
      local level = header(redis.call('HGET', KEYS[4], id)) or 1
      redis.call('LPUSH', KEYS[5 + level], id)
      released = released + 1
      out[i] = 1
    end
  end
end
if released > 0 then wake(KEYS[8]) end
return out
