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
-- KEYS[11] cost HASH: the plugin cost histograms of the current window (cost:<n>)
-- KEYS[12..] run HASHes: each task's run hash (run:<local id>), in task order
-- ARGV[1] keep: 1 when final records are kept, 0 when not
-- ARGV[2] bucket number: the result bucket's number
-- ARGV[3] bucket width: ms
-- ARGV[4] result TTL: ms
-- ARGV[5] channel: completions channel ('' = do not announce)
-- ARGV[6] queue: the queue name, for the announcement
-- ARGV[7] n: the number of tasks
-- ARGV[8] run keep: ms a run hash is kept after its last write
-- ARGV[9] cost keep: ms the cost window is kept after its last write
-- ARGV[10..] tasks: 7 per task: id, lease token, final record tail
--   "<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>\n<output>",
--   encoded children ('' = none; see broker/outbox.rs), run tail
--   ('' = record no attempt; see broker/runs.rs), log, progress
-- A first attempt that logged nothing and reported no progress gets no run
-- hash: its final record holds its history (broker/runs.rs reads it there).
-- Returns n integers: 1 completed, 0 stale lease (expired and re-delivered,
-- or already settled). A stale task's children are not written: only the
-- run that completes the task commits its children. Completed ids are
-- announced in one message per call, "<queue> <local id> <local id> ...".
-- Checks (the outbox's type) come before the first write.
local active, lease, meta, tasks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cancel, stats, tp = KEYS[5], KEYS[6], KEYS[7]
local bucket, bucket_index, outbox = KEYS[8], KEYS[9], KEYS[10]
local cost = KEYS[11]
local runs = tail(KEYS, 12)
local rb = bucket_args(1, bucket, bucket_index)
local channel, queue, n, keep = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local cost_keep = tonumber(ARGV[9])
local FIRST, PER = 10, 7
if #runs ~= n or not keep or not cost_keep then
  return refused('ack', 'expected one run key per task, a run keep time and a cost keep time')
end

-- Checks: which leases still hold (one HMGET for the batch).
local ids = {}
for i = 0, n - 1 do ids[#ids + 1] = ARGV[FIRST + i * PER] end
local leases = redis.call('HMGET', lease, unpack(ids))
local now = now_ms()
local prefix = 'completed|' .. int(now) .. '|'
local done, records, children, out, attempts = {}, {}, {}, {}, {}
for i = 1, n do
  local base = FIRST + (i - 1) * PER
  local a, s = lease_of(leases[i], ARGV[base + 1])
  if a then
    done[#done + 1] = ids[i]
    attempts[#attempts + 1] = { i, a, s }
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
  local tails = {}
  for _, t in ipairs(attempts) do
    local base = FIRST + (t[1] - 1) * PER
    local run_tail, log, progress = ARGV[base + 4], ARGV[base + 5], ARGV[base + 6]
    tails[#tails + 1] = run_tail
    -- A clean first run (no log, no progress) has its history in its
    -- final record already: no run hash is written for it.
    if rb.keep and (t[2] > 1 or log ~= '' or progress ~= '') then
      record_run(runs[t[1]], t[2], t[3], now, run_tail, log, progress, keep)
    end
  end
  count_costs(cost, tails, now, cost_keep)
  count(stats, tp, 'completed', #done, now)
  if channel ~= '' then
    redis.call('PUBLISH', channel, queue .. ' ' .. table.concat(done, ' '))
  end
end
return out
