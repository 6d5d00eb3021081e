/* test_fold_copy.c - the stored form of the dependency decider's fold copies
 * (state/boundary_store.h): one string per copy, the same string whatever
 * the order of its entries, any subject bytes, every 64-bit value, and a
 * string that is not one refused rather than misread. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "state/boundary_store.h"

static rw_bstore_pair_t pair(const char *s, size_t len, int64_t v) {
        rw_bstore_pair_t p = { .subject = malloc(len + 1), .len = len, .value = v };
        memcpy(p.subject, s, len);
        p.subject[len] = '\0';
        return p;
}

static void test_round_trip(void **state) {
        rw_bstore_pair_t v[5] = {
                pair("zeta", 4, 7),
                pair("", 0, 3),                         /* the orders count */
                pair("a: b\n7 -1\n", 10, INT64_MIN),    /* any bytes */
                pair("a\0b", 3, INT64_MAX),             /* a NUL inside */
                pair("acct-1", 6, -42),
        };
        rw_bstore_hash_t h = { .v = v, .cnt = 5 }, back;
        char *buf, *buf2;
        size_t len, len2;

        (void)state;
        assert_int_equal(rw_bstore_fold_encode(&h, &buf, &len), 0);
        assert_int_equal(rw_bstore_fold_decode(buf, len, &back), 0);
        assert_int_equal(back.cnt, 5);
        /* In the byte order of the subjects. */
        assert_int_equal(back.v[0].len, 0);
        assert_int_equal(back.v[0].value, 3);
        assert_int_equal(back.v[1].len, 3);
        assert_memory_equal(back.v[1].subject, "a\0b", 3);
        assert_true(back.v[1].value == INT64_MAX);
        assert_int_equal(back.v[2].len, 10);
        assert_memory_equal(back.v[2].subject, "a: b\n7 -1\n", 10);
        assert_true(back.v[2].value == INT64_MIN);
        assert_string_equal(back.v[3].subject, "acct-1");
        assert_true(back.v[3].value == -42);
        assert_string_equal(back.v[4].subject, "zeta");
        assert_true(back.v[4].value == 7);
        /* The same entries in another order: the same string. */
        assert_int_equal(rw_bstore_fold_encode(&back, &buf2, &len2), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(buf2, buf, len);
        rw_bstore_hash_clear(&back);
        free(buf);
        free(buf2);
        for (int i = 0; i < 5; i++)
                free(v[i].subject);

        /* Empty: no string at all. */
        h.cnt = 0;
        assert_int_equal(rw_bstore_fold_encode(&h, &buf, &len), 0);
        assert_null(buf);
        assert_int_equal(len, 0);
        assert_int_equal(rw_bstore_fold_decode("", 0, &back), 0);
        assert_int_equal(back.cnt, 0);
}

static void test_refused(void **state) {
        static const struct { const char *s; size_t len; } bad[] = {
                { "\x04zeta", 5 },                     /* no value */
                { "\x05zeta\x07", 6 },                 /* the length runs past */
                { "\x63zeta\x07", 6 },                 /* beyond the string */
                { "\x80", 1 },                         /* a length cut short */
                { "\x04zeta\x80", 6 },                 /* a value cut short */
                { "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10 }, /* a length past 64 bits */
                { "\x04zeta\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 15 }, /* a value past 64 bits */
                { "\x04zeta\x0e\x04", 7 },             /* a second entry cut short */
        };
        rw_bstore_hash_t h;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                assert_int_equal(rw_bstore_fold_decode(bad[i].s, bad[i].len, &h), -2);
                assert_int_equal(h.cnt, 0);
                assert_null(h.v);
        }
        /* The entry the cut-short ones start with: zeta, 7. */
        assert_int_equal(rw_bstore_fold_decode("\x04zeta\x0e", 6, &h), 0);
        assert_true(h.cnt == 1 && h.v[0].len == 4 && h.v[0].value == 7);
        assert_string_equal(h.v[0].subject, "zeta");
        rw_bstore_hash_clear(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
