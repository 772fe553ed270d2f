-- due_settle.lua: after a maintainer visited the queues it claimed, sets
-- each queue's entry to when it next needs a visit (or removes it when
-- nothing is pending a time). Only where the claim still holds: a writer
-- that marked the queue since (due_mark.lua voids the claim) may have added
-- work the visit did not see, so then the entry only moves earlier.
-- KEYS[1] due ZSET: queue -> ms when it next needs maintenance
-- KEYS[2] claims HASH: queue -> token of the maintainer visiting it now
-- ARGV[1] token: the claim's token
-- ARGV[2..] pairs: queue name, next due ms or '' when none
-- Returns the number of entries set exactly (the others only moved earlier).
local due, claims = KEYS[1], KEYS[2]
local token = ARGV[1]

-- Check every argument and key before the first write.
if #ARGV % 2 ~= 1 then return refused('due_settle', 'arguments must be a token, then queue, ms pairs') end
for i = 3, #ARGV, 2 do
  if ARGV[i] ~= '' and not tonumber(ARGV[i]) then
    return refused('due_settle', 'due time is not a number: ' .. ARGV[i])
  end
end
check_type(due, 'zset')
check_type(claims, 'hash')
local exact = 0
for i = 2, #ARGV, 2 do
  local q, at = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', claims, q) == token then
    redis.call('HDEL', claims, q)
    if at == '' then redis.call('ZREM', due, q) else redis.call('ZADD', due, at, q) end
    exact = exact + 1
  elseif at ~= '' then
    redis.call('ZADD', due, 'LT', at, q)
  end
end
return exact
