/* status.h - the status line `run` logs: durations, times and the line
 * itself, formatted from plain figures (no I/O). */
#ifndef RW_STATUS_H
#define RW_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* ms as a person reads a duration: its two largest units, "3d 4h",
 * "2h 5m", "5m 3s", "12s", "450ms" ("0s" for 0; negative as "-5s"). Returns
 * buf. */
const char *rw_fmt_duration(char *buf, size_t size, int64_t ms);

/* ms since the epoch as RFC 3339 UTC, "2026-03-04T05:55:00Z" (".250" before
 * the Z when not a whole second). Returns buf. */
const char *rw_fmt_time(char *buf, size_t size, int64_t ms);

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
