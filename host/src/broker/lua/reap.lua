-- reap.lua: takes back tasks whose lease expired (their host died or hung).
-- Each goes back to the front of its priority list with the attempt counted,
-- or to the dead set when that was its last attempt, or becomes cancelled if
-- cancellation was requested. Reading the expired leases and moving them
-- happen in one script, so racing reapers on many hosts are harmless. The
-- maintenance tick does the same inside maintain.lua; this script serves
-- tests and admin tools.
-- KEYS[1] active ZSET   KEYS[2] lease HASH   KEYS[3] meta HASH   KEYS[4] tasks HASH
-- KEYS[5..7] pending p0 p1 p2 LISTs   KEYS[8] dead ZSET   KEYS[9] cancel SET
-- KEYS[10] wake LIST   KEYS[11] stats HASH   KEYS[12] throughput HASH
-- KEYS[13] garbage LIST   KEYS[14] result bucket HASH   KEYS[15] result bucket index ZSET
-- ARGV[1] limit   ARGV[2] dead max count   ARGV[3] dead max age ms
-- ARGV[4..7] result bucket: keep 0/1, number, width ms, TTL ms
-- Returns {requeued, dead, cancelled}.
local q = {
  active = KEYS[1], lease = KEYS[2], meta = KEYS[3], tasks = KEYS[4],
  pending = { KEYS[5], KEYS[6], KEYS[7] }, dead = KEYS[8], cancel = KEYS[9],
  wake = KEYS[10], stats = KEYS[11], tp = KEYS[12], garbage = KEYS[13],
}
local rb = bucket_args(4, 14)
local now = now_ms()
local expired = due_ids(q.active, now, tonumber(ARGV[1]))
if #expired == 0 then return { 0, 0, 0 } end
check_keys(q, rb)
local requeued, buried, cancelled =
  reap_ids(q, rb, expired, tonumber(ARGV[2]), tonumber(ARGV[3]), now)
return { requeued, buried, cancelled }
