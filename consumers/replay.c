/* replay.c - the pure core of a batch: event-time replay of one partition's
 * events over its accounts, rule evaluation and lifecycle steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "consumers/replay.h"

void rw_alerts_clear(rw_alerts_t *al) {
        for (size_t i = 0; i < al->cnt; i++)
                free(al->strs[i]);
        free(al->v);
        free(al->strs);
        memset(al, 0, sizeof(*al));
}

void rw_replay_out_clear(rw_replay_out_t *out) {
        free(out->flags);
        free(out->pbk);
        rw_alerts_clear(&out->alerts);
        memset(out, 0, sizeof(*out));
}

/* Room for one more alert whose strings take up to `fpr_size` (the
 * fingerprint) and `sum_size` (the summary) bytes. */
static rw_alert_t *rw_alerts_add(rw_alerts_t *al, size_t fpr_size, size_t sum_size,
                                 char **fpr, char **aid, char **sum) {
        char *m;

        if (al->cnt == al->size) {
                /* Two arrays of one capacity. */
                size_t nv = al->size, ns = al->size;
                if (rw_grow(&al->v, &nv, al->cnt + 1, sizeof(*al->v), 16) ||
                    rw_grow(&al->strs, &ns, al->cnt + 1, sizeof(*al->strs), 16))
                        return NULL;
                al->size = nv;
        }
        if (!(m = malloc(fpr_size + RW_ALERT_ID_SIZE + sum_size)))
                return NULL;
        al->strs[al->cnt] = m;
        *fpr = m;
        *aid = m + fpr_size;
        *sum = m + fpr_size + RW_ALERT_ID_SIZE;
        return &al->v[al->cnt++];
}

/* The instant an account's rules are evaluated at for the watermark `now`:
 * never before its latest event, so that every event a verdict counts lies
 * at or before the verdict's event time. */
static int64_t rw_eval_time(const rw_account_view_t *av, int64_t now) {
        return av->last_at > now ? av->last_at : now;
}

/* Evaluate an account's rules of the partition's stream at event time
 * `now`: right after one of its events (at `offset`) was applied, or, with
 * offset -1, because event time reached its due time. `gaps`: the
 * partition's input outages as of then. */
static int rw_evaluate(const rw_replay_opts_t *o, const rw_input_gaps_t *gaps,
                       rw_account_view_t *av, int64_t now, int64_t offset,
                       rw_alerts_t *al, int64_t *suppressed) {
        rw_account_figures_t fig;
        int64_t e[RW_FIGURES_EDGES];

        /* The figures of the partition's stream: its rules read no other. */
        (void)rw_figures_edges(o->params, e);
        rw_figures_compute_src(e, o->src, av->buckets, av->bucket_cnt, av->orders_total,
                               av->first_order, av->last_order, now, &fig);
        for (int r = 0; r < RW_RULE__CNT; r++) {
                rw_rule_id_t id = (rw_rule_id_t)r;
                rw_decision_t dec;
                rw_transition_t tr;
                rw_alert_t *a;
                char *fpr, *aid, *sum;
                size_t acct_len, fpr_size, sum_size;

                if (rw_rule_subject(id) != RW_SUBJ_ACCOUNT ||
                    rw_rule_category(id) != RW_CAT_CHURN || rw_rule_source(id) != o->src)
                        continue;
                if (!rw_rules_decide_account(id, o->params, &fig, &av->fp[id], gaps, &dec))
                        continue;
                tr = rw_lifecycle_step(&av->fp[id], &dec, now, o->params->cooldown_ms);
                if (tr == RW_TRANS_NONE)
                        continue;
                av->fp_dirty[id] = 1;
                if (now < o->emit_from) {       /* a replay's warm-up */
                        (*suppressed)++;
                        continue;
                }
                /* Sized for the account id, whatever its length. */
                acct_len = strlen(av->account);
                fpr_size = strlen(rw_rule_name(id)) + sizeof("/ACCOUNT/") + acct_len;
                sum_size = acct_len + 512;
                if (!(a = rw_alerts_add(al, fpr_size, sum_size, &fpr, &aid, &sum)))
                        return -1;
                snprintf(fpr, fpr_size, "%s/ACCOUNT/%s", rw_rule_name(id), av->account);
                *a = (rw_alert_t){
                        .fingerprint = fpr, .alert_id = aid, .summary = sum,
                        .rule = rw_rule_name(id),
                        .category = rw_rule_category(id),
                        .subject_type = RW_SUBJ_ACCOUNT,
                        .subject_id = av->account,
                        .status = tr == RW_TRANS_RESOLVED ? RW_ALERT_RESOLVED :
                                                            RW_ALERT_FIRING,
                        .severity = av->fp[id].severity,
                        .observed = dec.observed, .threshold = dec.threshold,
                        .has_baseline = dec.has_baseline, .baseline = dec.baseline,
                        .window_ms = dec.window_ms, .event_time = now,
                        .emitted_at = o->wall_ms,
                        .source_topic = offset >= 0 ? o->topic : "",
                        .source_partition = offset >= 0 ? o->partition : -1,
                        .source_offset = offset,
                        .replay = o->replay,
                };
                rw_alert_id_derive(fpr, rw_alert_status_name(a->status),
                                   rw_alert_severity_name(a->severity), now, aid,
                                   RW_ALERT_ID_SIZE);
                rw_rules_summary(id, av->account, tr == RW_TRANS_RESOLVED, &dec, sum, sum_size);
        }
        return 0;
}

