-- schedule_pause.lua: pauses or resumes a schedule. Pausing takes it out of
-- the next-fire set, so no host sees it due; resuming puts it back with the
-- first fire after now (computed by the host), so fires due while paused
-- are not made up.
-- KEYS[1] defs HASH: name -> definition JSON
-- KEYS[2] next ZSET: name -> next fire ms
-- KEYS[3] paused SET: names of paused schedules
-- ARGV[1] name: the schedule's name
-- ARGV[2] what: 'pause', or the next fire ms to resume with
-- Returns 1 when changed, 0 when it was already so, -1 when no such schedule.
local defs, nxt, paused = KEYS[1], KEYS[2], KEYS[3]
local name, what = ARGV[1], ARGV[2]
if what ~= 'pause' and not string.match(what, '^%d+$') then
  return refused('schedule resume', 'next fire ' .. what)
end
if redis.call('HEXISTS', defs, name) == 0 then return -1 end
if what == 'pause' then
  if redis.call('SADD', paused, name) == 0 then return 0 end
  redis.call('ZREM', nxt, name)
  return 1
end
if redis.call('SREM', paused, name) == 0 then return 0 end
redis.call('ZADD', nxt, what, name)
return 1
