-- cancel.lua: cancels a task. A scheduled, pending or retry-waiting task is
-- removed and becomes cancelled at once; an active one is flagged and its id
-- published so the host running it can interrupt it (the flag also turns its
-- next retry, release or lease expiry into a cancellation).
-- A flow parent still waiting for its dependencies is cancelled at once too:
-- it leaves the waiting set, its body comes back from the flow hash so its
-- final record has its enqueue time, and the flow hash is marked
-- 'cancelled' and expires like a released one, with the outputs its
-- dependencies had produced so far. flow_settle.lua answers
-- 'settled' for a parent in no waiting set, so a resolver racing this call
-- changes nothing.
-- KEYS[1] tasks HASH
-- KEYS[2] meta HASH
-- KEYS[3] pending p0 LIST
-- KEYS[4] pending p1 LIST
-- KEYS[5] pending p2 LIST
-- KEYS[6] scheduled ZSET
-- KEYS[7] retry ZSET
-- KEYS[8] active ZSET
-- KEYS[9] cancel SET
-- KEYS[10] stats HASH
-- KEYS[11] dead ZSET
-- KEYS[12] result bucket HASH
-- KEYS[13] result bucket index ZSET
-- KEYS[14] waiting ZSET (flow parents)
-- KEYS[15] flow HASH of this id (fl:<local id>)
-- KEYS[16] flow results HASH of this id (fr:<local id>)
-- ARGV[1] local id   ARGV[2] cancel channel   ARGV[3] full id
-- ARGV[4..7] result bucket: keep 0/1, number, width ms, TTL ms
-- ARGV[8] how long a cancelled flow parent's flow hash is kept, ms
-- Returns 'cancelled' | 'requested' | 'dead' | 'unknown' (finished, or no
-- such task: the caller tells them apart with a status lookup).
local tasks, meta, scheduled, retry, active, cancel, stats, dead =
  KEYS[1], KEYS[2], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local waiting, flow, results = KEYS[14], KEYS[15], KEYS[16]
local pending = { KEYS[3], KEYS[4], KEYS[5] }

local function refuse(why)
  return redis.error_reply('ERR wasmq cancel refused, nothing written: ' .. why)
end

local id, channel, full, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[8])
if #ARGV ~= 8 or not keep then
  return refuse('expected 8 arguments, the last the flow hash keep ms; got ' .. #ARGV)
end
local rb = bucket_args(4, 12)

if redis.call('ZSCORE', active, id) then
  redis.call('SADD', cancel, id)
  redis.call('PUBLISH', channel, full)
  return 'requested'
end

if redis.call('ZSCORE', waiting, id) then
  local body = redis.call('HGET', flow, 'body')
  if not header(body) then
    return refuse('the flow hash of waiting parent ' .. id .. ' has no valid body')
  end
  check_keys({ tasks = tasks, meta = meta, stats = stats }, rb)
  -- Writes.
  redis.call('ZREM', waiting, id)
  redis.call('HSET', tasks, id, body)
  finish_cancelled(rb, tasks, meta, stats, id, now_ms())
  redis.call('HSET', flow, 'outcome', 'cancelled')
  redis.call('PEXPIRE', flow, keep)
  redis.call('PEXPIRE', results, keep)
  return 'cancelled'
end

local removed = redis.call('ZREM', scheduled, id) + redis.call('ZREM', retry, id)
if removed == 0 then
  local level = header(redis.call('HGET', tasks, id))
  if level then removed = redis.call('LREM', pending[level + 1], 1, id) end
end
if removed > 0 then
  finish_cancelled(rb, tasks, meta, stats, id, now_ms())
  return 'cancelled'
end
if redis.call('ZSCORE', dead, id) then return 'dead' end
return 'unknown'
