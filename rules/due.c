/* due.c - when a silent account's rules next change their verdict.
 *
 * Between two of its events an account's figures change only because event
 * time passes: at day boundaries (buckets enter and leave the windows), at
 * the instant inactivity's limit is exceeded, and when a cooldown ends.
 * Stepping the lifecycle (on a copy) at each of those instants in order finds
 * the first one at which a transition would happen: the account's due time.
 * Evaluating there, and only there, gives the alerts an evaluation at every
 * millisecond would give, whatever the batches. Pure. */
#include <math.h>
#include "rules/rules.h"

/* The candidate instants in (from, until], ascending: call with prev = the
 * previous candidate (initially `from`). 0 when there is none left. */
static int64_t rw_due_next_candidate(const rw_rules_params_t *p, int64_t prev,
                                     int64_t until, int64_t horizon,
                                     const int64_t *at, size_t at_cnt,
                                     const rw_fp_state_t *fp, rw_rule_source_t src) {
        int64_t best = (prev / RW_DAY_MS + 1) * RW_DAY_MS;     /* next day boundary */

        if (best > horizon)
                best = INT64_MAX;
        for (size_t i = 0; i < at_cnt; i++)
                if (at[i] > prev && at[i] < best)
                        best = at[i];
        for (int r = 0; r < RW_RULE_ACCOUNT_SHARE; r++) {
                int64_t end;
                if (rw_rule_source((rw_rule_id_t)r) != src || fp[r].firing ||
                    fp[r].resolved_at <= 0)
                        continue;
                end = fp[r].resolved_at + p->cooldown_ms;
                if (end > prev && end < best)
                        best = end;
        }
        return best == INT64_MAX || best > until ? 0 : best;
}

int rw_figures_cursor_init(rw_figures_cursor_t *c, const rw_rules_params_t *p,
                           const rw_day_bucket_t *buckets, size_t cnt,
                           int64_t orders_total, int64_t first_order, int64_t last_order) {
        size_t ord[RW_FIG_CURSOR_MAX];
        int64_t od = p->order_drop.window_ms / RW_DAY_MS,
                sd = p->spend_drop.window_ms / RW_DAY_MS,
                kd = p->spike_window_ms / RW_DAY_MS;

        if (cnt > RW_FIG_CURSOR_MAX)
                return -1;
        c->buckets = buckets;
        c->cnt = cnt;
        c->orders_total = orders_total;
        c->first_order = first_order;
        c->last_order = last_order;
        /* As rw_figures_compute() sizes the windows. */
        c->edge[RW_FE_TODAY] = 0;
        c->edge[RW_FE_OD] = od;
        c->edge[RW_FE_ODB] = od + p->order_drop.baseline_window_ms / RW_DAY_MS;
        c->edge[RW_FE_SD] = sd;
        c->edge[RW_FE_SDB] = sd + p->spend_drop.baseline_window_ms / RW_DAY_MS;
        c->edge[RW_FE_RD] = p->refund_window_ms / RW_DAY_MS;
        c->edge[RW_FE_CD] = p->satisfaction_window_ms / RW_DAY_MS;
        c->edge[RW_FE_KD] = kd;
        c->edge[RW_FE_KDB] = kd + 7 * p->spike_baseline_weeks;
        /* Bucket indexes by day (insertion sort: the buckets come nearly
         * in order, and there are at most a few hundred). */
        for (size_t i = 0; i < cnt; i++) {
                size_t j = i;
                while (j > 0 && buckets[ord[j - 1]].day > buckets[i].day) {
                        ord[j] = ord[j - 1];
                        j--;
                }
                ord[j] = i;
        }
        for (int f = 0; f < RW_FC__CNT; f++)
                c->sum[f][0] = 0;
        for (size_t k = 0; k < cnt; k++) {
                const rw_day_bucket_t *b = &buckets[ord[k]];
                uint64_t v[RW_FC__CNT] = {
                        [RW_FC_PLACED] = (uint64_t)b->placed,
                        [RW_FC_NET] = (uint64_t)b->placed_sum - (uint64_t)b->refunded_sum,
                        [RW_FC_ORDERS] = (uint64_t)b->placed + (uint64_t)b->cancelled +
                                         (uint64_t)b->refunded,
                        [RW_FC_RETURNS] = (uint64_t)b->cancelled + (uint64_t)b->refunded,
                        [RW_FC_TICKETS] = (uint64_t)b->tickets,
                        [RW_FC_HOT] = (uint64_t)b->tickets_hot,
                        [RW_FC_CSAT_N] = (uint64_t)b->csat_n,
                        [RW_FC_SENT_N] = (uint64_t)b->sentiment_n,
                };
                c->days[k] = b->day;
                for (int f = 0; f < RW_FC__CNT; f++)
                        c->sum[f][k + 1] = c->sum[f][k] + v[f];
        }
        for (int e = 0; e < RW_FE__CNT; e++)
                c->at[e] = 0;
        c->today = INT64_MIN;
        return 0;
}

