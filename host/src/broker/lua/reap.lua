-- reap.lua: takes back tasks whose lease expired (their host died or hung).
-- Each goes back to the front of its priority list with the attempt counted,
-- or to the dead set when that was its last attempt, or becomes cancelled if
-- cancellation was requested. Reading the expired leases and moving them
-- happen in one script, so racing reapers on many hosts are harmless. The
-- maintenance tick does the same inside maintain.lua; this script serves
-- tests and admin tools.
-- KEYS[1] active ZSET: leased ids by lease deadline
-- KEYS[2] lease HASH: id -> lease value
-- KEYS[3] meta HASH: id -> meta of earlier attempts
-- KEYS[4] tasks HASH: id -> task body
-- KEYS[5] pending p0 LIST: high priority ids
-- KEYS[6] pending p1 LIST: normal priority ids
-- KEYS[7] pending p2 LIST: low priority ids
-- KEYS[8] dead ZSET: dead ids by time of death
-- KEYS[9] cancel SET: ids whose cancellation was requested
-- KEYS[10] wake LIST: wake-up tokens for blocked consumers
-- KEYS[11] stats HASH: the queue's counters
-- KEYS[12] throughput HASH: completed and failed per minute
-- KEYS[13] garbage LIST: the last ids set aside as malformed
-- KEYS[14] result bucket HASH: where final records of cancelled tasks go
-- KEYS[15] result bucket index ZSET: the queue's result buckets
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] limit: the most leases taken back
-- ARGV[3] dead max count: the dead set's count bound
-- ARGV[4] dead max age: the dead set's age bound, ms
-- ARGV[5] keep: 1 when final records are kept, 0 when not
-- ARGV[6] bucket number: the result bucket's number
-- ARGV[7] bucket width: ms
-- ARGV[8] result TTL: ms
-- Returns {requeued, dead, cancelled}.
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local p0, p1, p2, dead, cancel = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local wakeup, stats, tp, garbage = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local bucket, bucket_index = KEYS[14], KEYS[15]
local q = {
  active = active, lease = lease, meta = meta, tasks = tasks, pending = { p0, p1, p2 },
  dead = dead, cancel = cancel, wake = wakeup, stats = stats, tp = tp, garbage = garbage,
  wake_channel = ARGV[1],
}
local rb = bucket_args(5, bucket, bucket_index)
local limit, max_count, max_age = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local now = now_ms()
local expired = due_ids(active, now, limit)
if #expired == 0 then return { 0, 0, 0 } end
check_keys(q, rb)
local requeued, buried, cancelled = reap_ids(q, rb, expired, max_count, max_age, now)
return { requeued, buried, cancelled }
