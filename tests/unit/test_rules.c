/* test_rules.c - unit tests for the rules at their edges: thresholds,
 * escalation, hysteresis, cooldown, minimum history, switches, windows and
 * the parameters read from the configuration. Pure: no I/O. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/conf.h"
#include "rules/rules.h"

#define DAY RW_DAY_MS
#define HOUR (3600 * 1000LL)
/* The evaluation's event time: noon of day 1000. */
#define TODAY 1000
#define NOW (TODAY * DAY + 12 * HOUR)

static rw_rules_params_t P;

static int setup(void **state) {
        (void)state;
        rw_rules_params_default(&P);
        return 0;
}

/* ---- building figures by hand ------------------------------------------- */

/* A bucket `age` days before today. */
static rw_day_bucket_t *bucket(rw_day_bucket_t *b, int64_t age) {
        memset(b, 0, sizeof(*b));
        b->day = TODAY - age;
        return b;
}

/* Order history: `recent` PLACED today, `base` PLACED 50 days ago (inside
 * the default baseline window), the first order `history` days ago. */
static void fig_orders(int64_t recent, int64_t base, int64_t history,
                       rw_account_figures_t *fig) {
        rw_day_bucket_t b[2];

        bucket(&b[0], 0)->placed = recent;
        bucket(&b[1], 50)->placed = base;
        rw_figures_compute(&P, b, 2, recent + base, NOW - history, NOW, NOW, fig);
}

/* ---- one rule's lifecycle, driven by one measured value ------------------- */

typedef struct scenario_s {
        rw_rule_id_t id;
        /* Evaluate the rule on a subject whose measure is `v` (`hot`: the
         * support spike's URGENT/ESCALATED flag). 0: no decision. */
        int (*decide)(double v, int hot, rw_decision_t *dec);
        double quiet;       /* just on the safe side of the threshold */
        double warn;        /* just across it: WARNING */
        double crit;        /* CRITICAL (NAN: the rule has no CRITICAL) */
        int crit_hot;       /* CRITICAL is `warn` with hot set instead */
        double margin;      /* back across, within the hysteresis margin (NAN: none) */
        double clear;       /* past the margin */
} scenario_t;

static rw_transition_t step(const scenario_t *sc, rw_fp_state_t *st, double v,
                            int hot, int64_t now) {
        rw_decision_t dec;

        assert_int_equal(sc->decide(v, hot, &dec), 1);
        return rw_lifecycle_step(st, &dec, now, P.cooldown_ms);
}

static void run_scenario(const scenario_t *sc) {
        rw_fp_state_t st = { 0 };
        rw_decision_t dec;
        int64_t t = NOW, resolved;
        int has_crit = sc->crit_hot || !isnan(sc->crit);
        double crit = sc->crit_hot ? sc->warn : sc->crit;

        /* Just on the safe side: decided, not holding, no alert. */
        assert_int_equal(sc->decide(sc->quiet, 0, &dec), 1);
        assert_false(dec.holds);
        assert_int_equal(step(sc, &st, sc->quiet, 0, t), RW_TRANS_NONE);
        assert_false(st.firing);

        /* Just across: FIRING at WARNING, once. */
        assert_int_equal(step(sc, &st, sc->warn, 0, t += HOUR), RW_TRANS_FIRING);
        assert_int_equal(st.severity, RW_SEV_WARNING);
        assert_int_equal(step(sc, &st, sc->warn, 0, t += HOUR), RW_TRANS_NONE);

        if (has_crit) {
                /* Escalation: FIRING again at CRITICAL, once; falling back to
                 * WARNING and up again does not fire again. */
                assert_int_equal(step(sc, &st, crit, sc->crit_hot, t += HOUR),
                                 RW_TRANS_ESCALATED);
                assert_int_equal(st.severity, RW_SEV_CRITICAL);
                assert_int_equal(step(sc, &st, crit, sc->crit_hot, t += HOUR),
                                 RW_TRANS_NONE);
                assert_int_equal(step(sc, &st, sc->warn, 0, t += HOUR), RW_TRANS_NONE);
                assert_int_equal(step(sc, &st, crit, sc->crit_hot, t += HOUR),
                                 RW_TRANS_NONE);
                assert_true(st.firing);
        } else {
                assert_int_equal(sc->decide(sc->warn, 1, &dec), 1);
                assert_int_equal(dec.severity, RW_SEV_WARNING);
        }

        /* Back across the threshold but within the margin: still firing. */
        if (!isnan(sc->margin)) {
                assert_int_equal(sc->decide(sc->margin, 0, &dec), 1);
                assert_false(dec.holds);
                assert_false(dec.clear);
                assert_int_equal(step(sc, &st, sc->margin, 0, t += HOUR), RW_TRANS_NONE);
                assert_true(st.firing);
        }

        /* Past the margin: RESOLVED, once. */
        assert_int_equal(step(sc, &st, sc->clear, 0, t += HOUR), RW_TRANS_RESOLVED);
        assert_false(st.firing);
        resolved = t;
        assert_int_equal(step(sc, &st, sc->clear, 0, t += HOUR), RW_TRANS_NONE);

        /* No new episode within the cooldown, a new one right after it. */
        assert_int_equal(step(sc, &st, sc->warn, 0, resolved + P.cooldown_ms - 1),
                         RW_TRANS_NONE);
        assert_false(st.firing);
        assert_int_equal(step(sc, &st, sc->warn, 0, resolved + P.cooldown_ms),
                         RW_TRANS_FIRING);
        assert_int_equal(st.severity, RW_SEV_WARNING);

        /* Disabled: never decides, even where it would fire. */
        P.enabled[sc->id] = 0;
        assert_int_equal(sc->decide(sc->warn, 0, &dec), 0);
        if (has_crit)
                assert_int_equal(sc->decide(crit, sc->crit_hot, &dec), 0);
        P.enabled[sc->id] = 1;
}

/* ---- churn.order_drop --------------------------------------------------- */

/* 120 PLACED in the baseline: 40 per 30 days. v = PLACED in the window. */
static int decide_order_drop(double v, int hot, rw_decision_t *dec) {
        rw_account_figures_t fig;

        (void)hot;
        fig_orders((int64_t)v, 120, 200 * DAY, &fig);
        return rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, dec);
}

static void test_order_drop_lifecycle(void **state) {
        /* Ratios: 20/40 = 0.5 (not below), 19 -> 0.475, 9 -> 0.225 (< 0.25),
         * 21 -> 0.525 (< 0.55: within the margin), 23 -> 0.575. */
        const scenario_t sc = { RW_RULE_ORDER_DROP, decide_order_drop,
                                20, 19, 9, 0, 21, 23 };
        rw_decision_t dec;

        (void)state;
        run_scenario(&sc);
        /* CRITICAL strictly below 0.25: 10/40 is a WARNING. */
        assert_int_equal(decide_order_drop(10, 0, &dec), 1);
        assert_true(dec.holds);
        assert_int_equal(dec.severity, RW_SEV_WARNING);
        assert_int_equal(decide_order_drop(9, 0, &dec), 1);
        assert_int_equal(dec.severity, RW_SEV_CRITICAL);
        assert_true(fabs(dec.threshold - 0.25) < 1e-12);
        assert_true(fabs(dec.baseline - 40.0) < 1e-9);
        assert_int_equal(dec.window_ms, 30 * DAY);
}

static void test_order_drop_min_history(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;

        (void)state;
        /* Baseline orders: 5 is too few to decide, 6 enough. */
        fig_orders(0, 5, 200 * DAY, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 0);
        assert_false(dec.holds);
        fig_orders(0, 6, 200 * DAY, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        /* 120 days since the first order: one ms short does not decide. */
        fig_orders(0, 120, 120 * DAY - 1, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 0);
        fig_orders(0, 120, 120 * DAY, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 1);
        assert_true(dec.holds);
}

/* ---- churn.spend_drop --------------------------------------------------- */

/* Baseline: 6 orders worth 120000 in total (40000 per 30 days). The window
 * holds PLACED v + 5000 and a 5000 refund: net spend v. */
static int decide_spend_drop(double v, int hot, rw_decision_t *dec) {
        rw_account_figures_t fig;
        rw_day_bucket_t b[2];

        (void)hot;
        bucket(&b[0], 3)->placed = 1;
        b[0].placed_sum = (int64_t)v + 5000;
        b[0].refunded = 1;
        b[0].refunded_sum = 5000;
        bucket(&b[1], 60)->placed = 6;
        b[1].placed_sum = 120000;
        rw_figures_compute(&P, b, 2, 7, NOW - 200 * DAY, NOW, NOW, &fig);
        return rw_rules_eval_account(RW_RULE_SPEND_DROP, &P, &fig, dec);
}

static void test_spend_drop_lifecycle(void **state) {
        const scenario_t sc = { RW_RULE_SPEND_DROP, decide_spend_drop,
                                20000, 19000, 9000, 0, 21000, 23000 };

        (void)state;
        run_scenario(&sc);
}

static void test_spend_drop_min_history(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;
        rw_day_bucket_t b[2];

        (void)state;
        /* A large baseline spend from 5 orders is still too few orders. */
        bucket(&b[0], 0)->placed = 1;
        bucket(&b[1], 60)->placed = 5;
        b[1].placed_sum = 1000000;
        rw_figures_compute(&P, b, 2, 6, NOW - 200 * DAY, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_SPEND_DROP, &P, &fig, &dec), 0);
        b[1].placed = 6;
        rw_figures_compute(&P, b, 2, 7, NOW - 200 * DAY, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_SPEND_DROP, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        rw_figures_compute(&P, b, 2, 7, NOW - (120 * DAY - 1), NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_SPEND_DROP, &P, &fig, &dec), 0);
}

