-- remove_queue.lua: deletes an empty queue's keys. It counts what the queue
-- still holds before its first write and deletes nothing unless every count
-- is zero. `seq` is not among the keys: it survives, so a later task of the
-- same name never gets the id of a removed one (which a held unique key or
-- a client could still name). Nor is `fwd`, the children forwarded into
-- this queue lately: a forwarder repeating after a crash must still find
-- them there, or it would enqueue them a second time. Unique keys
-- (u:<key>) cannot be listed without a scan; they expire on their own. Big
-- result buckets are freed in the background (UNLINK). A queue whose completed tasks still have children
-- in its outbox, or whose flow parents wait on dependencies, is not empty:
-- removing it would drop work nobody asked to drop.
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] pending p0 LIST: high priority ids
-- KEYS[3] pending p1 LIST: normal priority ids
-- KEYS[4] pending p2 LIST: low priority ids
-- KEYS[5] scheduled ZSET: delayed ids by due time
-- KEYS[6] retry ZSET: retry-waiting ids by due time
-- KEYS[7] active ZSET: leased ids by lease deadline
-- KEYS[8] dead ZSET: dead ids by time of death
-- KEYS[9] lease HASH: id -> lease value
-- KEYS[10] meta HASH: id -> meta
-- KEYS[11] cancel SET: ids whose cancellation was requested
-- KEYS[12] stats HASH: the queue's counters
-- KEYS[13] throughput HASH: completed and failed per minute
-- KEYS[14] paused STRING: exists while the queue is paused
-- KEYS[15] wake LIST: wake-up tokens for blocked consumers
-- KEYS[16] garbage LIST: the last ids set aside as malformed
-- KEYS[17] result bucket index ZSET: the queue's result buckets
-- KEYS[18] outbox HASH: parents whose children are not forwarded yet
-- KEYS[19] waiting ZSET: flow parents waiting on dependencies
-- KEYS[20..] result bucket HASHes: those the index listed
-- No ARGV.
-- Returns {removed 0/1, pending, scheduled, retry, active, dead, bodies,
-- waiting, unforwarded, keys deleted}: the counts found (all zero when
-- removed).
local tasks, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local scheduled, retry, active, dead = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local lease, meta, cancel, stats = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local tp, paused, wakeup, garbage = KEYS[13], KEYS[14], KEYS[15], KEYS[16]
local bucket_index, outbox, waiting = KEYS[17], KEYS[18], KEYS[19]
local buckets = tail(KEYS, 20)

-- Checks: count what the queue holds; anything there refuses the removal.
local pending = redis.call('LLEN', p0) + redis.call('LLEN', p1) + redis.call('LLEN', p2)
local counts = {
  pending, redis.call('ZCARD', scheduled), redis.call('ZCARD', retry),
  redis.call('ZCARD', active), redis.call('ZCARD', dead), redis.call('HLEN', tasks),
  redis.call('ZCARD', waiting), redis.call('HLEN', outbox),
}
for _, c in ipairs(counts) do
  if c > 0 then
    return { 0, counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], counts[7], counts[8], 0 }
  end
end

-- Writes: every key of the queue, then its result buckets.
local doomed = {
  tasks, p0, p1, p2, scheduled, retry, active, dead, lease, meta, cancel, stats,
  tp, paused, wakeup, garbage, bucket_index, outbox, waiting,
}
for _, key in ipairs(buckets) do doomed[#doomed + 1] = key end
local deleted = 0
for _, key in ipairs(doomed) do
  deleted = deleted + redis.call('UNLINK', key)
end
return { 1, 0, 0, 0, 0, 0, 0, 0, 0, deleted }
