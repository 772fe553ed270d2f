-- flow_enqueue.lua: holds a flow parent in its queue's waiting set, with
-- the dependencies it waits for, instead of making it pending. The
-- dependencies live in other slots on a Cluster, so this script does not
-- look at them: the resolver (broker/flow_resolve.rs) counts them in,
-- right after this call and on every maintenance tick, through
-- flow_settle.lua. Every check runs before the first write.
-- KEYS[1] waiting ZSET: parent local id -> enqueued ms
-- KEYS[2] flow HASH: the parent's flow hash (fl:<parent local id>)
-- KEYS[3] tasks HASH: id -> task body
-- KEYS[4] stats HASH: the queue's counters
-- ARGV[1] id: the parent's local id
-- ARGV[2] policy: 'fail' | 'continue'
-- ARGV[3] level: the priority level (0-2)
-- ARGV[4] record: the task body (header + payload)
-- ARGV[5] need: the number of dependencies
-- ARGV[6] deps: their full ids, space-separated
-- Returns 1, or an error (nothing written).
local waiting, flow, tasks, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function refuse(why)
  return refused('flow', why)
end

local id, policy, level, body = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local need = tonumber(ARGV[5])
if #ARGV ~= 6 then return refuse('expected 6 arguments, got ' .. #ARGV) end
if policy ~= 'fail' and policy ~= 'continue' then return refuse('policy ' .. policy) end
if not level or header(body) ~= level then return refuse('bad priority or record') end
if not need or need < 1 then return refuse('no dependencies') end
check_type(waiting, 'zset')
check_type(flow, 'hash')
check_type(tasks, 'hash')
check_type(stats, 'hash')
if redis.call('EXISTS', flow) == 1 or redis.call('HEXISTS', tasks, id) == 1 then
  return refuse('task ' .. id .. ' exists')
end

-- Writes.
local now = now_ms()
redis.call('HSET', flow, 'body', body, 'level', level, 'policy', policy,
  'need', need, 'deps', ARGV[6], 'enqueued', int(now))
redis.call('ZADD', waiting, now, id)
redis.call('HINCRBY', stats, 'enqueued', 1)
return 1
