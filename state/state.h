/* state.h - rolling per-account state in Redis: accounts loaded on a cache
 * miss, and each batch's changes written atomically with the partitions'
 * offsets (one transaction for all partitions of a batch). */
#ifndef RW_STATE_H
#define RW_STATE_H

#include "common/rw.h"
#include "common/conf.h"
#include "rules/rules.h"
#include "state/account.h"

typedef struct rw_state_s rw_state_t;

/* Connect to conf's redis.url. Returns NULL and fills errstr (hiredis'
 * reason) when Redis is unreachable or refuses. */
rw_state_t *rw_state_new(const rw_conf_t *conf, char *errstr, size_t errstr_size);
/* NULL-safe. */
void rw_state_destroy(rw_state_t *st);
/* Delete every key of the connection's namespace (SCAN + UNLINK): a replay
 * starts from nothing, a backtest leaves nothing. *deletedp: how many. */
rw_err_t rw_state_purge(rw_state_t *st, int64_t *deletedp, char *errstr,
                        size_t errstr_size);

const char *rw_state_ns(const rw_state_t *st);

/* What the Redis server's own settings mean for the state: the state is
 * kept only there, so a server that may evict keys under memory pressure
 * may lose it (an evicted account counts as new, an evicted lock or fence
 * lets another process in); and the account hashes stay compact only while
 * their fields fit Redis' small-hash encoding. */
typedef struct rw_state_server_s {
        int64_t maxmemory;              /* bytes; 0: no limit */
        char policy[32];                /* maxmemory-policy */
        int64_t hash_value;             /* hash-max-listpack-value */
        int64_t hash_entries;           /* hash-max-listpack-entries */
} rw_state_server_t;
/* The server's settings (CONFIG GET, under the names Redis 6 and 7 both
 * answer to). RW_ERR_FAIL when the server refuses CONFIG (renamed or
 * disabled, as on some managed services: errstr says). */
rw_err_t rw_state_server(rw_state_t *st, rw_state_server_t *srv, char *errstr,
                         size_t errstr_size);
/* The i-th warning those settings call for into buf (a line for people), 0;
 * -1 when there are no more. Pure. */
int rw_state_server_warning(const rw_state_server_t *srv, int i, char *buf, size_t size);

/* Called with the duration (seconds) of every Redis round trip any
 * connection of the process makes (a command, or a pipeline from its first
 * reply awaited to its last). Process-wide: set once before the threads
 * that use Redis start (NULL: none). cb must be thread-safe. */
void rw_state_set_round_trip_cb(void (*cb)(void *opaque, double seconds), void *opaque);

/* Drop the connection and connect anew (after any I/O error: a hiredis
 * context in error is never reused). RW_ERR_IO when Redis is still away. */
rw_err_t rw_state_reconnect(rw_state_t *st, char *errstr, size_t errstr_size);

/* The position stored for topic/partition: the next offset to consume
 * (-1 when none) and the highest event time applied (0 when none). */
rw_err_t rw_state_get_position(rw_state_t *st, const char *topic,
                               int32_t partition, int64_t *offsetp,
                               int64_t *watermarkp,
                               char *errstr, size_t errstr_size);

/* Accounts of a topic-partition's stream as stored (`orders` != 0: the
 * orders stream, else support), one pipelined round trip: views[i] is
 * initialised for accounts[i] with its buckets, order meta, lifecycle
 * states, stored due time and remembered event ids (caller clears each
 * with rw_account_view_clear()). RW_ERR_IO: reconnect and retry. */
rw_err_t rw_state_load(rw_state_t *st, const char *topic, int32_t partition,
                       int orders, const char *const *accounts, size_t cnt,
                       rw_account_view_t *views, char *errstr, size_t errstr_size);

/* What rw_state_load() gives for accounts Redis does not hold, without
 * asking it: for a partition with no stored position (offset and
 * watermark), whose accounts are all new (every write stores its offset
 * with its accounts, in one transaction, and only its owner writes them).
 * RW_OK or RW_ERR_NOMEM. */
rw_err_t rw_state_load_absent(const char *const *accounts, size_t cnt,
                              rw_account_view_t *views);

/* The last dependency boundary decided, as the {dep} slot says now
 * ({dep}:agg "last"; -1 when none). */
