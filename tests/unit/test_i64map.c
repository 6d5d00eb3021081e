/* test_i64map.c - common/i64map.c: sets, overwrites, deletions (the
 * backward shift and the last entry moving into the hole), lookups and a
 * full iteration agree with a plain array at every step, through growth
 * from empty to 20 000 keys and back; keys of any bytes, empty included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/i64map.h"

#define KEYS 20000

typedef struct {
        char key[16];
        size_t len;
        int in;
        int64_t v;
} ref_t;

static uint64_t rng = 12345;
static uint64_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Every key as the reference says, and an iteration that sees each
 * present key exactly once. */
static void check_all(const rw_i64map_t *m, ref_t *ref, size_t n) {
        size_t it = 0, len, seen = 0, present = 0;
        const char *key;
        int64_t v;
        unsigned char *mark = calloc(n, 1);

        assert_non_null(mark);
        for (size_t i = 0; i < n; i++) {
                int got = rw_i64map_get(m, ref[i].key, ref[i].len, &v);
                assert_int_equal(got, ref[i].in);
                if (got)
                        assert_int_equal(v, ref[i].v);
                present += ref[i].in;
        }
        assert_int_equal(rw_i64map_cnt(m), present);
        while (rw_i64map_next(m, &it, &key, &len, &v)) {
                size_t i = (size_t)strtoul(key + 1, NULL, 10);
                assert_true(i < n);
                assert_int_equal(len, ref[i].len);
                assert_memory_equal(key, ref[i].key, len);
                assert_int_equal(key[len], '\0');
                assert_true(ref[i].in);
                assert_int_equal(v, ref[i].v);
                assert_false(mark[i]);
                mark[i] = 1;
                seen++;
        }
        assert_int_equal(seen, present);
        free(mark);
}

static void test_against_array(void **state) {
        ref_t *ref = calloc(KEYS, sizeof(*ref));
        rw_i64map_t *m = rw_i64map_new();
        (void)state;

        assert_non_null(ref);
        assert_non_null(m);
        for (size_t i = 0; i < KEYS; i++) {
                /* "k<i>" then a NUL and a byte: lengths past strlen. */
                int l = snprintf(ref[i].key, sizeof(ref[i].key), "k%zu", i);
                ref[i].key[l + 1] = (char)(i & 0x7f);
                ref[i].len = (size_t)l + (i % 3 == 0 ? 2 : 0);
        }
        /* Grow, with overwrites and deletions along the way. */
        for (size_t step = 0; step < 6 * KEYS; step++) {
                size_t i = (size_t)(rnd() % (step / 4 + 1 < KEYS ? step / 4 + 1 : KEYS));
                if (rnd() % 4 == 0) {
                        rw_i64map_del(m, ref[i].key, ref[i].len);
                        ref[i].in = 0;
                } else {
                        ref[i].v = (int64_t)(rnd() >> 1) - INT64_MAX / 2;
                        assert_int_equal(rw_i64map_set(m, ref[i].key, ref[i].len, ref[i].v), 0);
                        ref[i].in = 1;
                }
                if (step % 5000 == 0)
                        check_all(m, ref, KEYS);
        }
        check_all(m, ref, KEYS);
        /* Everything out, in a random order, then in again. */
        for (size_t k = 0; k < 3 * KEYS; k++) {
                size_t i = (size_t)(rnd() % KEYS);
                rw_i64map_del(m, ref[i].key, ref[i].len);
                ref[i].in = 0;
        }
        for (size_t i = 0; i < KEYS; i++) {
                rw_i64map_del(m, ref[i].key, ref[i].len);
                ref[i].in = 0;
        }
        check_all(m, ref, KEYS);
        assert_int_equal(rw_i64map_cnt(m), 0);
        for (size_t i = 0; i < KEYS; i += 7) {
                ref[i].v = (int64_t)i;
                assert_int_equal(rw_i64map_set(m, ref[i].key, ref[i].len, ref[i].v), 0);
                ref[i].in = 1;
        }
        check_all(m, ref, KEYS);
        /* The empty key is a key. */
        {
                int64_t v = 0;
                assert_int_equal(rw_i64map_get(m, "", 0, &v), 0);
                assert_int_equal(rw_i64map_set(m, "", 0, 42), 0);
                assert_int_equal(rw_i64map_get(m, "", 0, &v), 1);
                assert_int_equal(v, 42);
                rw_i64map_del(m, "", 0);
                assert_int_equal(rw_i64map_get(m, "", 0, &v), 0);
        }
        rw_i64map_clear(m);
        assert_int_equal(rw_i64map_cnt(m), 0);
        for (size_t i = 0; i < KEYS; i++)
                ref[i].in = 0;
        check_all(m, ref, KEYS);
        assert_int_equal(rw_i64map_set(m, ref[1].key, ref[1].len, 7), 0);      /* usable again */
        ref[1].in = 1;
        ref[1].v = 7;
        check_all(m, ref, KEYS);
        rw_i64map_destroy(m);
        free(ref);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_against_array),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
