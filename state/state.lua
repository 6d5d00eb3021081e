-- state.lua - riskwatch's atomic batch step: two calls per (batch, partition).
--
-- ARGV[1] = 'prepare' (read only): fence check, de-duplication verdicts, and
--   the accounts the batch touches or whose due time has come, as they are
--   before the batch, with their lifecycle states and stored due times. The caller replays the
--   batch over them, evaluates the rules and decides the transitions.
-- ARGV[1] = 'commit': applies the batch, stores the next offset, the changed
--   lifecycle states, the accounts' next due times and the transitions (the
--   outbox) in one atomic step, fenced on the same stored offset. Between
--   the two calls only the partition's owner writes its keys; anyone else's
--   write moves the offset, and the commit is refused.
-- Either call is refused, nothing written, when the stored offset is not the
-- one the caller read when it took the partition: {"FENCED", stored}.
--
-- KEYS[1]  offset key of the topic-partition   (ns:{P}:off:TOPIC)
--
-- prepare: ARGV[2] prefix (ns:{P}:), [3] expected offset (-1: none),
--   [4] dedup horizon in seconds (0 = off), [5] stream ('a' orders, 's'
--   support), [6] due limit (ms: accounts due at or before it are returned),
--   [7] N, then N events of 3 fields: kind, event_id, account.
--   Reply: {"OK", watermark before the batch, flags (one char per event:
--   1 fresh, d duplicate), then per account: account, {field, value, ...},
--   {rule, fpcsv, ...}, its stored due time ("" when none)}
--
-- commit: ARGV[2] prefix, [3] expected offset, [4] next offset, [5] window
--   in days (an account or vendor keeps the buckets of the WINDOW days up to
--   its own latest event day, m:maxday, so what is kept depends on the data
--   only), [6] dedup horizon (s), [7] highest event time applied, [8] flags
--   as prepare returned them, [9] N, then N events of 9 fields:
--     kind, event_id, account, vendor, day, amount, occurred_at, extra, pbk
--   then F, F x (account, rule, fpcsv); D, D x (account, due ms, 0 = none);
--   O, O x (outbox element: a framed RiskAlert).
--   kind: P C R (orders PLACED/CANCELLED/REFUNDED),
--         O E X V S (support OPENED/ESCALATED/REOPENED/RESOLVED/SURVEY)
--   amount: minor units (orders) | ticket severity 0..3 (support)
--   extra: "" | "csat,sentiment" for support ("" parts when null)
--   pbk: the portfolio interval the order counts in (-1 for support)
--   Reply: {"OK", applied, duplicates, watermark before the batch}
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
-- Per account hash  PREFIX f:ACCOUNT  field <rule> = "firing,severity,resolved_at"
-- Per partition     PREFIX wm:TOPIC   highest event time applied
--                   PREFIX due:TOPIC  sorted set: account -> the event time
--                                     its rules next change verdict
--                   PREFIX outbox:TOPIC list of transitions not yet delivered
-- Portfolio intervals, read by the boundary decider (orders stream):
--   PREFIX pb:a:<k>  hash account -> net spend (PLACED - REFUNDED) in interval k
--   PREFIX pb:v:<k>  hash vendor  -> order value (PLACED) in interval k
--   PREFIX pb:first  the lowest k written

local M = {po=1, ps=2, co=3, ro=4, rs=5, tk=6, tu=7, cs=8, cn=9, ss=10, sn=11}
local NM = 11

