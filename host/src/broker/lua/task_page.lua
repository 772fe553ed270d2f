-- task_page.lua: one page of a queue's tasks in one live state, for the task
-- browser (read-only). Pages are offsets into the state's list or sorted set
-- (pending: p0, then p1, then p2, each in lease order; scheduled and retry:
-- soonest due first; active: soonest lease deadline first; dead: newest
-- first), so a page can shift by the tasks that moved in the meantime.
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] meta HASH: id -> meta
-- KEYS[3] pending p0 LIST: high priority ids
-- KEYS[4] pending p1 LIST: normal priority ids
-- KEYS[5] pending p2 LIST: low priority ids
-- KEYS[6] scheduled ZSET: delayed ids by due time
-- KEYS[7] retry ZSET: retry-waiting ids by due time
-- KEYS[8] active ZSET: leased ids by lease deadline
-- KEYS[9] dead ZSET: dead ids by time of death
-- KEYS[10] lease HASH: id -> lease value
-- ARGV[1] state: pending | scheduled | retry-wait | active | dead
-- ARGV[2] offset: tasks of the state to skip
-- ARGV[3] limit: tasks to return
-- ARGV[4] preview: payload bytes to return per task at most
-- Returns {total, id, score or false, meta or false, body head (header line
-- and at most `preview` payload bytes) or false, body length, lease value or
-- false, ...}.
local tasks, meta, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local scheduled, retry, active, dead, lease = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]

local state = ARGV[1]
local offset, limit, preview = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not (offset and limit and preview) or limit < 1 or limit > 1000 then
  return refused('task page', 'offset, limit (1-1000) and preview must be numbers')
end

local total, ids, scores = 0, {}, {}
if state == 'pending' then
  -- The three lists read as one, p0 first.
  local skip = offset
  for _, list in ipairs({ p0, p1, p2 }) do
    local n = redis.call('LLEN', list)
    total = total + n
    if #ids < limit and skip < n then
      local got = redis.call('LRANGE', list, skip, skip + (limit - #ids) - 1)
      for _, id in ipairs(got) do ids[#ids + 1] = id end
      skip = 0
    else
      skip = math.max(0, skip - n)
    end
  end
else
  local zsets = { scheduled = scheduled, ['retry-wait'] = retry, active = active, dead = dead }
  local zset = zsets[state]
  if not zset then
    return refused('task page', 'unknown state ' .. tostring(state))
  end
  total = redis.call('ZCARD', zset)
  local range = 'ZRANGE'
  if state == 'dead' then range = 'ZREVRANGE' end
  local got = redis.call(range, zset, offset, offset + limit - 1, 'WITHSCORES')
  for i = 1, #got, 2 do
    ids[#ids + 1] = got[i]
    scores[#ids] = got[i + 1]
  end
end

local out = { total }
for i, id in ipairs(ids) do
  local body = redis.call('HGET', tasks, id)
  local head, size = false, 0
  if body then
    size = #body
    local nl = string.find(body, '\n', 1, true)
    if nl and nl <= HEAD_MAX then head = string.sub(body, 1, nl + preview) end
  end
  out[#out + 1] = id
  out[#out + 1] = scores[i] or false
  out[#out + 1] = redis.call('HGET', meta, id)
  out[#out + 1] = head
  out[#out + 1] = size
  out[#out + 1] = redis.call('HGET', lease, id)
end
return out
