-- lease.lua: leases up to `count` pending tasks, highest priority first.
-- KEYS[1..3] pending p0 p1 p2 LISTs   KEYS[4] active ZSET   KEYS[5] lease HASH
-- KEYS[6] meta HASH   KEYS[7] tasks HASH   KEYS[8] paused STRING
-- KEYS[9] wake LIST   KEYS[10] dead ZSET   KEYS[11] garbage LIST
-- KEYS[12] stats HASH
-- ARGV[1] count (1-1000)   ARGV[2] lease token   ARGV[3] lease duration ms
-- Returns {-1} when the queue is paused, else
-- {now ms, {ids set aside as malformed}, id, attempt, body, id, attempt, body, ...}
if redis.call('EXISTS', KEYS[8]) == 1 then return { -1 } end
local want = tonumber(ARGV[1])
local token = ARGV[2]
local now = now_ms()
local deadline = int(now + tonumber(ARGV[3]))
local started = int(now)
local out = { now, {} }
local garbage = out[2]
local active, leases, metas = {}, {}, {}
for level = 1, 3 do
  while want > 0 do
    local ids = redis.call('LPOP', KEYS[level], want)
    if not ids then break end
    local bodies = redis.call('HMGET', KEYS[7], unpack(ids))
    local old = redis.call('HMGET', KEYS[6], unpack(ids))
    for j, id in ipairs(ids) do
      local body = bodies[j]
      if header(body) then
        local a, _, f, v, r, e = meta_parse(old[j])
        a = a + 1
        metas[#metas + 1] = id
        metas[#metas + 1] = meta_join(a, started, f, v, r, e)
        active[#active + 1] = deadline
        active[#active + 1] = id
        leases[#leases + 1] = id
        leases[#leases + 1] = token
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
  bulk('HSET', KEYS[6], metas)
end
-- Chain-wake: work remains, so let another idle consumer look.
for level = 1, 3 do
  if redis.call('LLEN', KEYS[level]) > 0 then
    wake(KEYS[9])
    break
  end
end
return out
