-- flow_settle.lua: counts settled dependencies into one waiting flow
-- parent, each at most once (a field 's:<dependency id>' in the flow hash
-- marks it counted, so a resolver that repeats after a crash or races
-- another host changes nothing), keeps what each produced for the
-- parent's run, then releases the parent to pending when none is
-- outstanding, or buries it when a dependency failed and the policy is
-- 'fail'. Every check runs before the first write.
-- KEYS[1] waiting ZSET: flow parents waiting on dependencies
-- KEYS[2] flow HASH: the parent's flow hash (fl:<parent local id>)
-- KEYS[3] flow results HASH: what its dependencies produced (fr:<parent local id>)
-- KEYS[4] tasks HASH: id -> task body
-- KEYS[5] pending p0 LIST: high priority ids
-- KEYS[6] pending p1 LIST: normal priority ids
-- KEYS[7] pending p2 LIST: low priority ids
-- KEYS[8] wake LIST: wake-up tokens for blocked consumers
-- KEYS[9] dead ZSET: dead ids by time of death
-- KEYS[10] meta HASH: id -> meta
-- KEYS[11] stats HASH: the queue's counters
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] id: the parent's local id
-- ARGV[3] keep: how long the flow hashes outlive the release, ms
-- ARGV[4] cap: the most output bytes kept per flow
-- ARGV[5] n: the number of dependencies reported
-- ARGV[6..] dependencies: 5 per dependency: full id, state ('completed',
--   'dead', 'cancelled' or 'gone'), output ('' for none), content type
--   ('' for none), error ('' for none)
-- Returns {outcome, counted}: outcome 'waiting', 'released', 'dead', or
-- 'settled' when the parent no longer waits (an earlier call released it).
local waiting, flow, results, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local p0, p1, p2 = KEYS[5], KEYS[6], KEYS[7]
local wakeup, dead, meta, stats = KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local pending = { p0, p1, p2 }
local FAILED = { dead = true, cancelled = true }
local KNOWN = { completed = true, dead = true, cancelled = true, gone = true }
local PER = 5

-- Checks: the arguments, every key's type, then whether the parent still
-- waits (a repeated or raced report finds it gone and writes nothing).
local wake_channel, id = ARGV[1], ARGV[2]
local keep, cap, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not keep or not cap or not n or #ARGV ~= 5 + n * PER then
  return redis.error_reply('ERR wasmq flow settle refused: expected keep, cap, n and 5 arguments per dependency')
end
for i = 0, n - 1 do
  if not KNOWN[ARGV[7 + i * PER]] then
    return redis.error_reply('ERR wasmq flow settle refused: state ' .. ARGV[7 + i * PER])
  end
end
check_type(waiting, 'zset')
check_type(flow, 'hash')
check_type(results, 'hash')
check_type(tasks, 'hash')
check_type(wakeup, 'list')
check_type(dead, 'zset')
check_type(meta, 'hash')
check_type(stats, 'hash')
for _, key in ipairs(pending) do check_type(key, 'list') end
if not redis.call('ZSCORE', waiting, id) then return { 'settled', 0 } end
local f = redis.call('HMGET', flow, 'body', 'level', 'policy', 'need', 'bytes')
local body, level, policy, need = f[1], tonumber(f[2]), f[3], tonumber(f[4])
local bytes = tonumber(f[5]) or 0
if not body or not level or not need then
  return redis.error_reply('ERR wasmq flow settle refused: flow hash of ' .. id .. ' is incomplete')
end

-- Writes: count each dependency once (HSETNX of its mark) and keep what
-- it produced, within the flow's output cap.
local counted, failed = 0, nil
for i = 0, n - 1 do
  local at = 6 + i * PER
  local dep, state, out, ctype, err = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  if redis.call('HSETNX', flow, 's:' .. dep, state) == 1 then
    counted = counted + 1
    if FAILED[state] and not failed then failed = dep .. ' ended ' .. state end
    -- An output past the flow's cap is left out, and the error says so.
    if out ~= '' and bytes + #out > cap then
      err = 'its output of ' .. #out .. ' bytes was left out: the outputs of this flow passed '
        .. cap .. ' bytes; read it with `wasmq result ' .. dep .. '`'
      out = ''
    end
    if out ~= '' then
      bytes = bytes + #out
      redis.call('HSET', results, 'o:' .. dep, out)
      if ctype ~= '' then redis.call('HSET', results, 't:' .. dep, ctype) end
    end
    if err ~= '' then redis.call('HSET', results, 'e:' .. dep, err) end
  end
end
need = need - counted
redis.call('HSET', flow, 'need', need, 'bytes', bytes)
local now = now_ms()
-- A failed dependency under policy 'fail' buries the parent, even with
-- others outstanding: it can never run.
if failed and policy == 'fail' then
  redis.call('ZREM', waiting, id)
  redis.call('HSET', tasks, id, body)
  bury(dead, meta, stats, id, now, 0, '', '', 'child-failed', 'dependency ' .. failed)
  close_flow(flow, results, 'dead', keep)
  return { 'dead', counted }
end
-- Nothing outstanding: the parent becomes an ordinary pending task.
if need <= 0 then
  redis.call('ZREM', waiting, id)
  redis.call('HSET', tasks, id, body)
  redis.call('RPUSH', pending[level + 1], id)
  wake(wakeup, wake_channel)
  close_flow(flow, results, 'released', keep)
  return { 'released', counted }
end
return { 'waiting', counted }
