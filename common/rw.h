/* rw.h - project-wide basics: error codes, version, small helpers. */
#ifndef RW_H
#define RW_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RW_VERSION_STR "0.1.0"

/* Error codes returned by fallible functions. 0 is success. */
typedef enum rw_err_e {
        RW_OK = 0,
        RW_ERR_FAIL,      /* generic runtime failure (see errstr) */
        RW_ERR_CONFIG,    /* bad configuration (usage error, exit 2) */
        RW_ERR_IO,        /* I/O or network failure, usually retriable */
        RW_ERR_FENCED,    /* offset precondition failed: partition lost */
        RW_ERR_NOMEM,
} rw_err_t;

/* Process exit codes. */
#define RW_EXIT_OK      0
#define RW_EXIT_RUNTIME 1
#define RW_EXIT_USAGE   2

#define RW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Wall clock in milliseconds since the epoch. */
int64_t rw_now_ms(void);

/* Make room for `need` elements of `elem` bytes in the array *vp (a pointer
 * to the array's pointer) of capacity *sizep, doubling from `first`; the
 * contents are kept. 0, or -1 when out of memory (array and capacity left
 * as they were). */
int rw_grow(void *vp, size_t *sizep, size_t need, size_t elem, size_t first);
/* Monotonic clock in milliseconds. */
int64_t rw_mono_ms(void);
int64_t rw_mono_us(void);
/* The calling thread's CPU time in microseconds. */
int64_t rw_thread_cpu_us(void);
/* v in decimal at dst (room for 21 bytes), NUL-terminated; its length.
 * snprintf's "%lld" without its cost, for the write path. */
size_t rw_i64_str(char *dst, int64_t v);

/* ms as a person reads a duration: its two largest units, "3d 4h",
 * "2h 5m", "5m 3s", "12s", "450ms" ("0s" for 0; negative as "-5s"). Returns
 * buf. */
const char *rw_fmt_duration(char *buf, size_t size, int64_t ms);

/* n with thousands separators: "1,790". Returns buf. */
const char *rw_fmt_count(char *buf, size_t size, int64_t n);

/* ms in its largest exact unit, as properties are written: "0", "250ms",
 * "30s", "5m", "24h", "90d". Returns buf. */
const char *rw_fmt_duration_exact(char *buf, size_t size, int64_t ms);

/* ms since the epoch as RFC 3339 UTC, "2026-03-04T05:55:00Z" (".250" before
 * the Z when not a whole second). Returns buf. */
const char *rw_fmt_time(char *buf, size_t size, int64_t ms);

/* The schemas directory: `configured` if non-empty, else the one shipped
 * with the sources (RW_SOURCE_DIR/schemas) written into buf. */
const char *rw_schemas_dir(const char *configured, char *buf, size_t size);

#endif