/* ---- churn.inactivity --------------------------------------------------- */

/* 4 orders with a mean gap of 2 days (limit: max(14d, 3 x 2d) = 14d); the
 * last order v days before now. Inactivity has no margin: a new order ends
 * the episode. */
static int decide_inactivity(double v, int hot, rw_decision_t *dec) {
        rw_account_figures_t fig;
        int64_t last = NOW - (int64_t)(v * DAY);

        (void)hot;
        rw_figures_compute(&P, NULL, 0, 4, last - 6 * DAY, last, NOW, &fig);
        return rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, dec);
}

static void test_inactivity_lifecycle(void **state) {
        /* 14 days exactly does not fire; 14 days and a bit does. */
        const scenario_t sc = { RW_RULE_INACTIVITY, decide_inactivity,
                                14, 14.001, NAN, 0, NAN, 0 };

        (void)state;
        run_scenario(&sc);
}

static void test_inactivity_gap_factor_and_min_orders(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;

        (void)state;
        /* Mean gap 10 days: the limit is 3 x 10 = 30 days, not 14. */
        rw_figures_compute(&P, NULL, 0, 3, NOW - 40 * DAY - 20 * DAY,
                           NOW - 40 * DAY, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        assert_true(fabs(dec.threshold - 30.0 * DAY) < 1);
        rw_figures_compute(&P, NULL, 0, 3, NOW - 29 * DAY - 20 * DAY,
                           NOW - 29 * DAY, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, &dec), 1);
        assert_false(dec.holds);
        /* Two orders are too few, three enough. */
        rw_figures_compute(&P, NULL, 0, 2, NOW - 100 * DAY, NOW - 99 * DAY, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, &dec), 0);
        rw_figures_compute(&P, NULL, 0, 3, NOW - 100 * DAY, NOW - 99 * DAY, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, &dec), 1);
        assert_true(dec.holds);
}

/* ---- churn.support_spike ------------------------------------------------ */

/* v tickets in the last 7 days (one URGENT/ESCALATED with hot), `base`
 * tickets in the 8 weeks before. */
static int spike(double v, int hot, int64_t base, rw_decision_t *dec) {
        rw_account_figures_t fig;
        rw_day_bucket_t b[2];

        bucket(&b[0], 2)->tickets = (int64_t)v;
        b[0].tickets_hot = hot;
        bucket(&b[1], 20)->tickets = base;
        rw_figures_compute(&P, b, 2, 0, 0, 0, NOW, &fig);
        return rw_rules_eval_account(RW_RULE_SUPPORT_SPIKE, &P, &fig, dec);
}

/* 80 tickets in 8 weeks: 10 a week, so a spike is >= 30. */
static int decide_support_spike(double v, int hot, rw_decision_t *dec) {
        return spike(v, hot, 80, dec);
}

static void test_support_spike_lifecycle(void **state) {
        /* Threshold 30; margin down to 27 (10% of 30). */
        const scenario_t sc = { RW_RULE_SUPPORT_SPIKE, decide_support_spike,
                                29, 30, NAN, 1, 28, 26 };

        rw_fp_state_t st = { 0 };

        (void)state;
        run_scenario(&sc);
        /* An URGENT ticket while the count is back under the threshold is no
         * escalation: only a holding decision escalates. */
        assert_int_equal(step(&sc, &st, 30, 0, NOW), RW_TRANS_FIRING);
        assert_int_equal(step(&sc, &st, 28, 1, NOW + HOUR), RW_TRANS_NONE);
        assert_int_equal(st.severity, RW_SEV_WARNING);
        assert_int_equal(step(&sc, &st, 30, 1, NOW + 2 * HOUR), RW_TRANS_ESCALATED);
}

static void test_support_spike_min_history(void **state) {
        rw_decision_t dec;

        (void)state;
        /* No baseline: 3 tickets are needed, 2 do not fire. */
        assert_int_equal(spike(2, 1, 0, &dec), 1);
        assert_false(dec.holds);
        assert_int_equal(spike(3, 0, 0, &dec), 1);
        assert_true(dec.holds);
        /* A baseline of 2 a week: 5 tickets clear the minimum but not 3 x 2. */
        assert_int_equal(spike(5, 0, 16, &dec), 1);
        assert_false(dec.holds);
        assert_int_equal(spike(6, 0, 16, &dec), 1);
        assert_true(dec.holds);
        assert_true(fabs(dec.baseline - 2.0) < 1e-9);
}

/* ---- churn.low_satisfaction --------------------------------------------- */

/* Mean CSAT v over 4 answers in the window, no sentiment. */
static int decide_csat(double v, int hot, rw_decision_t *dec) {
        rw_account_figures_t fig;
        rw_day_bucket_t b;

        (void)hot;
        bucket(&b, 10)->csat_sum = v * 4;
        b.csat_n = 4;
        rw_figures_compute(&P, &b, 1, 0, 0, 0, NOW, &fig);
        return rw_rules_eval_account(RW_RULE_LOW_SATISFACTION, &P, &fig, dec);
}

/* Mean sentiment v over 3 scored events, no CSAT answers. */
static int decide_sentiment(double v, int hot, rw_decision_t *dec) {
        rw_account_figures_t fig;
        rw_day_bucket_t b;

        (void)hot;
        bucket(&b, 10)->sentiment_sum = v * 3;
        b.sentiment_n = 3;
        rw_figures_compute(&P, &b, 1, 0, 0, 0, NOW, &fig);
        return rw_rules_eval_account(RW_RULE_LOW_SATISFACTION, &P, &fig, dec);
}

static void test_low_satisfaction_csat_lifecycle(void **state) {
        /* <= 2.5 holds; resolves above 2.75. */
        const scenario_t sc = { RW_RULE_LOW_SATISFACTION, decide_csat,
                                2.55, 2.5, NAN, 0, 2.7, 2.8 };

        (void)state;
        run_scenario(&sc);
}

static void test_low_satisfaction_sentiment_lifecycle(void **state) {
        /* <= -0.5 holds; resolves above -0.45. */
        const scenario_t sc = { RW_RULE_LOW_SATISFACTION, decide_sentiment,
                                -0.49, -0.5, NAN, 0, -0.47, -0.4 };

        (void)state;
        run_scenario(&sc);
}

static void test_low_satisfaction_min_history(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;
        rw_day_bucket_t b;

        (void)state;
        /* One answer of 1: too few; two answers of 1: fires. */
        bucket(&b, 0)->csat_sum = 1;
        b.csat_n = 1;
        b.sentiment_sum = -2;   /* two scored events at -1: too few too */
        b.sentiment_n = 2;
        rw_figures_compute(&P, &b, 1, 0, 0, 0, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &dec), 0);
        b.csat_sum = 2;
        b.csat_n = 2;
        rw_figures_compute(&P, &b, 1, 0, 0, 0, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        /* Three scored events at -1 fire without any CSAT answer. */
        b.csat_sum = 0;
        b.csat_n = 0;
        b.sentiment_sum = -3;
        b.sentiment_n = 3;
        rw_figures_compute(&P, &b, 1, 0, 0, 0, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        /* Answers older than the 30-day window do not count. */
        bucket(&b, 30)->csat_sum = 2;
        b.csat_n = 2;
        rw_figures_compute(&P, &b, 1, 0, 0, 0, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &dec), 0);
}

/* ---- churn.refund_rate -------------------------------------------------- */

/* 100 orders in the window, v of them cancelled or refunded. */
static int decide_refund(double v, int hot, rw_decision_t *dec) {
        rw_account_figures_t fig;
        int64_t r = (int64_t)v;
        rw_day_bucket_t b;

        (void)hot;
        bucket(&b, 5)->placed = 100 - r;
        b.cancelled = r / 2;
        b.refunded = r - r / 2;
        rw_figures_compute(&P, &b, 1, 100 - r, NOW - 10 * DAY, NOW, NOW, &fig);
        return rw_rules_eval_account(RW_RULE_REFUND_RATE, &P, &fig, dec);
}

static void test_refund_rate_lifecycle(void **state) {
        /* >= 25% holds; resolves below 22.5%. */
        const scenario_t sc = { RW_RULE_REFUND_RATE, decide_refund,
                                24, 25, NAN, 0, 23, 22 };

        (void)state;
        run_scenario(&sc);
}

static void test_refund_rate_min_orders(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;
        rw_day_bucket_t b;

        (void)state;
        bucket(&b, 0)->placed = 1;
        b.refunded = 2;
        rw_figures_compute(&P, &b, 1, 1, NOW, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_REFUND_RATE, &P, &fig, &dec), 0);
        b.placed = 2;
        rw_figures_compute(&P, &b, 1, 2, NOW, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_REFUND_RATE, &P, &fig, &dec), 1);
        assert_true(dec.holds);
}

