/* processor.h - Kafka in: the consume -> decode -> apply -> evaluate -> alert loop. */
#ifndef RW_PROCESSOR_H
#define RW_PROCESSOR_H

#include <signal.h>
#include <stdio.h>
#include "common/conf.h"
#include "schemas/codec.h"
#include "ops/ops.h"

typedef struct rw_processor_opts_s {
        int exit_at_eof;     /* stop once every assigned partition is at its end */
        FILE *alert_fp;      /* one JSON line per transition (NULL: stdout) */
        int replay;          /* mark alerts as replayed */
        /* Called for every alert transition after it was delivered. */
        void (*on_alert)(void *opaque, const rw_alert_t *alert);
        void *opaque;
        /* Called for every input partition assigned (1) or revoked (0),
         * from the rebalance; with on_alert's opaque. */
        void (*on_partition)(void *opaque, const char *topic, int32_t partition,
                             int assigned);
        /* Called once per turn of the loop (at least every batch.timeout). */
        void (*on_tick)(void *opaque);
        /* A replay (riskwatch replay). */
        int64_t emit_from;   /* transitions before this event time (ms) are decided
                              * (state warms up) but not emitted; 0: all */
        /* Where a partition without stored state starts (offsets by topic
         * and partition; NULL or not listed: the beginning), and the offset
         * a partition ends at: records from there on are not read, and the
         * partition counts as at its end (not listed: no end). Borrowed. */
        const struct rd_kafka_topic_partition_list_s *start_offsets;
        const struct rd_kafka_topic_partition_list_s *end_offsets;
        int no_alerts;       /* alerts not produced (taken as delivered): a dry run */
        int no_dlq;          /* dead letters counted, not produced */
        rw_ops_t *ops;       /* status line, health, metrics (NULL: none) */
} rw_processor_opts_t;

/* Why records went to the DLQ (the contract's rw.error.reason words). */
typedef enum rw_dlq_reason_e {
        RW_DLQ_TOO_SHORT = 0, RW_DLQ_BAD_MAGIC, RW_DLQ_UNKNOWN_SCHEMA,
        RW_DLQ_AVRO_DECODE, RW_DLQ_INVALID_FIELD, RW_DLQ_TOO_LATE,
        RW_DLQ__CNT,
} rw_dlq_reason_t;

const char *rw_dlq_reason_name(rw_dlq_reason_t r);

typedef struct rw_processor_stats_s {
        int64_t consumed;       /* records read from the input topics */
        int64_t applied;        /* events counted into state */
        int64_t duplicates;     /* re-delivered events counted once */
        int64_t skipped;        /* records below the stored offset */
        int64_t late;           /* applied events older than the watermark allowed */
        int64_t dlq;            /* records sent to the DLQ */
        int64_t dlq_by_reason[RW_DLQ__CNT];
        int64_t alerts;         /* alert transitions delivered */
        int64_t alerts_dead;    /* refused for good by the alerts topic: to the DLQ */
        int64_t batches;
        int64_t redis_calls;    /* batch round trips to Redis */
        int64_t fenced;         /* batches rejected by offset fencing */
        int64_t unacked;        /* writes found landed when sent again (reply lost) */
        int64_t lost;           /* partitions found behind what was written (Redis lost writes) */
        int64_t cache_misses;   /* accounts read from Redis (not in the cache) */
        int64_t cache_new;      /* accounts made new, not read: their partition
                                 * had no stored state */
        int64_t cache_evictions;/* accounts the cache's bound evicted */
        size_t cache_entries;   /* accounts (and vendors) cached now */
        size_t cache_packed;    /* of them held packed */
        int64_t cache_unpacks;  /* packed ones used again (no round trip) */
        size_t cache_bytes;     /* their memory, as the bound counts it */
        /* Where the loop's wall-clock time went, in microseconds. */
        int64_t us_wait;        /* waiting for records (consume) */
        int64_t us_route;       /* decoding and routing records */
        int64_t us_due;         /* asking Redis which accounts are due */
        int64_t us_prepare;     /* reading missed accounts, replay, building writes */
        int64_t us_finish;      /* waiting for the previous batch's write */
        int64_t us_start;       /* sending the batch's write */
        int64_t gathered;       /* batches gathered into the next write while one was in flight */
        int64_t due_loads;      /* partitions' due times read from Redis */
        int64_t us_decide;      /* the dependency decider */
        int64_t us_decide_cpu;  /* its thread's CPU time in them */
        int64_t us_idle;        /* waiting that returned no record */
        int64_t us_setup;       /* start until the first record */
        int64_t watermark_min;  /* lowest event-time watermark of the assigned
                                 * partitions that have one (0: none) */
        int64_t suppressed;     /* transitions before opts.emit_from, not emitted */
        int64_t prefetch_wakeups;/* fetchers woken after the consumer queue drained */
} rw_processor_stats_t;

typedef struct rw_processor_s rw_processor_t;

/* Create the consumer, producer, codec and Redis connection. NULL + errstr
 * on failure (configuration errors, Redis unreachable). */
rw_processor_t *rw_processor_new(const rw_conf_t *conf,
                                 const rw_processor_opts_t *opts,
                                 char *errstr, size_t errstr_size);
/* Leaves the group and frees everything. NULL-safe. */
void rw_processor_destroy(rw_processor_t *proc);

/* Run until *stop is set (or the end, with exit_at_eof). RW_OK on a clean
 * stop; otherwise a fatal error described in errstr (RW_ERR_CONFIG: the
 * state.namespace was built with another evaluation.interval). */
rw_err_t rw_processor_run(rw_processor_t *proc, volatile sig_atomic_t *stop,
                          char *errstr, size_t errstr_size);

void rw_processor_stats(const rw_processor_t *proc, rw_processor_stats_t *stats);

/* "N to the DLQ (bad_magic 2, too_short 1)" into buf. */
void rw_processor_stats_dlq_str(const rw_processor_stats_t *stats, char *buf,
                                size_t size);

#endif
