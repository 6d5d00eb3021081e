/* test_alert_diff.c - a backtest's transitions against the live run's
 * (consumers/alert_diff.c): alike by id, shifted by fingerprint and status
 * in order, the rest on one side, counted per rule and in total. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "consumers/alert_diff.h"

static void add(rw_diff_list_t *l, const char *id, const char *fp, const char *rule,
                rw_alert_status_t st, rw_alert_severity_t sev, int64_t t) {
        rw_alert_t a = { .alert_id = id, .fingerprint = fp, .rule = rule, .status = st,
                         .severity = sev, .event_time = t };
        assert_int_equal(rw_diff_list_add(l, &a), 0);
}

static const rw_diff_row_t *row(const rw_diff_t *d, const char *rule) {
        for (size_t i = 0; i < d->cnt; i++)
                if (rule ? d->rows[i].rule && !strcmp(d->rows[i].rule, rule) : !d->rows[i].rule)
                        return &d->rows[i];
        fail_msg("no row %s", rule ? rule : "total");
        return NULL;
}

static void test_kinds(void **state) {
        rw_diff_list_t live = { 0 }, test = { 0 };
        rw_diff_t d;
        (void)state;

        /* alike */
        add(&live, "a1", "r1/ACCOUNT/x", "r1", RW_ALERT_FIRING, RW_SEV_WARNING, 100);
        add(&test, "a1", "r1/ACCOUNT/x", "r1", RW_ALERT_FIRING, RW_SEV_WARNING, 100);
        /* shifted: same fingerprint and status, other time; then other severity */
        add(&live, "a2", "r1/ACCOUNT/y", "r1", RW_ALERT_FIRING, RW_SEV_WARNING, 200);
        add(&test, "b2", "r1/ACCOUNT/y", "r1", RW_ALERT_FIRING, RW_SEV_WARNING, 150);
        add(&live, "a3", "r2/ACCOUNT/y", "r2", RW_ALERT_FIRING, RW_SEV_WARNING, 300);
        add(&test, "b3", "r2/ACCOUNT/y", "r2", RW_ALERT_FIRING, RW_SEV_CRITICAL, 300);
        /* a RESOLVED never pairs with a FIRING */
        add(&live, "a4", "r2/ACCOUNT/z", "r2", RW_ALERT_RESOLVED, RW_SEV_WARNING, 400);
        add(&test, "b4", "r2/ACCOUNT/z", "r2", RW_ALERT_FIRING, RW_SEV_WARNING, 400);
        /* only on one side */
        add(&live, "a5", "r3/ACCOUNT/w", "r3", RW_ALERT_FIRING, RW_SEV_WARNING, 500);

        assert_int_equal(rw_diff_compute(&live, &test, &d), 0);
        assert_int_equal(d.cnt, 4);     /* r1 r2 r3 total */
        assert_int_equal(row(&d, "r1")->n[RW_DIFF_ALIKE], 1);
        assert_int_equal(row(&d, "r1")->n[RW_DIFF_SHIFTED], 1);
        assert_int_equal(row(&d, "r2")->n[RW_DIFF_SHIFTED], 1);
        assert_int_equal(row(&d, "r2")->n[RW_DIFF_LIVE_ONLY], 1);
        assert_int_equal(row(&d, "r2")->n[RW_DIFF_TEST_ONLY], 1);
        assert_int_equal(row(&d, "r3")->n[RW_DIFF_LIVE_ONLY], 1);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_ALIKE], 1);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_SHIFTED], 2);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_LIVE_ONLY], 2);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_TEST_ONLY], 1);
        /* An example points at both sides of a shift. */
        {
                const rw_diff_row_t *r = row(&d, "r1");
                assert_int_equal(r->ex_cnt[RW_DIFF_SHIFTED], 1);
                assert_string_equal(live.v[r->ex[RW_DIFF_SHIFTED][0].live].alert_id, "a2");
                assert_string_equal(test.v[r->ex[RW_DIFF_SHIFTED][0].test].alert_id, "b2");
        }
        rw_diff_clear(&d);
        rw_diff_list_clear(&live);
        rw_diff_list_clear(&test);
}

/* Two episodes of one fingerprint pair in event-time order; an id appearing
 * twice on one side matches once. */
static void test_order(void **state) {
        rw_diff_list_t live = { 0 }, test = { 0 };
        rw_diff_t d;
        (void)state;

        add(&live, "l2", "f", "r", RW_ALERT_FIRING, RW_SEV_WARNING, 2000);
        add(&live, "l1", "f", "r", RW_ALERT_FIRING, RW_SEV_WARNING, 1000);
        add(&test, "t1", "f", "r", RW_ALERT_FIRING, RW_SEV_WARNING, 1100);
        add(&test, "x", "g", "r", RW_ALERT_FIRING, RW_SEV_WARNING, 5);
        add(&live, "x", "g", "r", RW_ALERT_FIRING, RW_SEV_WARNING, 5);
        add(&live, "x", "g", "r", RW_ALERT_FIRING, RW_SEV_WARNING, 5);
        assert_int_equal(rw_diff_compute(&live, &test, &d), 0);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_ALIKE], 1);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_SHIFTED], 1);
        assert_int_equal(row(&d, NULL)->n[RW_DIFF_LIVE_ONLY], 2);
        assert_string_equal(live.v[row(&d, NULL)->ex[RW_DIFF_SHIFTED][0].live].alert_id, "l1");
        rw_diff_clear(&d);
        rw_diff_list_clear(&live);
        rw_diff_list_clear(&test);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
