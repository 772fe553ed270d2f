-- resume.lua: resumes a paused queue and wakes its idle consumers, through
-- prelude's wake like every other path that makes work leasable, so that on
-- Redis Cluster the wake-up is announced as well as left in the list.
-- KEYS[1] paused STRING: exists while the queue is paused
-- KEYS[2] wake LIST: wake-up tokens for blocked consumers
-- ARGV[1] wake channel: where a wake is announced ('' = nowhere; prelude's wake)
-- Returns 1.
local paused, wakeup = KEYS[1], KEYS[2]
local channel = ARGV[1]
redis.call('DEL', paused)
wake(wakeup, channel)
return 1
