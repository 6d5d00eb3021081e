/* processor.c - Kafka in: the consume -> decode -> evaluate -> write ->
 * deliver loop, and the consumer's set-up.
 *
 * Per turn: take up to a batch of records from the consumer queue; route
 * them (route.c: decode, validate, or dead-letter; the DLQ is flushed before
 * anything else); per partition, replay the batch over its accounts and build
 * one fenced write of what changed, the offset and the outbox, all
 * partitions' writes going to Redis as one transaction sent while the next
 * batch is prepared (batch.c); once it landed, deliver the outboxes and
 * commit the offsets to Kafka for lag monitors. Redis holds the
 * authoritative positions (partitions.c). Quiet partitions keep time
 * (follow.c); an orders partition that ends a silence of its own waits for
 * the others (hold.c); a schema registry outage pauses the input
 * (registry_gate.c).
 * The dependency rules' decider runs on its own thread (decider.c). */
#include <stdlib.h>
#include <string.h>
#include "consumers/processor_int.h"
#include "consumers/due_index.h"
#include "common/kafka.h"
#include "common/log.h"

static volatile sig_atomic_t rw_not_stopped;    /* proc->stop before a run */

/* The dependency decider's options (the loop's own boundary view takes the
 * same). Passes of up to 400 boundaries, folded in one script call: a pass
 * costs about six round trips and its fixed reads whatever its length, so
 * passes of 100 spent as much on those as on deciding (over the benchmark's
 * history, 400 took the decider from 1.46 to 0.90 s of busy time and the
 * run from 2.49 to 2.11 s); a pass of 400 still takes a fraction of a second,
 * so the lock, renewed per pass, never comes near its ttl, and a stop is not
 * kept waiting long. */
static void rw_processor_boundary_opts(const rw_processor_t *proc, const rw_conf_t *conf,
                                       rw_boundary_opts_t *bo) {
        rw_boundary_opts_default(bo);
        bo->interval_ms = proc->interval_ms;
        bo->lateness_ms = proc->lateness_ms;
        bo->idle_timeout_ms = rw_conf_get_int(conf, "idle.timeout");
        bo->replay = proc->opts.replay;
        bo->max_per_tick = 400;
        bo->max_per_call = 400;
        bo->lock_ttl_ms = 10 * 1000;    /* renewed per pass */
}

/* Say at start-up what the Redis server's settings put at risk (see
 * rw_state_server()): warnings, not a refusal, as Redis may be changed
 * while riskwatch runs and some services hide their settings. */
