--[[
  Writes a service's first rollout state, only when it has none (the config file
  never overwrites live state).

  KEYS[1]  state hash (revision, schema, doc)
  KEYS[2]  audit stream
  ARGV[1]  revision of the new state
  ARGV[2]  schema version of the new state
  ARGV[3]  new state document (JSON)
  ARGV[4]  now (ms), floor of the audit id
  ARGV[5]  audit entry (JSON, without id)
  ARGV[6]  audit stream cap (approximate MAXLEN)
  ARGV[7]  change channel
  ARGV[8]  change message (JSON)

  Returns {1, auditId}     written
          {0, currentDoc}  the service already had state; nothing written
]]
-- @include recordChange

local current = redis.call('HGET', KEYS[1], 'doc')
if current then return {0, current} end

local id = recordChange(KEYS[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'schema', ARGV[2], 'doc', ARGV[3])
return {1, id}
