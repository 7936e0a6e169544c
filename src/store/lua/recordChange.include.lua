--[[
  Shared by every script that writes (pasted in place of `-- @include recordChange`).

  recordChange(stream, now, entry, cap, channel, message)
    Appends `entry` (audit JSON) to `stream` and publishes `message` on `channel`.
    The id is `<ms>-*` with ms = max(now, time part of the stream's last id), so ids
    keep increasing even when a replica's clock is behind; Redis picks the sequence.
    Returns the new entry's id.
    Call it after every check that can refuse: a script is not rolled back, so
    nothing may be written before the last refusal point.
]]
local function lastIdMs(stream)
  if redis.call('EXISTS', stream) == 0 then return 0 end
  -- last-generated-id, unlike the newest entry, also covers entries removed by XDEL
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      return tonumber(string.match(info[i + 1], '^(%d+)'))
    end
  end
  return 0
end

local function recordChange(stream, now, entry, cap, channel, message)
  local ms = math.max(math.floor(tonumber(now)), lastIdMs(stream))
  local id = redis.call('XADD', stream, 'MAXLEN', '~', cap, string.format('%d-*', ms), 'entry', entry)
  redis.call('PUBLISH', channel, message)
  return id
end
