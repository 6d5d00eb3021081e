/* rules.c - the contract's churn rules and the alert lifecycle, pure. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rules/rules.h"

static const struct {
        const char *name;
        rw_category_t category;
        rw_subject_type_t subject;
} rw_rule_tbl[RW_RULE__CNT] = {
        [RW_RULE_ORDER_DROP]       = { "churn.order_drop", RW_CAT_CHURN, RW_SUBJ_ACCOUNT },
        [RW_RULE_SPEND_DROP]       = { "churn.spend_drop", RW_CAT_CHURN, RW_SUBJ_ACCOUNT },
        [RW_RULE_INACTIVITY]       = { "churn.inactivity", RW_CAT_CHURN, RW_SUBJ_ACCOUNT },
        [RW_RULE_SUPPORT_SPIKE]    = { "churn.support_spike", RW_CAT_CHURN, RW_SUBJ_ACCOUNT },
        [RW_RULE_LOW_SATISFACTION] = { "churn.low_satisfaction", RW_CAT_CHURN, RW_SUBJ_ACCOUNT },
        [RW_RULE_REFUND_RATE]      = { "churn.refund_rate", RW_CAT_CHURN, RW_SUBJ_ACCOUNT },
        [RW_RULE_ACCOUNT_SHARE]    = { "dependency.account_share", RW_CAT_DEPENDENCY, RW_SUBJ_ACCOUNT },
        [RW_RULE_VENDOR_SHARE]     = { "dependency.vendor_share", RW_CAT_DEPENDENCY, RW_SUBJ_VENDOR },
        [RW_RULE_ACCOUNT_HHI]      = { "dependency.account_hhi", RW_CAT_DEPENDENCY, RW_SUBJ_PORTFOLIO },
        [RW_RULE_VENDOR_HHI]       = { "dependency.vendor_hhi", RW_CAT_DEPENDENCY, RW_SUBJ_PORTFOLIO },
};

const char *rw_rule_name(rw_rule_id_t id) {
        assert(id < RW_RULE__CNT);
        return rw_rule_tbl[id].name;
}

rw_rule_id_t rw_rule_by_name(const char *name, size_t len) {
        for (int i = 0; i < RW_RULE__CNT; i++)
                if (strlen(rw_rule_tbl[i].name) == len &&
                    !memcmp(rw_rule_tbl[i].name, name, len))
                        return (rw_rule_id_t)i;
        return RW_RULE__CNT;
}

void rw_fp_state_format(const rw_fp_state_t *st, char *buf, size_t size) {
        snprintf(buf, size, "%d,%d,%lld", st->firing, (int)st->severity,
                 (long long)st->resolved_at);
}

void rw_fp_state_parse(const char *csv, rw_fp_state_t *st) {
        long long firing = 0, sev = 0, resolved = 0;
        sscanf(csv, "%lld,%lld,%lld", &firing, &sev, &resolved);
        st->firing = (int)firing;
        st->severity = (rw_alert_severity_t)sev;
        st->resolved_at = resolved;
}

rw_rule_source_t rw_rule_source(rw_rule_id_t id) {
        assert(id < RW_RULE__CNT);
        return id == RW_RULE_SUPPORT_SPIKE || id == RW_RULE_LOW_SATISFACTION ?
               RW_SRC_SUPPORT : RW_SRC_ORDERS;
}

rw_category_t rw_rule_category(rw_rule_id_t id) {
        assert(id < RW_RULE__CNT);
        return rw_rule_tbl[id].category;
}

rw_subject_type_t rw_rule_subject(rw_rule_id_t id) {
        assert(id < RW_RULE__CNT);
        return rw_rule_tbl[id].subject;
}

/* A window of whole days, in days. */
static int64_t rw_days(int64_t ms) {
        return ms / RW_DAY_MS;
}

size_t rw_figures_edges(const rw_rules_params_t *p, int64_t *days) {
        size_t n = 0;
        /* The windows of rw_figures_compute(), in its order. */
        days[n++] = rw_days(p->order_drop.window_ms);
        days[n++] = days[0] + rw_days(p->order_drop.baseline_window_ms);
        days[n++] = rw_days(p->spend_drop.window_ms);
        days[n++] = days[2] + rw_days(p->spend_drop.baseline_window_ms);
        days[n++] = rw_days(p->refund_window_ms);
        days[n++] = rw_days(p->satisfaction_window_ms);
        days[n++] = rw_days(p->spike_window_ms);
        days[n++] = days[6] + 7 * p->spike_baseline_weeks;
        return n;
}

