-- boundary.lua - the dependency-rule decisions at a run of event-time boundaries,
-- written atomically in the {dep} slot (consumers/boundary.c computes it).
--
-- Fenced: the decision applies only if the last decided boundary (agg.last)
-- still equals the one the decider read; otherwise nothing is written and the
-- reply is {"STALE", stored last} (another process decided it).
--
-- KEYS[1]  PREFIX agg (PREFIX = ns:{dep}:); every key touched is PREFIX..., so
--          the script stays within one cluster slot.
-- ARGV[1]  PREFIX
-- ARGV[2]  expected agg.last ("" = nothing decided yet)
-- ARGV[3]  the boundary B (ms): agg.last after this call
-- ARGV[4]  lock token, ARGV[5] lock ttl (ms): the lock's ttl is renewed while
--          the token still holds it
-- ARGV[6]  interval index k0 of the first bucket folded in, ARGV[7] the number
--          M of consecutive buckets folded (k0 .. k0+M-1; ARGV[3] is the
--          boundary after the last of them)
-- ARGV[8]  lowest, ARGV[9] highest interval index leaving the window ("" =
--          none): their fold copies go
-- ARGV[10] number of agg fields F, then F field/value pairs (first, a:sum, ...)
-- then counted sections, each "N" followed by its items:
--   tot:a   N pairs subject, new total ("0" removes it from tot:a)
--   tot:v   N pairs, the same for vendors
--   M times, for k = k0 .. k0+M-1:
--     fc:a    the fold copy of k: what each subject added at k, kept for
--             its leaving, one string (state/boundary_store.h; "" = none)
--     fc:v    the same for vendors
--   f       N pairs fingerprint, "firing,severity,resolved_at" ("" deletes)
--   outbox  N framed RiskAlerts, RPUSHed in order
--
-- A run of M boundaries is written as its last one: totals, lifecycle states
-- and aggregates as they stand after it, every fold copy and every alert of
-- the run (the decider computes them boundary by boundary).
--
-- Keys: PREFIX tot:a tot:v (hash subject -> 90-day total), fc:a:<k>
-- fc:v:<k> (strings), agg, f, outbox, lock. Earlier versions kept the fold
-- copies as hashes fold:a:<k> fold:v:<k>: still read, and deleted with the
-- copies that replace them. The decider keeps its own copy of the
-- totals (state/boundary_store.c): Redis stores them and computes nothing.
--
-- Reply: {"OK"} or {"STALE", last}.

local p = ARGV[1]

-- Variadic commands in chunks (unpack() has a limit): one call per chunk
-- rather than one per field.
local function batched(cmd, key, args)
        for j = 1, #args, 400 do
                redis.call(cmd, key, unpack(args, j, math.min(j + 399, #args)))
        end
end
local last = redis.call('HGET', KEYS[1], 'last')
if not last then last = '' end
if last ~= ARGV[2] then
        return {'STALE', last}
end

local i = 10
local nagg = tonumber(ARGV[i]); i = i + 1
for _ = 1, nagg do
        redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
        i = i + 2
end
redis.call('HSET', KEYS[1], 'last', ARGV[3])

for _, fam in ipairs({'a', 'v'}) do
        local tot = p .. 'tot:' .. fam
        local n = tonumber(ARGV[i]); i = i + 1
        local gone, hset = {}, {}
        for _ = 1, n do
                local s, v = ARGV[i], ARGV[i + 1]
                if v == '0' then
                        gone[#gone + 1] = s
                else
                        hset[#hset + 1] = s
                        hset[#hset + 1] = v
                end
                i = i + 2
        end
        batched('HDEL', tot, gone)
        batched('HSET', tot, hset)
end
-- Sorted sets of the totals, kept by earlier versions: not read any more.
redis.call('DEL', p .. 'z:a', p .. 'z:v')

local k0 = tonumber(ARGV[6])
local dels = {}
for k = k0, k0 + tonumber(ARGV[7]) - 1 do
        for _, fam in ipairs({'a', 'v'}) do
                dels[#dels + 1] = p .. 'fold:' .. fam .. ':' .. k
                dels[#dels + 1] = p .. 'fc:' .. fam .. ':' .. k
        end
end
if ARGV[8] ~= '' then
        for k = tonumber(ARGV[8]), tonumber(ARGV[9]) do
                for _, fam in ipairs({'a', 'v'}) do
                        dels[#dels + 1] = p .. 'fold:' .. fam .. ':' .. k
                        dels[#dels + 1] = p .. 'fc:' .. fam .. ':' .. k
                end
        end
end
for j = 1, #dels, 400 do
        redis.call('DEL', unpack(dels, j, math.min(j + 399, #dels)))
end
for k = k0, k0 + tonumber(ARGV[7]) - 1 do
        for _, fam in ipairs({'a', 'v'}) do
                if ARGV[i] ~= '' then
                        redis.call('SET', p .. 'fc:' .. fam .. ':' .. k, ARGV[i])
                end
                i = i + 1
        end
end

local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
        if ARGV[i + 1] == '' then
                redis.call('HDEL', p .. 'f', ARGV[i])
        else
                redis.call('HSET', p .. 'f', ARGV[i], ARGV[i + 1])
        end
        i = i + 2
end

n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
        redis.call('RPUSH', p .. 'outbox', ARGV[i])
        i = i + 1
end

if redis.call('GET', p .. 'lock') == ARGV[4] then
        redis.call('PEXPIRE', p .. 'lock', ARGV[5])
end
return {'OK'}
