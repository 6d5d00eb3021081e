/* ops.c - the operations surface of `riskwatch run`: the status line every
 * `log.status.interval`, the lines that say what the loop waits for, and
 * the Prometheus metrics, /healthz and /readyz on `metrics.listen`. */
#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ops/process.h"
#include "ops/http.h"
#include "ops/metrics.h"
#include "ops/status.h"
#include "common/log.h"
#include "state/outbox_store.h"
#include "state/state.h"

#define RW_OPS_REPORT_MS 1000

static const char *const rw_ops_outcomes[RW_OPS__OUTCOMES] = {
        [RW_OPS_APPLIED] = "applied", [RW_OPS_LATE] = "late",
        [RW_OPS_DUPLICATE] = "duplicate", [RW_OPS_DLQ] = "dlq",
};

/* Upper bounds, seconds. */
static const double rw_ops_batch_bounds[] = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
/* Event time of an alert to its delivery: seconds when live, days when
 * catching up on history. */
static const double rw_ops_latency_bounds[] = {
        0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 604800,
};

/* One Redis round trip: tens of microseconds on loopback, up to the
 * timeout when Redis struggles. */
static const double rw_ops_redis_bounds[] = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1, 2.5,
};

struct rw_ops_s {
        int64_t status_ms;      /* log.status.interval (0: no status line) */
        int64_t alive_ms;       /* metrics.alive.timeout */
        char topics[600];       /* "orders and support", for messages */
        char group[256];
        char session[64];       /* kafka.session.timeout.ms, as a duration */
        /* The loop's (one thread). */
        int64_t report_at;      /* mono ms of the next report */
        int64_t status_at;      /* mono ms of the next status line */
        int64_t status_prev_mono;
        int64_t status_prev_consumed;
        int64_t waiting_since;  /* mono ms the wait for partitions began (0: none) */
        /* Shared with the server's thread and the decider's. */
        pthread_mutex_t lock;
        int64_t alive_mono;     /* mono ms the loop was last seen (atomic) */
        int assigned;
        int redis_ok;
        char redis_err[512];
        int64_t redis_err_at;
        /* Metrics (their own lock) and the server. */
        rw_metrics_t *m;
        struct {
                int build, records, dead, alerts, batch, latency, et_lag, lag,
                    redis_calls, redis_errors, redis_up, fences, unacked, rebalances, assigned,
                    am_sent, am_errors, am_dropped, am_firing, redis_rt, outbox, pending;
                /* Memory (ops/process.h, the loop's report). */
                int cache_bytes, cache_limit, cache_entries, cache_reads, cache_evictions,
                    due_entries, heap, p_cpu, p_start, p_rss, p_vsz, p_fds, p_max_fds;
        } f;
        rw_http_t *http;
        /* What a scrape reads from Redis (the outbox depth), on the
         * server's thread: the partitions owned as last reported (lock). */
        const rw_conf_t *conf;
        char topic_orders[256];
        char **owned_topics;            /* lock */
        int32_t *owned_parts;           /* lock */
        size_t owned_cnt;               /* lock */
        pthread_mutex_t collect_lock;   /* st */
        rw_state_t *st;
};

static void rw_ops_handle(void *opaque, const char *path, rw_http_reply_t *reply);

/* What memory the process holds and for what: Prometheus' standard process
 * families (read at scrape) and the account cache's and due indexes' (from
 * the loop's report). */
