-- Writes one chunk of a group's counters while a rebuild too large for one rebuild.lua call
-- runs (counters.py, Counters.write_chunked): KEYS[1] the group's warm marker, which must be
-- absent (the group is cold: its guard answers COLD and takes nothing until rebuild.lua sets
-- the marker last); ARGV[1] a JSON array [name, value, name, value, ...] of counters under
-- the marker's hash tag (one argument, so that the client packs one string, not thousands).
-- Returns the drift it repaired (sum of |new - old|), or -1 (nothing set) when the group is
-- warm. Read and written per MGET/MSET of up to 1,000 counters (within Lua's stack limit).
if redis.call('EXISTS', KEYS[1]) == 1 then
    return -1
end
local values = cjson.decode(ARGV[1])
local drift = 0
for first = 1, #values, 2000 do
    local last = math.min(first + 1999, #values)
    local names = {}
    for i = first, last, 2 do
        names[#names + 1] = values[i]
    end
    local old = redis.call('MGET', unpack(names))
    for j = 1, #names do
        drift = drift + math.abs(tonumber(values[first + 2 * j - 1]) - tonumber(old[j] or '0'))
    end
    redis.call('MSET', unpack(values, first, last))
end
return drift