/* ---- dependency rules ----------------------------------------------------- */

#define DEP_TOTAL 1000.0

/* v: the share (0..1) or the HHI (0..10000), over a total of 1000 and 90
 * days of history. */
static int decide_dep(rw_rule_id_t id, double v, rw_decision_t *dec) {
        double value = id == RW_RULE_ACCOUNT_SHARE || id == RW_RULE_VENDOR_SHARE ?
                       v * DEP_TOTAL : v / 10000.0 * DEP_TOTAL * DEP_TOTAL;

        return rw_rules_eval_portfolio(id, &P, value, DEP_TOTAL, 90 * DAY, dec);
}

static int decide_account_share(double v, int hot, rw_decision_t *dec) {
        (void)hot;
        return decide_dep(RW_RULE_ACCOUNT_SHARE, v, dec);
}

static int decide_vendor_share(double v, int hot, rw_decision_t *dec) {
        (void)hot;
        return decide_dep(RW_RULE_VENDOR_SHARE, v, dec);
}

static int decide_account_hhi(double v, int hot, rw_decision_t *dec) {
        (void)hot;
        return decide_dep(RW_RULE_ACCOUNT_HHI, v, dec);
}

static int decide_vendor_hhi(double v, int hot, rw_decision_t *dec) {
        (void)hot;
        return decide_dep(RW_RULE_VENDOR_HHI, v, dec);
}

static void test_account_share_lifecycle(void **state) {
        /* > 25% WARNING, > 40% CRITICAL, resolves below 22.5%. */
        const scenario_t sc = { RW_RULE_ACCOUNT_SHARE, decide_account_share,
                                0.25, 0.251, 0.401, 0, 0.23, 0.22 };
        rw_decision_t dec;

        (void)state;
        run_scenario(&sc);
        assert_int_equal(decide_account_share(0.40, 0, &dec), 1);
        assert_int_equal(dec.severity, RW_SEV_WARNING);
        assert_int_equal(dec.window_ms, 90 * DAY);
}

static void test_vendor_share_lifecycle(void **state) {
        /* > 30% WARNING, > 50% CRITICAL, resolves below 27%. */
        const scenario_t sc = { RW_RULE_VENDOR_SHARE, decide_vendor_share,
                                0.30, 0.301, 0.501, 0, 0.28, 0.26 };
        rw_decision_t dec;

        (void)state;
        run_scenario(&sc);
        assert_int_equal(decide_vendor_share(0.499, 0, &dec), 1);
        assert_int_equal(dec.severity, RW_SEV_WARNING);
}

static void test_account_hhi_lifecycle(void **state) {
        /* > 1800 WARNING, > 2500 CRITICAL, resolves below 1620. */
        const scenario_t sc = { RW_RULE_ACCOUNT_HHI, decide_account_hhi,
                                1800, 1801, 2501, 0, 1700, 1600 };
        rw_decision_t dec;

        (void)state;
        run_scenario(&sc);
        assert_int_equal(decide_account_hhi(2499, 0, &dec), 1);
        assert_int_equal(dec.severity, RW_SEV_WARNING);
        assert_true(fabs(dec.observed - 2499) < 1e-6);
}

static void test_vendor_hhi_lifecycle(void **state) {
        const scenario_t sc = { RW_RULE_VENDOR_HHI, decide_vendor_hhi,
                                1799, 1801, 2501, 0, 1700, 1600 };

        (void)state;
        run_scenario(&sc);
}

static void test_dependency_min_history(void **state) {
        rw_decision_t dec;

        (void)state;
        for (int i = RW_RULE_ACCOUNT_SHARE; i <= RW_RULE_VENDOR_HHI; i++) {
                rw_rule_id_t id = (rw_rule_id_t)i;

                /* Everything in one subject: the rule would fire. */
                assert_int_equal(rw_rules_eval_portfolio(id, &P, 1e6, 1000, 30 * DAY - 1,
                                                         &dec), 0);
                assert_int_equal(rw_rules_eval_portfolio(id, &P, 1e6, 1000, 30 * DAY,
                                                         &dec), 1);
                assert_true(dec.holds);
                assert_int_equal(rw_rules_eval_portfolio(id, &P, 0, 0, 90 * DAY, &dec), 0);
                assert_int_equal(rw_rules_eval_portfolio(id, &P, 5, -1, 90 * DAY, &dec), 0);
        }
        /* Account rules are not portfolio rules. */
        assert_int_equal(rw_rules_eval_portfolio(RW_RULE_ORDER_DROP, &P, 1e6, 1000,
                                                 90 * DAY, &dec), 0);
}

/* A fingerprint that never resolved has no cooldown, even at event times
 * closer to the epoch than the cooldown. */
static void test_lifecycle_never_resolved(void **state) {
        rw_decision_t dec = { .holds = 1, .severity = RW_SEV_WARNING };
        rw_fp_state_t st = { 0 };

        (void)state;
        assert_int_equal(rw_lifecycle_step(&st, &dec, HOUR, 24 * HOUR), RW_TRANS_FIRING);
}

/* ---- windows ---------------------------------------------------------------- */

static void test_figures_default_windows(void **state) {
        rw_account_figures_t fig;
        rw_day_bucket_t b[8];

        (void)state;
        bucket(&b[0], 0)->placed = 1;           /* window */
        bucket(&b[1], 29)->placed = 10;         /* window's last day */
        b[1].cancelled = 1;
        b[1].csat_n = 1;
        b[1].tickets = 100;                     /* support baseline */
        bucket(&b[2], 30)->placed = 100;        /* baseline's first day */
        b[2].refunded = 1;
        b[2].csat_n = 10;
        bucket(&b[3], 119)->placed = 1000;      /* baseline's last day */
        b[3].placed_sum = 7;
        bucket(&b[4], 120)->placed = 10000;     /* outside */
        b[4].tickets = 1000;
        bucket(&b[5], 6)->tickets = 1;          /* support window */
        b[5].tickets_hot = 1;
        bucket(&b[6], 7)->tickets = 10;         /* support baseline's first day */
        b[6].tickets_hot = 10;
        bucket(&b[7], -1)->placed = 100000;     /* ahead of the watermark */
        b[7].tickets = 100000;
        rw_figures_compute(&P, b, 8, 0, 0, 0, NOW, &fig);
        assert_int_equal(fig.placed_30, 11);
        assert_int_equal(fig.placed_base, 1100);
        assert_int_equal(fig.spend_base_placed, 1100);
        assert_int_equal(fig.net_spend_base, 7);
        assert_int_equal(fig.orders_30, 12);
        assert_int_equal(fig.returns_30, 1);
        assert_int_equal(fig.csat_n_30, 1);
        assert_int_equal(fig.tickets_7, 1);
        assert_int_equal(fig.tickets_hot_7, 1);
        assert_int_equal(fig.tickets_base, 110);    /* ages 7 and 29; 62 is the last */
        assert_int_equal(rw_rules_state_days(&P), 120);
}

/* Configured windows change what the figures count, and the longest span. */
static void test_figures_configured_windows(void **state) {
        rw_account_figures_t fig;
        rw_day_bucket_t b[3];

        (void)state;
        P.order_drop.window_ms = 14 * DAY;
        P.order_drop.baseline_window_ms = 28 * DAY;
        P.spend_drop.window_ms = 60 * DAY;
        P.refund_window_ms = 7 * DAY;
        P.spike_window_ms = 14 * DAY;
        P.spike_baseline_weeks = 2;
        bucket(&b[0], 10)->placed = 1;
        b[0].placed_sum = 100;
        b[0].tickets = 1;
        bucket(&b[1], 20)->placed = 10;
        b[1].placed_sum = 1000;
        b[1].tickets = 10;
        bucket(&b[2], 41)->placed = 100;
        b[2].placed_sum = 10000;
        b[2].tickets = 100;
        rw_figures_compute(&P, b, 3, 0, 0, 0, NOW, &fig);
        assert_int_equal(fig.placed_30, 1);             /* < 14 days */
        assert_int_equal(fig.placed_base, 110);         /* 14 .. 41 days */
        assert_int_equal(fig.net_spend_30, 11100);      /* < 60 days */
        assert_int_equal(fig.net_spend_base, 0);
        assert_int_equal(fig.orders_30, 0);             /* < 7 days */
        assert_int_equal(fig.tickets_7, 1);             /* < 14 days */
        assert_int_equal(fig.tickets_base, 10);         /* 14 .. 27 days */
        /* Spend drop reads 60 + 90 days now. */
        assert_int_equal(rw_rules_state_days(&P), 150);
        P.spike_baseline_weeks = 30;
        assert_int_equal(rw_rules_state_days(&P), 14 + 210);
}

