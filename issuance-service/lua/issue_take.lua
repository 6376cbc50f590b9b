-- Check and take a series' issuance limits for one issue of ARGV[1] coupons, atomically.
-- KEYS: 1 warm marker, 2 issued total, 3 issued to this customer, 4 last issue to this customer
-- ARGV: 1 count, 2 maxCreate, 3 maxVouchersPerUser, 4 minimum seconds between issues to one
--       customer (<= 0: none), 5 now (Unix seconds); limits < 0 mean unlimited.
-- Returns {status, previous last-issue time or "", epoch of the counters or "", reached}:
--   0 taken, 1 cold (counters must be rebuilt first), 2 maxCreate, 3 maxVouchersPerUser,
--   4 minDaysBetweenVouchers. The epoch (the warm marker's value, new at every rebuild) goes
--   with a give-back, so that it never lands on counters rebuilt since the take. reached
--   (only when taken) is 1 when this take made the total reach maxCreate (the issue writes
--   limit.reached with its coupons), else 0; it changes nothing the script admits.
-- A missing total is as cold as a missing marker (a key lost on its own must not read as 0).
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  return {1, ''}
end
local count = tonumber(ARGV[1])
local max_create = tonumber(ARGV[2])
local max_per_user = tonumber(ARGV[3])
local min_gap = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
local mine = tonumber(redis.call('GET', KEYS[3]) or '0')
local last = redis.call('GET', KEYS[4])
if max_create >= 0 and total + count > max_create then
  return {2, ''}
end
if max_per_user >= 0 and mine + count > max_per_user then
  return {3, ''}
end
if min_gap > 0 then
  if count > 1 then
    return {4, ''}
  end
  if last and now - tonumber(last) < min_gap then
    return {4, ''}
  end
end
-- Admitted: total + count <= max_create, so "==" is the take of its last units.
local reached = 0
if max_create >= 0 and total + count == max_create then
  reached = 1
end
redis.call('INCRBY', KEYS[2], count)
redis.call('INCRBY', KEYS[3], count)
redis.call('SET', KEYS[4], ARGV[5])
return {0, last or '', redis.call('GET', KEYS[1]), reached}
