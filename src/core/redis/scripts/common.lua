-- common.lua: the prelude of every session script (concatenated before each, not run alone).
-- KEYS[1] creds, KEYS[2] types (set), KEYS[3] updated, KEYS[4] lease (hash); ARGV[1] the TTL in
-- ms or 0, ARGV[2] the prefix of the type hashes, ARGV[3] the client's time in ms, ARGV[4] the
-- fence's holder ('' without a fence), ARGV[5] the fence's epoch ('' without). Each script's
-- own arguments start at ARGV[6]. Defines expect() (type checks before any write: Redis does
-- not roll back a failing script), touch() (one absolute deadline for all of the session's
-- keys), stamp() (the last write time, from the client's clock), and the lease helpers:
-- read_lease(), lease_reply(), refuse_write() (the fence check of every write) and
-- keep_lease(). Lease times are the SERVER's clock (TIME), never the client's: every client
-- of a fleet then measures one lease by one clock.
local function expect(key, wanted)
  local kind = redis.call('TYPE', key).ok
  if kind ~= wanted and kind ~= 'none' then
    error({err = 'WRONGTYPE ' .. key .. ' holds a ' .. kind .. ', not a ' .. wanted})
  end
end
expect(KEYS[2], 'set')
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
-- When `key` expires, in ms since the epoch; nil if it does not (or does not exist).
-- PEXPIRETIME (Redis 7) reads the deadline exactly; older servers only have PTTL, relative to
-- the script's frozen clock, which can be a millisecond off.
local function expires_at(key)
  local at = redis.pcall('PEXPIRETIME', key)
  if type(at) ~= 'number' then
    local left = redis.call('PTTL', key)
    at = left > 0 and now_ms() + left or left
  end
  return at > 0 and at or nil
end
-- When the session expires now (the latest deadline of its keys), or nil if it does not.
local function current_deadline()
  local latest
  for _, key in ipairs({KEYS[1], KEYS[2], KEYS[3]}) do
    local at = expires_at(key)
    if at and (latest == nil or at > latest) then latest = at end
  end
  return latest
end
-- A store without a TTL keeps the expiry the session has, so that a session is never half
-- expired, whoever writes it. Read before anything is written: SET drops a key's expiry.
local kept_deadline = tonumber(ARGV[1]) <= 0 and current_deadline() or nil
-- Gives all of the session's keys one deadline: now + ttl, or the kept one. One absolute
-- deadline for all: relative PEXPIREs a millisecond apart would expire them one by one.
-- The lease hash (KEYS[4]) as stored; absent fields read as '' (epoch: nil, as with no lease).
local function read_lease()
  local f = redis.call('HMGET', KEYS[4], 'holder', 'process', 'epoch', 'host', 'pid', 'acquired', 'expires')
  return {holder = f[1] or '', process = f[2] or '', epoch = f[3] or nil, host = f[4] or '', pid = f[5] or '0',
    acquired = f[6] or '0', expires = f[7] or '0'}
end
-- Live: held (not released) and not expired by the server's clock. Redis has no kernel lock
-- to tell that a holder died: a dead holder's lease is free once it expires, not before.
local function is_live(l, now)
  return l.holder ~= '' and now < (tonumber(l.expires) or 0)
end
-- What the lease scripts return, and a write that is refused: {status, holder, epoch ('' if
-- there is no lease), host, pid, acquired, expires, live 0/1}; status is 'ok', 'none' (no
-- lease), 'locked' (ERR_SESSION_LOCKED) or 'fenced' (ERR_SESSION_FENCED).
local function lease_reply(status, l, now)
  return {status, l.holder, l.epoch or '', l.host, l.pid, l.acquired, l.expires, is_live(l, now) and 1 or 0}
end
-- The fence check of every write, run before its first write: nil if it may write, else the
-- reply that refuses it. With a fence (ARGV[4] non-empty) the stored holder and epoch must be
-- the fence's; without one, nobody may hold a live lease.
local function refuse_write()
  local l, now = read_lease(), now_ms()
  if ARGV[4] ~= '' then
    if l.holder == ARGV[4] and l.epoch == ARGV[5] then return nil end
    return lease_reply('fenced', l, now)
  end
  if is_live(l, now) then return lease_reply('locked', l, now) end
  return nil
end
-- Called by a write once its checks passed, right before its first change: a write without a
-- fence to a session whose lease lapsed untaken (its holder stopped, blocked, or dead) ends that
-- lease, so that its holder, should it wake, cannot write on with its still-matching fence.
local function end_lapsed_lease()
  if ARGV[4] ~= '' then return end
  local holder = redis.call('HGET', KEYS[4], 'holder')
  if holder and holder ~= '' then redis.call('HSET', KEYS[4], 'holder', '') end
end
-- The lease hash's expiry. It never expires on its own in a store without a TTL (epochs never
-- go back). In a store with a TTL it shares the session's deadline (`at`, from touch()), so
-- that an expired session leaves no lease behind, but never ends before the lease itself
-- (`expires`): a live lease is never dropped by the TTL. If it does go with an expired
-- session, its epoch restarts at 1, which is still safe: holders are unique per acquisition
-- and the fence check compares holder AND epoch, so an old fence never matches a new lease.
local function keep_lease(at, expires)
  if not at then return end
  redis.call('PEXPIREAT', KEYS[4], math.max(at, tonumber(expires) or 0))
end
local function touch(ttl)
  local at = kept_deadline
  if ttl > 0 then at = now_ms() + ttl end
  if not at then return end
  if redis.call('EXISTS', KEYS[4]) == 1 then keep_lease(at, redis.call('HGET', KEYS[4], 'expires')) end
  for _, t in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    redis.call('PEXPIREAT', ARGV[2] .. t, at)
  end
  redis.call('PEXPIREAT', KEYS[1], at)
  redis.call('PEXPIREAT', KEYS[2], at)
  redis.call('PEXPIREAT', KEYS[3], at)
end
-- Records a write; a session left with neither creds nor keys keeps no time either.
-- Before touch(): SET drops a key's expiry.
local function stamp()
  if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
    redis.call('SET', KEYS[3], ARGV[3])
  else
    redis.call('DEL', KEYS[3])
  end
end
