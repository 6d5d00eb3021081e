/* log.c - leveled logging to stderr, one write(2) per line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"

static volatile rw_log_level_t rw_log_level = RW_LOG_INFO;
static const char *rw_log_names[] = { "error", "warn", "info", "debug" };

int rw_log_set_level_name(const char *name) {
        for (int i = 0; i < 4; i++) {
                if (!strcasecmp(name, rw_log_names[i])) {
                        rw_log_level = (rw_log_level_t)i;
                        return 0;
                }
        }
        return -1;
}

void rw_log_set_level(rw_log_level_t level) { rw_log_level = level; }
rw_log_level_t rw_log_get_level(void) { return rw_log_level; }

void rw_log(rw_log_level_t level, const char *fmt, ...) {
        char line[2048];
        struct timespec ts;
        struct tm tm;
        size_t of;
        va_list ap;
        int r;

        if (level > rw_log_level)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        of = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        of += (size_t)snprintf(line + of, sizeof(line) - of, ".%03ldZ %-5s ",
                               ts.tv_nsec / 1000000, rw_log_names[level]);
        va_start(ap, fmt);
        r = vsnprintf(line + of, sizeof(line) - of - 1, fmt, ap);
        va_end(ap);
        if (r < 0)
                r = 0;
        of += (size_t)r;
        if (of > sizeof(line) - 2)
                of = sizeof(line) - 2;
        line[of++] = '\n';
        if (write(STDERR_FILENO, line, of) < 0) { /* nothing sensible to do */ }
}
