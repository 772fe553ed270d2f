-- status.lua: where a task is and what is known about it (read-only).
-- KEYS[1] final-record STRING r:<id>   KEYS[2] tasks HASH   KEYS[3] meta HASH
-- KEYS[4] active ZSET   KEYS[5] scheduled ZSET   KEYS[6] retry ZSET
-- KEYS[7] dead ZSET     KEYS[8] cancel SET
-- ARGV[1] local id
-- Returns {'final', record header line} for completed and cancelled tasks,
-- {state, body header line or false, meta or false, score or false,
--  cancel requested 0/1} otherwise, or {} when the id is unknown.
local id = ARGV[1]
local rec = redis.call('GET', KEYS[1])
if rec then
  local nl = string.find(rec, '\n', 1, true)
  return { 'final', nl and string.sub(rec, 1, nl - 1) or rec }
end
local body = redis.call('HGET', KEYS[2], id)
local meta = redis.call('HGET', KEYS[3], id)
local head = false
if body then
  local nl = string.find(body, '\n', 1, true)
  if nl and nl <= 128 then head = string.sub(body, 1, nl - 1) end
end
local flag = redis.call('SISMEMBER', KEYS[8], id)
local states = { { 4, 'active' }, { 5, 'scheduled' }, { 6, 'retry-wait' }, { 7, 'dead' } }
for _, s in ipairs(states) do
  local score = redis.call('ZSCORE', KEYS[s[1]], id)
  if score then return { s[2], head, meta, score, flag } end
end
if body then return { 'pending', head, meta, false, flag } end
return {}
