/* decider.h - the dependency decider on a thread of its own.
 *
 * The decider (consumers/boundary.c) reads and writes only the {dep} slot
 * and its outbox, so it does not need the consumer loop: run beside it, it
 * no longer stalls the batches while it folds boundaries (catching up after
 * a replay or an outage, thousands of them). The thread has its own Redis
 * connection, codec and producer; what it shares with the loop is the
 * emit callback (called under the runner's lock) and the last boundary it
 * decided (read with rw_decider_last()). */
#ifndef RW_DECIDER_H
#define RW_DECIDER_H

#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include "common/conf.h"
#include "consumers/boundary.h"
#include "schemas/codec.h"

typedef struct rw_decider_s rw_decider_t;

/* Called for every dependency alert delivered, under the runner's lock (the
 * loop takes the same lock around its own emits: rw_decider_lock()). */
typedef void rw_decider_emit_cb(void *opaque, const rw_alert_t *alert);

/* Its own Redis connection, codec (alerts framed with `alert_schema_id`
 * when >= 0) and producer, from conf. `rk` (the consumer, borrowed) answers
 * the number of partitions of `topic_orders`. NULL + errstr on failure. */
rw_decider_t *rw_decider_new(const rw_conf_t *conf, const rw_rules_params_t *params,
                             const rw_boundary_opts_t *bo, rd_kafka_t *rk,
                             const char *topic_orders, rw_decider_emit_cb *emit,
                             void *opaque, char *errstr, size_t errstr_size);
/* Starts the thread, with alerts framed with `alert_schema_id` (-1: the
 * catalogue's). 0, or -1 when it cannot be started. */
int rw_decider_start(rw_decider_t *dc, int32_t alert_schema_id);
/* Stops and joins the thread (a pass under way ends first). */
void rw_decider_stop(rw_decider_t *dc);
/* Stops it, frees everything. NULL-safe. */
void rw_decider_destroy(rw_decider_t *dc);

/* rw_producer_set_sinks() of its producer. Before rw_decider_start(). */
void rw_decider_set_sinks(rw_decider_t *dc, int alerts, int dlq);
/* rw_boundary_set_replay() of its decider. Before rw_decider_start(). */
void rw_decider_set_replay(rw_decider_t *dc, int replay);
/* The orders topic's partition count, as the loop read it (> 0); the
 * decider asks the broker itself while not told. */
void rw_decider_set_partitions(rw_decider_t *dc, int32_t partitions);
/* Decide now rather than at the next idle tick (a batch moved watermarks). */
void rw_decider_kick(rw_decider_t *dc);
/* Let it decide: the loop read the namespace's evaluation interval, and it
 * is the decider's (until then a pass decides nothing). Thread-safe. */
void rw_decider_open(rw_decider_t *dc);
/* The last boundary decided, as last read from Redis by either side (0:
 * none). */
int64_t rw_decider_last(rw_decider_t *dc);
/* The loop read it from Redis: this value holds until the next pass that
 * starts after this call. */
void rw_decider_set_last(rw_decider_t *dc, int64_t last);
/* A ticket for rw_decider_settled(): passes started from now on count. */
uint64_t rw_decider_ticket(rw_decider_t *dc);
/* 1 once a pass started at or after `ticket` left nothing to do: no
 * boundary left to decide, no lock held by another process. */
int rw_decider_settled(rw_decider_t *dc, uint64_t ticket);
/* The error that stopped the thread (a delivery that failed for good, an
 * encoding error), or NULL while it runs. */
const char *rw_decider_failed(rw_decider_t *dc);
/* Alerts its producer sent to the DLQ (refused for good by the topic). */
int64_t rw_decider_alerts_dead(rw_decider_t *dc);
/* Wall-clock microseconds the thread spent in decider passes. */
int64_t rw_decider_busy_us(rw_decider_t *dc);
/* The CPU time its thread spent in passes, in microseconds. */
int64_t rw_decider_cpu_us(rw_decider_t *dc);

/* Dependency boundaries at or below the group's low watermark not decided
 * yet, as the last pass that held the {dep} lock left them; -1 before any
 * (or dc NULL). Any thread. */
int64_t rw_decider_pending(rw_decider_t *dc);

/* The emit lock, for the loop's own alert output. */
void rw_decider_lock(rw_decider_t *dc);
void rw_decider_unlock(rw_decider_t *dc);

#endif
