-- maintain.lua: one maintenance tick of one queue in one call: promotes due
-- scheduled and retry tasks (as promote.lua), takes back expired leases (as
-- reap.lua) and, when asked (every TRIM_PERIOD per queue), trims the dead
-- set and throughput buckets (as trim.lua). One call instead of three keeps
-- the tick at one round trip per queue; an idle queue costs TIME and three
-- ZRANGEBYSCOREs and writes nothing.
-- KEYS[1] scheduled ZSET   KEYS[2] retry ZSET   KEYS[3] tasks HASH
-- KEYS[4..6] pending p0 p1 p2 LISTs   KEYS[7] wake LIST   KEYS[8] dead ZSET
-- KEYS[9] meta HASH   KEYS[10] stats HASH   KEYS[11] garbage LIST
-- KEYS[12] active ZSET   KEYS[13] lease HASH   KEYS[14] cancel SET
-- KEYS[15] throughput HASH   KEYS[16] result bucket HASH   KEYS[17] result bucket index ZSET
-- KEYS[18] outbox HASH (only its size is read)
-- KEYS[19] waiting ZSET of flow parents (only its size is read)
-- ARGV[1] limit per step   ARGV[2] dead max count   ARGV[3] dead max age ms
-- ARGV[4] trim 0/1   ARGV[5] throughput retention minutes
-- ARGV[6..9] result bucket: keep 0/1, number, start ms, expire-at ms
-- Returns {promoted, set aside, requeued, buried, cancelled, dead trimmed,
-- minutes trimmed, more, outbox, waiting} where more = 1 when a step found
-- a full batch, outbox is the number of parents whose children wait there
-- and waiting the number of flow parents waiting for dependencies.
local q = {
  scheduled = KEYS[1], retry = KEYS[2], tasks = KEYS[3],
  pending = { KEYS[4], KEYS[5], KEYS[6] }, wake = KEYS[7], dead = KEYS[8],
  meta = KEYS[9], stats = KEYS[10], garbage = KEYS[11], active = KEYS[12],
  lease = KEYS[13], cancel = KEYS[14], tp = KEYS[15],
}
local outbox, waiting = KEYS[18], KEYS[19]
local rb = bucket_args(6, 16)
local limit, max_count, max_age = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local trim = ARGV[4] == '1'
local now = now_ms()
local scheduled = due_ids(q.scheduled, now, limit)
local retry = due_ids(q.retry, now, limit)
local expired = due_ids(q.active, now, limit)
if #scheduled + #retry + #expired == 0 and not trim then
  return { 0, 0, 0, 0, 0, 0, 0, 0, redis.call('HLEN', outbox), redis.call('ZCARD', waiting) }
end
check_keys(q, rb)
local promoted, bad = promote_ids(q, scheduled, retry, now)
local requeued, buried, cancelled = reap_ids(q, rb, expired, max_count, max_age, now)
local dropped, minutes = 0, 0
if trim then
  dropped, minutes = trim_queue(q, max_count, max_age, tonumber(ARGV[5]), limit, now)
end
local more = 0
if #scheduled == limit or #retry == limit or #expired == limit then more = 1 end
return { promoted, bad, requeued, buried, cancelled, dropped, minutes, more, redis.call('HLEN', outbox),
  redis.call('ZCARD', waiting) }
