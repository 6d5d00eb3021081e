/* ops.c - the operations surface of `riskwatch run`: the status line every
 * `log.status.interval`, the lines that say what the loop waits for, and
 * the health the processor reports. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ops/status.h"
#include "common/log.h"

#define RW_OPS_REPORT_MS 1000

struct rw_ops_s {
        int64_t status_ms;      /* log.status.interval (0: no status line) */
        char topics[600];       /* "orders and support", for messages */
        char group[256];
        char session[64];       /* kafka.session.timeout.ms, as a duration */
        int64_t start_ms;       /* wall clock at the start */
        /* The loop's (one thread). */
        int64_t report_at;      /* mono ms of the next report */
        int64_t status_at;      /* mono ms of the next status line */
        int64_t status_prev_mono;
        int64_t status_prev_consumed;
        int64_t waiting_since;  /* mono ms the wait for partitions began (0: none) */
        /* Shared with readers on other threads. */
        pthread_mutex_t lock;
        int64_t alive_mono;     /* mono ms the loop was last seen */
        int assigned;
        int redis_ok;
        char redis_err[512];
        int64_t redis_err_at;
};

rw_ops_t *rw_ops_new(const rw_conf_t *conf, char *errstr, size_t errstr_size) {
        rw_ops_t *ops = calloc(1, sizeof(*ops));
        const char *orders = rw_conf_get_str(conf, "topics.orders"),
                   *support = rw_conf_get_str(conf, "topics.support");
        int64_t session = 45000;        /* librdkafka's default */

        if (!ops) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&ops->lock, NULL);
        ops->status_ms = rw_conf_get_int(conf, "log.status.interval");
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
        ops->start_ms = rw_now_ms();
        ops->redis_ok = 1;
        ops->alive_mono = rw_mono_ms();
        ops->status_prev_mono = ops->alive_mono;
        ops->status_at = ops->alive_mono + ops->status_ms;
        return ops;
}

void rw_ops_destroy(rw_ops_t *ops) {
        if (!ops)
                return;
        pthread_mutex_destroy(&ops->lock);
        free(ops);
}

void rw_ops_alive(rw_ops_t *ops) {
        if (!ops)
                return;
        int64_t now = rw_mono_ms();
        pthread_mutex_lock(&ops->lock);
        ops->alive_mono = now;
        pthread_mutex_unlock(&ops->lock);
}

int rw_ops_due(rw_ops_t *ops) {
        if (!ops)
                return 0;
        int64_t now = rw_mono_ms();
        /* A turn of the loop is cheap; the lock is taken at most a few
         * times a second. */
        if (now - ops->alive_mono >= 100)
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
