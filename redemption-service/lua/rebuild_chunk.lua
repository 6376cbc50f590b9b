-- Writes one chunk of a group's counters while a rebuild too large for one rebuild.lua call
-- runs (counters.py, Counters.write_chunked): KEYS[1] the group's warm marker, which must be
-- absent (the group is cold: its guard answers COLD and takes nothing until rebuild.lua sets
-- the marker last); ARGV[1] a JSON array [name, value, name, value, ...] of counters under
-- the marker's hash tag (one argument, so that the client packs one string, not thousands).
-- Returns the drift it repaired (sum of |new - old|), or -1 (nothing set) when the group is
-- warm.
if redis.call('EXISTS', KEYS[1]) == 1 then
    return -1
end
local values = cjson.decode(ARGV[1])
local drift = 0
for i = 1, #values, 2 do
    local old = tonumber(redis.call('GET', values[i]) or '0')
    drift = drift + math.abs(tonumber(values[i + 1]) - old)
    redis.call('SET', values[i], values[i + 1])
end
return drift