static int rw_ops_memory_families(rw_ops_t *ops) {
        /* Each family's number goes to the member of ops->f at `at`. */
        static const struct { size_t at; const char *name; rw_metric_type_t type;
                              int labeled; const char *help; } fams[] = {
#define F(member) offsetof(rw_ops_t, f.member)
                { F(p_cpu), "process_cpu_seconds_total", RW_METRIC_COUNTER, 0,
                  "Total user and system CPU time spent in seconds." },
                { F(p_start), "process_start_time_seconds", RW_METRIC_GAUGE, 0,
                  "Start time of the process since unix epoch in seconds." },
                { F(p_rss), "process_resident_memory_bytes", RW_METRIC_GAUGE, 0,
                  "Resident memory size in bytes." },
                { F(p_vsz), "process_virtual_memory_bytes", RW_METRIC_GAUGE, 0,
                  "Virtual memory size in bytes." },
                { F(p_fds), "process_open_fds", RW_METRIC_GAUGE, 0,
                  "Number of open file descriptors." },
                { F(p_max_fds), "process_max_fds", RW_METRIC_GAUGE, 0,
                  "Maximum number of open file descriptors." },
                { F(heap), "riskwatch_heap_bytes", RW_METRIC_GAUGE, 1,
                  "Memory the allocator holds (read at scrape), by state: in_use "
                  "(handed out), free (held in its arenas for reuse: what resident "
                  "memory holds beyond what is in use)." },
                { F(cache_bytes), "riskwatch_account_cache_bytes", RW_METRIC_GAUGE, 0,
                  "Memory of the account cache by its own count (views and packed "
                  "views, as of the last trim and every view put since)." },
                { F(cache_limit), "riskwatch_account_cache_limit_bytes", RW_METRIC_GAUGE, 0,
                  "The account cache's bound (state.cache.max.bytes)." },
                { F(cache_entries), "riskwatch_account_cache_entries", RW_METRIC_GAUGE, 1,
                  "Accounts (and vendors) held in the account cache, by form (view, "
                  "packed: a compact copy, unpacked on its next use)." },
                { F(cache_reads), "riskwatch_account_cache_lookups_total", RW_METRIC_COUNTER, 1,
                  "Lookups of the account cache, by result (hit; miss: read from "
                  "Redis, or new)." },
                { F(cache_evictions), "riskwatch_account_cache_evictions_total", RW_METRIC_COUNTER, 0,
                  "Accounts evicted from the cache to keep it within its bound." },
                { F(due_entries), "riskwatch_due_index_entries", RW_METRIC_GAUGE, 0,
                  "Accounts with a due time held in the owned partitions' due "
                  "indexes." },
#undef F
        };
        for (size_t i = 0; i < RW_ARRAY_SIZE(fams); i++) {
                int *fam = (int *)(void *)((char *)ops + fams[i].at);
                if ((*fam = rw_metrics_family(ops->m, fams[i].name, fams[i].type,
                                              fams[i].help, fams[i].labeled, NULL, 0)) < 0)
                        return -1;
        }
        return 0;
}

/* The metric families (names in base units, counters end in _total, no
 * label takes an account or vendor id). */