/* The drop baseline scales to the configured window's length. */
static void test_order_drop_configured_window(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;
        rw_day_bucket_t b[2];

        (void)state;
        P.order_drop.window_ms = 14 * DAY;
        P.order_drop.baseline_window_ms = 28 * DAY;
        bucket(&b[0], 0)->placed = 10;
        bucket(&b[1], 20)->placed = 40;         /* 20 per 14 days */
        rw_figures_compute(&P, b, 2, 50, NOW - 42 * DAY, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 1);
        assert_true(fabs(dec.baseline - 20.0) < 1e-9);
        assert_true(fabs(dec.observed - 0.5) < 1e-9);
        assert_false(dec.holds);
        assert_int_equal(dec.window_ms, 14 * DAY);
        /* 42 days of history suffice now; 42 days less a ms do not. */
        rw_figures_compute(&P, b, 2, 50, NOW - 42 * DAY + 1, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 0);
}

/* Spend drop keeps its own windows: its minimum baseline counts the orders
 * in its own baseline window, not order drop's. */
static void test_spend_drop_own_windows(void **state) {
        rw_account_figures_t fig;
        rw_decision_t dec;
        rw_day_bucket_t b[3];

        (void)state;
        P.spend_drop.baseline_window_ms = 30 * DAY;     /* ages 30 .. 59 */
        bucket(&b[0], 0)->placed = 1;
        bucket(&b[1], 40)->placed = 5;
        b[1].placed_sum = 50000;
        bucket(&b[2], 100)->placed = 6;                 /* order drop's baseline only */
        b[2].placed_sum = 60000;
        rw_figures_compute(&P, b, 3, 12, NOW - 200 * DAY, NOW, NOW, &fig);
        assert_int_equal(fig.placed_base, 11);
        assert_int_equal(fig.spend_base_placed, 5);
        assert_int_equal(fig.net_spend_base, 50000);
        assert_int_equal(rw_rules_eval_account(RW_RULE_SPEND_DROP, &P, &fig, &dec), 0);
        assert_int_equal(rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec), 1);
        b[1].placed = 6;
        rw_figures_compute(&P, b, 3, 13, NOW - 200 * DAY, NOW, NOW, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_SPEND_DROP, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        /* 50000 over 30 days is the baseline, scaled 1:1. */
        assert_true(fabs(dec.baseline - 50000.0) < 1e-6);
        assert_int_equal(rw_rules_state_days(&P), 120);
}

/* ---- parameters from the configuration ------------------------------------ */

static rw_conf_t *conf_with(const char *const *kvs, size_t cnt) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];

        for (size_t i = 0; i < cnt; i++) {
                if (rw_conf_set_arg(conf, kvs[i], errstr, sizeof(errstr)))
                        fail_msg("%s: %s", kvs[i], errstr);
        }
        return conf;
}

static void test_params_from_conf_defaults(void **state) {
        rw_conf_t *conf = rw_conf_new();
        rw_rules_params_t p, d;
        char errstr[512] = "";

        (void)state;
        rw_rules_params_default(&d);
        memset(&p, 0xff, sizeof(p));
        assert_int_equal(rw_rules_params_from_conf(&p, conf, errstr, sizeof(errstr)), 0);
        for (int i = 0; i < RW_RULE__CNT; i++) {
                assert_int_equal(p.enabled[i], 1);
                if (i >= RW_RULE_ACCOUNT_SHARE) {
                        assert_true(p.dep_warn[i] == d.dep_warn[i]);
                        assert_true(p.dep_crit[i] == d.dep_crit[i]);
                }
        }
        assert_true(p.hysteresis == d.hysteresis);
        assert_int_equal(p.cooldown_ms, d.cooldown_ms);
        assert_memory_equal(&p.order_drop, &d.order_drop, sizeof(d.order_drop));
        assert_memory_equal(&p.spend_drop, &d.spend_drop, sizeof(d.spend_drop));
        assert_int_equal(p.inactivity_min_ms, d.inactivity_min_ms);
        assert_true(p.inactivity_gap_factor == d.inactivity_gap_factor);
        assert_int_equal(p.inactivity_min_orders, d.inactivity_min_orders);
        assert_int_equal(p.spike_window_ms, d.spike_window_ms);
        assert_int_equal(p.spike_baseline_weeks, d.spike_baseline_weeks);
        assert_int_equal(p.spike_min_tickets, d.spike_min_tickets);
        assert_true(p.spike_factor == d.spike_factor);
        assert_int_equal(p.satisfaction_window_ms, d.satisfaction_window_ms);
        assert_true(p.csat_max == d.csat_max);
        assert_int_equal(p.csat_min_answers, d.csat_min_answers);
        assert_true(p.sentiment_max == d.sentiment_max);
        assert_int_equal(p.sentiment_min_events, d.sentiment_min_events);
        assert_int_equal(p.refund_window_ms, d.refund_window_ms);
        assert_true(p.refund_share == d.refund_share);
        assert_int_equal(p.refund_min_orders, d.refund_min_orders);
        assert_int_equal(p.dep_window_ms, d.dep_window_ms);
        assert_int_equal(p.dep_min_history_ms, d.dep_min_history_ms);
        rw_conf_destroy(conf);
}

static void test_params_from_conf_changes_decisions(void **state) {
        static const char *const kvs[] = {
                "rules.churn.order_drop.warn_ratio=0.6",
                "rules.churn.refund_rate.enabled=false",
                "alerts.hysteresis=0.2",
                "alerts.cooldown=2h",
                "rules.dependency.account_share.warn=0.1",
                "rules.churn.support_spike.baseline_weeks=4",
        };
        rw_conf_t *conf = conf_with(kvs, RW_ARRAY_SIZE(kvs));
        rw_decision_t dec;
        char errstr[512] = "";

        (void)state;
        /* 22/40 = 0.55: fine under the default 0.5, a drop under 0.6. */
        assert_int_equal(decide_order_drop(22, 0, &dec), 1);
        assert_false(dec.holds);
        assert_int_equal(decide_refund(30, 0, &dec), 1);
        assert_int_equal(rw_rules_params_from_conf(&P, conf, errstr, sizeof(errstr)), 0);
        assert_int_equal(decide_order_drop(22, 0, &dec), 1);
        assert_true(dec.holds);
        assert_true(fabs(dec.threshold - 0.6) < 1e-12);
        /* Margin 20% of 0.6: 0.7 (28/40) keeps it, 0.725 (29/40) clears. */
        assert_int_equal(decide_order_drop(28, 0, &dec), 1);
        assert_false(dec.clear);
        assert_int_equal(decide_order_drop(29, 0, &dec), 1);
        assert_true(dec.clear);
        assert_int_equal(P.cooldown_ms, 2 * HOUR);
        assert_int_equal(decide_refund(30, 0, &dec), 0);
        assert_int_equal(decide_account_share(0.15, 0, &dec), 1);
        assert_true(dec.holds);
        /* 80 tickets over 4 weeks: 20 a week, a spike needs 60. */
        assert_int_equal(decide_support_spike(59, 0, &dec), 1);
        assert_false(dec.holds);
        assert_int_equal(decide_support_spike(60, 0, &dec), 1);
        assert_true(dec.holds);
        rw_conf_destroy(conf);
}

/* `kv` is a valid value for its key but not with the others: rejected,
 * naming `key`. */
static void expect_reject(const char *kv, const char *key) {
        rw_conf_t *conf = conf_with(&kv, 1);
        rw_rules_params_t p;
        char errstr[512] = "";

        assert_int_equal(rw_rules_params_from_conf(&p, conf, errstr, sizeof(errstr)), -1);
        if (strncmp(errstr, key, strlen(key)) || strncmp(errstr + strlen(key), ": ", 2))
                fail_msg("'%s': expected an error naming %s, got '%s'", kv, key, errstr);
        rw_conf_destroy(conf);
}

static void test_params_from_conf_rejects(void **state) {
        (void)state;
        expect_reject("rules.churn.order_drop.critical_ratio=0.6",
                      "rules.churn.order_drop.critical_ratio");
        expect_reject("rules.churn.spend_drop.critical_ratio=0.5",
                      "rules.churn.spend_drop.critical_ratio");
        expect_reject("rules.dependency.vendor_hhi.critical=1800",
                      "rules.dependency.vendor_hhi.critical");
        expect_reject("rules.dependency.account_share.critical=0.2",
                      "rules.dependency.account_share.critical");
        expect_reject("rules.churn.refund_rate.window=36h",
                      "rules.churn.refund_rate.window");
        expect_reject("rules.churn.order_drop.baseline_window=3000m",
                      "rules.churn.order_drop.baseline_window");
}

/* One property's range is the table's job, with the usual message. */
static void test_conf_table_ranges(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];

        (void)state;
        assert_int_equal(rw_conf_set_arg(conf, "rules.churn.inactivity.min_orders=1",
                                         errstr, sizeof(errstr)), RW_ERR_CONFIG);
        assert_string_equal(errstr, "-X rules.churn.inactivity.min_orders: expected an "
                            "integer in [2, 1000000], got \"1\"");
        assert_int_equal(rw_conf_set_arg(conf, "rules.churn.order_drop.warn_ratio=1.5",
                                         errstr, sizeof(errstr)), RW_ERR_CONFIG);
        assert_int_equal(rw_conf_set_arg(conf, "rules.churn.order_drop.enabled=maybe",
                                         errstr, sizeof(errstr)), RW_ERR_CONFIG);
        assert_int_equal(rw_conf_get_int(conf, "evaluation.interval"), HOUR);
        assert_int_equal(rw_conf_get_int(conf, "idle.timeout"), 30 * 1000);
        assert_int_equal(rw_conf_set_arg(conf, "evaluation.interval=30s",
                                         errstr, sizeof(errstr)), RW_ERR_CONFIG);
        rw_conf_destroy(conf);
}

