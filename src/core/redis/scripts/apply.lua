-- apply.lua: applies one key batch atomically. After common.lua: KEYS and ARGV[1..3] as there;
-- ARGV[4..] are (op 'S' set | 'D' delete, type, id, value) quadruples. Checks every hash's type
-- before writing any, keeps the types set in step, stamps the session and refreshes its expiry.
local ttl = tonumber(ARGV[1])
local base = ARGV[2]
for i = 4, #ARGV, 4 do expect(base .. ARGV[i + 1], 'hash') end
for i = 4, #ARGV, 4 do
  local hash = base .. ARGV[i + 1]
  if ARGV[i] == 'S' then
    redis.call('HSET', hash, ARGV[i + 2], ARGV[i + 3])
    redis.call('SADD', KEYS[2], ARGV[i + 1])
  elseif redis.call('HDEL', hash, ARGV[i + 2]) == 1 and redis.call('EXISTS', hash) == 0 then
    redis.call('SREM', KEYS[2], ARGV[i + 1])
  end
end
stamp()
touch(ttl)
return 1
