-- Gives back what guard.lua took: decrements KEYS[2..] by one each (a key listed twice is
-- decremented twice). KEYS[1] is the warm marker: without it the counters are cold and
-- will be rebuilt from the ledger, so there is nothing to give back. ARGV[1], when given, is
-- the marker's value the guard returned: if it changed, the counters were rebuilt from the
-- ledger since the take (which the ledger does not hold), so there is nothing to give back
-- either. Never below zero.
local epoch = redis.call('GET', KEYS[1])
if not epoch or (ARGV[1] and ARGV[1] ~= '' and ARGV[1] ~= epoch) then
    return 0
end
for i = 2, #KEYS do
    if redis.call('DECR', KEYS[i]) < 0 then
        redis.call('SET', KEYS[i], 0)
    end
end
return #KEYS - 1
