-- throttle.lua: stops leasing from a queue, on every host, for a while (a
-- plugin said the service behind it is overloaded: retry-after). A longer
-- throttle already in force is kept.
-- KEYS[1] throttle STRING: exists while leasing is throttled
-- ARGV[1] duration: ms (1 or more)
-- Returns the throttle's remaining ms after the call.
local throttle = KEYS[1]
local ms = tonumber(ARGV[1])
local held = redis.call('PTTL', throttle)
if held >= ms then return held end
redis.call('SET', throttle, '1', 'PX', ms)
return ms
