-- list_page.lua: one page of a type's hash as (id, value length) pairs; run alone (no prelude).
-- KEYS[1] the type's hash; ARGV[1] the HSCAN cursor, ARGV[2] the page size. Returns {next cursor,
-- {id, length, id, length, ...}}. Values stay on the server; HSCAN may repeat an id when the hash
-- is resized meanwhile, so callers deduplicate.
local reply = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local page, out = reply[2], {}
for i = 1, #page, 2 do
  out[#out + 1] = page[i]
  out[#out + 1] = #page[i + 1]
end
return {reply[1], out}
