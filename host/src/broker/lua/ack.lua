-- ack.lua: completes leased tasks whose lease token still matches.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5] cancel SET    KEYS[6] stats HASH   KEYS[7] throughput HASH
-- KEYS[8] result bucket HASH   KEYS[9] result bucket index ZSET
-- ARGV[1..4] result bucket: keep 0/1, number, width ms, TTL ms
-- ARGV[5] completions channel ('' = do not announce)   ARGV[6] queue name
-- ARGV[7] n; then 3 per task: id, lease token, final record tail
--   "<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>\n<output>"
-- Returns n integers: 1 completed, 0 stale lease (expired and re-delivered,
-- or already settled). Completed ids are announced in one message per call,
-- "<queue> <local id> <local id> ...".
local rb = bucket_args(1, 8)
local n = tonumber(ARGV[7])
local ids = {}
for i = 0, n - 1 do ids[#ids + 1] = ARGV[8 + i * 3] end
local leases = redis.call('HMGET', KEYS[2], unpack(ids))
local now = now_ms()
local prefix = 'completed|' .. int(now) .. '|'
local done, records, out = {}, {}, {}
for i = 1, n do
  local base = 8 + (i - 1) * 3
  if lease_of(leases[i], ARGV[base + 1]) then
    done[#done + 1] = ids[i]
    records[#records + 1] = ids[i]
    records[#records + 1] = prefix .. ARGV[base + 2]
    out[i] = 1
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
  if rb.keep then
    bulk('HSET', rb.key, records)
    touch_bucket(rb, now)
  end
  count(KEYS[6], KEYS[7], 'completed', #done, now)
  if ARGV[5] ~= '' then
    redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. table.concat(done, ' '))
  end
end
return out
