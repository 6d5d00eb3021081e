/* batch.c - one batch, per partition: its accounts (the cache, or Redis on
 * a miss), the pure replay (consumers/replay.c), and the fenced write of what
 * changed, sent while the next batch is prepared; outbox delivery. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "consumers/processor_int.h"
#include "producers/alert_line.h"
#include "consumers/due_index.h"
#include "common/log.h"

/* A Redis outage seen by a batch: pause the assignment (once), wait out the
 * backoff, reconnect. Returns 0 to retry, -1 when asked to stop. *pausedp
 * holds the paused assignment for rw_redis_outage_end(). */
typedef struct rw_outage_s {
        rd_kafka_topic_partition_list_t *paused;
        int backoff;
} rw_outage_t;

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

/* An alert delivered: its line, its count, the caller's callback. Under
 * the decider's lock (its thread delivers dependency alerts). */
void rw_emit_out(void *opaque, const rw_alert_t *a) {
        rw_processor_t *proc = opaque;
        rw_alert_line_print(proc->opts.alert_fp, a);
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

/* The outboxes of every assigned partition that has transitions waiting, in
 * one drain: one wait for the broker's acknowledgements, not one per
 * partition (each was a round trip to the broker on the loop's path). */
void rw_parts_drain(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        char (*tags)[16];
        const char **tp, **topics;
        rw_part_t **ps;
        rw_outage_t outage = { 0 };
        char errstr[512];
        size_t n = 0;
        rw_err_t err;

        /* Called every turn of the loop: nothing to set up when no
         * partition has transitions waiting. */
        for (size_t i = 0; i < proc->part_cnt; i++)
                n += proc->parts[i].assigned && proc->parts[i].drain;
        if (!n)
                return;
        n = 0;
        tags = calloc(proc->part_cnt + 1, sizeof(*tags));
        tp = calloc(proc->part_cnt + 1, sizeof(*tp));
        topics = calloc(proc->part_cnt + 1, sizeof(*topics));
        ps = calloc(proc->part_cnt + 1, sizeof(*ps));
        if (!tags || !tp || !topics || !ps)
                abort();
        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (!p->assigned || !p->drain)
                        continue;
                snprintf(tags[n], sizeof(tags[n]), "%d", (int)p->partition);
                tp[n] = tags[n];
                topics[n] = p->topic;
                ps[n++] = p;
        }
        /* Riding out Redis outages. A delivery failure (the broker refuses
         * or stays away past the flush timeout) is fatal: the transitions
         * stay in the outboxes for the next start. */
        while (n && !proc->fatal) {
                errstr[0] = '\0';
                err = rw_outbox_drain_many(proc->state, tp, topics, n, proc->prod, proc->codec,
                                           rw_emit, proc, NULL, errstr, sizeof(errstr));
                if (err != RW_ERR_IO || rw_redis_outage(proc, &outage, errstr, stop)) {
                        if (err)
                                rw_fatal(proc, "alerts not delivered: %s", errstr);
                        else
                                for (size_t i = 0; i < n; i++)
                                        ps[i]->drain = 0;
                        break;
                }
        }
        rw_redis_outage_end(proc, &outage);
        free(tags);
        free(tp);
        free(topics);
        free(ps);
}

static int rw_str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Make sure every account of `names` (cnt, any order, repeats allowed) is
 * in the cache: one pipelined load of those that are not; with `views`, each
 * name's view into views[i]. Rides out Redis outages; -1 when it could not
 * (stopped, or a Redis error: fatal). */
