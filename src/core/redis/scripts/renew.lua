-- renew.lua: extends the session's lease (KEYS[4]) held under the fence ARGV[4] (holder),
-- ARGV[5] (epoch). After common.lua: KEYS and ARGV[1..5] as there; ARGV[6] the lease in ms from
-- now (server clock). A lease that names another holder or epoch (taken over, released, gone)
-- is not extended. Returns the lease reply (see common.lua): 'ok' or 'fenced'.
local now = now_ms()
local l = read_lease()
if l.holder == '' or l.holder ~= ARGV[4] or l.epoch ~= ARGV[5] then
  return lease_reply('fenced', l, now)
end
local expires = string.format('%d', now + tonumber(ARGV[6]))
redis.call('HSET', KEYS[4], 'expires', expires)
local ttl = tonumber(ARGV[1])
keep_lease(ttl > 0 and now + ttl or (expires_at(KEYS[4]) or kept_deadline), expires)
return lease_reply('ok', read_lease(), now)