/* Field f over the buckets of days [today - hi + 1, today - lo] (edges). */
static int64_t rw_fc_range(const rw_figures_cursor_t *c, int f, int lo, int hi) {
        size_t a = c->at[hi], b = c->at[lo];
        return b > a ? (int64_t)(c->sum[f][b] - c->sum[f][a]) : 0;
}

void rw_figures_cursor_at(rw_figures_cursor_t *c, int64_t now, rw_account_figures_t *fig) {
        int64_t today = now / RW_DAY_MS;

        if (today != c->today) {
                /* at[e]: the first bucket whose day is past today - edge,
                 * i.e. on or after the first day of the window ending there
                 * (TODAY: past today, the end of every window). */
                for (int e = 0; e < RW_FE__CNT; e++) {
                        int64_t first = today - c->edge[e] + 1;
                        size_t k = c->today <= today ? c->at[e] : 0;
                        while (k < c->cnt && c->days[k] < first)
                                k++;
                        c->at[e] = k;
                }
                c->today = today;
        }
        *fig = (rw_account_figures_t){ .now = now, .orders_total = c->orders_total,
                                       .first_order = c->first_order,
                                       .last_order = c->last_order };
        /* Windows [today - w + 1, today]: the buckets in [at[w], at[TODAY]);
         * baselines [today - wb + 1, today - w]: [at[wb], at[w]). */
        fig->placed_30 = rw_fc_range(c, RW_FC_PLACED, RW_FE_TODAY, RW_FE_OD);
        fig->placed_base = rw_fc_range(c, RW_FC_PLACED, RW_FE_OD, RW_FE_ODB);
        fig->net_spend_30 = rw_fc_range(c, RW_FC_NET, RW_FE_TODAY, RW_FE_SD);
        fig->net_spend_base = rw_fc_range(c, RW_FC_NET, RW_FE_SD, RW_FE_SDB);
        fig->spend_base_placed = rw_fc_range(c, RW_FC_PLACED, RW_FE_SD, RW_FE_SDB);
        fig->orders_30 = rw_fc_range(c, RW_FC_ORDERS, RW_FE_TODAY, RW_FE_RD);
        fig->returns_30 = rw_fc_range(c, RW_FC_RETURNS, RW_FE_TODAY, RW_FE_RD);
        fig->tickets_7 = rw_fc_range(c, RW_FC_TICKETS, RW_FE_TODAY, RW_FE_KD);
        fig->tickets_hot_7 = rw_fc_range(c, RW_FC_HOT, RW_FE_TODAY, RW_FE_KD);
        fig->tickets_base = rw_fc_range(c, RW_FC_TICKETS, RW_FE_KD, RW_FE_KDB);
        fig->csat_n_30 = rw_fc_range(c, RW_FC_CSAT_N, RW_FE_TODAY, RW_FE_CD);
        fig->sentiment_n_30 = rw_fc_range(c, RW_FC_SENT_N, RW_FE_TODAY, RW_FE_CD);
        if (fig->csat_n_30 || fig->sentiment_n_30) {
                /* The averages' sums in the buckets' own order, as
                 * rw_figures_compute() adds them: the same doubles. (With
                 * no answer in the window they are 0: a bucket's sums grow
                 * only with its counts.) */
                int64_t lo = today - c->edge[RW_FE_CD];
                for (size_t i = 0; i < c->cnt; i++) {
                        const rw_day_bucket_t *b = &c->buckets[i];
                        if (b->day > today || b->day <= lo)
                                continue;
                        fig->csat_sum_30 += b->csat_sum;
                        fig->sentiment_sum_30 += b->sentiment_sum;
                }
        }
}

