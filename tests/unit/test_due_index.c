/* test_due_index.c - consumers/due_index.c: an owned partition's due times
 * in memory answer "who is due by T" exactly as the stored sorted set would,
 * through sets, moves, removals and growth (checked against a plain array). */
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
        rw_due_index_clear(ix);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
