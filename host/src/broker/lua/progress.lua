-- progress.lua: keeps a running task's latest progress in its run history
-- while its lease is current, so `status --verbose`, `GET .../runs` and the
-- dashboard show it during the run, not only once the attempt settles (the
-- settle scripts then write the attempt's last progress in the same field).
-- KEYS[1] lease HASH: id -> lease value
-- KEYS[2] run HASH: the task's run history (run:<id>)
-- ARGV[1] id: the task's local id
-- ARGV[2] token: the lease token of the run reporting
-- ARGV[3] progress: '<percent>|<note>'
-- ARGV[4] keep: ms the history is kept if it had no expiry yet
-- Returns 1 when written, 0 when the lease is no longer this run's.
local lease, run = KEYS[1], KEYS[2]
local id, token, progress, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

if not lease_of(redis.call('HGET', lease, id), token) then return 0 end
check_type(run, 'hash')
redis.call('HSET', run, 'p', progress)
-- A first attempt's history is new: it must not outlive a lost task.
if redis.call('PTTL', run) < 0 then redis.call('PEXPIRE', run, keep) end
return 1
