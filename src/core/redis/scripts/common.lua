-- common.lua: the prelude of every session script (concatenated before each, not run alone).
-- KEYS[1] creds, KEYS[2] types (set), KEYS[3] updated; ARGV[1] the TTL in ms or 0, ARGV[2] the
-- prefix of the type hashes, ARGV[3] the client's time in ms. Defines expect() (type checks
-- before any write: Redis does not roll back a failing script), touch() (one absolute deadline
-- for all of the session's keys) and stamp() (the last write time, from the client's clock).
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
local function touch(ttl)
  local at = kept_deadline
  if ttl > 0 then at = now_ms() + ttl end
  if not at then return end
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
