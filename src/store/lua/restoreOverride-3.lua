--[[
  Puts back an override a replica knew after the store lost it, only when the user
  key has no live pin: with several replicas restoring, the first one wins, and a
  pin set since the loss is never replaced. Audited and announced only when written.

  KEYS[1]  overrides hash (user key -> override JSON)
  KEYS[2]  override expiry sorted set (user key scored by expiresAt)
  KEYS[3]  audit stream
  ARGV[1]  user key
  ARGV[2]  override (JSON)
  ARGV[3]  expiresAt (ms)
  ARGV[4]  now (ms): a pin with expiresAt <= now has expired and counts as absent; floor of the audit id
  ARGV[5]  audit entry (JSON, without id)
  ARGV[6]  audit stream cap (approximate MAXLEN)
  ARGV[7]  change channel
  ARGV[8]  change message (JSON)

  Returns {1, auditId}     written
          {0, currentDoc}  the key has a live pin; nothing written
]]
-- @include recordChange

local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local expiresAt = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
  if not expiresAt or expiresAt > tonumber(ARGV[4]) then return {0, current} end
end

local id = recordChange(KEYS[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {1, id}
