/* status.h - the status line `run` logs, formatted from plain figures (no
 * I/O). */
#ifndef RW_STATUS_H
#define RW_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include "common/rw.h"   /* rw_fmt_duration(), rw_fmt_time() */

/* What one status line says. */
typedef struct rw_status_s {
        int64_t now_ms;         /* wall clock */
        int64_t elapsed_ms;     /* since the previous line (or the start) */
        int64_t records;        /* records consumed in elapsed_ms */
        int assigned;           /* input partitions assigned */
        int64_t lag;            /* consumer lag, summed (-1: not known yet) */
        int64_t watermark;      /* lowest event-time watermark of the assigned
                                 * partitions that have one (0: none yet) */
        int64_t alerts;         /* alert transitions delivered since start */
        int redis_ok;           /* the last Redis round trip succeeded */
        const char *redis_err;  /* the last Redis error ("" or NULL: none) */
        int64_t redis_err_at;   /* its wall-clock time */
} rw_status_t;

/* "status: 1,234 records/s, 4 partitions, lag 56 records, watermark
 * 2026-03-04T05:55:00Z (3d 4h behind), 12 alerts since start, redis ok"
 * into buf. Returns buf. */
const char *rw_status_format(const rw_status_t *st, char *buf, size_t size);

#endif
