/* test_idle.c - consumers/idle.c: when an owner may say its partition is at
 * its end, when a report makes a partition idle, and the group's low
 * watermark: a partition that is behind is never passed, however long it is
 * silent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "consumers/idle.h"

#define S 1000LL
#define H (3600 * S)

static const rw_idle_opts_t opts = {
        .lateness_ms = 5 * 60 * S, .idle_timeout_ms = 30 * S, .fresh_ms = RW_IDLE_FRESH_MS,
};

static void test_at_end(void **state) {
        (void)state;
        assert_true(rw_idle_at_end(1, 100, 100, 0));
        assert_true(rw_idle_at_end(1, -1, 0, 0));       /* empty, nothing stored */
        assert_false(rw_idle_at_end(0, 100, 100, 0));   /* no end-of-partition yet */
        assert_false(rw_idle_at_end(1, 99, 100, 0));    /* a record not stored */
        assert_false(rw_idle_at_end(1, 100, 100, 1));   /* a write pending */
        assert_false(rw_idle_at_end(1, 100, -1, 0));    /* high watermark not known */
        assert_false(rw_idle_at_end(1, -1, 3, 0));
}

static void test_is_idle(void **state) {
        const int64_t w = 1000000 * S;
        rw_bstore_prog_t r = { .partition = 0, .ok = 1, .watermark = 10 * H,
                               .wall_ms = w, .end_since = 0 };
        rw_idle_opts_t replay = opts;
        (void)state;

        /* Silent, not at its end: never idle. */
        assert_false(rw_idle_is_idle(&opts, &r, w + 3600 * S));
        /* At its end: idle after idle.timeout, while the report is fresh. */
        r.end_since = w;
        assert_false(rw_idle_is_idle(&opts, &r, w + 29 * S));
        r.wall_ms = w + 30 * S;
        assert_true(rw_idle_is_idle(&opts, &r, w + 30 * S));
        assert_true(rw_idle_is_idle(&opts, &r, w + 30 * S + RW_IDLE_FRESH_MS));
        assert_false(rw_idle_is_idle(&opts, &r, w + 30 * S + RW_IDLE_FRESH_MS + 1));
        /* A replay (run -e): never idle. */
        replay.replay = 1;
        assert_false(rw_idle_is_idle(&replay, &r, w + 30 * S));
        r.ok = 0;
        assert_false(rw_idle_is_idle(&opts, &r, w + 30 * S));
}

static void test_low(void **state) {
        const int64_t w = 1000000 * S, late = opts.lateness_ms;
        rw_bstore_prog_t v[3] = {
                { .partition = 0, .ok = 1, .watermark = 10 * H, .wall_ms = w },
                { .partition = 1, .ok = 1, .watermark = 20 * H, .wall_ms = w },
                { .partition = 2, .ok = 1, .watermark = 30 * H, .wall_ms = w },
        };
        (void)state;

        assert_int_equal(rw_idle_low(&opts, v, 3, 3, w), 10 * H - late);
        /* Partition 3 never reported: nothing passes. */
        assert_int_equal(rw_idle_low(&opts, v, 3, 4, w), INT64_MIN);
        /* Everything silent for an hour (an outage): the lowest, not the highest. */
        assert_int_equal(rw_idle_low(&opts, v, 3, 3, w + 3600 * S), 10 * H - late);
        /* Partition 0 at its end for idle.timeout: passed. */
        v[0].end_since = w - 30 * S;
        assert_int_equal(rw_idle_low(&opts, v, 3, 3, w), 20 * H - late);
        /* ... unless its report went stale. */
        assert_int_equal(rw_idle_low(&opts, v, 3, 3, w + RW_IDLE_FRESH_MS + 1), 10 * H - late);
        /* All idle: the furthest clock (no lateness any more). */
        v[1].end_since = v[2].end_since = w - 30 * S;
        assert_int_equal(rw_idle_low(&opts, v, 3, 3, w), 30 * H);
        /* A value that does not parse holds back. */
        v[1].ok = 0;
        assert_int_equal(rw_idle_low(&opts, v, 3, 3, w), INT64_MIN);
        assert_int_equal(rw_idle_low(&opts, v, 0, 0, w), INT64_MIN);
}

static void test_clock(void **state) {
        (void)state;
        assert_int_equal(rw_idle_clock(10 * H, INT64_MIN), 10 * H);
        assert_int_equal(rw_idle_clock(10 * H, 5 * H), 10 * H);
        assert_int_equal(rw_idle_clock(10 * H, 12 * H), 12 * H);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_at_end),
                cmocka_unit_test(test_is_idle),
                cmocka_unit_test(test_low),
                cmocka_unit_test(test_clock),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
