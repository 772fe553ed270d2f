-- ack.lua: completes leased tasks whose lease token still matches.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5] cancel SET    KEYS[6] stats HASH   KEYS[7] throughput HASH
-- KEYS[8..] final-record STRINGs r:<id>, one per task, in order (only when ARGV[1] > 0)
-- ARGV[1] record TTL ms (0 = keep no record)   ARGV[2] n
-- then 3 per task: id, lease token, record tail
--   "<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>\n<output>"
-- Returns n integers: 1 completed, 0 stale lease (expired and re-delivered,
-- or already settled).
local ttl = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local ids = {}
for i = 0, n - 1 do ids[#ids + 1] = ARGV[3 + i * 3] end
local tokens = redis.call('HMGET', KEYS[2], unpack(ids))
local now = now_ms()
local done, out = {}, {}
for i = 1, n do
  if tokens[i] and tokens[i] == ARGV[3 + (i - 1) * 3 + 1] then
    done[#done + 1] = ids[i]
    out[i] = 1
    if ttl > 0 then
      redis.call('SET', KEYS[7 + i], 'completed|' .. int(now) .. '|' .. ARGV[3 + (i - 1) * 3 + 2], 'PX', ttl)
    end
  else
    out[i] = 0
  end
end
if #done > 0 then
  bulk('ZREM', KEYS[1], done)
  bulk('HDEL', KEYS[2], done)
  bulk('HDEL', KEYS[3], done)
  bulk('HDEL', KEYS[4], done)
  bulk('SREM', KEYS[5], done)
  count(KEYS[6], KEYS[7], 'completed', #done, now)
end
return out
