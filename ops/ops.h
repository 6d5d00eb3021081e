/* ops.h - the operations surface of `riskwatch run`: the status line, the
 * lines that say what the loop waits for, and the loop's health as the
 * processor reports it. Every function is NULL-safe (no ops: nothing). */
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
        const rw_ops_part_t *parts;     /* the assigned partitions */
        size_t part_cnt;
} rw_ops_report_t;

/* From `log.status.interval` and friends; NULL + errstr ("ORIGIN: KEY:
 * reason") on a bad value. Free with rw_ops_destroy(). */
rw_ops_t *rw_ops_new(const rw_conf_t *conf, char *errstr, size_t errstr_size);
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

#endif