/* The sums of rw_figures_compute(), of the orders' figures and/or the
 * support figures. */
static void rw_figures_sum(const int64_t *e, int orders, int support,
                           const rw_day_bucket_t *buckets, size_t cnt,
                           int64_t orders_total, int64_t first_order,
                           int64_t last_order, int64_t now,
                           rw_account_figures_t *fig) {
        int64_t today = now / RW_DAY_MS;
        int64_t od = e[0], odb = e[1], sd = e[2], sdb = e[3], rd = e[4], cd = e[5],
                kd = e[6], kdb = e[7];

        *fig = (rw_account_figures_t){ .now = now,
                                       .orders_total = orders_total,
                                       .first_order = first_order,
                                       .last_order = last_order };
        for (size_t i = 0; i < cnt; i++) {
                const rw_day_bucket_t *b = &buckets[i];
                int64_t age = today - b->day;   /* 0 = today */

                if (b->day > today)
                        continue;               /* ahead of the watermark */
                if (orders) {
                        int64_t net = b->placed_sum - b->refunded_sum;
                        if (age < od)
                                fig->placed_30 += b->placed;
                        else if (age < odb)
                                fig->placed_base += b->placed;
                        if (age < sd) {
                                fig->net_spend_30 += net;
                        } else if (age < sdb) {
                                fig->net_spend_base += net;
                                fig->spend_base_placed += b->placed;
                        }
                        if (age < rd) {
                                fig->orders_30 += b->placed + b->cancelled + b->refunded;
                                fig->returns_30 += b->cancelled + b->refunded;
                        }
                }
                if (support) {
                        if (age < cd) {
                                fig->csat_sum_30 += b->csat_sum;
                                fig->csat_n_30 += b->csat_n;
                                fig->sentiment_sum_30 += b->sentiment_sum;
                                fig->sentiment_n_30 += b->sentiment_n;
                        }
                        if (age < kd) {
                                fig->tickets_7 += b->tickets;
                                fig->tickets_hot_7 += b->tickets_hot;
                        } else if (age < kdb) {
                                fig->tickets_base += b->tickets;
                        }
                }
        }
}

void rw_figures_compute(const rw_rules_params_t *p,
                        const rw_day_bucket_t *buckets, size_t cnt,
                        int64_t orders_total, int64_t first_order,
                        int64_t last_order, int64_t now,
                        rw_account_figures_t *fig) {
        int64_t e[RW_FIGURES_EDGES];
        size_t ne = rw_figures_edges(p, e);

        assert(ne == RW_FIGURES_EDGES);
        (void)ne;
        rw_figures_sum(e, 1, 1, buckets, cnt, orders_total, first_order, last_order, now, fig);
}

void rw_figures_compute_src(const int64_t *e, rw_rule_source_t src,
                            const rw_day_bucket_t *buckets, size_t cnt,
                            int64_t orders_total, int64_t first_order,
                            int64_t last_order, int64_t now,
                            rw_account_figures_t *fig) {
        rw_figures_sum(e, src == RW_SRC_ORDERS, src == RW_SRC_SUPPORT, buckets, cnt,
                       orders_total, first_order, last_order, now, fig);
}

