-- clear.lua: deletes every key of the session. After common.lua: KEYS and ARGV[1..5] as there;
-- ARGV[6] '1' to delete the creds and the time too (the whole session), else the session is
-- stamped and its expiry refreshed. The lease hash stays either way (epochs never go back).
-- Returns 1, or the lease reply that refuses the write (nothing deleted).
local refused = refuse_write()
if refused then return refused end
end_lapsed_lease()
for _, t in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[2] .. t)
end
redis.call('DEL', KEYS[2])
if ARGV[6] == '1' then
  redis.call('DEL', KEYS[1], KEYS[3])
else
  stamp()
  touch(tonumber(ARGV[1]))
end
return 1
