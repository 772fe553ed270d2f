-- promote.lua: moves due tasks from the scheduled and retry sets to the back
-- of their priority lists. The range read and the ZREM happen in one script,
-- so racing promoters on many hosts never promote a task twice. The
-- maintenance tick does the same inside maintain.lua; this script serves
-- tests and admin tools.
-- KEYS[1] scheduled ZSET   KEYS[2] retry ZSET   KEYS[3] tasks HASH
-- KEYS[4..6] pending p0 p1 p2 LISTs   KEYS[7] wake LIST   KEYS[8] dead ZSET
-- KEYS[9] meta HASH   KEYS[10] stats HASH   KEYS[11] garbage LIST
-- ARGV[1] limit per set
-- Returns {promoted, set aside as malformed}.
local q = {
  scheduled = KEYS[1], retry = KEYS[2], tasks = KEYS[3],
  pending = { KEYS[4], KEYS[5], KEYS[6] }, wake = KEYS[7], dead = KEYS[8],
  meta = KEYS[9], stats = KEYS[10], garbage = KEYS[11],
}
local limit = tonumber(ARGV[1])
local now = now_ms()
local scheduled, retry = due_ids(q.scheduled, now, limit), due_ids(q.retry, now, limit)
if #scheduled + #retry == 0 then return { 0, 0 } end
check_keys(q)
local promoted, bad = promote_ids(q, scheduled, retry, now)
return { promoted, bad }