void rw_rules_params_default(rw_rules_params_t *p) {
        const rw_rules_drop_params_t drop = {
                .warn = 0.5, .crit = 0.25, .min_baseline = 6,
                .window_ms = 30 * RW_DAY_MS, .baseline_window_ms = 90 * RW_DAY_MS,
        };

        *p = (rw_rules_params_t){
                .hysteresis = 0.10,
                .cooldown_ms = 24 * 3600 * 1000LL,
                .order_drop = drop, .spend_drop = drop,
                .inactivity_min_ms = 14 * RW_DAY_MS,
                .inactivity_gap_factor = 3.0, .inactivity_min_orders = 3,
                .spike_window_ms = 7 * RW_DAY_MS, .spike_baseline_weeks = 8,
                .spike_min_tickets = 3, .spike_factor = 3.0,
                .satisfaction_window_ms = 30 * RW_DAY_MS,
                .csat_max = 2.5, .csat_min_answers = 2,
                .sentiment_max = -0.5, .sentiment_min_events = 3,
                .refund_window_ms = 30 * RW_DAY_MS,
                .refund_share = 0.25, .refund_min_orders = 4,
        };
        for (int i = 0; i < RW_RULE__CNT; i++)
                p->enabled[i] = 1;
        p->dep_warn[RW_RULE_ACCOUNT_SHARE] = 0.25;
        p->dep_crit[RW_RULE_ACCOUNT_SHARE] = 0.40;
        p->dep_warn[RW_RULE_VENDOR_SHARE] = 0.30;
        p->dep_crit[RW_RULE_VENDOR_SHARE] = 0.50;
        p->dep_warn[RW_RULE_ACCOUNT_HHI] = 1800;
        p->dep_crit[RW_RULE_ACCOUNT_HHI] = 2500;
        p->dep_warn[RW_RULE_VENDOR_HHI] = 1800;
        p->dep_crit[RW_RULE_VENDOR_HHI] = 2500;
        p->dep_window_ms = 90 * RW_DAY_MS;
        p->dep_min_history_ms = 30 * RW_DAY_MS;
        p->dep_min_orders = 50;
        p->dep_min_subjects[0] = 10;
        p->dep_min_subjects[1] = 3;
        p->input_gap_ms = 7 * RW_DAY_MS;
}

static int64_t rw_max64(int64_t a, int64_t b) {
        return a > b ? a : b;
}

int64_t rw_rules_state_days(const rw_rules_params_t *p) {
        int64_t days = rw_days(p->order_drop.window_ms +
                               p->order_drop.baseline_window_ms);

        days = rw_max64(days, rw_days(p->spend_drop.window_ms +
                                      p->spend_drop.baseline_window_ms));
        days = rw_max64(days, rw_days(p->spike_window_ms) +
                              7 * p->spike_baseline_weeks);
        days = rw_max64(days, rw_days(p->satisfaction_window_ms));
        days = rw_max64(days, rw_days(p->refund_window_ms));
        return days;
}

int rw_rules_eval_portfolio(rw_rule_id_t id, const rw_rules_params_t *p,
                            double value, double total, int64_t history_ms,
                            rw_decision_t *dec) {
        double warn = p->dep_warn[id], crit = p->dep_crit[id], obs;

        *dec = (rw_decision_t){ .severity = RW_SEV_WARNING };
        if (id < RW_RULE_ACCOUNT_SHARE || !p->enabled[id] ||
            history_ms < p->dep_min_history_ms || total <= 0)
                return 0;
        if (id == RW_RULE_ACCOUNT_SHARE || id == RW_RULE_VENDOR_SHARE)
                obs = value / total;
        else
                obs = value / (total * total) * 10000.0;
        dec->observed = obs;
        dec->window_ms = p->dep_window_ms;
        dec->holds = obs > warn;
        dec->severity = obs > crit ? RW_SEV_CRITICAL : RW_SEV_WARNING;
        dec->threshold = obs > crit ? crit : warn;
        dec->clear = obs < warn * (1.0 - p->hysteresis);
        return 1;
}

/* A "falls below" rule: the ratio of the last window to the baseline rate
 * (the baseline window's total scaled to the window's length). */
static int rw_eval_drop(const rw_rules_drop_params_t *d, double hysteresis,
                        double recent, double base, int64_t base_orders,
                        const rw_account_figures_t *fig, rw_decision_t *dec) {
        double baseline, ratio;

        /* The baseline needs window + baseline window of order history to be
         * a full one. Counted from the first PLACED order, which only the
         * orders stream moves (support events must not change order
         * decisions). */
        if (base_orders < d->min_baseline || fig->orders_total <= 0 ||
            fig->now - fig->first_order < d->window_ms + d->baseline_window_ms)
                return 0;
        baseline = base * (double)d->window_ms / (double)d->baseline_window_ms;
        if (baseline <= 0)
                return 0;
        ratio = recent / baseline;
        dec->observed = ratio;
        dec->has_baseline = 1;
        dec->baseline = baseline;
        dec->window_ms = d->window_ms;
        dec->holds = ratio < d->warn;
        dec->severity = ratio < d->crit ? RW_SEV_CRITICAL : RW_SEV_WARNING;
        dec->threshold = ratio < d->crit ? d->crit : d->warn;
        dec->clear = ratio >= d->warn * (1.0 + hysteresis);
        return 1;
}

