-- status.lua: where a task is and what is known about it (read-only).
-- KEYS[1] tasks HASH   KEYS[2] meta HASH   KEYS[3] active ZSET
-- KEYS[4] scheduled ZSET   KEYS[5] retry ZSET   KEYS[6] dead ZSET
-- KEYS[7] cancel SET   KEYS[8] lease HASH
-- KEYS[9..] result bucket HASHes, newest first
-- ARGV[1] local id
-- Returns {state, body header line or false, meta or false, score or false,
-- cancel requested 0/1, lease value or false} for live and dead tasks,
-- {'final', record header line} for completed and cancelled ones, or {}.
local id = ARGV[1]
local body = redis.call('HGET', KEYS[1], id)
local meta = redis.call('HGET', KEYS[2], id)
local head = false
if body then
  local nl = string.find(body, '\n', 1, true)
  if nl and nl <= 128 then head = string.sub(body, 1, nl - 1) end
end
local flag = redis.call('SISMEMBER', KEYS[7], id)
local states = { { 3, 'active' }, { 4, 'scheduled' }, { 5, 'retry-wait' }, { 6, 'dead' } }
for _, st in ipairs(states) do
  local score = redis.call('ZSCORE', KEYS[st[1]], id)
  if score then
    return { st[2], head, meta, score, flag, redis.call('HGET', KEYS[8], id) }
  end
end
if body then return { 'pending', head, meta, false, flag, false } end
for i = 9, #KEYS do
  local rec = redis.call('HGET', KEYS[i], id)
  if rec then
    local nl = string.find(rec, '\n', 1, true)
    return { 'final', nl and string.sub(rec, 1, nl - 1) or rec }
  end
end
return {}
