/* partitions.c - the assigned input partitions: their stored positions,
 * the rebalance callback, fencing, and the periodic position check. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "consumers/processor_int.h"
#include "consumers/due_index.h"
#include "common/log.h"
#include "common/kafka.h"

rw_part_t *rw_part_find(rw_processor_t *proc, const char *topic,
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
        if (!(p->dues = rw_due_index_new()) || !(p->isums = rw_isums_new()))
                abort();
        rw_due_index_bound(p->dues, (size_t)proc->due_ahead);
        return p;
}

int rw_part_tag(const rw_processor_t *proc, const rw_part_t *p) {
        return (int)(p - proc->parts);
}

/* Forget what is cached of a partition, its accounts and its due index (it
 * was revoked, fenced, or a write of it did not land): read from Redis again
 * when next needed. */
void rw_part_forget(rw_processor_t *proc, rw_part_t *p) {
        p->dues_loaded = 0;
        p->fresh = 0;           /* until its position is read again */
        p->pend_cnt = 0;        /* its views go */
        rw_isums_reset(p->isums);       /* what its interval hashes hold */
        rw_cache_drop_tag(proc->cache, rw_part_tag(proc, p));
        rw_cache_drop_tag(proc->cache, RW_VENDOR_TAG_BASE + rw_part_tag(proc, p));
}

/* "ORIGIN: " (or "-X ") before a setting's name in a message, "" when it
 * has none. */
static const char *rw_origin_pre(const rw_processor_t *proc, const char *key, char *buf,
                                 size_t size) {
        const char *origin = rw_conf_origin(proc->conf, key);

        snprintf(buf, size, "%s%s", origin ? origin : "",
                 origin ? (strcmp(origin, "-X") ? ": " : " ") : "");
        return buf;
}

/* The namespace's layout and the evaluation interval it was built with
 * against this run's, read with the first position this process loads
 * (before any record is consumed; the decider decides nothing until then):
 * RW_OK, an error from Redis, or RW_ERR_CONFIG with the reason in why,
 * naming the setting and its origin. Not at start: the run waits out a
 * Redis outage with partitions assigned. */
static rw_err_t rw_check_namespace(rw_processor_t *proc, char *why, size_t why_size) {
        const char *key = "evaluation.interval";
        char b1[32], b2[32], pre[600];
        int64_t stored;
        rw_err_t err;

        if (proc->interval_checked)
                return RW_OK;
        /* First: a namespace of another layout is not read at all. */
        if ((err = rw_state_layout(proc->state, 1, &stored, why, why_size)))
                return err;
        if (stored != RW_STATE_LAYOUT) {
                snprintf(why, why_size,
                         "%sstate.namespace: '%s' holds state of layout %lld, and this "
                         "riskwatch reads layout %d only: %s",
                         rw_origin_pre(proc, "state.namespace", pre, sizeof(pre)),
                         rw_state_ns(proc->state), (long long)stored, RW_STATE_LAYOUT,
                         stored > RW_STATE_LAYOUT ?
                         "a newer riskwatch wrote it; run that version, or rebuild a "
                         "new namespace with this one (riskwatch replay)" :
                         "rebuild a new namespace with this version (riskwatch replay)");
                return RW_ERR_CONFIG;
        }
        if ((err = rw_state_interval(proc->state, proc->interval_ms, 1, &stored, why,
                                     why_size)))
                return err;
        if (stored == proc->interval_ms) {
                proc->interval_checked = 1;
                rw_decider_open(proc->decider);
                return RW_OK;
        }
        rw_fmt_duration_exact(b1, sizeof(b1), proc->interval_ms);
        if (stored > 0)
                rw_fmt_duration_exact(b2, sizeof(b2), stored);
        snprintf(why, why_size,
                 "%s%s: %s, but state.namespace '%s' was built with %s%s: its "
                 "portfolio buckets and fold copies are indexed by it; set %s back, "
                 "or use a new namespace (riskwatch replay rebuilds one)",
                 rw_origin_pre(proc, key, pre, sizeof(pre)),
                 key, b1, rw_state_ns(proc->state), stored > 0 ? "" : "another interval",
                 stored > 0 ? b2 : "", key);
        return RW_ERR_CONFIG;
}

