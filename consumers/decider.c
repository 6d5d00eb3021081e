/* decider.c - the dependency decider on a thread of its own: a pass decides
 * what the group's low watermark allows (at most the decider's per-tick
 * limit), then, with boundaries left, the next pass follows at once;
 * otherwise it waits for a kick or half a second. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "consumers/decider.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/repeat.h"
#include "ops/process.h"
#include "producers/producer.h"
#include "state/outbox.h"
#include "state/state.h"

#define RW_DECIDER_IDLE_MS 500
/* Passes that decided boundaries, in a row, that make a catch-up: at its
 * end the allocator's free memory goes back to the kernel
 * (rw_decider_caught_up()). */
#define RW_DECIDER_CATCHUP_PASSES 4

struct rw_decider_s {
        rw_boundary_t *bd;
        rw_state_t *st;                 /* its own connection */
        rw_codec_t *codec;              /* its own: codecs are not shared */
        rw_producer_t *prod;            /* its own */
        rd_kafka_t *rk;                 /* the consumer's, for metadata */
        char topic_orders[256];
        _Atomic int32_t partitions;     /* of topic_orders (0: not known yet) */
        rw_decider_emit_cb *emit;
        void *opaque;

        pthread_t thread;
        int started;
        pthread_mutex_t lock;           /* the fields below, and emits */
        pthread_cond_t cond;
        int stop, kicked;
        uint64_t passes;                /* passes started */
        uint64_t settled_pass;          /* the last pass that left nothing to do */
        char failed[600];
        int64_t last;                   /* as last read from Redis (0: none) */
        uint64_t gen;                   /* bumped by rw_decider_set_last() */
        _Atomic int64_t busy_us;
        _Atomic int64_t cpu_us;         /* the thread's CPU time in passes */
        int64_t interval_ms;            /* between boundaries */
        _Atomic int64_t pending;        /* after the last pass that held the lock (-1: none) */
        _Atomic int open;               /* the namespace's interval is known to be ours */
        /* The catch-up under way (decider thread only): passes that decided
         * boundaries since the last that decided none, what they decided,
         * since when. */
        int64_t run_passes, run_decided, run_since_us;
        rw_repeat_t redis_fault;        /* Redis away: said once, not per pass */
};

static void rw_decider_emit(void *opaque, const rw_alert_t *a) {
        rw_decider_t *dc = opaque;
        pthread_mutex_lock(&dc->lock);
        dc->emit(dc->opaque, a);
        pthread_mutex_unlock(&dc->lock);
}

static rw_err_t rw_decider_drain(void *opaque, const char *tag) {
        rw_decider_t *dc = opaque;
        char errstr[512];
        rw_err_t err = rw_outbox_drain(dc->st, tag, NULL, dc->prod, dc->codec,
                                       rw_decider_emit, dc, NULL, errstr, sizeof(errstr));
        /* Redis away: the pass says so (rw_decider_pass()); a failed
         * delivery stops the decider, said here with its cause. */
        if (err == RW_ERR_IO)
                rw_log_debug("dependency alerts not delivered yet: %s", errstr);
        else if (err)
                rw_log_warn("dependency alerts not delivered: %s", errstr);
        return err;
}

/* A pass decided nothing. After a catch-up (a replay, a restart after a
 * stop, an input outage: passes deciding boundaries one after another, as
 * fast as the loop's writes take the watermark on), the memory its passes
 * and the loop's backlog took is free, and glibc keeps it (riskwatch's trim
 * threshold is 128 MiB; the decider's thread has an arena of its own):
 * given back once, here, rather than held for the life of the process. A
 * live stream decides a boundary an interval, with passes deciding nothing
 * between: no catch-up. */
static void rw_decider_caught_up(rw_decider_t *dc) {
        int64_t before, after, t0;

        if (dc->run_passes >= RW_DECIDER_CATCHUP_PASSES) {
                /* Resident memory may also grow meanwhile (other threads):
                 * what was returned is never said to be less than none. */
                t0 = rw_mono_us();
                rw_process_heap_release(&before, &after);
                rw_log_info("dependency rules: caught up (%" PRId64 " boundaries in %" PRId64
                            " passes over %.1f s); %.1f MiB of free memory returned to the "
                            "system in %.1f ms (resident %.1f -> %.1f MiB)",
                            dc->run_decided, dc->run_passes,
                            (double)(t0 - dc->run_since_us) / 1e6,
                            (double)(before > after ? before - after : 0) / 1048576.0,
                            (double)(rw_mono_us() - t0) / 1e3, (double)before / 1048576.0,
                            (double)after / 1048576.0);
        }
        dc->run_passes = dc->run_decided = 0;
}

/* One pass. 1 when it left nothing to do, 0 when work is left or Redis was
 * away (*morep: go on at once), -1 on a failure that stops the decider. */