rw_err_t rw_state_get_decided(rw_state_t *st, int64_t *lastp,
                              char *errstr, size_t errstr_size);

/* The evaluation interval (ms) the namespace's interval-indexed state was
 * built with ({dep}:agg "interval": the partitions' portfolio buckets and
 * the decider's fold copies are indexed by it); when none is, `interval_ms`
 * (recorded with `record`). *storedp = 0 when an earlier version's
 * namespace, which did not record it, has decided a boundary that is not a
 * multiple of `interval_ms`: it was built with another one. */
rw_err_t rw_state_interval(rw_state_t *st, int64_t interval_ms, int record,
                           int64_t *storedp, char *errstr, size_t errstr_size);

/* The layout of the keys and values riskwatch keeps in a namespace: raised
 * by a change an older riskwatch could not read, or this one could not read
 * from an older namespace. */
#define RW_STATE_LAYOUT 1

/* The layout the namespace was written in ({dep}:agg "layout"). A namespace
 * that records none is new (no interval recorded, nothing decided): its
 * layout is RW_STATE_LAYOUT; or it was written before layouts were
 * recorded: layout 1. With `record`, the answer is recorded when none was.
 * The caller compares *storedp with RW_STATE_LAYOUT. */
rw_err_t rw_state_layout(rw_state_t *st, int record, int64_t *storedp, char *errstr,
                         size_t errstr_size);

/* Which accounts of a topic-partition have a stored due time at or before
 * `until`: filled in by rw_state_due() (caller frees each of accounts[],
 * accounts and dues; rw_due_query_clear() does). */
typedef struct rw_due_query_s {
        const char *topic;
        int32_t partition;
        int64_t until;
        /* In: also the nearest due times after `until`, at most this many
         * (0: none). Out: horizon, every due time at or before it is in
         * the answer (INT64_MAX: every one stored). */
        size_t ahead;
        int64_t horizon;
        char **accounts;
        int64_t *dues;
        size_t cnt;
} rw_due_query_t;

void rw_due_query_clear(rw_due_query_t *q);

/* Answer `cnt` due queries in one pipelined round trip: the accounts of the
 * partition's due sorted set due at or before `until`, then up to `ahead`
 * of the next ones, short of the last due time they reach unless they are
 * all there are (its ties may go on past the limit): `horizon` says how far
 * the answer is whole. */
rw_err_t rw_state_due(rw_state_t *st, rw_due_query_t *qs, size_t cnt,
                      char *errstr, size_t errstr_size);

/* The latest day stored of each of `cnt` vendors (-1: none), one pipelined
 * round trip. */
rw_err_t rw_state_vendor_maxdays(rw_state_t *st, int32_t partition,
                                 const char *const *vendors, size_t cnt, int64_t *maxdays,
                                 char *errstr, size_t errstr_size);

/* The partition's pb:first and pb:last (-1: none). */
rw_err_t rw_state_get_bounds(rw_state_t *st, int32_t partition, int64_t *firstp,
                             int64_t *lastp, char *errstr, size_t errstr_size);

/* One topic-partition's batch write: what changed, computed by the caller,
 * stored with the partition's next offset in one atomic step fenced on the
 * offset read when the partition was taken. */
typedef struct rw_state_write_s rw_state_write_t;

/* A write for `topic` [partition] fenced on `expected` (-1: none stored),
 * storing `next_offset` and the watermark `max_at` (0: unchanged; pass it
 * only when higher than the stored one). NULL when out of memory. */
rw_state_write_t *rw_state_write_new(rw_state_t *st, const char *topic,
                                     int32_t partition, int64_t expected,
                                     int64_t next_offset, int64_t max_at);
/* Before the state the write was made with. */
void rw_state_write_destroy(rw_state_write_t *w);

/* A write that gathers one more batch of its partition: it stores
 * `next_offset`, and `max_at` if higher than what it held (its fence stays
 * what it was created with). Everything else is added as for one batch. */
void rw_state_write_next(rw_state_write_t *w, int64_t next_offset, int64_t max_at);

/* What changed in an account view since it was last written (its stream:
 * `orders` != 0 orders, else support): buckets, dropped days, order meta,
 * lifecycle states, due time, remembered ids. -1 when out of memory. */
int rw_state_write_account(rw_state_write_t *w, int orders, const rw_account_view_t *av);

