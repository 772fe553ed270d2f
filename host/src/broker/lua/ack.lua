-- ack.lua: completes leased tasks whose lease token still matches, and
-- commits the child tasks of each completed one to the queue's outbox.
-- KEYS[1] active ZSET: leased ids by lease deadline
-- KEYS[2] lease HASH: id -> lease value
-- KEYS[3] meta HASH: id -> meta of earlier attempts
-- KEYS[4] tasks HASH: id -> task body
-- KEYS[5] cancel SET: ids whose cancellation was requested
-- KEYS[6] stats HASH: the queue's counters
-- KEYS[7] throughput HASH: completed and failed per minute
-- KEYS[8] result bucket HASH: where the final records go
-- KEYS[9] result bucket index ZSET: the queue's result buckets
-- KEYS[10] outbox HASH: parent local id -> encoded children
-- ARGV[1] keep: 1 when final records are kept, 0 when not
-- ARGV[2] bucket number: the result bucket's number
-- ARGV[3] bucket width: ms
-- ARGV[4] result TTL: ms
-- ARGV[5] channel: completions channel ('' = do not announce)
-- ARGV[6] queue: the queue name, for the announcement
-- ARGV[7] n: the number of tasks
-- ARGV[8..] tasks: 4 per task: id, lease token, final record tail
--   "<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>\n<output>",
--   encoded children ('' = none; see broker/outbox.rs)
-- Returns n integers: 1 completed, 0 stale lease (expired and re-delivered,
-- or already settled). A stale task's children are not written: only the
-- run that completes the task commits its children. Completed ids are
-- announced in one message per call, "<queue> <local id> <local id> ...".
-- Checks (the outbox's type) come before the first write.
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cancel, stats, tp = KEYS[5], KEYS[6], KEYS[7]
local bucket, bucket_index, outbox = KEYS[8], KEYS[9], KEYS[10]
local rb = bucket_args(1, bucket, bucket_index)
local channel, queue, n = ARGV[5], ARGV[6], tonumber(ARGV[7])
local FIRST, PER = 8, 4

-- Checks: which leases still hold (one HMGET for the batch).
local ids = {}
for i = 0, n - 1 do ids[#ids + 1] = ARGV[FIRST + i * PER] end
local leases = redis.call('HMGET', lease, unpack(ids))
local now = now_ms()
local prefix = 'completed|' .. int(now) .. '|'
local done, records, children, out = {}, {}, {}, {}
for i = 1, n do
  local base = FIRST + (i - 1) * PER
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

-- Writes: the completed tasks leave every live structure, then their
-- children, records, counters and the announcement follow.
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
  if channel ~= '' then
    redis.call('PUBLISH', channel, queue .. ' ' .. table.concat(done, ' '))
  end
end
return out
