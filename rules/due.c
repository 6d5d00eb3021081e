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

/* The days (from day0 on) at which an evaluation may differ from the one
 * before it; a day outside the span counts as one. */
#define RW_DUE_SPAN 1024
typedef struct rw_due_days_s {
        int64_t day0;
        uint64_t bits[RW_DUE_SPAN / 64];
} rw_due_days_t;

static void rw_due_mark(rw_due_days_t *d, int64_t day) {
        int64_t i;
        if (!__builtin_sub_overflow(day, d->day0, &i) && i >= 0 && i < RW_DUE_SPAN)
                d->bits[i >> 6] |= 1ULL << (i & 63);
}

/* The day boundaries around the instant a + b, at which something flips
 * (none when it is past any time: the stored values are not trusted). */
static void rw_due_mark_at(rw_due_days_t *d, int64_t a, int64_t b) {
        int64_t t;
        if (__builtin_add_overflow(a, b, &t) || t > INT64_MAX - RW_DAY_MS)
                return;
        rw_due_mark(d, t / RW_DAY_MS);
        rw_due_mark(d, t / RW_DAY_MS + 1);
}

static int rw_due_marked(const rw_due_days_t *d, int64_t day) {
        int64_t i = day - d->day0;
        return i < 0 || i >= RW_DUE_SPAN || (d->bits[i >> 6] >> (i & 63)) & 1;
}

/* The first marked day from `day` on (day0 + RW_DUE_SPAN past the marks). */
static int64_t rw_due_next_marked(const rw_due_days_t *d, int64_t day) {
        int64_t i = day - d->day0;
        if (i < 0 || i >= RW_DUE_SPAN)
                return day;
        for (int64_t w = i >> 6; w < RW_DUE_SPAN / 64; w++) {
                uint64_t bits = d->bits[w] & (w == i >> 6 ? ~0ULL << (i & 63) : ~0ULL);
                if (bits)
                        return d->day0 + w * 64 + __builtin_ctzll(bits);
        }
        return d->day0 + RW_DUE_SPAN;
}

/* Mark what the verdicts of rw_rules_decide_account() and the lifecycle
 * depend on besides the figures' sums: a bucket reaching the edge of a
 * window its stream's rules read (rw_figures_edges(): the orders' rules
 * read the first RW_FIGURES_ORDER_EDGES windows, the support rules the
 * rest; a view holds one stream's days), a baseline's history becoming long
 * enough, the inactivity limit passed, an outage's hold ending, a cooldown
 * ending. These cover the candidates between day boundaries too (at[]: the
 * inactivity limit and the holds' ends). Extra marks cost an evaluation,
 * never a different result; a missing one could. */
static void rw_due_days_fill(rw_due_days_t *d, const rw_rules_params_t *p,
                             const int64_t *e, rw_rule_source_t src,
                             const rw_day_bucket_t *buckets, size_t cnt,
                             int64_t orders_total, int64_t first_order,
                             int64_t last_order, const rw_fp_state_t *fp,
                             const rw_input_gaps_t *gaps) {
        size_t k0 = src == RW_SRC_ORDERS ? 0 : RW_FIGURES_ORDER_EDGES,
               k1 = src == RW_SRC_ORDERS ? RW_FIGURES_ORDER_EDGES : RW_FIGURES_EDGES;
        double limit;
        int small = 1;

        for (size_t k = k0; k < k1; k++)
                small &= e[k] > -(INT64_C(1) << 40) && e[k] < INT64_C(1) << 40;
        for (size_t i = 0; i < cnt; i++) {
                /* A day is 32 bits and day0 below 2^52 / 1 day: with edges
                 * below 2^40 days nothing here overflows (this runs for
                 * every day of every account searched). */
                int64_t b = (int64_t)buckets[i].day - d->day0;
                if (!small) {
                        rw_due_mark(d, buckets[i].day);
                        for (size_t k = k0; k < k1; k++) {
                                int64_t day;
                                if (!__builtin_add_overflow(buckets[i].day, e[k], &day))
                                        rw_due_mark(d, day);
                        }
                        continue;
                }
                if ((uint64_t)b < RW_DUE_SPAN)
                        d->bits[b >> 6] |= 1ULL << (b & 63);
                for (size_t k = k0; k < k1; k++) {
                        uint64_t j = (uint64_t)(b + e[k]);
                        if (j < RW_DUE_SPAN)
                                d->bits[j >> 6] |= 1ULL << (j & 63);
                }
        }
        rw_due_mark_at(d, first_order, p->order_drop.window_ms +
                                       p->order_drop.baseline_window_ms);
        rw_due_mark_at(d, first_order, p->spend_drop.window_ms +
                                       p->spend_drop.baseline_window_ms);
        /* The instant the inactivity limit is passed, whatever the order
         * count. */
        limit = rw_rules_inactivity_limit(p, orders_total, first_order, last_order, NULL);
        if (limit < 1e17)
                rw_due_mark_at(d, last_order, (int64_t)floor(limit) + 1);
        /* An outage's hold (rw_rules_gap_held()) ending: its end plus each
         * rule's hold, the inactivity limit whatever the count. Its start
         * needs no mark: a hold only keeps a verdict from stepping. */
        for (int g = 0; gaps && g < gaps->out_cnt; g++) {
                const rw_input_gap_t *gp = &gaps->out[g];
                rw_due_mark_at(d, gp->end, p->order_drop.window_ms);
                rw_due_mark_at(d, gp->end, p->spend_drop.window_ms);
                if (limit < 1e17)
                        rw_due_mark_at(d, gp->end, (int64_t)limit);
        }
        for (int r = 0; r < RW_RULE__CNT; r++)
                if (fp[r].resolved_at > 0)
                        rw_due_mark_at(d, fp[r].resolved_at, p->cooldown_ms);
}