/* A vendor's order value on `day` (coalesced per vendor and day); the
 * vendor hash keeps the `window_days` days up to its latest, `maxday` as
 * stored before the batch (-1: none; rw_state_vendor_maxdays()). */
int rw_state_write_vendor(rw_state_write_t *w, const char *vendor, int64_t maxday,
                          int64_t day, int64_t delta, int64_t window_days);

/* The lowest and highest portfolio intervals the partition ever wrote
 * (pb:first, pb:last; -1: none; rw_state_get_bounds()): an interval past
 * the highest holds nothing yet, so its values are set, not added to. The
 * write keeps both up to date and says what they are after it. */
void rw_state_write_bounds(rw_state_write_t *w, int64_t first, int64_t last);
void rw_state_write_bounds_after(const rw_state_write_t *w, int64_t *firstp,
                                 int64_t *lastp);

/* 1 when the write landed without its reply: sent, the reply lost (a
 * timeout, a broken connection), and sent again, it found the partition's
 * stored offset at the one it writes, or, for a write that leaves the offset
 * where it was (due evaluations only), the token it stores with it
 * (NS:{P}:wt:TOPIC, unique per write); rw_state_write_send() then reports
 * it RW_OK, not fenced and not applied twice. */
int rw_state_write_landed_unacked(const rw_state_write_t *w);

/* What the interval hashes of a partition's latest intervals hold, as its
 * owner wrote them: per family ('a', 'v'), the latest interval this owner
 * opened (its first write set the interval's string; the hash beside it
 * started empty) and, per subject, what later writes added to the hash.
 * Writes built on it set those subjects' new totals in one HSET instead of
 * an HINCRBY per subject. Valid only while every write built on it lands:
 * rw_isums_commit() after one that did, rw_isums_reset() after one that did
 * not, or when the partition is taken again. */
typedef struct rw_isums_s rw_isums_t;
rw_isums_t *rw_isums_new(void);
void rw_isums_destroy(rw_isums_t *is);
void rw_isums_reset(rw_isums_t *is);
/* The write `w` builds on `is` (NULL: adds field by field). */
void rw_state_write_isums(rw_state_write_t *w, const rw_isums_t *is);
/* `w` (built on `is`) landed: `is` holds what it wrote. 0, or -1 when out
 * of memory (`is` is reset then). */
int rw_isums_commit(rw_isums_t *is, const rw_state_write_t *w);

/* An interval's hash (pb:) is a listpack in Redis while it holds at most
 * hash-max-listpack-entries fields (512 by default), and a listpack is
 * searched from its start for every field set: the owner's HSET of a batch's
 * totals into a live interval of hundreds of accounts took a quadratic share
 * of Redis' CPU. One field too long for a listpack (hash-max-listpack-value,
 * 64 bytes) makes Redis convert the hash to a hashtable, for good (an RDB or
 * AOF reload keeps it one): a hash that reaches RW_PB_HASHTABLE_MIN subjects
 * gets the one-byte field "\0" with this value. No subject is "\0" (ids are
 * C strings; "" is the vendors' count of orders); the readers skip it. */
#define RW_PB_HASHTABLE_MIN 64
#define rw_pb_hashtable_mark \
        "a field longer than hash-max-listpack-value: this hash stays a hashtable"

/* Portfolio interval `interval` of the dependency decider: `kind` 'a' (net
 * spend per account) or 'v' (order value per vendor); coalesced. */
int rw_state_write_portfolio(rw_state_write_t *w, char kind, int64_t interval,
                             const char *subject, int64_t delta);

/* A framed RiskAlert for the partition's outbox (copied). */
int rw_state_write_outbox(rw_state_write_t *w, const void *buf, size_t len);

/* The partition's input outages as they are after the write
 * (rw_input_gaps_format(); stored only when they changed). */
void rw_state_write_gaps(rw_state_write_t *w, const rw_input_gaps_t *gaps);

/* Read a partition's stored input outages (none when nothing is stored). */
rw_err_t rw_state_get_gaps(rw_state_t *st, const char *topic, int32_t partition,
                           rw_input_gaps_t *gaps, char *errstr, size_t errstr_size);

/* Report an orders partition's progress in the same round trip (see
 * rw_state_progress()). */
void rw_state_write_progress(rw_state_write_t *w, int64_t watermark, int64_t wall_ms);

