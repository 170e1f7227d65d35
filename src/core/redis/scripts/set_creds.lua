-- set_creds.lua: replaces the creds. After common.lua: KEYS and ARGV[1..5] as there; ARGV[6]
-- the creds (codec blob). A script even without a TTL: a plain SET would drop the creds' expiry
-- in a session that a store with a TTL wrote (see touch in common.lua). Returns 1, or the lease
-- reply that refuses the write (nothing written).
local refused = refuse_write()
if refused then return refused end
expect(KEYS[1], 'string')
end_lapsed_lease()
redis.call('SET', KEYS[1], ARGV[6])
stamp()
touch(tonumber(ARGV[1]))
return 1
