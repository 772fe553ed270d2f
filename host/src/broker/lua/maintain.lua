-- maintain.lua: one maintenance tick of one queue in one call: promotes due
-- scheduled and retry tasks (as promote.lua), takes back expired leases (as
-- reap.lua) and, when asked (every TRIM_PERIOD per queue), trims the dead
-- set and throughput buckets (as trim.lua). One call instead of three keeps
-- the tick at one round trip per queue; an idle queue costs TIME and three
-- ZRANGEBYSCOREs and writes nothing (see wake_pending below).
-- KEYS[1] scheduled ZSET: delayed ids by due time
-- KEYS[2] retry ZSET: retry-waiting ids by due time
-- KEYS[3] tasks HASH: id -> task body
-- KEYS[4] pending p0 LIST: high priority ids
-- KEYS[5] pending p1 LIST: normal priority ids
-- KEYS[6] pending p2 LIST: low priority ids
-- KEYS[7] wake LIST: wake-up tokens for blocked consumers
-- KEYS[8] dead ZSET: dead ids by time of death
-- KEYS[9] meta HASH: id -> meta of earlier attempts
-- KEYS[10] stats HASH: the queue's counters
-- KEYS[11] garbage LIST: the last ids set aside as malformed
-- KEYS[12] active ZSET: leased ids by lease deadline
-- KEYS[13] lease HASH: id -> lease value
-- KEYS[14] cancel SET: ids whose cancellation was requested
-- KEYS[15] throughput HASH: completed and failed per minute
-- KEYS[16] result bucket HASH: where final records of cancelled tasks go
-- KEYS[17] result bucket index ZSET: the queue's result buckets
-- KEYS[18] outbox HASH: parents whose children wait (only its size is read)
-- KEYS[19] waiting ZSET: flow parents waiting (only its size is read)
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] limit: the most ids per step
-- ARGV[3] dead max count: the dead set's count bound
-- ARGV[4] dead max age: the dead set's age bound, ms
-- ARGV[5] trim: 1 to trim this call, 0 not
-- ARGV[6] retention: throughput retention, minutes
-- ARGV[7] keep: 1 when final records are kept, 0 when not
-- ARGV[8] bucket number: the result bucket's number
-- ARGV[9] bucket width: ms
-- ARGV[10] result TTL: ms
-- Returns {promoted, set aside, requeued, buried, cancelled, dead trimmed,
-- minutes trimmed, more, outbox, waiting, now, next, trimmable} where more =
-- 1 when a step found a full batch, outbox is the number of parents whose
-- children wait there, waiting the number of flow parents waiting for
-- dependencies, now Redis's clock in ms, next the earliest due time or
-- lease deadline left (-1 when none) and trimmable 1 when the dead set,
-- throughput buckets or result buckets hold anything a trim may drop (for
-- the due index, broker/due.rs).
local scheduled, retry, tasks = KEYS[1], KEYS[2], KEYS[3]
local p0, p1, p2, wakeup, dead = KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local meta, stats, garbage, active = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local lease, cancel, tp = KEYS[13], KEYS[14], KEYS[15]
local bucket, bucket_index, outbox, waiting = KEYS[16], KEYS[17], KEYS[18], KEYS[19]
local q = {
  scheduled = scheduled, retry = retry, tasks = tasks, pending = { p0, p1, p2 },
  wake = wakeup, dead = dead, meta = meta, stats = stats, garbage = garbage,
  active = active, lease = lease, cancel = cancel, tp = tp, wake_channel = ARGV[1],
}
local rb = bucket_args(7, bucket, bucket_index)
local limit, max_count, max_age = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local trim, retention = ARGV[5] == '1', tonumber(ARGV[6])

-- What the due index needs after this call: the earliest time left in the
-- three time-ordered sets, and whether a trim may find anything.
local function outlook(now)
  local soonest = -1
  for _, zset in ipairs({ scheduled, retry, active }) do
    local head = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
    local at = tonumber(head[2])
    if at and (soonest < 0 or at < soonest) then soonest = at end
  end
  local trimmable = 0
  if redis.call('ZCARD', dead) + redis.call('HLEN', tp) + redis.call('ZCARD', bucket_index) > 0 then
    trimmable = 1
  end
  return now, soonest, trimmable
end

-- Read what is due first: an idle queue stops here, having written nothing
-- (but a wake token, when work is pending and no token says so: one taken
-- by a host that never leased is otherwise lost, and the hosts that found
-- the queue empty would not look at it again; prelude's wake_pending).
local now = now_ms()
local due_scheduled = due_ids(scheduled, now, limit)
local due_retry = due_ids(retry, now, limit)
local expired = due_ids(active, now, limit)
if #due_scheduled + #due_retry + #expired == 0 and not trim then
  wake_pending(q.pending, wakeup, q.wake_channel)
  return { 0, 0, 0, 0, 0, 0, 0, 0, redis.call('HLEN', outbox), redis.call('ZCARD', waiting), outlook(now) }
end
-- Check every key's type before the first move.
check_keys(q, rb)
-- Move: due ids to the back of their lists, expired leases to the front
-- (all were read above, so neither step sees the other's moves).
local promoted, bad = promote_ids(q, due_scheduled, due_retry, now)
local requeued, buried, cancelled = reap_ids(q, rb, expired, max_count, max_age, now)
-- Trim last, so it also bounds what this call buried.
local dropped, minutes = 0, 0
if trim then
  dropped, minutes = trim_queue(q, max_count, max_age, retention, limit, now)
end
wake_pending(q.pending, wakeup, q.wake_channel)
local more = 0
if #due_scheduled == limit or #due_retry == limit or #expired == limit then more = 1 end
return { promoted, bad, requeued, buried, cancelled, dropped, minutes, more, redis.call('HLEN', outbox),
  redis.call('ZCARD', waiting), outlook(now) }
