/* alertmanager.h - alert transitions to Prometheus Alertmanager
 * (`POST /api/v2/alerts` on every URL of `alertmanager.url`), from a thread
 * of its own behind a bounded queue, so delivery never slows the pipeline. */
#ifndef RW_ALERTMANAGER_H
#define RW_ALERTMANAGER_H

#include <stdio.h>
#include "common/conf.h"
#include "schemas/codec.h"
#include "ops/ops.h"
#include "state/state.h"

typedef struct rw_am_s rw_am_t;

/* From `alertmanager.*`; NULL without an `alertmanager.url` (errstr ""), or
 * with errstr "ORIGIN: KEY: reason" on a bad value. Starts its thread.
 * ops (may be NULL) receives its counters; it and conf must outlive am
 * (Redis is connected on first use, from conf's redis.*). */
rw_am_t *rw_am_new(const rw_conf_t *conf, rw_ops_t *ops, char *errstr, size_t errstr_size);
/* One last attempt for what was not sent yet, then stop and free.
 * NULL-safe. */
void rw_am_destroy(rw_am_t *am);

/* This process owns (assigned != 0) or no longer owns input partition
 * topic/partition: the firing alerts of its slot (and, for partition 0 of
 * topics.orders, of the dependency rules) are read from Redis and re-sent
 * by this process, or no longer. Any thread; never blocks. NULL-safe. */
void rw_am_partition(rw_am_t *am, const char *topic, int32_t partition, int assigned);

/* Queue a transition (copied); never blocks. Replayed transitions are never
 * sent. A full queue drops it (counted, logged). Any thread. */
void rw_am_notify(rw_am_t *am, const rw_alert_t *a);

typedef struct rw_am_stats_s {
        int64_t sent;           /* alerts accepted by an Alertmanager (per URL) */
        int64_t errors;         /* failed POSTs (retried) */
        int64_t dropped;        /* transitions dropped: queue full */
} rw_am_stats_t;
void rw_am_stats(rw_am_t *am, rw_am_stats_t *st);

/* Pure: 0 when `tmpl` is a usable `alertmanager.generator.url` ("" or an
 * http(s) URL whose {...} are known placeholders), else -1 with reason. */
int rw_am_generator_check(const char *tmpl, char *reason, size_t reason_size);
/* Pure: tmpl with {rule} {subject_type} {subject_id} {fingerprint}
 * {alert_id} {severity} replaced by a's values, percent-encoded; NULL for
 * an empty tmpl. Caller frees. */
char *rw_am_generator_url(const char *tmpl, const rw_alert_t *a);

/* Pure: one alert as Alertmanager's postable alert JSON object. ends_ms 0
 * means no endsAt. */
void rw_am_alert_json(FILE *fp, const rw_alert_t *a, int64_t starts_ms, int64_t ends_ms,
                      const char *generator_url);

#endif
