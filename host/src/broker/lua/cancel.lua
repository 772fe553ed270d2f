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
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] meta HASH: id -> meta of earlier attempts
-- KEYS[3] pending p0 LIST: high priority ids
-- KEYS[4] pending p1 LIST: normal priority ids
-- KEYS[5] pending p2 LIST: low priority ids
-- KEYS[6] scheduled ZSET: delayed ids by due time
-- KEYS[7] retry ZSET: retry-waiting ids by due time
-- KEYS[8] active ZSET: leased ids by lease deadline
-- KEYS[9] cancel SET: ids whose cancellation was requested
-- KEYS[10] stats HASH: the queue's counters
-- KEYS[11] dead ZSET: dead ids by time of death
-- KEYS[12] result bucket HASH: where the final record goes
-- KEYS[13] result bucket index ZSET: the queue's result buckets
-- KEYS[14] waiting ZSET: flow parents waiting on dependencies
-- KEYS[15] flow HASH: this id's flow hash (fl:<local id>)
-- KEYS[16] flow results HASH: this id's flow results (fr:<local id>)
-- ARGV[1] id: the local id
-- ARGV[2] channel: the cancel channel
-- ARGV[3] full id: what the channel announces
-- ARGV[4] keep: 1 when final records are kept, 0 when not
-- ARGV[5] bucket number: the result bucket's number
-- ARGV[6] bucket width: ms
-- ARGV[7] result TTL: ms
-- ARGV[8] flow keep: how long a cancelled flow parent's flow hash is kept, ms
-- Returns 'cancelled' | 'requested' | 'dead' | 'unknown' (finished, or no
-- such task: the caller tells them apart with a status lookup).
local tasks, meta, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local scheduled, retry, active, cancel = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local stats, dead, bucket, bucket_index = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local waiting, flow, results = KEYS[14], KEYS[15], KEYS[16]
local pending = { p0, p1, p2 }

local id, channel, full, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[8])
if #ARGV ~= 8 or not keep then
  return refused('cancel', 'expected 8 arguments, the last the flow hash keep ms; got ' .. #ARGV)
end
local rb = bucket_args(4, bucket, bucket_index)

-- Running: only its host can stop it, so flag it and tell the hosts.
if redis.call('ZSCORE', active, id) then
  redis.call('SADD', cancel, id)
  redis.call('PUBLISH', channel, full)
  return 'requested'
end

-- A waiting flow parent: its body is in the flow hash, not in tasks.
if redis.call('ZSCORE', waiting, id) then
  local body = redis.call('HGET', flow, 'body')
  if not header(body) then
    return refused('cancel', 'the flow hash of waiting parent ' .. id .. ' has no valid body')
  end
  check_keys({ tasks = tasks, meta = meta, stats = stats }, rb)
  -- Writes.
  redis.call('ZREM', waiting, id)
  redis.call('HSET', tasks, id, body)
  finish_cancelled(rb, tasks, meta, stats, id, now_ms())
  close_flow(flow, results, 'cancelled', keep)
  return 'cancelled'
end

-- Scheduled, retry-waiting or pending: remove it wherever it is.
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
