-- dead_list.lua: a page of the dead-letter set, newest first (read-only).
-- KEYS[1] dead ZSET: dead ids by time of death
-- KEYS[2] tasks HASH: id -> task body
-- KEYS[3] meta HASH: id -> meta
-- ARGV[1] offset: dead tasks to skip, newest first
-- ARGV[2] limit: dead tasks to return
-- Returns {total, id, died ms, meta or false, body header line or false, ...}.
local dead, tasks, meta = KEYS[1], KEYS[2], KEYS[3]
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])

local ids = redis.call('ZREVRANGE', dead, offset, offset + limit - 1, 'WITHSCORES')
local out = { redis.call('ZCARD', dead) }
for i = 1, #ids, 2 do
  local id = ids[i]
  local head = head_of(redis.call('HGET', tasks, id))
  out[#out + 1] = id
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGET', meta, id)
  out[#out + 1] = head
end
return out
