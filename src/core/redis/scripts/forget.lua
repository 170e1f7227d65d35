-- forget.lua: deletes the session's lease hash (KEYS[4]) if the fence ARGV[4] (holder),
-- ARGV[5] (epoch) still names it: a store conversion moves the session to another name and
-- leaves no record of the old one. After common.lua: KEYS and ARGV[1..5] as there. A fence
-- that no longer matches changes nothing. Returns 1 if it deleted the lease, else 0.
local l = read_lease()
if l.holder ~= '' and l.holder == ARGV[4] and l.epoch == ARGV[5] then
  redis.call('DEL', KEYS[4])
  return 1
end
return 0
