-- state.lua - riskwatch's atomic batch apply: one call per (batch, partition).
--
-- Applies a batch of decoded events to the per-account rolling buckets and
-- advances the partition's stored offset in the same atomic step. The write
-- is fenced: if the stored offset is not the one the caller read when it
-- took the partition, nothing is written and the reply is {"FENCED", stored}.
--
-- KEYS[1]  offset key of the topic-partition   (ns:{P}:off:TOPIC)
-- ARGV[1]  key prefix for this partition       (ns:{P}:)
-- ARGV[2]  expected stored offset (-1 = none stored yet)
-- ARGV[3]  next offset after this batch
-- ARGV[4]  window in days: an account or vendor keeps the buckets of the
--          WINDOW days up to its own latest event day (m:maxday), so what
--          is kept depends on the data only, never on batch boundaries
-- ARGV[5]  dedup horizon in seconds (0 = off)
-- ARGV[6]  highest event time in the batch (the watermark only rises)
-- ARGV[7]  number of events N; then N events of 8 fields each:
--          kind, event_id, account, vendor, day, amount, occurred_at, extra
--   kind: P C R (orders PLACED/CANCELLED/REFUNDED),
--         O E X V S (support OPENED/ESCALATED/REOPENED/RESOLVED/SURVEY)
--   amount: minor units (orders) | ticket severity 0..3 (support)
--   extra: "" | "csat,sentiment" for support ("" parts when null)
--
-- Per account, one hash per input stream, each written only by the owner of
-- that stream's partition and pruned against its own latest day, so neither
-- stream's progress can change what the other's rules see:
--   PREFIX a:ACCOUNT  orders:  field <day> = "po,ps,co,ro,rs,0,0,0,0,0,0"
--   PREFIX s:ACCOUNT  support: field <day> = "0,0,0,0,0,tk,tu,cs,cn,ss,sn"
--   (the same 11 columns, see M below)
--   m:n m:first m:last  (a: only) placed-order count, first and last PLACED time
--   m:maxday            the latest day of the stream's events
-- Per vendor hash   PREFIX v:VENDOR   field <day> = order value (PLACED),
--                   m:maxday as for accounts
--
-- Per account hash  PREFIX f:ACCOUNT  field <rule> = "firing,severity,resolved_at"
--
-- Per partition     PREFIX wm:TOPIC  highest event time applied
--
-- Portfolio, per partition slot (orders stream), maintained incrementally:
--   PREFIX pd:a:<day>  hash account -> net spend (PLACED - REFUNDED) that day
--   PREFIX pd:v:<day>  hash vendor  -> order value (PLACED) that day
--   PREFIX pz:a, pz:v  sorted sets: subject -> its total over the window
--   PREFIX pw          hash: ref (the window's last day), a:sum a:sq v:sum
--                      v:sq (sum and sum of squares of the subjects' totals)
-- The window is the PW days up to ref. Events inside it change the totals at
-- once; ref follows the partition's watermark day, and moving it adds the
-- days entering and subtracts the days leaving: the work is per event and
-- per day, never a scan of all accounts. Days behind the window are deleted.
--
-- Reply: {"OK", applied, duplicates, watermark before the batch,
--         flags (one char per event: 1 applied, d duplicate), then for
--         every account the batch changes:
--         account, {field, value, ...} as before the batch, {rule, fpcsv, ...}}

local M = {po=1, ps=2, co=3, ro=4, rs=5, tk=6, tu=7, cs=8, cn=9, ss=10, sn=11}
local NM = 11

local offkey = KEYS[1]
local prefix = ARGV[1]
local expected = tonumber(ARGV[2])
local nextoff = ARGV[3]
local window = tonumber(ARGV[4])
local horizon = tonumber(ARGV[5])
local maxat = tonumber(ARGV[6])
local PW = 90   -- portfolio window, days
local n = tonumber(ARGV[7])

local stored = redis.call('GET', offkey)
local storedn = -1
if stored then storedn = tonumber(stored) end
if storedn ~= expected then
  return {'FENCED', tostring(storedn)}
end

-- The account hash an event kind goes to.
local function akey_of(kind, acct)
  if kind == 'P' or kind == 'C' or kind == 'R' then return prefix .. 'a:' .. acct end
  return prefix .. 's:' .. acct
end

local function parse(csv)
  local t = {}
  if csv then
    for v in string.gmatch(csv, '[^,]+') do
      if #t < NM then t[#t + 1] = tonumber(v) or 0 end
    end
  end
  for i = #t + 1, NM do t[i] = 0 end
  return t
end

-- Pass 1: de-duplicate, and snapshot every account the batch changes as it
-- was before the batch, so the caller can replay the batch event by event
-- over it and evaluate after each event.
local flags, order, vendors, touched = {}, {}, {}, {}
local snap = {}
local applied, dups = 0, 0
for i = 0, n - 1 do
  local b = 8 + i * 8
  local kind, eid, acct = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local fresh = true
  if horizon > 0 then
    fresh = redis.call('SET', prefix .. 'e:' .. eid, '1', 'NX', 'EX', horizon)
  end
  if not fresh then
    dups = dups + 1
    flags[#flags + 1] = 'd'
  else
    applied = applied + 1
    flags[#flags + 1] = '1'
    if not snap[acct] then
      snap[acct] = redis.call('HGETALL', akey_of(kind, acct))
      order[#order + 1] = acct
      touched[#touched + 1] = akey_of(kind, acct)
    end
  end
end

-- Drop the buckets of a hash older than WINDOW days before its m:maxday.
local function prune(key)
  local maxday = tonumber(redis.call('HGET', key, 'm:maxday') or '0')
  for _, f in ipairs(redis.call('HKEYS', key)) do
    local d = tonumber(f)
    if d and d <= maxday - window then redis.call('HDEL', key, f) end
  end
end

local function bump_maxday(key, day)
  local cur = tonumber(redis.call('HGET', key, 'm:maxday') or '-1')
  if tonumber(day) > cur then redis.call('HSET', key, 'm:maxday', day) end
end

-- Portfolio: add delta to subject's window total (kind 'a' or 'v').
local pw = prefix .. 'pw'
local function port_add(k, subj, delta)
  if delta == 0 then return end
  local zkey = prefix .. 'pz:' .. k
  local old = tonumber(redis.call('ZSCORE', zkey, subj) or '0')
  local new = old + delta
  redis.call('HINCRBY', pw, k .. ':sum', delta)
  -- new^2 - old^2, without squaring large numbers in doubles
  redis.call('HINCRBYFLOAT', pw, k .. ':sq', delta * (new + old))
  if new == 0 then redis.call('ZREM', zkey, subj) else redis.call('ZADD', zkey, new, subj) end
end
local ref = tonumber(redis.call('HGET', pw, 'ref') or '-1')
local function port_event(k, subj, day, delta)
  if ref >= 0 and day <= ref - PW then return end        -- behind the window
  redis.call('HINCRBY', prefix .. 'pd:' .. k .. ':' .. day, subj, delta)
  if ref >= 0 and day <= ref then port_add(k, subj, delta) end
end
local function port_day(day, sign)
  for _, k in ipairs({'a', 'v'}) do
    local all = redis.call('HGETALL', prefix .. 'pd:' .. k .. ':' .. day)
    for j = 1, #all, 2 do port_add(k, all[j], sign * tonumber(all[j + 1])) end
  end
end
-- Move the window's last day to newref.
local function port_advance(newref)
  if newref <= ref then return end
  local lo = ref + 1
  if ref < 0 or lo < newref - PW + 1 then lo = newref - PW + 1 end
  if ref >= 0 then      -- days inside the window that leave it
    local last = ref
    if last > newref - PW then last = newref - PW end
    for d = ref - PW + 1, last do port_day(d, -1) end
  end
  for d = lo, newref do port_day(d, 1) end    -- days entering it
  -- Days behind the new window are done with.
  local oldest = (ref >= 0) and (ref - PW + 1) or (newref - PW - 366)
  for d = oldest, newref - PW do
    redis.call('DEL', prefix .. 'pd:a:' .. d, prefix .. 'pd:v:' .. d)
  end
  ref = newref
  redis.call('HSET', pw, 'ref', ref)
end

-- Pass 2: apply.
for i = 0, n - 1 do
  if flags[i + 1] == '1' then
    local b = 8 + i * 8
    local kind, acct, vendor = ARGV[b], ARGV[b + 2], ARGV[b + 3]
    local day, amount, at, extra = ARGV[b + 4], tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6]), ARGV[b + 7]
    local akey = akey_of(kind, acct)
    local t = parse(redis.call('HGET', akey, day))
    if kind == 'P' then
      t[M.po] = t[M.po] + 1
      t[M.ps] = t[M.ps] + amount
      port_event('a', acct, tonumber(day), amount)
      port_event('v', vendor, tonumber(day), amount)
      redis.call('HINCRBY', prefix .. 'v:' .. vendor, day, amount)
      bump_maxday(prefix .. 'v:' .. vendor, day)
      vendors[vendor] = true
      local cnt = redis.call('HINCRBY', akey, 'm:n', 1)
      local first = tonumber(redis.call('HGET', akey, 'm:first') or at)
      local last = tonumber(redis.call('HGET', akey, 'm:last') or at)
      if cnt == 1 or at < first then redis.call('HSET', akey, 'm:first', at) end
      if cnt == 1 or at > last then redis.call('HSET', akey, 'm:last', at) end
    elseif kind == 'C' then
      t[M.co] = t[M.co] + 1
    elseif kind == 'R' then
      t[M.ro] = t[M.ro] + 1
      t[M.rs] = t[M.rs] + amount
      port_event('a', acct, tonumber(day), -amount)
    else
      if kind == 'O' or kind == 'X' then
        t[M.tk] = t[M.tk] + 1
      end
      if kind == 'E' or amount == 3 then t[M.tu] = t[M.tu] + 1 end
      if extra ~= '' then
        local c, s = string.match(extra, '^([^,]*),(.*)$')
        if c and c ~= '' then t[M.cs] = t[M.cs] + tonumber(c); t[M.cn] = t[M.cn] + 1 end
        if s and s ~= '' then t[M.ss] = t[M.ss] + tonumber(s); t[M.sn] = t[M.sn] + 1 end
      end
    end
    redis.call('HSET', akey, day, table.concat(t, ','))
    bump_maxday(akey, day)
  end
end

for _, key in ipairs(touched) do prune(key) end
for vendor, _ in pairs(vendors) do prune(prefix .. 'v:' .. vendor) end

redis.call('SET', offkey, nextoff)
local wmkey = prefix .. 'wm:' .. string.sub(offkey, #prefix + 5)
local wm = tonumber(redis.call('GET', wmkey) or '0')
if maxat > wm then redis.call('SET', wmkey, maxat) end
if wm > 0 or maxat > 0 then
  -- Only the orders stream moves the portfolio (support events carry no value).
  if order[1] and string.sub(touched[1], #prefix + 1, #prefix + 2) == 'a:' then
    port_advance(math.floor(math.max(wm, maxat) / 86400000))
  end
end

local reply = {'OK', applied, dups, tostring(wm), table.concat(flags)}
for _, acct in ipairs(order) do
  reply[#reply + 1] = acct
  reply[#reply + 1] = snap[acct]
  reply[#reply + 1] = redis.call('HGETALL', prefix .. 'f:' .. acct)
end
return reply
