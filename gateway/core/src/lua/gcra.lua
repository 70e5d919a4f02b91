-- GCRA over several buckets, all or nothing, plus the monthly quota: the Redis side of
-- gateway-core's ratelimit::apply_with_counters (the same arithmetic as gcra.rs).
-- KEYS: bucket keys..., [quota key]
-- ARGV: now_us, n, then per bucket: emission_us, tolerance_us, owner; then limit, floor, ttl_ms
-- Returns {1, remaining1, reset1, ..., quota_used or -1} | {0, index, retry_us} | {2}
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local tats = {}
local out = {1}
for i = 1, n do
  local base = 3 + (i - 1) * 3
  local t = tonumber(ARGV[base])
  local tau = tonumber(ARGV[base + 1])
  local owner = ARGV[base + 2]
  local tat = now
  local v = redis.call('GET', KEYS[i])
  if v then
    local sep = string.find(v, '|', 1, true)
    if sep and string.sub(v, sep + 1) == owner then
      local stored = tonumber(string.sub(v, 1, sep - 1))
      if stored and stored > now then tat = stored end
    end
  end
  if now < tat - tau then
    return {0, i - 1, tat - tau - now}
  end
  local new_tat = tat + t
  tats[i] = new_tat
  out[#out + 1] = math.floor((now + tau + t - new_tat) / t)
  out[#out + 1] = new_tat - now
end
local used = -1
if #KEYS > n then
  local q = 3 + n * 3
  local limit = tonumber(ARGV[q])
  local floor = tonumber(ARGV[q + 1])
  local c = redis.call('INCR', KEYS[n + 1])
  if c == 1 then redis.call('PEXPIRE', KEYS[n + 1], ARGV[q + 2]) end
  used = math.max(c, floor + 1)
  if used > limit then
    redis.call('DECR', KEYS[n + 1])
    return {2}
  end
end
for i = 1, n do
  local owner = ARGV[3 + (i - 1) * 3 + 2]
  local ttl = math.floor((tats[i] - now) / 1000) + 1000
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]) .. '|' .. owner, 'PX', ttl)
end
out[#out + 1] = used
return out