int64_t rw_rules_next_due(const rw_rules_params_t *p, rw_rule_source_t src,
                          const rw_day_bucket_t *buckets, size_t cnt,
                          int64_t orders_total, int64_t first_order,
                          int64_t last_order, const rw_fp_state_t *fp_in,
                          int64_t from, int64_t until) {
        return rw_rules_next_due_gap(p, src, buckets, cnt, orders_total, first_order,
                                     last_order, fp_in, NULL, from, until);
}

int64_t rw_rules_next_due_gap(const rw_rules_params_t *p, rw_rule_source_t src,
                              const rw_day_bucket_t *buckets, size_t cnt,
                              int64_t orders_total, int64_t first_order,
                              int64_t last_order, const rw_fp_state_t *fp_in,
                              const rw_input_gaps_t *gaps, int64_t from, int64_t until) {
        rw_fp_state_t fp[RW_RULE__CNT];
        int64_t maxday = -1, horizon, inact_at = 0, t, limit_ms = 0;
        /* Instants other than day boundaries: the inactivity limit, the
         * ends of an outage's holds. */
        int64_t at[1 + 3 * RW_INPUT_GAPS];
        size_t at_cnt = 0;
        rw_figures_cursor_t fc;
        int fc_ok;

        for (int r = 0; r < RW_RULE__CNT; r++)
                fp[r] = fp_in[r];
        for (size_t i = 0; i < cnt; i++)
                if (buckets[i].day > maxday)
                        maxday = buckets[i].day;
        /* Past the longest window after the last bucket nothing changes. */
        horizon = (maxday + rw_rules_state_days(p) + 2) * RW_DAY_MS;
        if (src == RW_SRC_ORDERS && p->enabled[RW_RULE_INACTIVITY] &&
            orders_total >= p->inactivity_min_orders && orders_total > 1) {
                double gap = (double)(last_order - first_order) /
                             (double)(orders_total - 1);
                double limit = p->inactivity_gap_factor * gap;
                if (limit < (double)p->inactivity_min_ms)
                        limit = (double)p->inactivity_min_ms;
                inact_at = last_order + (int64_t)floor(limit) + 1;
                limit_ms = (int64_t)limit;
                at[at_cnt++] = inact_at;
        }
        for (int g = 0; src == RW_SRC_ORDERS && gaps && p->input_gap_ms > 0 &&
                        g < gaps->out_cnt; g++) {
                const rw_input_gap_t *gp = &gaps->out[g];
                if (gp->end - gp->start <= p->input_gap_ms)
                        continue;
                /* rw_rules_gap_held: held while now < end + hold. */
                at[at_cnt++] = gp->end + p->order_drop.window_ms;
                at[at_cnt++] = gp->end + p->spend_drop.window_ms;
                if (limit_ms)
                        at[at_cnt++] = gp->end + limit_ms;
        }

        /* The cursor pays off over more than a few weeks of days. */
        fc_ok = until - from > 21 * RW_DAY_MS &&
                !rw_figures_cursor_init(&fc, p, buckets, cnt, orders_total, first_order,
                                        last_order);
        for (t = from; (t = rw_due_next_candidate(p, t, until, horizon, at, at_cnt,
                                                  fp, src)) != 0; ) {
                rw_account_figures_t fig;

                if (fc_ok)
                        rw_figures_cursor_at(&fc, t, &fig);
                else
                        rw_figures_compute(p, buckets, cnt, orders_total, first_order,
                                           last_order, t, &fig);
                for (int r = 0; r < RW_RULE_ACCOUNT_SHARE; r++) {
                        rw_rule_id_t id = (rw_rule_id_t)r;
                        rw_decision_t dec;

                        if (rw_rule_source(id) != src ||
                            !rw_rules_decide_account(id, p, &fig, &fp[r], gaps, &dec))
                                continue;
                        if (rw_lifecycle_step(&fp[r], &dec, t, p->cooldown_ms) !=
                            RW_TRANS_NONE)
                                return t;
                }
        }
        return 0;
}
