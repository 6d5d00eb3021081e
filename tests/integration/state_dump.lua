-- state_dump.lua - a canonical dump of one riskwatch namespace, for comparing
-- the state two runs left: every key (namespace prefix removed) with its
-- value; hashes as sorted field=value lists. Dedup markers (e:) are listed by
-- name only (their TTLs differ by wall clock).
-- usage: redis-cli --raw --eval state_dump.lua , NAMESPACE KINDS
--   KINDS: which key kinds to include, e.g. "a,v,off,wm,e" (f = alert states)
local ns, want = ARGV[1], {}
for k in string.gmatch(ARGV[2], '[^,]+') do want[k] = true end
local keys, cursor = {}, '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ns .. ':*', 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do keys[#keys + 1] = k end
until cursor == '0'
table.sort(keys)
local out = {}
for _, k in ipairs(keys) do
  local rest = string.sub(k, #ns + 2)
  local kind = string.match(rest, '^{%d+}:([a-z]+)')
  if kind and want[kind] then
    local t = redis.call('TYPE', k)['ok']
    if kind == 'e' then
      out[#out + 1] = rest
    elseif t == 'zset' then
      local all = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
      local items = {}
      for i = 1, #all, 2 do items[#items + 1] = all[i] .. '=' .. all[i + 1] end
      table.sort(items)
      out[#out + 1] = rest .. ' ' .. table.concat(items, ' ')
    elseif t == 'hash' then
      local all = redis.call('HGETALL', k)
      local fields = {}
      for i = 1, #all, 2 do fields[#fields + 1] = all[i] .. '=' .. all[i + 1] end
      table.sort(fields)
      out[#out + 1] = rest .. ' ' .. table.concat(fields, ' ')
    else
      out[#out + 1] = rest .. ' ' .. redis.call('GET', k)
    end
  end
end
return out
