-- final.lua: the final record (completed or cancelled) of a task (read-only).
-- KEYS[1..] result bucket HASHes: the queue's buckets, newest first
-- ARGV[1] id: the local id
-- Returns the record, or false.
local buckets = tail(KEYS, 1)
local id = ARGV[1]

for _, bucket in ipairs(buckets) do
  local rec = redis.call('HGET', bucket, id)
  if rec then return rec end
end
return false
