-- acquire.lua: grants the session's lease (KEYS[4]). After common.lua: KEYS and ARGV[1..5] as
-- there (no fence: ARGV[4..5] are ''); ARGV[6] the new holder, ARGV[7] its process token,
-- ARGV[8] its host, ARGV[9] its pid, ARGV[10] the lease in ms, ARGV[11] the claim ('refuse',
-- 'process' or 'takeover'). The rule of lease.rs `decide`, by the server's clock: a lease that
-- is not live (never taken, released, expired) is free; a live one is refused ('locked'), taken
-- by a 'process' claim from a holder in the same process, or taken by 'takeover'. Every
-- acquisition is one epoch up. Returns the lease reply (see common.lua): 'ok' or 'locked'.
local now = now_ms()
local l = read_lease()
if is_live(l, now) then
  local claim = ARGV[11]
  if not (claim == 'takeover' or (claim == 'process' and l.process == ARGV[7])) then
    return lease_reply('locked', l, now)
  end
end
local expires = string.format('%d', now + tonumber(ARGV[10]))
redis.call('HSET', KEYS[4], 'holder', ARGV[6], 'process', ARGV[7], 'epoch', string.format('%d', (tonumber(l.epoch) or 0) + 1),
  'host', ARGV[8], 'pid', ARGV[9], 'acquired', string.format('%d', now), 'expires', expires)
local ttl = tonumber(ARGV[1])
keep_lease(ttl > 0 and now + ttl or (expires_at(KEYS[4]) or kept_deadline), expires)
return lease_reply('ok', read_lease(), now)
