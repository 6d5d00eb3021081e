/* state.h - rolling per-account state in Redis, written atomically with the
 * partition's offset (one round trip per batch and partition). */
#ifndef RW_STATE_H
#define RW_STATE_H

#include "common/rw.h"
#include "common/conf.h"
#include "rules/rules.h"
#include "state/account.h"

typedef struct rw_apply_result_s {
        int64_t applied;        /* events counted */
        int64_t duplicates;     /* events already seen within the dedup horizon */
        int64_t watermark;      /* highest event time applied before this batch */
        char *flags;            /* per event: '1' applied, 'd' duplicate */
        rw_account_view_t *accounts;    /* as before the batch, sorted by id */
        size_t account_cnt;
} rw_apply_result_t;

/* Free what a result holds (NULL-safe; leaves it empty). */
void rw_apply_result_clear(rw_apply_result_t *res);

typedef struct rw_state_s rw_state_t;

/* Connect to conf's redis.url and load the batch script. Returns NULL and
 * fills errstr (hiredis' reason) when Redis is unreachable or refuses. */
rw_state_t *rw_state_new(const rw_conf_t *conf, char *errstr, size_t errstr_size);
/* NULL-safe. */
void rw_state_destroy(rw_state_t *st);

/* The live hiredis context (redisContext *; NULL while disconnected) and the
 * key namespace, for the modules that keep their own keys in the same Redis
 * (boundary decisions, outboxes). After an I/O error on the context, call
 * rw_state_reconnect() before using it again. */
void *rw_state_context(rw_state_t *st);
const char *rw_state_ns(const rw_state_t *st);

/* Drop the connection and connect anew (after any I/O error: a hiredis
 * context in error is never reused). RW_ERR_IO when Redis is still away. */
rw_err_t rw_state_reconnect(rw_state_t *st, char *errstr, size_t errstr_size);

/* The position stored for topic/partition: the next offset to consume
 * (-1 when none) and the highest event time applied (0 when none). */
rw_err_t rw_state_get_position(rw_state_t *st, const char *topic,
                               int32_t partition, int64_t *offsetp,
                               int64_t *watermarkp,
                               char *errstr, size_t errstr_size);

/* The last dependency boundary decided, as the {dep} slot says now
 * ({dep}:agg "last"; -1 when none). */
rw_err_t rw_state_get_decided(rw_state_t *st, int64_t *lastp,
                              char *errstr, size_t errstr_size);

/* Step 1 of a batch of one topic-partition: provided the stored offset still
 * equals `expected` (-1: none), tell which events are fresh (res->flags: '1'
 * fresh, 'd' already applied within the dedup horizon) and load, as they are
 * before the batch, every account a fresh event touches and every account of
 * the topic's stream (`orders` != 0: the orders hash, else the support hash)
 * whose due time is at or before `due_until`, with their lifecycle states
 * and stored due times (av->due, av->due_stored; 0: none); res->watermark is the stored one. Writes nothing.
 * RW_ERR_FENCED / RW_ERR_IO as for rw_state_commit(). */
rw_err_t rw_state_prepare(rw_state_t *st, const char *topic, int32_t partition,
                          int64_t expected, int orders, int64_t due_until,
                          const rw_state_event_t *evs, size_t cnt,
                          rw_apply_result_t *res,
                          char *errstr, size_t errstr_size);

/* What the caller decided over a batch, written with it. */
typedef struct rw_commit_extra_s {
        struct { const char *account; rw_rule_id_t rule; char csv[RW_FP_CSV_SIZE]; } *fps;
        size_t fp_cnt;                  /* lifecycle states that changed */
        struct { const char *account; int64_t due; } *dues;
        size_t due_cnt;                 /* next due times (0: none) */
        struct { const void *buf; size_t len; } *outbox;
        size_t outbox_cnt;              /* framed RiskAlerts to deliver */
} rw_commit_extra_t;

/* Step 2: apply the events `flags` (from step 1) marks fresh, store
 * `next_offset`, and x's lifecycle states, due times and outbox elements, in
 * one atomic step fenced on `expected`. pbk[i] (NULL: none) is the portfolio
 * interval order event i counts in. */
rw_err_t rw_state_commit(rw_state_t *st, const char *topic, int32_t partition,
                         int64_t expected, int64_t next_offset, int64_t window_days,
                         const rw_state_event_t *evs, size_t cnt, const char *flags,
                         const int64_t *pbk, const rw_commit_extra_t *x,
                         char *errstr, size_t errstr_size);

/* Both steps with nothing decided in between (tools, tests).
 * Apply a batch of one topic-partition and store `next_offset`, atomically,
 * provided the stored offset still equals `expected` (-1: none stored).
 * An account or vendor keeps the buckets of the `window_days` days up to its
 * own latest event day; older ones are dropped. RW_ERR_FENCED when the stored
 * offset moved (another consumer owns the partition); RW_ERR_IO on
 * connection trouble (reconnect, retry). On RW_OK *res holds, for replaying
 * the batch event by event, every account it changed as it was before the
 * batch, and each event's fate (caller clears). */
rw_err_t rw_state_apply(rw_state_t *st, const char *topic, int32_t partition,
                        int64_t expected, int64_t next_offset, int64_t window_days,
                        const rw_state_event_t *evs, size_t cnt,
                        rw_apply_result_t *res,
                        char *errstr, size_t errstr_size);

/* Which of `cnt` event ids of `partition` were already applied within the
 * dedup horizon: seen[i] = 1 or 0. One pipelined round trip. */
rw_err_t rw_state_seen(rw_state_t *st, int32_t partition,
                       const char *const *event_ids, size_t cnt, int *seen,
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

/* A vendor's daily order value within the window, and its partition. */
rw_err_t rw_state_inspect_vendor(rw_state_t *st, const char *vendor,
                                 int32_t *partitionp, int64_t **daysp,
                                 int64_t **valuesp, size_t *cntp,
                                 char *errstr, size_t errstr_size);

/* Find an account of a result (bsearch), NULL if the batch did not change it. */
rw_account_view_t *rw_apply_result_account(const rw_apply_result_t *res,
                                           const char *account);

/* Report an orders partition's progress to the group (the boundary
 * decider's low watermark): its highest event time applied and the wall
 * clock of its last record, in NS:{dep}:prog. */
rw_err_t rw_state_progress(rw_state_t *st, int32_t partition, int64_t watermark,
                           int64_t wall_ms, char *errstr, size_t errstr_size);

#endif