double rw_rules_inactivity_limit(const rw_rules_params_t *p, int64_t orders_total,
                                 int64_t first_order, int64_t last_order,
                                 double *mean_gapp) {
        double mean_gap = orders_total > 1 ?
                          (double)(last_order - first_order) /
                          (double)(orders_total - 1) : 0.0;
        double limit = p->inactivity_gap_factor * mean_gap;

        if (mean_gapp)
                *mean_gapp = mean_gap;
        return limit < (double)p->inactivity_min_ms ? (double)p->inactivity_min_ms : limit;
}

int rw_rules_eval_account(rw_rule_id_t id, const rw_rules_params_t *p,
                          const rw_account_figures_t *fig, rw_decision_t *dec) {
        *dec = (rw_decision_t){ .severity = RW_SEV_WARNING };
        if (!p->enabled[id])
                return 0;

        switch (id) {
        case RW_RULE_ORDER_DROP:
                return rw_eval_drop(&p->order_drop, p->hysteresis,
                                    (double)fig->placed_30,
                                    (double)fig->placed_base, fig->placed_base,
                                    fig, dec);
        case RW_RULE_SPEND_DROP:
                return rw_eval_drop(&p->spend_drop, p->hysteresis,
                                    (double)fig->net_spend_30,
                                    (double)fig->net_spend_base,
                                    fig->spend_base_placed, fig, dec);
        case RW_RULE_INACTIVITY: {
                double mean_gap, limit;
                if (fig->orders_total < p->inactivity_min_orders)
                        return 0;
                limit = rw_rules_inactivity_limit(p, fig->orders_total, fig->first_order,
                                                  fig->last_order, &mean_gap);
                /* An order just ahead of the watermark counts as "now". */
                dec->observed = fig->now > fig->last_order ?
                                (double)(fig->now - fig->last_order) : 0.0;
                dec->threshold = limit;
                dec->has_baseline = 1;
                dec->baseline = mean_gap;
                dec->window_ms = (int64_t)limit;
                dec->holds = dec->observed > limit;
                dec->clear = !dec->holds;   /* a new order ends the episode */
                return 1;
        }
        case RW_RULE_SUPPORT_SPIKE: {
                /* The baseline weeks' rate, scaled to the window (a
                 * weekly rate with the default 7 days). */
                double weekly = (double)fig->tickets_base /
                                (double)p->spike_baseline_weeks *
                                (double)p->spike_window_ms / (double)(7 * RW_DAY_MS);
                double need = p->spike_factor * weekly;
                dec->observed = (double)fig->tickets_7;
                dec->threshold = need > (double)p->spike_min_tickets ?
                                 need : (double)p->spike_min_tickets;
                dec->has_baseline = 1;
                dec->baseline = weekly;
                dec->window_ms = p->spike_window_ms;
                dec->holds = fig->tickets_7 >= p->spike_min_tickets &&
                             dec->observed >= need;
                dec->severity = fig->tickets_hot_7 > 0 ? RW_SEV_CRITICAL :
                                                          RW_SEV_WARNING;
                dec->clear = dec->observed <
                             dec->threshold * (1.0 - p->hysteresis);
                return 1;
        }
        case RW_RULE_LOW_SATISFACTION: {
                int csat_ok = fig->csat_n_30 >= p->csat_min_answers;
                int sent_ok = fig->sentiment_n_30 >= p->sentiment_min_events;
                double csat = csat_ok ? fig->csat_sum_30 / (double)fig->csat_n_30 : 5.0;
                double sent = sent_ok ? fig->sentiment_sum_30 /
                                        (double)fig->sentiment_n_30 : 1.0;
                if (!csat_ok && !sent_ok)
                        return 0;
                dec->window_ms = p->satisfaction_window_ms;
                if (csat_ok && csat <= p->csat_max) {
                        dec->holds = 1;
                        dec->observed = csat;
                        dec->threshold = p->csat_max;
                } else if (sent_ok && sent <= p->sentiment_max) {
                        dec->holds = 1;
                        dec->observed = sent;
                        dec->threshold = p->sentiment_max;
                } else {
                        dec->observed = csat_ok ? csat : sent;
                        dec->threshold = csat_ok ? p->csat_max : p->sentiment_max;
                }
                /* Clear only when both measures are past the margin. */
                dec->clear = (!csat_ok || csat > p->csat_max * (1.0 + p->hysteresis)) &&
                             (!sent_ok || sent > p->sentiment_max +
                                                 (p->sentiment_max < 0 ? -p->sentiment_max :
                                                  p->sentiment_max) * p->hysteresis);
                return 1;
        }
        case RW_RULE_REFUND_RATE: {
                double share;
                if (fig->orders_30 < p->refund_min_orders)
                        return 0;
                share = (double)fig->returns_30 / (double)fig->orders_30;
                dec->observed = share;
                dec->threshold = p->refund_share;
                dec->window_ms = p->refund_window_ms;
                dec->holds = share >= p->refund_share;
                dec->clear = share < p->refund_share * (1.0 - p->hysteresis);
                return 1;
        }
        default:
                return 0;   /* portfolio rules are decided elsewhere */
        }
}