static int rw_ops_families(rw_ops_t *ops) {
        rw_metrics_t *m = ops->m;
        char labels[128];

        ops->f.build = rw_metrics_family(m, "riskwatch_build_info", RW_METRIC_GAUGE,
                                         "The riskwatch version running (always 1).", 1,
                                         NULL, 0);
        ops->f.records = rw_metrics_family(m, "riskwatch_records_consumed_total",
                                           RW_METRIC_COUNTER, "Input records consumed, by "
                                           "topic and outcome (applied, late: applied behind "
                                           "the watermark, duplicate, dlq).", 1, NULL, 0);
        ops->f.dead = rw_metrics_family(m, "riskwatch_dead_letters_total", RW_METRIC_COUNTER,
                                        "Input records sent to the dead-letter topic, by "
                                        "reason.", 1, NULL, 0);
        ops->f.alerts = rw_metrics_family(m, "riskwatch_alert_transitions_total",
                                          RW_METRIC_COUNTER, "Alert transitions delivered, by "
                                          "rule, severity and status.", 1, NULL, 0);
        ops->f.batch = rw_metrics_family(m, "riskwatch_batch_duration_seconds",
                                         RW_METRIC_HISTOGRAM, "Time to process one batch of "
                                         "input records.", 0, rw_ops_batch_bounds,
                                         RW_ARRAY_SIZE(rw_ops_batch_bounds));
        ops->f.latency = rw_metrics_family(m, "riskwatch_alert_latency_seconds",
                                           RW_METRIC_HISTOGRAM, "From an alert's event time "
                                           "to its delivery (wall clock).", 0,
                                           rw_ops_latency_bounds,
                                           RW_ARRAY_SIZE(rw_ops_latency_bounds));
        ops->f.et_lag = rw_metrics_family(m, "riskwatch_event_time_lag_seconds",
                                          RW_METRIC_GAUGE, "Wall clock minus the event-time "
                                          "watermark, per assigned partition.", 1, NULL, 0);
        ops->f.lag = rw_metrics_family(m, "riskwatch_consumer_lag_records", RW_METRIC_GAUGE,
                                       "Records behind the partition's high watermark (as "
                                       "last fetched), per assigned partition.", 1, NULL, 0);
        ops->f.redis_calls = rw_metrics_family(m, "riskwatch_redis_round_trips_total",
                                               RW_METRIC_COUNTER, "Round trips to Redis of "
                                               "the batches.", 0, NULL, 0);
        ops->f.redis_errors = rw_metrics_family(m, "riskwatch_redis_errors_total",
                                                RW_METRIC_COUNTER, "Redis round trips that "
                                                "failed (unreachable, timeout, not now).", 0,
                                                NULL, 0);
        ops->f.redis_up = rw_metrics_family(m, "riskwatch_redis_up", RW_METRIC_GAUGE,
                                            "1 when the last Redis round trip succeeded.", 0,
                                            NULL, 0);
        ops->f.fences = rw_metrics_family(m, "riskwatch_fences_total", RW_METRIC_COUNTER,
                                          "Batch writes rejected by the offset fence.", 0,
                                          NULL, 0);
        ops->f.unacked = rw_metrics_family(m, "riskwatch_writes_unacked_total",
                                           RW_METRIC_COUNTER, "Batch writes whose reply was "
                                           "lost (a timeout, a broken connection) found "
                                           "landed when sent again: not fenced, not applied "
                                           "twice.", 0, NULL, 0);
        ops->f.rebalances = rw_metrics_family(m, "riskwatch_rebalances_total",
                                              RW_METRIC_COUNTER, "Consumer group rebalances "
                                              "seen, by kind (assign, revoke).", 1, NULL, 0);
        ops->f.assigned = rw_metrics_family(m, "riskwatch_assigned_partitions",
                                            RW_METRIC_GAUGE, "Input partitions assigned.", 0,
                                            NULL, 0);
        ops->f.am_sent = rw_metrics_family(m, "riskwatch_alertmanager_alerts_sent_total",
                                           RW_METRIC_COUNTER, "Alerts accepted by an "
                                           "Alertmanager (each URL counts; resends too).", 0,
                                           NULL, 0);
        ops->f.am_errors = rw_metrics_family(m, "riskwatch_alertmanager_errors_total",
                                             RW_METRIC_COUNTER, "POSTs to an Alertmanager that "
                                             "failed (retried with backoff).", 0, NULL, 0);
        ops->f.am_dropped = rw_metrics_family(m, "riskwatch_alertmanager_dropped_total",
                                              RW_METRIC_COUNTER, "Alert transitions dropped "
                                              "for Alertmanager: its queue was full.", 0, NULL, 0);
        ops->f.am_firing = rw_metrics_family(m, "riskwatch_alertmanager_firing_alerts",
                                             RW_METRIC_GAUGE, "Firing alerts this process "
                                             "re-sends to Alertmanager: those of the "
                                             "partitions it owns, as read from Redis.", 0,
                                             NULL, 0);
        ops->f.redis_rt = rw_metrics_family(m, "riskwatch_redis_round_trip_duration_seconds",
                                            RW_METRIC_HISTOGRAM, "Time of one round trip to "
                                            "Redis (a command, or a pipeline from its first "
                                            "reply awaited to its last), any connection.", 0,
                                            rw_ops_redis_bounds,
                                            RW_ARRAY_SIZE(rw_ops_redis_bounds));
        ops->f.outbox = rw_metrics_family(m, "riskwatch_outbox_alerts", RW_METRIC_GAUGE,
                                          "Alert transitions stored in Redis and not yet "
                                          "acknowledged by Kafka, in the outboxes of the "
                                          "partitions assigned (and of the dependency rules "
                                          "with partition 0 of topics.orders), read at "
                                          "scrape.", 0, NULL, 0);
        ops->f.pending = rw_metrics_family(m, "riskwatch_dependency_boundaries_pending",
                                           RW_METRIC_GAUGE, "Dependency boundaries at or "
                                           "below the group's low watermark that the decider "
                                           "has yet to decide (as its last pass left them).",
                                           0, NULL, 0);
        if (rw_ops_memory_families(ops))
                return -1;
        if (ops->f.am_sent < 0 || ops->f.am_errors < 0 || ops->f.am_dropped < 0 ||
            ops->f.am_firing < 0 || ops->f.redis_rt < 0 || ops->f.outbox < 0 || ops->f.pending < 0)
                return -1;
        if (ops->f.build < 0 || ops->f.records < 0 || ops->f.dead < 0 || ops->f.alerts < 0 ||
            ops->f.batch < 0 || ops->f.latency < 0 || ops->f.et_lag < 0 || ops->f.lag < 0 ||
            ops->f.redis_calls < 0 || ops->f.redis_errors < 0 || ops->f.redis_up < 0 ||
            ops->f.fences < 0 || ops->f.unacked < 0 || ops->f.rebalances < 0 ||
            ops->f.assigned < 0)
                return -1;
        rw_metrics_set(m, ops->f.build, rw_metrics_labels(labels, sizeof(labels), "version",
                                                          RW_VERSION_STR, NULL), 1);
        rw_metrics_set(m, ops->f.redis_up, NULL, 1);
        rw_metrics_add(m, ops->f.rebalances, "kind=\"assign\"", 0);
        rw_metrics_add(m, ops->f.rebalances, "kind=\"revoke\"", 0);
        return 0;
}

