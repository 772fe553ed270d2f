-- promote.lua: moves due tasks from the scheduled and retry sets to the back
-- of their priority lists. The range read and the ZREM happen in one script,
-- so racing promoters on many hosts never promote a task twice.
-- KEYS[1] scheduled ZSET   KEYS[2] retry ZSET   KEYS[3] tasks HASH
-- KEYS[4..6] pending p0 p1 p2 LISTs   KEYS[7] wake LIST   KEYS[8] dead ZSET
-- KEYS[9] meta HASH   KEYS[10] stats HASH   KEYS[11] garbage LIST
-- ARGV[1] limit per set
-- Returns {promoted, set aside as malformed}.
local limit = tonumber(ARGV[1])
local now = now_ms()
local promoted, bad = 0, 0
local lists = { {}, {}, {} }
for z = 1, 2 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[z], '-inf', now, 'LIMIT', 0, limit)
  if #ids > 0 then
    bulk('ZREM', KEYS[z], ids)
    local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
    for j, id in ipairs(ids) do
      local level = header(bodies[j])
      if level then
        local list = lists[level + 1]
        list[#list + 1] = id
        promoted = promoted + 1
      else
        set_aside(KEYS[11], KEYS[8], KEYS[9], KEYS[10], id, now,
          bodies[j] and 'the stored body has no valid header' or 'no stored body for this id')
        bad = bad + 1
      end
    end
  end
end
for level = 1, 3 do
  if #lists[level] > 0 then bulk('RPUSH', KEYS[3 + level], lists[level]) end
end
if promoted > 0 then wake(KEYS[7]) end
return { promoted, bad }