/* What an account rule that cannot decide has, and needs: the data its
 * minimum counts. */
static void rw_undecided_account(rw_rule_id_t id, const rw_rules_params_t *p,
                                 const rw_account_figures_t *fig, rw_decision_t *dec) {
        *dec = (rw_decision_t){ .severity = RW_SEV_WARNING, .undecided = 1, .clear = 1 };
        switch (id) {
        case RW_RULE_ORDER_DROP:
                dec->observed = (double)fig->placed_base;
                dec->threshold = (double)p->order_drop.min_baseline;
                dec->window_ms = p->order_drop.baseline_window_ms;
                break;
        case RW_RULE_SPEND_DROP:
                dec->observed = (double)fig->spend_base_placed;
                dec->threshold = (double)p->spend_drop.min_baseline;
                dec->window_ms = p->spend_drop.baseline_window_ms;
                break;
        case RW_RULE_INACTIVITY:
                dec->observed = (double)fig->orders_total;
                dec->threshold = (double)p->inactivity_min_orders;
                break;
        case RW_RULE_LOW_SATISFACTION:
                dec->observed = (double)fig->csat_n_30;
                dec->threshold = (double)p->csat_min_answers;
                dec->window_ms = p->satisfaction_window_ms;
                break;
        case RW_RULE_REFUND_RATE:
                dec->observed = (double)fig->orders_30;
                dec->threshold = (double)p->refund_min_orders;
                dec->window_ms = p->refund_window_ms;
                break;
        default:
                break;
        }
}

int rw_rules_gap_held(rw_rule_id_t id, const rw_rules_params_t *p,
                      const rw_account_figures_t *fig, const rw_input_gaps_t *gaps) {
        int64_t hold;

        if (!gaps || p->input_gap_ms <= 0)
                return 0;
        switch (id) {
        case RW_RULE_ORDER_DROP:
                hold = p->order_drop.window_ms;
                break;
        case RW_RULE_SPEND_DROP:
                hold = p->spend_drop.window_ms;
                break;
        case RW_RULE_INACTIVITY:
                hold = (int64_t)rw_rules_inactivity_limit(p, fig->orders_total,
                                                          fig->first_order,
                                                          fig->last_order, NULL);
                break;
        default:
                return 0;
        }
        for (int i = 0; i < gaps->out_cnt; i++) {
                const rw_input_gap_t *g = &gaps->out[i];
                if (g->end - g->start > p->input_gap_ms && fig->now > g->start &&
                    fig->now < g->end + hold)
                        return 1;
        }
        return 0;
}

/* Append (start, end) to a list of RW_INPUT_GAPS, the oldest dropped. */
static void rw_input_gap_push(rw_input_gap_t *v, int *cnt, int64_t start, int64_t end) {
        if (*cnt == RW_INPUT_GAPS) {
                memmove(&v[0], &v[1], (RW_INPUT_GAPS - 1) * sizeof(v[0]));
                (*cnt)--;
        }
        v[(*cnt)++] = (rw_input_gap_t){ .start = start, .end = end };
}

