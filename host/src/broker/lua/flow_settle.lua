-- flow_settle.lua: counts settled dependencies into one waiting flow
-- parent, each at most once (a field 's:<dependency id>' in the flow hash
-- marks it counted, so a resolver that repeats after a crash or races
-- another host changes nothing), then releases the parent to pending when
-- none is outstanding, or buries it when a dependency failed and the
-- policy is 'fail'. Every check runs before the first write.
-- KEYS[1] waiting ZSET
-- KEYS[2] flow HASH (fl:<parent local id>)
-- KEYS[3] tasks HASH
-- KEYS[4] pending p0 LIST
-- KEYS[5] pending p1 LIST
-- KEYS[6] pending p2 LIST
-- KEYS[7] wake LIST
-- KEYS[8] dead ZSET
-- KEYS[9] meta HASH
-- KEYS[10] stats HASH
-- ARGV[1] parent local id   ARGV[2] how long the flow hash outlives its
-- release, ms   ARGV[3] n; then 2 per dependency: full id, state
-- ('completed', 'dead', 'cancelled' or 'gone')
-- Returns {outcome, counted}: outcome 'waiting', 'released', 'dead', or
-- 'settled' when the parent no longer waits (an earlier call released it).
local waiting, flow, tasks, wakeup, dead, meta, stats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local pending = { KEYS[4], KEYS[5], KEYS[6] }
local FAILED = { dead = true, cancelled = true }
local KNOWN = { completed = true, dead = true, cancelled = true, gone = true }

local id, keep, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not keep or not n or #ARGV ~= 3 + n * 2 then
  return redis.error_reply('ERR wasmq flow settle refused: expected keep, n and 2 arguments per dependency')
end
for i = 0, n - 1 do
  if not KNOWN[ARGV[5 + i * 2]] then
    return redis.error_reply('ERR wasmq flow settle refused: state ' .. ARGV[5 + i * 2])
  end
end
check_type(waiting, 'zset')
check_type(flow, 'hash')
check_type(tasks, 'hash')
check_type(wakeup, 'list')
check_type(dead, 'zset')
check_type(meta, 'hash')
check_type(stats, 'hash')
for _, key in ipairs(pending) do check_type(key, 'list') end
if not redis.call('ZSCORE', waiting, id) then return { 'settled', 0 } end
local f = redis.call('HMGET', flow, 'body', 'level', 'policy', 'need')
local body, level, policy, need = f[1], tonumber(f[2]), f[3], tonumber(f[4])
if not body or not level or not need then
  return redis.error_reply('ERR wasmq flow settle refused: flow hash of ' .. id .. ' is incomplete')
end

-- Writes.
local counted, failed = 0, nil
for i = 0, n - 1 do
  local dep, state = ARGV[4 + i * 2], ARGV[5 + i * 2]
  if redis.call('HSETNX', flow, 's:' .. dep, state) == 1 then
    counted = counted + 1
    if FAILED[state] and not failed then failed = dep .. ' ended ' .. state end
  end
end
need = need - counted
redis.call('HSET', flow, 'need', need)
local now = now_ms()
if failed and policy == 'fail' then
  redis.call('ZREM', waiting, id)
  redis.call('HSET', tasks, id, body)
  bury(dead, meta, stats, id, now, 0, '', '', 'child-failed', 'dependency ' .. failed)
  redis.call('HSET', flow, 'outcome', 'dead')
  redis.call('PEXPIRE', flow, keep)
  return { 'dead', counted }
end
if need <= 0 then
  redis.call('ZREM', waiting, id)
  redis.call('HSET', tasks, id, body)
  redis.call('RPUSH', pending[level + 1], id)
  wake(wakeup)
  redis.call('HSET', flow, 'outcome', 'released')
  redis.call('PEXPIRE', flow, keep)
  return { 'released', counted }
end
return { 'waiting', counted }