rw_ops_t *rw_ops_new(const rw_conf_t *conf, rw_err_t *errp, char *errstr,
                     size_t errstr_size) {
        rw_ops_t *ops = calloc(1, sizeof(*ops));
        const char *orders = rw_conf_get_str(conf, "topics.orders"),
                   *support = rw_conf_get_str(conf, "topics.support"),
                   *addr = rw_conf_get_str(conf, "metrics.listen");
        int64_t session = 45000;        /* librdkafka's default */
        rw_err_t err = RW_ERR_NOMEM;
        char why[512];

        if (!ops) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        pthread_mutex_init(&ops->lock, NULL);
        pthread_mutex_init(&ops->collect_lock, NULL);
        ops->conf = conf;
        snprintf(ops->topic_orders, sizeof(ops->topic_orders), "%s", orders);
        ops->status_ms = rw_conf_get_int(conf, "log.status.interval");
        ops->alive_ms = rw_conf_get_int(conf, "metrics.alive.timeout");
        if (!strcmp(orders, support))
                snprintf(ops->topics, sizeof(ops->topics), "%s", orders);
        else
                snprintf(ops->topics, sizeof(ops->topics), "%s and %s", orders, support);
        snprintf(ops->group, sizeof(ops->group), "%s", rw_conf_get_str(conf, "group.id"));
        for (size_t i = 0; i < rw_conf_kafka_cnt(conf); i++) {
                const char *k, *v;
                rw_conf_kafka_get(conf, i, &k, &v);
                if (!strcmp(k, "session.timeout.ms"))
                        session = strtoll(v, NULL, 10);
        }
        rw_fmt_duration(ops->session, sizeof(ops->session), session);
        ops->redis_ok = 1;
        ops->alive_mono = rw_mono_ms();
        ops->status_prev_mono = ops->alive_mono;
        ops->status_at = ops->alive_mono + ops->status_ms;
        if (!(ops->m = rw_metrics_new()) || rw_ops_families(ops)) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        if (*addr &&
            !(ops->http = rw_http_start(addr, rw_ops_handle, ops, why, sizeof(why)))) {
                const char *origin = rw_conf_origin(conf, "metrics.listen");
                if (!origin || !strcmp(origin, "-X"))
                        snprintf(errstr, errstr_size, "-X metrics.listen: %s", why);
                else
                        snprintf(errstr, errstr_size, "%s: metrics.listen: %s", origin, why);
                err = strncmp(why, "cannot", 6) ? RW_ERR_CONFIG : RW_ERR_IO;
                goto fail;
        }
        for (int o = 0; o < RW_OPS__OUTCOMES; o++) {    /* every series, at 0 */
                rw_ops_records(ops, orders, (rw_ops_outcome_t)o, 0);
                rw_ops_records(ops, support, (rw_ops_outcome_t)o, 0);
        }
        if (ops->http)
                rw_log_info("metrics: serving /metrics, /healthz and /readyz on %s (port %d)",
                            addr, rw_http_port(ops->http));
        return ops;
fail:
        rw_ops_destroy(ops);
        if (errp)
                *errp = err;
        return NULL;
}

void rw_ops_destroy(rw_ops_t *ops) {
        if (!ops)
                return;
        rw_http_stop(ops->http);        /* no reader left after this */
        rw_metrics_destroy(ops->m);
        rw_state_destroy(ops->st);
        for (size_t i = 0; i < ops->owned_cnt; i++)
                free(ops->owned_topics[i]);
        free(ops->owned_topics);
        free(ops->owned_parts);
        pthread_mutex_destroy(&ops->collect_lock);
        pthread_mutex_destroy(&ops->lock);
        free(ops);
}

