-- plugin_board.lua: records on the namespace's board where a task type's
-- current pointer stands, unless the board already shows a later move (two
-- pushers may finish in either order). Hosts read the whole board with one
-- HGETALL per period instead of one read per type.
-- KEYS[1] board HASH: task type -> "<moves>|<version>|<sha>"
-- ARGV[1] task type: the type pushed or rolled back
-- ARGV[2] moves: the type's move count after that push or rollback
-- ARGV[3] version: the current version number
-- ARGV[4] sha: the current version's SHA-256
-- Returns 1 when written, 0 when the board showed a later move.
local board = KEYS[1]
local task_type, moves = ARGV[1], tonumber(ARGV[2])
if not moves or not string.match(ARGV[3], '^%d+$') then
  return refused('plugin board', 'moves or version')
end
local old = redis.call('HGET', board, task_type)
if old and (tonumber(string.match(old, '^(%d+)|')) or 0) >= moves then return 0 end
redis.call('HSET', board, task_type, int(moves) .. '|' .. ARGV[3] .. '|' .. ARGV[4])
return 1
