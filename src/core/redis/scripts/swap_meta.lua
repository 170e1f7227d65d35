-- swap_meta.lua: compares and swaps one of the store's own records (KEYS[1], a string outside
-- every session's keys; not after common.lua: a record belongs to no session). ARGV[1] '1' if a
-- value is expected (ARGV[2]), '0' if the record is expected absent; ARGV[3] '1' to set it to
-- ARGV[4], '0' to delete it. Redis runs the script whole, so no other client writes between
-- the comparison and the change. Returns 1 if it swapped, 0 if the record held something else
-- (nothing written). A plain SET: a record never expires, whatever the store's TTL.
local now = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if now ~= ARGV[2] then return 0 end
elseif now then
  return 0
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
