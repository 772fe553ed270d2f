-- ack.lua: completes leased tasks whose lease token still matches, and
-- commits the child tasks of each completed one to the queue's outbox.
-- KEYS[1] active ZSET
-- KEYS[2] lease HASH
-- KEYS[3] meta HASH
-- KEYS[4] tasks HASH
-- KEYS[5] cancel SET
-- KEYS[6] stats HASH
-- KEYS[7] throughput HASH
-- KEYS[8] result bucket HASH
-- KEYS[9] result bucket index ZSET
-- KEYS[10] outbox HASH (parent local id -> encoded children)
-- ARGV[1..4] result bucket: keep 0/1, number, width ms, TTL ms
-- ARGV[5] completions channel ('' = do not announce)   ARGV[6] queue name
-- ARGV[7] n; then 4 per task: id, lease token, final record tail
--   "<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>\n<output>",
--   encoded children ('' = none; see broker/outbox.rs)
-- Returns n integers: 1 completed, 0 stale lease (expired and re-delivered,
-- or already settled). A stale task's children are not written: only the
-- run that completes the task commits its children. Completed ids are
-- announced in one message per call, "<queue> <local id> <local id> ...".
-- Checks (the outbox's type) come before the first write.
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cancel, stats, tp, outbox = KEYS[5], KEYS[6], KEYS[7], KEYS[10]
local rb = bucket_args(1, 8)
local n = tonumber(ARGV[7])
local ids = {}
for i = 0, n - 1 do ids[#ids + 1] = ARGV[8 + i * 4] end
local leases = redis.call('HMGET', lease, unpack(ids))
local now = now_ms()
local prefix = 'completed|' .. int(now) .. '|'
local done, records, children, out = {}, {}, {}, {}
for i = 1, n do
  local base = 8 + (i - 1) * 4
  if lease_of(leases[i], ARGV[base + 1]) then
    done[#done + 1] = ids[i]
    records[#records + 1] = ids[i]
    records[#records + 1] = prefix .. ARGV[base + 2]
    if ARGV[base + 3] ~= '' then
      children[#children + 1] = ids[i]
      children[#children + 1] = ARGV[base + 3]
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
if #children > 0 then check_type(outbox, 'hash') end
if #done > 0 then
  bulk('ZREM', active, done)
  bulk('HDEL', lease, done)
  bulk('HDEL', meta, done)
  bulk('HDEL', tasks, done)
  bulk('SREM', cancel, done)
  if #children > 0 then bulk('HSET', outbox, children) end
  if rb.keep then
    bulk('HSET', rb.key, records)
    touch_bucket(rb, now)
  end
  count(stats, tp, 'completed', #done, now)
  if ARGV[5] ~= '' then
    redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. table.concat(done, ' '))
  end
end
return out
