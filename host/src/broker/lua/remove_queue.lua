-- remove_queue.lua: deletes an empty queue's keys. It counts what the queue
-- still holds before its first write and deletes nothing unless every count
-- is zero. `seq` is not among the keys: it survives, so a later task of the
-- same name never gets the id of a removed one (which a held unique key or
-- a client could still name). Nor is `fwd`, the children forwarded into
-- this queue lately: a forwarder repeating after a crash must still find
-- them there, or it would enqueue them a second time. Unique keys (u:<key>) cannot be listed without
-- a scan; they expire on their own. Big result buckets are freed in the
-- background (UNLINK). A queue whose completed tasks still have children
-- in its outbox, or whose flow parents wait on dependencies, is not empty:
-- removing it would drop work nobody asked to drop.
-- KEYS[1] tasks HASH
-- KEYS[2] pending p0 LIST
-- KEYS[3] pending p1 LIST
-- KEYS[4] pending p2 LIST
-- KEYS[5] scheduled ZSET
-- KEYS[6] retry ZSET
-- KEYS[7] active ZSET
-- KEYS[8] dead ZSET
-- KEYS[9] lease HASH
-- KEYS[10] meta HASH
-- KEYS[11] cancel SET
-- KEYS[12] stats HASH
-- KEYS[13] throughput HASH
-- KEYS[14] paused STRING
-- KEYS[15] wake LIST
-- KEYS[16] garbage LIST
-- KEYS[17] result bucket index ZSET
-- KEYS[18] outbox HASH (parents whose children are not forwarded yet)
-- KEYS[19] waiting ZSET (flow parents waiting on dependencies)
-- KEYS[20..] result bucket HASHes (those the index listed)
-- No ARGV.
-- Returns {removed 0/1, pending, scheduled, retry, active, dead, bodies,
-- waiting, unforwarded, keys deleted}: the counts found (all zero when
-- removed).
local tasks, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local scheduled, retry, active, dead = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local outbox, waiting = KEYS[18], KEYS[19]

-- Checks.
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

-- Writes.
local deleted = 0
for i = 1, #KEYS do
  deleted = deleted + redis.call('UNLINK', KEYS[i])
end
return { 1, 0, 0, 0, 0, 0, 0, 0, 0, deleted }
