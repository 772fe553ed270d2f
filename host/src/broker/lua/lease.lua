-- lease.lua: leases up to `count` pending tasks, highest priority first.
-- KEYS[1..3] pending p0 p1 p2 LISTs   KEYS[4] active ZSET   KEYS[5] lease HASH
-- KEYS[6] meta HASH   KEYS[7] tasks HASH   KEYS[8] paused STRING
-- KEYS[9] wake LIST   KEYS[10] dead ZSET   KEYS[11] garbage LIST
-- KEYS[12] stats HASH
-- ARGV[1] count (1-1000)   ARGV[2] lease token   ARGV[3] lease duration ms
-- Returns {-1} when the queue is paused, else
-- {now ms, {ids set aside as malformed}, id, attempt, body, id, attempt, body, ...}
-- The attempt (meta's count + 1) and start time live in the lease value
-- "<token>|<attempt>|<started>"; meta is only rewritten when the task leaves
-- the active set other than by an ack.
if redis.call('EXISTS', KEYS[8]) == 1 then return { -1 } end
local want = tonumber(ARGV[1])
local token = ARGV[2]
local now = now_ms()
local deadline = int(now + tonumber(ARGV[3]))
local suffix = '|' .. int(now)
local out = { now, {} }
local garbage = out[2]
local active, leases = {}, {}
for level = 1, 3 do
  while want > 0 do
    local ids = redis.call('LPOP', KEYS[level], want)
    if not ids then break end
    local bodies = redis.call('HMGET', KEYS[7], unpack(ids))
    local old = redis.call('HMGET', KEYS[6], unpack(ids))
    for j, id in ipairs(ids) do
      local body = bodies[j]
      if body and string.find(body, '^1|[012]|%d+|') then
        local a = 1
        if old[j] then a = meta_parse(old[j]) + 1 end
        active[#active + 1] = deadline
        active[#active + 1] = id
        leases[#leases + 1] = id
        leases[#leases + 1] = token .. '|' .. a .. suffix
        out[#out + 1] = id
        out[#out + 1] = a
        out[#out + 1] = body
        want = want - 1
      else
        set_aside(KEYS[11], KEYS[10], KEYS[6], KEYS[12], id, now,
          body and 'the stored body has no valid header' or 'no stored body for this id')
        garbage[#garbage + 1] = id
      end
    end
  end
end
if #active > 0 then
  bulk('ZADD', KEYS[4], active)
  bulk('HSET', KEYS[5], leases)
end
-- Chain-wake: work remains, so let another idle consumer look.
for level = 1, 3 do
  if redis.call('LLEN', KEYS[level]) > 0 then
    wake(KEYS[9])
    break
  end
end
return out
