-- Install counters recomputed from PostgreSQL, then mark the series warm.
-- KEYS: 1 warm marker, 2 issued total, then pairs (issued to customer, last issue to customer).
-- ARGV: 1 total, 2 the new epoch to mark warm with (last batch) or "0", then pairs (count, last
-- issue time).
-- Runs only under the series' exclusive rebuild lock, so no issue takes anything meanwhile.
redis.call('SET', KEYS[2], ARGV[1])
local n = (#KEYS - 2) / 2
for i = 1, n do
  redis.call('SET', KEYS[2 + 2 * i - 1], ARGV[2 + 2 * i - 1])
  redis.call('SET', KEYS[2 + 2 * i], ARGV[2 + 2 * i])
end
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2])
end
return n
