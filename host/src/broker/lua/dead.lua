-- dead.lua: a leased task failed for good (permanent error, or a body the
-- consumer could not decode).
-- KEYS[1] active ZSET: leased ids by lease deadline
-- KEYS[2] lease HASH: id -> lease value
-- KEYS[3] meta HASH: id -> meta of earlier attempts
-- KEYS[4] tasks HASH: id -> task body
-- KEYS[5] dead ZSET: dead ids by time of death
-- KEYS[6] cancel SET: ids whose cancellation was requested
-- KEYS[7] stats HASH: the queue's counters
-- KEYS[8] throughput HASH: completed and failed per minute
-- KEYS[9] garbage LIST: the last ids set aside as malformed
-- KEYS[10] run HASH: the task's run hash (run:<local id>)
-- KEYS[11] cost HASH: the plugin cost histograms of the current window (cost:<n>)
-- ARGV[1] id: the local id
-- ARGV[2] token: the lease token
-- ARGV[3] version: the plugin version
-- ARGV[4] reason: the dead reason
-- ARGV[5] message: the error message
-- ARGV[6] dead max count: the dead set's count bound
-- ARGV[7] dead max age: the dead set's age bound, ms
-- ARGV[8] malformed: '1' to also record the id in the garbage list
-- ARGV[9] run tail: how the attempt ended ('' = record nothing; broker/runs.rs)
-- ARGV[10] log: the attempt's log
-- ARGV[11] progress: its last progress ('' = none)
-- ARGV[12] run keep: ms the run hash is kept after its last write
-- ARGV[13] channel: failures channel ('' = do not announce)
-- ARGV[14] queue: the queue name, for the announcement
-- ARGV[15] cost keep: ms the cost window is kept after its last write
-- Returns {'stale'} | {'dead'}.
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local dead, cancel, stats, tp, garbage = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local run, cost = KEYS[10], KEYS[11]
local id, token, version, reason, message = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_count, max_age, malformed = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'

local a, s = lease_of(redis.call('HGET', lease, id), token)
if not a then return { 'stale' } end
local now = now_ms()
record_run(run, a, s, now, ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]))
count_costs(cost, { ARGV[9] }, now, tonumber(ARGV[15]))
if ARGV[13] ~= '' then redis.call('PUBLISH', ARGV[13], ARGV[14] .. ' ' .. id) end
redis.call('ZREM', active, id)
redis.call('HDEL', lease, id)
redis.call('SREM', cancel, id)
count(stats, tp, 'failed', 1, now)
if malformed then
  redis.call('HSET', meta, id, meta_join(a, s, '', version, '', ''))
  set_aside(garbage, dead, meta, stats, id, now, message)
else
  bury(dead, meta, stats, id, now, a, s, version, reason, message)
end
trim_dead(dead, tasks, meta, max_count, max_age, now, DEAD_TRIM_LIMIT)
return { 'dead' }