/* ---- time-driven evaluation: the due time of a silent account ----------- */

/* Orders every 5 days from day 0 to day 50 (noon): mean gap 5 days, so the
 * inactivity limit is max(14, 3 x 5) = 15 days after the last order. */
static size_t silent_account(rw_day_bucket_t *b, int64_t *first, int64_t *last) {
        size_t n = 0;
        for (int64_t d = 0; d <= 50; d += 5) {
                memset(&b[n], 0, sizeof(b[n]));
                b[n].day = d;
                b[n].placed = 1;
                b[n].placed_sum = 1000;
                n++;
        }
        *first = 12 * HOUR;
        *last = 50 * DAY + 12 * HOUR;
        return n;
}

static void test_inactivity_due_from_event_time(void **state) {
        rw_day_bucket_t b[16];
        rw_fp_state_t fp[RW_RULE__CNT] = { { 0 } };
        rw_account_figures_t fig;
        rw_decision_t dec;
        int64_t first, last, due;
        size_t n = silent_account(b, &first, &last);

        (void)state;
        due = rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first, last,
                                fp, last, INT64_MAX);
        /* Exactly when "longer than the limit" starts to hold. */
        assert_int_equal(due, last + 15 * DAY + 1);
        rw_figures_compute(&P, b, n, (int64_t)n, first, last, due - 1, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, &dec), 1);
        assert_false(dec.holds);
        rw_figures_compute(&P, b, n, (int64_t)n, first, last, due, &fig);
        assert_int_equal(rw_rules_eval_account(RW_RULE_INACTIVITY, &P, &fig, &dec), 1);
        assert_true(dec.holds);
        /* Bounded search: nothing before `until`. */
        assert_int_equal(rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first,
                                           last, fp, last, due - 1), 0);
        /* Support rules do not read the orders hash: nothing due for them. */
        assert_int_equal(rw_rules_next_due(&P, RW_SRC_SUPPORT, b, n, (int64_t)n, first,
                                           last, fp, last, INT64_MAX), 0);
        /* Inactivity disabled: the next verdict change is the drop rules'
         * once their 120 days of history are there (silence since day 50). */
        P.enabled[RW_RULE_INACTIVITY] = 0;
        due = rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first, last, fp,
                                last, INT64_MAX);
        assert_int_equal(due, 121 * DAY);       /* first + 120 days, next midnight */
        /* Every orders rule disabled: never due. */
        P.enabled[RW_RULE_ORDER_DROP] = P.enabled[RW_RULE_SPEND_DROP] = 0;
        P.enabled[RW_RULE_REFUND_RATE] = 0;
        assert_int_equal(rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first,
                                           last, fp, last, INT64_MAX), 0);
}

static void test_due_after_firing_and_cooldown(void **state) {
        rw_day_bucket_t b[16];
        rw_fp_state_t fp[RW_RULE__CNT] = { { 0 } };
        int64_t first, last, due;
        size_t n = silent_account(b, &first, &last);

        (void)state;
        P.enabled[RW_RULE_ORDER_DROP] = P.enabled[RW_RULE_SPEND_DROP] = 0;
        /* Already firing inactivity: stepping it again changes nothing. */
        fp[RW_RULE_INACTIVITY].firing = 1;
        fp[RW_RULE_INACTIVITY].severity = RW_SEV_WARNING;
        due = rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first, last, fp,
                                last + 20 * DAY, INT64_MAX);
        assert_int_equal(due, 0);
        /* Resolved recently: the condition holds again at once, but the
         * cooldown defers the FIRING to its end. */
        fp[RW_RULE_INACTIVITY] = (rw_fp_state_t){ .firing = 0,
                                                   .resolved_at = last + 20 * DAY };
        due = rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first, last, fp,
                                last + 20 * DAY, INT64_MAX);
        assert_int_equal(due, last + 20 * DAY + P.cooldown_ms);
}

/* A drop rule's verdict changes at a day boundary as orders age out of the
 * recent window: the due time is that boundary. */
static void test_order_drop_due_at_day_boundary(void **state) {
        rw_day_bucket_t b[200];
        rw_fp_state_t fp[RW_RULE__CNT] = { { 0 } };
        rw_account_figures_t fig;
        rw_decision_t dec;
        size_t n = 0;
        int64_t first = 12 * HOUR, last, due, from;

        (void)state;
        /* Two orders a week for 150 days, then silence. */
        for (int64_t d = 0; d < 150; d += 3) {
                memset(&b[n], 0, sizeof(b[n]));
                b[n].day = d;
                b[n].placed = 1;
                b[n].placed_sum = 500;
                n++;
        }
        last = b[n - 1].day * DAY + 12 * HOUR;
        P.enabled[RW_RULE_INACTIVITY] = 0;
        from = last;
        due = rw_rules_next_due(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first, last, fp,
                                from, INT64_MAX);
        assert_true(due > from);
        assert_int_equal(due % DAY, 0);                 /* a day boundary */
        rw_figures_compute(&P, b, n, (int64_t)n, first, last, due, &fig);
        rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec);
        assert_true(dec.holds);
        rw_figures_compute(&P, b, n, (int64_t)n, first, last, due - 1, &fig);
        rw_rules_eval_account(RW_RULE_ORDER_DROP, &P, &fig, &dec);
        assert_false(dec.holds);
}

/* Alert ids hash every byte of the fingerprint: two 10,240-byte account
 * ids that differ only in their last character never share an id, and a
 * short fingerprint keeps the id it always had (the contract's example). */
static void test_alert_id_full_length(void **state) {
        enum { LEN = 10240 };
        char *a = malloc(LEN + 64), *b = malloc(LEN + 64), ida[40], idb[40];
        int n;

        (void)state;
        assert_non_null(a);
        assert_non_null(b);
        rw_alert_id_derive("churn.refund_rate/ACCOUNT/acct-e2e", "FIRING", "WARNING",
                           1772603700000LL, ida, sizeof(ida));
        assert_string_equal(ida, "16986d506ba6e975402111517dc12bc9");

        n = snprintf(a, LEN + 64, "churn.inactivity/ACCOUNT/");
        memset(a + n, 'x', LEN);
        a[n + LEN] = '\0';
        memcpy(b, a, (size_t)n + LEN + 1);
        b[n + LEN - 1] = 'y';
        rw_alert_id_derive(a, "FIRING", "WARNING", 1772603700000LL, ida, sizeof(ida));
        rw_alert_id_derive(b, "FIRING", "WARNING", 1772603700000LL, idb, sizeof(idb));
        assert_int_equal(strlen(ida), 32);
        assert_string_not_equal(ida, idb);
        /* Same text, same id; the event time still counts after a long id. */
        rw_alert_id_derive(b, "FIRING", "WARNING", 1772603700000LL, ida, sizeof(ida));
        assert_string_equal(ida, idb);
        rw_alert_id_derive(b, "FIRING", "WARNING", 1772603700001LL, ida, sizeof(ida));
        assert_string_not_equal(ida, idb);
        free(a);
        free(b);
}

/* ---- a rule that can no longer decide; input outages; durations --------- */

/* Firing on CSAT 1.0 over 2 answers; once one answer is left, the rule
 * cannot decide: a firing episode ends with an undecided decision, a quiet
 * one sees none. */
static void test_undecided_ends_episode(void **state) {
        rw_account_figures_t fig = { .now = NOW, .csat_sum_30 = 2, .csat_n_30 = 2 };
        rw_fp_state_t fp = { 0 };
        rw_decision_t dec;
        char sum[256];

        (void)state;
        assert_int_equal(rw_rules_decide_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &fp,
                                                 NULL, &dec), 1);
        assert_int_equal(rw_lifecycle_step(&fp, &dec, NOW, P.cooldown_ms), RW_TRANS_FIRING);
        fig.csat_sum_30 = 1;
        fig.csat_n_30 = 1;
        assert_int_equal(rw_rules_decide_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &fp,
                                                 NULL, &dec), 1);
        assert_true(dec.undecided && !dec.holds && dec.clear);
        assert_true(dec.observed == 1 && dec.threshold == 2);
        assert_int_equal(rw_lifecycle_step(&fp, &dec, NOW + DAY, P.cooldown_ms),
                         RW_TRANS_RESOLVED);
        rw_rules_summary(RW_RULE_LOW_SATISFACTION, "acct", 1, &dec, sum, sizeof(sum));
        assert_string_equal(sum, "acct: no longer enough data to decide (1 survey "
                            "answer(s) in 30 days, needs 2)");
        /* Not firing: nothing to end. Disabled: nothing at all. */
        assert_int_equal(rw_rules_decide_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &fp,
                                                 NULL, &dec), 0);
        fp.firing = 1;
        P.enabled[RW_RULE_LOW_SATISFACTION] = 0;
        assert_int_equal(rw_rules_decide_account(RW_RULE_LOW_SATISFACTION, &P, &fig, &fp,
                                                 NULL, &dec), 0);
}

