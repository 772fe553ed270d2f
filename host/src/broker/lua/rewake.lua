-- rewake.lua: gives back a wake token a host took but will not use (it is
-- shutting down, has no room, or no longer serves the queue): leaves one
-- when work is pending and the wake list holds none (prelude's
-- wake_pending), so another idle host looks at the queue now rather than at
-- the next maintenance sweep.
-- KEYS[1] pending p0 LIST: high priority ids
-- KEYS[2] pending p1 LIST: normal priority ids
-- KEYS[3] pending p2 LIST: low priority ids
-- KEYS[4] wake LIST: wake-up tokens for blocked consumers
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- Returns 1 when it left a token, 0 when none was needed.
local p0, p1, p2, wakeup = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local channel = ARGV[1]
return wake_pending({ p0, p1, p2 }, wakeup, channel)
