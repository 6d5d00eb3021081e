/* reader.h - a topic read as kcat -C reads it: every partition assigned
 * directly (no consumer group, nothing committed) from a start position,
 * with end-of-partition tracking. Shared by `decode` and `tail`. */
#ifndef RW_READER_H
#define RW_READER_H

#include <stdio.h>
#include <librdkafka/rdkafka.h>
#include "common/conf.h"
#include "common/rw.h"

/* Where each partition starts and stops. */
typedef struct rw_reader_opts_s {
        int32_t partition;      /* -1: every partition */
        int64_t offset;         /* RD_KAFKA_OFFSET_BEGINNING/_END, _TAIL(n) or an
                                 * absolute offset; unused when start_ts >= 0 */
        int64_t start_ts;       /* >= 0: from the first record whose timestamp is
                                 * at or after this (ms since the epoch) */
        int64_t end_ts;         /* >= 0: a partition ends before its first record
                                 * at or after this */
        int exit_eof;           /* done once every partition is at its end */
} rw_reader_opts_t;

#define RW_READER_OPTS_INIT(off) \
        ((rw_reader_opts_t){ .partition = -1, .offset = (off), .start_ts = -1, \
                             .end_ts = -1, .exit_eof = 0 })

/* Apply one -o argument to o, as kcat reads it: `beginning`, `end`, an
 * absolute offset N, `-N` (the last N records of each partition),
 * `s@TIME` (start at TIME), `e@TIME` (stop before TIME), or a bare TIME
 * (= s@TIME). TIME is milliseconds since the epoch or rw_cli_parse_time()'s
 * RFC 3339 forms. RW_OK or RW_ERR_CONFIG. */
rw_err_t rw_reader_opt_offset(rw_reader_opts_t *o, const char *s);

/* The -o forms, for usage messages. */
#define RW_READER_OFFSET_FORMS \
        "beginning, end, an offset N, -N, s@TIME, e@TIME or a TIME"

typedef struct rw_reader_s rw_reader_t;

/* Connect to the cluster of `conf` (its kafka.* properties) and start
 * reading `topic`. `who` names the command in messages. Returns NULL with
 * errstr and *errp: RW_ERR_CONFIG for a bad kafka.* property, RW_ERR_FAIL
 * for anything else (an unknown topic or partition, a broker that does not
 * answer). */
rw_reader_t *rw_reader_new(const rw_conf_t *conf, const char *topic,
                           const rw_reader_opts_t *o, rw_err_t *errp,
                           char *errstr, size_t errstr_size);
/* NULL-safe. */
void rw_reader_destroy(rw_reader_t *r);

typedef enum rw_reader_ev_e {
        RW_READER_MSG = 0,      /* *rkmp is a record: caller destroys it */
        RW_READER_IDLE,         /* nothing within the timeout */
        RW_READER_DONE,         /* every partition at its end (exit_eof) or at end_ts */
        RW_READER_ERROR,        /* the topic or partition is gone: logged */
} rw_reader_ev_t;

/* The next record, waiting at most timeout_ms. Transient errors (a broker
 * down, a leader moving) are logged as warnings and retried by librdkafka. */
rw_reader_ev_t rw_reader_next(rw_reader_t *r, int timeout_ms, rd_kafka_message_t **rkmp);

/* Serve the client's events (logs, statistics) while the caller is busy. */
void rw_reader_poll(rw_reader_t *r);

/* The fields every JSON line for a record starts with, opening brace
 * included: {"topic":..,"partition":..,"offset":..,"key":..,"timestamp":..
 * The timestamp is RFC 3339 (a string), or milliseconds with `epoch`. A key
 * that is not UTF-8 is also given exactly, as key_base64. */
void rw_reader_print_head(FILE *fp, const rd_kafka_message_t *rkm, int epoch);

/* buf[0..len) as a quoted base64 JSON string (RFC 4648, padded). */
void rw_reader_print_base64(FILE *fp, const void *buf, size_t len);

/* A non-negative decimal integer up to max; -1 if s is not one. */
int64_t rw_reader_parse_uint(const char *s, int64_t max);

#endif
