-- clear.lua: deletes every key of the session. After common.lua: KEYS and ARGV[1..3] as there;
-- ARGV[4] '1' to delete the creds and the time too (the whole session), else the session is
-- stamped and its expiry refreshed.
for _, t in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[2] .. t)
end
redis.call('DEL', KEYS[2])
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1], KEYS[3])
else
  stamp()
  touch(tonumber(ARGV[1]))
end
return 1
