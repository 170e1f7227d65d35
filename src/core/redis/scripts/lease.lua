-- lease.lua: reads the session's lease (KEYS[4]) and says whether it is live by the server's
-- clock. After common.lua: KEYS and ARGV[1..5] as there. Returns the lease reply (see
-- common.lua): 'ok', or 'none' if the session has no lease hash. Changes nothing.
local l = read_lease()
return lease_reply(l.epoch and 'ok' or 'none', l, now_ms())
