/* log.h - leveled logging to stderr (people) - alerts go elsewhere. */
#ifndef RW_LOG_H
#define RW_LOG_H

#include <stddef.h>

typedef enum rw_log_level_e {
        RW_LOG_ERROR = 0, RW_LOG_WARN, RW_LOG_INFO, RW_LOG_DEBUG,
} rw_log_level_t;

/* Set the threshold from a name (error|warn|info|debug); returns -1 if unknown. */
int rw_log_set_level_name(const char *name);
void rw_log_set_level(rw_log_level_t level);
rw_log_level_t rw_log_get_level(void);

/* printf-style; appends a newline. Thread-safe (one write per line). */
void rw_log(rw_log_level_t level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* src[0..len) made safe for one line of a log or a header value: backslash
 * as \\, \n \r \t by name, other control characters, DEL and bytes that are
 * not UTF-8 as \xNN, so input can neither forge a line nor break a terminal
 * and the original bytes can be read back. Cut with "..." to fit dst_size
 * (>= 4). Returns dst. */
const char *rw_log_escape(char *dst, size_t dst_size, const void *src, size_t len);

/* rw_log_escape() of a NUL-terminated string (NULL reads as ""). */
const char *rw_log_escape_str(char *dst, size_t dst_size, const char *s);

/* As rw_log_escape() but leaving backslashes alone: a last guard for text
 * whose input-derived parts were escaped where they were put in, so that
 * text reads the same and nothing else in it can break a line. */
const char *rw_log_clean(char *dst, size_t dst_size, const char *s);

#define rw_log_error(...) rw_log(RW_LOG_ERROR, __VA_ARGS__)
#define rw_log_warn(...)  rw_log(RW_LOG_WARN, __VA_ARGS__)
#define rw_log_info(...)  rw_log(RW_LOG_INFO, __VA_ARGS__)
#define rw_log_debug(...) rw_log(RW_LOG_DEBUG, __VA_ARGS__)

#endif