local offkey = KEYS[1]
local mode = ARGV[1]
local prefix = ARGV[2]
local expected = tonumber(ARGV[3])
local topic = string.sub(offkey, #prefix + 5)

local stored = redis.call('GET', offkey)
local storedn = -1
if stored then storedn = tonumber(stored) end
if storedn ~= expected then
  return {'FENCED', tostring(storedn)}
end
local wmkey = prefix .. 'wm:' .. topic
local duekey = prefix .. 'due:' .. topic

if mode == 'prepare' then
  local horizon = tonumber(ARGV[4])
  local stream = ARGV[5]
  local due_until = ARGV[6]
  local n = tonumber(ARGV[7])
  local flags, order, snap, seen = {}, {}, {}, {}
  for i = 0, n - 1 do
    local b = 8 + i * 3
    local eid, acct = ARGV[b + 1], ARGV[b + 2]
    local fresh = true
    if horizon > 0 then
      if seen[eid] or redis.call('EXISTS', prefix .. 'e:' .. eid) == 1 then
        fresh = false
      end
      seen[eid] = true
    end
    if fresh then
      flags[#flags + 1] = '1'
      if not snap[acct] then
        snap[acct] = ''
        order[#order + 1] = acct
      end
    else
      flags[#flags + 1] = 'd'
    end
  end
  local due = redis.call('ZRANGEBYSCORE', duekey, '-inf', due_until, 'WITHSCORES')
  for j = 1, #due, 2 do
    if not snap[due[j]] then order[#order + 1] = due[j] end
    snap[due[j]] = due[j + 1]
  end
  for _, acct in ipairs(order) do
    if snap[acct] == '' then snap[acct] = redis.call('ZSCORE', duekey, acct) or '' end
  end
  local reply = {'OK', redis.call('GET', wmkey) or '0', table.concat(flags)}
  for _, acct in ipairs(order) do
    reply[#reply + 1] = acct
    reply[#reply + 1] = redis.call('HGETALL', prefix .. stream .. ':' .. acct)
    reply[#reply + 1] = redis.call('HGETALL', prefix .. 'f:' .. acct)
    reply[#reply + 1] = snap[acct]
  end
  return reply
end

local nextoff = ARGV[4]
local window = tonumber(ARGV[5])
local horizon = tonumber(ARGV[6])
local maxat = tonumber(ARGV[7])
local pflags = ARGV[8]
local n = tonumber(ARGV[9])
local EV = 9
local base = 10   -- ARGV index of the first event

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

-- Pass 1: the events prepare found fresh are applied: mark them seen.
local applied, dups = 0, 0
for i = 0, n - 1 do
  local b = base + i * EV
  if string.sub(pflags, i + 1, i + 1) == '1' then
    applied = applied + 1
    if horizon > 0 then
      redis.call('SET', prefix .. 'e:' .. ARGV[b + 1], '1', 'EX', horizon)
    end
  else
    dups = dups + 1
  end
end

-- A hash keeps the buckets of the WINDOW days up to its m:maxday. Moving
-- m:maxday from cur to day drops exactly the days that leave: (cur - WINDOW,
-- day - WINDOW] (all older ones are gone already), and a bucket behind the
-- window is never written: the same state as pruning after every event,
-- without reading every field.
local maxdays = {}
local function get_maxday(key)
  local m = maxdays[key]
  if m == nil then
    m = tonumber(redis.call('HGET', key, 'm:maxday') or '-1')
    maxdays[key] = m
  end
  return m
end

local function behind(key, day)
  local m = get_maxday(key)
  return m >= 0 and tonumber(day) <= m - window
end

local function bump_maxday(key, day)
  local cur = get_maxday(key)
  day = tonumber(day)
  if day <= cur then return end
  redis.call('HSET', key, 'm:maxday', day)
  maxdays[key] = day
  if cur < 0 then return end
  local lo, hi = cur - window + 1, day - window
  if hi < lo then return end
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

-- Portfolio interval k of the decider: one hash per subject kind.
local pbfirst = tonumber(redis.call('GET', prefix .. 'pb:first') or '-1')
local function pb_add(k, subj, pbk, delta)
  if pbk < 0 or delta == 0 then return end
  redis.call('HINCRBY', prefix .. 'pb:' .. k .. ':' .. pbk, subj, delta)
  if pbfirst < 0 or pbk < pbfirst then
    pbfirst = pbk
    redis.call('SET', prefix .. 'pb:first', pbk)
  end
end

-- Pass 2: apply.
for i = 0, n - 1 do
  if string.sub(pflags, i + 1, i + 1) == '1' then
    local b = base + i * EV
    local kind, acct, vendor = ARGV[b], ARGV[b + 2], ARGV[b + 3]
    local day, amount, at, extra = ARGV[b + 4], tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6]), ARGV[b + 7]
    local pbk = tonumber(ARGV[b + 8])
    local akey = akey_of(kind, acct)
    local late = behind(akey, day)
    local t = late and parse(nil) or parse(redis.call('HGET', akey, day))
    if kind == 'P' then
      t[M.po] = t[M.po] + 1
      t[M.ps] = t[M.ps] + amount
      pb_add('a', acct, pbk, amount)
      pb_add('v', vendor, pbk, amount)
      local vkey = prefix .. 'v:' .. vendor
      if not behind(vkey, day) then redis.call('HINCRBY', vkey, day, amount) end
      bump_maxday(vkey, day)
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
      pb_add('a', acct, pbk, -amount)
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
    if not late then redis.call('HSET', akey, day, table.concat(t, ',')) end
    bump_maxday(akey, day)
  end
end

redis.call('SET', offkey, nextoff)
local wm = tonumber(redis.call('GET', wmkey) or '0')
if maxat > wm then redis.call('SET', wmkey, maxat) end

-- What the caller decided over this batch: lifecycle states, due times,
-- transitions to deliver.
local x = base + n * EV
local nf = tonumber(ARGV[x]); x = x + 1
for _ = 1, nf do
  redis.call('HSET', prefix .. 'f:' .. ARGV[x], ARGV[x + 1], ARGV[x + 2])
  x = x + 3
end
local nd = tonumber(ARGV[x]); x = x + 1
for _ = 1, nd do
  if tonumber(ARGV[x + 1]) > 0 then
    redis.call('ZADD', duekey, ARGV[x + 1], ARGV[x])
  else
    redis.call('ZREM', duekey, ARGV[x])
  end
  x = x + 2
end
local no = tonumber(ARGV[x]); x = x + 1
for _ = 1, no do
  redis.call('RPUSH', prefix .. 'outbox:' .. topic, ARGV[x])
  x = x + 1
end

return {'OK', applied, dups, tostring(wm)}
