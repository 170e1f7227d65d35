-- stats.lua: the session's summary from one snapshot. After common.lua: KEYS as there. Returns
-- {creds exist (0/1), creds length, types (set members), last write time or nil}. Inspection
-- does not refresh the expiry.
return {redis.call('EXISTS', KEYS[1]), redis.call('STRLEN', KEYS[1]), redis.call('SMEMBERS', KEYS[2]), redis.call('GET', KEYS[3])}
