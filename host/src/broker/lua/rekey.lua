-- rekey.lua: replaces hash fields whose value is still the one the caller
-- read (compare-and-set), for `wasmq keys rotate` (broker/rekey.rs).
-- KEYS[1] hash HASH: a queue's tasks, meta, result bucket or flow hash
-- ARGV[1] n: the number of fields
-- ARGV[2..] fields: 3 per field: field, value as read, new value
-- Returns how many fields were replaced. A field changed or deleted since
-- the read (the task was settled, retried or trimmed meanwhile) is left
-- alone: the caller's copy is stale, and a later pass sees the new value.
-- Checks (argument count, the key's type, every comparison) come before
-- the first write.
local hash = KEYS[1]
local n = tonumber(ARGV[1])

if not n or #ARGV ~= 1 + 3 * n then
  return redis.error_reply('ERR wasmq rekey: expected 1 + 3n arguments')
end
check_type(hash, 'hash')
local writes = {}
for i = 0, n - 1 do
  local base = 2 + i * 3
  if redis.call('HGET', hash, ARGV[base]) == ARGV[base + 1] then
    writes[#writes + 1] = ARGV[base]
    writes[#writes + 1] = ARGV[base + 2]
  end
end
if #writes > 0 then bulk('HSET', hash, writes) end
return #writes / 2
