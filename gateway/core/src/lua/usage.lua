-- Counts one request and, once per interval across every instance, takes every dirty usage
-- counter: the Redis side of gateway-core's metering::count.
-- KEYS: counter, dirty set, last-flush key.  ARGV: now_ms, interval_ms
-- Returns {} or {key1, count1, key2, count2, ...} (the batch to write)
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('SADD', KEYS[2], KEYS[1]) end
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[1]) < last + tonumber(ARGV[2]) then return {} end
redis.call('SET', KEYS[3], ARGV[1])
local keys = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
local out = {}
for _, k in ipairs(keys) do
  local v = tonumber(redis.call('GET', k) or '0')
  if v and v > 0 then
    redis.call('DEL', k)
    out[#out + 1] = k
    out[#out + 1] = v
  end
end
return out
