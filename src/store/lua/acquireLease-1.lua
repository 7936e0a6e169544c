--[[
  Takes a lease for a holder, or renews it when that holder already has it. The
  expiry is relative (PX), kept by Redis' own clock, so replicas' clocks never
  have to agree.

  KEYS[1]  lease string (value: the holder)
  ARGV[1]  holder
  ARGV[2]  time to live (ms)

  Returns 1  the holder has the lease for ARGV[2] ms from now
          0  another holder has it; nothing written
]]
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
-- Renew only our own lease: a holder whose lease expired and was taken must not steal it back.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
