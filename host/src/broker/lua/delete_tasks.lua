-- delete_tasks.lua: deletes pending, scheduled or retry-waiting tasks for
-- good (the task browser's "delete"): body, meta and their place in the
-- state's list or set, with no final record (cancel keeps one; dead tasks
-- are deleted by purge_dead.lua). An id not in that state is skipped.
-- KEYS[1] tasks HASH: id -> task body
-- KEYS[2] meta HASH: id -> meta
-- KEYS[3] pending p0 LIST: high priority ids
-- KEYS[4] pending p1 LIST: normal priority ids
-- KEYS[5] pending p2 LIST: low priority ids
-- KEYS[6] scheduled ZSET: delayed ids by due time
-- KEYS[7] retry ZSET: retry-waiting ids by due time
-- KEYS[8] stats HASH: the queue's counters ('deleted')
-- ARGV[1] state: pending | scheduled | retry-wait
-- ARGV[2] mode: 'ids' or 'some'
-- ARGV[3..] what: the local ids ('ids'), or a limit of 1-1000 on the first of the state ('some')
-- Returns {deleted, skipped}.
local tasks, meta, p0, p1, p2 = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local scheduled, retry, stats = KEYS[6], KEYS[7], KEYS[8]
local pending = { p0, p1, p2 }

local state = ARGV[1]
local zsets = { scheduled = scheduled, ['retry-wait'] = retry }
local ids
if state == 'pending' then
  ids = picked(pending, 'lists', tail(ARGV, 2))
elseif zsets[state] then
  ids = picked(zsets[state], 'zset', tail(ARGV, 2))
else
  return refused('delete tasks', 'state must be pending, scheduled or retry-wait')
end
if not ids then return refused('delete tasks', 'mode must be ids or some with a limit of 1-1000') end
-- Checks first: where each id is.
local found, skipped = {}, 0
for _, id in ipairs(ids) do
  local where = false
  if state == 'pending' then
    local level = header(redis.call('HGET', tasks, id))
    if level and redis.call('LPOS', pending[level + 1], id) then where = pending[level + 1] end
  elseif redis.call('ZSCORE', zsets[state], id) then
    where = zsets[state]
  end
  if where then found[#found + 1] = { id, where } else skipped = skipped + 1 end
end
-- Writes.
for _, f in ipairs(found) do
  if state == 'pending' then
    redis.call('LREM', f[2], 1, f[1])
  else
    redis.call('ZREM', f[2], f[1])
  end
  redis.call('HDEL', tasks, f[1])
  redis.call('HDEL', meta, f[1])
end
if #found > 0 then redis.call('HINCRBY', stats, 'deleted', #found) end
return { #found, skipped }
