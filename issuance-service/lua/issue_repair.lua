-- Repair a warm series' counters to what PostgreSQL says (the reconciler). Runs only under the
-- series' exclusive lock, so no issue takes anything meanwhile.
-- KEYS: 1 warm marker, 2 .. n+1 counters set to ARGV[2 .. n+1], then counters no committed
-- coupon backs any more (deleted).
-- ARGV: 1 n, 2 .. n+1 values, n+2 a new epoch for the warm marker: a give-back of a take from
-- before the repair finds another epoch and gives nothing back (issue_release.lua).
local n = tonumber(ARGV[1])
redis.call('SET', KEYS[1], ARGV[n + 2])
for i = 2, n + 1 do
  redis.call('SET', KEYS[i], ARGV[i])
end
for i = n + 2, #KEYS do
  redis.call('DEL', KEYS[i])
end
return n
