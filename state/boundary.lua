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
-- then the sections, the counted ones "N" followed by their items:
--   M times, for k = k0 .. k0+M-1:
--     fc:a    the fold copy of k: what each subject added at k, kept for
--             its leaving, one string (state/boundary_store.h; "" = none)
--     fc:v    the same for vendors
--   f       N pairs fingerprint, "firing,severity,resolved_at" ("" deletes)
--   outbox  N framed RiskAlerts, RPUSHed in order
--
-- A run of M boundaries is written as its last one: lifecycle states and
-- aggregates as they stand after it, every fold copy and every alert of the
-- run (the decider computes them boundary by boundary).
--
-- Keys: PREFIX fc:a:<k> fc:v:<k> (strings), agg, f, outbox, lock. Earlier
-- versions kept the fold copies as hashes fold:a:<k> fold:v:<k>: still read,
-- and deleted with the copies that replace them. The 90-day totals are the
-- sum of the window's fold copies: the decider keeps them in memory and
-- builds them from the copies when it has none (state/boundary_store.c).
-- Earlier versions also stored them (hashes tot:a tot:v, before that sorted
-- sets z:a z:v): deleted here, not read.
--
-- Reply: {"OK"} or {"STALE", last}.

local p = ARGV[1]

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

redis.call('UNLINK', p .. 'tot:a', p .. 'tot:v', p .. 'z:a', p .. 'z:v')

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
