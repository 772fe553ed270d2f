-- plugin_push.lua: makes an uploaded module the newest version of a task
-- type's pushed plugin and points `current` at it, or does nothing when the
-- current version already has this module and manifest. The module is
-- taken from its content-addressed body (an earlier version had the same
-- bytes) if that is whole, or else renamed there from the staging hash the
-- pusher filled chunk by chunk; whole means exactly `chunks` chunks adding
-- up to `size` bytes. Versions past the newest `keep` (never the current one)
-- are forgotten, and so are their bodies when no kept version shares them.
-- KEYS[1] head HASH: current, last (newest version number), moves
-- KEYS[2] versions HASH: version number -> record
-- KEYS[3] body HASH: size, chunks, 0..chunks-1 (content-addressed module)
-- KEYS[4] staging HASH: the same fields, uploaded by this push, with a TTL
-- KEYS[5..] kept HASHes: the body of each version kept now, as the pusher read them
-- ARGV[1] sha: hex SHA-256 of the module
-- ARGV[2] size: module bytes
-- ARGV[3] chunks: number of chunks
-- ARGV[4] chunk size: bytes of every chunk but the last
-- ARGV[5] manifest: "-" for none, else "+" followed by the manifest text
-- ARGV[6] keep: how many versions to keep (at least 2)
-- ARGV[7..] shas: the SHA-256 of each kept body, in the same order
-- Returns {1, version, moves} when pushed, {0, version, moves} when the
-- current version is this one already, {-1} when the kept versions changed
-- since the pusher read them, {-2} when neither the body nor the staging
-- hash holds the whole module (an upload that expired or was cut short).
local head, versions, body, staging = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local kept = tail(KEYS, 5)
local sha, manifest = ARGV[1], ARGV[5]
local size, chunks = tonumber(ARGV[2]), tonumber(ARGV[3])
local chunk, keep = tonumber(ARGV[4]), tonumber(ARGV[6])
if not string.match(sha, '^' .. string.rep('%x', 64) .. '$') then
  return refused('plugin push', 'sha ' .. sha)
end
if not (size and chunks and chunk and keep) or keep < 2 or chunks < 1 or chunk < 1 then
  return refused('plugin push', 'size, chunks, chunk size or keep')
end
local first = string.sub(manifest, 1, 1)
if first ~= '-' and first ~= '+' then
  return refused('plugin push', 'manifest must start with - or +')
end

-- Whether `hash` holds the whole module.
local function whole(hash)
  if tonumber(redis.call('HGET', hash, 'size')) ~= size then return false end
  if tonumber(redis.call('HGET', hash, 'chunks')) ~= chunks then return false end
  local total = 0
  for i = 0, chunks - 1 do
    local n = redis.call('HSTRLEN', hash, tostring(i))
    if n == 0 and size > 0 then return false end
    if i < chunks - 1 and n ~= chunk then return false end
    total = total + n
  end
  return total == size
end

-- The kept versions, and the body key of each of their modules.
local given = {}
for i = 1, #kept do given[ARGV[6 + i]] = kept[i] end
local numbers, sha_of = {}, {}
local all = redis.call('HGETALL', versions)
for i = 1, #all, 2 do
  local n = tonumber(all[i])
  local s = string.match(all[i + 1], '^(%x+)|')
  if n and s then
    numbers[#numbers + 1] = n
    sha_of[n] = s
    if s ~= sha and not given[s] then return {-1} end
  end
end
local current = tonumber(redis.call('HGET', head, 'current'))
local moves = tonumber(redis.call('HGET', head, 'moves')) or 0
if current and sha_of[current] == sha then
  local record = redis.call('HGET', versions, tostring(current))
  local nl = string.find(record, '\n', 1, true)
  if nl and string.sub(record, nl + 1) == manifest then
    return {0, current, moves}
  end
end
-- A body damaged behind our back is replaced by a whole upload.
local from_body = whole(body)
if not from_body and not whole(staging) then return {-2} end

-- What falls off: the oldest beyond `keep`, counting the new version.
local version = (tonumber(redis.call('HGET', head, 'last')) or 0) + 1
table.sort(numbers, function(a, b) return a > b end)
local drop, still = {}, { [sha] = true }
for i, n in ipairs(numbers) do
  if i < keep or n == current then still[sha_of[n]] = true else drop[#drop + 1] = n end
end

if from_body then
  redis.call('DEL', staging)
else
  redis.call('RENAME', staging, body)
  redis.call('PERSIST', body)
end
redis.call('HSET', versions, tostring(version),
  sha .. '|' .. int(size) .. '|' .. int(chunks) .. '|' .. int(now_ms()) .. '\n' .. manifest)
redis.call('HSET', head, 'current', tostring(version), 'last', tostring(version))
moves = redis.call('HINCRBY', head, 'moves', 1)
for _, n in ipairs(drop) do
  redis.call('HDEL', versions, tostring(n))
  local s = sha_of[n]
  if not still[s] then
    redis.call('DEL', given[s])
    still[s] = true
  end
end
return {1, version, moves}