int rw_input_gaps_note(rw_input_gaps_t *g, const rw_rules_params_t *p,
                       int64_t wm, int64_t at) {
        if (wm <= 0 || p->input_gap_ms <= 0 || at - wm <= p->input_gap_ms)
                return 0;
        /* Noted already by a batch that stopped at it (rw_replay_batch()). */
        if (!g->cnt || g->v[g->cnt - 1].start != wm || g->v[g->cnt - 1].end != at)
                rw_input_gap_push(g->v, &g->cnt, wm, at);
        return 1;
}

int64_t rw_input_peer_known(const rw_input_peer_t *q) {
        int64_t t = q->watermark;

        if (q->gaps.cnt && q->gaps.v[q->gaps.cnt - 1].end > t)
                t = q->gaps.v[q->gaps.cnt - 1].end;
        return t;
}

int rw_input_peers_reached(const rw_input_peer_t *peers, size_t n, int64_t t) {
        for (size_t i = 0; i < n; i++)
                if (!peers[i].known ||
                    (!peers[i].idle && rw_input_peer_known(&peers[i]) < t))
                        return 0;
        return 1;
}

/* The parts of a partition's gap the group was silent for: at most one
 * piece per gap of each peer, so never more than this. */
#define RW_INPUT_PIECES (2 * RW_INPUT_GAPS + 2)

int rw_input_gaps_group(rw_input_gaps_t *g, const rw_rules_params_t *p,
                        int64_t start, int64_t end, const rw_input_peer_t *peers, size_t n) {
        rw_input_gap_t cur[RW_INPUT_PIECES], next[RW_INPUT_PIECES];
        size_t cur_cnt = 1;

        if (!rw_input_peers_reached(peers, n, end))
                return 0;
        cur[0] = (rw_input_gap_t){ .start = start, .end = end };
        for (size_t i = 0; i < n && cur_cnt; i++) {
                const rw_input_peer_t *q = &peers[i];
                rw_input_gap_t cover[RW_INPUT_GAPS + 1];
                size_t cover_cnt = 0, next_cnt = 0;

                /* What the peer was silent for, as far as its gaps say: a
                 * full list may have dropped older ones (live before). */
                for (int k = 0; k < q->gaps.cnt; k++)
                        cover[cover_cnt++] = q->gaps.v[k];
                if (q->idle)
                        cover[cover_cnt++] = (rw_input_gap_t){ .start = q->watermark,
                                                               .end = INT64_MAX };
                for (size_t c = 0; c < cur_cnt; c++)
                        for (size_t k = 0; k < cover_cnt && next_cnt < RW_INPUT_PIECES; k++) {
                                int64_t s = cur[c].start > cover[k].start ? cur[c].start :
                                                                            cover[k].start,
                                        e = cur[c].end < cover[k].end ? cur[c].end :
                                                                        cover[k].end;
                                if (e - s > p->input_gap_ms)
                                        next[next_cnt++] = (rw_input_gap_t){ .start = s,
                                                                             .end = e };
                        }
                memcpy(cur, next, next_cnt * sizeof(cur[0]));
                cur_cnt = next_cnt;
        }
        for (size_t c = 0; c < cur_cnt; c++)
                rw_input_gap_push(g->out, &g->out_cnt, cur[c].start, cur[c].end);
        return 1;
}

static size_t rw_input_list_format(const rw_input_gap_t *v, int cnt, char *buf,
                                   size_t size) {
        size_t off = 0;

        for (int i = 0; i < cnt && off < size; i++) {
                int n = snprintf(buf + off, size - off, "%s%lld,%lld", i ? ";" : "",
                                 (long long)v[i].start, (long long)v[i].end);
                if (n < 0)
                        break;
                off += (size_t)n;
        }
        return off < size ? off : size - 1;
}

void rw_input_gaps_format(const rw_input_gaps_t *g, char *buf, size_t size) {
        size_t off;

        buf[0] = '\0';
        if (!g->cnt && !g->out_cnt)
                return;
        off = rw_input_list_format(g->v, g->cnt, buf, size);
        if (off + 1 < size) {
                buf[off++] = '|';
                buf[off] = '\0';
                rw_input_list_format(g->out, g->out_cnt, buf + off, size - off);
        }
}