int rw_part_resolve(rw_processor_t *proc, rw_part_t *p, const char **names,
                           size_t cnt, rw_account_view_t **views_out,
                           volatile sig_atomic_t *stop) {
        int orders = !strcmp(p->topic, proc->topic_orders), tag = rw_part_tag(proc, p);
        const char **miss = NULL;
        rw_account_view_t *views = NULL, **found = NULL;
        rw_outage_t outage = { 0 };
        size_t n = 0, i, m = 0;
        char errstr[512];
        rw_err_t err = RW_OK;
        int rc = -1;

        /* Looked up as they come (no sort of the names: most are cached);
         * the misses, sorted, once each. */
        if (!(miss = calloc(cnt + 1, sizeof(*miss))) ||
            (!views_out && !(found = calloc(cnt + 1, sizeof(*found)))))
                abort();
        rw_cache_get_many(proc->cache, tag, names, cnt, views_out ? views_out : found);
        for (i = 0; i < cnt; i++)
                if (!(views_out ? views_out : found)[i])
                        miss[m++] = names[i];
        qsort(miss, m, sizeof(*miss), rw_str_cmp);
        for (i = 0; i < m; i++)
                if (i == 0 || strcmp(miss[i], miss[n - 1]))
                        miss[n++] = miss[i];
        if (!n) {
                rc = 0;
                goto done;
        }
        if (!(views = calloc(n, sizeof(*views))))
                abort();
        if (p->fresh && rw_cache_evicted(proc->cache, tag) == p->fresh_evicted) {
                /* New accounts: nothing to read. */
                if (rw_state_load_absent(miss, n, views))
                        abort();
                proc->stats.cache_new += (int64_t)n;
                goto put;
        }
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
        proc->stats.cache_misses += (int64_t)n;
put:
        for (i = 0; i < n; i++) {
                /* The stored ids as the view held them (appended to since
                 * written whole). */
                rw_account_ids_settle(&views[i], &proc->lim);
                if (!rw_cache_put(proc->cache, tag, &views[i]))
                        abort();
        }
        for (i = 0; views_out && i < cnt; i++)
                if (!views_out[i])
                        views_out[i] = rw_cache_get(proc->cache, tag, names[i]);
        rc = 0;
done:
        free(miss);
        free(found);
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

/* The due times of views (n) into a partition's due index, as they are now. */
static void rw_dues_follow(rw_due_index_t *ix, rw_account_view_t *const *avs, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (rw_due_index_set(ix, avs[i]->account, avs[i]->due))
                        abort();
}

/* One partition's batch, up to its write: (1) the accounts due by its end
 * and those its events touch, from the cache or loaded from Redis; (2) the
 * pure replay over them (consumers/replay.c); (3) what changed, the offset
 * and the transitions, as one fenced write (executed with the other
 * partitions' in rw_process_batch()). */
static void rw_part_prepare(rw_processor_t *proc, rw_part_t *p,
                            volatile sig_atomic_t *stop) {
        int orders = !strcmp(p->topic, proc->topic_orders);
        char **due, errstr[512];
        const char **names = NULL;
        rw_account_view_t **avs = NULL;
        rw_replay_out_t out = { 0 };
        rw_replay_opts_t o;
        rw_input_peer_t *peers = NULL;
        size_t due_cnt, n = 0, i;
        int ok = 0;

        if (proc->fatal)
                return;

        /* (1) Accounts due by the end of the batch come along. */
        due = p->due.accounts;
        due_cnt = p->due.cnt;
        if (!(names = calloc(p->ev_cnt + due_cnt + 1, sizeof(*names))) ||
            !(avs = calloc(p->ev_cnt + due_cnt + 1, sizeof(*avs))))
                abort();
        for (i = 0; i < p->ev_cnt; i++)
                names[n++] = p->evs[i].account;
        for (i = 0; i < due_cnt; i++)
                names[n++] = due[i];
        /* Each name's view: the events' first, then the due ones'. */
        if (rw_part_resolve(proc, p, names, n, avs, stop))
                goto done;
        /* The batch's distinct accounts, in the order they first appear
         * (the events', then the due ones'): the order the due ones are
         * evaluated in at the end of the batch. */
        if (rw_grow(&p->accts, &p->acct_size, n + 1, sizeof(*p->accts), 256))
                abort();
        p->acct_cnt = rw_replay_distinct(avs, n, p->accts);

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

        /* (3) Into the partition's open write: a new one, or the one
         * gathering batches while the previous write is in flight. */
        if (!p->w) {
                if (!(p->w = rw_state_write_new(proc->state, p->topic, p->partition,
                                                p->expected, p->last_offset + 1,
                                                out.watermark > p->watermark ?
                                                out.watermark : 0)))
                        abort();
                rw_state_write_bounds(p->w, p->pb_first, p->pb_last);
                p->b_applied = p->b_duplicates = p->b_late = 0;
                p->b_alerts = 0;
                p->b_records = 0;
                p->pend_cnt = 0;
                if (!proc->open_since)
                        proc->open_since = rw_mono_ms();
        } else {
                rw_state_write_next(p->w, p->last_offset + 1,
                                    out.watermark > p->watermark ? out.watermark : 0);
        }
        if (out.gaps_changed)
                rw_state_write_gaps(p->w, &out.gaps);
        if (orders && rw_part_vendors(proc, p, &out, stop))
                goto done;
        /* The accounts are written once, when the write is sent
         * (rw_part_seal()): an account of several gathered batches once. */
        if (rw_grow(&p->pend, &p->pend_size, p->pend_cnt + p->acct_cnt + 1,
                    sizeof(*p->pend), 256))
                abort();
        for (i = 0; i < p->acct_cnt; i++) {
                if (i + 4 < p->acct_cnt)
                        rw_account_prefetch_data(p->accts[i + 4]);
                if (rw_account_dirty(p->accts[i]))
                        p->pend[p->pend_cnt++] = p->accts[i];
        }
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
        /* The due index has their due times now (if the write does not
         * land, the partition's views and index are dropped). Every account
         * of the batch, not only those whose due time differs from the
         * stored one: batches gathered into one write are stored together,
         * and a due time can move away from the stored one in a batch and
         * back in the next. */
        rw_dues_follow(p->dues, p->accts, p->acct_cnt);
        p->b_applied += out.applied;
        p->b_duplicates += out.duplicates;
        proc->stats.suppressed += out.suppressed;
        p->b_late += out.applied_late;
        p->b_alerts += out.alerts.cnt;
        p->b_records |= !p->follow;
        proc->stats.late += out.late;
        proc->open_events += (int64_t)p->ev_cnt;
        /* The partition moves on now; if its write does not land, the
         * position is read again from Redis (rw_fenced()). */
        p->expected = p->last_offset + 1;
        p->watermark = out.watermark;
        p->gaps = out.gaps;
        ok = 1;
done:
        if (!ok) {
                /* Stopped or failed: nothing of the open write is stored. */
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
        /* Landed: the partition's interval hashes hold what it wrote. */
        if (!err)
                (void)rw_isums_commit(p->isums, p->fl_w);      /* reset if out of memory */
        if (!err && rw_state_write_landed_unacked(p->fl_w)) {
                proc->stats.unacked++;
                rw_log_info("redis: the write of %s [%d] up to offset %lld had landed, its "
                            "reply lost; going on from there", p->topic, (int)p->partition,
                            (long long)p->fl_next);
        }
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

/* Wake the decider once the stored watermarks of this process's orders
 * partitions passed the next boundary, rather than leave it to its idle
 * tick: the group's low watermark is at most theirs, so it may have moved
 * (when another process holds the lowest partition, the pass finds nothing
 * and costs a round trip or two). */
static void rw_decider_nudge(rw_processor_t *proc) {
        int64_t low = INT64_MAX;

        for (size_t i = 0; i < proc->part_cnt; i++) {
                const rw_part_t *p = &proc->parts[i];
                if (!p->assigned || strcmp(p->topic, proc->topic_orders))
                        continue;
                if (p->watermark <= 0)
                        return;         /* not known yet: nothing to decide */
                if (p->watermark - proc->lateness_ms < low)
                        low = p->watermark - proc->lateness_ms;
        }
        if (low == INT64_MAX || low <= proc->nudged)
                return;
        if (low >= rw_decider_last(proc->decider) + proc->interval_ms &&
            low / proc->interval_ms > proc->nudged / proc->interval_ms)
                rw_decider_kick(proc->decider);
        proc->nudged = low;
}

/* Read the outcome of the batch write in flight (sending again, in the
 * foreground, what Redis refused because a watched offset moved or what a
 * connection failure left undecided, through Redis outages), then deliver
 * the outboxes it filled and commit its offsets to Kafka. */
void rw_write_finish(rw_processor_t *proc, volatile sig_atomic_t *stop) {
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
        rw_decider_nudge(proc);
        if (!*stop)
                rw_parts_drain(proc, stop);
        if (commits->cnt > 0 && !proc->fatal) {
                rd_kafka_resp_err_t kerr = rd_kafka_commit(proc->rk, commits, 1);
                if (kerr)
                        rw_log_warn("commit to Kafka: %s", rd_kafka_err2str(kerr));
        }
        rd_kafka_topic_partition_list_destroy(commits);
}

/* What the open write's accounts changed goes into it, each account once
 * however many of the gathered batches touched it; they are the write's
 * accounts in flight then (kept cached until it is read). */
static void rw_part_seal(rw_part_t *p, int orders) {
        rw_account_view_t **t;
        size_t ts;

        p->fl_acct_cnt = 0;
        for (size_t i = 0; i < p->pend_cnt; i++) {
                rw_account_view_t *av = p->pend[i];
                if (i + 4 < p->pend_cnt)
                        rw_account_prefetch(p->pend[i + 4]);
                if (i + 2 < p->pend_cnt)
                        rw_account_prefetch_data(p->pend[i + 2]);
                if (!rw_account_dirty(av))
                        continue;       /* a repeat: written already */
                if (rw_state_write_account(p->w, orders, av))
                        abort();
                rw_account_clean(av);
                p->pend[p->fl_acct_cnt++] = av;
        }
        /* Swap: the sealed accounts become the ones in flight. */
        t = p->fl_accts;
        ts = p->fl_acct_size;
        p->fl_accts = p->pend;
        p->fl_acct_size = p->pend_size;
        p->pend = t;
        p->pend_size = ts;
        p->pend_cnt = 0;
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
        proc->open_since = proc->open_events = 0;
        for (i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (!p->w)
                        continue;
                rw_part_seal(p, !strcmp(p->topic, proc->topic_orders));
                p->fl_w = p->w;
                p->w = NULL;
                /* Built when sent, after the previous write's outcome. */
                rw_state_write_isums(p->fl_w, p->isums);
                p->fl_next = p->expected;
                p->fl_follow = !p->b_records;
                p->fl_applied = p->b_applied;
                p->fl_duplicates = p->b_duplicates;
                p->fl_late = p->b_late;
                p->fl_alerts = p->b_alerts;
                proc->fl_ws[proc->fl_n] = p->fl_w;
                proc->fl_errs[proc->fl_n++] = RW_ERR_IO;
        }
        if (!proc->fl_n)
                return;
        proc->sent_at = rw_mono_ms();
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
        /* The next writes build on these; undone by rw_write_finish() if
         * they do not land. */
        for (i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (!p->fl_w)
                        continue;
                p->sent = p->fl_next;
                rw_state_write_bounds_after(p->fl_w, &p->pb_first, &p->pb_last);
        }
        if (!proc->txn)         /* nothing went out (all fenced, or stopped) */
                rw_write_finish(proc, stop);
}

/* Load the due times of the partitions `ps` (n) whose index was dropped, or
 * whose event clock passed its horizon, from Redis (all partitions in one
 * round trip, through Redis outages): those due by until[i] and the nearest
 * `state.due.max.ahead` after them (all with 0); a write in flight's
 * accounts, and the open write's, are not stored yet: their due times are
 * the truth. */
static int rw_due_load(rw_processor_t *proc, rw_part_t **ps, const int64_t *until,
                       size_t n, volatile sig_atomic_t *stop) {
        rw_due_query_t *qs = calloc(n + 1, sizeof(*qs));
        rw_outage_t outage = { 0 };
        char errstr[512];
        rw_err_t err = RW_OK;
        size_t i, j;

        if (!qs)
                abort();
        for (i = 0; i < n; i++)
                qs[i] = (rw_due_query_t){ .topic = ps[i]->topic,
                                          .partition = ps[i]->partition,
                                          .until = proc->due_ahead ? until[i] : INT64_MAX,
                                          .ahead = (size_t)proc->due_ahead };
        while (n && !proc->fatal) {
                proc->stats.redis_calls++;
                err = rw_state_due(proc->state, qs, n, errstr, sizeof(errstr));
                if (err != RW_ERR_IO || rw_redis_outage(proc, &outage, errstr, stop))
                        break;
        }
        rw_redis_outage_end(proc, &outage);
        if (err) {
                if (err != RW_ERR_IO)
                        rw_fatal(proc, "state: %s", errstr);
                else
                        rw_fatal(proc, "stopped while %s", "Redis was unreachable");
        }
        for (i = 0; i < n; i++) {
                rw_part_t *p = ps[i];
                if (!proc->fatal) {
                        rw_due_index_reset(p->dues, qs[i].horizon);
                        /* All that is due by the clock stays, however many. */
                        rw_due_index_hold(p->dues, until[i]);
                        proc->stats.due_loads++;
                        for (j = 0; j < qs[i].cnt; j++)
                                if (rw_due_index_set(p->dues, qs[i].accounts[j], qs[i].dues[j]))
                                        abort();
                        /* The write in flight's accounts, then the open
                         * write's, are not stored yet. */
                        rw_dues_follow(p->dues, p->fl_accts, p->fl_acct_cnt);
                        rw_dues_follow(p->dues, p->pend, p->pend_cnt);
                        p->dues_loaded = 1;
                }
                rw_due_query_clear(&qs[i]);
        }
        free(qs);
        return proc->fatal ? -1 : 0;
}

/* Before a batch's partitions are prepared: deliver what their outboxes
 * may hold, and take which of their accounts are due by the batch's end
 * from their due index (loaded from Redis first where it was dropped). */
static void rw_due_batch(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        rw_part_t **ps = calloc(proc->part_cnt + 1, sizeof(*ps)),
                  **load = calloc(proc->part_cnt + 1, sizeof(*load));
        int64_t *until = calloc(proc->part_cnt + 1, sizeof(*until)),
                *luntil = calloc(proc->part_cnt + 1, sizeof(*luntil));
        size_t n = 0, nl = 0, i;

        if (!ps || !load || !until || !luntil)
                abort();
        rw_parts_drain(proc, stop);
        for (i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t wm = p->watermark;

                if (!p->assigned || p->last_offset < 0)
                        continue;
                for (size_t j = 0; j < p->ev_cnt; j++)
                        if (p->evs[j].occurred_at > wm)
                                wm = p->evs[j].occurred_at;
                until[n] = p->follow ? p->follow : wm - proc->lateness_ms;
                ps[n++] = p;
                /* Not loaded, or the clock passed what it holds whole. */
                if (!p->dues_loaded || until[n - 1] > rw_due_index_horizon(p->dues)) {
                        luntil[nl] = until[n - 1];
                        load[nl++] = p;
                }
        }
        if (nl && rw_due_load(proc, load, luntil, nl, stop))
                n = 0;
        for (i = 0; i < n; i++) {
                rw_part_t *p = ps[i];
                rw_due_query_t *q = &p->due;

                rw_due_query_clear(q);
                *q = (rw_due_query_t){ .topic = p->topic, .partition = p->partition,
                                       .until = until[i] };
                rw_due_index_hold(p->dues, until[i]);
                if (rw_due_index_until(p->dues, q->until, &q->accounts, &q->dues, &q->cnt))
                        abort();
        }
        free(ps);
        free(load);
        free(until);
        free(luntil);
}

int rw_write_open(const rw_processor_t *proc) {
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (proc->parts[i].w)
                        return 1;
        return 0;
}

/* Whether the batch just prepared stays in the open writes, to go out with
 * the next: while the previous write is still in flight (Redis busy: the
 * batches that pile up meanwhile become one write, each account written
 * once), within write.max.delay and write.max.records, and while the
 * account cache is within its bound (gathered accounts cannot be packed or
 * evicted until they are sent: past the bound, gathering would hold a
 * working set larger than the cache in memory). Never waits. */
static int rw_write_gather(rw_processor_t *proc) {
        if (!proc->fl_n || !proc->txn || proc->fatal || rw_cache_over(proc->cache))
                return 0;
        if (rw_mono_ms() - proc->open_since >= proc->gather_max_ms ||
            proc->open_events >= proc->gather_max_events)
                return 0;
        return !rw_state_write_ready(proc->wstate, proc->txn);
}

int rw_write_lingers(rw_processor_t *proc) {
        int64_t now;

        /* A batch's worth of records goes out at once (a replay's batches
         * are full): only a live stream's small batches linger. */
        if (!proc->linger_ms || proc->fatal || !rw_write_open(proc) ||
            rw_cache_over(proc->cache) || proc->open_events >= proc->batch_size ||
            proc->open_events >= proc->gather_max_events)
                return 0;
        now = rw_mono_ms();
        if (now - proc->sent_at >= proc->linger_ms ||
            now - proc->open_since >= proc->gather_max_ms)
                return 0;
        /* A replay at its end: nothing more is coming. */
        return !(proc->opts.exit_at_eof && rw_all_eof(proc));
}

void rw_write_commit(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        int64_t t0 = rw_mono_us(), t1;

        /* The previous write's outcome first, then the open ones go out. */
        rw_write_finish(proc, stop);
        t1 = rw_mono_us();
        proc->stats.us_finish += t1 - t0;
        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                if (p->w && (proc->fatal || !p->assigned)) {
                        /* Not to be stored: its views are not either. */
                        rw_part_forget(proc, p);
                        rw_state_write_destroy(p->w);
                        p->w = NULL;
                }
        }
        /* Nothing is in flight: the open writes' accounts, used since the
         * previous trim, stay cached. */
        rw_cache_trim(proc->cache);
        if (!proc->fatal)
                rw_write_start(proc, stop);
        proc->stats.us_start += rw_mono_us() - t1;
}

void rw_write_tick(rw_processor_t *proc, volatile sig_atomic_t *stop) {
        if (!rw_write_lingers(proc)) {
                rw_write_commit(proc, stop);
        } else if (proc->fl_n) {
                int64_t t0 = rw_mono_us();
                rw_write_finish(proc, stop);
                proc->stats.us_finish += rw_mono_us() - t0;
        }
}

void rw_process_batch(rw_processor_t *proc, rd_kafka_message_t **msgs,
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
        if (!rw_write_gather(proc))
                rw_write_tick(proc, stop);
        /* Left open, behind a write in Redis or lingering: gathered into
         * the next write. */
        if (rw_write_open(proc))
                proc->stats.gathered++;
        proc->stats.batches++;
        rw_ops_batch(proc->opts.ops, rw_mono_us() - batch_t0);
        rw_arena_reset(&proc->arena);
        if (proc->reg_blocked && !proc->fatal)
                rw_registry_pause(proc);
}