static void rw_server_check(rw_state_t *st) {
        rw_state_server_t srv;
        char buf[512];

        if (rw_state_server(st, &srv, buf, sizeof(buf))) {
                rw_log_info("%s: the server's settings are not checked (maxmemory-policy: "
                            "noeviction keeps the state)", buf);
                return;
        }
        for (int i = 0; !rw_state_server_warning(&srv, i, buf, sizeof(buf)); i++)
                rw_log_warn("%s", buf);
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
                /* The prefetch queue is most of a consumer's memory.
                 * librdkafka (2.0) stops fetching once the queue holds
                 * queued.min.messages or .kbytes, and looks again only up
                 * to a second later: the loop wakes it when the queue has
                 * drained to half (consumers/prefetch.c), so the queue
                 * needs to hold only what the loop takes while a fetch
                 * comes back. 10,000 records or 1 MB, whichever comes
                 * first: over the benchmark's history 25 MiB less peak RSS
                 * than 50,000 or 4 MB (63 against 88 MiB), 3 % less CPU in
                 * riskwatch and 6 % in Redis, for 1.7 % more wall clock
                 * (3.33 against 3.275 s, medians of 6 alternating runs;
                 * within the noise), the fetchers woken about 22 times
                 * instead of 5. librdkafka's defaults are 100,000 and
                 * 64 MB. */
                "queued.max.messages.kbytes", "1024",
                "queued.min.messages", "10000",
                NULL
        };
        rw_processor_t *proc = calloc(1, sizeof(*proc));
        rd_kafka_conf_t *kconf = NULL;
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
        snprintf(proc->topic_alerts, sizeof(proc->topic_alerts), "%s",
                 rw_conf_get_str(conf, "topics.alerts"));
        snprintf(proc->topic_dlq, sizeof(proc->topic_dlq), "%s",
                 rw_conf_get_str(conf, "topics.dlq"));
        proc->lateness_ms = rw_conf_get_int(conf, "allowed.lateness");
        proc->group_now = INT64_MIN;
        rw_validate_limits_conf(&proc->vlim, conf);
        proc->batch_size = (int)rw_conf_get_int(conf, "batch.size");
        proc->batch_timeout_ms = (int)rw_conf_get_int(conf, "batch.timeout");
        proc->gather_max_ms = rw_conf_get_int(conf, "write.max.delay");
        proc->gather_max_events = rw_conf_get_int(conf, "write.max.records");
        proc->linger_ms = rw_conf_get_int(conf, "write.linger");
        proc->due_ahead = rw_conf_get_int(conf, "state.due.max.ahead");
        proc->broker_timeout_ms = rw_conf_get_int(conf, "broker.timeout");
        const char *boot = rw_conf_kafka_find(conf, "bootstrap.servers");
        snprintf(proc->bootstrap, sizeof(proc->bootstrap), "%s", boot ? boot : "");
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
                rw_processor_boundary_opts(proc, conf, &bo);
                proc->idle_timeout_ms = bo.idle_timeout_ms;
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
        rw_server_check(proc->state);
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
        rw_prefetch_mark_conf(&proc->prefetch, proc->rk);
        {
                rw_boundary_opts_t bo;
                rw_processor_boundary_opts(proc, conf, &bo);
                bo.emit_from = proc->opts.emit_from;
                if (!(proc->decider = rw_decider_new(conf, &proc->params, &bo, proc->rk,
                                                     proc->topic_orders, rw_emit_out, proc,
                                                     errstr, errstr_size)))
                        goto fail;
                rw_decider_set_sinks(proc->decider, !proc->opts.no_alerts, !proc->opts.no_dlq);
                /* -e replays what the input holds: no partition is idle. */
                rw_decider_set_replay(proc->decider, proc->opts.exit_at_eof);
        }

        /* The input topics as local topics from the start: metadata gives
         * their partitions leaders before the group assigns them. Created at
         * the assignment, a partition could start fetching before its leader
         * was set, and librdkafka (2.0) then retries half a second later. */
        for (int i = 0; i < 2; i++) {
                const char *t = i ? proc->topic_support : proc->topic_orders;
                if (t[0] != '^' && (!i || strcmp(t, proc->topic_orders)))
                        proc->inputs[i] = rd_kafka_topic_new(proc->rk, t, NULL);
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
        if (proc->start_md)
                rd_kafka_metadata_destroy(proc->start_md);
        if (proc->queue)
                rd_kafka_queue_destroy(proc->queue);
        if (proc->rk)
                rd_kafka_consumer_close(proc->rk);
        for (int i = 0; i < 2; i++)
                if (proc->inputs[i])
                        rd_kafka_topic_destroy(proc->inputs[i]);
        if (proc->rk)
                rd_kafka_destroy(proc->rk);
        rw_producer_destroy(proc->prod);
        rw_boundary_destroy(proc->boundary);
        rw_state_txn_destroy(proc->txn);
        free(proc->fl_ws);
        free(proc->fl_errs);
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
                free(proc->parts[i].pend);
                rw_state_write_destroy(proc->parts[i].fl_w);
                rw_due_query_clear(&proc->parts[i].due);
                rw_due_index_destroy(proc->parts[i].dues);
                rw_isums_destroy(proc->parts[i].isums);
                rw_state_write_destroy(proc->parts[i].w);
        }
        free(proc->parts);
        rw_state_destroy(proc->wstate);        /* after its writes */
        rw_state_destroy(proc->state);
        free(proc->late);
        rw_arena_free(&proc->arena);
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
        stats->cache_entries = cs.entries;
        stats->cache_packed = cs.packed;
        stats->cache_unpacks = cs.unpacks;
        stats->cache_bytes = cs.bytes;
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
                stats->us_decide_cpu = rw_decider_cpu_us(proc->decider);
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

void rw_fatal(rw_processor_t *proc, const char *fmt, const char *what) {
        if (proc->fatal)
                return;
        proc->fatal = 1;
        snprintf(proc->fatal_err, sizeof(proc->fatal_err), fmt, what);
}

/* Joins the group for both input topics: only once the start was not
 * refused, so that a refused start never joins it (librdkafka 2.0 could
 * abort in its sticky assignor when a consumer closed before its first
 * join had finished). 0, or -1 and errstr. */