int rw_ops_port(const rw_ops_t *ops) {
        return ops ? rw_http_port(ops->http) : 0;
}

void rw_ops_alive(rw_ops_t *ops) {
        if (!ops)
                return;
        __atomic_store_n(&ops->alive_mono, rw_mono_ms(), __ATOMIC_RELAXED);
}

int rw_ops_due(rw_ops_t *ops) {
        if (!ops)
                return 0;
        int64_t now = rw_mono_ms();
        /* A turn of the loop is cheap; the lock is taken at most a few
         * times a second. (alive_mono is written by this thread only.) */
        if (now - __atomic_load_n(&ops->alive_mono, __ATOMIC_RELAXED) >= 100)
                rw_ops_alive(ops);
        return now >= ops->report_at;
}

void rw_ops_redis(rw_ops_t *ops, const char *err) {
        if (!ops)
                return;
        pthread_mutex_lock(&ops->lock);
        if (err) {
                ops->redis_ok = 0;
                snprintf(ops->redis_err, sizeof(ops->redis_err), "%s", err);
                ops->redis_err_at = rw_now_ms();
        } else {
                ops->redis_ok = 1;
        }
        pthread_mutex_unlock(&ops->lock);
        if (err)
                rw_metrics_add(ops->m, ops->f.redis_errors, NULL, 1);
        rw_metrics_set(ops->m, ops->f.redis_up, NULL, !err);
}

void rw_ops_records(rw_ops_t *ops, const char *topic, rw_ops_outcome_t outcome, int64_t n) {
        char labels[600];

        if (!ops || outcome >= RW_OPS__OUTCOMES)
                return;
        rw_metrics_add(ops->m, ops->f.records,
                       rw_metrics_labels(labels, sizeof(labels), "topic", topic, "outcome",
                                         rw_ops_outcomes[outcome], NULL), (double)n);
}

void rw_ops_dead_letters(rw_ops_t *ops, const char *topic, const char *reason, int64_t n) {
        char labels[128];

        if (!ops)
                return;
        if (topic)
                rw_ops_records(ops, topic, RW_OPS_DLQ, n);
        rw_metrics_add(ops->m, ops->f.dead,
                       rw_metrics_labels(labels, sizeof(labels), "reason", reason, NULL),
                       (double)n);
}

void rw_ops_alert(rw_ops_t *ops, const char *rule, const char *severity,
                  const char *status, int64_t event_time) {
        char labels[300];

        if (!ops)
                return;
        rw_metrics_add(ops->m, ops->f.alerts,
                       rw_metrics_labels(labels, sizeof(labels), "rule", rule, "severity",
                                         severity, "status", status, NULL), 1);
        rw_metrics_observe(ops->m, ops->f.latency, NULL, (rw_now_ms() - event_time) / 1000.0);
}

void rw_ops_alertmanager(rw_ops_t *ops, int64_t sent, int64_t errors, int64_t dropped,
                         int64_t firing) {
        if (!ops)
                return;
        rw_metrics_set(ops->m, ops->f.am_firing, NULL, (double)firing);
        rw_metrics_set(ops->m, ops->f.am_sent, NULL, (double)sent);
        rw_metrics_set(ops->m, ops->f.am_errors, NULL, (double)errors);
        rw_metrics_set(ops->m, ops->f.am_dropped, NULL, (double)dropped);
}

void rw_ops_batch(rw_ops_t *ops, int64_t us) {
        if (ops)
                rw_metrics_observe(ops->m, ops->f.batch, NULL, us / 1e6);
}

void rw_ops_rebalance(rw_ops_t *ops, int assign) {
        if (!ops)
                return;
        rw_metrics_add(ops->m, ops->f.rebalances,
                       assign ? "kind=\"assign\"" : "kind=\"revoke\"", 1);
        /* Report at the loop's next turn: the wait for partitions ends now,
         * not at the next periodic report. */
        if (assign)
                ops->report_at = 0;
}

/* Say once what the loop waits for when it has no partition, and for how
 * long it waited once it has. */