static int rw_decider_pass(rw_decider_t *dc, int *morep) {
        rw_boundary_result_t res;
        char errstr[512];
        rw_err_t err;
        uint64_t gen;
        int32_t parts;

        pthread_mutex_lock(&dc->lock);
        gen = dc->gen;
        pthread_mutex_unlock(&dc->lock);

        *morep = 0;
        /* Nothing is decided before the loop has checked that the
         * namespace was built with this evaluation.interval. */
        if (!atomic_load(&dc->open))
                return 1;
        /* Told by the loop, which read the topics before the first poll;
         * asked here only if it could not (a parked fetch holds the
         * request back for fetch.wait.max.ms). */
        if (!(parts = atomic_load(&dc->partitions))) {
                if (!(parts = rw_kafka_partition_cnt(dc->rk, dc->topic_orders)))
                        return 1;
                atomic_store(&dc->partitions, parts);
        }
        err = rw_boundary_tick(dc->bd, dc->st, dc->codec, parts, rw_now_ms(),
                               rw_decider_drain, dc, &res, errstr, sizeof(errstr));
        if (err == RW_ERR_IO) {
                /* Next pass; the batches ride out the outage. */
                rw_repeat_fail(&dc->redis_fault, rw_mono_ms(), RW_REPEAT_EVERY_MS,
                               "dependency rules", errstr);
                rw_state_reconnect(dc->st, errstr, sizeof(errstr));
                return 0;
        }
        rw_repeat_ok(&dc->redis_fault, rw_mono_ms(), "dependency rules");
        if (err) {
                pthread_mutex_lock(&dc->lock);
                snprintf(dc->failed, sizeof(dc->failed), "dependency rules: %s", errstr);
                pthread_mutex_unlock(&dc->lock);
                return -1;
        }
        /* What Redis holds now, unless the loop read it again meanwhile
         * (after Redis lost writes it may be lower than before). */
        pthread_mutex_lock(&dc->lock);
        if (gen == dc->gen)
                dc->last = res.last > 0 ? res.last : 0;
        pthread_mutex_unlock(&dc->lock);
        /* Boundaries at or below the group's low watermark still to
         * decide (as rw_boundary_status() counts them). */
        if (!res.busy)
                atomic_store(&dc->pending,
                             res.low_watermark != INT64_MIN && res.last >= 0 &&
                             res.low_watermark >= res.last + dc->interval_ms ?
                             (res.low_watermark - res.last) / dc->interval_ms : 0);
        *morep = res.more && !res.busy && !res.stale;
        if (res.decided > 0) {
                if (!dc->run_passes++)
                        dc->run_since_us = rw_mono_us();
                dc->run_decided += res.decided;
        } else if (!res.busy) {
                rw_decider_caught_up(dc);
        }
        return !(res.busy || res.more);
}

static void *rw_decider_main(void *arg) {
        rw_decider_t *dc = arg;
        int more = 0;

        rw_producer_warm(dc->prod, 2000);
        pthread_mutex_lock(&dc->lock);
        while (!dc->stop) {
                uint64_t pass;
                int64_t t0, c0;
                int rc;

                if (!more && !dc->kicked) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_nsec += RW_DECIDER_IDLE_MS * 1000000L;
                        ts.tv_sec += ts.tv_nsec / 1000000000L;
                        ts.tv_nsec %= 1000000000L;
                        while (!dc->stop && !dc->kicked &&
                               pthread_cond_timedwait(&dc->cond, &dc->lock, &ts) != ETIMEDOUT)
                                ;
                        if (dc->stop)
                                break;
                }
                dc->kicked = 0;
                pass = ++dc->passes;
                pthread_mutex_unlock(&dc->lock);

                t0 = rw_mono_us();
                c0 = rw_thread_cpu_us();
                rc = rw_decider_pass(dc, &more);
                atomic_fetch_add(&dc->busy_us, rw_mono_us() - t0);
                atomic_fetch_add(&dc->cpu_us, rw_thread_cpu_us() - c0);

                pthread_mutex_lock(&dc->lock);
                if (rc < 0)
                        break;
                if (rc > 0 && pass > dc->settled_pass)
                        dc->settled_pass = pass;
        }
        pthread_mutex_unlock(&dc->lock);
        return NULL;
}

