-- plugin_rollback.lua: points a task type's `current` at a kept version:
-- the one named, or else the newest one older than the current.
-- KEYS[1] head HASH: current, last (newest version number), moves
-- KEYS[2] versions HASH: version number -> record
-- ARGV[1] target: a version number, or "" for the one before the current
-- Returns {1, version, moves, sha} when moved, {0, version, moves, sha}
-- when that version is current already (sha: the version's module), {-1} when nothing was pushed for the type,
-- {-2} when no version is older than the current, {-3} when the version
-- named is not kept.
local head, versions = KEYS[1], KEYS[2]
local target = ARGV[1]
if target ~= '' and not string.match(target, '^[1-9]%d*$') then
  return refused('plugin rollback', 'version ' .. target)
end
local current = tonumber(redis.call('HGET', head, 'current'))
if not current then return {-1} end
local moves = tonumber(redis.call('HGET', head, 'moves')) or 0
local version = tonumber(target)
if not version then
  for _, field in ipairs(redis.call('HKEYS', versions)) do
    local n = tonumber(field)
    if n and n < current and (not version or n > version) then version = n end
  end
  if not version then return {-2} end
elseif redis.call('HEXISTS', versions, target) == 0 then
  return {-3}
end
local sha = string.match(redis.call('HGET', versions, tostring(version)) or '', '^(%x+)|')
if not sha then return refused('plugin rollback', 'malformed record of version ' .. version) end
if version == current then return {0, current, moves, sha} end
redis.call('HSET', head, 'current', tostring(version))
moves = redis.call('HINCRBY', head, 'moves', 1)
return {1, version, moves, sha}
