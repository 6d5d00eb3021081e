/* test_prefetch.c - when the consumer's fetchers are woken: once per fill of
 * the queue (in records, or in bytes estimated from the records taken),
 * when it drained to half. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "consumers/prefetch.h"

static void test_not_before_full(void **state) {
        rw_prefetch_mark_t m;
        (void)state;
        rw_prefetch_mark_init(&m, 1000, 0);
        /* A queue that never filled: the fetchers were never stopped. */
        assert_int_equal(rw_prefetch_mark(&m, 900), 0);
        assert_int_equal(rw_prefetch_mark(&m, 400), 0);
        assert_int_equal(rw_prefetch_mark(&m, 0), 0);
}

static void test_once_per_fill(void **state) {
        rw_prefetch_mark_t m;
        (void)state;
        rw_prefetch_mark_init(&m, 1000, 0);
        assert_int_equal(rw_prefetch_mark(&m, 1000), 0);   /* full: stopped */
        assert_int_equal(rw_prefetch_mark(&m, 700), 0);    /* draining */
        assert_int_equal(rw_prefetch_mark(&m, 501), 0);
        assert_int_equal(rw_prefetch_mark(&m, 500), 1);    /* half: wake */
        assert_int_equal(rw_prefetch_mark(&m, 300), 0);    /* once */
        assert_int_equal(rw_prefetch_mark(&m, 0), 0);
        /* Refilled past the limit, drained again: woken again. */
        assert_int_equal(rw_prefetch_mark(&m, 1200), 0);
        assert_int_equal(rw_prefetch_mark(&m, 100), 1);
        /* Within 5 % of the limit is full. */
        assert_int_equal(rw_prefetch_mark(&m, 950), 0);
        assert_int_equal(rw_prefetch_mark(&m, 400), 1);
}

static void test_overshoot_seen_before_take(void **state) {
        rw_prefetch_mark_t m;
        (void)state;
        /* The queue was over the limit with the batch the loop just took
         * (600) and is already below half without it: the fill is not
         * missed. */
        rw_prefetch_mark_init(&m, 1000, 0);
        assert_int_equal(rw_prefetch_taken(&m, 600, 6000, 450), 1);
        assert_int_equal(m.seen, 600);
        assert_int_equal(m.seen_bytes, 6000);
        /* Not again until the queue fills again. */
        assert_int_equal(rw_prefetch_taken(&m, 100, 1000, 300), 0);
        assert_int_equal(rw_prefetch_taken(&m, 100, 1000, 1100), 0);
        assert_int_equal(rw_prefetch_taken(&m, 100, 1000, 350), 1);
}

static void test_bytes_first(void **state) {
        rw_prefetch_mark_t m;
        (void)state;
        /* 1000 records or 50 000 bytes; records of 100 bytes fill the bytes
         * at 500 records. */
        rw_prefetch_mark_init(&m, 1000, 50000);
        assert_int_equal(rw_prefetch_limit(&m), 1000);     /* nothing seen yet */
        rw_prefetch_seen(&m, 10, 1000);
        assert_int_equal(rw_prefetch_limit(&m), 500);
        assert_int_equal(rw_prefetch_mark(&m, 500), 0);    /* full by bytes */
        assert_int_equal(rw_prefetch_mark(&m, 300), 0);
        assert_int_equal(rw_prefetch_mark(&m, 250), 1);
        /* Small records: the record limit comes first again. */
        rw_prefetch_seen(&m, 990, 9000);                   /* 10 bytes on average */
        assert_int_equal(rw_prefetch_limit(&m), 1000);
        assert_int_equal(rw_prefetch_mark(&m, 600), 0);    /* not full any more */
        assert_int_equal(rw_prefetch_mark(&m, 200), 0);
}

static void test_no_limit(void **state) {
        rw_prefetch_mark_t m;
        (void)state;
        rw_prefetch_mark_init(&m, 0, 0);
        rw_prefetch_seen(&m, 10, 1000);
        assert_int_equal(rw_prefetch_mark(&m, 5000), 0);
        assert_int_equal(rw_prefetch_mark(&m, 0), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_before_full),
                cmocka_unit_test(test_once_per_fill),
                cmocka_unit_test(test_overshoot_seen_before_take),
                cmocka_unit_test(test_bytes_first),
                cmocka_unit_test(test_no_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
