/* test_portfolio.c - the dependency rules' portfolio arithmetic: exact sums
 * of squares, their stored form, the HHI and the share rules' floor. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "rules/portfolio.h"

/* Squares are exact where a double or a uint64 would not be. */
static void test_sq_exact(void **state) {
        char buf[48];
        (void)state;
        assert_true(rw_portfolio_sq(0) == 0);
        assert_true(rw_portfolio_sq(-3) == 9);
        rw_u128_fmt(rw_portfolio_sq(INT64_MAX), buf, sizeof(buf));
        assert_string_equal(buf, "85070591730234615847396907784232501249");
        rw_u128_fmt(rw_portfolio_sq(INT64_MIN), buf, sizeof(buf));
        assert_string_equal(buf, "85070591730234615865843651857942052864");
        /* (2^53 + 1)^2: a double drops the final 1. */
        rw_u128_fmt(rw_portfolio_sq((1LL << 53) + 1), buf, sizeof(buf));
        assert_string_equal(buf, "81129638414606699710187514626049");
}

/* Moving totals up and down, refunds below zero included, keeps the sum of
 * squares equal to one recomputed from scratch. */
static void test_sq_move(void **state) {
        int64_t tot[5] = { 0 };
        rw_u128_t sq = 0;
        uint64_t x = 12345;
        (void)state;
        for (int step = 0; step < 10000; step++) {
                int s;
                int64_t d, old;
                rw_u128_t want = 0;
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                s = (int)((x >> 33) % 5);
                d = (int64_t)((x >> 20) % 2000000000001ULL) - 1000000000000LL;
                old = tot[s];
                tot[s] += d;
                sq = rw_portfolio_sq_move(sq, old, tot[s]);
                for (int i = 0; i < 5; i++)
                        want += rw_portfolio_sq(tot[i]);
                assert_true(sq == want);
        }
}

static void test_u128_text(void **state) {
        static const char *vals[] = { "0", "7", "18446744073709551616",
                                      "340282366920938463463374607431768211455" };
        char buf[48];
        (void)state;
        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
                rw_u128_fmt(rw_u128_parse(vals[i]), buf, sizeof(buf));
                assert_string_equal(buf, vals[i]);
        }
        assert_true(rw_u128_parse("") == 0);
        assert_true(rw_u128_parse("12x3") == 12);
        /* A short buffer is truncated, never overrun. */
        rw_u128_fmt(123456, buf, 4);
        assert_string_equal(buf, "123");
}

static void test_hhi(void **state) {
        (void)state;
        /* One subject: 10000. Four equal: 2500. 60/40: 5200. */
        assert_true(rw_portfolio_hhi(rw_portfolio_sq(500), 500) == 10000.0);
        assert_true(rw_portfolio_hhi(4 * rw_portfolio_sq(25), 100) == 2500.0);
        assert_true(fabs(rw_portfolio_hhi(rw_portfolio_sq(60) + rw_portfolio_sq(40), 100) -
                         5200.0) < 1e-9);
        /* Net spends that cancel out: no index. */
        assert_true(rw_portfolio_hhi(rw_portfolio_sq(50) + rw_portfolio_sq(-50), 0) == 0);
        assert_true(rw_portfolio_hhi(rw_portfolio_sq(10), -10) == 0);
}

/* The floor is a whole number a little below warn x sum: a subject at the
 * limit exactly is never left out. */
static void test_share_floor(void **state) {
        (void)state;
        assert_true(rw_portfolio_share_floor(0.25, 1000) == 249.0);
        assert_true(rw_portfolio_share_floor(0.25, 1000) < 250.0);
        for (int64_t sum = 1; sum < 100000; sum += 997) {
                double f = rw_portfolio_share_floor(0.3, sum);
                assert_true(f == floor(f));
                assert_true(f <= 0.3 * (double)sum);
                assert_true(f >= 0.3 * (double)sum - 2.0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sq_exact),
                cmocka_unit_test(test_sq_move),
                cmocka_unit_test(test_u128_text),
                cmocka_unit_test(test_hhi),
                cmocka_unit_test(test_share_floor),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
