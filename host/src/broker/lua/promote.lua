-- promote.lua: moves due tasks from the scheduled and retry sets to the back
-- of their priority lists. The range read and the ZREM happen in one script,
-- so racing promoters on many hosts never promote a task twice. The
-- maintenance tick does the same inside maintain.lua; this script serves
-- tests and admin tools.
-- KEYS[1] scheduled ZSET: delayed ids by due time
-- KEYS[2] retry ZSET: retry-waiting ids by due time
-- KEYS[3] tasks HASH: id -> task body
-- KEYS[4] pending p0 LIST: high priority ids
-- KEYS[5] pending p1 LIST: normal priority ids
-- KEYS[6] pending p2 LIST: low priority ids
-- KEYS[7] wake LIST: wake-up tokens for blocked consumers
-- KEYS[8] dead ZSET: dead ids by time of death
-- KEYS[9] meta HASH: id -> meta of earlier attempts
-- KEYS[10] stats HASH: the queue's counters
-- KEYS[11] garbage LIST: the last ids set aside as malformed
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- ARGV[2] limit: the most ids per set
-- Returns {promoted, set aside as malformed}.
local scheduled, retry, tasks = KEYS[1], KEYS[2], KEYS[3]
local p0, p1, p2, wakeup, dead = KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local meta, stats, garbage = KEYS[9], KEYS[10], KEYS[11]
local q = {
  scheduled = scheduled, retry = retry, tasks = tasks, pending = { p0, p1, p2 },
  wake = wakeup, dead = dead, meta = meta, stats = stats, garbage = garbage,
  wake_channel = ARGV[1],
}
local limit = tonumber(ARGV[2])

local now = now_ms()
local due_scheduled, due_retry = due_ids(scheduled, now, limit), due_ids(retry, now, limit)
if #due_scheduled + #due_retry == 0 then return { 0, 0 } end
check_keys(q)
local promoted, bad = promote_ids(q, due_scheduled, due_retry, now)
return { promoted, bad }
