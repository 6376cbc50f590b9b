-- Checks and (unless ARGV[1] == "check") takes every redemption counter of one limit group.
-- KEYS[1] warm marker, KEYS[2] group total, then per item: coupon, coupon-by-customer,
-- group-by-customer (all under the group's hash tag).
-- ARGV[1] mode: "all" (take only if every item passes), "partial" (take those that pass),
-- "check" (take nothing). ARGV[2] group total limit, ARGV[3] group per-customer limit,
-- then per item: coupon usage limit, coupon per-customer limit. -1 means unlimited.
-- Returns {-1} when the counters are cold (not rebuilt from the ledger yet), otherwise one
-- item status per item: 700 ok, 711 coupon used up, 723 per-customer limit, 714 group limit,
-- followed by the warm marker's value: the rebuild the counters come from, which a give-back
-- passes to release.lua so that it never lands on counters rebuilt since; then, per item,
-- what its use made reach its limit (the limit.reached events the ledger writes with it):
-- 1 the coupon's usage counter, 2 the group's total, 3 both, 0 neither or not taken (every
-- item is 0 in "check" mode and when "all" mode takes nothing). Only reported: what is
-- admitted does not depend on it.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
    return {-1}
end
local mode = ARGV[1]
local total_limit = tonumber(ARGV[2])
local customer_limit = tonumber(ARGV[3])
local n = (#KEYS - 2) / 3
local pending = {}
local function value(key)
    return tonumber(redis.call('GET', key) or '0') + (pending[key] or 0)
end
local function over(limit, key)
    return limit >= 0 and value(key) + 1 > limit
end
local result = {}
local reached = {}
local failed = false
for i = 1, n do
    local base = 2 + (i - 1) * 3
    local coupon, by_customer, customer = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3]
    local usage_limit = tonumber(ARGV[4 + (i - 1) * 2])
    local per_customer = tonumber(ARGV[5 + (i - 1) * 2])
    local status = 700
    if over(usage_limit, coupon) then
        status = 711
    elseif over(per_customer, by_customer) then
        status = 723
    elseif over(total_limit, KEYS[2]) then
        status = 714
    elseif over(customer_limit, customer) then
        status = 723
    end
    reached[i] = 0
    if status == 700 then
        -- Admitted: value + 1 <= limit, so "==" is the use that takes its last unit.
        if usage_limit >= 0 and value(coupon) + 1 == usage_limit then
            reached[i] = reached[i] + 1
        end
        if total_limit >= 0 and value(KEYS[2]) + 1 == total_limit then
            reached[i] = reached[i] + 2
        end
        for _, key in ipairs({coupon, by_customer, KEYS[2], customer}) do
            pending[key] = (pending[key] or 0) + 1
        end
    else
        failed = true
    end
    result[i] = status
end
result[n + 1] = epoch
local taken = not (mode == 'check' or (mode == 'all' and failed))
for i = 1, n do
    result[n + 1 + i] = taken and reached[i] or 0
end
if not taken then
    return result
end
for key, delta in pairs(pending) do
    redis.call('INCRBY', key, delta)
end
return result
