-- trim.lua: bounded housekeeping: drops dead tasks beyond the age and count
-- bounds and throughput buckets older than the retention. The maintenance
-- tick does the same inside maintain.lua (every TRIM_PERIOD per queue); this
-- script serves tests and admin tools.
-- KEYS[1] dead ZSET   KEYS[2] tasks HASH   KEYS[3] meta HASH   KEYS[4] throughput HASH
-- ARGV[1] dead max count   ARGV[2] dead max age ms   ARGV[3] bucket retention minutes
-- ARGV[4] limit (dead tasks and minutes per call)
-- Returns {dead tasks dropped, minutes trimmed}.
local q = { dead = KEYS[1], tasks = KEYS[2], meta = KEYS[3], tp = KEYS[4] }
check_keys(q)
local dropped, minutes = trim_queue(q, tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), now_ms())
return { dropped, minutes }
