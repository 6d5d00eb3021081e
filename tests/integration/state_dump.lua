-- state_dump.lua - a canonical dump of one riskwatch namespace, for comparing
-- the state two runs left: one line per key (namespace prefix removed), every
-- key of the namespace whatever its kind (the {P} slots' accounts, vendors,
-- lifecycles, due sets, offsets, watermarks, dedup markers, portfolio buckets
-- and outboxes, and the {dep} slot of the decider), with a representation that
-- does not depend on how a value is encoded in Redis beyond its type: hashes
-- as sorted field=value lists, sorted sets as sorted member=score lists, lists
-- in order, strings as they are. The last line is "-- N keys", so a dump that
-- stopped half-way or failed (redis-cli exits 0 on a script error) is told
-- apart from a real one.
--
-- Normalised, because it legitimately differs between runs of the same input:
--   e:ID           dedup markers: name only (their TTLs follow the wall clock)
--   da: ds:        remembered event ids: the stored form is appended to
--                  between writes of it whole, so it holds, besides the
--                  ids, ones the retention rule drops when it is read;
--                  shown as what a read keeps (the rule applied to the
--                  24-byte records in order: within DEDUP_MS of the latest,
--                  at most DEDUP_MAX, newest kept), in hex
--                  The ids' tail, the account hash's field "i", is the
--                  end of that stored form: shown in the da:/ds: line, not
--                  in the hash's (which ids are in the tail and which in
--                  the string depends on where batches ended)
--   binary strings (others) as hex
--   {dep}:lock     left out: the decider's lock, held or left to expire by a
--                  killed process, with a per-process token
--   {P}:due:TOPIC  members only: a stored due time is the account's or an
--                  earlier one still ahead of the clock when written (kept
--                  rather than rewritten at every write), which depends on
--                  where batches ended; when each account is evaluated shows
--                  in the alerts, compared on their own
--   {P}:wt:TOPIC   left out: the token of the partition's last write that
--                  left its offset where it was (one per write and process,
--                  there or not depending on where batches ended)
--   {dep}:prog     "<wm>,<wall ms>[,<end since>]" -> "<wm>"; "start" (wall ms)
--                  by name only
--   outbox lists   each element a framed RiskAlert: emitted_at (wall clock at
--                  emission) is cut out; the rest is shown as hex
--   firing hashes  the same for each value (fingerprint -> framed RiskAlert)
--   pb:a:K pb:v:K  an interval bucket is the sum of its string (pbs:F:K,
--   pbs:a:K ...    written whole by the batch that opened the interval) and
--                  its hash (pb:F:K, what later batches added): how a run's
--                  batches split an interval is not state, so both are shown
--                  as one line "{P}:pb:F:K subject=sum ..." (sums exact below
--                  2^53). Left out once folded (boundary (K+1) x INTERVAL
--                  decided, {dep}:agg "last"): the decider deletes a folded
--                  bucket after its atomic write, best effort, so a process
--                  killed in between leaves one behind that nothing reads
--                  again. What a folded bucket held is in the {dep} totals,
--                  which are kept.
--   pbc:a:C ...    a chunk of interval buckets (the sections of intervals
--                  C x 24 ..): each section joins its interval's line as a
--                  string would; which batch appended it is not state
--   pbc:since      by name only: the lowest interval the first write that
--                  stored chunks opened, which can depend on where that
--                  batch ended
--   pbh:a pbh:v    left out: the intervals that have a hash, which depends
--                  on where batches ended (the hashes themselves are in
--                  their intervals' lines)
--
-- usage: redis-cli --raw --eval state_dump.lua , NAMESPACE INTERVAL_MS
--        [DEDUP_MS DEDUP_MAX]   (dedup.horizon and dedup.max.ids; 7d, 64)
local ns, interval = ARGV[1], tonumber(ARGV[2])
local dedup_ms, dedup_max = tonumber(ARGV[3] or '604800000'), tonumber(ARGV[4] or '64')
local keys, cursor = {}, '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ns .. ':*', 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do keys[#keys + 1] = k end
until cursor == '0'
table.sort(keys)

local last = tonumber(redis.call('HGET', ns .. ':{dep}:agg', 'last') or '-1')

-- A framed RiskAlert (magic 0, 4-byte schema id, Avro binary; field order of
-- schemas/RiskAlert.avsc) as hex, without the bytes of emitted_at.
local function varint(s, i)
  local n, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    if not b then error('truncated varint') end
    n = n + (b % 128) * mul
    i = i + 1
    if b < 128 then return n, i end
    mul = mul * 128
  end
end
-- The remembered ids a read keeps (state/account.c, rw_account_ids_settle):
-- each 24-byte record in turn (two hash halves, the event time, little
-- endian), then the rule.
local function settled_ids(v)
  local ids = {}
  for i = 1, #v - 23, 24 do
    local rec, at = string.sub(v, i, i + 23), 0
    for j = 24, 17, -1 do at = at * 256 + string.byte(rec, j) end
    ids[#ids + 1] = { rec = rec, at = at }
    local latest, keep = at, {}
    for _, x in ipairs(ids) do if x.at > latest then latest = x.at end end
    for _, x in ipairs(ids) do if x.at > latest - dedup_ms then keep[#keep + 1] = x end end
    ids = {}
    for k = math.max(1, #keep - dedup_max + 1), #keep do ids[#ids + 1] = keep[k] end
  end
  local recs = {}
  for _, x in ipairs(ids) do recs[#recs + 1] = x.rec end
  return table.concat(recs)
end
local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function alert_sans_emitted_at(s)
  if #s < 5 or string.byte(s, 1) ~= 0 then
    error('outbox element is not a framed RiskAlert: ' .. hex(string.sub(s, 1, 8)))
  end
  local i = 6
  local function str() local n; n, i = varint(s, i); i = i + n / 2 end   -- zigzag length
  local function num() local _; _, i = varint(s, i) end
  str(); str(); str()              -- alert_id fingerprint rule
  num(); num()                     -- category subject_type
  str()                            -- subject_id
  num(); num()                     -- status severity
  i = i + 16                       -- observed threshold
  local branch; branch, i = varint(s, i)
  if branch ~= 0 then i = i + 8 end -- baseline
  num(); num()                     -- window_ms event_time
  local from = i
  num()                            -- emitted_at
  if i > #s + 1 then error('truncated outbox element') end
  return hex(string.sub(s, 1, from - 1)) .. '.' .. hex(string.sub(s, i))
end

-- An interval bucket's string (state/boundary_store.h, fold copies): per
-- subject its length and bytes, then the value, zigzag; LEB128 varints.
local function bucket_add(sums, s)
  local i = 1
  while i <= #s do
    local n, z
    n, i = varint(s, i)
    local subject = string.sub(s, i, i + n - 1)
    i = i + n
    z, i = varint(s, i)
    if z % 2 == 0 then z = z / 2 else z = -(z + 1) / 2 end
    sums[subject] = (sums[subject] or 0) + z
  end
end

local out, buckets = {}, {}
-- The line of an account's remembered ids (rest: {P}:da:ACCOUNT or
-- {P}:ds:ACCOUNT) from their stored form, the string and the tail.
local function ids_line(rest, v)
  if #v % 24 == 0 then v = settled_ids(v) end
  -- Binary values (the remembered event ids) as hex, so a line stays one.
  if string.find(v, '[^%w%p ]') then v = 'hex:' .. hex(v) end
  out[#out + 1] = rest .. ' ' .. v
end
local function bucket_of(slot, fam, pbk)
  local name = slot .. ':pb:' .. fam .. ':' .. pbk
  local sums = buckets[name] or {}
  buckets[name] = sums
  return sums
end
for _, k in ipairs(keys) do
  local rest = string.sub(k, #ns + 2)
  local t = redis.call('TYPE', k)['ok']
  local slot, s, fam, pbk = string.match(rest, '^({%d+}):pb(s?):([av]):(%-?%d+)$')
  local cslot, cfam, chunk = string.match(rest, '^({%d+}):pbc:([av]):(%-?%d+)$')
  pbk = tonumber(pbk)
  if rest == '{dep}:lock' or string.match(rest, '^{%d+}:pbh:[av]$') or
     string.match(rest, '^{%d+}:wt:') then
    -- left out, see above
  elseif string.match(rest, '^{%d+}:pbc:since$') then
    out[#out + 1] = rest
  elseif chunk and t == 'string' then
    local v, i = redis.call('GET', k), 1
    while i <= #v do
      local off, n
      off, i = varint(v, i)
      n, i = varint(v, i)
      local ik = tonumber(chunk) * 24 + off
      if not (last >= 0 and (ik + 1) * interval <= last) then
        bucket_add(bucket_of(cslot, cfam, ik), string.sub(v, i, i + n - 1))
      end
      i = i + n
    end
  elseif pbk and last >= 0 and (pbk + 1) * interval <= last then
    -- folded, see above
  elseif pbk and (t == 'hash' or t == 'string') then
    local sums = bucket_of(slot, fam, pbk)
    if s == 's' then
      bucket_add(sums, redis.call('GET', k))
    else
      local all = redis.call('HGETALL', k)
      for i = 1, #all, 2 do
        -- "\0": the field that keeps a large hash a hashtable, not a subject
        if all[i] ~= '\0' then sums[all[i]] = (sums[all[i]] or 0) + tonumber(all[i + 1]) end
      end
    end
  elseif string.match(rest, '^{%d+}:e:') then
    out[#out + 1] = rest
  elseif t == 'hash' then
    local all = redis.call('HGETALL', k)
    local fields = {}
    local aslot, as, acct = string.match(rest, '^({%d+}):([as]):(.*)$')
    local tail = ''
    for i = 1, #all, 2 do
      local f, v = all[i], all[i + 1]
      if acct and f == 'i' then
        tail = v
      elseif rest == '{dep}:prog' then
        if f == 'start' then v = '' else v = string.match(v, '^([^,]*)') end
      elseif string.match(rest, '^{[%w]+}:firing') then
        v = alert_sans_emitted_at(v)
      end
      if not (acct and f == 'i') then fields[#fields + 1] = f .. '=' .. v end
    end
    table.sort(fields)
    out[#out + 1] = rest .. ' ' .. table.concat(fields, ' ')
    if acct then
      local ids = aslot .. ':d' .. as .. ':' .. acct
      local v = (redis.call('GET', ns .. ':' .. ids) or '') .. tail
      if #v > 0 then ids_line(ids, v) end
    end
  elseif t == 'zset' then
    local all = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
    local items = {}
    local due = string.match(rest, '^{%d+}:due:')
    for i = 1, #all, 2 do
      if due then items[#items + 1] = all[i] else items[#items + 1] = all[i] .. '=' .. all[i + 1] end
    end
    table.sort(items)
    out[#out + 1] = rest .. ' ' .. table.concat(items, ' ')
  elseif t == 'list' then
    local items = redis.call('LRANGE', k, 0, -1)
    for i = 1, #items do
      if string.match(rest, 'outbox') then
        items[i] = alert_sans_emitted_at(items[i])
      else
        items[i] = hex(items[i])
      end
    end
    out[#out + 1] = rest .. ' ' .. table.concat(items, ' ')
  elseif t == 'set' then
    local items = redis.call('SMEMBERS', k)
    table.sort(items)
    out[#out + 1] = rest .. ' ' .. table.concat(items, ' ')
  elseif t == 'string' then
    local v = redis.call('GET', k)
    local islot, is, iacct = string.match(rest, '^({%d+}):d([as]):(.*)$')
    if islot then
      -- With the account's hash: shown with its tail, from the hash.
      if redis.call('EXISTS', ns .. ':' .. islot .. ':' .. is .. ':' .. iacct) == 0 then
        ids_line(rest, v)
      end
    else
      -- Binary values as hex, so a line stays one.
      if string.find(v, '[^%w%p ]') then v = 'hex:' .. hex(v) end
      out[#out + 1] = rest .. ' ' .. v
    end
  elseif t ~= 'none' then   -- 'none': expired since the SCAN
    error('key ' .. k .. ' of unexpected type ' .. t)
  end
end
for name, sums in pairs(buckets) do
  local fields = {}
  -- A sum of 0 is no entry: whether one is stored depends on the split too.
  for f, v in pairs(sums) do
    if v ~= 0 then fields[#fields + 1] = f .. '=' .. string.format('%.0f', v) end
  end
  table.sort(fields)
  out[#out + 1] = name .. ' ' .. table.concat(fields, ' ')
end
table.sort(out)
out[#out + 1] = '-- ' .. #out .. ' keys'
return out
