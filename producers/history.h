/* history.h - Kafka out: a generated event history onto the input topics. */
#ifndef RW_HISTORY_H
#define RW_HISTORY_H

#include <signal.h>
#include "common/conf.h"
#include "gen/gen.h"
#include "schemas/codec.h"

/* What rw_history_produce() has done so far. */
typedef struct rw_history_stats_s {
        int64_t orders;         /* events handed to the producer for topics.orders */
        int64_t support;        /* ... for topics.support */
        int64_t delivered;      /* acknowledged by the broker */
        int64_t failed;         /* deliveries that failed */
        int64_t elapsed_ms;     /* since the producer was created */
} rw_history_stats_t;

/* How to produce. A zeroed struct (or NULL) means: every remaining event, as
 * fast as the client takes them. */
typedef struct rw_history_opts_s {
        double rate;            /* events per second on the wall clock; 0 = no limit */
        int64_t max_cnt;        /* stop after this many events; 0 = the whole history */
        /* Stop producing when *stop becomes non-zero (what was produced is
         * still flushed); NULL = never. */
        const volatile sig_atomic_t *stop;
        /* Called about every progress_ms (default 1 s) while producing. */
        void (*on_progress)(void *opaque, const rw_history_stats_t *st);
        int64_t progress_ms;
        void *opaque;
} rw_history_opts_t;

/* Produce the remaining events of `gen` (or the first opts->max_cnt of them)
 * to topics.orders / topics.support, framed Avro, keyed by account id, with
 * the event time as the Kafka timestamp, paced by opts->rate, and wait for
 * all acknowledgements. `opts` may be NULL. *stats is filled also on failure.
 * RW_OK, or an error with errstr (failed deliveries are an error). */
rw_err_t rw_history_produce(const rw_conf_t *conf, rw_codec_t *codec,
                            rw_gen_t *gen, const rw_history_opts_t *opts,
                            rw_history_stats_t *stats,
                            char *errstr, size_t errstr_size);

#endif