static void rw_ops_waiting(rw_ops_t *ops, size_t assigned, int64_t now) {
        char dur[32];

        if (!assigned && !ops->waiting_since) {
                ops->waiting_since = now;
                rw_log_info("waiting for partitions of %s to be assigned (group %s; a "
                            "restarted member gets a stopped member's partitions once "
                            "that member's session times out, kafka.session.timeout.ms "
                            "%s)", ops->topics, ops->group, ops->session);
        } else if (assigned && ops->waiting_since) {
                rw_log_info("%zu partition%s assigned after waiting %s", assigned,
                            assigned == 1 ? "" : "s",
                            rw_fmt_duration(dur, sizeof(dur), now - ops->waiting_since));
                ops->waiting_since = 0;
        }
}

/* Per-partition gauges: event-time lag and consumer lag. */
static void rw_ops_part_gauges(rw_ops_t *ops, const rw_ops_report_t *rep, int64_t wall) {
        size_t n = rep->part_cnt, ne = 0, nl = 0;
        char **el = calloc(n + 1, sizeof(*el)), **ll = calloc(n + 1, sizeof(*ll));
        double *ev = calloc(n + 1, sizeof(*ev)), *lv = calloc(n + 1, sizeof(*lv));

        if (!el || !ll || !ev || !lv)
                goto done;
        for (size_t i = 0; i < n; i++) {
                const rw_ops_part_t *p = &rep->parts[i];
                char pn[16], labels[600];

                snprintf(pn, sizeof(pn), "%d", (int)p->partition);
                rw_metrics_labels(labels, sizeof(labels), "topic", p->topic, "partition",
                                  pn, NULL);
                if (p->watermark > 0 && (el[ne] = strdup(labels)))
                        ev[ne++] = (wall - p->watermark) / 1000.0;
                if (p->hi >= 0 && p->position >= 0 && (ll[nl] = strdup(labels)))
                        lv[nl++] = (double)(p->hi > p->position ? p->hi - p->position : 0);
        }
        rw_metrics_set_all(ops->m, ops->f.et_lag, (const char *const *)el, ev, ne);
        rw_metrics_set_all(ops->m, ops->f.lag, (const char *const *)ll, lv, nl);
done:
        for (size_t i = 0; el && i < ne; i++)
                free(el[i]);
        for (size_t i = 0; ll && i < nl; i++)
                free(ll[i]);
        free(el);
        free(ll);
        free(ev);
        free(lv);
}

/* Keep the partitions reported, for the outbox depth read at scrape. */
static void rw_ops_owned(rw_ops_t *ops, const rw_ops_report_t *rep) {
        char **topics = calloc(rep->part_cnt + 1, sizeof(*topics));
        int32_t *parts = calloc(rep->part_cnt + 1, sizeof(*parts));

        if (!topics || !parts)
                abort();
        for (size_t i = 0; i < rep->part_cnt; i++) {
                if (!(topics[i] = strdup(rep->parts[i].topic)))
                        abort();
                parts[i] = rep->parts[i].partition;
        }
        pthread_mutex_lock(&ops->lock);
        for (size_t i = 0; i < ops->owned_cnt; i++)
                free(ops->owned_topics[i]);
        free(ops->owned_topics);
        free(ops->owned_parts);
        ops->owned_topics = topics;
        ops->owned_parts = parts;
        ops->owned_cnt = rep->part_cnt;
        pthread_mutex_unlock(&ops->lock);
}

/* Before a scrape (server's thread): the outbox depth of the partitions
 * owned, from Redis (its own connection, made on first use). A failure
 * leaves the series out of the scrape rather than show a stale figure. */
