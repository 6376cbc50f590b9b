-- A fixed-window counter, shared by every gateway replica.
-- KEYS[1]  the counter (one key: runs unchanged on Redis Cluster)
-- ARGV[1]  window length in milliseconds
-- ARGV[2]  units wanted (0 only looks)
-- ARGV[3]  cap: the counter never goes above it (-1: no cap; counts past any limit)
-- Returns {count after, milliseconds until the window resets, units granted}.
local window = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = wanted
if cap >= 0 then
  granted = math.max(0, math.min(wanted, cap - count))
end
if granted > 0 then
  count = redis.call('INCRBY', KEYS[1], granted)
  if count == granted then
    redis.call('PEXPIRE', KEYS[1], window)
  end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A counter without expiry (never expected) would block forever: give it one window.
  if count > 0 then
    redis.call('PEXPIRE', KEYS[1], window)
  end
  ttl = window
end
return {count, ttl, granted}
