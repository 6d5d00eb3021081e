/* test_status.c - the status line and the duration and time formats of
 * human output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "ops/status.h"

static void dur(int64_t ms, const char *want) {
        char buf[32];
        assert_string_equal(rw_fmt_duration(buf, sizeof(buf), ms), want);
}

static void test_duration(void **state) {
        (void)state;
        dur(0, "0s");
        dur(450, "450ms");
        dur(1000, "1s");
        dur(12999, "12s");
        dur(5 * 60000 + 3000, "5m 3s");
        dur(2 * 3600000 + 5 * 60000 + 7000, "2h 5m");
        dur(3 * 86400000LL + 4 * 3600000 + 59 * 60000, "3d 4h");
        dur(3 * 86400000LL + 59 * 60000, "3d");
        dur(400 * 86400000LL, "400d");
        dur(-5000, "-5s");
}

static void test_time(void **state) {
        char buf[40];
        (void)state;
        assert_string_equal(rw_fmt_time(buf, sizeof(buf), 0), "1970-01-01T00:00:00Z");
        assert_string_equal(rw_fmt_time(buf, sizeof(buf), 1772603700000LL),
                            "2026-03-04T05:55:00Z");
        assert_string_equal(rw_fmt_time(buf, sizeof(buf), 1772603700250LL),
                            "2026-03-04T05:55:00.250Z");
}

static void test_line(void **state) {
        char buf[1024];
        rw_status_t st = {
                .now_ms = 1772603700000LL + 3 * 86400000LL + 4 * 3600000LL,
                .elapsed_ms = 30000, .records = 37035, .assigned = 4, .lag = 1234567,
                .watermark = 1772603700000LL, .alerts = 12, .redis_ok = 1,
        };
        (void)state;
        assert_string_equal(rw_status_format(&st, buf, sizeof(buf)),
                            "status: 1,235 records/s, 4 partitions, lag 1,234,567 records, "
                            "watermark 2026-03-04T05:55:00Z (3d 4h behind), 12 alerts "
                            "since start, redis ok");
        st = (rw_status_t){ .now_ms = 1772603700000LL, .elapsed_ms = 1000, .assigned = 1,
                            .lag = -1, .alerts = 1, .redis_ok = 0,
                            .redis_err = "Connection refused",
                            .redis_err_at = 1772603695000LL };
        assert_string_equal(rw_status_format(&st, buf, sizeof(buf)),
                            "status: 0 records/s, 1 partition, lag not known yet, no "
                            "watermark yet, 1 alert since start, redis failing since "
                            "2026-03-04T05:54:55Z: Connection refused");
        st.redis_ok = 1;
        st.lag = 1;
        assert_string_equal(rw_status_format(&st, buf, sizeof(buf)),
                            "status: 0 records/s, 1 partition, lag 1 record, no "
                            "watermark yet, 1 alert since start, redis ok (last error "
                            "2026-03-04T05:54:55Z: Connection refused)");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_time),
                cmocka_unit_test(test_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
