-- final.lua: the final record (completed or cancelled) of a task (read-only).
-- KEYS[1..] result bucket HASHes, newest first
-- ARGV[1] local id
-- Returns the record, or false.
for i = 1, #KEYS do
  local rec = redis.call('HGET', KEYS[i], ARGV[1])
  if rec then return rec end
end
return false
