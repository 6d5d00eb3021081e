/* util.c - clocks and other small helpers shared by every layer. */
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

const char *rw_schemas_dir(const char *configured, char *buf, size_t size) {
        if (configured && *configured)
                return configured;
        snprintf(buf, size, "%s/schemas", RW_SOURCE_DIR);
        return buf;
}