/* One list, up to `stop` (or its end). */
static void rw_input_list_parse(const char *s, const char *stop, rw_input_gap_t *v,
                                int *cnt) {
        while (s && *s && (!stop || s < stop) && *cnt < RW_INPUT_GAPS) {
                long long a, b;
                if (sscanf(s, "%lld,%lld", &a, &b) == 2 && b > a)
                        v[(*cnt)++] = (rw_input_gap_t){ .start = a, .end = b };
                if ((s = strchr(s, ';')))
                        s++;
        }
}

void rw_input_gaps_parse(const char *csv, rw_input_gaps_t *g) {
        const char *bar = csv ? strchr(csv, '|') : NULL;

        memset(g, 0, sizeof(*g));
        rw_input_list_parse(csv, bar, g->v, &g->cnt);
        if (bar) {
                rw_input_list_parse(bar + 1, NULL, g->out, &g->out_cnt);
        } else {
                memcpy(g->out, g->v, sizeof(g->out));
                g->out_cnt = g->cnt;
        }
}

int rw_rules_decide_account(rw_rule_id_t id, const rw_rules_params_t *p,
                            const rw_account_figures_t *fig, const rw_fp_state_t *fp,
                            const rw_input_gaps_t *gaps, rw_decision_t *dec) {
        int decided;

        if (!p->enabled[id])
                return 0;
        decided = rw_rules_eval_account(id, p, fig, dec);
        if (!decided) {
                if (!fp->firing)
                        return 0;
                rw_undecided_account(id, p, fig, dec);
        }
        /* Held: no FIRING and no escalation; a firing alert still
         * resolves (a return to normal, or no data left to decide on). */
        if (dec->holds && rw_rules_gap_held(id, p, fig, gaps))
                return 0;
        return 1;
}

void rw_rules_undecided_portfolio(const rw_rules_params_t *p, double have,
                                  double need, rw_decision_t *dec) {
        *dec = (rw_decision_t){ .severity = RW_SEV_WARNING, .undecided = 1, .clear = 1,
                                .observed = have, .threshold = need,
                                .window_ms = p->dep_window_ms };
}

void rw_duration_format(int64_t ms, char *buf, size_t size) {
        /* Whole seconds, unsigned: "0s" below a second. */
        if (ms < 0)
                ms = -ms;
        rw_fmt_duration(buf, size, ms < 1000 ? 0 : ms);
}

rw_transition_t rw_lifecycle_step(rw_fp_state_t *st, const rw_decision_t *dec,
                                  int64_t now, int64_t cooldown_ms) {
        if (!st->firing) {
                if (!dec->holds)
                        return RW_TRANS_NONE;
                if (st->resolved_at > 0 && now - st->resolved_at < cooldown_ms)
                        return RW_TRANS_NONE;
                st->firing = 1;
                st->severity = dec->severity;
                return RW_TRANS_FIRING;
        }
        if (dec->holds && dec->severity > st->severity) {
                st->severity = dec->severity;
                return RW_TRANS_ESCALATED;
        }
        if (!dec->holds && dec->clear) {
                st->firing = 0;
                st->resolved_at = now;
                return RW_TRANS_RESOLVED;
        }
        return RW_TRANS_NONE;
}