/* An outage from day 100 to day 250 holds the silence rules inside it and
 * until the input has been live for their window (drop rules: 30 days) or
 * the account's limit (inactivity: 15 days here); other rules, and a real
 * return to normal, are not held. */
static void test_gap_holds_silence_rules(void **state) {
        rw_input_gaps_t g = { 0 };
        rw_account_figures_t fig = { .orders_total = 11, .first_order = 0,
                                     .last_order = 50 * DAY };
        rw_fp_state_t fp = { 0 };
        rw_decision_t dec;
        char csv[RW_INPUT_GAPS_CSV_SIZE];

        (void)state;
        assert_int_equal(rw_input_gaps_note(&g, &P, 100 * DAY, 100 * DAY + 7 * DAY), 0);
        assert_int_equal(rw_input_gaps_note(&g, &P, 0, 250 * DAY), 0);   /* first event */
        assert_int_equal(rw_input_gaps_note(&g, &P, 100 * DAY, 250 * DAY), 1);
        fig.now = 100 * DAY + 1;
        /* A gap of the partition holds nothing until it is the group's. */
        assert_false(rw_rules_gap_held(RW_RULE_INACTIVITY, &P, &fig, &g));
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, NULL, 0), 1);
        fig.now = 100 * DAY;
        assert_false(rw_rules_gap_held(RW_RULE_INACTIVITY, &P, &fig, &g));
        fig.now = 100 * DAY + 1;
        assert_true(rw_rules_gap_held(RW_RULE_INACTIVITY, &P, &fig, &g));
        assert_true(rw_rules_gap_held(RW_RULE_ORDER_DROP, &P, &fig, &g));
        assert_false(rw_rules_gap_held(RW_RULE_REFUND_RATE, &P, &fig, &g));
        fig.now = 250 * DAY + 15 * DAY - 1;
        assert_true(rw_rules_gap_held(RW_RULE_INACTIVITY, &P, &fig, &g));
        assert_int_equal(rw_rules_decide_account(RW_RULE_INACTIVITY, &P, &fig, &fp, &g,
                                                 &dec), 0);
        fig.now = 250 * DAY + 15 * DAY;
        assert_false(rw_rules_gap_held(RW_RULE_INACTIVITY, &P, &fig, &g));
        assert_true(rw_rules_gap_held(RW_RULE_SPEND_DROP, &P, &fig, &g));
        assert_int_equal(rw_rules_decide_account(RW_RULE_INACTIVITY, &P, &fig, &fp, &g,
                                                 &dec), 1);
        assert_true(dec.holds);
        fig.now = 250 * DAY + 30 * DAY;
        assert_false(rw_rules_gap_held(RW_RULE_SPEND_DROP, &P, &fig, &g));
        /* A firing drop alert whose baseline emptied resolves during the
         * hold; it could not fire in it. */
        fig.now = 250 * DAY + DAY;
        fp.firing = 1;
        assert_int_equal(rw_rules_decide_account(RW_RULE_ORDER_DROP, &P, &fig, &fp, &g,
                                                 &dec), 1);
        assert_true(dec.undecided);
        fig.placed_base = 60;
        fig.spend_base_placed = 60;
        fig.net_spend_base = 60000;
        /* A baseline and no spend: the drop holds, and is held (firing: no
         * escalation; quiet: no FIRING). */
        assert_int_equal(rw_rules_decide_account(RW_RULE_SPEND_DROP, &P, &fig, &fp, &g,
                                                 &dec), 0);
        fp.firing = 0;
        assert_int_equal(rw_rules_decide_account(RW_RULE_SPEND_DROP, &P, &fig, &fp, &g,
                                                 &dec), 0);
        fig.now = 250 * DAY + 30 * DAY;
        assert_int_equal(rw_rules_decide_account(RW_RULE_SPEND_DROP, &P, &fig, &fp, &g,
                                                 &dec), 1);
        assert_true(dec.holds);
        fig.now = 250 * DAY + DAY;
        /* Firing, then the account orders during the hold: resolves. */
        fp.firing = 1;
        fig.last_order = fig.now = 251 * DAY;
        assert_int_equal(rw_rules_decide_account(RW_RULE_INACTIVITY, &P, &fig, &fp, &g,
                                                 &dec), 1);
        assert_int_equal(rw_lifecycle_step(&fp, &dec, fig.now, P.cooldown_ms),
                         RW_TRANS_RESOLVED);
        /* Off: no outage. Stored and read back; the oldest of five goes. */
        P.input_gap_ms = 0;
        fig.now = 100 * DAY + 1;
        assert_false(rw_rules_gap_held(RW_RULE_INACTIVITY, &P, &fig, &g));
        P.input_gap_ms = 7 * DAY;
        for (int i = 1; i <= RW_INPUT_GAPS; i++) {
                assert_int_equal(rw_input_gaps_note(&g, &P, (250 + 10 * i) * DAY,
                                                    (258 + 10 * i) * DAY), 1);
                if (i < 3)
                        assert_int_equal(rw_input_gaps_group(&g, &P, (250 + 10 * i) * DAY,
                                                             (258 + 10 * i) * DAY, NULL, 0),
                                         1);
        }
        assert_int_equal(g.cnt, RW_INPUT_GAPS);
        assert_int_equal(g.v[0].start, 260 * DAY);
        assert_int_equal(g.out_cnt, 3);
        rw_input_gaps_format(&g, csv, sizeof(csv));
        {
                rw_input_gaps_t back;
                rw_input_gaps_parse(csv, &back);
                assert_memory_equal(&back, &g, sizeof(g));
                rw_input_gaps_parse("garbage;5,3;1,2", &back);
                assert_int_equal(back.cnt, 1);
                assert_int_equal(back.v[0].end, 2);
                /* As stored before the group's outages: gaps are outages. */
                assert_int_equal(back.out_cnt, 1);
                assert_int_equal(back.out[0].end, 2);
                rw_input_gaps_parse("1,2;3,4|", &back);
                assert_int_equal(back.cnt, 2);
                assert_int_equal(back.out_cnt, 0);
                rw_input_gaps_parse("|3,40", &back);
                assert_int_equal(back.cnt, 0);
                assert_int_equal(back.out_cnt, 1);
                assert_int_equal(back.out[0].start, 3);
        }
}

/* The silent account of the tests above, with an outage right after its
 * last order: inactivity is due when the hold ends, not at its limit. */
static void test_gap_moves_due(void **state) {
        rw_day_bucket_t b[16];
        rw_fp_state_t fp[RW_RULE__CNT] = { { 0 } };
        rw_input_gaps_t g = { 0 };
        int64_t first, last;
        size_t n = silent_account(b, &first, &last);

        (void)state;
        assert_int_equal(rw_input_gaps_note(&g, &P, last, last + 100 * DAY), 1);
        assert_int_equal(rw_input_gaps_group(&g, &P, last, last + 100 * DAY, NULL, 0), 1);
        assert_int_equal(rw_rules_next_due_gap(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first,
                                               last, fp, &g, last, INT64_MAX, 0),
                         last + 100 * DAY + 15 * DAY);
        assert_int_equal(rw_rules_next_due_gap(&P, RW_SRC_ORDERS, b, n, (int64_t)n, first,
                                               last, fp, NULL, last, INT64_MAX, 0),
                         last + 15 * DAY + 1);
}

/* A gap of one orders partition is an outage of the group's input only
 * where every other orders partition was silent too (a gap of its own, or
 * idle), for longer than input.gap; it is known once they all passed its
 * end. */
static void test_gap_group(void **state) {
        rw_input_peer_t q[2] = {
                { .partition = 1, .known = 1, .watermark = 300 * DAY },
                { .partition = 2, .known = 1, .watermark = 200 * DAY },
        };
        rw_input_gaps_t g = { 0 };

        (void)state;
        /* Peer 2 has not passed day 250: not known yet. */
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, q, 2), 0);
        assert_false(rw_input_peers_reached(q, 2, 250 * DAY));
        q[1].idle = 1;          /* idle: silent from its watermark on */
        assert_true(rw_input_peers_reached(q, 2, 250 * DAY));
        /* Peer 1 live throughout: no outage. */
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, q, 2), 1);
        assert_int_equal(g.out_cnt, 0);
        /* Peer 1 silent from day 90 to 180 and from 190 to 260; peer 2 idle
         * from day 200: the group was silent 100..180 and 200..250 (190..200
         * peer 2 was live). */
        q[0].gaps.v[0] = (rw_input_gap_t){ 90 * DAY, 180 * DAY };
        q[0].gaps.v[1] = (rw_input_gap_t){ 190 * DAY, 260 * DAY };
        q[0].gaps.cnt = 2;
        q[1].gaps.v[0] = (rw_input_gap_t){ 50 * DAY, 185 * DAY };
        q[1].gaps.cnt = 1;
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, q, 2), 1);
        assert_int_equal(g.out_cnt, 2);
        assert_int_equal(g.out[0].start, 100 * DAY);
        assert_int_equal(g.out[0].end, 180 * DAY);
        assert_int_equal(g.out[1].start, 200 * DAY);
        assert_int_equal(g.out[1].end, 250 * DAY);
        /* A common silence not longer than input.gap is no outage. */
        g.out_cnt = 0;
        q[1].idle = 0;
        q[1].watermark = 300 * DAY;
        q[1].gaps.v[0] = (rw_input_gap_t){ 170 * DAY, 195 * DAY };
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, q, 2), 1);
        assert_int_equal(g.out_cnt, 1);
        assert_int_equal(g.out[0].start, 170 * DAY);
        assert_int_equal(g.out[0].end, 180 * DAY);
        q[1].gaps.v[0] = (rw_input_gap_t){ 175 * DAY, 195 * DAY };
        g.out_cnt = 0;
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, q, 2), 1);
        assert_int_equal(g.out_cnt, 0);
        /* Not reported: not known. */
        q[1].known = 0;
        assert_int_equal(rw_input_gaps_group(&g, &P, 100 * DAY, 250 * DAY, q, 2), 0);
}

