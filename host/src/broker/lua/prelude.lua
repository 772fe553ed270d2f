-- prelude.lua: helpers shared by every wasmq script. scripts.rs prepends this
-- file to each script at build time; it touches no key by itself.
--
-- Formats (see docs/keys.md):
--   task body   "1|<prio>|<max retries>|<timeout ms>|<fuel>|<enqueued ms>\n<payload>"
--   lease       "<token>|<attempt>|<started ms>"  (lease hash, while active)
--   meta        "<attempt>|<last started ms>|<finished ms>|<plugin version>|<reason>|<last error>"
--               (written when a task leaves active other than by ack)
--   final rec.  "<state>|<finished ms>|<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>\n<output>"
--               (a field of the current result bucket hash)
-- Times are Redis's own clock (TIME), so hosts with skewed clocks agree on
-- lease deadlines and due times.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
-- keep (0/1), number, width ms, TTL ms; keys from KEYS[k], KEYS[k + 1].
local function bucket_args(i, k)
  return {
    keep = ARGV[i] == '1', number = ARGV[i + 1], width = tonumber(ARGV[i + 2]),
    ttl = tonumber(ARGV[i + 3]), key = KEYS[k], index = KEYS[k + 1],
  }
end

-- Priority level (0-2) and max retries from a task body; nil if malformed.
local function header(body)
  if not body then return nil end
  local p, r = string.match(body, '^1|([012])|(%d+)|')
  if not p then return nil end
  return tonumber(p), tonumber(r)
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

-- Leaves one wake-up token for consumers blocked on the queue (BLPOP).
local function wake(key)
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end

-- Adds n to a counter and, for 'completed' and 'failed', to the current
-- minute's bucket in the throughput hash (fields c:<minute> and f:<minute>;
-- field 'lo' is the oldest minute not yet trimmed).
local function count(stats, tp, field, n, now)
  if n <= 0 then return end
  redis.call('HINCRBY', stats, field, n)
  if tp and (field == 'completed' or field == 'failed') then
    local minute = int(math.floor(now / 60000))
    redis.call('HINCRBY', tp, string.sub(field, 1, 1) .. ':' .. minute, n)
    redis.call('HSETNX', tp, 'lo', minute)
  end
end

-- Calls redis.call(cmd, key, ...items) in slices, staying far below Lua's
-- unpack limit.
local function bulk(cmd, key, items)
  local n = #items
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    redis.call(cmd, key, unpack(items, i, j))
    i = j + 1
  end
end

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
  redis.call('LTRIM', garbage, -1000, -1)
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
