/* processor.c - Kafka in: the consume -> decode -> evaluate -> write ->
 * deliver loop.
 *
 * Per batch: decode every record (undecodable ones go to the DLQ, which is
 * flushed before anything else); per partition, take the accounts the batch
 * touches and those whose due time it passes from the cache (reading the
 * others from Redis), replay the batch over them (consumers/replay.c), and
 * build what changed, the offset, the lifecycle states, the due times and
 * the transitions (the outbox) into one fenced write; all partitions' writes
 * go to Redis as one transaction, sent while the next batch is prepared;
 * once it landed, deliver the outboxes, trim them once acknowledged, and
 * commit the offsets to Kafka for lag monitors. Redis holds the
 * authoritative positions. Between batches, the dependency rules' decider
 * (consumers/boundary.c) decides the boundaries the group passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include "consumers/processor.h"
#include "producers/producer.h"
#include "schemas/registry.h"
#include "state/state.h"
#include "state/outbox.h"
#include "state/cache.h"
#include "consumers/replay.h"
#include "consumers/boundary.h"
#include "consumers/decider.h"
#include "consumers/idle.h"
#include "state/boundary_store.h"
#include "rules/rules.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/json.h"


/* One assigned input partition. */
typedef struct rw_part_s {
        char topic[256];
        int32_t partition;
        int64_t expected;       /* next offset as stored in Redis (-1: none) */
        int64_t watermark;      /* highest event time applied */
        rw_input_gaps_t gaps;   /* its input outages, as stored */
        rw_input_gaps_t b_gaps; /* as the batch in flight leaves them */
        int eof;
        int assigned;
        int64_t end;            /* opts.end_offsets': records from here on are not read (-1: none) */
        int64_t end_since;      /* wall ms since when it is at its end (0: not) */
        int end_reported;       /* the last report said it is at its end */
        int64_t follow;         /* this batch: idle, its clock moves to this (0: not) */
        int64_t followed;       /* the clock its last follow moved it to */
        int fl_follow;          /* the write in flight is a follow (no records) */
        int64_t hold_need;      /* paused at a gap of its own until every other
                                 * orders partition passed this event time (0: not) */
        /* per batch */
        rw_state_event_t *evs;
        int64_t *ev_offsets;
        size_t ev_cnt, ev_size;
        int64_t last_offset;    /* highest offset in this batch (-1: none) */
        int64_t route_wm;       /* watermark over the records routed so far */
        int64_t retry_at;       /* stopped here by a registry outage (-1: not) */
        int drain;              /* its outbox may hold undelivered transitions */
        rw_account_view_t **accts;      /* the batch's accounts (in the cache) */
        size_t acct_cnt, acct_size;
        rw_state_write_t *w;            /* the batch's write, until executed */
        rw_due_query_t due;             /* the batch's accounts due by its end */
        int64_t pb_first, pb_last;      /* its stored pb:first, pb:last (-1: none) */
        int64_t b_watermark, b_applied, b_duplicates, b_late;   /* the batch's, once written */
        int64_t *vmax;                  /* per event: its vendor's latest stored day */
        size_t vmax_size;
        /* The write in flight (sent, outcome not read yet). */
        rw_state_write_t *fl_w;
        rw_account_view_t **fl_accts;   /* its accounts (kept cached until read) */
        size_t fl_acct_cnt, fl_acct_size;
        int64_t fl_next, fl_applied, fl_duplicates, fl_late;
        size_t fl_alerts;
        size_t b_alerts;
} rw_part_t;

/* Stable string storage for one batch (decoded strings die on next decode). */
static void rw_emit_out(void *opaque, const rw_alert_t *a);

typedef struct rw_arena_block_s {
        struct rw_arena_block_s *next;
        size_t used, size;
        char data[];
} rw_arena_block_t;

struct rw_processor_s {
        const rw_conf_t *conf;
        rw_processor_opts_t opts;
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue;        /* the consumer queue */
        rw_codec_t *codec;
        rw_producer_t *prod;
        rw_state_t *state;
        rw_state_t *wstate;             /* a second connection: batch writes */
        rw_state_txn_t *txn;            /* the batch write in flight (NULL: none) */
        rw_state_write_t **fl_ws;       /* its writes and their outcomes */
        rw_err_t *fl_errs;
        size_t fl_n, fl_size;
        rw_cache_t *cache;              /* the owned partitions' accounts */
        volatile sig_atomic_t *run_stop;        /* rw_processor_run()'s, while it runs */
        rw_account_limits_t lim;
        rw_rules_params_t params;
        char topic_orders[256], topic_support[256];
        int64_t lateness_ms;
        rw_validate_limits_t vlim;
        int64_t interval_ms;            /* dependency rules' boundaries */
        int64_t state_days;             /* the longest window an account rule reads */
        rw_decider_t *decider;          /* the dependency rules' decider (a thread) */
        int32_t alert_schema_id;        /* the registry's id for alerts (-1: none) */
        rw_boundary_t *boundary;        /* reads the group's low watermark (the decider has its own) */
        int32_t orders_partitions;      /* of topics.orders (0: not known yet) */
        int64_t tick_at;                /* mono ms of the next end-of-partition report */
        int64_t group_now;              /* the group's low watermark (INT64_MIN: none) */
        int64_t idle_timeout_ms;
        int64_t check_at;               /* mono ms of the next position check */
        int64_t lock_ttl_ms;            /* of the decider's lock */
        int batch_size, batch_timeout_ms;
        rw_part_t *parts;
        size_t part_cnt, part_size;
        rw_arena_block_t *arena;
        rw_processor_stats_t stats;
        /* Records older than the window: dead letters unless re-deliveries. */
        struct rw_late_s {
                rd_kafka_message_t *rkm;
                rw_part_t *p;
                const char *event_id;
                const char *account;
                const char *msg;
        } *late;
        size_t late_cnt, late_size;
        int64_t dlq_logged_at[RW_DLQ__CNT];     /* mono ms of the last DLQ log line */
        int64_t dlq_unlogged[RW_DLQ__CNT];      /* dead letters since then */
        int fatal;
        char fatal_err[1024];
        volatile sig_atomic_t *stop;    /* rw_processor_run()'s, for callbacks */
        int64_t broker_timeout_ms;      /* -e: longest wait for the brokers */
        char bootstrap[512];            /* kafka.bootstrap.servers, for messages */
        /* Schema registry: NULL without one. While it gives no answer for a
         * record's schema, that record's partition stops before it
         * (retry_at), the assignment is paused, and the record is decoded
         * again (a probe) with backoff until the registry answers. */
        rw_registry_t *registry;
        int alerts_registered;
        int reg_blocked;                /* partitions stopped in this batch */
        int reg_wait;                   /* paused, probing */
        int reg_backoff_ms;
        int64_t reg_probe_at;           /* mono ms */
        void *reg_probe;                /* the first stopped record's value */
        size_t reg_probe_len;
        rw_record_type_t reg_probe_type;
        char reg_why[512];
        /* Input topics the broker did not know (bit 0 orders, 1 support),
         * asked again at topics_check_at (mono ms; 0: not asked yet). */
        int topics_missing;
        int64_t topics_check_at;
};

static char *rw_arena_strdup(rw_processor_t *proc, const char *s) {
        size_t len = strlen(s) + 1;
        rw_arena_block_t *b = proc->arena;

        if (!b || b->size - b->used < len) {
                size_t size = len > 65536 ? len : 65536;
                rw_arena_block_t *nb = malloc(sizeof(*nb) + size);
                if (!nb)
                        abort();
                nb->next = b;
                nb->used = 0;
                nb->size = size;
                proc->arena = b = nb;
        }
        memcpy(b->data + b->used, s, len);
        b->used += len;
        return b->data + b->used - len;
}

static void rw_arena_reset(rw_processor_t *proc) {
        rw_arena_block_t *b = proc->arena;
        while (b && b->next) {
                rw_arena_block_t *next = b->next;
                free(b);
                b = next;
        }
        if (b)
                b->used = 0;
        proc->arena = b;
}

static rw_part_t *rw_part_find(rw_processor_t *proc, const char *topic,
                               int32_t partition, int create) {
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (proc->parts[i].partition == partition &&
                    !strcmp(proc->parts[i].topic, topic))
                        return &proc->parts[i];
        if (!create)
                return NULL;
        if (proc->part_cnt == proc->part_size) {
                size_t n = proc->part_size ? proc->part_size * 2 : 16;
                rw_part_t *np = realloc(proc->parts, n * sizeof(*np));
                if (!np)
                        abort();
                proc->parts = np;
                proc->part_size = n;
        }
        rw_part_t *p = &proc->parts[proc->part_cnt++];
        memset(p, 0, sizeof(*p));
        snprintf(p->topic, sizeof(p->topic), "%s", topic);
        p->partition = partition;
        p->expected = -1;
        p->last_offset = -1;
        p->retry_at = -1;
        p->end = -1;
        return p;
}

/* The partition's tag in the account cache; its vendors (views holding
 * their latest stored day only) are kept under a tag of their own. */
#define RW_VENDOR_TAG_BASE (1 << 24)
static int rw_part_tag(const rw_processor_t *proc, const rw_part_t *p) {
        return (int)(p - proc->parts);
}

/* Forget what is cached of a partition (it was revoked, fenced, or a write
 * of it did not land). */
static void rw_part_forget(rw_processor_t *proc, const rw_part_t *p) {
        rw_cache_drop_tag(proc->cache, rw_part_tag(proc, p));
        rw_cache_drop_tag(proc->cache, RW_VENDOR_TAG_BASE + rw_part_tag(proc, p));
}

static void rw_fatal(rw_processor_t *proc, const char *fmt, const char *what);
static volatile sig_atomic_t rw_not_stopped;    /* proc->stop before a run */

/* Load a partition's stored position (offset and watermark) from Redis,
 * waiting out a Redis outage while not asked to stop. 0, or -1 when stopped
 * or when Redis refused (an error reply: fatal, with Redis' reason). */
static void rw_hold_end(rw_processor_t *proc, rw_part_t *p, int seek);
static int rw_part_load_position(rw_processor_t *proc, rw_part_t *p) {
        char errstr[512], why[1024];
        int backoff = 100;
        rw_err_t err;

        p->end_since = 0;
        p->followed = 0;
        rw_hold_end(proc, p, 0);        /* the caller seeks (or assigns) */
        while ((err = rw_state_get_position(proc->state, p->topic, p->partition,
                                            &p->expected, &p->watermark, errstr,
                                            sizeof(errstr))) ||
               (err = rw_state_get_bounds(proc->state, p->partition, &p->pb_first,
                                          &p->pb_last, errstr, sizeof(errstr))) ||
               (err = rw_state_get_gaps(proc->state, p->topic, p->partition, &p->gaps,
                                        errstr, sizeof(errstr)))) {
                if (err != RW_ERR_IO) {
                        snprintf(why, sizeof(why), "reading the stored position of "
                                 "%s [%d]: %s", p->topic, (int)p->partition, errstr);
                        rw_fatal(proc, "%s", why);
                        return -1;
                }
                rw_log_warn("cannot read the stored position of %s [%d]: %s; "
                            "retrying in %d ms", p->topic, (int)p->partition,
                            errstr, backoff);
                rw_ops_redis(proc->opts.ops, errstr);
                rw_ops_alive(proc->opts.ops);
                for (int waited = 0; waited < backoff && !*proc->stop; waited += 50)
                        usleep(50 * 1000);
                if (*proc->stop)
                        return -1;
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                rw_state_reconnect(proc->state, errstr, sizeof(errstr));
        }
        if (backoff > 100)
                rw_ops_redis(proc->opts.ops, NULL);
        return 0;
}

static void rw_write_finish(rw_processor_t *proc, volatile sig_atomic_t *stop);

/* tp's offset in list (a replay's starts or ends), or dflt. */
static int64_t rw_opts_offset(const rd_kafka_topic_partition_list_t *list,
                              const rd_kafka_topic_partition_t *tp, int64_t dflt) {
        for (int i = 0; list && i < list->cnt; i++)
                if (list->elems[i].partition == tp->partition &&
                    !strcmp(list->elems[i].topic, tp->topic))
                        return list->elems[i].offset;
        return dflt;
}