void rw_rules_summary(rw_rule_id_t id, const char *subject, int resolved,
                      const rw_decision_t *dec, char *buf, size_t size) {
        const char *state = resolved ? "back to normal" : "";
        double days = (double)dec->window_ms / RW_DAY_MS;
        char d1[32], d2[32];

        if (dec->undecided) {
                switch (id) {
                case RW_RULE_ORDER_DROP:
                case RW_RULE_SPEND_DROP:
                        snprintf(buf, size, "%s: " RW_UNDECIDED_TEXT " (%.0f "
                                 "order(s) in the %.0f-day baseline, needs %.0f)", subject,
                                 dec->observed, days, dec->threshold);
                        break;
                case RW_RULE_LOW_SATISFACTION:
                        snprintf(buf, size, "%s: " RW_UNDECIDED_TEXT " (%.0f "
                                 "survey answer(s) in %.0f days, needs %.0f)", subject,
                                 dec->observed, days, dec->threshold);
                        break;
                case RW_RULE_REFUND_RATE:
                        snprintf(buf, size, "%s: " RW_UNDECIDED_TEXT " (%.0f "
                                 "order(s) in %.0f days, needs %.0f)", subject,
                                 dec->observed, days, dec->threshold);
                        break;
                default:
                        snprintf(buf, size, "%s: " RW_UNDECIDED_TEXT " (%.0f "
                                 "of the %.0f needed)", subject, dec->observed,
                                 dec->threshold);
                        break;
                }
                return;
        }
        switch (id) {
        case RW_RULE_ORDER_DROP:
                snprintf(buf, size, "%s: orders in the last %.0f days at %.0f%% of "
                         "its usual rate (%.1f/%.0fd)%s%s", subject, days,
                         dec->observed * 100.0, dec->baseline, days,
                         resolved ? ", " : "", state);
                break;
        case RW_RULE_SPEND_DROP:
                snprintf(buf, size, "%s: net spend in the last %.0f days at %.0f%% "
                         "of its usual level%s%s", subject, days,
                         dec->observed * 100.0, resolved ? ", " : "", state);
                break;
        case RW_RULE_INACTIVITY:
                rw_duration_format((int64_t)dec->observed, d1, sizeof(d1));
                rw_duration_format((int64_t)dec->baseline, d2, sizeof(d2));
                snprintf(buf, size, "%s: no order for %s (usual gap %s)%s%s", subject,
                         d1, d2, resolved ? ", " : "", state);
                break;
        case RW_RULE_SUPPORT_SPIKE:
                if (dec->window_ms == 7 * RW_DAY_MS)
                        snprintf(buf, size, "%s: %.0f tickets in 7 days (usual "
                                 "%.1f a week)%s%s", subject, dec->observed,
                                 dec->baseline, resolved ? ", " : "", state);
                else
                        snprintf(buf, size, "%s: %.0f tickets in %.0f days (usual "
                                 "%.1f)%s%s", subject, dec->observed, days,
                                 dec->baseline, resolved ? ", " : "", state);
                break;
        case RW_RULE_LOW_SATISFACTION:
                snprintf(buf, size, "%s: satisfaction %.2f against a limit of "
                         "%.2f over %.0f days%s%s", subject, dec->observed,
                         dec->threshold, days, resolved ? ", " : "", state);
                break;
        case RW_RULE_REFUND_RATE:
                snprintf(buf, size, "%s: %.0f%% of orders cancelled or refunded "
                         "in %.0f days%s%s", subject, dec->observed * 100.0, days,
                         resolved ? ", " : "", state);
                break;
        default:
                snprintf(buf, size, "%s: %s at %.4g (threshold %.4g)%s%s",
                         subject, rw_rule_name(id), dec->observed,
                         dec->threshold, resolved ? ", " : "", state);
                break;
        }
}

/* Two FNV-1a style lanes over `len` bytes. */
static void rw_alert_id_feed(uint64_t *h1, uint64_t *h2, const char *s, size_t len) {
        for (size_t i = 0; i < len; i++) {
                *h1 = (*h1 ^ (unsigned char)s[i]) * 0x100000001b3ULL;
                *h2 = (*h2 ^ (unsigned char)s[i]) * 0x100000001b3ULL;
                *h2 ^= *h2 >> 29;
        }
}

void rw_alert_id_derive(const char *fp, const char *status, const char *sev,
                        int64_t event_time, char *out, size_t size) {
        uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
        char tail[96];
        int n;

        /* The bytes of "fp|status|sev|event_time", fed in pieces so that no
         * buffer bounds the fingerprint: the same ids as hashing the joined
         * text, for any length. */
        rw_alert_id_feed(&h1, &h2, fp, strlen(fp));
        n = snprintf(tail, sizeof(tail), "|%s|%s|%lld", status, sev, (long long)event_time);
        if (n >= (int)sizeof(tail))
                abort();        /* impossible: status and severity are enum names */
        rw_alert_id_feed(&h1, &h2, tail, (size_t)n);
        snprintf(out, size, "%016llx%016llx", (unsigned long long)h1,
                 (unsigned long long)h2);
}
