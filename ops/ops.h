/* ops.h - the operations surface of `riskwatch run`: the status line, the
 * lines that say what the loop waits for, and, on `metrics.listen`, the
 * Prometheus metrics, /healthz and /readyz, fed by the processor's hooks.
 * Every function is NULL-safe (no ops: nothing). The hooks may be called
 * from the loop and the decider's thread; the HTTP server reads on its own. */
#ifndef RW_OPS_H
#define RW_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "common/conf.h"

typedef struct rw_ops_s rw_ops_t;

/* One assigned input partition, as the loop sees it. */
typedef struct rw_ops_part_s {
        const char *topic;
        int32_t partition;
        int64_t watermark;      /* event-time watermark, ms (0: none yet) */
        int64_t position;       /* next offset to apply (-1: not known) */
        int64_t hi;             /* the broker's high watermark offset, as last
                                 * fetched (-1: not known yet) */
} rw_ops_part_t;

/* What the loop reports when rw_ops_due() says so. */
typedef struct rw_ops_report_s {
        int64_t consumed;       /* records consumed since start */
        int64_t alerts;         /* alert transitions delivered since start */
        int64_t redis_calls;    /* Redis round trips since start */
        int64_t fenced;         /* batch writes rejected by the fence */
        int64_t unacked;        /* batch writes found landed when sent again */
        int64_t boundaries_pending;     /* dependency boundaries to decide (-1: not known) */
        /* The account cache (state/cache.h) and the due indexes. */
        struct {
                int64_t bytes, limit, views, packed;
                int64_t hits, misses, evictions;
        } cache;
        int64_t due_entries;
        const rw_ops_part_t *parts;     /* the assigned partitions */
        size_t part_cnt;
} rw_ops_report_t;

/* From `log.status.interval` and `metrics.*`; starts serving on
 * `metrics.listen` when set. NULL + errstr ("ORIGIN: KEY: reason") when a
 * value is bad (*errp RW_ERR_CONFIG) or the address cannot be bound
 * (RW_ERR_IO). Free with rw_ops_destroy(). */
rw_ops_t *rw_ops_new(const rw_conf_t *conf, rw_err_t *errp, char *errstr,
                     size_t errstr_size);
void rw_ops_destroy(rw_ops_t *ops);

/* Called on every turn of the loop (it marks the loop alive): 1 when a
 * report is due (about once a second), then the loop calls rw_ops_report(). */
int rw_ops_due(rw_ops_t *ops);
void rw_ops_report(rw_ops_t *ops, const rw_ops_report_t *rep);

/* The loop is alive, while it waits somewhere else than its turn. */
void rw_ops_alive(rw_ops_t *ops);

/* The outcome of a Redis round trip that failed (err) or succeeded after a
 * failure (err NULL). */
void rw_ops_redis(rw_ops_t *ops, const char *err);

/* The port metrics are served on (0: none). */
int rw_ops_port(const rw_ops_t *ops);

/* What became of consumed records. */
typedef enum rw_ops_outcome_e {
        RW_OPS_APPLIED, RW_OPS_LATE, RW_OPS_DUPLICATE, RW_OPS_DLQ, RW_OPS__OUTCOMES,
} rw_ops_outcome_t;

/* n records of `topic` applied (on time or late) or found duplicates. */
void rw_ops_records(rw_ops_t *ops, const char *topic, rw_ops_outcome_t outcome, int64_t n);
/* n records of `topic` (NULL: none, only the reason's series made)
 * dead-lettered for `reason`. */
void rw_ops_dead_letters(rw_ops_t *ops, const char *topic, const char *reason, int64_t n);
/* An alert transition delivered; event_time in ms. */
void rw_ops_alert(rw_ops_t *ops, const char *rule, const char *severity,
                  const char *status, int64_t event_time);
/* A batch took us microseconds. */
void rw_ops_batch(rw_ops_t *ops, int64_t us);
/* A rebalance: partitions assigned (1) or revoked (0). */
void rw_ops_rebalance(rw_ops_t *ops, int assign);

/* One Redis round trip took `seconds` (rw_state_set_round_trip_cb()'s
 * callback, opaque an rw_ops_t). Any thread. */
void rw_ops_redis_round_trip(void *opaque, double seconds);

/* Alertmanager delivery's counters, since start, and the firing alerts it
 * re-sends now. */
void rw_ops_alertmanager(rw_ops_t *ops, int64_t sent, int64_t errors, int64_t dropped,
                         int64_t firing);

/* The endpoints' answers, without the server (for tests and the server):
 * path "/metrics", "/healthz" or "/readyz"; status and body (caller frees). */
int rw_ops_serve(rw_ops_t *ops, const char *path, char **body, size_t *len);

#endif
