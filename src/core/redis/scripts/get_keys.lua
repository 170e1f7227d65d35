-- get_keys.lua: reads ids of one type and refreshes the session's expiry. After common.lua: KEYS
-- and ARGV[1..5] as there (no fence: reads never look at leases); ARGV[6] the type, ARGV[7..]
-- the ids. Returns the values in id order
-- (nil where absent). HMGET goes in chunks: Lua's unpack() takes at most a few thousand values.
local values = {}
for first = 7, #ARGV, 1000 do
  local part = redis.call('HMGET', ARGV[2] .. ARGV[6], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  for _, value in ipairs(part) do values[#values + 1] = value end
end
touch(tonumber(ARGV[1]))
return values
