--[[
  Lists a service's live overrides, removing the expired ones on the way (this is
  how expired pins disappear without anyone deleting them).

  KEYS[1]  overrides hash (user key -> override JSON)
  KEYS[2]  override expiry sorted set (user key scored by expiresAt)
  ARGV[1]  now (ms): an override with expiresAt <= now has expired

  Returns the live overrides' JSON documents, in no particular order
]]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
-- In batches: unpack() of thousands of values overflows the Lua stack.
for i = 1, #expired, 500 do
  redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 499, #expired)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
return redis.call('HVALS', KEYS[1])
