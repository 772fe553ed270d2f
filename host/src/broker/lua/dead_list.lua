-- dead_list.lua: a page of the dead-letter set, newest first (read-only).
-- KEYS[1] dead ZSET   KEYS[2] tasks HASH   KEYS[3] meta HASH
-- ARGV[1] offset   ARGV[2] limit
-- Returns {total, id, died ms, meta or false, body header line or false, ...}.
local ids = redis.call('ZREVRANGE', KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1, 'WITHSCORES')
local out = { redis.call('ZCARD', KEYS[1]) }
for i = 1, #ids, 2 do
  local id = ids[i]
  local body = redis.call('HGET', KEYS[2], id)
  local head = false
  if body then
    local nl = string.find(body, '\n', 1, true)
    if nl and nl <= 128 then head = string.sub(body, 1, nl - 1) end
  end
  out[#out + 1] = id
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[3], id)
  out[#out + 1] = head
end
return out