/* stepped: the states were stepped at `from` (rw_rules_next_due_gap()). */
static int64_t rw_due_search(const rw_rules_params_t *p, rw_rule_source_t src,
                             const rw_day_bucket_t *buckets, size_t cnt,
                             int64_t orders_total, int64_t first_order,
                             int64_t last_order, const rw_fp_state_t *fp_in,
                             const rw_input_gaps_t *gaps, int64_t from, int64_t until,
                             int stepped) {
        rw_fp_state_t fp[RW_RULE__CNT];
        int64_t maxday = -1, horizon, inact_at = 0, t, limit_ms = 0;
        /* Instants other than day boundaries: the inactivity limit, the
         * ends of an outage's holds. */
        int64_t at[1 + 3 * RW_INPUT_GAPS];
        size_t at_cnt = 0;
        rw_due_days_t days = { 0 };
        int evaluated = stepped, skip, filled = 0;
        int64_t e[RW_FIGURES_EDGES];    /* the windows, once per search */

        for (int r = 0; r < RW_RULE__CNT; r++)
                fp[r] = fp_in[r];
        for (size_t i = 0; i < cnt; i++)
                if (buckets[i].day > maxday)
                        maxday = buckets[i].day;
        /* Past the longest window after the last bucket nothing changes. */
        horizon = (maxday + rw_rules_state_days(p) + 2) * RW_DAY_MS;
        if (src == RW_SRC_ORDERS && p->enabled[RW_RULE_INACTIVITY] &&
            orders_total >= p->inactivity_min_orders && orders_total > 1) {
                double limit = rw_rules_inactivity_limit(p, orders_total, first_order,
                                                         last_order, NULL);
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

        /* Event times before 1970 would need floored days, and far ahead
         * the day arithmetic could overflow: every day is evaluated there. */
        (void)rw_figures_edges(p, e);
        skip = from >= 0 && from < (INT64_C(1) << 52);
        for (t = from; (t = rw_due_next_candidate(p, t, until, horizon, at, at_cnt,
                                                  fp, src)) != 0; ) {
                rw_account_figures_t fig;

                /* A day boundary where nothing moved: the verdicts of the
                 * previous instant evaluated, which stepped nothing (or,
                 * stepped, those the caller applied at `from`: the same
                 * verdicts step nothing again). On to the next marked day:
                 * every other candidate (an instant of at[], a cooldown's
                 * end) lies in a marked day. */
                if (evaluated && skip && t % RW_DAY_MS == 0 && !filled) {
                        /* Marked when first wanted: most searches end (at
                         * `until`, or at a transition) before any skip. The
                         * marks do not depend on the stepped states: fp's
                         * resolved_at moves only with a transition, which
                         * ends the search. */
                        days.day0 = from / RW_DAY_MS;
                        rw_due_days_fill(&days, p, e, src, buckets, cnt, orders_total,
                                         first_order, last_order, fp, gaps);
                        filled = 1;
                }
                if (evaluated && skip && t % RW_DAY_MS == 0 &&
                    !rw_due_marked(&days, t / RW_DAY_MS)) {
                        t = rw_due_next_marked(&days, t / RW_DAY_MS) * RW_DAY_MS - 1;
                        continue;
                }
                evaluated = 1;

                rw_figures_compute_src(e, src, buckets, cnt, orders_total, first_order,
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

int64_t rw_rules_next_due(const rw_rules_params_t *p, rw_rule_source_t src,
                          const rw_day_bucket_t *buckets, size_t cnt,
                          int64_t orders_total, int64_t first_order,
                          int64_t last_order, const rw_fp_state_t *fp_in,
                          int64_t from, int64_t until) {
        return rw_due_search(p, src, buckets, cnt, orders_total, first_order, last_order,
                             fp_in, NULL, from, until, 0);
}

int64_t rw_rules_next_due_gap(const rw_rules_params_t *p, rw_rule_source_t src,
                              const rw_day_bucket_t *buckets, size_t cnt,
                              int64_t orders_total, int64_t first_order,
                              int64_t last_order, const rw_fp_state_t *fp_in,
                              const rw_input_gaps_t *gaps, int64_t from, int64_t until,
                              int stepped) {
        return rw_due_search(p, src, buckets, cnt, orders_total, first_order, last_order,
                             fp_in, gaps, from, until, stepped != 0);
}
