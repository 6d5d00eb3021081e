/* test_repeat.c - a fault met at every attempt is said when it starts, at
 * most every interval while it lasts, and once when it ends (common/
 * repeat.h): the lines as written to stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "common/log.h"
#include "common/repeat.h"
#include "tests/capture.h"

/* What the logger wrote to stderr while fn ran. */
static char *captured(void (*fn)(void)) {
        rw_capture_t c;

        rw_capture_begin(&c);
        fn();
        return rw_capture_end(&c);
}

static int lines(const char *s) {
        int n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* A 70 s outage met every 500 ms, then an attempt that works. */
static int said[200];
static int said_cnt, ok_said, ok_again;
static void outage(void) {
        rw_repeat_t r = { 0 };
        int64_t t = 1000000;

        said_cnt = 0;
        for (int i = 0; i <= 140; i++, t += 500)
                if (rw_repeat_fail(&r, t, 30000, "dependency rules", "redis: refused"))
                        said[said_cnt++] = i;
        ok_said = rw_repeat_ok(&r, t, "dependency rules");
        ok_again = rw_repeat_ok(&r, t + 500, "dependency rules");
}

static void test_outage(void **state) {
        char *out;

        (void)state;
        rw_log_set_level(RW_LOG_INFO);
        out = captured(outage);
        /* The first attempt, then 30 s and 60 s later: not 141 lines. */
        assert_int_equal(said_cnt, 3);
        assert_int_equal(said[0], 0);
        assert_int_equal(said[1], 60);
        assert_int_equal(said[2], 120);
        assert_int_equal(ok_said, 1);
        assert_int_equal(ok_again, 0);          /* said once */
        assert_int_equal(lines(out), 4);
        assert_non_null(strstr(out, "warn  dependency rules: redis: refused (retrying; said "
                                    "again every 30s while it lasts)\n"));
        assert_non_null(strstr(out, "warn  dependency rules: still failing after 30s (61 "
                                    "attempts): redis: refused\n"));
        assert_non_null(strstr(out, "warn  dependency rules: still failing after 1m (121 "
                                    "attempts): redis: refused\n"));
        assert_non_null(strstr(out, "info  dependency rules: working again after 1m 10s (141 "
                                    "failed attempts)\n"));
        free(out);
}

/* A new outage after one ended starts over: said at once, counted anew. */
static int second_said;
static void two_outages(void) {
        rw_repeat_t r = { 0 };

        (void)rw_repeat_fail(&r, 5000, 30000, "the group's low watermark", "timeout");
        (void)rw_repeat_fail(&r, 5500, 30000, "the group's low watermark", "timeout");
        (void)rw_repeat_ok(&r, 6000, "the group's low watermark");
        second_said = rw_repeat_fail(&r, 7000, 30000, "the group's low watermark", "refused");
        (void)rw_repeat_ok(&r, 7100, "the group's low watermark");
}

static void test_outages_apart(void **state) {
        char *out;

        (void)state;
        rw_log_set_level(RW_LOG_INFO);
        out = captured(two_outages);
        assert_int_equal(second_said, 1);
        assert_int_equal(lines(out), 4);
        assert_non_null(strstr(out, "working again after 1s (2 failed attempts)\n"));
        assert_non_null(strstr(out, "the group's low watermark: refused (retrying"));
        assert_non_null(strstr(out, "working again after 100ms (1 failed attempt)\n"));
        free(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outage),
                cmocka_unit_test(test_outages_apart),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
