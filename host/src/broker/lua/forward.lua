-- forward.lua: enqueues child tasks, forwarded from their parent's outbox,
-- to one queue under the ids they were given (derived from the parent's
-- id), idempotently: a child whose id the queue holds (as a task, or in
-- the forwarded set, which remembers ids forwarded within the last `keep`
-- ms) is skipped, so a forwarder that crashed before clearing the outbox
-- and repeats creates no duplicate. Every check (arguments, key types)
-- runs before the first write.
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] pending p0 LIST: high priority ids
-- KEYS[3] pending p1 LIST: normal priority ids
-- KEYS[4] pending p2 LIST: low priority ids
-- KEYS[5] scheduled ZSET: delayed ids by due time
-- KEYS[6] stats HASH: the queue's counters
-- KEYS[7] wake LIST: wake-up tokens for blocked consumers
-- KEYS[8] forwarded ZSET: child local id -> forwarded ms
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] keep: how long the forwarded set remembers an id, ms
-- ARGV[3] n: the number of children
-- ARGV[4..] children: 4 per child: local id, priority level (0-2), delay
--   ms, record (header + payload)
-- Returns n integers, 1 enqueued, 0 already there; then 'new' when
-- children were added and the queue had no stats hash before (the client
-- then registers the queue name again).
local tasks, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local scheduled, stats, wakeup, forwarded = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local pending = { p0, p1, p2 }

local function refuse(why)
  return refused('forward', why)
end

local wake_channel, keep, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not keep or not n or n < 1 or #ARGV ~= 3 + n * 4 then
  return refuse('expected keep ms, n >= 1 and 4 arguments per child, got ' .. #ARGV)
end
check_type(tasks, 'hash')
check_type(scheduled, 'zset')
check_type(stats, 'hash')
check_type(wakeup, 'list')
check_type(forwarded, 'zset')
for _, key in ipairs(pending) do check_type(key, 'list') end

local now = now_ms()
local bodies, lists, sched, marks, out, seen = {}, { {}, {}, {} }, {}, {}, {}, {}
local added, waiting = 0, 0
for i = 0, n - 1 do
  local b = 4 + i * 4
  local id, level, delay, body = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), ARGV[b + 3]
  if not level or header(body) ~= level or not delay or delay < 0 then
    return refuse('child ' .. i .. ' (' .. id .. '): bad priority, delay or record')
  end
  if seen[id] or redis.call('ZSCORE', forwarded, id) or redis.call('HEXISTS', tasks, id) == 1 then
    out[#out + 1] = 0
  else
    seen[id] = true
    added = added + 1
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = body
    marks[#marks + 1] = int(now)
    marks[#marks + 1] = id
    if delay > 0 then
      sched[#sched + 1] = int(now + delay)
      sched[#sched + 1] = id
    else
      local list = lists[level + 1]
      list[#list + 1] = id
      waiting = waiting + 1
    end
    out[#out + 1] = 1
  end
end

-- Writes.
local fresh = redis.call('EXISTS', stats) == 0
redis.call('ZREMRANGEBYSCORE', forwarded, '-inf', '(' .. int(now - keep))
if added > 0 then
  bulk('HSET', tasks, bodies)
  bulk('ZADD', forwarded, marks)
  append_pending(pending, lists)
  if #sched > 0 then bulk('ZADD', scheduled, sched) end
  redis.call('HINCRBY', stats, 'enqueued', added)
  if waiting > 0 then wake(wakeup, wake_channel) end
  if fresh then out[#out + 1] = 'new' end
end
return out