/* The account's next due time after `from`; `evaluated`: rw_evaluate() has
 * just run at `from` with these gaps (its verdicts are in av->fp). */
static int64_t rw_next_due(const rw_replay_opts_t *o, const rw_input_gaps_t *gaps,
                           const rw_account_view_t *av, int64_t from, int64_t until,
                           int evaluated) {
        return rw_rules_next_due_gap(o->params, o->src, av->buckets, av->bucket_cnt,
                                     av->orders_total, av->first_order, av->last_order,
                                     av->fp, gaps, rw_eval_time(av, from), until, evaluated);
}

/* Evaluate the account at every due time up to `upto`, in order. `until`
 * bounds the search for the next one (the account's next event in the
 * batch re-schedules it anyway). */
static int rw_run_due(const rw_replay_opts_t *o, const rw_input_gaps_t *gaps,
                      rw_account_view_t *av, int64_t upto, int64_t until,
                      rw_alerts_t *al, int64_t *suppressed) {
        while (av->due > 0 && av->due <= upto) {
                int64_t t = av->due;
                if (rw_evaluate(o, gaps, av, t, -1, al, suppressed))
                        return -1;
                av->due = rw_next_due(o, gaps, av, t, until, rw_eval_time(av, t) == t);
        }
        return 0;
}

/* The batch's accounts by view address, to find an event's account index:
 * open addressing over twice as many slots, each the index + 1 (0: empty). */
static size_t rw_acct_slot(const rw_account_view_t *av, size_t mask) {
        return (size_t)(((uintptr_t)av >> 4) * 0x9e3779b97f4a7c15ULL >> 17) & mask;
}

size_t rw_replay_distinct(rw_account_view_t *const *avs, size_t n, rw_account_view_t **out) {
        size_t mask = 15, cnt = 0;
        rw_account_view_t **set;

        while (mask + 1 < 2 * n)
                mask = mask * 2 + 1;
        if (!(set = calloc(mask + 1, sizeof(*set))))
                abort();
        for (size_t i = 0; i < n; i++) {
                size_t h = rw_acct_slot(avs[i], mask);
                while (set[h] && set[h] != avs[i])
                        h = (h + 1) & mask;
                if (!set[h])
                        out[cnt++] = set[h] = avs[i];
        }
        free(set);
        return cnt;
}

static ssize_t rw_acct_find(const size_t *tab, size_t mask, rw_account_view_t *const *accts,
                            const rw_account_view_t *av) {
        for (size_t i = rw_acct_slot(av, mask); tab[i]; i = (i + 1) & mask)
                if (accts[tab[i] - 1] == av)
                        return (ssize_t)tab[i] - 1;
        return -1;
}

