-- requeue_dead.lua: re-drives dead tasks: each goes back to the end of its
-- priority list with a fresh attempt count. Dead entries with no usable body
-- (set aside as malformed) cannot run again and are dropped instead.
-- KEYS[1] dead ZSET: dead ids by time of death
-- KEYS[2] tasks HASH: id -> task body
-- KEYS[3] meta HASH: id -> meta
-- KEYS[4] pending p0 LIST: high priority ids
-- KEYS[5] pending p1 LIST: normal priority ids
-- KEYS[6] pending p2 LIST: low priority ids
-- KEYS[7] wake LIST: wake-up tokens for blocked consumers
-- KEYS[8] stats HASH: the queue's counters
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] mode: 'one' or 'some'
-- ARGV[3] what: the local id ('one') or a limit on the oldest ('some')
-- Returns {requeued, dropped}.
local dead, tasks, meta = KEYS[1], KEYS[2], KEYS[3]
local p0, p1, p2, wakeup, stats = KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local pending = { p0, p1, p2 }

local ids = pick_dead(dead, ARGV[2], ARGV[3])
if not ids then return { 0, 0 } end
local requeued, dropped = 0, 0
for _, id in ipairs(ids) do
  redis.call('ZREM', dead, id)
  redis.call('HDEL', meta, id)
  local level = header(redis.call('HGET', tasks, id))
  if level then
    redis.call('RPUSH', pending[level + 1], id)
    requeued = requeued + 1
  else
    redis.call('HDEL', tasks, id)
    dropped = dropped + 1
  end
end
if requeued > 0 then
  redis.call('HINCRBY', stats, 'redriven', requeued)
  wake(wakeup, ARGV[1])
end
return { requeued, dropped }