static int rw_subscribe(rw_processor_t *proc, char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
        rd_kafka_resp_err_t kerr;

        rd_kafka_topic_partition_list_add(topics, proc->topic_orders, RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(topics, proc->topic_support, RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(proc->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (kerr) {
                snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(kerr));
                return -1;
        }
        return 0;
}

/* What the operations surface shows of the loop: its counters and its
 * assigned partitions (their lag from the high watermarks the consumer
 * last fetched: no request to the broker). */
void rw_ops_feed(rw_processor_t *proc) {
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
                if (p->dues)
                        rep.due_entries += (int64_t)rw_due_index_cnt(p->dues);
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
        rep.unacked = proc->stats.unacked;
        rep.boundaries_pending = rw_decider_pending(proc->decider);
        {
                rw_cache_stats_t cs;
                rw_cache_stats(proc->cache, &cs);
                rep.cache.bytes = (int64_t)cs.bytes;
                rep.cache.limit = (int64_t)cs.max_bytes;
                rep.cache.views = (int64_t)(cs.entries - cs.packed);
                rep.cache.packed = (int64_t)cs.packed;
                rep.cache.hits = cs.hits;
                rep.cache.misses = cs.misses;
                rep.cache.evictions = cs.evictions;
        }
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
        if (rw_check_topics(proc, stop, errstr, errstr_size) ||
            rw_check_outputs(proc, stop, errstr, errstr_size) ||
            rw_subscribe(proc, errstr, errstr_size)) {
                free(msgs);
                proc->run_stop = NULL;
                return RW_ERR_FAIL;
        }
        if (proc->registry && !proc->alerts_registered)
                rw_registry_register_alerts(proc, stop);
        /* The broker answered: learn the output topics now, not at the
         * first alert (the decider's producer does the same on its thread). */
        rw_producer_warm(proc->prod, 2000);
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
                int64_t deadline, took_bytes = 0;

                (void)rw_check_topics(proc, stop, errstr, errstr_size);
                if (rw_ops_due(proc->opts.ops))
                        rw_ops_feed(proc);
                if (proc->reg_wait)
                        rw_registry_probe(proc);
                rw_parts_drain(proc, stop);
                /* Paused, polls only serve rebalances: no need to spin. */
                deadline = rw_mono_ms() + (proc->reg_wait && proc->batch_timeout_ms < 100 ?
                                           100 : proc->batch_timeout_ms);
                /* A write in flight or open (its alerts wait for the next
                 * batch to be taken), or -e at the end waiting for the
                 * decider: do not wait long for more records. */
                if ((proc->fl_n || rw_write_open(proc) || exit_by) &&
                    deadline > rw_mono_ms() + 10)
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
                                        took_bytes += (int64_t)(rkm->len + rkm->key_len);
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
                /* The queue drained to half after it had filled (in records
                 * or in bytes): wake the fetchers it stopped. */
                if (rw_prefetch_taken(&proc->prefetch, (int64_t)cnt, took_bytes,
                                      (int64_t)rd_kafka_queue_length(proc->queue)) &&
                    !rw_prefetch_wake(proc->rk, 100))
                        proc->stats.prefetch_wakeups++;
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
                else if ((proc->fl_n || rw_write_open(proc)) && !proc->fatal)
                        /* Nothing new: the write in flight settles now, and
                         * the open ones go out once they no longer linger. */
                        rw_write_tick(proc, stop);
                if (!proc->fatal && !proc->reg_wait && rw_mono_ms() >= proc->check_at)
                        (void)rw_check_positions(proc);
                if (proc->opts.exit_at_eof && !cnt && !proc->fl_n && !rw_write_open(proc) &&
                    !proc->reg_wait &&
                    rw_all_eof(proc)) {
                        int held = rw_hold_cnt(proc), hopeless = 0;
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
                                rw_log_debug("run: every partition at its end after %.3f s; "
                                             "waiting for the dependency decider",
                                             (double)(rw_mono_us() - run_t0) / 1e6);
                        }
                        if (proc->fatal || rw_decider_settled(proc->decider, ticket))
                                break;
                        if (rw_mono_ms() > exit_by) {
                                rw_log_warn("run: the dependency decider did not catch up "
                                            "with the group's boundaries within %.0f s of "
                                            "the end (its lock held elsewhere, or Redis "
                                            "slow): exiting with boundaries undecided "
                                            "(the lock's holder, or the next run, "
                                            "decides them)",
                                            (double)(proc->lock_ttl_ms + 5000) / 1e3);
                                break;
                        }
                }
        }
        if (!proc->fatal) {
                rw_write_commit(proc, stop);
                rw_write_finish(proc, stop);
        }
        rw_hold_report(proc);
        rw_decider_stop(proc->decider);
        proc->run_stop = NULL;
        free(msgs);
        if (proc->fatal) {
                snprintf(errstr, errstr_size, "%s", proc->fatal_err);
                err = proc->fatal_config ? RW_ERR_CONFIG : RW_ERR_FAIL;
        }
        return err;
}
