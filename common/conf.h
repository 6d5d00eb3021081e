/* conf.h - riskwatch configuration: one property table, file and -X loading. */
#ifndef RW_CONF_H
#define RW_CONF_H

#include <stdio.h>
#include "rw.h"

typedef enum rw_conf_type_e {
        RW_CONF_STR,
        RW_CONF_INT,      /* int64 with min/max */
        RW_CONF_DBL,      /* double with min/max */
        RW_CONF_BOOL,     /* true/false */
        RW_CONF_ENUM,     /* one of a '|' separated list */
        RW_CONF_URL_REDIS,/* redis://[user:password@]host:port[/db] or unix:///path */
        RW_CONF_URL_HTTP, /* empty, or http(s)://host[:port][/path] */
        RW_CONF_DURATION, /* milliseconds; accepts suffixes ms, s, m, h, d */
        RW_CONF_TIME,     /* ms since the epoch; YYYY-MM-DD[THH:MM:SSZ], UTC */
} rw_conf_type_t;

/* One row of the property table. */
typedef struct rw_conf_prop_s {
        const char *name;
        rw_conf_type_t type;
        const char *defval;   /* default as text ("" = empty) */
        double min, max;      /* numeric range (INT, DBL, DURATION) */
        const char *enums;    /* ENUM: "a|b|c" */
        int secret;           /* value masked in dumps */
        const char *desc;
} rw_conf_prop_t;

typedef struct rw_conf_s rw_conf_t;

/* The property table, terminated by a row with name == NULL. */
const rw_conf_prop_t *rw_conf_props(void);

/* The table row named `name`, or NULL (kafka.* keys are not in the table). */
const rw_conf_prop_t *rw_conf_prop_find(const char *name);

/* Check `value` against one row's type, range and format, without storing it.
 * RW_OK, or RW_ERR_CONFIG with the reason alone in errstr (no key prefix). */
rw_err_t rw_conf_check_value(const rw_conf_prop_t *prop, const char *value,
                             char *errstr, size_t errstr_size);

/* New configuration holding every default. Never NULL (aborts on OOM). */
rw_conf_t *rw_conf_new(void);
/* NULL-safe. */
void rw_conf_destroy(rw_conf_t *conf);

/* Load a properties file (key=value, '#' comments, blank lines).
 * Unknown key, bad value, duplicate key within the file: RW_ERR_CONFIG with
 * errstr "FILE:LINE: KEY: reason". Unreadable file: RW_ERR_CONFIG, "FILE: strerror". */
rw_err_t rw_conf_load_file(rw_conf_t *conf, const char *path,
                           char *errstr, size_t errstr_size);

/* Set one property from "-X key=value". It wins over the file whichever is
 * applied first: a file loaded later still validates the key but keeps the
 * -X value. Errors: RW_ERR_CONFIG with errstr "-X KEY: reason". */
rw_err_t rw_conf_set_arg(rw_conf_t *conf, const char *kv,
                         char *errstr, size_t errstr_size);

/* Set one property by key and value. `origin` prefixes error messages
 * (e.g. "file.conf:12" or "-X"); errstr gets "ORIGIN: KEY: reason". */
rw_err_t rw_conf_set(rw_conf_t *conf, const char *key, const char *value,
                     const char *origin, char *errstr, size_t errstr_size);

/* rw_conf_set() that also replaces a value given with -X (which a file
 * or another rw_conf_set() never does): a command deriving properties. */
rw_err_t rw_conf_override(rw_conf_t *conf, const char *key, const char *value,
                          const char *origin, char *errstr, size_t errstr_size);

/* Typed getters. The key must be in the table with that type (asserted).
 * Returned strings are owned by conf. */
/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) -> ms since the epoch. */
bool rw_time_parse(const char *s, int64_t *msp);

const char *rw_conf_get_str(const rw_conf_t *conf, const char *key);
int64_t rw_conf_get_int(const rw_conf_t *conf, const char *key);   /* INT, DURATION, TIME (ms) */
double rw_conf_get_dbl(const rw_conf_t *conf, const char *key);
bool rw_conf_get_bool(const rw_conf_t *conf, const char *key);
/* The getters abort() with a message when the table has no property `key`
 * of that type (a programming error, caught in every build). */

/* Where `key`'s value was set: "FILE:LINE" or "-X"; NULL for the default.
 * For errors no single property can see ("ORIGIN: KEY: reason"). */
const char *rw_conf_origin(const rw_conf_t *conf, const char *key);

/* Number of kafka.* pass-through properties and the i-th one (key without
 * the "kafka." prefix), in the order they were set. */
size_t rw_conf_kafka_cnt(const rw_conf_t *conf);
void rw_conf_kafka_get(const rw_conf_t *conf, size_t i,
                       const char **keyp, const char **valuep);
/* Value of the kafka.* pass-through `key` (without the prefix), or NULL if
 * not set. Owned by conf. */
const char *rw_conf_kafka_find(const rw_conf_t *conf, const char *key);

/* Print the effective configuration, one "key=value" per line, sorted,
 * secrets masked (passwords in redis.url too), kafka.* included. */
void rw_conf_dump(const rw_conf_t *conf, FILE *fp);

/* Print the property table as a Markdown reference (README section). */
void rw_conf_doc_markdown(FILE *fp);

/* Parsed redis.url. */
typedef struct rw_redis_url_s {
        int is_unix;
        char host[256];
        int port;
        char path[512];     /* unix socket path */
        char user[128];
        char password[256];
        int db;
} rw_redis_url_t;

/* Parse a redis URL; RW_OK or RW_ERR_CONFIG with a reason in errstr. */
rw_err_t rw_redis_url_parse(const char *url, rw_redis_url_t *out,
                            char *errstr, size_t errstr_size);

#endif
