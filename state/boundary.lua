-- boundary.lua - one dependency-rule decision at an event-time boundary,
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
-- ARGV[6]  interval index k of the bucket folded in (fold copies fold:a:<k>)
-- ARGV[7]  interval index leaving the window ("" = none): its fold copies go
-- ARGV[8]  number of agg fields F, then F field/value pairs (first, a:sum, ...)
-- then five counted sections, each "N" followed by its items:
--   tot:a   N pairs subject, new total ("0" removes it from tot:a and z:a)
--   tot:v   N pairs, the same for vendors
--   fold:a  N pairs subject, value folded in at k (kept for its leaving)
--   fold:v  N pairs
--   f       N pairs fingerprint, "firing,severity,resolved_at" ("" deletes)
--   outbox  N framed RiskAlerts, RPUSHed in order
--
-- Keys: PREFIX tot:a tot:v (hash subject -> 90-day total), z:a z:v (the same
-- as sorted sets), fold:a:<k> fold:v:<k>, agg, f, outbox, lock.
--
-- Reply: {"OK"} or {"STALE", last}.

local p = ARGV[1]
local last = redis.call('HGET', KEYS[1], 'last')
if not last then last = '' end
if last ~= ARGV[2] then
        return {'STALE', last}
end

local i = 8
local nagg = tonumber(ARGV[i]); i = i + 1
for _ = 1, nagg do
        redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
        i = i + 2
end
redis.call('HSET', KEYS[1], 'last', ARGV[3])

for _, fam in ipairs({'a', 'v'}) do
        local tot, z = p .. 'tot:' .. fam, p .. 'z:' .. fam
        local n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do
                local s, v = ARGV[i], ARGV[i + 1]
                if v == '0' then
                        redis.call('HDEL', tot, s)
                        redis.call('ZREM', z, s)
                else
                        redis.call('HSET', tot, s, v)
                        redis.call('ZADD', z, v, s)
                end
                i = i + 2
        end
end

for _, fam in ipairs({'a', 'v'}) do
        local fold = p .. 'fold:' .. fam .. ':' .. ARGV[6]
        local n = tonumber(ARGV[i]); i = i + 1
        redis.call('DEL', fold)
        for _ = 1, n do
                redis.call('HSET', fold, ARGV[i], ARGV[i + 1])
                i = i + 2
        end
        if ARGV[7] ~= '' then
                redis.call('DEL', p .. 'fold:' .. fam .. ':' .. ARGV[7])
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
