-- Gives back what guard.lua took: decrements KEYS[2..] by one each (a key listed twice is
-- decremented twice). KEYS[1] is the warm marker: without it the counters are cold and
-- will be rebuilt from the ledger, so there is nothing to give back. Never below zero.
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 0
end
for i = 2, #KEYS do
    if redis.call('DECR', KEYS[i]) < 0 then
        redis.call('SET', KEYS[i], 0)
    end
end
return #KEYS - 1