static void rw_ops_collect(rw_ops_t *ops) {
        const char **tags = NULL, **topics = NULL;
        char (*tagbuf)[16] = NULL, errstr[512];
        size_t n = 0, cnt;
        int64_t depth = 0;
        int own_dep = 0;

        pthread_mutex_lock(&ops->collect_lock);
        pthread_mutex_lock(&ops->lock);
        cnt = ops->owned_cnt;
        if (!(tags = calloc(cnt + 1, sizeof(*tags))) ||
            !(topics = calloc(cnt + 1, sizeof(*topics))) ||
            !(tagbuf = calloc(cnt + 1, sizeof(*tagbuf))))
                abort();
        for (size_t i = 0; i < cnt; i++) {
                if (!(topics[n] = strdup(ops->owned_topics[i])))
                        abort();
                snprintf(tagbuf[n], sizeof(tagbuf[n]), "%d", (int)ops->owned_parts[i]);
                tags[n] = tagbuf[n];
                own_dep |= ops->owned_parts[i] == 0 && !strcmp(topics[n], ops->topic_orders);
                n++;
        }
        pthread_mutex_unlock(&ops->lock);
        if (own_dep) {          /* the dependency rules' outbox: one process counts it */
                tags[n] = "dep";
                topics[n++] = NULL;
        }
        if (!n) {
                rw_metrics_set(ops->m, ops->f.outbox, NULL, 0);
                goto done;
        }
        if ((!ops->st && !(ops->st = rw_state_new(ops->conf, errstr, sizeof(errstr)))) ||
            rw_outbox_store_depth(ops->st, tags, topics, n, &depth, errstr, sizeof(errstr))) {
                rw_log_debug("metrics: outbox depth not read: %s", errstr);
                rw_metrics_clear(ops->m, ops->f.outbox);
                goto done;
        }
        rw_metrics_set(ops->m, ops->f.outbox, NULL, (double)depth);
done:
        for (size_t i = 0; i < n; i++)
                free((char *)topics[i]);
        free(tags);
        free(topics);
        free(tagbuf);
        pthread_mutex_unlock(&ops->collect_lock);
}

void rw_ops_redis_round_trip(void *opaque, double seconds) {
        rw_ops_t *ops = opaque;
        if (ops)
                rw_metrics_observe(ops->m, ops->f.redis_rt, NULL, seconds);
}

static void rw_ops_cache_gauges(rw_ops_t *ops, const rw_ops_report_t *rep) {
        rw_metrics_t *m = ops->m;

        rw_metrics_set(m, ops->f.cache_bytes, NULL, (double)rep->cache.bytes);
        rw_metrics_set(m, ops->f.cache_limit, NULL, (double)rep->cache.limit);
        rw_metrics_set(m, ops->f.cache_entries, "form=\"view\"", (double)rep->cache.views);
        rw_metrics_set(m, ops->f.cache_entries, "form=\"packed\"", (double)rep->cache.packed);
        rw_metrics_set(m, ops->f.cache_reads, "result=\"hit\"", (double)rep->cache.hits);
        rw_metrics_set(m, ops->f.cache_reads, "result=\"miss\"", (double)rep->cache.misses);
        rw_metrics_set(m, ops->f.cache_evictions, NULL, (double)rep->cache.evictions);
        rw_metrics_set(m, ops->f.due_entries, NULL, (double)rep->due_entries);
}

/* Prometheus' process families, as of the scrape. */
static void rw_ops_process_gauges(rw_ops_t *ops) {
        rw_metrics_t *m = ops->m;
        rw_process_stats_t ps;

        if (rw_process_stats(&ps))
                return;         /* no /proc: the families stay empty */
        rw_metrics_set(m, ops->f.p_cpu, NULL, ps.cpu_seconds);
        rw_metrics_set(m, ops->f.p_start, NULL, ps.start_time);
        rw_metrics_set(m, ops->f.p_rss, NULL, (double)ps.resident_bytes);
        rw_metrics_set(m, ops->f.p_vsz, NULL, (double)ps.virtual_bytes);
        if (ps.open_fds >= 0)
                rw_metrics_set(m, ops->f.p_fds, NULL, (double)ps.open_fds);
        if (ps.max_fds >= 0)
                rw_metrics_set(m, ops->f.p_max_fds, NULL, (double)ps.max_fds);
        if (!ps.heap_in_use)    /* an allocator that does not say (sanitizers) */
                return;
        rw_metrics_set(m, ops->f.heap, "state=\"in_use\"", (double)ps.heap_in_use);
        rw_metrics_set(m, ops->f.heap, "state=\"free\"", (double)ps.heap_free);
}

