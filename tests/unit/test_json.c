/* test_json.c - the JSON string writer every JSON line goes through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/json.h"
#include "common/log.h"

static char *written(const void *buf, size_t len, int as_str) {
        char *out = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&out, &size);

        if (as_str)
                rw_json_write_str(fp, buf);
        else
                rw_json_write_bytes(fp, buf, len);
        fclose(fp);
        return out;
}

static void expect(const char *in, const char *want) {
        char *got = written(in, 0, 1);
        assert_string_equal(got, want);
        free(got);
}

static void test_escapes(void **state) {
        (void)state;
        expect("plain", "\"plain\"");
        expect("say \"hi\"\\", "\"say \\\"hi\\\"\\\\\"");
        expect("a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"");
        expect("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
        expect("caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");     /* UTF-8 kept */
        expect(NULL, "null");
}

static void test_invalid_utf8(void **state) {
        char *got;
        (void)state;
        expect("a\xff" "b", "\"a\\ufffdb\"");
        expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");               /* overlong */
        expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");    /* surrogate */
        got = written("a\0b", 3, 0);                            /* bytes, NUL inside */
        assert_string_equal(got, "\"a\\u0000b\"");
        free(got);
        assert_int_equal(rw_utf8_valid("caf\xc3\xa9", 5), 1);
        assert_int_equal(rw_utf8_valid("\xc3", 1), 0);
}

/* rw_log_escape(): one line whatever the input, the bytes readable back. */
static void test_log_escape(void **state) {
        char buf[64];
        (void)state;
        assert_string_equal(rw_log_escape_str(buf, sizeof(buf),
                                              "EU\n2026-01-01T00:00:00Z error forged"),
                            "EU\\n2026-01-01T00:00:00Z error forged");
        assert_string_equal(rw_log_escape_str(buf, sizeof(buf), "a\\b\t\r\x1b[31m\x7f"),
                            "a\\\\b\\t\\r\\x1b[31m\\x7f");
        assert_string_equal(rw_log_escape(buf, sizeof(buf), "\xff\xc3\xa9", 3),
                            "\\xff\xc3\xa9");
        assert_string_equal(rw_log_escape_str(buf, sizeof(buf), NULL), "");
        /* Cut to fit, never mid-sequence, marked. */
        assert_string_equal(rw_log_escape_str(buf, 8, "abcdefghij"), "abcd...");
        assert_string_equal(rw_log_escape_str(buf, 8, "abc\xc3\xa9" "fgh"), "abc...");
        assert_string_equal(rw_log_escape_str(buf, 8, "abcdefg"), "abcdefg");
        /* The guard leaves text escaped at its source as it is. */
        assert_string_equal(rw_log_clean(buf, sizeof(buf), "x\\ny\nz"), "x\\ny\\nz");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_invalid_utf8),
                cmocka_unit_test(test_log_escape),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
