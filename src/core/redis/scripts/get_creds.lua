-- get_creds.lua: reads the creds and refreshes the session's expiry. After common.lua: KEYS and
-- ARGV[1..5] as there (no fence: reads never look at leases). Returns the creds or nil.
local value = redis.call('GET', KEYS[1])
touch(tonumber(ARGV[1]))
return value
