-- extend.lua: pushes back the lease deadline of tasks still held.
-- KEYS[1] active ZSET   KEYS[2] lease HASH
-- ARGV[1] lease duration ms from now   ARGV[2] n   then 2 per task: id, lease token
-- Returns {new deadline ms, flag, flag, ...}: 1 extended, 0 stale lease.
local n = tonumber(ARGV[2])
local now = now_ms()
local deadline = now + tonumber(ARGV[1])
local out = { deadline }
for i = 0, n - 1 do
  local id = ARGV[3 + i * 2]
  if lease_of(redis.call('HGET', KEYS[2], id), ARGV[4 + i * 2]) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
