-- enqueue.lua: adds one or more tasks to one queue, atomically.
-- KEYS[1] tasks HASH   KEYS[2..4] pending p0 p1 p2 LISTs   KEYS[5] scheduled ZSET
-- KEYS[6] seq STRING   KEYS[7] stats HASH   KEYS[8] wake LIST
-- KEYS[9..] unique-key STRINGs (u:<key>), one per task that has one
-- ARGV[1] n; then 5 per task: priority level (0-2), when ('' now | '+<ms>'
--   delay on Redis's clock | '@<ms>' absolute), index of its unique key in
--   KEYS (0 = none), unique TTL ms, record (header + payload)
-- Returns n strings: the new local id, or '=' .. the existing local id when
-- the unique key already held.
local n = tonumber(ARGV[1])
local last = redis.call('INCRBY', KEYS[6], n)
local first = last - n + 1
local now = nil
local bodies, lists, sched, out = {}, { {}, {}, {} }, {}, {}
local added, pending = 0, 0
for i = 0, n - 1 do
  local b = 2 + i * 5
  local level, when, ui = tonumber(ARGV[b]), ARGV[b + 1], tonumber(ARGV[b + 2])
  local id = base36(first + i)
  local dup = false
  if ui > 0 and not redis.call('SET', KEYS[ui], id, 'NX', 'PX', ARGV[b + 3]) then
    dup = redis.call('GET', KEYS[ui])
  end
  if dup then
    out[#out + 1] = '=' .. dup
  else
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = ARGV[b + 4]
    local due = nil
    if when ~= '' then
      now = now or now_ms()
      local ms = tonumber(string.sub(when, 2))
      if string.sub(when, 1, 1) == '+' then due = now + ms else due = ms end
      if due <= now then due = nil end
    end
    if due then
      sched[#sched + 1] = int(due)
      sched[#sched + 1] = id
    else
      local list = lists[level + 1]
      list[#list + 1] = id
      pending = pending + 1
    end
    out[#out + 1] = id
    added = added + 1
  end
end
if added > 0 then
  bulk('HSET', KEYS[1], bodies)
  for level = 1, 3 do
    if #lists[level] > 0 then bulk('RPUSH', KEYS[level + 1], lists[level]) end
  end
  if #sched > 0 then bulk('ZADD', KEYS[5], sched) end
  redis.call('HINCRBY', KEYS[7], 'enqueued', added)
  if pending > 0 then wake(KEYS[8]) end
end
return out
