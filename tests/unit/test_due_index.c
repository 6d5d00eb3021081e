/* test_due_index.c - consumers/due_index.c: an owned partition's due times
 * in memory answer "who is due by T" exactly as the stored sorted set would,
 * through sets, moves, removals and growth (checked against a plain array),
 * and hold only those up to their horizon. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "consumers/due_index.h"

static void free_list(char **a, int64_t *d, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(a[i]);
        free(a);
        free(d);
}

static void test_basic(void **state) {
        rw_due_index_t *ix = rw_due_index_new();
        char **a;
        int64_t *d;
        size_t n;
        (void)state;

        assert_int_equal(rw_due_index_until(ix, INT64_MAX, &a, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(rw_due_index_set(ix, "acct-1", 100), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-2", 200), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-3", 0), 0);        /* none: not kept */
        assert_int_equal(rw_due_index_cnt(ix), 2);
        assert_int_equal(rw_due_index_get(ix, "acct-2"), 200);
        assert_int_equal(rw_due_index_get(ix, "acct-3"), 0);

        assert_int_equal(rw_due_index_until(ix, 99, &a, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(rw_due_index_until(ix, 100, &a, &d, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(a[0], "acct-1");
        assert_int_equal(d[0], 100);
        free_list(a, d, n);

        /* Moved on past the next query, then back before it. */
        assert_int_equal(rw_due_index_set(ix, "acct-1", 500), 0);
        assert_int_equal(rw_due_index_until(ix, 199, &a, &d, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(rw_due_index_set(ix, "acct-1", 150), 0);
        assert_int_equal(rw_due_index_until(ix, 199, &a, &d, &n), 0);
        assert_int_equal(n, 1);
        free_list(a, d, n);
        assert_int_equal(rw_due_index_set(ix, "acct-1", -1), 0);      /* removed */
        assert_int_equal(rw_due_index_cnt(ix), 1);
        assert_int_equal(rw_due_index_until(ix, INT64_MAX, &a, &d, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(a[0], "acct-2");
        free_list(a, d, n);
        rw_due_index_reset(ix, INT64_MAX);
        assert_int_equal(rw_due_index_cnt(ix), 0);
        assert_int_equal(rw_due_index_get(ix, "acct-2"), 0);
        rw_due_index_destroy(ix);
}

/* Random sets and removals over many accounts (growth, probe chains,
 * backward-shift deletion), checked after each step against an array. */
static void test_model(void **state) {
        enum { N = 3000, STEPS = 60000 };
        rw_due_index_t *ix = rw_due_index_new();
        int64_t *model = calloc(N, sizeof(*model));
        unsigned seed = 7;
        (void)state;

        for (int s = 0; s < STEPS; s++) {
                char name[32];
                int k = (int)(rand_r(&seed) % N);
                int64_t due = rand_r(&seed) % 3 ? (int64_t)(rand_r(&seed) % 100000) + 1 : 0;
                snprintf(name, sizeof(name), "acct-%04d", k);
                assert_int_equal(rw_due_index_set(ix, name, due), 0);
                model[k] = due;
                if (s % 997 == 0) {
                        int64_t until = rand_r(&seed) % 100000;
                        size_t want = 0, n, cnt = 0;
                        char **a;
                        int64_t *d;
                        for (int i = 0; i < N; i++) {
                                want += model[i] > 0 && model[i] <= until;
                                cnt += model[i] > 0;
                        }
                        assert_int_equal(rw_due_index_cnt(ix), cnt);
                        assert_int_equal(rw_due_index_until(ix, until, &a, &d, &n), 0);
                        assert_int_equal(n, want);
                        for (size_t j = 0; j < n; j++) {
                                int i = atoi(a[j] + 5);
                                assert_int_equal(d[j], model[i]);
                                assert_true(d[j] <= until);
                        }
                        free_list(a, d, n);
                }
        }
        for (int i = 0; i < N; i++) {
                char name[32];
                snprintf(name, sizeof(name), "acct-%04d", i);
                assert_int_equal(rw_due_index_get(ix, name), model[i]);
        }
        free(model);
        rw_due_index_destroy(ix);
}

/* A horizon: the index holds the due times up to it, and a set that moves
 * an account past it removes it (the store holds it from the write on). */
static void test_horizon(void **state) {
        rw_due_index_t *ix = rw_due_index_new();
        char **a;
        int64_t *d;
        size_t n;
        (void)state;

        assert_int_equal(rw_due_index_horizon(ix), INT64_MAX);
        assert_int_equal(rw_due_index_set(ix, "acct-1", 100), 0);
        rw_due_index_reset(ix, 300);
        assert_int_equal(rw_due_index_cnt(ix), 0);
        assert_int_equal(rw_due_index_horizon(ix), 300);
        assert_int_equal(rw_due_index_set(ix, "acct-1", 300), 0);      /* at it: held */
        assert_int_equal(rw_due_index_set(ix, "acct-2", 301), 0);      /* past it: not */
        assert_int_equal(rw_due_index_set(ix, "acct-3", 200), 0);
        assert_int_equal(rw_due_index_cnt(ix), 2);
        assert_int_equal(rw_due_index_get(ix, "acct-2"), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-3", 5000), 0);     /* moved past it */
        assert_int_equal(rw_due_index_get(ix, "acct-3"), 0);
        assert_int_equal(rw_due_index_until(ix, 300, &a, &d, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(a[0], "acct-1");
        free_list(a, d, n);
        rw_due_index_reset(ix, INT64_MAX);
        assert_int_equal(rw_due_index_horizon(ix), INT64_MAX);
        assert_int_equal(rw_due_index_set(ix, "acct-2", 301), 0);
        assert_int_equal(rw_due_index_get(ix, "acct-2"), 301);
        rw_due_index_destroy(ix);
}

/* Bounded: past 2 x ahead entries a set keeps the `ahead` nearest and their
 * ties, the horizon comes down to the last of them; whatever happens, the
 * index holds exactly the model's due times up to its horizon. */
static void test_bound(void **state) {
        enum { N = 3000, STEPS = 60000, AHEAD = 50 };
        rw_due_index_t *ix = rw_due_index_new();
        int64_t *model = calloc(N, sizeof(*model)), h;
        unsigned seed = 11;
        size_t shrinks = 0;
        (void)state;

        rw_due_index_bound(ix, 3);
        for (int i = 1; i <= 7; i++) {
                char name[16];
                snprintf(name, sizeof(name), "acct-%d", i);
                assert_int_equal(rw_due_index_set(ix, name, i * 10), 0);
        }
        /* The 7th set went past 6: 10, 20, 30 kept. */
        assert_int_equal(rw_due_index_horizon(ix), 30);
        assert_int_equal(rw_due_index_cnt(ix), 3);
        assert_int_equal(rw_due_index_get(ix, "acct-4"), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-9", 25), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-8", 35), 0);     /* past it */
        assert_int_equal(rw_due_index_get(ix, "acct-9"), 25);
        assert_int_equal(rw_due_index_get(ix, "acct-8"), 0);

        rw_due_index_reset(ix, INT64_MAX);
        rw_due_index_bound(ix, AHEAD);
        for (int s = 0; s < STEPS; s++) {
                char name[32];
                int k = (int)(rand_r(&seed) % N);
                int64_t due = rand_r(&seed) % 3 ? (int64_t)(rand_r(&seed) % 100000) + 1 : 0;
                /* The clock: what is due by it stays, hundreds of entries
                 * by the end, past any bound. */
                int64_t clock = s / 3;
                size_t held = 0;
                rw_due_index_hold(ix, clock);
                h = rw_due_index_horizon(ix);
                snprintf(name, sizeof(name), "acct-%04d", k);
                assert_int_equal(rw_due_index_set(ix, name, due), 0);
                model[k] = due;
                shrinks += rw_due_index_horizon(ix) != h;
                assert_true(rw_due_index_horizon(ix) >= clock);
                for (int i = 0; i < N; i++)
                        held += model[i] > 0 && model[i] <= clock;
                assert_true(rw_due_index_cnt(ix) <= held + 2 * AHEAD);
                if (s % 499 == 0 || rw_due_index_horizon(ix) != h) {
                        size_t want = 0;
                        h = rw_due_index_horizon(ix);
                        for (int i = 0; i < N; i++) {
                                snprintf(name, sizeof(name), "acct-%04d", i);
                                want += model[i] > 0 && model[i] <= h;
                                assert_int_equal(rw_due_index_get(ix, name),
                                                 model[i] <= h ? model[i] : 0);
                        }
                        assert_int_equal(rw_due_index_cnt(ix), want);
                }
                if (rw_due_index_horizon(ix) < INT64_MAX && s % 1000 == 999) {
                        rw_due_index_reset(ix, INT64_MAX);         /* a load: all again */
                        rw_due_index_hold(ix, clock);
                }
                if (rw_due_index_horizon(ix) == INT64_MAX) {
                        for (int i = 0; i < N; i++) {
                                snprintf(name, sizeof(name), "acct-%04d", i);
                                assert_int_equal(rw_due_index_set(ix, name, model[i]), 0);
                        }
                        shrinks += rw_due_index_horizon(ix) != INT64_MAX;
                }
        }
        assert_true(shrinks > 20);
        free(model);
        rw_due_index_destroy(ix);
}

/* Due by the clock, more than the bound: a load (or a batch) that finds
 * many accounts due at once keeps them all, the bound applies past them;
 * shrinking below the clock would leave due evaluations in the store,
 * found again by every load and cut again, and never made by a run that
 * ends (run -e). */
static void test_hold(void **state) {
        rw_due_index_t *ix = rw_due_index_new();
        char **a;
        int64_t *d;
        size_t n;
        (void)state;

        rw_due_index_bound(ix, 1);
        rw_due_index_reset(ix, 1000);          /* a load up to 1000 ... */
        rw_due_index_hold(ix, 500);            /* ... at a clock of 500 */
        for (int i = 1; i <= 5; i++) {
                char name[16];
                snprintf(name, sizeof(name), "acct-%d", i);
                assert_int_equal(rw_due_index_set(ix, name, i * 100), 0);
        }
        assert_int_equal(rw_due_index_set(ix, "acct-6", 900), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-7", 950), 0);
        assert_int_equal(rw_due_index_set(ix, "acct-8", 990), 0);
        /* The bound cut what is past the clock: one after it, 900. */
        assert_int_equal(rw_due_index_horizon(ix), 900);
        assert_int_equal(rw_due_index_get(ix, "acct-7"), 0);
        assert_int_equal(rw_due_index_until(ix, 500, &a, &d, &n), 0);
        assert_int_equal(n, 5);
        free_list(a, d, n);
        /* Evaluated: they move on, and the bound applies again. */
        for (int i = 1; i <= 5; i++) {
                char name[16];
                snprintf(name, sizeof(name), "acct-%d", i);
                assert_int_equal(rw_due_index_set(ix, name, 2000 + i), 0);
        }
        assert_int_equal(rw_due_index_cnt(ix), 1);
        assert_int_equal(rw_due_index_get(ix, "acct-6"), 900);
        /* A reset forgets the clock: the bound alone applies. */
        rw_due_index_reset(ix, INT64_MAX);
        for (int i = 1; i <= 3; i++) {
                char name[16];
                snprintf(name, sizeof(name), "acct-%d", i);
                assert_int_equal(rw_due_index_set(ix, name, i * 100), 0);
        }
        assert_int_equal(rw_due_index_horizon(ix), 100);
        assert_int_equal(rw_due_index_cnt(ix), 1);
        rw_due_index_destroy(ix);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bound),
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_hold),
                cmocka_unit_test(test_horizon),
                cmocka_unit_test(test_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
