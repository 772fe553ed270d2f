-- due_mark.lua: records that queues have work due by a time in their
-- bucket's due index, only ever moving an entry earlier (ZADD LT), and voids
-- any maintainer's claim on them: a maintainer that read a queue before this
-- work arrived then cannot push the queue's entry past it (broker/due.rs
-- explains the protocol). Writers call it before and after their own write.
-- KEYS[1] due ZSET: queue -> ms when it next needs maintenance
-- KEYS[2] claims HASH: queue -> token of the maintainer visiting it now
-- ARGV[1..] pairs: queue name, when: 0 (now), +ms (from now on Redis's
-- clock) or @ms (since the Unix epoch)
-- Returns the number of queues marked.
local due, claims = KEYS[1], KEYS[2]

-- Check every argument and key before the first write.
if #ARGV % 2 ~= 0 then return refused('due_mark', 'arguments must be queue, time pairs') end
local now, at = now_ms(), {}
for i = 2, #ARGV, 2 do
  local text = ARGV[i]
  local kind, n = string.sub(text, 1, 1), tonumber(string.sub(text, 2))
  if text == '0' then at[i] = 0
  elseif kind == '+' and n then at[i] = now + n
  elseif kind == '@' and n then at[i] = n
  else return refused('due_mark', 'not a due time: ' .. text) end
end
check_type(due, 'zset')
check_type(claims, 'hash')
for i = 1, #ARGV, 2 do
  redis.call('ZADD', due, 'LT', int(at[i + 1]), ARGV[i])
  redis.call('HDEL', claims, ARGV[i])
end
return #ARGV / 2
