-- prelude_queue.lua: the second half of the prelude (see prelude.lua, which
-- comes first and whose helpers these use): burying, setting aside and
-- trimming tasks, checking a queue's key types, and the due, reap and trim
-- passes of maintenance. scripts.rs prepends both files to every script.

-- Moves a task to the dead set, keeping the reason and last error in meta.
local function bury(dead, meta, stats, id, now, attempt, started, version, reason, err)
  redis.call('ZADD', dead, now, id)
  redis.call('HSET', meta, id, meta_join(attempt, started, int(now), version, reason, err))
  redis.call('HINCRBY', stats, 'dead', 1)
end

-- Sets a foreign or malformed member aside: remembered in the garbage list,
-- counted, and buried with reason 'malformed'.
local function set_aside(garbage, dead, meta, stats, id, now, why)
  redis.call('RPUSH', garbage, id)
  redis.call('LTRIM', garbage, -GARBAGE_KEEP, -1)
  redis.call('HINCRBY', stats, 'garbage', 1)
  local a, s, _, v = meta_parse(redis.call('HGET', meta, id))
  bury(dead, meta, stats, id, now, a, s, v, 'malformed', 'malformed task record: ' .. why)
  redis.log(redis.LOG_WARNING, 'wasmq: set aside malformed task ' .. id .. ': ' .. why)
end