rw_decider_t *rw_decider_new(const rw_conf_t *conf, const rw_rules_params_t *params,
                             const rw_boundary_opts_t *bo, rd_kafka_t *rk,
                             const char *topic_orders, rw_decider_emit_cb *emit,
                             void *opaque, char *errstr, size_t errstr_size) {
        rw_decider_t *dc = calloc(1, sizeof(*dc));
        const char *dir = rw_conf_get_str(conf, "schemas.dir");
        char dirbuf[1024];

        if (!dc) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&dc->lock, NULL);
        pthread_cond_init(&dc->cond, NULL);
        dc->rk = rk;
        dc->interval_ms = bo && bo->interval_ms > 0 ? bo->interval_ms : 3600 * 1000LL;
        atomic_store(&dc->pending, -1);
        dc->emit = emit;
        dc->opaque = opaque;
        snprintf(dc->topic_orders, sizeof(dc->topic_orders), "%s", topic_orders);
        dir = rw_schemas_dir(dir, dirbuf, sizeof(dirbuf));
        if (!(dc->bd = rw_boundary_new(params, bo, errstr, errstr_size)) ||
            !(dc->codec = rw_codec_new(dir, errstr, errstr_size)) ||
            !(dc->st = rw_state_new(conf, errstr, errstr_size)) ||
            !(dc->prod = rw_producer_new(conf, dc->codec, errstr, errstr_size))) {
                rw_decider_destroy(dc);
                return NULL;
        }
        return dc;
}

int rw_decider_start(rw_decider_t *dc, int32_t alert_schema_id) {
        if (alert_schema_id >= 0)
                rw_codec_set_writer_id(dc->codec, RW_REC_ALERT, alert_schema_id);
        if (pthread_create(&dc->thread, NULL, rw_decider_main, dc))
                return -1;
        dc->started = 1;
        return 0;
}

void rw_decider_stop(rw_decider_t *dc) {
        if (!dc->started)
                return;
        pthread_mutex_lock(&dc->lock);
        dc->stop = 1;
        pthread_cond_signal(&dc->cond);
        pthread_mutex_unlock(&dc->lock);
        pthread_join(dc->thread, NULL);
        dc->started = 0;
        dc->stop = 0;
}

void rw_decider_destroy(rw_decider_t *dc) {
        if (!dc)
                return;
        rw_decider_stop(dc);
        rw_producer_destroy(dc->prod);
        rw_state_destroy(dc->st);
        rw_codec_destroy(dc->codec);
        rw_boundary_destroy(dc->bd);
        pthread_cond_destroy(&dc->cond);
        pthread_mutex_destroy(&dc->lock);
        free(dc);
}

void rw_decider_set_sinks(rw_decider_t *dc, int alerts, int dlq) {
        rw_producer_set_sinks(dc->prod, alerts, dlq);
}

void rw_decider_set_replay(rw_decider_t *dc, int replay) {
        rw_boundary_set_replay(dc->bd, replay);
}

void rw_decider_set_partitions(rw_decider_t *dc, int32_t partitions) {
        if (dc && partitions > 0)
                atomic_store(&dc->partitions, partitions);
}

void rw_decider_kick(rw_decider_t *dc) {
        pthread_mutex_lock(&dc->lock);
        dc->kicked = 1;
        pthread_cond_signal(&dc->cond);
        pthread_mutex_unlock(&dc->lock);
}

void rw_decider_open(rw_decider_t *dc) {
        if (!atomic_exchange(&dc->open, 1))
                rw_decider_kick(dc);
}

int64_t rw_decider_last(rw_decider_t *dc) {
        int64_t last;
        pthread_mutex_lock(&dc->lock);
        last = dc->last;
        pthread_mutex_unlock(&dc->lock);
        return last;
}

void rw_decider_set_last(rw_decider_t *dc, int64_t last) {
        pthread_mutex_lock(&dc->lock);
        dc->last = last > 0 ? last : 0;
        dc->gen++;
        pthread_mutex_unlock(&dc->lock);
}

uint64_t rw_decider_ticket(rw_decider_t *dc) {
        uint64_t t;
        pthread_mutex_lock(&dc->lock);
        t = dc->passes + 1;
        dc->kicked = 1;
        pthread_cond_signal(&dc->cond);
        pthread_mutex_unlock(&dc->lock);
        return t;
}

int rw_decider_settled(rw_decider_t *dc, uint64_t ticket) {
        int ok;
        pthread_mutex_lock(&dc->lock);
        ok = dc->settled_pass >= ticket;
        pthread_mutex_unlock(&dc->lock);
        return ok;
}

const char *rw_decider_failed(rw_decider_t *dc) {
        const char *f;
        pthread_mutex_lock(&dc->lock);
        f = dc->failed[0] ? dc->failed : NULL;
        pthread_mutex_unlock(&dc->lock);
        return f;
}

int64_t rw_decider_alerts_dead(rw_decider_t *dc) {
        return rw_producer_alerts_dead(dc->prod);
}

int64_t rw_decider_busy_us(rw_decider_t *dc) {
        return atomic_load(&dc->busy_us);
}

int64_t rw_decider_cpu_us(rw_decider_t *dc) {
        return atomic_load(&dc->cpu_us);
}

int64_t rw_decider_pending(rw_decider_t *dc) {
        return dc ? atomic_load(&dc->pending) : -1;
}

void rw_decider_lock(rw_decider_t *dc) {
        pthread_mutex_lock(&dc->lock);
}

void rw_decider_unlock(rw_decider_t *dc) {
        pthread_mutex_unlock(&dc->lock);
}
