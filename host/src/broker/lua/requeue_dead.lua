-- requeue_dead.lua: re-drives dead tasks: each goes back to the end of its
-- priority list with a fresh attempt count. Dead entries with no usable body
-- (set aside as malformed) cannot run again and are dropped instead.
-- KEYS[1] dead ZSET   KEYS[2] tasks HASH   KEYS[3] meta HASH
-- KEYS[4..6] pending p0 p1 p2 LISTs   KEYS[7] wake LIST   KEYS[8] stats HASH
-- ARGV[1] 'one' or 'some'   ARGV[2] the local id ('one') or a limit ('some')
-- Returns {requeued, dropped}.
local ids
if ARGV[1] == 'one' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return { 0, 0 } end
  ids = { ARGV[2] }
else
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
local requeued, dropped = 0, 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[3], id)
  local level = header(redis.call('HGET', KEYS[2], id))
  if level then
    redis.call('RPUSH', KEYS[4 + level], id)
    requeued = requeued + 1
  else
    redis.call('HDEL', KEYS[2], id)
    dropped = dropped + 1
  end
end
if requeued > 0 then
  redis.call('HINCRBY', KEYS[8], 'redriven', requeued)
  wake(KEYS[7])
end
return { requeued, dropped }