static void rw_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque) {
        rw_processor_t *proc = opaque;
        rd_kafka_error_t *error = NULL;
        int i;

        /* The write in flight settles first: assignments change what is
         * cached and what the partitions' positions are. */
        if (proc->run_stop)
                rw_write_finish(proc, proc->run_stop);

        rw_ops_rebalance(proc->opts.ops, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS);
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (i = 0; i < parts->cnt; i++) {
                        rd_kafka_topic_partition_t *tp = &parts->elems[i];
                        rw_part_t *p = rw_part_find(proc, tp->topic, tp->partition, 1);
                        /* Whatever was cached may have changed meanwhile. */
                        rw_part_forget(proc, p);
                        /* Stopped or failed: assigned to librdkafka, but
                         * nothing of it is applied; the run is ending. */
                        p->assigned = !rw_part_load_position(proc, p);
                        p->eof = 0;
                        p->retry_at = -1;       /* starts over at the stored position */
                        p->drain = 1;           /* a predecessor may have left some */
                        /* Redis is the source of truth: no stored position
                         * means no state, so rebuild from the beginning (a
                         * replay: from where its warm-up starts). */
                        tp->offset = p->expected >= 0 ? p->expected :
                                     rw_opts_offset(proc->opts.start_offsets, tp,
                                                    RD_KAFKA_OFFSET_BEGINNING);
                        p->end = rw_opts_offset(proc->opts.end_offsets, tp, -1);
                        rw_log_info("assigned %s [%d] at offset %lld%s",
                                    tp->topic, (int)tp->partition,
                                    (long long)p->expected,
                                    p->expected < 0 ? " (no state: from the beginning)" : "");
                }
                error = rd_kafka_incremental_assign(rk, parts);
        } else {
                for (i = 0; i < parts->cnt; i++) {
                        rw_part_t *p = rw_part_find(proc, parts->elems[i].topic,
                                                    parts->elems[i].partition, 0);
                        if (p) {
                                p->assigned = 0;
                                rw_part_forget(proc, p);
                        }
                        rw_log_info("revoked %s [%d]%s", parts->elems[i].topic,
                                    (int)parts->elems[i].partition,
                                    rd_kafka_assignment_lost(rk) ? " (lost)" : "");
                }
                error = rd_kafka_incremental_unassign(rk, parts);
        }
        if (error) {
                rw_log_error("rebalance: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

rw_processor_t *rw_processor_new(const rw_conf_t *conf,
                                 const rw_processor_opts_t *opts,
                                 char *errstr, size_t errstr_size) {
        const char *const defaults[] = {
                "group.id", rw_conf_get_str(conf, "group.id"),
                "enable.auto.commit", "false",
                "enable.auto.offset.store", "false",
                "auto.offset.reset", "earliest",
                "partition.assignment.strategy", "cooperative-sticky",
                "enable.partition.eof", "true",
                /* The prefetch queue is most of a consumer's memory, and
                 * it must hold about a second of records: this librdkafka
                 * (2.0) looks at a queue it found full again only after up
                 * to a second, and a smaller queue runs dry meanwhile (with
                 * 20,000 records a run spent a third of its time waiting).
                 * 100,000 records or 8 MB, whichever comes first (~30 MB of
                 * memory with small records; librdkafka's defaults are
                 * 100,000 and 64 MB). */
                "queued.max.messages.kbytes", "8192",
                "queued.min.messages", "100000",
                NULL
        };
        rw_processor_t *proc = calloc(1, sizeof(*proc));
        rd_kafka_conf_t *kconf = NULL;
        rd_kafka_topic_partition_list_t *topics = NULL;
        rd_kafka_resp_err_t kerr;
        const char *dir = rw_conf_get_str(conf, "schemas.dir");
        char dirbuf[1024];

        if (!proc) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        proc->conf = conf;
        proc->alert_schema_id = -1;
        for (int r = 0; r < RW_DLQ__CNT; r++)   /* every reason's series, at 0 */
                rw_ops_dead_letters(opts ? opts->ops : NULL, NULL,
                                    rw_dlq_reason_name((rw_dlq_reason_t)r), 0);
        proc->stop = &rw_not_stopped;
        if (opts)
                proc->opts = *opts;
        if (!proc->opts.alert_fp)
                proc->opts.alert_fp = stdout;
        snprintf(proc->topic_orders, sizeof(proc->topic_orders), "%s",
                 rw_conf_get_str(conf, "topics.orders"));
        snprintf(proc->topic_support, sizeof(proc->topic_support), "%s",
                 rw_conf_get_str(conf, "topics.support"));
        proc->lateness_ms = rw_conf_get_int(conf, "allowed.lateness");
        proc->group_now = INT64_MIN;
        rw_validate_limits_conf(&proc->vlim, conf);
        proc->batch_size = (int)rw_conf_get_int(conf, "batch.size");
        proc->batch_timeout_ms = (int)rw_conf_get_int(conf, "batch.timeout");
        proc->broker_timeout_ms = rw_conf_get_int(conf, "broker.timeout");
        for (size_t i = 0; i < rw_conf_kafka_cnt(conf); i++) {
                const char *k, *v;
                rw_conf_kafka_get(conf, i, &k, &v);
                if (!strcmp(k, "bootstrap.servers"))
                        snprintf(proc->bootstrap, sizeof(proc->bootstrap), "%s", v);
        }
        if (rw_rules_params_from_conf(&proc->params, conf, errstr, errstr_size))
                goto fail;
        proc->interval_ms = rw_conf_get_int(conf, "evaluation.interval");
        proc->state_days = rw_rules_state_days(&proc->params);
        proc->lim = (rw_account_limits_t){
                .window_days = proc->state_days,
                .dedup_ms = rw_conf_get_int(conf, "dedup.horizon"),
                .dedup_max = (size_t)rw_conf_get_int(conf, "dedup.max.ids"),
        };
        if (!(proc->cache = rw_cache_new((size_t)rw_conf_get_int(conf, "state.cache.max.bytes")))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        {
                rw_boundary_opts_t bo;
                rw_boundary_opts_default(&bo);
                bo.interval_ms = proc->interval_ms;
                bo.lateness_ms = proc->lateness_ms;
                bo.idle_timeout_ms = rw_conf_get_int(conf, "idle.timeout");
                proc->idle_timeout_ms = bo.idle_timeout_ms;
                bo.replay = proc->opts.replay;
                bo.max_per_tick = 100;
                bo.lock_ttl_ms = 10 * 1000;     /* renewed per boundary */
                proc->lock_ttl_ms = bo.lock_ttl_ms;
                if (!(proc->boundary = rw_boundary_new(&proc->params, &bo, errstr,
                                                       errstr_size)))
                        goto fail;
                /* -e replays what the input holds: no partition is idle. */
                rw_boundary_set_replay(proc->boundary, proc->opts.exit_at_eof);
        }

        dir = rw_schemas_dir(dir, dirbuf, sizeof(dirbuf));
        if (!(proc->codec = rw_codec_new(dir, errstr, errstr_size)))
                goto fail;
        if (*rw_conf_get_str(conf, "schema.registry.url")) {
                if (!(proc->registry = rw_registry_new(
                              rw_conf_get_str(conf, "schema.registry.url"),
                              rw_conf_get_int(conf, "schema.registry.timeout"),
                              errstr, errstr_size)))
                        goto fail;
                rw_codec_set_registry(proc->codec, proc->registry);
        }
        if (!(proc->state = rw_state_new(conf, errstr, errstr_size)) ||
            !(proc->wstate = rw_state_new(conf, errstr, errstr_size)))
                goto fail;
        if (!(proc->prod = rw_producer_new(conf, proc->codec, errstr, errstr_size)))
                goto fail;
        rw_producer_set_sinks(proc->prod, !proc->opts.no_alerts, !proc->opts.no_dlq);
        if (!(kconf = rw_kafka_conf_new(conf, defaults, errstr, errstr_size)))
                goto fail;
        rd_kafka_conf_set_rebalance_cb(kconf, rw_rebalance_cb);
        rd_kafka_conf_set_opaque(kconf, proc);
        if (!(proc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, errstr_size)))
                goto fail;
        kconf = NULL;   /* owned by rk now */
        rd_kafka_poll_set_consumer(proc->rk);
        proc->queue = rd_kafka_queue_get_consumer(proc->rk);
        {
                rw_boundary_opts_t bo;
                rw_boundary_opts_default(&bo);
                bo.interval_ms = proc->interval_ms;
                bo.lateness_ms = proc->lateness_ms;
                bo.idle_timeout_ms = rw_conf_get_int(conf, "idle.timeout");
                bo.replay = proc->opts.replay;
                bo.emit_from = proc->opts.emit_from;
                /* Passes of 100 boundaries: the lock is renewed between
                 * them, and a stop is not kept waiting long. */
                bo.max_per_tick = 100;
                bo.lock_ttl_ms = 10 * 1000;     /* renewed per boundary */
                proc->lock_ttl_ms = bo.lock_ttl_ms;
                if (!(proc->decider = rw_decider_new(conf, &proc->params, &bo, proc->rk,
                                                     proc->topic_orders, rw_emit_out, proc,
                                                     errstr, errstr_size)))
                        goto fail;
                rw_decider_set_sinks(proc->decider, !proc->opts.no_alerts, !proc->opts.no_dlq);
                /* -e replays what the input holds: no partition is idle. */
                rw_decider_set_replay(proc->decider, proc->opts.exit_at_eof);
        }

        topics = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(topics, proc->topic_orders, RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(topics, proc->topic_support, RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(proc->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (kerr) {
                snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(kerr));
                goto fail;
        }
        return proc;
fail:
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        rw_processor_destroy(proc);
        return NULL;
}

void rw_processor_destroy(rw_processor_t *proc) {
        if (!proc)
                return;
        /* Before the consumer it asks for metadata. */
        rw_decider_destroy(proc->decider);
        if (proc->queue)
                rd_kafka_queue_destroy(proc->queue);
        if (proc->rk) {
                rd_kafka_consumer_close(proc->rk);
                rd_kafka_destroy(proc->rk);
        }
        rw_producer_destroy(proc->prod);
        rw_boundary_destroy(proc->boundary);
        rw_state_txn_destroy(proc->txn);
        free(proc->fl_ws);
        free(proc->fl_errs);
        rw_state_destroy(proc->wstate);
        rw_state_destroy(proc->state);
        rw_cache_destroy(proc->cache);
        rw_codec_destroy(proc->codec);
        rw_registry_destroy(proc->registry);
        free(proc->reg_probe);
        for (size_t i = 0; i < proc->part_cnt; i++) {
                free(proc->parts[i].evs);
                free(proc->parts[i].ev_offsets);
                free(proc->parts[i].accts);
                free(proc->parts[i].vmax);
                free(proc->parts[i].fl_accts);
                rw_state_write_destroy(proc->parts[i].fl_w);
                rw_due_query_clear(&proc->parts[i].due);
                rw_state_write_destroy(proc->parts[i].w);
        }
        free(proc->parts);
        free(proc->late);
        rw_arena_reset(proc);
        free(proc->arena);
        free(proc);
}

void rw_processor_stats(const rw_processor_t *proc, rw_processor_stats_t *stats) {
        rw_cache_stats_t cs;

        if (proc->decider)
                rw_decider_lock(proc->decider);         /* alerts */
        *stats = proc->stats;
        if (proc->decider)
                rw_decider_unlock(proc->decider);
        rw_cache_stats(proc->cache, &cs);
        stats->cache_evictions = cs.evictions;
        stats->watermark_min = 0;
        for (size_t i = 0; i < proc->part_cnt; i++) {
                const rw_part_t *p = &proc->parts[i];
                if (p->assigned && p->watermark > 0 &&
                    (!stats->watermark_min || p->watermark < stats->watermark_min))
                        stats->watermark_min = p->watermark;
        }
        stats->alerts_dead = proc->prod ? rw_producer_alerts_dead(proc->prod) : 0;
        if (proc->decider) {
                stats->alerts_dead += rw_decider_alerts_dead(proc->decider);
                stats->us_decide = rw_decider_busy_us(proc->decider);
        }
}

void rw_processor_stats_dlq_str(const rw_processor_stats_t *stats, char *buf,
                                size_t size) {
        size_t of = (size_t)snprintf(buf, size, "%lld to the DLQ", (long long)stats->dlq);
        const char *sep = " (";

        for (int r = 0; r < RW_DLQ__CNT && of < size; r++) {
                if (!stats->dlq_by_reason[r])
                        continue;
                of += (size_t)snprintf(buf + of, size - of, "%s%s %lld", sep,
                                       rw_dlq_reason_name((rw_dlq_reason_t)r),
                                       (long long)stats->dlq_by_reason[r]);
                sep = ", ";
        }
        if (*sep == ',' && of < size)
                snprintf(buf + of, size - of, ")");
}

static void rw_fatal(rw_processor_t *proc, const char *fmt, const char *what) {
        if (proc->fatal)
                return;
        proc->fatal = 1;
        snprintf(proc->fatal_err, sizeof(proc->fatal_err), fmt, what);
}

/* Turn one decoded record into a state event in its partition's batch. */
static void rw_part_add(rw_processor_t *proc, rw_part_t *p,
                        const rw_record_t *rec, int64_t offset) {
        rw_state_event_t *ev;

        if (p->ev_cnt == p->ev_size) {
                size_t n = p->ev_size ? p->ev_size * 2 : 256;
                p->evs = realloc(p->evs, n * sizeof(*p->evs));
                p->ev_offsets = realloc(p->ev_offsets, n * sizeof(*p->ev_offsets));
                if (!p->evs || !p->ev_offsets)
                        abort();
                p->ev_size = n;
        }
        ev = &p->evs[p->ev_cnt];
        p->ev_offsets[p->ev_cnt++] = offset;
        memset(ev, 0, sizeof(*ev));
        ev->offset = offset;
        if (rec->type == RW_REC_ORDER) {
                const rw_order_event_t *o = &rec->u.order;
                static const char kinds[] = { 'P', 'C', 'R' };
                ev->kind = kinds[o->kind];
                ev->event_id = rw_arena_strdup(proc, o->event_id);
                ev->account = rw_arena_strdup(proc, o->account_id);
                ev->vendor = rw_arena_strdup(proc, o->vendor_id);
                ev->amount = o->amount_minor;
                ev->occurred_at = o->occurred_at;
        } else {
                const rw_support_event_t *s = &rec->u.support;
                static const char kinds[] = { 'O', 'E', 'X', 'V', 'S' };
                ev->kind = kinds[s->kind];
                ev->event_id = rw_arena_strdup(proc, s->event_id);
                ev->account = rw_arena_strdup(proc, s->account_id);
                ev->vendor = "";
                ev->amount = s->severity;
                ev->occurred_at = s->occurred_at;
                if (s->has_csat || s->has_sentiment) {
                        char c[16] = "", m[24] = "";
                        if (s->has_csat)
                                snprintf(c, sizeof(c), "%d", (int)s->csat);
                        if (s->has_sentiment)
                                snprintf(m, sizeof(m), "%.4f", (double)s->sentiment);
                        snprintf(ev->extra, sizeof(ev->extra), "%s,%s", c, m);
                }
        }
}

_Static_assert(RW_CODEC_BAD_MAGIC - RW_CODEC_TOO_SHORT == RW_DLQ_BAD_MAGIC &&
               RW_CODEC_UNKNOWN_SCHEMA - RW_CODEC_TOO_SHORT == RW_DLQ_UNKNOWN_SCHEMA &&
               RW_CODEC_AVRO_DECODE - RW_CODEC_TOO_SHORT == RW_DLQ_AVRO_DECODE &&
               RW_CODEC_INVALID_FIELD - RW_CODEC_TOO_SHORT == RW_DLQ_INVALID_FIELD,
               "codec verdicts and DLQ reasons must line up");

static const char *rw_dlq_reason_names[RW_DLQ__CNT] = {
        [RW_DLQ_TOO_SHORT] = "too_short", [RW_DLQ_BAD_MAGIC] = "bad_magic",
        [RW_DLQ_UNKNOWN_SCHEMA] = "unknown_schema", [RW_DLQ_AVRO_DECODE] = "avro_decode",
        [RW_DLQ_INVALID_FIELD] = "invalid_field", [RW_DLQ_TOO_LATE] = "too_late",
};

const char *rw_dlq_reason_name(rw_dlq_reason_t r) {
        return r < RW_DLQ__CNT ? rw_dlq_reason_names[r] : "unknown";
}

/* Copy a record to the DLQ; count it per reason, and log at most one line
 * per reason every 10 s (a flood of bad input must not flood the log). */
static void rw_dead_letter(rw_processor_t *proc, rd_kafka_message_t *rkm,
                           rw_dlq_reason_t reason, const char *msg, int *dlq_sent) {
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        int64_t now = rw_mono_ms();
        char errstr[512], clean[1024];

        msg = rw_log_clean(clean, sizeof(clean), msg);  /* one line in the header too */
        if (rw_producer_send_dlq(proc->prod, rkm, rw_dlq_reason_name(reason), msg,
                                 errstr, sizeof(errstr)))
                rw_fatal(proc, "dead-letter queue: %s", errstr);
        proc->stats.dlq++;
        proc->stats.dlq_by_reason[reason]++;
        rw_ops_dead_letters(proc->opts.ops, topic, rw_dlq_reason_name(reason), 1);
        *dlq_sent = 1;
        if (proc->dlq_logged_at[reason] && now - proc->dlq_logged_at[reason] < 10000) {
                proc->dlq_unlogged[reason]++;
                return;
        }
        rw_log_warn("%s [%d] @%lld to the DLQ: %s: %s%s", topic, (int)rkm->partition,
                    (long long)rkm->offset, rw_dlq_reason_name(reason), msg,
                    proc->dlq_unlogged[reason] ? " (and more not logged: see the "
                    "summary at exit)" : "");
        proc->dlq_logged_at[reason] = now;
        proc->dlq_unlogged[reason] = 0;
}

/* The registry gave no answer about rkm's writer schema: not a verdict on
 * the record. Its partition stops before it for the rest of the batch (what
 * came before is still applied); rw_registry_pause() pauses and rewinds. */
static void rw_registry_stop(rw_processor_t *proc, rw_part_t *p,
                             const rd_kafka_message_t *rkm, rw_record_type_t type,
                             const char *why) {
        p->retry_at = rkm->offset;
        proc->reg_blocked++;
        snprintf(proc->reg_why, sizeof(proc->reg_why), "%s", why);
        if (proc->reg_probe)
                return;         /* already probing with an earlier record */
        if (!(proc->reg_probe = malloc(rkm->len)))
                abort();
        memcpy(proc->reg_probe, rkm->payload, rkm->len);
        proc->reg_probe_len = rkm->len;
        proc->reg_probe_type = type;
}

/* Route one input record: decode, validate, or dead-letter it. */
static void rw_route(rw_processor_t *proc, rd_kafka_message_t *rkm, int *dlq_sent) {
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        rw_part_t *p = rw_part_find(proc, topic, rkm->partition, 0);
        rw_record_type_t type = strcmp(topic, proc->topic_orders) ? RW_REC_SUPPORT :
                                                                    RW_REC_ORDER;
        rw_codec_status_t status;
        rw_record_t rec;
        int64_t prev_last;
        char msg[512];

        if (!p || !p->assigned)
                return;         /* revoked while the batch was collected */
        if (p->retry_at >= 0 || p->hold_need)
                return;         /* stopped by a registry outage, or waiting at a
                                 * gap (rw_hold_start()): read again later */
        if (p->expected >= 0 && rkm->offset < p->expected) {
                proc->stats.skipped++;  /* already applied: re-delivery */
                return;
        }
        proc->stats.consumed++;
        prev_last = p->last_offset;
        if (rkm->offset > p->last_offset)
                p->last_offset = rkm->offset;

        status = rw_codec_decode(proc->codec, type, rkm->payload, rkm->len, &rec,
                                 msg, sizeof(msg));
        if (status == RW_CODEC_OK)
                status = rw_record_validate(&rec, rw_now_ms(), &proc->vlim,
                                            msg, sizeof(msg));
        if (status == RW_CODEC_OK) {
                int64_t at = type == RW_REC_ORDER ? rec.u.order.occurred_at :
                                                    rec.u.support.occurred_at;
                /* The watermark as of this record, in offset order: the same
                 * decision whatever the batch boundaries. */
                if (p->route_wm < p->watermark)
                        p->route_wm = p->watermark;
                if (p->route_wm > 0 &&
                    at < p->route_wm - proc->state_days * RW_DAY_MS) {
                        snprintf(msg, sizeof(msg), "occurred_at %lld is older than "
                                 "the longest window (%d days) before the watermark %lld",
                                 (long long)at, (int)proc->state_days,
                                 (long long)p->route_wm);
                        /* Decided after routing: a re-delivery of an event
                         * already applied is a duplicate, not a dead letter. */
                        if (proc->late_cnt == proc->late_size) {
                                size_t n = proc->late_size ? proc->late_size * 2 : 64;
                                struct rw_late_s *nl = realloc(proc->late, n * sizeof(*nl));
                                if (!nl)
                                        abort();
                                proc->late = nl;
                                proc->late_size = n;
                        }
                        proc->late[proc->late_cnt++] = (struct rw_late_s){
                                .rkm = rkm, .p = p,
                                .event_id = rw_arena_strdup(proc, type == RW_REC_ORDER ?
                                                            rec.u.order.event_id :
                                                            rec.u.support.event_id),
                                .account = rw_arena_strdup(proc, type == RW_REC_ORDER ?
                                                           rec.u.order.account_id :
                                                           rec.u.support.account_id),
                                .msg = rw_arena_strdup(proc, msg) };
                        (void)dlq_sent;
                        return;
                }
        }
        if (status == RW_CODEC_OK) {
                int64_t at = type == RW_REC_ORDER ? rec.u.order.occurred_at :
                                                    rec.u.support.occurred_at;
                if (at > p->route_wm)
                        p->route_wm = at;
                rw_part_add(proc, p, &rec, rkm->offset);
                return;
        }
        if (status == RW_CODEC_RETRY) {
                p->last_offset = prev_last;
                proc->stats.consumed--;         /* it will be read again */
                rw_registry_stop(proc, p, rkm, type, msg);
                return;
        }
        /* Codec verdicts map 1:1 onto the first DLQ reasons. */
        rw_dead_letter(proc, rkm, (rw_dlq_reason_t)(status - RW_CODEC_TOO_SHORT),
                       msg, dlq_sent);
}

/* One JSON line a person reads at a glance; strings from the input are
 * escaped like every JSON riskwatch prints. */
static void rw_alert_print(rw_processor_t *proc, const rw_alert_t *a) {
        FILE *fp = proc->opts.alert_fp;
        char ts[32], subject[600];
        time_t t = (time_t)(a->event_time / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(subject, sizeof(subject), "%s/%s",
                 rw_subject_type_name(a->subject_type), a->subject_id);
        fprintf(fp, "{\"event_time\":\"%s\",\"status\":\"%s\",\"severity\":\"%s\","
                "\"rule\":\"%s\",\"subject\":", ts, rw_alert_status_name(a->status),
                rw_alert_severity_name(a->severity), a->rule);
        rw_json_write_str(fp, subject);
        if (rw_rule_by_name(a->rule, strlen(a->rule)) == RW_RULE_INACTIVITY &&
            !strstr(a->summary, RW_UNDECIDED_TEXT)) {
                /* Durations as a person reads them, not milliseconds. */
                char o[32], th[32];
                rw_duration_format((int64_t)a->observed, o, sizeof(o));
                rw_duration_format((int64_t)a->threshold, th, sizeof(th));
                fprintf(fp, ",\"observed\":\"%s\",\"threshold\":\"%s\",\"summary\":",
                        o, th);
        } else {
                fprintf(fp, ",\"observed\":%.4g,\"threshold\":%.4g,\"summary\":",
                        a->observed, a->threshold);
        }
        rw_json_write_str(fp, a->summary);
        fprintf(proc->opts.alert_fp, ",\"alert_id\":\"%s\"}\n", a->alert_id);
        fflush(proc->opts.alert_fp);
}

/* A Redis outage seen by a batch: pause the assignment (once), wait out the
 * backoff, reconnect. Returns 0 to retry, -1 when asked to stop. *pausedp
 * holds the paused assignment for rw_redis_outage_end(). */
typedef struct rw_outage_s {
        rd_kafka_topic_partition_list_t *paused;
        int backoff;
} rw_outage_t;

static void rw_ops_feed(rw_processor_t *proc);

static int rw_redis_outage(rw_processor_t *proc, rw_outage_t *o, const char *why,
                           volatile sig_atomic_t *stop) {
        char errstr[512];

        if (!o->backoff)
                o->backoff = 100;
        rw_ops_redis(proc->opts.ops, why);
        if (rw_ops_due(proc->opts.ops))
                rw_ops_feed(proc);      /* the status line goes on meanwhile */
        if (!o->paused && !rd_kafka_assignment(proc->rk, &o->paused)) {
                rd_kafka_pause_partitions(proc->rk, o->paused);
                rw_log_warn("redis unavailable (%s): paused %d partition(s), retrying",
                            why, o->paused->cnt);
        }
        for (int waited = 0; waited < o->backoff && !*stop; waited += 50)
                usleep(50 * 1000);
        if (*stop)
                return -1;
        o->backoff = o->backoff < 5000 ? o->backoff * 2 : 5000;
        if (rw_state_reconnect(proc->state, errstr, sizeof(errstr)) == RW_OK)
                rw_log_info("redis: reconnected");
        return 0;
}

static void rw_redis_outage_end(rw_processor_t *proc, rw_outage_t *o) {
        if (o->backoff)
                rw_ops_redis(proc->opts.ops, NULL);
        if (!o->paused)
                return;
        rd_kafka_resume_partitions(proc->rk, o->paused);
        rw_log_info("redis back: resumed %d partition(s)", o->paused->cnt);
        rd_kafka_topic_partition_list_destroy(o->paused);
        o->paused = NULL;
}

/* What the {dep} slot says was decided, waiting out a Redis outage. It can be
 * less than this process saw: Redis restarted without its latest writes. */
static void rw_load_decided(rw_processor_t *proc) {
        char errstr[512];
        int backoff = 100;
        int64_t last;
        rw_err_t err;

        while ((err = rw_state_get_decided(proc->state, &last, errstr,
                                           sizeof(errstr)))) {
                rw_log_warn("cannot read the last decided boundary: %s; "
                            "retrying in %d ms", errstr, backoff);
                usleep((useconds_t)backoff * 1000);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                if (err == RW_ERR_IO)
                        rw_state_reconnect(proc->state, errstr, sizeof(errstr));
        }
        rw_decider_set_last(proc->decider, last);
}

/* Someone else wrote this partition since we read its position (a rebalance
 * we have not heard of yet), or Redis lost it. Nothing of this batch was
 * written. Resume from what Redis holds; a revocation, if one is coming,
 * stops us, and every write stays fenced meanwhile. */
static void rw_fenced(rw_processor_t *proc, rw_part_t *p, const char *why) {
        rd_kafka_topic_partition_list_t *tps;
        rd_kafka_error_t *error;
        int64_t written = p->expected;

        proc->stats.fenced++;
        rw_part_forget(proc, p);
        if (rw_part_load_position(proc, p)) {
                p->assigned = 0;        /* stopped or failed: the run is ending */
                return;
        }
        p->eof = 0;             /* read again from the stored offset */
        if (p->expected < written) {
                /* Behind what this process wrote: not another owner (it
                 * would be ahead), Redis lost writes (a restart from an
                 * older snapshot, a failover to a lagging replica, a
                 * flushed database). */
                proc->stats.lost++;
                rw_log_warn("redis lost writes: %s [%d] holds offset %lld, %lld had been "
                            "stored; rebuilding the partition from what Redis holds",
                            p->topic, (int)p->partition, (long long)p->expected,
                            (long long)written);
        }
        /* If Redis lost writes, it lost decisions too: the orders applied
         * again go to the intervals it still holds undecided, as in a pass
         * that never saw those decisions. */
        rw_load_decided(proc);
        /* A commit whose reply was lost may have stored transitions. */
        p->drain = 1;
        rw_log_warn("fenced: %s; resuming from the stored offset %lld",
                    why, (long long)p->expected);
        tps = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tps, p->topic, p->partition)->offset =
                p->expected >= 0 ? p->expected : RD_KAFKA_OFFSET_BEGINNING;
        if ((error = rd_kafka_seek_partitions(proc->rk, tps, 5000))) {
                rw_log_warn("seek %s [%d]: %s", p->topic, (int)p->partition,
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(tps);
}

/* An alert delivered: its line, its count, the caller's callback. Under
 * the decider's lock (its thread delivers dependency alerts). */
static void rw_emit_out(void *opaque, const rw_alert_t *a) {
        rw_processor_t *proc = opaque;
        rw_alert_print(proc, a);
        proc->stats.alerts++;
        rw_ops_alert(proc->opts.ops, a->rule, rw_alert_severity_name(a->severity),
                     rw_alert_status_name(a->status), a->event_time);
        if (proc->opts.on_alert)
                proc->opts.on_alert(proc->opts.opaque, a);
}

static void rw_emit(void *opaque, const rw_alert_t *a) {
        rw_processor_t *proc = opaque;
        rw_decider_lock(proc->decider);
        rw_emit_out(proc, a);
        rw_decider_unlock(proc->decider);
}

/* Deliver a slot's outbox, riding out Redis outages. A delivery failure
 * (the broker refuses or stays away past the flush timeout) is fatal: the
 * transitions stay in the outbox for the next start. */
static int rw_drain(rw_processor_t *proc, const char *tag, const char *topic,
                    volatile sig_atomic_t *stop) {
        rw_outage_t outage = { 0 };
        char errstr[512];
        rw_err_t err;

        for (;;) {
                errstr[0] = '\0';
                err = rw_outbox_drain(proc->state, tag, topic, proc->prod, proc->codec,
                                      rw_emit, proc, NULL, errstr, sizeof(errstr));
                if (err != RW_ERR_IO ||
                    rw_redis_outage(proc, &outage, errstr, stop))
                        break;
        }
        rw_redis_outage_end(proc, &outage);
        if (err) {
                rw_fatal(proc, "alerts not delivered: %s", errstr);
                return -1;
        }
        return 0;
}

static void rw_part_drain(rw_processor_t *proc, rw_part_t *p,
                          volatile sig_atomic_t *stop) {
        char tag[16];
        snprintf(tag, sizeof(tag), "%d", (int)p->partition);
        if (!rw_drain(proc, tag, p->topic, stop))
                p->drain = 0;
}

static int rw_str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Make sure every account of `names` (cnt, any order, repeats allowed) is
 * in the cache: one pipelined load of those that are not. Rides out Redis
 * outages; -1 when it could not (stopped, or a Redis error: fatal). */
static int rw_part_resolve(rw_processor_t *proc, rw_part_t *p, const char **names,
                           size_t cnt, volatile sig_atomic_t *stop) {
        int orders = !strcmp(p->topic, proc->topic_orders), tag = rw_part_tag(proc, p);
        const char **miss = NULL;
        rw_account_view_t *views = NULL;
        rw_outage_t outage = { 0 };
        size_t n = 0, i;
        char errstr[512];
        rw_err_t err = RW_OK;
        int rc = -1;

        qsort(names, cnt, sizeof(*names), rw_str_cmp);
        if (!(miss = calloc(cnt + 1, sizeof(*miss))))
                abort();
        for (i = 0; i < cnt; i++)
                if ((i == 0 || strcmp(names[i], names[i - 1])) &&
                    !rw_cache_get(proc->cache, tag, names[i]))
                        miss[n++] = names[i];
        if (!n) {
                rc = 0;
                goto done;
        }
        if (!(views = calloc(n, sizeof(*views))))
                abort();
        for (;;) {
                proc->stats.redis_calls++;
                err = rw_state_load(proc->state, p->topic, p->partition, orders, miss, n,
                                    views, errstr, sizeof(errstr));
                if (err != RW_ERR_IO || rw_redis_outage(proc, &outage, errstr, stop))
                        break;
        }
        rw_redis_outage_end(proc, &outage);
        if (err) {
                if (err != RW_ERR_IO)
                        rw_fatal(proc, "state: %s", errstr);
                goto done;
        }
        for (i = 0; i < n; i++)
                if (!rw_cache_put(proc->cache, tag, &views[i]))
                        abort();
        proc->stats.cache_misses += (int64_t)n;
        rc = 0;
done:
        free(miss);
        free(views);
        return rc;
}

/* The latest stored day of the vendor of each applied PLACED order
 * (p->vmax[i]), from the cache or read from Redis; the cache then holds
 * the batch's latest day of each. 0, or -1 when stopped or failed. */
static int rw_part_vendors(rw_processor_t *proc, rw_part_t *p, const rw_replay_out_t *out,
                           volatile sig_atomic_t *stop) {
        int tag = RW_VENDOR_TAG_BASE + rw_part_tag(proc, p);
        const char **miss = NULL;
        int64_t *days = NULL;
        rw_outage_t outage = { 0 };
        char errstr[512];
        size_t n = 0, i, j;
        rw_err_t err = RW_OK;
        int rc = -1;

        if (rw_grow(&p->vmax, &p->vmax_size, p->ev_cnt + 1, sizeof(*p->vmax), 256))
                abort();
        if (!(miss = calloc(p->ev_cnt + 1, sizeof(*miss))) ||
            !(days = calloc(p->ev_cnt + 1, sizeof(*days))))
                abort();
        for (i = 0; i < p->ev_cnt; i++) {
                if (out->flags[i] != '1' || p->evs[i].kind != 'P' ||
                    rw_cache_get(proc->cache, tag, p->evs[i].vendor))
                        continue;
                for (j = 0; j < n && strcmp(miss[j], p->evs[i].vendor); j++)
                        ;
                if (j == n)
                        miss[n++] = p->evs[i].vendor;
        }
        if (n) {
                for (;;) {
                        proc->stats.redis_calls++;
                        err = rw_state_vendor_maxdays(proc->state, p->partition, miss, n, days,
                                                      errstr, sizeof(errstr));
                        if (err != RW_ERR_IO || rw_redis_outage(proc, &outage, errstr, stop))
                                break;
                }
                rw_redis_outage_end(proc, &outage);
                if (err) {
                        if (err != RW_ERR_IO)
                                rw_fatal(proc, "state: %s", errstr);
                        goto done;
                }
                for (j = 0; j < n; j++) {
                        rw_account_view_t v;
                        if (rw_account_init(&v, miss[j]))
                                abort();
                        v.maxday = days[j];
                        if (!rw_cache_put(proc->cache, tag, &v))
                                abort();
                }
        }
        /* As stored before the batch, for every order of a vendor... */
        for (i = 0; i < p->ev_cnt; i++)
                if (out->flags[i] == '1' && p->evs[i].kind == 'P')
                        p->vmax[i] = rw_cache_get(proc->cache, tag, p->evs[i].vendor)->maxday;
        /* ...then as after it. */
        for (i = 0; i < p->ev_cnt; i++)
                if (out->flags[i] == '1' && p->evs[i].kind == 'P') {
                        rw_account_view_t *v = rw_cache_get(proc->cache, tag, p->evs[i].vendor);
                        if (p->evs[i].occurred_at / RW_DAY_MS > v->maxday)
                                v->maxday = p->evs[i].occurred_at / RW_DAY_MS;
                }
        rc = 0;
done:
        free(miss);
        free(days);
        return rc;
}

/* The last boundary decided: as read at assignment, or as the decider
 * thread has decided since. A batch never counts an order into an interval
 * at or before it. */
static int64_t rw_dep_decided(rw_processor_t *proc) {
        return rw_decider_last(proc->decider);
}

/* An orders partition's batch that ends a gap of its own (rules.h,
 * rw_input_gaps_group()): the other orders partitions as the gap needs them, into *peersp
 * (the caller frees it); -1 when they cannot be read now. */
static ssize_t rw_hold_peers(rw_processor_t *proc, const rw_part_t *p,
                             rw_input_peer_t **peersp) {
        char errstr[512];
        size_t n = 0;
        rw_err_t err;

        if (!proc->orders_partitions)
                proc->orders_partitions = rw_kafka_partition_cnt(proc->rk, proc->topic_orders);
        if (proc->orders_partitions <= 0)
                return -1;
        if (!(*peersp = calloc((size_t)proc->orders_partitions + 1, sizeof(**peersp))))
                abort();
        err = rw_boundary_input_peers(proc->boundary, proc->state, proc->topic_orders,
                                      proc->orders_partitions, p->partition, rw_now_ms(),
                                      *peersp, &n, errstr, sizeof(errstr));
        if (err == RW_ERR_NOMEM)
                abort();
        if (err) {
                rw_log_warn("%s [%d]: the other orders partitions' gaps: %s", p->topic,
                            (int)p->partition, errstr);
                return -1;
        }
        return (ssize_t)n;
}

/* The batch stopped at the record at `offset`: it ends a gap of the
 * partition whose outages of the group's input are not known until every
 * other orders partition passed `need`. The batch is written up to it; the
 * partition pauses, and reads it and the `left` records after it again once
 * they did (rw_hold_release()). */
static void rw_hold_start(rw_processor_t *proc, rw_part_t *p, int64_t offset, int64_t need,
                          size_t left) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        char at[64];

        rw_fmt_time(at, sizeof(at), need);
        rw_log_info("%s [%d]: offset %lld ends a silence of the partition: it waits until "
                    "every other orders partition passed %s", p->topic, (int)p->partition,
                    (long long)offset, at);
        p->last_offset = offset - 1;
        p->hold_need = need;
        proc->stats.consumed -= (int64_t)left;  /* they will be read again */
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        rd_kafka_pause_partitions(proc->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
}

/* Resume a waiting partition; with `seek`, at its first unapplied record. */
static void rw_hold_end(rw_processor_t *proc, rw_part_t *p, int seek) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_error_t *error;

        if (!p->hold_need)
                return;
        p->hold_need = 0;
        p->eof = 0;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->expected;
        rd_kafka_resume_partitions(proc->rk, l);
        if (seek && p->expected >= 0 &&
            (error = rd_kafka_seek_partitions(proc->rk, l, 10 * 1000))) {
                rw_log_warn("%s [%d]: seek: %s", p->topic, (int)p->partition,
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

/* Resume the waiting partitions whose peers passed what they wait for.
 * *hopeless counts those that cannot go on in a run that stops at the end:
 * every peer short of it is at its end or waits at a gap itself. Returns
 * how many resumed. */
static int rw_hold_release(rw_processor_t *proc, int *hopeless) {
        int resumed = 0;

        *hopeless = 0;
        for (size_t i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                rw_input_peer_t *peers = NULL;
                ssize_t n;
                int stuck = 1;

                if (!p->assigned || !p->hold_need || p->fl_w)
                        continue;
                if ((n = rw_hold_peers(proc, p, &peers)) >= 0 &&
                    rw_input_peers_reached(peers, (size_t)n, p->hold_need)) {
                        rw_hold_end(proc, p, 1);
                        resumed++;
                } else if (n >= 0) {
                        for (ssize_t k = 0; k < n; k++)
                                if (peers[k].known && !peers[k].at_end &&
                                    rw_input_peer_known(&peers[k]) < p->hold_need &&
                                    rw_input_peer_known(&peers[k]) == peers[k].watermark)
                                        stuck = 0;
                        *hopeless += stuck;
                }
                free(peers);
        }
        return resumed;
}

/* One partition's batch, up to its write: (1) the accounts due by its end
 * and those its events touch, from the cache or loaded from Redis; (2) the
 * pure replay over them (consumers/replay.c); (3) what changed, the offset
 * and the transitions, as one fenced write (executed with the other
 * partitions' in rw_process_batch()). */
static void rw_part_prepare(rw_processor_t *proc, rw_part_t *p,
                            volatile sig_atomic_t *stop) {
        int orders = !strcmp(p->topic, proc->topic_orders), tag = rw_part_tag(proc, p);
        char **due, errstr[512];
        const char **names = NULL;
        rw_account_view_t **avs = NULL;
        rw_replay_out_t out = { 0 };
        rw_replay_opts_t o;
        rw_input_peer_t *peers = NULL;
        size_t due_cnt, n = 0, i;

        if (proc->fatal)
                return;

        /* (1) Accounts due by the end of the batch come along. */
        due = p->due.accounts;
        due_cnt = p->due.cnt;
        if (!(names = calloc(p->ev_cnt + due_cnt + 1, sizeof(*names))) ||
            !(avs = calloc(p->ev_cnt + 1, sizeof(*avs))))
                abort();
        for (i = 0; i < p->ev_cnt; i++)
                names[n++] = p->evs[i].account;
        for (i = 0; i < due_cnt; i++)
                names[n++] = due[i];
        if (rw_part_resolve(proc, p, names, n, stop))
                goto done;
        /* names is sorted now: the batch's distinct accounts. */
        if (rw_grow(&p->accts, &p->acct_size, n + 1, sizeof(*p->accts), 256))
                abort();
        p->acct_cnt = 0;
        for (i = 0; i < n; i++)
                if (i == 0 || strcmp(names[i], names[i - 1]))
                        p->accts[p->acct_cnt++] = rw_cache_get(proc->cache, tag, names[i]);
        for (i = 0; i < p->ev_cnt; i++)
                avs[i] = rw_cache_get(proc->cache, tag, p->evs[i].account);

        /* (2) */
        o = (rw_replay_opts_t){
                .params = &proc->params, .src = orders ? RW_SRC_ORDERS : RW_SRC_SUPPORT,
                .topic = p->topic, .partition = p->partition,
                .lateness_ms = proc->lateness_ms, .interval_ms = proc->interval_ms,
                .dep_decided = rw_dep_decided(proc), .lim = proc->lim,
                /* Following: due times up to p->follow (no lateness). */
                .watermark = p->follow ? p->follow + proc->lateness_ms : p->watermark,
                .follow_from = p->follow ? p->watermark : 0,
                .gaps = p->gaps, .wall_ms = rw_now_ms(),
                .replay = proc->opts.replay,
                .emit_from = proc->opts.emit_from,
        };
        if (orders && rw_replay_gap_ahead(&o, p->evs, p->ev_cnt)) {
                o.peer_cnt = rw_hold_peers(proc, p, &peers);
                o.peers = peers;
        }
        if (rw_replay_batch(&o, p->evs, p->ev_offsets, p->ev_cnt, avs, p->accts,
                            p->acct_cnt, &out))
                abort();
        if (p->follow)
                out.watermark = p->follow > p->watermark ? p->follow : p->watermark;
        if (out.stop >= 0)
                rw_hold_start(proc, p, p->ev_offsets[out.stop], out.need,
                              p->ev_cnt - (size_t)out.stop);

        /* (3) */
        if (!(p->w = rw_state_write_new(proc->state, p->topic, p->partition, p->expected,
                                        p->last_offset + 1,
                                        out.watermark > p->watermark ? out.watermark : 0)))
                abort();
        rw_state_write_bounds(p->w, p->pb_first, p->pb_last);
        if (out.gaps_changed)
                rw_state_write_gaps(p->w, &out.gaps);
        p->b_gaps = out.gaps;
        if (orders && rw_part_vendors(proc, p, &out, stop))
                goto done;
        for (i = 0; i < p->acct_cnt; i++)
                if (rw_account_dirty(p->accts[i]) &&
                    rw_state_write_account(p->w, orders, p->accts[i]))
                        abort();
        for (i = 0; orders && i < p->ev_cnt; i++) {
                const rw_state_event_t *ev = &p->evs[i];
                if (out.flags[i] != '1')
                        continue;
                if (ev->kind == 'P' &&
                    (rw_state_write_vendor(p->w, ev->vendor, p->vmax[i],
                                           ev->occurred_at / RW_DAY_MS, ev->amount,
                                           proc->state_days) ||
                     rw_state_write_portfolio(p->w, 'a', out.pbk[i], ev->account,
                                              ev->amount) ||
                     rw_state_write_portfolio(p->w, 'v', out.pbk[i], ev->vendor,
                                              ev->amount) ||
                     /* the interval's PLACED orders (field "": no vendor) */
                     rw_state_write_portfolio(p->w, 'v', out.pbk[i], "", 1)))
                        abort();
                if (ev->kind == 'R' &&
                    rw_state_write_portfolio(p->w, 'a', out.pbk[i], ev->account, -ev->amount))
                        abort();
        }
        for (i = 0; i < out.alerts.cnt; i++) {
                rw_record_t rec = { .type = RW_REC_ALERT, .u.alert = out.alerts.v[i] };
                void *buf = NULL;
                size_t len = 0;
                if (rw_codec_encode(proc->codec, &rec, &buf, &len, errstr, sizeof(errstr))) {
                        rw_fatal(proc, "alerts: %s", errstr);
                        goto done;
                }
                if (rw_state_write_outbox(p->w, buf, len))
                        abort();
                free(buf);
        }
        if (orders && !p->follow)       /* a follow keeps its at-end report */
                rw_state_write_progress(p->w, out.watermark, rw_now_ms());
        /* The write holds the changes now: the views are clean again (if it
         * does not land, the partition's views are dropped). */
        for (i = 0; i < p->acct_cnt; i++)
                rw_account_clean(p->accts[i]);
        p->b_watermark = out.watermark;
        p->b_applied = out.applied;
        p->b_duplicates = out.duplicates;
        proc->stats.suppressed += out.suppressed;
        p->b_late = out.applied_late;
        p->b_alerts = out.alerts.cnt;
        proc->stats.late += out.late;
done:
        if (proc->fatal) {
                rw_part_forget(proc, p);
                rw_state_write_destroy(p->w);
                p->w = NULL;
        }
        rw_due_query_clear(&p->due);
        free(names);
        free(avs);
        free(peers);
        rw_replay_out_clear(&out);
}

/* A written partition's outcome. The partition already moved on when the
 * write was sent (position, watermark); a write that did not land undoes
 * that: fenced, it resumes from what Redis holds; refused, it is fatal. */
static void rw_write_outcome(rw_processor_t *proc, rw_part_t *p, rw_err_t err,
                             const char *errstr, rd_kafka_topic_partition_list_t *commits) {
        rw_state_write_destroy(p->fl_w);
        p->fl_w = NULL;
        p->fl_acct_cnt = 0;
        if (err == RW_ERR_FENCED) {
                /* The batch prepared meanwhile built on what did not land. */
                rw_state_write_destroy(p->w);
                p->w = NULL;
                rw_fenced(proc, p, errstr);
                return;
        }
        if (err) {
                rw_part_forget(proc, p);
                rw_fatal(proc, "state: %s", errstr);
                return;
        }
        proc->stats.applied += p->fl_applied;
        proc->stats.duplicates += p->fl_duplicates;
        rw_ops_records(proc->opts.ops, p->topic, RW_OPS_APPLIED, p->fl_applied - p->fl_late);
        rw_ops_records(proc->opts.ops, p->topic, RW_OPS_LATE, p->fl_late);
        rw_ops_records(proc->opts.ops, p->topic, RW_OPS_DUPLICATE, p->fl_duplicates);
        if (p->fl_alerts)
                p->drain = 1;
        if (p->assigned)
                rd_kafka_topic_partition_list_add(commits, p->topic, p->partition)->offset =
                        p->fl_next;
}

/* Read the outcome of the batch write in flight (sending again, in the
 * foreground, what Redis refused because a watched offset moved or what a
 * connection failure left undecided, through Redis outages), then deliver
 * the outboxes it filled and commit its offsets to Kafka. */
static void rw_write_finish(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        rd_kafka_topic_partition_list_t *commits;
        rw_outage_t outage = { 0 };
        char errstr[512] = "";
        rw_err_t err;
        size_t i, left;

        if (!proc->fl_n)
                return;
        commits = rd_kafka_topic_partition_list_new((int)proc->fl_n + 1);
        if (proc->txn) {
                /* Undecided writes keep RW_ERR_IO: sent again below. */
                (void)rw_state_write_recv(proc->wstate, proc->txn, errstr, sizeof(errstr));
                rw_state_txn_destroy(proc->txn);
                proc->txn = NULL;
        }
        for (;;) {
                for (i = left = 0; i < proc->fl_n; i++)
                        left += proc->fl_errs[i] == RW_ERR_IO;
                if (!left)
                        break;
                proc->stats.redis_calls++;
                /* Only the undecided ones are sent (the others are skipped). */
                err = rw_state_write_send(proc->wstate, proc->fl_ws, proc->fl_n, proc->fl_errs,
                                          &proc->txn, errstr, sizeof(errstr));
                if (!err && proc->txn) {
                        err = rw_state_write_recv(proc->wstate, proc->txn, errstr,
                                                  sizeof(errstr));
                        rw_state_txn_destroy(proc->txn);
                        proc->txn = NULL;
                }
                if (err == RW_ERR_NOMEM)
                        abort();
                if (err == RW_ERR_IO && rw_redis_outage(proc, &outage, errstr, stop))
                        break;
        }
        rw_redis_outage_end(proc, &outage);
        for (i = 0; i < proc->fl_n; i++) {
                rw_part_t *p = NULL;
                for (size_t k = 0; k < proc->part_cnt && !p; k++)
                        if (proc->parts[k].fl_w == proc->fl_ws[i])
                                p = &proc->parts[k];
                if (proc->fl_errs[i] == RW_ERR_IO) {
                        /* Stopped during an outage: not known to be stored. */
                        rw_state_write_destroy(p->w);
                        p->w = NULL;
                        rw_state_write_destroy(p->fl_w);
                        p->fl_w = NULL;
                        rw_part_forget(proc, p);
                        continue;
                }
                rw_write_outcome(proc, p, proc->fl_errs[i], errstr, commits);
        }
        proc->fl_n = 0;
        for (i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                if (p->assigned && p->drain && !*stop)
                        rw_part_drain(proc, p, stop);
        }
        if (commits->cnt > 0 && !proc->fatal) {
                rd_kafka_resp_err_t kerr = rd_kafka_commit(proc->rk, commits, 1);
                if (kerr)
                        rw_log_warn("commit to Kafka: %s", rd_kafka_err2str(kerr));
        }
        rd_kafka_topic_partition_list_destroy(commits);
}

/* Send the batch's writes, all partitions in one transaction, and go on
 * without waiting for Redis: the partitions move on now (position,
 * watermark, portfolio bounds), rw_write_finish() undoes that for a write
 * that does not land. Its accounts stay cached until then. */
static void rw_write_start(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        rw_outage_t outage = { 0 };
        char errstr[512] = "";
        rw_err_t err = RW_OK;
        size_t i;

        {
                /* Two arrays of one capacity. */
                size_t nw = proc->fl_size, ne = proc->fl_size;
                if (rw_grow(&proc->fl_ws, &nw, proc->part_cnt + 1, sizeof(*proc->fl_ws), 16) ||
                    rw_grow(&proc->fl_errs, &ne, proc->part_cnt + 1, sizeof(*proc->fl_errs), 16))
                        abort();
                proc->fl_size = nw;
        }
        proc->fl_n = 0;
        for (i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (!p->w)
                        continue;
                p->fl_w = p->w;
                p->w = NULL;
                p->fl_next = p->last_offset + 1;
                p->fl_follow = p->follow != 0;
                p->fl_applied = p->b_applied;
                p->fl_duplicates = p->b_duplicates;
                p->fl_late = p->b_late;
                p->fl_alerts = p->b_alerts;
                if (rw_grow(&p->fl_accts, &p->fl_acct_size, p->acct_cnt + 1,
                            sizeof(*p->fl_accts), 256))
                        abort();
                memcpy(p->fl_accts, p->accts, p->acct_cnt * sizeof(*p->accts));
                p->fl_acct_cnt = p->acct_cnt;
                proc->fl_ws[proc->fl_n] = p->fl_w;
                proc->fl_errs[proc->fl_n++] = RW_ERR_IO;
        }
        if (!proc->fl_n)
                return;
        for (;;) {
                proc->stats.redis_calls++;
                err = rw_state_write_send(proc->wstate, proc->fl_ws, proc->fl_n, proc->fl_errs,
                                          &proc->txn, errstr, sizeof(errstr));
                if (err != RW_ERR_IO || rw_redis_outage(proc, &outage, errstr, stop))
                        break;
        }
        rw_redis_outage_end(proc, &outage);
        if (err == RW_ERR_NOMEM)
                abort();
        /* Moved on now; undone by rw_write_finish() if it does not land. */
        for (i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (!p->fl_w)
                        continue;
                p->expected = p->fl_next;
                p->watermark = p->b_watermark;
                p->gaps = p->b_gaps;
                rw_state_write_bounds_after(p->fl_w, &p->pb_first, &p->pb_last);
        }
        if (!proc->txn)         /* nothing went out (all fenced, or stopped) */
                rw_write_finish(proc, stop);
}

/* Point every assigned partition stopped by a registry outage at the first
 * record it has not applied: its stored position (records before the stop
 * were applied with the batch), or the stopped record when nothing was ever
 * stored. Prefetched records of those partitions are dropped. */
static void rw_registry_seek(rw_processor_t *proc) {
        rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(4);
        rd_kafka_error_t *error;

        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];

                if (p->assigned && p->retry_at >= 0)
                        rd_kafka_topic_partition_list_add(seek, p->topic, p->partition)->offset =
                                p->expected >= 0 ? p->expected : p->retry_at;
        }
        if (seek->cnt && (error = rd_kafka_seek_partitions(proc->rk, seek, 10 * 1000))) {
                rw_log_warn("schema registry outage: seek: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        for (int i = 0; i < seek->cnt; i++)
                if (seek->elems[i].err)
                        rw_log_warn("schema registry outage: seek %s [%d] to %lld: %s",
                                    seek->elems[i].topic, (int)seek->elems[i].partition,
                                    (long long)seek->elems[i].offset,
                                    rd_kafka_err2str(seek->elems[i].err));
        rd_kafka_topic_partition_list_destroy(seek);
}

/* Pause (or resume) the whole assignment; returns how many partitions. */
static int rw_pause_all(rw_processor_t *proc, int pause) {
        rd_kafka_topic_partition_list_t *assignment = NULL;
        int n = 0;

        if (!rd_kafka_assignment(proc->rk, &assignment)) {
                if (pause)
                        rd_kafka_pause_partitions(proc->rk, assignment);
                else
                        rd_kafka_resume_partitions(proc->rk, assignment);
                n = assignment->cnt;
                rd_kafka_topic_partition_list_destroy(assignment);
        }
        return n;
}

/* After a batch in which partitions stopped at a record the registry gave no
 * answer for: pause consumption, rewind them, and schedule a probe. */
static void rw_registry_pause(rw_processor_t *proc) {
        int n = rw_pause_all(proc, 1);

        rw_registry_seek(proc);
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (proc->parts[i].retry_at >= 0)
                        proc->parts[i].eof = 0;         /* not done: -e must wait */
        if (!proc->reg_wait) {
                proc->reg_wait = 1;
                proc->reg_backoff_ms = 500;
        }
        proc->reg_probe_at = rw_mono_ms() + proc->reg_backoff_ms;
        rw_log_warn("schema registry unreachable: %s; pausing %d partition(s), retrying in "
                    "%d ms", proc->reg_why, n, proc->reg_backoff_ms);
        proc->reg_blocked = 0;
}

/* While paused: once due, decode the stopped record again. Any answer from
 * the registry (the schema, or a definite "not found") ends the wait: the
 * stopped partitions resume at their first unapplied record. */
static void rw_registry_probe(rw_processor_t *proc) {
        rw_record_t rec;
        char msg[512];
        int n;

        if (rw_mono_ms() < proc->reg_probe_at)
                return;
        if (rw_codec_decode(proc->codec, proc->reg_probe_type, proc->reg_probe,
                            proc->reg_probe_len, &rec, msg, sizeof(msg)) == RW_CODEC_RETRY) {
                proc->reg_backoff_ms = proc->reg_backoff_ms < 5000 ?
                                       proc->reg_backoff_ms * 2 : 10000;
                proc->reg_probe_at = rw_mono_ms() + proc->reg_backoff_ms;
                rw_log_warn("schema registry still unreachable: %s; retrying in %d ms",
                            msg, proc->reg_backoff_ms);
                return;
        }
        n = rw_pause_all(proc, 0);
        /* Whether resuming keeps a seek made while paused differs between
         * librdkafka versions: seek again, so the stopped partitions start at
         * their first unapplied record either way. */
        rw_registry_seek(proc);
        for (size_t i = 0; i < proc->part_cnt; i++)
                proc->parts[i].retry_at = -1;
        free(proc->reg_probe);
        proc->reg_probe = NULL;
        proc->reg_wait = 0;
        rw_log_info("schema registry answered: resumed %d partition(s)", n);
}

/* With a registry, alerts are framed with the id it assigns to the RiskAlert
 * reader schema under `<topics.alerts>-value`; wait for it while it does not
 * answer. A refusal (e.g. an incompatible schema) is fatal. */
static void rw_registry_register_alerts(rw_processor_t *proc,
                                        volatile sig_atomic_t *stop) {
        char subject[300], errstr[512], what[900];
        int backoff = 500;
        int32_t id = -1;
        rw_err_t err;

        snprintf(subject, sizeof(subject), "%s-value",
                 rw_conf_get_str(proc->conf, "topics.alerts"));
        while ((err = rw_registry_register(proc->registry, subject,
                                           rw_codec_reader_json(proc->codec, RW_REC_ALERT),
                                           &id, errstr, sizeof(errstr))) == RW_ERR_IO) {
                rw_log_warn("schema registry unreachable: %s; registering %s, retrying in "
                            "%d ms", errstr, subject, backoff);
                for (int waited = 0; waited < backoff && !*stop; waited += 50)
                        usleep(50 * 1000);
                if (*stop)
                        return;
                backoff = backoff < 5000 ? backoff * 2 : 10000;
        }
        if (err) {
                snprintf(what, sizeof(what), "registering RiskAlert as %s: %s", subject, errstr);
                rw_fatal(proc, "schema registry: %s", what);
                return;
        }
        rw_codec_set_writer_id(proc->codec, RW_REC_ALERT, id);
        proc->alert_schema_id = id;
        proc->alerts_registered = 1;
        rw_log_info("schema registry %s: alerts framed with schema id %d (subject %s)",
                    rw_registry_url(proc->registry), (int)id, subject);
}

/* Dead-letter the batch's too-late records, except re-deliveries of events
 * their account remembers (loaded like a batch's accounts, when not cached). */
static void rw_settle_late(rw_processor_t *proc, int *dlq_sent,
                           volatile sig_atomic_t *stop) {
        const char **names = NULL;

        if (!proc->late_cnt)
                return;
        if (!(names = calloc(proc->late_cnt, sizeof(*names))))
                abort();
        for (size_t i = 0; i < proc->late_cnt; ) {
                rw_part_t *p = proc->late[i].p;
                size_t n = 0, j;

                for (j = i; j < proc->late_cnt && proc->late[j].p == p; j++)
                        names[n++] = proc->late[j].account;
                if (rw_part_resolve(proc, p, names, n, stop)) {
                        /* Undecided: store nothing of this batch. */
                        rw_fatal(proc, "stopped while %s", "Redis was unreachable");
                        goto done;
                }
                for (; i < j; i++) {
                        rw_account_view_t *av = rw_cache_get(proc->cache, rw_part_tag(proc, p),
                                                             proc->late[i].account);
                        if (av && rw_account_seen(av, proc->late[i].event_id,
                                                  proc->late[i].rkm->offset)) {
                                proc->stats.duplicates++;
                                rw_ops_records(proc->opts.ops, p->topic, RW_OPS_DUPLICATE, 1);
                        } else {
                                rw_dead_letter(proc, proc->late[i].rkm, RW_DLQ_TOO_LATE,
                                               proc->late[i].msg, dlq_sent);
                        }
                }
        }
done:
        proc->late_cnt = 0;
        free(names);
}

/* The clock an idle partition should move to (consumers/idle.h), or 0 when
 * it is not idle (at its end for idle.timeout; never in a replay, run -e)
 * or already there; it needs a stored position (accounts to follow). */
static int64_t rw_follow_target(const rw_processor_t *proc, const rw_part_t *p) {
        int64_t t;

        if (proc->opts.exit_at_eof || !p->assigned || !p->end_since || p->expected <= 0 ||
            p->retry_at >= 0 || rw_now_ms() - p->end_since < proc->idle_timeout_ms)
                return 0;
        t = rw_idle_clock(p->watermark, proc->group_now);
        return t > p->followed ? t : 0;
}

/* Whether an idle partition has a clock to move (a batch without records). */
static int rw_follow_due(const rw_processor_t *proc) {
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (rw_follow_target(proc, &proc->parts[i]))
                        return 1;
        return 0;
}

/* Idle partitions with no record in this batch follow: their due accounts
 * are evaluated up to their clock, written with their unchanged offset. */
static void rw_follow_mark(rw_processor_t *proc) {
        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t t = p->last_offset < 0 ? rw_follow_target(proc, p) : 0;
                if (!t)
                        continue;
                p->follow = p->followed = t;
                p->last_offset = p->expected - 1;
        }
}

/* Which owned partitions are at their end, and since when (consumers/
 * idle.h); for the orders partitions, say so in their reports (refreshed
 * every tick while it holds), or withdraw it once it no longer holds. */
static void rw_report_ends(rw_processor_t *proc) {
        rw_bstore_prog_t *v = calloc(proc->part_cnt + 1, sizeof(*v));
        int64_t *expected = calloc(proc->part_cnt + 1, sizeof(*expected));
        const int64_t now = rw_now_ms();
        rw_bstore_t bs = { 0 };
        char errstr[512];
        size_t n = 0;

        if (!v || !expected)
                abort();
        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t lo, hi = -1;
                int end;

                if (!p->assigned) {
                        p->end_since = 0;
                        p->end_reported = 0;
                        continue;
                }
                /* The high watermark of the last fetch: no network. */
                if (rd_kafka_get_watermark_offsets(proc->rk, p->topic, p->partition, &lo, &hi))
                        hi = -1;
                end = rw_idle_at_end(p->eof, p->expected, hi,
                                     p->w || (p->fl_w && !p->fl_follow) ||
                                     p->retry_at >= 0);
                p->end_since = !end ? 0 : p->end_since ? p->end_since : now;
                if (strcmp(p->topic, proc->topic_orders) || (!end && !p->end_reported))
                        continue;
                expected[n] = p->expected;
                v[n++] = (rw_bstore_prog_t){ .partition = p->partition, .ok = 1,
                                             .watermark = p->watermark, .wall_ms = now,
                                             .end_since = p->end_since };
                p->end_reported = end;
        }
        rw_bstore_init(&bs, proc->state);
        if (n && rw_bstore_report(&bs, proc->topic_orders, v, expected, n, errstr,
                                  sizeof(errstr)))
                rw_log_debug("partition reports: %s", errstr);
        free(v);
        free(expected);
}

/* Every half second on the loop: say which owned partitions are at their
 * end, and, while one is, read the group's low watermark it follows (the
 * decider, on its own thread, reads the reports). */
static void rw_loop_tick(rw_processor_t *proc) {
        char errstr[512];
        rw_err_t err = RW_OK;
        int hopeless;

        proc->tick_at = rw_mono_ms() + 500;
        (void)rw_hold_release(proc, &hopeless);    /* waiting partitions */
        rw_report_ends(proc);
        if (proc->opts.exit_at_eof || (!proc->orders_partitions &&
                                       !(proc->orders_partitions = rw_kafka_partition_cnt(proc->rk, proc->topic_orders))))
                return;
        for (size_t i = 0; i < proc->part_cnt; i++) {
                if (!proc->parts[i].assigned || !proc->parts[i].end_since)
                        continue;
                err = rw_boundary_low_watermark(proc->boundary, proc->state,
                                                proc->orders_partitions, rw_now_ms(),
                                                &proc->group_now, errstr, sizeof(errstr));
                break;
        }
        if (err == RW_ERR_IO) {
                rw_log_warn("the group's low watermark: %s", errstr);
                rw_state_reconnect(proc->state, errstr, sizeof(errstr));
        } else if (err) {
                rw_fatal(proc, "dependency rules: %s", errstr);
        }
}

/* Redis may not hold the due times the write in flight changes yet: the
 * cached views are the truth for the accounts they hold (their owner is the
 * only writer), so an account cached and not due is left out, and the in-
 * flight write's accounts that are due come along. */
static void rw_due_merge(rw_processor_t *proc, rw_part_t *p, rw_due_query_t *q) {
        int tag = rw_part_tag(proc, p);
        size_t keep = 0, extra = 0, i;

        if (!p->fl_w)
                return;
        for (i = 0; i < q->cnt; i++) {
                rw_account_view_t *av = rw_cache_get(proc->cache, tag, q->accounts[i]);
                if (av && (av->due <= 0 || av->due > q->until)) {
                        free(q->accounts[i]);
                        continue;
                }
                q->accounts[keep] = q->accounts[i];
                q->dues[keep++] = q->dues[i];
        }
        q->cnt = keep;
        for (i = 0; i < p->fl_acct_cnt; i++)
                extra += p->fl_accts[i]->due > 0 && p->fl_accts[i]->due <= q->until;
        if (!extra)
                return;
        q->accounts = realloc(q->accounts, (q->cnt + extra) * sizeof(*q->accounts));
        q->dues = realloc(q->dues, (q->cnt + extra) * sizeof(*q->dues));
        if (!q->accounts || !q->dues)
                abort();
        for (i = 0; i < p->fl_acct_cnt; i++) {
                const rw_account_view_t *av = p->fl_accts[i];
                if (av->due <= 0 || av->due > q->until)
                        continue;
                if (!(q->accounts[q->cnt] = strdup(av->account)))
                        abort();
                q->dues[q->cnt++] = av->due;
        }
}

/* Before a batch's partitions are prepared: deliver what their outboxes
 * may hold, and ask which of their accounts are due by the batch's end
 * (all partitions in one round trip, again through Redis outages). */
static void rw_due_batch(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        rw_due_query_t *qs = calloc(proc->part_cnt + 1, sizeof(*qs));
        rw_part_t **ps = calloc(proc->part_cnt + 1, sizeof(*ps));
        rw_outage_t outage = { 0 };
        char errstr[512];
        size_t n = 0, i;
        rw_err_t err;

        if (!qs || !ps)
                abort();
        for (i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t wm = p->watermark;

                if (!p->assigned || p->last_offset < 0)
                        continue;
                if (p->drain)
                        rw_part_drain(proc, p, stop);
                for (size_t j = 0; j < p->ev_cnt; j++)
                        if (p->evs[j].occurred_at > wm)
                                wm = p->evs[j].occurred_at;
                ps[n] = p;
                qs[n++] = (rw_due_query_t){ .topic = p->topic, .partition = p->partition,
                                            .until = p->follow ? p->follow :
                                                                 wm - proc->lateness_ms };
        }
        while (n && !proc->fatal) {
                proc->stats.redis_calls++;
                err = rw_state_due(proc->state, qs, n, errstr, sizeof(errstr));
                if (err != RW_ERR_IO || rw_redis_outage(proc, &outage, errstr, stop))
                        break;
        }
        rw_redis_outage_end(proc, &outage);
        if (n && err) {
                if (err != RW_ERR_IO)
                        rw_fatal(proc, "state: %s", errstr);
                else
                        rw_fatal(proc, "stopped while %s", "Redis was unreachable");
        }
        for (i = 0; i < n; i++) {
                if (proc->fatal)
                        rw_due_query_clear(&qs[i]);
                else
                        rw_due_merge(proc, ps[i], &qs[i]);
                ps[i]->due = qs[i];
        }
        free(qs);
        free(ps);
}

static void rw_process_batch(rw_processor_t *proc, rd_kafka_message_t **msgs,
                             size_t cnt, volatile sig_atomic_t *stop) {
        int64_t batch_t0 = rw_mono_us();
        char errstr[512];
        int dlq_sent = 0;
        size_t i;

        for (i = 0; i < proc->part_cnt; i++) {
                proc->parts[i].ev_cnt = 0;
                proc->parts[i].last_offset = -1;
                proc->parts[i].follow = 0;
                proc->parts[i].route_wm = proc->parts[i].watermark;
        }
        int64_t t0 = rw_mono_us(), t1;
        for (i = 0; i < cnt; i++)
                rw_route(proc, msgs[i], &dlq_sent);
        rw_follow_mark(proc);
        rw_settle_late(proc, &dlq_sent, stop);
        t1 = rw_mono_us();
        proc->stats.us_route += t1 - t0;
        if (proc->fatal)
                return;
        /* Dead letters must be safe before their offsets move on. */
        if (dlq_sent && rw_producer_flush(proc->prod, 30 * 1000, errstr,
                                          sizeof(errstr))) {
                rw_fatal(proc, "dead-letter queue: %s", errstr);
                return;
        }
        t0 = rw_mono_us();
        rw_due_batch(proc, stop);
        t1 = rw_mono_us();
        proc->stats.us_due += t1 - t0;
        for (i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                if (p->assigned && p->last_offset >= 0)
                        rw_part_prepare(proc, p, stop);
        }
        t0 = rw_mono_us();
        proc->stats.us_prepare += t0 - t1;
        /* The previous batch's write was in flight while this one was
         * prepared: its outcome first, then this one goes out. */
        rw_write_finish(proc, stop);
        t1 = rw_mono_us();
        proc->stats.us_finish += t1 - t0;
        for (i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (p->w && (proc->fatal || !p->assigned)) {
                        /* Not to be stored: its views are not either. */
                        rw_part_forget(proc, p);
                        rw_state_write_destroy(p->w);
                        p->w = NULL;
                }
        }
        /* Accounts of this batch stay cached (its write is not read yet). */
        rw_cache_trim(proc->cache);
        if (!proc->fatal)
                rw_write_start(proc, stop);
        proc->stats.us_start += rw_mono_us() - t1;
        proc->stats.batches++;
        rw_ops_batch(proc->opts.ops, rw_mono_us() - batch_t0);
        rw_arena_reset(proc);
        if (proc->reg_blocked && !proc->fatal)
                rw_registry_pause(proc);
}

/* Every few seconds, and before a run that stops at the end stops: is each
 * owned partition's stored offset still what this process wrote? A Redis
 * that lost writes is noticed also on partitions that receive nothing more
 * (their next write would notice too, but there may be none). Returns the
 * number of partitions found behind or ahead (rewound, rebuilt). */
static int rw_check_positions(rw_processor_t *proc) {
        int found = 0, asked = 0;

        proc->check_at = rw_mono_ms() + 5000;
        if (proc->fl_n)
                return 0;       /* a write in flight: checked once it settled */
        for (size_t i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t off, wm;
                char errstr[512], why[700];

                if (!p->assigned || p->w)
                        continue;
                if (rw_state_get_position(proc->state, p->topic, p->partition, &off, &wm,
                                          errstr, sizeof(errstr))) {
                        rw_ops_redis(proc->opts.ops, errstr);
                        return found;   /* an outage: the batches ride it out */
                }
                asked++;
                if (off == p->expected)
                        continue;
                snprintf(why, sizeof(why), "%s [%d]: stored offset is %lld, %lld was written",
                         p->topic, (int)p->partition, (long long)off,
                         (long long)p->expected);
                rw_fenced(proc, p, why);
                found++;
        }
        if (asked)
                rw_ops_redis(proc->opts.ops, NULL);     /* Redis answers (again) */
        return found;
}

static int rw_all_eof(rw_processor_t *proc) {
        int n = 0;
        for (size_t i = 0; i < proc->part_cnt; i++) {
                if (!proc->parts[i].assigned)
                        continue;
                if (!proc->parts[i].eof && !proc->parts[i].hold_need)
                        return 0;       /* a waiting partition is done unless released */
                n++;
        }
        return n > 0;
}

/* Whether the input topics exist, asked of the broker before the first poll
 * (retried while it gives no answer): a run that stops at the end fails at
 * once naming the missing ones, as there is no end to wait for; a run that
 * goes on says once per missing topic that it waits for it to be created.
 * Then, while one is missing, asked again every 2 s: the answer also
 * refreshes the consumer's view, so a topic created later is consumed within
 * seconds rather than at the next periodic refresh (minutes). Patterns (^...)
 * are not checked. 0, or -1 and errstr. */
static int rw_check_topics(rw_processor_t *proc, volatile sig_atomic_t *stop,
                           char *errstr, size_t errstr_size) {
        static const char *const props[2] = { "topics.orders", "topics.support" };
        const char *names[2] = { proc->topic_orders, proc->topic_support };
        const struct rd_kafka_metadata *md = NULL;
        int first = proc->topics_check_at == 0, missing = 0, cnt = 0, said = 0;
        rd_kafka_resp_err_t kerr;
        char list[1200] = "";
        size_t of = 0;

        if (!first && (!proc->topics_missing || rw_mono_ms() < proc->topics_check_at))
                return 0;
        int64_t since = rw_mono_ms();
        do {
                int64_t asked = rw_mono_ms();
                if (!(kerr = rd_kafka_metadata(proc->rk, 1, NULL, &md, first ? 2000 : 500)))
                        break;
                md = NULL;
                if (first && !said++)
                        rw_log_info("waiting for the brokers (kafka.bootstrap.servers "
                                    "%s): no answer yet (%s)", proc->bootstrap,
                                    rd_kafka_err2str(kerr));
                else
                        rw_log_debug("topics: no metadata from the broker yet (%s)%s",
                                     rd_kafka_err2str(kerr), first ? "; retrying" : "");
                /* -e: an end to stop at needs the brokers; do not wait for
                 * ever for them. */
                if (first && proc->opts.exit_at_eof &&
                    rw_mono_ms() - since >= proc->broker_timeout_ms) {
                        snprintf(errstr, errstr_size, "no answer from the brokers "
                                 "(kafka.bootstrap.servers %s) in %lld s: %s; giving up "
                                 "(broker.timeout)", proc->bootstrap,
                                 (long long)(proc->broker_timeout_ms / 1000),
                                 rd_kafka_err2str(kerr));
                        return -1;
                }
                if (first && !*stop && rw_mono_ms() - asked < 500)
                        usleep(500 * 1000);     /* a quick refusal: do not spin */
        } while (first && !*stop);
        proc->topics_check_at = rw_mono_ms() + 2000;
        if (!md) {
                proc->topics_missing |= first ? 3 : 0;  /* stopped first: not known */
                return 0;
        }
        for (int i = 0; i < 2; i++) {
                int found = 0;

                if (names[i][0] == '^' || (i == 1 && !strcmp(names[0], names[1])))
                        continue;
                for (int t = 0; t < md->topic_cnt && !found; t++)
                        found = !strcmp(md->topics[t].topic, names[i]) &&
                                md->topics[t].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
                if (found)
                        continue;
                missing |= 1 << i;
                cnt++;
                if (!first) {
                        continue;
                } else if (proc->opts.exit_at_eof) {
                        int r = snprintf(list + of, sizeof(list) - of, "%s%s (%s)",
                                         of ? ", " : "", names[i], props[i]);
                        if (r > 0 && (size_t)r < sizeof(list) - of)
                                of += (size_t)r;
                } else {
                        rw_log_warn("topic %s (%s) does not exist: waiting for it to be "
                                    "created", names[i], props[i]);
                }
        }
        rd_kafka_metadata_destroy(md);
        proc->topics_missing = missing;
        if (first && cnt && proc->opts.exit_at_eof) {
                snprintf(errstr, errstr_size, "input topic%s not found on the broker: %s: "
                         "there is no end to stop at; create %s first, or name "
                         "existing topics", cnt > 1 ? "s" : "", list,
                         cnt > 1 ? "them" : "it");
                return -1;
        }
        return 0;
}

/* What the operations surface shows of the loop: its counters and its
 * assigned partitions (their lag from the high watermarks the consumer
 * last fetched: no request to the broker). */
static void rw_ops_feed(rw_processor_t *proc) {
        rw_ops_part_t *ps = calloc(proc->part_cnt + 1, sizeof(*ps));
        rw_ops_report_t rep = { 0 };
        size_t n = 0;

        if (!ps)
                abort();
        for (size_t i = 0; i < proc->part_cnt; i++) {
                const rw_part_t *p = &proc->parts[i];
                int64_t lo = -1, hi = -1;
                if (!p->assigned)
                        continue;
                if (rd_kafka_get_watermark_offsets(proc->rk, p->topic, p->partition,
                                                   &lo, &hi) || hi < 0)
                        lo = hi = -1;
                ps[n++] = (rw_ops_part_t){
                        .topic = p->topic, .partition = p->partition,
                        .watermark = p->watermark > 0 ? p->watermark - proc->lateness_ms : 0,
                        /* No stored position: from the beginning. */
                        .position = p->expected >= 0 ? p->expected : lo, .hi = hi,
                };
        }
        rw_decider_lock(proc->decider);         /* alerts */
        rep.alerts = proc->stats.alerts;
        rw_decider_unlock(proc->decider);
        rep.consumed = proc->stats.consumed;
        rep.redis_calls = proc->stats.redis_calls;
        rep.fenced = proc->stats.fenced;
        rep.parts = ps;
        rep.part_cnt = n;
        rw_ops_report(proc->opts.ops, &rep);
        free(ps);
}

rw_err_t rw_processor_run(rw_processor_t *proc, volatile sig_atomic_t *stop,
                          char *errstr, size_t errstr_size) {
        rd_kafka_message_t **msgs = calloc((size_t)proc->batch_size, sizeof(*msgs));
        rw_err_t err = RW_OK;
        int64_t exit_by = 0;    /* -e: all at their end; give up on the decider then */
        uint64_t ticket = 0;    /* -e: the decider's pass that settles */

        if (!msgs)
                abort();
        proc->run_stop = stop;
        proc->stop = stop;
        if (rw_check_topics(proc, stop, errstr, errstr_size)) {
                free(msgs);
                proc->run_stop = NULL;
                return RW_ERR_FAIL;
        }
        if (proc->registry && !proc->alerts_registered)
                rw_registry_register_alerts(proc, stop);
        if (!proc->fatal && !*stop &&
            rw_decider_start(proc->decider, proc->alert_schema_id)) {
                free(msgs);
                proc->run_stop = NULL;
                snprintf(errstr, errstr_size, "cannot start the decider's thread");
                return RW_ERR_FAIL;
        }
        int64_t run_t0 = rw_mono_us();
        while (!*stop && !proc->fatal) {
                size_t cnt = 0;
                int64_t deadline;

                (void)rw_check_topics(proc, stop, errstr, errstr_size);
                if (rw_ops_due(proc->opts.ops))
                        rw_ops_feed(proc);
                if (proc->reg_wait)
                        rw_registry_probe(proc);
                for (size_t i = 0; i < proc->part_cnt && !proc->fatal; i++)
                        if (proc->parts[i].assigned && proc->parts[i].drain)
                                rw_part_drain(proc, &proc->parts[i], stop);
                /* Paused, polls only serve rebalances: no need to spin. */
                deadline = rw_mono_ms() + (proc->reg_wait && proc->batch_timeout_ms < 100 ?
                                           100 : proc->batch_timeout_ms);
                /* A write in flight: its alerts wait for the next batch to
                 * be taken, so do not wait long for more records. */
                if (proc->fl_n && deadline > rw_mono_ms() + 10)
                        deadline = rw_mono_ms() + 10;

                /* Up to a batch at once from the consumer queue (it serves
                 * rebalances as poll does); events (EOF, errors) are taken
                 * out of the batch. */
                int64_t tw = rw_mono_us();
                while (cnt < (size_t)proc->batch_size && !proc->fatal) {
                        int64_t left = deadline - rw_mono_ms();
                        ssize_t got = rd_kafka_consume_batch_queue(
                                proc->queue, left > 0 ? (int)left : 0, msgs + cnt,
                                (size_t)proc->batch_size - cnt);
                        size_t end;
                        if (got <= 0)
                                break;
                        end = cnt + (size_t)got;
                        for (size_t i = cnt; i < end; i++) {
                        rd_kafka_message_t *rkm = msgs[i];
                        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                rw_part_t *p = rw_part_find(
                                        proc, rd_kafka_topic_name(rkm->rkt),
                                        rkm->partition, 0);
                                if (p)
                                        p->eof = 1;
                        } else if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
                                char reason[512];
                                rd_kafka_fatal_error(proc->rk, reason, sizeof(reason));
                                rw_fatal(proc, "kafka fatal error: %s", reason);
                        } else if (rkm->err) {
                                rw_log_warn("consumer: %s", rd_kafka_message_errstr(rkm));
                        } else {
                                rw_part_t *p = rw_part_find(
                                        proc, rd_kafka_topic_name(rkm->rkt),
                                        rkm->partition, 0);
                                if (p && p->end >= 0 && rkm->offset >= p->end) {
                                        p->eof = 1;     /* a replay's end */
                                } else {
                                        if (p)
                                                p->eof = 0;
                                        msgs[cnt++] = rkm;
                                        continue;
                                }
                        }
                        rd_kafka_message_destroy(rkm);
                        }
                        if (left <= 0)
                                break;
                }
                {
                        char reason[512];
                        if (rw_kafka_fatal(reason, sizeof(reason)))
                                rw_fatal(proc, "kafka fatal error: %s", reason);
                }
                proc->stats.us_wait += rw_mono_us() - tw;
                if (!cnt)
                        proc->stats.us_idle += rw_mono_us() - tw;
                else if (!proc->stats.us_setup)
                        proc->stats.us_setup = rw_mono_us() - run_t0;
                if ((cnt || rw_follow_due(proc)) && !proc->fatal)
                        rw_process_batch(proc, msgs, cnt, stop);
                if (proc->opts.on_tick)
                        proc->opts.on_tick(proc->opts.opaque);
                {
                        const char *why = rw_decider_failed(proc->decider);
                        if (why && !proc->fatal)
                                rw_fatal(proc, "%s", why);
                }
                if (!proc->fatal && !proc->reg_wait && rw_mono_ms() >= proc->tick_at)
                        rw_loop_tick(proc);
                for (size_t i = 0; i < cnt; i++)
                        rd_kafka_message_destroy(msgs[i]);
                rw_producer_poll(proc->prod);
                if (cnt)
                        exit_by = 0;
                else if (proc->fl_n && !proc->fatal) {
                        /* Nothing new: the write in flight settles now. */
                        rw_write_finish(proc, stop);
                        rw_cache_trim(proc->cache);
                }
                if (!proc->fatal && !proc->reg_wait && rw_mono_ms() >= proc->check_at)
                        (void)rw_check_positions(proc);
                if (proc->opts.exit_at_eof && !cnt && !proc->fl_n && !proc->reg_wait &&
                    rw_all_eof(proc)) {
                        int held = 0, hopeless = 0;
                        for (size_t i = 0; i < proc->part_cnt; i++)
                                held += proc->parts[i].assigned && proc->parts[i].hold_need;
                        /* Partitions waiting at a gap: go on while what
                         * they wait for may still come. */
                        if (held && (rw_hold_release(proc, &hopeless) || hopeless < held)) {
                                exit_by = 0;
                                continue;
                        }
                        /* Nothing lost on the way to the end? */
                        if (!exit_by && rw_check_positions(proc))
                                continue;
                        /* Catch up with the boundaries the group passed and
                         * deliver what the decider's outbox holds, waiting
                         * out a lock held by another process (at most until
                         * a dead holder's lock expires), while polling on so
                         * that rebalances are served. */
                        if (!exit_by) {
                                exit_by = rw_mono_ms() + proc->lock_ttl_ms + 5000;
                                ticket = rw_decider_ticket(proc->decider);
                        }
                        if (proc->fatal || rw_decider_settled(proc->decider, ticket) ||
                            rw_mono_ms() > exit_by)
                                break;
                }
        }
        if (!proc->fatal)
                rw_write_finish(proc, stop);
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (proc->parts[i].assigned && proc->parts[i].hold_need) {
                        char at[64];
                        rw_fmt_time(at, sizeof(at), proc->parts[i].hold_need);
                        rw_log_warn("%s [%d]: stopped at offset %lld, which ends a silence "
                                    "of the partition: not every other orders partition "
                                    "has passed %s", proc->parts[i].topic,
                                    (int)proc->parts[i].partition,
                                    (long long)proc->parts[i].expected, at);
                }
        rw_decider_stop(proc->decider);
        proc->run_stop = NULL;
        free(msgs);
        if (proc->fatal) {
                snprintf(errstr, errstr_size, "%s", proc->fatal_err);
                err = RW_ERR_FAIL;
        }
        return err;
}
