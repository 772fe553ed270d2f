-- plugin_remove.lua: stops a task type from being served from Redis:
-- forgets every kept version and every body they use, and clears
-- `current`. The head keeps `last` and `moves`, so a later push gets a new
-- version number and its board entry is newer than the removal's.
-- KEYS[1] head HASH: current, last (newest version number), moves
-- KEYS[2] versions HASH: version number -> record
-- KEYS[3..] kept HASHes: the body of each version kept now, as the remover read them
-- ARGV[1..] shas: the SHA-256 of each kept body, in the same order
-- Returns {1, moves, version} when removed (version: the one that was
-- current), {-1} when the kept versions changed since the remover read
-- them, {-2} when no version is current (never pushed, or removed).
local head, versions = KEYS[1], KEYS[2]
local kept = tail(KEYS, 3)
if #ARGV ~= #kept then
  return refused('plugin remove', 'one sha per kept body')
end
local given = {}
for i = 1, #kept do given[ARGV[i]] = kept[i] end
local current = tonumber(redis.call('HGET', head, 'current'))
if not current then return {-2} end
local all = redis.call('HGETALL', versions)
for i = 2, #all, 2 do
  local s = string.match(all[i], '^(%x+)|')
  if not s or not given[s] then return {-1} end
end

redis.call('DEL', versions)
for i = 1, #kept do redis.call('DEL', kept[i]) end
redis.call('HDEL', head, 'current')
local moves = redis.call('HINCRBY', head, 'moves', 1)
return {1, moves, current}