/* The due search as it was before it skipped day boundaries: every
 * candidate evaluated. The reference the search must agree with. */
static int64_t ref_next_candidate(int64_t prev, int64_t until, int64_t horizon,
                                  const int64_t *at, size_t at_cnt,
                                  const rw_fp_state_t *fp, rw_rule_source_t src) {
        int64_t best = (prev / DAY + 1) * DAY;

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
                end = fp[r].resolved_at + P.cooldown_ms;
                if (end > prev && end < best)
                        best = end;
        }
        return best == INT64_MAX || best > until ? 0 : best;
}

static int64_t ref_next_due(rw_rule_source_t src, const rw_day_bucket_t *b, size_t cnt,
                            int64_t n, int64_t first, int64_t last,
                            const rw_fp_state_t *fp_in, const rw_input_gaps_t *gaps,
                            int64_t from, int64_t until) {
        rw_fp_state_t fp[RW_RULE__CNT];
        int64_t maxday = -1, horizon, at[1 + 3 * RW_INPUT_GAPS], limit_ms = 0, t;
        size_t at_cnt = 0;

        memcpy(fp, fp_in, sizeof(fp));
        for (size_t i = 0; i < cnt; i++)
                if (b[i].day > maxday)
                        maxday = b[i].day;
        horizon = (maxday + rw_rules_state_days(&P) + 2) * DAY;
        if (src == RW_SRC_ORDERS && P.enabled[RW_RULE_INACTIVITY] &&
            n >= P.inactivity_min_orders && n > 1) {
                double limit = P.inactivity_gap_factor *
                               ((double)(last - first) / (double)(n - 1));
                if (limit < (double)P.inactivity_min_ms)
                        limit = (double)P.inactivity_min_ms;
                at[at_cnt++] = last + (int64_t)floor(limit) + 1;
                limit_ms = (int64_t)limit;
        }
        for (int g = 0; src == RW_SRC_ORDERS && gaps && P.input_gap_ms > 0 &&
                        g < gaps->out_cnt; g++) {
                const rw_input_gap_t *gp = &gaps->out[g];
                if (gp->end - gp->start <= P.input_gap_ms)
                        continue;
                at[at_cnt++] = gp->end + P.order_drop.window_ms;
                at[at_cnt++] = gp->end + P.spend_drop.window_ms;
                if (limit_ms)
                        at[at_cnt++] = gp->end + limit_ms;
        }
        for (t = from; (t = ref_next_candidate(t, until, horizon, at, at_cnt, fp, src)); ) {
                rw_account_figures_t fig;
                rw_figures_compute(&P, b, cnt, n, first, last, t, &fig);
                for (int r = 0; r < RW_RULE_ACCOUNT_SHARE; r++) {
                        rw_decision_t dec;
                        if (rw_rule_source((rw_rule_id_t)r) != src ||
                            !rw_rules_decide_account((rw_rule_id_t)r, &P, &fig, &fp[r], gaps,
                                                     &dec))
                                continue;
                        if (rw_lifecycle_step(&fp[r], &dec, t, P.cooldown_ms) !=
                            RW_TRANS_NONE)
                                return t;
                }
        }
        return 0;
}

static uint64_t rnd_state = 88172645463325252ULL;
static int64_t rnd(int64_t n) {         /* xorshift64, 0 .. n-1 */
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return (int64_t)(rnd_state % (uint64_t)n);
}

/* A time of day: often midnight or its last millisecond, so that limits,
 * cooldown ends and outages' holds fall on day boundaries too. */
static int64_t rnd_ms(void) {
        int64_t k = rnd(4);
        return k == 0 ? 0 : k == 1 ? DAY - 1 : rnd(DAY);
}

/* The search that skips day boundaries where nothing moved finds the
 * instant evaluating every candidate finds: random accounts (sparse and
 * dense buckets of both streams, firing and cooling-down lifecycles, the
 * group's outages, windows and limits off their defaults). */
static void test_due_skip_matches_every_candidate(void **state) {
        size_t found = 0, found_stepped = 0, stepped = 0;

        (void)state;
        for (int c = 0; c < 20000; c++) {
                rw_day_bucket_t b[80];
                rw_fp_state_t fp[RW_RULE__CNT] = { { 0 } };
                rw_input_gaps_t gaps = { .out_cnt = 0 };
                /* Every eighth account has at most two buckets: an order or
                 * two, whose limits nothing else marks. */
                size_t cnt = (size_t)(c % 8 == 1 ? rnd(3) : rnd(c % 4 ? 40 : 80));
                int64_t span = 20 + rnd(300), n = 0, first = INT64_MAX, last = 0, from,
                        until, got, want;
                rw_rule_source_t src = rnd(2) ? RW_SRC_ORDERS : RW_SRC_SUPPORT;

                rw_rules_params_default(&P);
                if (rnd(3) == 0) {
                        P.order_drop.window_ms = (1 + rnd(40)) * DAY;
                        P.order_drop.baseline_window_ms = (1 + rnd(100)) * DAY;
                        P.spend_drop.window_ms = (1 + rnd(40)) * DAY;
                        P.refund_window_ms = (1 + rnd(40)) * DAY;
                        P.satisfaction_window_ms = (1 + rnd(40)) * DAY;
                        P.spike_window_ms = (1 + rnd(14)) * DAY;
                        P.spike_baseline_weeks = 1 + rnd(10);
                        P.inactivity_min_ms = (1 + rnd(30)) * DAY + rnd_ms();
                        P.inactivity_min_orders = 1 + rnd(4);
                        P.cooldown_ms = rnd(5) * DAY + rnd_ms();
                        P.order_drop.min_baseline = rnd(8);
                        P.refund_min_orders = 1 + rnd(5);
                        P.csat_min_answers = 1 + rnd(3);
                        P.spike_min_tickets = 1 + rnd(4);
                }
                if (rnd(4) == 0)
                        P.input_gap_ms = (1 + rnd(10)) * DAY;
                for (size_t i = 0; i < cnt; i++) {
                        memset(&b[i], 0, sizeof(b[i]));
                        b[i].day = 10000 + rnd(span);
                        if (src == RW_SRC_ORDERS) {
                                b[i].placed = rnd(4);
                                b[i].placed_sum = b[i].placed * (100 + rnd(5000));
                                b[i].cancelled = rnd(6) == 0;
                                b[i].refunded = rnd(5) == 0;
                                b[i].refunded_sum = b[i].refunded * rnd(3000);
                                n += b[i].placed;
                        } else {
                                b[i].tickets = rnd(4);
                                b[i].tickets_hot = rnd(6) == 0;
                                b[i].csat_n = rnd(3);
                                b[i].csat_sum = (double)(b[i].csat_n * (1 + rnd(5)));
                                b[i].sentiment_n = rnd(3);
                                b[i].sentiment_sum = (double)b[i].sentiment_n *
                                                     ((double)rnd(200) / 100.0 - 1.0);
                        }
                        if (b[i].day * DAY < first)
                                first = b[i].day * DAY + rnd_ms();
                        if (b[i].day * DAY > last)
                                last = b[i].day * DAY + rnd_ms();
                }
                if (!cnt)
                        first = last = 10000 * DAY;
                for (int r = 0; r < RW_RULE_ACCOUNT_SHARE; r++) {
                        switch (rnd(4)) {
                        case 0:
                                fp[r].firing = 1;
                                fp[r].severity = rnd(2) ? RW_SEV_WARNING : RW_SEV_CRITICAL;
                                break;
                        case 1:
                                fp[r].resolved_at = (last / DAY - 3 + rnd(6)) * DAY + rnd_ms();
                                break;
                        default:
                                break;
                        }
                }
                for (int g = rnd(4); g > 0 && P.input_gap_ms > 0; g--) {
                        int64_t s0 = (first / DAY + rnd(span)) * DAY + rnd_ms();
                        gaps.out[gaps.out_cnt++] = (rw_input_gap_t){
                                .start = s0, .end = (s0 / DAY + rnd(20)) * DAY + rnd_ms() };
                }
                from = (last / DAY + rnd(60) - rnd(30)) * DAY + rnd_ms();
                until = rnd(3) ? INT64_MAX : from + rnd(200 * DAY);
                want = ref_next_due(src, b, cnt, n, first, last, fp,
                                    gaps.out_cnt ? &gaps : NULL, from, until);
                got = rw_rules_next_due_gap(&P, src, b, cnt, n, first, last, fp,
                                            gaps.out_cnt ? &gaps : NULL, from, until, 0);
                if (got != want)
                        fail_msg("case %d: due %lld, every candidate evaluated gives %lld",
                                 c, (long long)got, (long long)want);
                found += want != 0;

                /* The states stepped at `from` first, as a caller that
                 * evaluated there has them: the search that skips the
                 * unmoved days after `from` gives what evaluating every
                 * candidate after it gives. */
                if (from >= 0) {
                        rw_account_figures_t fig;
                        rw_figures_compute(&P, b, cnt, n, first, last, from, &fig);
                        for (int r = 0; r < RW_RULE_ACCOUNT_SHARE; r++) {
                                rw_decision_t dec;
                                if (rw_rule_source((rw_rule_id_t)r) == src &&
                                    rw_rules_decide_account((rw_rule_id_t)r, &P, &fig, &fp[r],
                                                            gaps.out_cnt ? &gaps : NULL, &dec))
                                        stepped += rw_lifecycle_step(&fp[r], &dec, from,
                                                                     P.cooldown_ms) !=
                                                   RW_TRANS_NONE;
                        }
                        want = ref_next_due(src, b, cnt, n, first, last, fp,
                                            gaps.out_cnt ? &gaps : NULL, from, until);
                        got = rw_rules_next_due_gap(&P, src, b, cnt, n, first, last, fp,
                                                    gaps.out_cnt ? &gaps : NULL, from, until,
                                                    1);
                        if (got != want)
                                fail_msg("case %d, stepped at from: due %lld, every candidate "
                                         "evaluated gives %lld", c, (long long)got,
                                         (long long)want);
                        found_stepped += want != 0;
                }
        }
        /* Not a vacuous comparison: most accounts have a due time, and
         * stepping at `from` fired or resolved some. */
        assert_true(found > 5000);
        assert_true(found_stepped > 5000);
        assert_true(stepped > 500);
}

