-- result_page.lua: one step of a scan through one result bucket, for the
-- task browser's completed and cancelled pages (read-only). A page walks
-- the queue's buckets newest first; within a bucket it follows HSCAN's
-- cursor, so a scan sees every record that stays in the bucket throughout.
-- KEYS[1] result bucket HASH: id -> final record
-- ARGV[1] cursor: the HSCAN cursor (0 to start)
-- ARGV[2] count: the HSCAN COUNT hint
-- ARGV[3] preview: output bytes to return per record at most
-- Returns {next cursor, id, record head (header line and at most `preview`
-- output bytes), record length, ...}.
local bucket = KEYS[1]

local cursor, count, preview = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not (string.match(cursor, '^%d+$') and count and preview) or count < 1 or count > 1000 then
  return refused('result page', 'cursor, count (1-1000) and preview must be numbers')
end

local got = redis.call('HSCAN', bucket, cursor, 'COUNT', count)
local out = { got[1] }
local fields = got[2]
for i = 1, #fields, 2 do
  local rec = fields[i + 1]
  local nl = string.find(rec, '\n', 1, true)
  local head = rec
  if nl then head = string.sub(rec, 1, nl + preview) end
  out[#out + 1] = fields[i]
  out[#out + 1] = head
  out[#out + 1] = #rec
end
return out