void rw_ops_report(rw_ops_t *ops, const rw_ops_report_t *rep) {
        int64_t now, wall, lag = -1, wm = 0;
        rw_status_t st;
        char line[1500];

        if (!ops)
                return;
        now = rw_mono_ms();
        wall = rw_now_ms();
        ops->report_at = now + RW_OPS_REPORT_MS;
        rw_ops_waiting(ops, rep->part_cnt, now);
        for (size_t i = 0; i < rep->part_cnt; i++) {
                const rw_ops_part_t *p = &rep->parts[i];
                if (p->hi >= 0 && p->position >= 0)
                        lag = (lag < 0 ? 0 : lag) + (p->hi > p->position ? p->hi - p->position : 0);
                if (p->watermark > 0 && (!wm || p->watermark < wm))
                        wm = p->watermark;
        }
        rw_ops_part_gauges(ops, rep, wall);
        if (rep->boundaries_pending >= 0)
                rw_metrics_set(ops->m, ops->f.pending, NULL, (double)rep->boundaries_pending);
        rw_ops_owned(ops, rep);
        rw_metrics_set(ops->m, ops->f.redis_calls, NULL, (double)rep->redis_calls);
        rw_metrics_set(ops->m, ops->f.fences, NULL, (double)rep->fenced);
        rw_metrics_set(ops->m, ops->f.unacked, NULL, (double)rep->unacked);
        rw_metrics_set(ops->m, ops->f.assigned, NULL, (double)rep->part_cnt);
        rw_ops_cache_gauges(ops, rep);
        pthread_mutex_lock(&ops->lock);
        ops->assigned = (int)rep->part_cnt;
        st = (rw_status_t){
                .now_ms = wall, .elapsed_ms = now - ops->status_prev_mono,
                .records = rep->consumed - ops->status_prev_consumed,
                .assigned = (int)rep->part_cnt, .lag = lag, .watermark = wm,
                .alerts = rep->alerts, .redis_ok = ops->redis_ok,
                .redis_err = ops->redis_err, .redis_err_at = ops->redis_err_at,
        };
        if (ops->status_ms > 0 && now >= ops->status_at)
                rw_status_format(&st, line, sizeof(line));
        else
                line[0] = '\0';
        pthread_mutex_unlock(&ops->lock);
        if (line[0]) {
                rw_log_info("%s", line);
                ops->status_at = now + ops->status_ms;
                ops->status_prev_mono = now;
                ops->status_prev_consumed = rep->consumed;
        }
}

int rw_ops_serve(rw_ops_t *ops, const char *path, char **body, size_t *len) {
        char text[1024], dur[32], ts[40];
        int status = 200;

        *body = NULL;
        *len = 0;
        if (!strcmp(path, "/metrics")) {
                if (!(*body = rw_metrics_render(ops->m, len)))
                        return 500;
                return 200;
        }
        pthread_mutex_lock(&ops->lock);
        if (!strcmp(path, "/healthz")) {
                int64_t ago = rw_mono_ms() - __atomic_load_n(&ops->alive_mono,
                                                             __ATOMIC_RELAXED);
                rw_fmt_duration(dur, sizeof(dur), ago);
                if (ago <= ops->alive_ms) {
                        snprintf(text, sizeof(text), "ok: the loop went round %s ago\n", dur);
                } else {
                        status = 503;
                        snprintf(text, sizeof(text), "stalled: the loop last went round %s "
                                 "ago (metrics.alive.timeout ", dur);
                        rw_fmt_duration(dur, sizeof(dur), ops->alive_ms);
                        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s)\n", dur);
                }
        } else if (!strcmp(path, "/readyz")) {
                if (!ops->redis_ok) {
                        status = 503;
                        snprintf(text, sizeof(text), "not ready: redis failing since %s: %s\n",
                                 rw_fmt_time(ts, sizeof(ts), ops->redis_err_at),
                                 ops->redis_err);
                } else if (!ops->assigned) {
                        status = 503;
                        snprintf(text, sizeof(text), "not ready: no partitions of %s assigned "
                                 "(group %s)\n", ops->topics, ops->group);
                } else {
                        snprintf(text, sizeof(text), "ready: %d partition%s assigned, redis "
                                 "ok\n", ops->assigned, ops->assigned == 1 ? "" : "s");
                }
        } else {
                status = 404;
                snprintf(text, sizeof(text), "not found: /metrics, /healthz, /readyz\n");
        }
        pthread_mutex_unlock(&ops->lock);
        if ((*body = strdup(text)))
                *len = strlen(text);
        return status;
}

static void rw_ops_handle(void *opaque, const char *path, rw_http_reply_t *reply) {
        rw_ops_t *ops = opaque;

        if (!strcmp(path, "/metrics")) {
                rw_ops_process_gauges(ops);
                rw_ops_collect(ops);
        }
        reply->status = rw_ops_serve(ops, path, &reply->body, &reply->len);
        if (!strcmp(path, "/metrics") && reply->status == 200)
                reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