/* The figures of one stream equal those rw_figures_compute() gives, and
 * the other stream's stay 0: over random days holding both streams' counts
 * (a view holds one stream's; the sums must not depend on it). */
static void test_figures_of_one_stream(void **state) {
        int64_t e[RW_FIGURES_EDGES];

        (void)state;
        for (int c = 0; c < 2000; c++) {
                rw_day_bucket_t b[40];
                size_t cnt = (size_t)rnd(40);
                int64_t now = (10000 + rnd(200)) * DAY + rnd_ms();
                rw_account_figures_t all, o, s;

                rw_rules_params_default(&P);
                if (rnd(2)) {
                        P.order_drop.window_ms = (1 + rnd(40)) * DAY;
                        P.spend_drop.baseline_window_ms = (1 + rnd(100)) * DAY;
                        P.refund_window_ms = (1 + rnd(40)) * DAY;
                        P.satisfaction_window_ms = (1 + rnd(40)) * DAY;
                        P.spike_window_ms = (1 + rnd(14)) * DAY;
                }
                for (size_t i = 0; i < cnt; i++)
                        b[i] = (rw_day_bucket_t){
                                .day = (int32_t)(10000 + rnd(220)), .placed = (int32_t)rnd(4),
                                .cancelled = (int32_t)rnd(2), .refunded = (int32_t)rnd(2),
                                .tickets = (int32_t)rnd(4), .tickets_hot = (int32_t)rnd(2),
                                .csat_n = (int32_t)rnd(3), .sentiment_n = (int32_t)rnd(3),
                                .placed_sum = rnd(90000), .refunded_sum = rnd(5000),
                                .csat_sum = (double)rnd(15), .sentiment_sum = (double)rnd(7) / 4,
                        };
                (void)rw_figures_edges(&P, e);
                rw_figures_compute(&P, b, cnt, 9, now - 300 * DAY, now - DAY, now, &all);
                rw_figures_compute_src(e, RW_SRC_ORDERS, b, cnt, 9, now - 300 * DAY,
                                       now - DAY, now, &o);
                rw_figures_compute_src(e, RW_SRC_SUPPORT, b, cnt, 9, now - 300 * DAY,
                                       now - DAY, now, &s);
                assert_int_equal(o.placed_30, all.placed_30);
                assert_int_equal(o.placed_base, all.placed_base);
                assert_int_equal(o.net_spend_30, all.net_spend_30);
                assert_int_equal(o.net_spend_base, all.net_spend_base);
                assert_int_equal(o.spend_base_placed, all.spend_base_placed);
                assert_int_equal(o.orders_30, all.orders_30);
                assert_int_equal(o.returns_30, all.returns_30);
                assert_int_equal(o.orders_total, all.orders_total);
                assert_int_equal(o.last_order, all.last_order);
                assert_int_equal(o.tickets_7 + o.tickets_base + o.csat_n_30, 0);
                assert_true(o.csat_sum_30 == 0 && o.sentiment_sum_30 == 0);
                assert_int_equal(s.tickets_7, all.tickets_7);
                assert_int_equal(s.tickets_hot_7, all.tickets_hot_7);
                assert_int_equal(s.tickets_base, all.tickets_base);
                assert_int_equal(s.csat_n_30, all.csat_n_30);
                assert_int_equal(s.sentiment_n_30, all.sentiment_n_30);
                assert_true(s.csat_sum_30 == all.csat_sum_30);
                assert_true(s.sentiment_sum_30 == all.sentiment_sum_30);
                assert_int_equal(s.placed_30 + s.placed_base + s.orders_30 + s.net_spend_30, 0);
        }
}

static void test_duration_format(void **state) {
        static const struct { int64_t ms; const char *want; } cases[] = {
                { 0, "0s" }, { 999, "0s" }, { 45000, "45s" }, { 200 * 1000, "3m 20s" },
                { 3 * HOUR, "3h" }, { 3 * HOUR + 20 * 60000, "3h 20m" }, { DAY, "1d" },
                { 15 * DAY + 2 * HOUR + 59 * 60000, "15d 2h" }, { 511500000, "5d 22h" },
        };
        char buf[32];

        (void)state;
        for (size_t i = 0; i < RW_ARRAY_SIZE(cases); i++) {
                rw_duration_format(cases[i].ms, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].want);
        }
}


int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_order_drop_lifecycle, setup),
                cmocka_unit_test_setup(test_gap_group, setup),
                cmocka_unit_test_setup(test_order_drop_min_history, setup),
                cmocka_unit_test_setup(test_spend_drop_lifecycle, setup),
                cmocka_unit_test_setup(test_spend_drop_min_history, setup),
                cmocka_unit_test_setup(test_inactivity_lifecycle, setup),
                cmocka_unit_test_setup(test_inactivity_due_from_event_time, setup),
                cmocka_unit_test_setup(test_due_after_firing_and_cooldown, setup),
                cmocka_unit_test_setup(test_due_skip_matches_every_candidate, setup),
                cmocka_unit_test_setup(test_figures_of_one_stream, setup),
                cmocka_unit_test_setup(test_order_drop_due_at_day_boundary, setup),
                cmocka_unit_test_setup(test_inactivity_gap_factor_and_min_orders, setup),
                cmocka_unit_test_setup(test_support_spike_lifecycle, setup),
                cmocka_unit_test_setup(test_support_spike_min_history, setup),
                cmocka_unit_test_setup(test_low_satisfaction_csat_lifecycle, setup),
                cmocka_unit_test_setup(test_low_satisfaction_sentiment_lifecycle, setup),
                cmocka_unit_test_setup(test_low_satisfaction_min_history, setup),
                cmocka_unit_test_setup(test_refund_rate_lifecycle, setup),
                cmocka_unit_test_setup(test_refund_rate_min_orders, setup),
                cmocka_unit_test_setup(test_account_share_lifecycle, setup),
                cmocka_unit_test_setup(test_vendor_share_lifecycle, setup),
                cmocka_unit_test_setup(test_account_hhi_lifecycle, setup),
                cmocka_unit_test_setup(test_vendor_hhi_lifecycle, setup),
                cmocka_unit_test_setup(test_dependency_min_history, setup),
                cmocka_unit_test_setup(test_lifecycle_never_resolved, setup),
                cmocka_unit_test_setup(test_figures_default_windows, setup),
                cmocka_unit_test_setup(test_figures_configured_windows, setup),
                cmocka_unit_test_setup(test_order_drop_configured_window, setup),
                cmocka_unit_test_setup(test_spend_drop_own_windows, setup),
                cmocka_unit_test_setup(test_params_from_conf_defaults, setup),
                cmocka_unit_test_setup(test_params_from_conf_changes_decisions, setup),
                cmocka_unit_test_setup(test_params_from_conf_rejects, setup),
                cmocka_unit_test_setup(test_conf_table_ranges, setup),
                cmocka_unit_test(test_alert_id_full_length),
                cmocka_unit_test_setup(test_undecided_ends_episode, setup),
                cmocka_unit_test_setup(test_gap_holds_silence_rules, setup),
                cmocka_unit_test_setup(test_gap_moves_due, setup),
                cmocka_unit_test(test_duration_format),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
