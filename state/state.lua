-- state.lua - riskwatch's fenced batch write: one call per (batch, partition).
--
-- The processor owns the partition's accounts in memory and computes every
-- value; this script only checks the fence and stores what changed, in one
-- atomic step. It is refused, nothing written, when the stored offset is not
-- the one the caller read when it took the partition: {"FENCED", stored}.
-- Every argument is validated before the first write, so a malformed call
-- also writes nothing.
--
-- KEYS[1]  offset key of the topic-partition   (ns:{P}:off:TOPIC)
-- ARGV[1] expected offset (-1: none stored), [2] next offset, [3] the
--   watermark key, [4] the highest event time applied (kept if higher),
--   [5] N ops, then per op: code, key, n, then n arguments:
--   H  HSET key field value ...        D  HDEL key field ...
--   S  SET key value                   X  DEL key
--   Z  ZADD key score member           R  ZREM key member
--   I  HINCRBY key field delta ...     L  RPUSH key value ...
--   M  SET key to the value if it is lower or the key is absent (pb:first)
--   V  a vendor's daily values: window, the batch's latest day, then
--      day delta ...: the hash keeps the WINDOW days up to its m:maxday;
--      days behind it are not written, moving m:maxday drops the days
--      that leave (the same state as pruning after every event).
-- Reply: {"OK"}.

local offkey = KEYS[1]
local stored = redis.call('GET', offkey)
local storedn = -1
if stored then storedn = tonumber(stored) end
if storedn ~= tonumber(ARGV[1]) then
  return {'FENCED', tostring(storedn)}
end

local nops = tonumber(ARGV[5])
local ops = {}
local x = 6
for i = 1, nops do
  local code, key, n = ARGV[x], ARGV[x + 1], tonumber(ARGV[x + 2])
  if not n or n < 0 or x + 2 + n > #ARGV then
    return redis.error_reply('riskwatch: malformed op ' .. i)
  end
  if code == 'I' then
    for j = x + 4, x + 2 + n, 2 do
      if not string.match(ARGV[j], '^-?%d+$') then
        return redis.error_reply('riskwatch: HINCRBY delta is not an integer')
      end
    end
  end
  ops[i] = {code, key, x + 3, n}
  x = x + 3 + n
end

local function vendor(key, a, n)
  local window, last = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local cur = tonumber(redis.call('HGET', key, 'm:maxday') or '-1')
  local new = cur
  if last > new then new = last end
  for j = a + 2, a + n - 1, 2 do
    if tonumber(ARGV[j]) > new - window then
      redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1])
    end
  end
  if new > cur then
    redis.call('HSET', key, 'm:maxday', new)
    if cur >= 0 then
      local lo, hi = cur - window + 1, new - window
      if hi >= lo then
        if hi - lo >= window then      -- a long silence: fewer fields than days
          for _, f in ipairs(redis.call('HKEYS', key)) do
            local d = tonumber(f)
            if d and d <= hi then redis.call('HDEL', key, f) end
          end
        else
          local days = {}
          for d = lo, hi do days[#days + 1] = d end
          redis.call('HDEL', key, unpack(days))
        end
      end
    end
  end
end

for i = 1, nops do
  local code, key, a, n = ops[i][1], ops[i][2], ops[i][3], ops[i][4]
  if code == 'H' then
    redis.call('HSET', key, unpack(ARGV, a, a + n - 1))
  elseif code == 'D' then
    redis.call('HDEL', key, unpack(ARGV, a, a + n - 1))
  elseif code == 'S' then
    redis.call('SET', key, ARGV[a])
  elseif code == 'X' then
    redis.call('DEL', key)
  elseif code == 'Z' then
    redis.call('ZADD', key, ARGV[a], ARGV[a + 1])
  elseif code == 'R' then
    redis.call('ZREM', key, ARGV[a])
  elseif code == 'I' then
    for j = a, a + n - 1, 2 do redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1]) end
  elseif code == 'L' then
    redis.call('RPUSH', key, unpack(ARGV, a, a + n - 1))
  elseif code == 'M' then
    local v = redis.call('GET', key)
    if not v or tonumber(ARGV[a]) < tonumber(v) then redis.call('SET', key, ARGV[a]) end
  elseif code == 'V' then
    vendor(key, a, n)
  end
end

redis.call('SET', offkey, ARGV[2])
local wm = tonumber(redis.call('GET', ARGV[3]) or '0')
if tonumber(ARGV[4]) > wm then redis.call('SET', ARGV[3], ARGV[4]) end
return {'OK'}
