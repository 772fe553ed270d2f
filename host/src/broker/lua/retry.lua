-- retry.lua: a leased task failed with a retryable error.
-- KEYS[1] active ZSET: leased ids by lease deadline
-- KEYS[2] lease HASH: id -> lease value
-- KEYS[3] meta HASH: id -> meta of earlier attempts
-- KEYS[4] tasks HASH: id -> task body
-- KEYS[5] retry ZSET: retry-waiting ids by due time
-- KEYS[6] dead ZSET: dead ids by time of death
-- KEYS[7] pending p0 LIST: high priority ids
-- KEYS[8] pending p1 LIST: normal priority ids
-- KEYS[9] pending p2 LIST: low priority ids
-- KEYS[10] wake LIST: wake-up tokens for blocked consumers
-- KEYS[11] cancel SET: ids whose cancellation was requested
-- KEYS[12] stats HASH: the queue's counters
-- KEYS[13] throughput HASH: completed and failed per minute
-- KEYS[14] garbage LIST: the last ids set aside as malformed
-- KEYS[15] result bucket HASH: where final records of cancelled tasks go
-- KEYS[16] result bucket index ZSET: the queue's result buckets
-- KEYS[17] run HASH: the task's run hash (run:<local id>)
-- KEYS[18] cost HASH: the plugin cost histograms of the current window (cost:<n>)
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] id: the local id
-- ARGV[3] token: the lease token
-- ARGV[4] delay: ms before the retry (0 or less: pending at once)
-- ARGV[5] version: the plugin version
-- ARGV[6] message: the error message
-- ARGV[7] dead max count: the dead set's count bound
-- ARGV[8] dead max age: the dead set's age bound, ms
-- ARGV[9] keep: 1 when final records are kept, 0 when not
-- ARGV[10] bucket number: the result bucket's number
-- ARGV[11] bucket width: ms
-- ARGV[12] result TTL: ms
-- ARGV[13] run tail: how the attempt ended ('' = record nothing; broker/runs.rs)
-- ARGV[14] log: the attempt's log
-- ARGV[15] progress: its last progress ('' = none)
-- ARGV[16] run keep: ms the run hash is kept after its last write
-- ARGV[17] channel: failures channel ('' = do not announce)
-- ARGV[18] queue: the queue name, for the announcement
-- ARGV[19] cost keep: ms the cost window is kept after its last write
-- Returns {'stale'} | {'retry', due ms} | {'requeued'} | {'dead'} | {'cancelled'}.
-- A task whose attempts are used up goes to the dead set instead; one whose
-- cancellation was requested while it ran becomes cancelled.
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local retry, dead, p0, p1, p2 = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local wakeup, cancel, stats, tp, garbage = KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local bucket, bucket_index, run, cost = KEYS[15], KEYS[16], KEYS[17], KEYS[18]
local pending = { p0, p1, p2 }
local id, token, delay, version, message = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local max_count, max_age = tonumber(ARGV[7]), tonumber(ARGV[8])

local a, s = lease_of(redis.call('HGET', lease, id), token)
if not a then return { 'stale' } end
local now = now_ms()
record_run(run, a, s, now, ARGV[13], ARGV[14], ARGV[15], tonumber(ARGV[16]))
count_costs(cost, { ARGV[13] }, now, tonumber(ARGV[19]))
if ARGV[17] ~= '' then redis.call('PUBLISH', ARGV[17], ARGV[18] .. ' ' .. id) end
redis.call('ZREM', active, id)
redis.call('HDEL', lease, id)
count(stats, tp, 'failed', 1, now)
if redis.call('SREM', cancel, id) == 1 then
  finish_cancelled(bucket_args(9, bucket, bucket_index), tasks, meta, stats, id, now, a, s)
  return { 'cancelled' }
end
local body = redis.call('HGET', tasks, id)
local level, max_retries = header(body)
if not level then
  set_aside(garbage, dead, meta, stats, id, now, 'the stored body has no valid header')
  return { 'dead' }
end
if a >= max_retries + 1 then
  bury(dead, meta, stats, id, now, a, s, version, 'retries-exhausted', message)
  trim_dead(dead, tasks, meta, max_count, max_age, now, DEAD_TRIM_LIMIT)
  return { 'dead' }
end
redis.call('HSET', meta, id, meta_join(a, s, '', version, '', message))
redis.call('HINCRBY', stats, 'retried', 1)
if delay <= 0 then
  redis.call('RPUSH', pending[level + 1], id)
  wake(wakeup, ARGV[1])
  return { 'requeued' }
end
local due = now + delay
redis.call('ZADD', retry, due, id)
return { 'retry', due }
