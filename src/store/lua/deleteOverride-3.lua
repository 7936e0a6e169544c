--[[
  Removes one user key's override, provided it is still the one the caller read
  (the caller built the audit entry from it).

  KEYS[1]  overrides hash (user key -> override JSON)
  KEYS[2]  override expiry sorted set (user key scored by expiresAt)
  KEYS[3]  audit stream
  ARGV[1]  user key
  ARGV[2]  override the caller read (JSON)
  ARGV[3]  now (ms): an override with expiresAt <= now has expired; floor of the audit id
  ARGV[4]  audit entry (JSON, without id)
  ARGV[5]  audit stream cap (approximate MAXLEN)
  ARGV[6]  change channel
  ARGV[7]  change message (JSON)

  Returns {1, auditId}  removed
          {0}           no override for that key, or it had expired (then removed
                        without audit entry or announcement: it had no effect left)
          {-3}          the override changed since the caller read it; nothing written
]]
-- @include recordChange

local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return {0} end
if current ~= ARGV[2] then return {-3} end

local expiresAt = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
if expiresAt and expiresAt <= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {0}
end

local id = recordChange(KEYS[3], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {1, id}