/* Load a partition's stored position (offset and watermark) from Redis,
 * waiting out a Redis outage while not asked to stop. 0, or -1 when stopped
 * or when Redis refused (an error reply: fatal, with Redis' reason). */
static int rw_part_load_position(rw_processor_t *proc, rw_part_t *p) {
        char errstr[1024], why[1536];
        int backoff = 100;
        rw_err_t err;

        p->end_since = 0;
        p->followed = 0;
        rw_hold_end(proc, p, 0);        /* the caller seeks (or assigns) */
        while ((err = rw_check_namespace(proc, errstr, sizeof(errstr))) ||
               (err = rw_state_get_position(proc->state, p->topic, p->partition,
                                            &p->expected, &p->watermark, errstr,
                                            sizeof(errstr))) ||
               (err = rw_state_get_bounds(proc->state, p->partition, &p->pb_first,
                                          &p->pb_last, errstr, sizeof(errstr))) ||
               (err = rw_state_get_gaps(proc->state, p->topic, p->partition, &p->gaps,
                                        errstr, sizeof(errstr)))) {
                if (err == RW_ERR_CONFIG) {
                        proc->fatal_config = 1;
                        rw_fatal(proc, "%s", errstr);
                        return -1;
                }
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
        p->sent = p->expected;
        /* No stored position at all: no write of it ever landed (each
         * stores the offset with its accounts, and the watermark with the
         * first that applied an event). An offset deleted alone (positions
         * forgotten: everything consumed again, as duplicates) leaves the
         * watermark, and the accounts are read. */
        p->fresh = p->expected < 0 && p->watermark <= 0;
        p->fresh_evicted = rw_cache_evicted(proc->cache, rw_part_tag(proc, p));
        return 0;
}

/* tp's offset in list (a replay's starts or ends), or dflt. */
static int64_t rw_opts_offset(const rd_kafka_topic_partition_list_t *list,
                              const rd_kafka_topic_partition_t *tp, int64_t dflt) {
        for (int i = 0; list && i < list->cnt; i++)
                if (list->elems[i].partition == tp->partition &&
                    !strcmp(list->elems[i].topic, tp->topic))
                        return list->elems[i].offset;
        return dflt;
}

/* -e: the end of each partition just assigned, and the earliest offset of
 * the ones without a stored position, asked before they are assigned (one
 * or two ListOffsets requests per leader, while no fetch of this consumer
 * is parked at the broker). Assigned at a known offset, every partition
 * starts fetching at once: one left to look its start up itself may do so
 * only after a first fetch of the others went out, and a fetch that finds
 * them all at their end is held by the broker for fetch.wait.max.ms, the
 * late partition's first records behind it. And the end known, a partition
 * already there (nothing new since the stored position, or nothing at all)
 * is at its end before any fetch answers (rw_part_at_end()). Without an
 * answer the partitions are assigned as before: their ends come with the
 * fetches. */
static void rw_part_learn_ends(rw_processor_t *proc,
                               rd_kafka_topic_partition_list_t *parts) {
        rd_kafka_topic_partition_list_t *hi = NULL, *fresh, *lo = NULL;
        rd_kafka_resp_err_t err;

        /* The earliest offsets of those without a stored position only. */
        if (!(fresh = rd_kafka_topic_partition_list_new(parts->cnt)))
                abort();
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING)
                        rd_kafka_topic_partition_list_add(fresh, parts->elems[i].topic,
                                                          parts->elems[i].partition);
        if ((err = rw_kafka_list_offsets(proc->rk, parts, RD_KAFKA_OFFSET_END, 5000, &hi)) ||
            (fresh->cnt && (err = rw_kafka_list_offsets(proc->rk, fresh, RD_KAFKA_OFFSET_BEGINNING,
                                                        5000, &lo)))) {
                rw_log_debug("the assigned partitions' offsets: %s; their ends come "
                             "with the fetches", rd_kafka_err2str(err));
                if (hi)
                        rd_kafka_topic_partition_list_destroy(hi);
                rd_kafka_topic_partition_list_destroy(fresh);
                return;
        }
        for (int i = 0, j = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                rw_part_t *p = rw_part_find(proc, tp->topic, tp->partition, 0);
                /* fresh holds the BEGINNING ones in parts' order. */
                int64_t lo_off = tp->offset == RD_KAFKA_OFFSET_BEGINNING ?
                                 lo->elems[j++].offset : -1;

                if (!p)
                        continue;
                if (lo_off >= 0)
                        tp->offset = p->start_at_assign = lo_off;
                p->hi_at_assign = hi->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(hi);
        if (lo)
                rd_kafka_topic_partition_list_destroy(lo);
        rd_kafka_topic_partition_list_destroy(fresh);
}

void rw_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque) {
        rw_processor_t *proc = opaque;
        rd_kafka_error_t *error = NULL;
        int i;

        /* The writes settle first (the open ones go out): assignments
         * change what is cached and what the partitions' positions are. */
        if (proc->run_stop) {
                rw_write_commit(proc, proc->run_stop);
                rw_write_finish(proc, proc->run_stop);
        }

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
                        p->start_at_assign = tp->offset;
                        p->hi_at_assign = -1;
                        rw_log_info("assigned %s [%d] at offset %lld%s",
                                    tp->topic, (int)tp->partition,
                                    (long long)p->expected,
                                    p->expected < 0 ? " (no state: from the beginning)" : "");
                        if (proc->opts.on_partition)
                                proc->opts.on_partition(proc->opts.opaque, tp->topic,
                                                        tp->partition, 1);
                }
                if (proc->opts.exit_at_eof)
                        rw_part_learn_ends(proc, parts);
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
                        if (proc->opts.on_partition)
                                proc->opts.on_partition(proc->opts.opaque, parts->elems[i].topic,
                                                        parts->elems[i].partition, 0);
                }
                error = rd_kafka_incremental_unassign(rk, parts);
        }
        if (error) {
                rw_log_error("rebalance: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
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
void rw_fenced(rw_processor_t *proc, rw_part_t *p, const char *why) {
        rd_kafka_topic_partition_list_t *tps;
        rd_kafka_error_t *error;
        int64_t written = p->sent;

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

/* Every few seconds, and before a run that stops at the end stops: is each
 * owned partition's stored offset still what this process wrote? A Redis
 * that lost writes is noticed also on partitions that receive nothing more
 * (their next write would notice too, but there may be none). Returns the
 * number of partitions found behind or ahead (rewound, rebuilt). */
int rw_check_positions(rw_processor_t *proc) {
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

/* Whether partition `p` is at its end: librdkafka said so, or everything
 * up to the high watermark of its last fetch is stored. The second is what
 * librdkafka's next fetch would report, but that fetch finds nothing new and
 * the broker holds it for fetch.wait.max.ms (500 ms by default) before it
 * answers: -e need not wait for it. Below the high watermark (a transaction's
 * marker is never delivered, an open one holds read_committed back) only the
 * end-of-partition counts. */
static int rw_part_at_end(rw_processor_t *proc, const rw_part_t *p) {
        int64_t lo, hi = -1;

        if (p->eof)
                return 1;
        if (p->retry_at >= 0)
                return 0;
        if (rd_kafka_get_watermark_offsets(proc->rk, p->topic, p->partition, &lo, &hi) ||
            hi < 0)
                hi = p->hi_at_assign;   /* no fetch answered yet: the end when assigned */
        if (hi < 0)
                return 0;
        if (p->expected < 0)    /* nothing read: at its end if there was nothing */
                return p->start_at_assign >= 0 && p->start_at_assign >= hi;
        return p->expected >= hi;
}

int rw_all_eof(rw_processor_t *proc) {
        int n = 0;
        for (size_t i = 0; i < proc->part_cnt; i++) {
                if (!proc->parts[i].assigned)
                        continue;
                if (!rw_part_at_end(proc, &proc->parts[i]) && !proc->parts[i].hold_need)
                        return 0;       /* a waiting partition is done unless released */
                n++;
        }
        return n > 0;
}
