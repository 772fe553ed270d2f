-- schedule_add.lua: adds a schedule, or refuses one whose name is taken.
-- The host validated the definition and computed its first fire.
-- KEYS[1] defs HASH: name -> definition JSON
-- KEYS[2] next ZSET: name -> next fire ms (active schedules only)
-- KEYS[3] state HASH: name -> "<last fire ms>|<fires>|<last task id>"
-- KEYS[4] paused SET: names of paused schedules
-- ARGV[1] name: the schedule's name
-- ARGV[2] definition: its definition JSON
-- ARGV[3] first fire: ms
-- Returns 1 when added, 0 when the name is taken (nothing written).
local defs, nxt, state, paused = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, def, first = ARGV[1], ARGV[2], ARGV[3]
if not string.match(first, '^%d+$') then
  return refused('schedule add', 'first fire ' .. first)
end
if redis.call('HEXISTS', defs, name) == 1 then return 0 end
redis.call('HSET', defs, name, def)
redis.call('ZADD', nxt, first, name)
redis.call('HDEL', state, name)
redis.call('SREM', paused, name)
return 1
