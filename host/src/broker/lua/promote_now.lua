-- promote_now.lua: makes scheduled or retry-waiting tasks pending now, ahead
-- of their due time (the task browser's "promote now"). Each goes to the end
-- of its priority's pending list and keeps its meta (attempts so far). An id
-- that is not in the set, or whose body is unusable, is skipped.
-- KEYS[1] from ZSET: the scheduled or the retry set of the queue
-- KEYS[2] tasks HASH: id -> task body
-- KEYS[3] pending p0 LIST: high priority ids
-- KEYS[4] pending p1 LIST: normal priority ids
-- KEYS[5] pending p2 LIST: low priority ids
-- KEYS[6] wake LIST: wake-up tokens for blocked consumers
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] mode: 'ids' or 'some'
-- ARGV[3..] what: the local ids ('ids'), or a limit of 1-1000 on the soonest due ('some')
-- Returns {promoted, skipped}.
local from, tasks, p0, p1, p2, wakeup = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local pending = { p0, p1, p2 }

local ids = picked(from, 'zset', tail(ARGV, 2))
if not ids then return refused('promote now', 'mode must be ids or some with a limit of 1-1000') end
-- Checks first: which ids are in the set with a usable body.
local moves, skipped = {}, 0
for _, id in ipairs(ids) do
  local level = header(redis.call('HGET', tasks, id))
  if level and redis.call('ZSCORE', from, id) then
    moves[#moves + 1] = { id, level }
  else
    skipped = skipped + 1
  end
end
-- Writes.
for _, m in ipairs(moves) do
  redis.call('ZREM', from, m[1])
  redis.call('RPUSH', pending[m[2] + 1], m[1])
end
if #moves > 0 then wake(wakeup, ARGV[1]) end
return { #moves, skipped }