-- Drops dead tasks beyond the age and count bounds, at most `limit` per call.
local function trim_dead(dead, tasks, meta, max_count, max_age, now, limit)
  local drop = redis.call('ZRANGEBYSCORE', dead, '-inf', '(' .. int(now - max_age), 'LIMIT', 0, limit)
  local excess = redis.call('ZCARD', dead) - #drop - max_count
  if excess > 0 and #drop < limit then
    local more = redis.call('ZRANGE', dead, #drop, #drop + math.min(excess, limit - #drop) - 1)
    for _, id in ipairs(more) do drop[#drop + 1] = id end
  end
  if #drop > 0 then
    bulk('ZREM', dead, drop)
    bulk('HDEL', tasks, drop)
    bulk('HDEL', meta, drop)
  end
  return #drop
end

-- Writes the final record of a cancelled task (when records are kept) and
-- forgets its body and meta. `attempt`/`started` come from its lease when
-- it was active, else from its meta.
local function finish_cancelled(rb, tasks, meta, stats, id, now, attempt, started)
  local body = redis.call('HGET', tasks, id)
  local a, s, _, v = meta_parse(redis.call('HGET', meta, id))
  if attempt then a, s = attempt, started end
  keep_record(rb, id, 'cancelled|' .. int(now) .. '|' .. int(a) .. '|' .. enqueued_at(body) .. '|' .. s .. '|||' .. v .. '|\n')
  touch_bucket(rb, now)
  redis.call('HDEL', tasks, id)
  redis.call('HDEL', meta, id)
  redis.call('HINCRBY', stats, 'cancelled', 1)
end

-- Maintenance steps, shared by promote.lua, reap.lua, trim.lua and
-- maintain.lua (promote and reap, and trim when asked, in one call per queue
-- and tick). A script first reads what is due (`due_ids`), then checks the
-- types of the keys it will write (`check_keys`), then moves: a foreign
-- value in one of a queue's keys fails the call before anything moved.
--
-- `q` names a queue's keys (a script sets those it has): scheduled, retry,
-- active, dead (ZSET); tasks, lease, meta, stats, tp (HASH); cancel (SET);
-- wake, garbage (LIST); pending = { p0, p1, p2 } (LISTs); and wake_channel,
-- the channel that announces a wake (the script's ARGV[1], see wake).

local KEY_TYPES = {
  scheduled = 'zset', retry = 'zset', active = 'zset', dead = 'zset',
  tasks = 'hash', lease = 'hash', meta = 'hash', stats = 'hash', tp = 'hash',
  cancel = 'set', wake = 'list', garbage = 'list',
}

-- The type `key` holds when it exists and is not a `want`; nil otherwise.
local function wrong_type(key, want)
  local got = redis.call('TYPE', key)['ok']
  if got ~= 'none' and got ~= want then return got end
  return nil
end

-- Fails the script unless `key` is missing or a `want`.
local function check_type(key, want)
  local got = wrong_type(key, want)
  if got then
    error({ err = 'WRONGTYPE wasmq: ' .. key .. ' holds a ' .. got .. ', not a ' .. want })
  end
end

-- Fails the script unless every key of `q` (and of result bucket `rb` when
-- records are kept) is missing or of its type. Called only before writes,
-- so an idle queue costs no TYPE call.
local function check_keys(q, rb)
  for name, want in pairs(KEY_TYPES) do
    if q[name] then check_type(q[name], want) end
  end
  for _, key in ipairs(q.pending or {}) do check_type(key, 'list') end
  if rb and rb.keep then
    check_type(rb.key, 'hash')
    check_type(rb.index, 'zset')
  end
end

-- Leaves a wake token (prelude's wake) when one of the `pending` lists holds
-- work and the wake list `key` holds no token: a token taken by a host that
-- then did not lease (it died, shut down, or had no room) is otherwise
-- lost, and hosts that found the queue empty wait for a token before they
-- look at it again (worker/leaser.rs). The `LLEN`s refuse a key of another
-- type before anything is written. Returns 1 when it left a token, 0 when
-- none was needed.
local function wake_pending(pending, key, channel)
  if redis.call('LLEN', key) > 0 or not has_pending(pending) then return 0 end
  wake(key, channel)
  return 1
end

-- Up to `limit` members of a sorted set whose score (due time or lease
-- deadline) has passed.
local function due_ids(zset, now, limit)
  return redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, limit)
end

-- Moves due ids of the scheduled and retry sets to the back of their
-- priority lists; members without a valid body are set aside.
-- Returns promoted, set aside.
local function promote_ids(q, scheduled, retry, now)
  local promoted, bad = 0, 0
  local lists = { {}, {}, {} }
  for _, batch in ipairs({ { q.scheduled, scheduled }, { q.retry, retry } }) do
    local zset, ids = batch[1], batch[2]
    if #ids > 0 then
      bulk('ZREM', zset, ids)
      local bodies = redis.call('HMGET', q.tasks, unpack(ids))
      for j, id in ipairs(ids) do
        local level = header(bodies[j])
        if level then
          local list = lists[level + 1]
          list[#list + 1] = id
          promoted = promoted + 1
        else
          set_aside(q.garbage, q.dead, q.meta, q.stats, id, now,
            bodies[j] and 'the stored body has no valid header' or 'no stored body for this id')
          bad = bad + 1
        end
      end
    end
  end
  append_pending(q.pending, lists)
  if promoted > 0 then wake(q.wake, q.wake_channel) end
  return promoted, bad
end

-- Takes back the expired leases `ids`: each task goes back to the front of
-- its priority list with the attempt counted, or to the dead set after its
-- last attempt, or becomes cancelled if cancellation was requested.
-- Returns requeued, buried, cancelled.
local function reap_ids(q, rb, ids, dead_max_count, dead_max_age, now)
  local requeued, buried, cancelled = 0, 0, 0
  for _, id in ipairs(ids) do
    local a, s = lease_of(redis.call('HGET', q.lease, id))
    redis.call('ZREM', q.active, id)
    redis.call('HDEL', q.lease, id)
    redis.call('HINCRBY', q.stats, 'expired', 1)
    count(q.stats, q.tp, 'failed', 1, now)
    local m, _, _, v = meta_parse(redis.call('HGET', q.meta, id))
    if not a then
      -- An active member without a lease value: count it as one more attempt.
      a, s = m + 1, ''
    end
    if redis.call('SREM', q.cancel, id) == 1 then
      finish_cancelled(rb, q.tasks, q.meta, q.stats, id, now, a, s)
      cancelled = cancelled + 1
    else
      local level, max_retries = header(redis.call('HGET', q.tasks, id))
      if not level then
        set_aside(q.garbage, q.dead, q.meta, q.stats, id, now, 'the stored body has no valid header')
        buried = buried + 1
      elseif a >= max_retries + 1 then
        bury(q.dead, q.meta, q.stats, id, now, a, s, v, 'lease-expired',
          'the lease expired on the last attempt (' .. int(a) .. '): its host died, hung or lost Redis')
        buried = buried + 1
      else
        redis.call('HSET', q.meta, id, meta_join(a, s, '', v, '',
          'the lease expired on attempt ' .. int(a) .. ': its host died, hung or lost Redis'))
        redis.call('LPUSH', q.pending[level + 1], id)
        requeued = requeued + 1
      end
    end
  end
  if requeued > 0 then wake(q.wake, q.wake_channel) end
  if buried > 0 then
    trim_dead(q.dead, q.tasks, q.meta, dead_max_count, dead_max_age, now, DEAD_TRIM_LIMIT)
  end
  return requeued, buried, cancelled
end

-- Drops dead tasks beyond the age and count bounds and throughput minutes
-- older than `retention` minutes, at most `limit` of each.
-- Returns dead tasks dropped, minutes trimmed.
local function trim_queue(q, max_count, max_age, retention, limit, now)
  local dropped = trim_dead(q.dead, q.tasks, q.meta, max_count, max_age, now, limit)
  local minutes = 0
  local lo = tonumber(redis.call('HGET', q.tp, 'lo'))
  if lo then
    local stop = math.min(math.floor(now / MINUTE_MS) - retention, lo + limit)
    while lo < stop do
      redis.call('HDEL', q.tp, 'c:' .. int(lo), 'f:' .. int(lo))
      lo = lo + 1
      minutes = minutes + 1
    end
    if minutes > 0 then redis.call('HSET', q.tp, 'lo', int(lo)) end
  end
  return dropped, minutes
end
