-- due_claim.lua: hands one maintainer the queues of a bucket that are due,
-- and keeps every other maintainer off them for a while: each claimed
-- entry moves `hold` ms ahead (so a maintainer that dies mid-visit only
-- delays the queue) and the claim token is noted. The maintainer then
-- visits each queue and settles its entry with due_settle.lua.
-- KEYS[1] due ZSET: queue -> ms when it next needs maintenance
-- KEYS[2] claims HASH: queue -> token of the maintainer visiting it now
-- ARGV[1] limit: the most queues to claim
-- ARGV[2] hold: ms the claim keeps other maintainers off
-- ARGV[3] token: this claim's token
-- Returns the claimed queue names.
local due, claims = KEYS[1], KEYS[2]
local limit, hold, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]

-- An idle bucket stops here, having written nothing.
local now = now_ms()
local queues = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
if #queues == 0 then return queues end
check_type(claims, 'hash')
for _, q in ipairs(queues) do
  redis.call('ZADD', due, now + hold, q)
  redis.call('HSET', claims, q, token)
end
return queues
