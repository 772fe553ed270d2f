-- final.lua: the final record (completed or cancelled) of a task (read-only).
-- KEYS[1..] result bucket HASHes: the queue's buckets, newest first
-- ARGV[1] id: the local id
-- ARGV[2] head only: '1' returns the record's first line, without the output
-- Returns the record, or false.
local buckets = tail(KEYS, 1)
local id, head_only = ARGV[1], ARGV[2] == '1'

for _, bucket in ipairs(buckets) do
  local rec = redis.call('HGET', bucket, id)
  if rec then
    if not head_only then return rec end
    local nl = string.find(rec, '\n', 1, true)
    return nl and string.sub(rec, 1, nl - 1) or rec
  end
end
return false
