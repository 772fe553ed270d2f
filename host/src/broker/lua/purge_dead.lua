-- purge_dead.lua: deletes dead tasks for good.
-- KEYS[1] dead ZSET   KEYS[2] tasks HASH   KEYS[3] meta HASH
-- ARGV[1] 'one' or 'some'   ARGV[2] the local id ('one') or a limit ('some')
-- Returns the number deleted.
local ids
if ARGV[1] == 'one' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
  ids = { ARGV[2] }
else
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
if #ids > 0 then
  bulk('ZREM', KEYS[1], ids)
  bulk('HDEL', KEYS[2], ids)
  bulk('HDEL', KEYS[3], ids)
end
return #ids
