-- enqueue.lua: adds one or more tasks to one queue, atomically. Every check
-- (arguments, key types, unique keys held, duplicates within the call) runs
-- before the first write, so a refused call changes nothing: no unique key
-- pointing at a task that was never written, no seq bump.
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] pending p0 LIST: high priority ids
-- KEYS[3] pending p1 LIST: normal priority ids
-- KEYS[4] pending p2 LIST: low priority ids
-- KEYS[5] scheduled ZSET: delayed ids by due time
-- KEYS[6] seq STRING: the last local id's number
-- KEYS[7] stats HASH: the queue's counters
-- KEYS[8] wake LIST: wake-up tokens for blocked consumers
-- KEYS[9..] unique-key STRINGs: u:<key>, one per task that has one
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] n: the number of tasks
-- ARGV[3..] tasks: 5 per task: priority level (0-2), when ('' now |
--   '+<ms>' delay on Redis's clock | '@<ms>' absolute), index of its unique
--   key in KEYS (0 = none), unique TTL ms, record (header + payload)
-- Returns n strings: the new local id, or '=' .. the existing local id when
-- the unique key already held (or an earlier task of the call took it);
-- then 'new' when tasks were added and the queue had no stats hash before
-- (first use, or removed by remove_queue.lua): the client then registers
-- the queue name again. A refused call returns an error and writes nothing.
local tasks, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local scheduled, seq, stats, wakeup = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local uniques = tail(KEYS, 9)
local pending = { p0, p1, p2 }
-- Where the unique keys start among the keys: a task's unique-key index
-- counts from the first key (tasks), so uniques[1] is index 9.
local FIRST_UNIQUE = 9

-- Largest integer a Lua number holds exactly (2^53 - 1).
local MAX_EXACT = 9007199254740991

local function refuse(why)
  return refused('enqueue', why)
end

-- A decimal integer in 0..MAX_EXACT, or nil.
local function whole(text)
  if type(text) ~= 'string' or not string.match(text, '^%d+$') or #text > 16 then return nil end
  local v = tonumber(text)
  if v > MAX_EXACT then return nil end
  return v
end

local wake_channel, n = ARGV[1], whole(ARGV[2])
if not n or n < 1 or #ARGV ~= 2 + n * 5 then
  return refuse('expected n >= 1 and 5 arguments per task, got ' .. #ARGV .. ' arguments')
end

-- Checks: the keys written have the expected types (or do not exist).
local want = { [tasks] = 'hash', [scheduled] = 'zset', [seq] = 'string', [stats] = 'hash', [wakeup] = 'list' }
for _, key in ipairs(pending) do want[key] = 'list' end
for key, kind in pairs(want) do
  local t = wrong_type(key, kind)
  if t then return refuse(key .. ' is a ' .. t .. ', not a ' .. kind) end
end
local last = redis.call('GET', seq) or '0'
if not whole(last) then return refuse(seq .. ' holds ' .. last .. ', not a counter') end
last = tonumber(last)
local enqueued = redis.call('HGET', stats, 'enqueued')
if enqueued and not string.match(enqueued, '^%d+$') then
  return refuse(stats .. ' field enqueued holds ' .. enqueued .. ', not a counter')
end
local fresh = redis.call('EXISTS', stats) == 0

-- Checks: every task's arguments, and which unique keys already hold.
local now = nil
local claimed = {}          -- unique key -> local id taken earlier in this call
local claims = {}           -- key, id, ttl triples to write
local bodies, lists, sched, out = {}, { {}, {}, {} }, {}, {}
local added, waiting = 0, 0
for i = 0, n - 1 do
  local b = 3 + i * 5
  local what = 'task ' .. i .. ': '
  local level, when, ui, ttl, body = whole(ARGV[b]), ARGV[b + 1], whole(ARGV[b + 2]), ARGV[b + 3], ARGV[b + 4]
  if not level or level > 2 then return refuse(what .. 'priority level ' .. ARGV[b] .. ' is not 0, 1 or 2') end
  if header(body) ~= level then return refuse(what .. 'the record is not a task record of that priority') end
  local due = nil
  if when ~= '' then
    local ms = whole(string.sub(when, 2))
    local kind = string.sub(when, 1, 1)
    if not ms or (kind ~= '+' and kind ~= '@') then
      return refuse(what .. 'when ' .. when .. ' is not +<ms> or @<ms> below 2^53')
    end
    now = now or now_ms()
    if kind == '+' then due = now + ms else due = ms end
    if due <= now then due = nil end
  end
  if not ui or (ui ~= 0 and (ui < FIRST_UNIQUE or ui > FIRST_UNIQUE - 1 + #uniques)) then
    return refuse(what .. 'unique key index ' .. ARGV[b + 2] .. ' names no key')
  end
  local holder, unique = nil, nil
  if ui > 0 then
    unique = uniques[ui - FIRST_UNIQUE + 1]
    local ttl_ms = whole(ttl)
    if not ttl_ms or ttl_ms < 1 then return refuse(what .. 'unique TTL ' .. ttl .. ' is not 1..2^53 ms') end
    holder = claimed[unique] or redis.call('GET', unique)
  end
  if holder then
    out[#out + 1] = '=' .. holder
  else
    added = added + 1
    local id = base36(last + added)
    if unique then
      claimed[unique] = id
      claims[#claims + 1] = { unique, id, ttl }
    end
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = body
    if due then
      sched[#sched + 1] = int(due)
      sched[#sched + 1] = id
    else
      local list = lists[level + 1]
      list[#list + 1] = id
      waiting = waiting + 1
    end
    out[#out + 1] = id
  end
end

-- Writes.
if added > 0 then
  redis.call('INCRBY', seq, added)
  for _, c in ipairs(claims) do
    redis.call('SET', c[1], c[2], 'PX', c[3])
  end
  bulk('HSET', tasks, bodies)
  append_pending(pending, lists)
  if #sched > 0 then bulk('ZADD', scheduled, sched) end
  redis.call('HINCRBY', stats, 'enqueued', added)
  if waiting > 0 then wake(wakeup, wake_channel) end
  if fresh then out[#out + 1] = 'new' end
end
return out
