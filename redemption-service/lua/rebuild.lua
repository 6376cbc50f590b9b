-- Sets a group's redemption counters to what the ledger says, atomically with its warm
-- marker. KEYS[1] warm marker; KEYS[2 .. n+1] counters set to ARGV[2 .. n+1]; the
-- remaining keys are stale counters the ledger no longer backs (deleted). ARGV[1] = n;
-- ARGV[n+2] a value new to this rebuild, stored in the marker (see release.lua).
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
    redis.call('SET', KEYS[i], ARGV[i])
end
for i = n + 2, #KEYS do
    redis.call('DEL', KEYS[i])
end
redis.call('SET', KEYS[1], ARGV[n + 2])
return n
