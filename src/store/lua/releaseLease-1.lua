--[[
  Gives a lease up, only if the caller still holds it: a holder that lost its
  lease to expiry must not end its successor's.

  KEYS[1]  lease string (value: the holder)
  ARGV[1]  holder

  Returns 1  released
          0  the caller did not hold it; nothing written
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
