--[[
  Compare-and-set of a service's rollout state: writes the next document, appends
  its audit entry and announces it, or does nothing at all.

  KEYS[1]  state hash (revision, schema, doc)
  KEYS[2]  audit stream
  ARGV[1]  expected revision (the one the caller read)
  ARGV[2]  revision of the next state
  ARGV[3]  schema version of the next state
  ARGV[4]  next state document (JSON)
  ARGV[5]  highest schema version the caller understands
  ARGV[6]  now (ms), floor of the audit id
  ARGV[7]  audit entry (JSON, without id)
  ARGV[8]  audit stream cap (approximate MAXLEN)
  ARGV[9]  change channel
  ARGV[10] change message (JSON)

  Returns {1, auditId}      written
          {-1}              the service has no state; nothing written
          {-1, currentDoc}  the stored revision differs; nothing written
          {-2, currentDoc}  the stored document has a newer schema than the caller; nothing written
]]
-- @include recordChange

local current = redis.call('HMGET', KEYS[1], 'revision', 'schema', 'doc')
if not current[3] then return {-1} end
-- An older replica must not overwrite what it cannot read, even at the right revision.
if tonumber(current[2]) > tonumber(ARGV[5]) then return {-2, current[3]} end
if tonumber(current[1]) ~= tonumber(ARGV[1]) then return {-1, current[3]} end

local id = recordChange(KEYS[2], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
redis.call('HSET', KEYS[1], 'revision', ARGV[2], 'schema', ARGV[3], 'doc', ARGV[4])
return {1, id}