int rw_replay_gap_ahead(const rw_replay_opts_t *o, const rw_state_event_t *evs, size_t cnt) {
        rw_input_gaps_t scratch = { 0 };
        int64_t wm = o->watermark;

        if (o->src == RW_SRC_ORDERS && o->follow_from > 0 && !cnt)
                return rw_input_gaps_note(&scratch, o->params, o->follow_from,
                                          o->watermark - o->lateness_ms);

        for (size_t j = 0; o->src == RW_SRC_ORDERS && j < cnt; j++) {
                if (rw_input_gaps_note(&scratch, o->params, wm, evs[j].occurred_at))
                        return 1;
                if (evs[j].occurred_at > wm)
                        wm = evs[j].occurred_at;
        }
        return 0;
}

int rw_replay_batch(const rw_replay_opts_t *o, const rw_state_event_t *evs,
                    const int64_t *offsets, size_t cnt, rw_account_view_t *const *avs,
                    rw_account_view_t *const *accts, size_t acct_cnt,
                    rw_replay_out_t *out) {
        int64_t wm = o->watermark, now, *nows = NULL;
        /* Per event: the outages as of it, one copy per change (rare). */
        rw_input_gaps_t *snaps = NULL;
        size_t *snap_of = NULL, snap_cnt = 0, snap_size = 0;
        ssize_t *next_same = NULL, *last_of = NULL;
        size_t *ix = NULL, ix_mask = 15;
        int rc = -1;
        size_t j;

        memset(out, 0, sizeof(*out));
        nows = calloc(cnt + 1, sizeof(*nows));
        next_same = calloc(cnt + 1, sizeof(*next_same));
        last_of = calloc(acct_cnt + 1, sizeof(*last_of));
        while (ix_mask + 1 < 2 * acct_cnt)
                ix_mask = ix_mask * 2 + 1;
        ix = calloc(ix_mask + 1, sizeof(*ix));
        snap_of = calloc(cnt + 1, sizeof(*snap_of));
        out->flags = calloc(cnt + 1, 1);
        out->pbk = calloc(cnt + 1, sizeof(*out->pbk));
        if (!nows || !next_same || !last_of || !ix || !snap_of || !out->flags || !out->pbk)
                goto done;
        for (j = 0; j < acct_cnt; j++) {
                size_t i = rw_acct_slot(accts[j], ix_mask);
                while (ix[i] && accts[ix[i] - 1] != accts[j])
                        i = (i + 1) & ix_mask;
                if (!ix[i])     /* a view listed twice keeps its first index */
                        ix[i] = j + 1;
                last_of[j] = -1;
        }

        /* Each event's watermark and input outages, and each account's
         * next event. A re-delivered event carries its original's time,
         * which the watermark has passed already: counting it changes
         * nothing. An outage (of an orders partition: the silence rules
         * read it) depends on the partition's events in offset order only. */
        out->gaps = o->gaps;
        out->stop = -1;
        if (rw_grow(&snaps, &snap_size, 1, sizeof(*snaps), 4))
                goto done;
        snaps[snap_cnt++] = out->gaps;
        /* A follow moves the clock of a partition that has nothing more to
         * read: a jump longer than input.gap is a gap of it as an event's
         * would be. Its peers passed the clock (it is the group's low
         * watermark) unless one came back to life since: then none is noted. */
        if (o->src == RW_SRC_ORDERS && o->follow_from > 0 && !cnt) {
                rw_input_gaps_t g = out->gaps;
                int64_t to = wm - o->lateness_ms;

                if (rw_input_gaps_note(&g, o->params, o->follow_from, to) &&
                    o->peer_cnt >= 0 &&
                    rw_input_gaps_group(&g, o->params, o->follow_from, to, o->peers,
                                        (size_t)o->peer_cnt)) {
                        out->gaps = g;
                        out->gaps_changed = 1;
                }
        }
        for (j = 0; j < cnt; j++) {
                ssize_t hit;
                rw_input_gaps_t g = out->gaps;
                int64_t at;

                next_same[j] = -1;
                /* A gap of the partition: the group's outages in it once
                 * every other orders partition passed its end. */
                if (o->src == RW_SRC_ORDERS &&
                    rw_input_gaps_note(&g, o->params, wm, evs[j].occurred_at)) {
                        if (o->peer_cnt < 0 ||
                            !rw_input_gaps_group(&g, o->params, wm, evs[j].occurred_at,
                                                 o->peers, (size_t)o->peer_cnt)) {
                                /* The gap itself is a fact: stored, so that
                                 * the others waiting at the same outage
                                 * know this partition was silent up to it. */
                                out->gaps = g;
                                out->gaps_changed = 1;
                                out->stop = (ssize_t)j;
                                out->need = evs[j].occurred_at;
                                break;
                        }
                        if (rw_grow(&snaps, &snap_size, snap_cnt + 1, sizeof(*snaps), 4))
                                goto done;
                        out->gaps = snaps[snap_cnt++] = g;
                        out->gaps_changed = 1;
                }
                snap_of[j] = snap_cnt - 1;
                if (evs[j].occurred_at > wm)
                        wm = evs[j].occurred_at;
                else if (evs[j].occurred_at < wm - o->lateness_ms)
                        out->late++;
                nows[j] = wm - o->lateness_ms;
                /* The portfolio interval the order counts in: never one the
                 * partition has passed (or the group has decided), so the
                 * intervals a boundary folds are final. */
                at = evs[j].occurred_at;
                if (at < nows[j])
                        at = nows[j];
                if (at < o->dep_decided)
                        at = o->dep_decided;
                out->pbk[j] = at / o->interval_ms;
                if ((hit = rw_acct_find(ix, ix_mask, accts, avs[j])) >= 0) {
                        if (last_of[hit] >= 0)
                                next_same[last_of[hit]] = (ssize_t)j;
                        last_of[hit] = (ssize_t)j;
                }
        }
        if (out->stop >= 0)
                cnt = (size_t)out->stop;        /* the rest waits */
        now = wm - o->lateness_ms;
        out->watermark = wm;

        /* Replay: due times the watermark passes before an account's event
         * come first, then the event (unless its account remembers its id)
         * and its evaluation. An account's verdicts depend on its own
         * history and the event time only, so their order relative to
         * other accounts' events does not matter. */
        for (j = 0; j < cnt; j++) {
                const rw_state_event_t *ev = &evs[j];
                rw_account_view_t *av = avs[j];
                int64_t until = next_same[j] >= 0 ? nows[next_same[j]] : INT64_MAX;
                uint64_t h1, h2;

                if (j + 4 < cnt)
                        rw_account_prefetch(avs[j + 4]);
                if (j + 2 < cnt)
                        rw_account_prefetch_data(avs[j + 2]);

                if (rw_run_due(o, &snaps[snap_of[j]], av, nows[j], nows[j], &out->alerts,
                               &out->suppressed))
                        goto done;
                rw_event_id_hash(ev->event_id, &h1, &h2);
                if (rw_account_seen_hashed(av, h1, h2, ev->offset)) {
                        out->flags[j] = 'd';
                        out->pbk[j] = -1;
                        out->duplicates++;
                        av->due = rw_next_due(o, &snaps[snap_of[j]], av, nows[j], until, 0);
                        continue;
                }
                out->flags[j] = '1';
                out->applied++;
                if (ev->occurred_at < nows[j])
                        out->applied_late++;
                if (ev->occurred_at > out->max_at)
                        out->max_at = ev->occurred_at;
                if (rw_account_apply_hashed(av, ev, h1, h2, &o->lim) ||
                    rw_evaluate(o, &snaps[snap_of[j]], av, rw_eval_time(av, nows[j]), offsets[j],
                                &out->alerts, &out->suppressed))
                        goto done;
                av->due = rw_next_due(o, &snaps[snap_of[j]], av, nows[j], until, 1);
                /* An event ahead of now (held back by the lateness) counts
                 * from its own time, not from the start of its day: the
                 * account's figures take its whole day's bucket, so it is
                 * not evaluated in that day before the event. */
                if (av->due > 0 && av->due < ev->occurred_at &&
                    av->due / RW_DAY_MS == ev->occurred_at / RW_DAY_MS)
                        av->due = ev->occurred_at;
        }
        for (j = 0; j < acct_cnt; j++) {
                if (j + 4 < acct_cnt)
                        rw_account_prefetch(accts[j + 4]);
                if (rw_run_due(o, &out->gaps, accts[j], now, INT64_MAX, &out->alerts,
                               &out->suppressed))
                        goto done;
                rw_account_due_keep(accts[j], now);
        }
        rc = 0;
done:
        free(nows);
        free(next_same);
        free(last_of);
        free(ix);
        free(snaps);
        free(snap_of);
        return rc;
}
