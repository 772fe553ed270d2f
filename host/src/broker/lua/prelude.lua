-- prelude.lua: helpers shared by every wasmq script. scripts.rs prepends this
-- file, then prelude_queue.lua (the helpers that move tasks between a
-- queue's states, which build on these), to each script; it touches no key by itself and never reads KEYS:
-- each script names its keys once at the top of its body and hands them
-- to these helpers (scripts/lint.rs checks both).
--
-- Formats (see docs/keys.md):
--   task body   "1|<prio>|<max retries>|<timeout ms>|<fuel>|<enqueued ms>\n<payload>"
--   lease       "<token>|<attempt>|<started ms>"  (lease hash, while active)
--   meta        "<attempt>|<last started ms>|<finished ms>|<plugin version>|<reason>|<last error>"
--               (written when a task leaves active other than by ack)
--   final rec.  "<state>|<finished ms>|<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>[|<peak memory>]\n<output>"
--               (a field of the current result bucket hash)
-- Times are Redis's own clock (TIME), so hosts with skewed clocks agree on
-- lease deadlines and due times.

-- Limits shared by the helpers below and the scripts.
local GARBAGE_KEEP = 1000    -- ids the garbage list keeps (the newest)
local DEAD_TRIM_LIMIT = 100  -- dead tasks a call that buries one trims at most
local BULK_SLICE = 1000      -- items per redis.call in bulk() (Lua's unpack limit)
local MINUTE_MS = 60000      -- a throughput bucket, ms (broker/stats.rs MINUTE_MS)
local HEAD_MAX = 128         -- longest body header line a read-only script returns
local ATTEMPTS_KEPT = 25     -- attempts a task's run hash keeps (broker/runs.rs)
local LOGS_KEPT = 5          -- attempt logs a task's run hash keeps (broker/runs.rs)

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Redis's clock in microseconds (exact in a double until the year 2255).
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Integer to decimal text without Lua's exponent notation.
local function int(n)
  return string.format('%d', n)
end

local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function base36(n)
  if n == 0 then return '0' end
  local s = ''
  while n > 0 do
    local r = n % 36
    s = string.sub(DIGITS, r + 1, r + 1) .. s
    n = (n - r) / 36
  end
  return s
end

-- Attempt and started ms of a lease value, if `token` holds it (any token
-- when `token` is nil); nil otherwise.
local function lease_of(v, token)
  if not v then return nil end
  local t, a, s = string.match(v, '^([^|]+)|(%d+)|(%d*)$')
  if not t or (token and t ~= token) then return nil end
  return tonumber(a), s
end

-- Records a final record in the current result bucket (when results are
-- kept); touch_bucket then lists the bucket in its index.
-- rb = {key, index, keep, number, width, ttl} (see bucket_args)
local function keep_record(rb, id, rec)
  if not rb.keep then return end
  redis.call('HSET', rb.key, id, rec)
end

-- Lists the bucket in its index and sets its safety expiry, by Redis's
-- clock. The host named the bucket from its estimate of Redis's clock
-- (broker/clock.rs); when that named a bucket older than the one TIME is
-- in, the index score is raised to the current bucket's start, so trimming
-- by score (trim_results.lua) still keeps every record for the TTL. Scores
-- never go down; the expiry, one width past when trimming may delete the
-- bucket, follows the score.
local function touch_bucket(rb, now)
  if not rb.keep then return end
  local score = math.max(tonumber(rb.number) * rb.width, now - now % rb.width)
  local old = tonumber(redis.call('ZSCORE', rb.index, rb.number))
  if old and old >= score then
    score = old
  else
    redis.call('ZADD', rb.index, int(score), rb.number)
  end
  redis.call('PEXPIREAT', rb.key, int(score + 2 * rb.width + rb.ttl))
end

-- The result bucket described by four consecutive ARGV entries from `i`:
-- keep (0/1), number, width ms, TTL ms; `key` is the bucket HASH and
-- `index` the bucket index ZSET.
local function bucket_args(i, key, index)
  return {
    keep = ARGV[i] == '1', number = ARGV[i + 1], width = tonumber(ARGV[i + 2]),
    ttl = tonumber(ARGV[i + 3]), key = key, index = index,
  }
end

-- The items of `list` from index `first` on, as a new list: a script's
-- variable tail of keys (result buckets, unique keys).
local function tail(list, first)
  local out = {}
  for i = first, #list do out[#out + 1] = list[i] end
  return out
end

-- The error reply of a script that refused a call before writing anything.
local function refused(op, why)
  return redis.error_reply('ERR wasmq ' .. op .. ' refused, nothing written: ' .. why)
end

-- Priority level (0-2) and max retries from a task body; nil if malformed.
local function header(body)
  if not body then return nil end
  local p, r = string.match(body, '^1|([012])|(%d+)|')
  if not p then return nil end
  return tonumber(p), tonumber(r)
end

-- The header line of a task body (false when it has none within HEAD_MAX
-- bytes).
local function head_of(body)
  if not body then return false end
  local nl = string.find(body, '\n', 1, true)
  if nl and nl <= HEAD_MAX then return string.sub(body, 1, nl - 1) end
  return false
end

-- The enqueued-at field of a task body ('' if malformed).
local function enqueued_at(body)
  if not body then return '' end
  return string.match(body, '^1|%d|%d+|%d+|%d*|(%d+)\n') or ''
end

local function meta_parse(m)
  if m then
    local a, s, f, v, r, e = string.match(m, '^(%d+)|(%d*)|(%d*)|([^|]*)|([^|]*)|(.*)$')
    if a then return tonumber(a), s, f, v, r, e end
  end
  return 0, '', '', '', '', ''
end

local function meta_join(a, s, f, v, r, e)
  return int(a) .. '|' .. s .. '|' .. f .. '|' .. v .. '|' .. r .. '|' .. e
end

-- Whether any of the pending lists `pending` (p0, p1, p2) holds work.
local function has_pending(pending)
  for level = 1, 3 do
    if redis.call('LLEN', pending[level]) > 0 then return true end
  end
  return false
end

-- Leaves one wake-up token in the queue's wake list `key`, for idle
-- consumers (broker/waiter.rs). A push into an empty list is also announced
-- on `channel` (message: the wake list's name) unless it is '': on Redis
-- Cluster, consumers hear of work by subscription rather than by blocking
-- on each queue. A list that holds a token already needs no second one,
-- nor a second announcement: whoever takes the token looks.
local function wake(key, channel)
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
    if channel ~= '' then redis.call('PUBLISH', channel, key) end
  end
end

-- Renews the expiry of a key-value bucket that has one (ttl ms > 0).
local function renew(bucket, ttl)
  if ttl > 0 then redis.call('PEXPIRE', bucket, ttl) end
end

-- Marks a flow parent's flow hash with its outcome ('released', 'dead',
-- 'cancelled') and lets it and the flow results hash expire `keep` ms later.
local function close_flow(flow, results, outcome, keep)
  redis.call('HSET', flow, 'outcome', outcome)
  redis.call('PEXPIRE', flow, keep)
  redis.call('PEXPIRE', results, keep)
end

-- The dead ids a re-drive or purge works on: `what` is a local id when
-- `mode` is 'one' (nil when it is not dead), else a limit on the oldest.
local function pick_dead(dead, mode, what)
  if mode == 'one' then
    if not redis.call('ZSCORE', dead, what) then return nil end
    return { what }
  end
  return redis.call('ZRANGE', dead, 0, tonumber(what) - 1)
end

-- The ids a task-browser action works on: args[1] is 'ids' (args[2..] are
-- local ids, at most 1000) or 'some' (args[2] is a limit of 1-1000 on the
-- first ids of `from`: a ZSET, or a table of the three pending LISTs when
-- kind is 'lists'); nil when the arguments are not one of these.
local function picked(from, kind, args)
  if args[1] == 'ids' then
    local ids = tail(args, 2)
    if #ids < 1 or #ids > 1000 then return nil end
    return ids
  end
  local limit = tonumber(args[2])
  if args[1] ~= 'some' or not limit or limit < 1 or limit > 1000 then return nil end
  if kind == 'zset' then return redis.call('ZRANGE', from, 0, limit - 1) end
  local ids = {}
  for _, list in ipairs(from) do
    if #ids >= limit then break end
    for _, id in ipairs(redis.call('LRANGE', list, 0, limit - #ids - 1)) do ids[#ids + 1] = id end
  end
  return ids
end

-- Adds n to a counter and, for 'completed' and 'failed', to the current
-- minute's bucket in the throughput hash (fields c:<minute> and f:<minute>;
-- field 'lo' is the oldest minute not yet trimmed).
local function count(stats, tp, field, n, now)
  if n <= 0 then return end
  redis.call('HINCRBY', stats, field, n)
  if tp and (field == 'completed' or field == 'failed') then
    local minute = int(math.floor(now / MINUTE_MS))
    redis.call('HINCRBY', tp, string.sub(field, 1, 1) .. ':' .. minute, n)
    redis.call('HSETNX', tp, 'lo', minute)
  end
end

-- Calls redis.call(cmd, key, ...items) in slices of BULK_SLICE, staying far
-- below Lua's unpack limit.
local function bulk(cmd, key, items)
  local n = #items
  local i = 1
  while i <= n do
    local j = math.min(i + BULK_SLICE - 1, n)
    redis.call(cmd, key, unpack(items, i, j))
    i = j + 1
  end
end

-- Appends the ids of `lists` (one list per priority level, p0 first) to the
-- back of the pending LISTs `pending`, in order.
local function append_pending(pending, lists)
  for level = 1, 3 do
    if #lists[level] > 0 then bulk('RPUSH', pending[level], lists[level]) end
  end
end

-- Records how one attempt ended in the task's run hash (docs/keys.md):
-- 'a:<attempt>' = "<started>|<finished>|<tail>", 'l:<attempt>' = its log,
-- 'p' = its last progress. Attempt 1 starts a fresh life (a re-driven task
-- counts from 1 again), so it clears the hash first. Only the last
-- ATTEMPTS_KEPT attempts and LOGS_KEPT logs stay; the hash expires `keep`
-- ms after its last write. An empty tail records nothing.
local function record_run(run, attempt, started, now, tail, log, progress, keep)
  if tail == '' then return end
  if attempt <= 1 then redis.call('DEL', run) end
  redis.call('HSET', run, 'a:' .. attempt, (started or '') .. '|' .. int(now) .. '|' .. tail)
  if log ~= '' then redis.call('HSET', run, 'l:' .. attempt, log) end
  if progress ~= '' then redis.call('HSET', run, 'p', progress) end
  if attempt > ATTEMPTS_KEPT then redis.call('HDEL', run, 'a:' .. (attempt - ATTEMPTS_KEPT)) end
  if attempt > LOGS_KEPT then redis.call('HDEL', run, 'l:' .. (attempt - LOGS_KEPT)) end
  redis.call('PEXPIRE', run, keep)
end

-- The histogram bin of a cost value: four bins per doubling, so a bin's
-- middle is within 9% of any value in it (broker/costs.rs reads them back).
local function cost_bin(v)
  if v < 1 then return 0 end
  return math.floor(4 * math.log(v + 1) / math.log(2))
end

-- Counts runs in the plugin cost histograms of the current window (the
-- HASH `cost`, see docs/keys.md): '<version>|<w|f|m>|<bin>' for wall ms,
-- fuel and peak memory, '<version>|n' runs, '<version>|t' the last run's
-- ms. `tails` are run tails ("<outcome>|<wall>|<fuel>|<peak>|<version>|..."),
-- counted per distinct field, so a batch of alike runs costs a few calls.
local function count_costs(cost, tails, now, keep)
  local adds, order, versions = {}, {}, {}
  local function add(field)
    if not adds[field] then order[#order + 1] = field; adds[field] = 0 end
    adds[field] = adds[field] + 1
  end
  for _, t in ipairs(tails) do
    local w, f, m, v = string.match(t, '^[^|]*|(%d*)|(%d*)|(%d*)|([^|]*)|')
    if w then
      if w ~= '' then add(v .. '|w|' .. cost_bin(tonumber(w))) end
      if f ~= '' then add(v .. '|f|' .. cost_bin(tonumber(f))) end
      if m ~= '' then add(v .. '|m|' .. cost_bin(tonumber(m))) end
      add(v .. '|n')
      if not versions[v] then versions[v] = true; versions[#versions + 1] = v end
    end
  end
  -- A version's first runs of the window may have created the hash: only
  -- then is its expiry set, so a busy window's acks skip the PEXPIRE.
  local fresh = false
  for _, field in ipairs(order) do
    local total = redis.call('HINCRBY', cost, field, adds[field])
    if total == adds[field] and string.sub(field, -2) == '|n' then fresh = true end
  end
  for _, v in ipairs(versions) do redis.call('HSET', cost, v .. '|t', int(now)) end
  if fresh then redis.call('PEXPIRE', cost, keep) end
end
