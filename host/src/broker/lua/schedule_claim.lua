-- schedule_claim.lua: claims the fire a host saw due, by moving the
-- schedule's next fire on, only if it still is that fire. The host enqueued
-- the fire's task (deduplicated by a unique key made of the name and fire
-- time) before calling this, so a host that died in between leaves the
-- claim to the next one, whose enqueue returns the same task.
-- KEYS[1] next ZSET: name -> next fire ms
-- KEYS[2] state HASH: name -> "<last fire ms>|<fires>|<last task id>"
-- ARGV[1] name: the schedule's name
-- ARGV[2] fire: the fire claimed (ms, as read from next)
-- ARGV[3] after: the fire after it (ms), or '' when the expression has none
-- ARGV[4] task: the task id enqueued, or '' when the fire was skipped
-- Returns 1 when claimed, 0 when another host claimed it (or the schedule
-- was paused or removed) first: nothing written then.
local nxt, state = KEYS[1], KEYS[2]
local name, fire, after, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local current = redis.call('ZSCORE', nxt, name)
if not current or tonumber(current) ~= tonumber(fire) then return 0 end
if after == '' then
  redis.call('ZREM', nxt, name)
else
  redis.call('ZADD', nxt, after, name)
end
if task ~= '' then
  local fires = 0
  local old = redis.call('HGET', state, name)
  if old then fires = tonumber(string.match(old, '^%d*|(%d+)|') or '0') end
  redis.call('HSET', state, name, fire .. '|' .. int(fires + 1) .. '|' .. task)
end
return 1
