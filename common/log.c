/* log.c - leveled logging to stderr, one write(2) per line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "common/json.h"

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

/* One input piece at p (l bytes of the input, 1.. ) as escaped text in
 * *put/n; esc holds an escape sequence. */
static size_t rw_escape_piece(const unsigned char *p, size_t len, int backslash,
                              char esc[8], const char **put, size_t *n) {
        size_t l = rw_utf8_len(p, len);

        if (l > 1) {
                *put = (const char *)p;
                *n = l;
                return l;
        }
        *put = esc;
        if (l == 0 || *p < 0x20 || *p == 0x7f) {
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *n = (size_t)snprintf(esc, 8, "\\%c", *p == '\n' ? 'n' :
                                              *p == '\r' ? 'r' : 't');
                else
                        *n = (size_t)snprintf(esc, 8, "\\x%02x", *p);
        } else if (*p == '\\' && backslash) {
                *n = (size_t)snprintf(esc, 8, "\\\\");
        } else {
                *put = (const char *)p;
                *n = 1;
        }
        return 1;
}

/* The escaping of rw_log_escape(); `backslash` 0 leaves backslashes alone
 * (rw_log's own guard: a message escaped at its source stays as it is).
 * Returns the length written. */
static size_t rw_escape(char *dst, size_t dst_size, const unsigned char *p, size_t len,
                        int backslash) {
        size_t i, o = 0, need = 0, room;
        char esc[8];
        const char *put;
        size_t n;

        if (!dst_size)
                return 0;
        for (i = 0; i < len; ) {
                i += rw_escape_piece(p + i, len - i, backslash, esc, &put, &n);
                need += n;
        }
        /* Cut: keep room for "..." where the rest would have been. */
        room = need < dst_size ? dst_size - 1 : dst_size >= 4 ? dst_size - 4 : 0;
        for (i = 0; i < len; ) {
                size_t l = rw_escape_piece(p + i, len - i, backslash, esc, &put, &n);
                if (o + n > room)
                        break;
                memcpy(dst + o, put, n);
                o += n;
                i += l;
        }
        if (i < len && dst_size >= 4) {
                memcpy(dst + o, "...", 3);
                o += 3;
        }
        dst[o] = '\0';
        return o;
}

const char *rw_log_escape(char *dst, size_t dst_size, const void *src, size_t len) {
        rw_escape(dst, dst_size, src, src ? len : 0, 1);
        return dst;
}

const char *rw_log_escape_str(char *dst, size_t dst_size, const char *s) {
        return rw_log_escape(dst, dst_size, s, s ? strlen(s) : 0);
}

const char *rw_log_clean(char *dst, size_t dst_size, const char *s) {
        rw_escape(dst, dst_size, (const unsigned char *)(s ? s : ""), s ? strlen(s) : 0, 0);
        return dst;
}

void rw_log(rw_log_level_t level, const char *fmt, ...) {
        char line[2048], msg[2048];
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
        r = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (r < 0)
                r = 0;
        /* One record, one line, whatever a message carries. */
        of += rw_escape(line + of, sizeof(line) - of - 1, (const unsigned char *)msg,
                        (size_t)r < sizeof(msg) ? (size_t)r : sizeof(msg) - 1, 0);
        if (of > sizeof(line) - 2)
                of = sizeof(line) - 2;
        line[of++] = '\n';
        if (write(STDERR_FILENO, line, of) < 0) { /* nothing sensible to do */ }
}
