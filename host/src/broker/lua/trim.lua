-- trim.lua: bounded housekeeping: drops dead tasks beyond the age and count
-- bounds and throughput buckets older than the retention. The maintenance
-- tick does the same inside maintain.lua (every TRIM_PERIOD per queue); this
-- script serves tests and admin tools.
-- KEYS[1] dead ZSET: dead ids by time of death
-- KEYS[2] tasks HASH: id -> task body
-- KEYS[3] meta HASH: id -> meta
-- KEYS[4] throughput HASH: completed and failed per minute
-- ARGV[1] dead max count: the dead set's count bound
-- ARGV[2] dead max age: the dead set's age bound, ms
-- ARGV[3] retention: throughput retention, minutes
-- ARGV[4] limit: dead tasks and minutes per call
-- Returns {dead tasks dropped, minutes trimmed}.
local dead, tasks, meta, tp = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local q = { dead = dead, tasks = tasks, meta = meta, tp = tp }

check_keys(q)
local dropped, minutes = trim_queue(q, tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), now_ms())
return { dropped, minutes }
