-- release.lua: releases the session's lease (KEYS[4]) held under the fence ARGV[4] (holder),
-- ARGV[5] (epoch). After common.lua: KEYS and ARGV[1..5] as there. Clears the holder and keeps
-- the epoch (epochs never go back); a fence that no longer matches changes nothing. Returns 1.
local l = read_lease()
if l.holder ~= '' and l.holder == ARGV[4] and l.epoch == ARGV[5] then
  redis.call('HSET', KEYS[4], 'holder', '')
end
return 1
