-- lease.lua: leases up to `count` pending tasks, highest priority first,
-- within the queue's rate limit and global concurrency cap.
-- KEYS[1] pending p0 LIST: high priority ids
-- KEYS[2] pending p1 LIST: normal priority ids
-- KEYS[3] pending p2 LIST: low priority ids
-- KEYS[4] active ZSET: leased ids by lease deadline
-- KEYS[5] lease HASH: id -> lease value
-- KEYS[6] meta HASH: id -> meta of earlier attempts
-- KEYS[7] tasks HASH: id -> task body
-- KEYS[8] paused STRING: exists while the queue is paused
-- KEYS[9] wake LIST: wake-up tokens for blocked consumers
-- KEYS[10] dead ZSET: dead ids by time of death
-- KEYS[11] garbage LIST: the last ids set aside as malformed
-- KEYS[12] stats HASH: the queue's counters
-- KEYS[13] limits HASH: rate, period, burst, concurrency
-- KEYS[14] rl STRING: GCRA theoretical arrival time, µs
-- KEYS[15] throttle STRING: exists while leasing is throttled
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] count: the most tasks to lease (1 to MAX_BATCH, broker/options.rs)
-- ARGV[3] token: the lease token
-- ARGV[4] duration: the lease duration, ms
-- ARGV[5] default rate: tasks per period, from the manifest ('0' = none);
--   this and the next three apply only when the limits hash does not exist
-- ARGV[6] default period: ms
-- ARGV[7] default burst: tasks
-- ARGV[8] default concurrency: tasks leased at once on all hosts ('0' = none)
-- ARGV[9] cap wait: ms to wait when the concurrency cap is reached
-- Returns {-1} when the queue is paused; {-2, wait ms} when a limit or a
-- throttle allows nothing now; else
-- {now ms, {ids set aside as malformed}, wait ms, first, id, attempt, body,
-- ...} where wait ms > 0 says the rate limit is used up until then and
-- first = 1 when no lease was held before this one (the caller then marks
-- the queue in its due index, broker/due.rs).
-- The attempt (meta's count + 1) and start time live in the lease value
-- "<token>|<attempt>|<started>"; meta is only rewritten when the task leaves
-- the active set other than by an ack.
local p0, p1, p2, active, leasekey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local meta, tasks, paused, wakekey = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local dead, garbagekey, stats = KEYS[10], KEYS[11], KEYS[12]
local limits, rl, throttle = KEYS[13], KEYS[14], KEYS[15]
local pending = { p0, p1, p2 }
local wake_channel = ARGV[1]
local want, token, duration, cap_wait = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[9])

-- Pause and throttle first: they cost one read each and forbid everything.
if redis.call('EXISTS', paused) == 1 then return { -1 } end
local held = redis.call('PTTL', throttle)
if held > 0 then return { -2, held } end
-- The limits in Redis win over the manifest's defaults, even when empty.
local rate, period, burst, cap
if redis.call('EXISTS', limits) == 1 then
  local l = redis.call('HMGET', limits, 'rate', 'period', 'burst', 'concurrency')
  rate, period, burst, cap = tonumber(l[1]), tonumber(l[2]), tonumber(l[3]), tonumber(l[4])
else
  rate, period, burst, cap = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
end
-- The concurrency cap bounds the batch before the rate limit, which is
-- only charged for what is really leased.
if cap and cap > 0 then
  local free = cap - redis.call('ZCARD', active)
  if free <= 0 then return { -2, cap_wait } end
  if free < want then want = free end
end
-- GCRA: how many tasks the rate allows now (TAT in µs, by Redis's clock).
local us = now_us()
local interval, tat, allowed
if rate and rate > 0 and period and period > 0 then
  burst = math.max(burst or 1, 1)
  interval = period * 1000 / rate
  tat = math.max(tonumber(redis.call('GET', rl)) or 0, us)
  allowed = math.floor((us + burst * interval - tat) / interval + 1e-9)
  if allowed <= 0 then
    return { -2, math.max(1, math.ceil((tat - (burst - 1) * interval - us) / 1000)) }
  end
  if allowed < want then want = allowed end
end

-- Pop ids, highest priority first; a member without a valid body is set
-- aside instead of leased, and does not count against the batch.
local now = math.floor(us / 1000)
local deadline = int(now + duration)
local suffix = '|' .. int(now)
local out = { now, {}, 0, 0 }
if redis.call('ZCARD', active) == 0 then out[4] = 1 end
local garbage = out[2]
local actives, leases = {}, {}
local taken = 0
for level = 1, 3 do
  while want > 0 do
    local ids = redis.call('LPOP', pending[level], want)
    if not ids then break end
    local bodies = redis.call('HMGET', tasks, unpack(ids))
    local old = redis.call('HMGET', meta, unpack(ids))
    for j, id in ipairs(ids) do
      local body = bodies[j]
      if header(body) then
        local a = 1
        if old[j] then a = meta_parse(old[j]) + 1 end
        actives[#actives + 1] = deadline
        actives[#actives + 1] = id
        leases[#leases + 1] = id
        leases[#leases + 1] = token .. '|' .. a .. suffix
        out[#out + 1] = id
        out[#out + 1] = a
        out[#out + 1] = body
        want = want - 1
        taken = taken + 1
      else
        set_aside(garbagekey, dead, meta, stats, id, now,
          body and 'the stored body has no valid header' or 'no stored body for this id')
        garbage[#garbage + 1] = id
      end
    end
  end
end
-- Write the leases in bulk, once every id is known.
if #actives > 0 then
  bulk('ZADD', active, actives)
  bulk('HSET', leasekey, leases)
end
-- Charge the rate limit for what was taken, and say how long it is used up.
if interval and taken > 0 then
  tat = tat + taken * interval
  -- Once TAT is past, the key says nothing an absent one would not.
  redis.call('SET', rl, string.format('%.3f', tat), 'PX', math.ceil((tat - us) / 1000) + 1000)
  if taken >= allowed then
    out[3] = math.max(1, math.ceil((tat - (burst - 1) * interval - us) / 1000))
  end
end
-- Chain-wake: work remains, so let another idle consumer look (not when
-- the rate limit is used up: it would only be told to wait). When none
-- remains, a token still in the wake list would only wake a consumer for
-- nothing, and would keep the next wake from being announced (prelude's
-- wake announces a push into an empty list): drop it.
if out[3] == 0 then
  if has_pending(pending) then wake(wakekey, wake_channel) else redis.call('DEL', wakekey) end
end
return out
