-- apply.lua: applies one key batch atomically. After common.lua: KEYS and ARGV[1..5] as there;
-- ARGV[6..] are (op 'S' set | 'D' delete, type, id, value) quadruples. Checks the fence and
-- every hash's type before writing any, keeps the types set in step, stamps the session and
-- refreshes its expiry. Returns 1, or the lease reply that refuses the write (nothing written).
local refused = refuse_write()
if refused then return refused end
local ttl = tonumber(ARGV[1])
local base = ARGV[2]
for i = 6, #ARGV, 4 do expect(base .. ARGV[i + 1], 'hash') end
end_lapsed_lease()
for i = 6, #ARGV, 4 do
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
