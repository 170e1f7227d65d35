-- set_creds.lua: replaces the creds. After common.lua: KEYS and ARGV[1..3] as there; ARGV[4]
-- the creds (codec blob). A script even without a TTL: a plain SET would drop the creds' expiry
-- in a session that a store with a TTL wrote (see touch in common.lua).
expect(KEYS[1], 'string')
redis.call('SET', KEYS[1], ARGV[4])
stamp()
touch(tonumber(ARGV[1]))
return 1
