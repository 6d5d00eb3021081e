/* util.c - clocks and other small helpers shared by every layer. */
#include <stdio.h>
#include <time.h>
#include "common/rw.h"

int64_t rw_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rw_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *rw_schemas_dir(const char *configured, char *buf, size_t size) {
        if (configured && *configured)
                return configured;
        snprintf(buf, size, "%s/schemas", RW_SOURCE_DIR);
        return buf;
}