/* Execute `cnt` writes as one transaction, fenced optimistically: WATCH
 * and read every partition's stored offset (one round trip), then MULTI,
 * the writes of those whose offset is as expected as plain commands, EXEC
 * (one round trip), which Redis refuses whole if a watched offset changed
 * meanwhile (checked again, up to three times). errs[i] is each write's
 * outcome: RW_OK, RW_ERR_FENCED (errstr says where the offset is, for the
 * last fenced one), RW_ERR_FAIL (Redis refused it). Returns RW_ERR_IO when
 * the connection failed (reconnect; writes whose errs[i] is RW_ERR_IO may
 * or may not have been stored: run them again, the fence tells), else
 * RW_OK. */
rw_err_t rw_state_write_exec(rw_state_t *st, rw_state_write_t *const *ws, size_t cnt,
                             rw_err_t *errs, char *errstr, size_t errstr_size);

/* The same in two halves, so the caller works while Redis writes: send
 * checks the fence (one round trip) and sends MULTI..EXEC without reading
 * it; *txnp is NULL when nothing was left to send. errs[i] must be
 * RW_ERR_IO for the writes to send (others are skipped). recv reads the
 * outcome into errs (RW_ERR_IO left where Redis refused the transaction
 * because a watched offset moved: send those again). ws and errs must live
 * until recv. Returns RW_ERR_IO on a connection failure. */
typedef struct rw_state_txn_s rw_state_txn_t;
rw_err_t rw_state_write_send(rw_state_t *st, rw_state_write_t *const *ws, size_t cnt,
                             rw_err_t *errs, rw_state_txn_t **txnp,
                             char *errstr, size_t errstr_size);
rw_err_t rw_state_write_recv(rw_state_t *st, rw_state_txn_t *txn,
                             char *errstr, size_t errstr_size);
void rw_state_txn_destroy(rw_state_txn_t *txn);
/* Whether rw_state_write_recv() would return at once: the whole reply has
 * arrived (or the connection failed). Reads only what is there, never
 * waits. */
int rw_state_write_ready(rw_state_t *st, rw_state_txn_t *txn);

/* Load, apply and write a batch of one topic-partition with nothing decided
 * in between (tools, tests): events already remembered by their account
 * count as duplicates. *appliedp and *dupsp say how many of each. */
rw_err_t rw_state_apply(rw_state_t *st, const char *topic, int32_t partition,
                        int64_t expected, int64_t next_offset,
                        const rw_account_limits_t *lim,
                        const rw_state_event_t *evs, size_t cnt,
                        int64_t *appliedp, int64_t *dupsp,
                        char *errstr, size_t errstr_size);

/* An account as stored, for inspection: each stream's hash and watermark. */
typedef struct rw_inspect_s {
        int32_t partition;              /* the partition slot holding it */
        rw_account_view_t orders;       /* the a: hash (meta included) */
        rw_account_view_t support;      /* the s: hash */
        int64_t wm_orders, wm_support;  /* the partition's watermarks (0: none) */
} rw_inspect_t;

/* Find `account` (SCAN over the namespace's partition slots) and load it.
 * RW_ERR_FAIL with errstr when no partition holds it. `orders_topic` and
 * `support_topic` name the watermark keys. Caller clears with
 * rw_inspect_clear(). */
rw_err_t rw_state_inspect(rw_state_t *st, const char *account,
                          const char *orders_topic, const char *support_topic,
                          rw_inspect_t *out, char *errstr, size_t errstr_size);
void rw_inspect_clear(rw_inspect_t *in);

/* A vendor's daily order value over every orders partition (each keeps the
 * days of the orders it applied; summed day by day), and how many partitions
 * hold some. Caller frees *daysp and *valuesp, also on error. */
rw_err_t rw_state_inspect_vendor(rw_state_t *st, const char *vendor,
                                 int32_t *partsp, int64_t **daysp,
                                 int64_t **valuesp, size_t *cntp,
                                 char *errstr, size_t errstr_size);

/* Report an orders partition's progress to the group (the boundary
 * decider's low watermark): its highest event time applied and the wall
 * clock of its last record, in NS:{dep}:prog. */
rw_err_t rw_state_progress(rw_state_t *st, int32_t partition, int64_t watermark,
                           int64_t wall_ms, char *errstr, size_t errstr_size);

#endif
