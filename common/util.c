/* util.c - clocks and other small helpers shared by every layer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/rw.h"

int64_t rw_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rw_grow(void *vp, size_t *sizep, size_t need, size_t elem, size_t first) {
        size_t n = *sizep ? *sizep : first;
        void *v, *nv;

        if (need <= *sizep)
                return 0;
        while (n < need)
                n *= 2;
        memcpy(&v, vp, sizeof(v));
        if (!(nv = realloc(v, n * elem)))
                return -1;
        memcpy(vp, &nv, sizeof(nv));
        *sizep = n;
        return 0;
}

int64_t rw_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rw_mono_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rw_thread_cpu_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

size_t rw_i64_str(char *dst, int64_t v) {
        char tmp[24];
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        size_t n = 0, len = 0;

        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                dst[len++] = '-';
        while (n)
                dst[len++] = tmp[--n];
        dst[len] = '\0';
        return len;
}

const char *rw_fmt_duration(char *buf, size_t size, int64_t ms) {
        static const struct { const char *unit; int64_t ms; } units[] = {
                { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
        };
        const char *sign = "";
        uint64_t v;

        if (ms < 0) {
                sign = "-";
                v = (uint64_t)0 - (uint64_t)ms;
        } else {
                v = (uint64_t)ms;
        }
        if (v == 0) {
                snprintf(buf, size, "0s");
                return buf;
        }
        if (v < 1000) {
                snprintf(buf, size, "%s%" PRIu64 "ms", sign, v);
                return buf;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                uint64_t u = (uint64_t)units[i].ms, n = v / u;
                if (!n)
                        continue;
                if (i + 1 < sizeof(units) / sizeof(units[0])) {
                        uint64_t u2 = (uint64_t)units[i + 1].ms, n2 = (v % u) / u2;
                        if (n2) {
                                snprintf(buf, size, "%s%" PRIu64 "%s %" PRIu64 "%s", sign,
                                         n, units[i].unit, n2, units[i + 1].unit);
                                return buf;
                        }
                }
                snprintf(buf, size, "%s%" PRIu64 "%s", sign, n, units[i].unit);
                return buf;
        }
        return buf;     /* not reached: v >= 1000 has whole seconds */
}

const char *rw_fmt_time(char *buf, size_t size, int64_t ms) {
        time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int)(ms - (int64_t)t * 1000);
        struct tm tm;
        char s[32];

        gmtime_r(&t, &tm);
        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
        if (frac)
                snprintf(buf, size, "%s.%03dZ", s, frac);
        else
                snprintf(buf, size, "%sZ", s);
        return buf;
}

/* Milliseconds in the largest unit that is exact: 0, 250ms, 30s, 5m, 24h, 7d. */
const char *rw_fmt_duration_exact(char *buf, size_t size, int64_t ms) {
        static const struct { const char *unit; int64_t ms; } units[] = {
                { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
                { "s", 1000 },
        };

        if (ms == 0) {
                snprintf(buf, size, "0");
                return buf;
        }
        for (size_t i = 0; i < RW_ARRAY_SIZE(units); i++) {
                if (ms % units[i].ms == 0) {
                        snprintf(buf, size, "%" PRId64 "%s", ms / units[i].ms,
                                 units[i].unit);
                        return buf;
                }
        }
        snprintf(buf, size, "%" PRId64 "ms", ms);
        return buf;
}

/* n with thousands separators: 1,790. */
const char *rw_fmt_count(char *buf, size_t size, int64_t n) {
        char digits[32];
        int len = snprintf(digits, sizeof(digits), "%" PRId64, n);
        size_t o = 0;

        for (int i = 0; i < len && o + 2 < size; i++) {
                if (i > 0 && digits[i - 1] != '-' && (len - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
        return buf;
}

const char *rw_schemas_dir(const char *configured, char *buf, size_t size) {
        if (configured && *configured)
                return configured;
        snprintf(buf, size, "%s/schemas", RW_SOURCE_DIR);
        return buf;
}
