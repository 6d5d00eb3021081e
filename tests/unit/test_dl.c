/* test_dl.c - common/dl.c and common/curl_lib.c: a library's functions are
 * resolved into their slots and callable; a library that cannot be loaded,
 * or lacks a function, fails with a message naming it, and fails alike
 * later without trying again; libcurl loads through its table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/curl_lib.h"
#include "common/dl.h"

static void test_resolves(void **state) {
        size_t (*my_strlen)(const char *) = NULL;
        int (*my_abs)(int) = NULL;
        const rw_dl_sym_t syms[] = { { "strlen", (void *)&my_strlen },
                                     { "abs", (void *)&my_abs } };
        rw_dl_lib_t lib = { .soname = "libc.so.6", .syms = syms, .cnt = 2 };
        char err[300] = "";

        (void)state;
        assert_int_equal(rw_dl_load(&lib, err, sizeof(err)), 0);
        assert_non_null(my_strlen);
        assert_int_equal(my_strlen("riskwatch"), 9);
        assert_int_equal(my_abs(-7), 7);
        /* loaded once: a second call changes nothing */
        my_strlen = NULL;
        assert_int_equal(rw_dl_load(&lib, err, sizeof(err)), 0);
        assert_null(my_strlen);
}

static void test_missing_library(void **state) {
        void (*f)(void) = NULL;
        const rw_dl_sym_t syms[] = { { "f", (void *)&f } };
        rw_dl_lib_t lib = { .soname = "librw-no-such-library.so.1", .syms = syms, .cnt = 1 };
        char err[300] = "", again[300] = "";

        (void)state;
        assert_int_equal(rw_dl_load(&lib, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "cannot load librw-no-such-library.so.1"));
        assert_int_equal(rw_dl_load(&lib, again, sizeof(again)), -1);
        assert_string_equal(err, again);
        assert_null(f);
}

static void test_missing_function(void **state) {
        size_t (*my_strlen)(const char *) = NULL;
        void (*f)(void) = NULL;
        const rw_dl_sym_t syms[] = { { "strlen", (void *)&my_strlen },
                                     { "rw_no_such_function", (void *)&f } };
        rw_dl_lib_t lib = { .soname = "libc.so.6", .syms = syms, .cnt = 2 };
        char err[300] = "";

        (void)state;
        assert_int_equal(rw_dl_load(&lib, err, sizeof(err)), -1);
        assert_string_equal(err, "libc.so.6 has no rw_no_such_function");
        assert_int_equal(rw_dl_load(&lib, NULL, 0), -1);
}

static void test_curl(void **state) {
        char err[300] = "";
        const rw_curl_t *cu = rw_curl(err, sizeof(err));
        char *esc;

        (void)state;
        assert_non_null(cu);
        assert_string_equal(err, "");
        assert_ptr_equal(rw_curl(NULL, 0), cu);
        assert_non_null(esc = cu->easy_escape(NULL, "a b/c", 5));
        assert_string_equal(esc, "a%20b%2Fc");
        cu->free(esc);
        assert_string_equal(cu->easy_strerror(CURLE_OK), "No error");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolves),
                cmocka_unit_test(test_missing_library),
                cmocka_unit_test(test_missing_function),
                cmocka_unit_test(test_curl),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
