-- A fixed-window counter, shared by every gateway replica.
-- KEYS[1]  the counter (one key: runs unchanged on Redis Cluster)
-- ARGV[1]  window length in milliseconds
-- ARGV[2]  cost: 1 counts this request, 0 only looks
-- Returns {count, milliseconds until the window resets}.
local window = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local count
if cost > 0 then
  count = redis.call('INCRBY', KEYS[1], cost)
  if count == cost then
    redis.call('PEXPIRE', KEYS[1], window)
  end
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A counter without expiry (never expected) would block forever: give it one window.
  if count > 0 then
    redis.call('PEXPIRE', KEYS[1], window)
  end
  ttl = window
end
return {count, ttl}
