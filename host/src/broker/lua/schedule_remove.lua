-- schedule_remove.lua: removes a schedule with its next fire and state.
-- Tasks it already enqueued stay in their queues.
-- KEYS[1] defs HASH: name -> definition JSON
-- KEYS[2] next ZSET: name -> next fire ms
-- KEYS[3] state HASH: name -> "<last fire ms>|<fires>|<last task id>"
-- KEYS[4] paused SET: names of paused schedules
-- ARGV[1] name: the schedule's name
-- Returns 1 when removed, 0 when there was no such schedule.
local defs, nxt, state, paused = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name = ARGV[1]
if redis.call('HDEL', defs, name) == 0 then return 0 end
redis.call('ZREM', nxt, name)
redis.call('HDEL', state, name)
redis.call('SREM', paused, name)
return 1
