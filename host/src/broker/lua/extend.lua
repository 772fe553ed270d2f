-- extend.lua: pushes back the lease deadline of tasks still held.
-- KEYS[1] active ZSET: leased ids by lease deadline
-- KEYS[2] lease HASH: id -> lease value
-- ARGV[1] duration: the new lease duration from now, ms
-- ARGV[2] n: the number of tasks
-- ARGV[3..] tasks: 2 per task: id, lease token
-- Returns {new deadline ms, flag, flag, ...}: 1 extended, 0 stale lease.
local active, lease = KEYS[1], KEYS[2]
local duration, n = tonumber(ARGV[1]), tonumber(ARGV[2])

local now = now_ms()
local deadline = now + duration
local out = { deadline }
for i = 0, n - 1 do
  local id = ARGV[3 + i * 2]
  if lease_of(redis.call('HGET', lease, id), ARGV[4 + i * 2]) then
    redis.call('ZADD', active, 'XX', deadline, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
