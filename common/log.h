/* log.h - leveled logging to stderr (people) - alerts go elsewhere. */
#ifndef RW_LOG_H
#define RW_LOG_H

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

#define rw_log_error(...) rw_log(RW_LOG_ERROR, __VA_ARGS__)
#define rw_log_warn(...)  rw_log(RW_LOG_WARN, __VA_ARGS__)
#define rw_log_info(...)  rw_log(RW_LOG_INFO, __VA_ARGS__)
#define rw_log_debug(...) rw_log(RW_LOG_DEBUG, __VA_ARGS__)

#endif
