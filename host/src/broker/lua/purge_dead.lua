-- purge_dead.lua: deletes dead tasks for good.
-- KEYS[1] dead ZSET: dead ids by time of death
-- KEYS[2] tasks HASH: id -> task body
-- KEYS[3] meta HASH: id -> meta
-- ARGV[1] mode: 'one' or 'some'
-- ARGV[2] what: the local id ('one') or a limit on the oldest ('some')
-- Returns the number deleted.
local dead, tasks, meta = KEYS[1], KEYS[2], KEYS[3]

local ids = pick_dead(dead, ARGV[1], ARGV[2])
if not ids then return 0 end
if #ids > 0 then
  bulk('ZREM', dead, ids)
  bulk('HDEL', tasks, ids)
  bulk('HDEL', meta, ids)
end
return #ids
