-- Give back what issue_take.lua took when the issue failed afterwards.
-- KEYS: as issue_take.lua. ARGV: 1 count, 2 the time issue_take set, 3 the previous value (""),
-- 4 the epoch issue_take returned.
-- A cold series (Redis lost its data since), or one rebuilt since the take (another epoch), has
-- nothing to give back: its rebuild counts committed rows only.
if redis.call('GET', KEYS[1]) ~= ARGV[4] or redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
local count = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= count then
  redis.call('DECRBY', KEYS[2], count)
end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= count then
  redis.call('DECRBY', KEYS[3], count)
end
if redis.call('GET', KEYS[4]) == ARGV[2] then
  if ARGV[3] == '' then
    redis.call('DEL', KEYS[4])
  else
    redis.call('SET', KEYS[4], ARGV[3])
  end
end
return 1
