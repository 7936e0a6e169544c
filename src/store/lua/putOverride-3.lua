--[[
  Pins one user key of a service to a version until it expires (replacing any
  earlier pin of that key), with its audit entry and change announcement.

  KEYS[1]  overrides hash (user key -> override JSON)
  KEYS[2]  override expiry sorted set (user key scored by expiresAt)
  KEYS[3]  audit stream
  ARGV[1]  user key
  ARGV[2]  override (JSON)
  ARGV[3]  expiresAt (ms)
  ARGV[4]  now (ms), floor of the audit id
  ARGV[5]  audit entry (JSON, without id)
  ARGV[6]  audit stream cap (approximate MAXLEN)
  ARGV[7]  change channel
  ARGV[8]  change message (JSON)

  Returns {1, auditId}
]]
-- @include recordChange

local id = recordChange(KEYS[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {1, id}
