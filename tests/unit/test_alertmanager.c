/* test_alertmanager.c - an alert transition as Alertmanager's postable
 * alert, its generatorURL from the template, replayed transitions never
 * sent, a full queue's drops counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "producers/alertmanager.h"

static rw_alert_t alert(void) {
        return (rw_alert_t){
                .alert_id = "16986d506ba6e975402111517dc12bc9", .fingerprint = "fp1",
                .rule = "churn.refund_rate", .category = RW_CAT_CHURN,
                .subject_type = RW_SUBJ_ACCOUNT, .subject_id = "acct-\"e2e\"",
                .status = RW_ALERT_FIRING, .severity = RW_SEV_WARNING,
                .observed = 0.5, .threshold = 0.25, .has_baseline = 1, .baseline = 0.05,
                .window_ms = 30LL * 86400000, .event_time = 1772603700000LL,
                .source_topic = "orders", .summary = "acct-e2e: 50% refunded",
        };
}

static void test_json(void **state) {
        rw_alert_t a = alert();
        char *out = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&out, &len);
        (void)state;

        rw_am_alert_json(fp, &a, a.event_time, 1772603760000LL, "http://x/y");
        fclose(fp);
        assert_string_equal(out,
                "{\"labels\":{\"alertname\":\"churn.refund_rate\",\"category\":\"CHURN\","
                "\"subject_type\":\"ACCOUNT\",\"subject_id\":\"acct-\\\"e2e\\\"\","
                "\"severity\":\"WARNING\"},\"annotations\":{\"summary\":"
                "\"acct-e2e: 50% refunded\",\"description\":\"observed 0.5, threshold 0.25, "
                "baseline 0.05, window 30d\",\"alert_id\":\"16986d506ba6e975402111517dc12bc9\"},"
                "\"startsAt\":\"2026-03-04T05:55:00Z\",\"endsAt\":\"2026-03-04T05:56:00Z\","
                "\"generatorURL\":\"http://x/y\"}");
        free(out);
}

/* Placeholders replaced by the alert's values, percent-encoded, so a
 * subject id cannot change the URL's structure; text around them kept. */
static void test_generator_url(void **state) {
        rw_alert_t a = alert();
        char *u;
        (void)state;
        a.subject_id = "acct 1/&x=\"y\"";
        u = rw_am_generator_url("https://g.example/d/risk?rule={rule}&s={subject_type}:"
                                "{subject_id}&fp={fingerprint}&id={alert_id}&sev={severity}",
                                &a);
        assert_string_equal(u, "https://g.example/d/risk?rule=churn.refund_rate&s=ACCOUNT:"
                               "acct%201%2F%26x%3D%22y%22&fp=fp1"
                               "&id=16986d506ba6e975402111517dc12bc9&sev=WARNING");
        free(u);
        assert_null(rw_am_generator_url("", &a));
        u = rw_am_generator_url("http://x/{subject_id}", &a);
        assert_string_equal(u, "http://x/acct%201%2F%26x%3D%22y%22");
        free(u);
}

/* A bad template is refused with a reason that says what is wrong. */
static void test_generator_check(void **state) {
        char why[512];
        (void)state;
        assert_int_equal(rw_am_generator_check("", why, sizeof(why)), 0);
        assert_int_equal(rw_am_generator_check("http://x/{rule}/{subject_id}", why,
                                               sizeof(why)), 0);
        assert_int_equal(rw_am_generator_check("http://x/{account}", why, sizeof(why)), -1);
        assert_non_null(strstr(why, "unknown placeholder {account}"));
        assert_int_equal(rw_am_generator_check("http://x/{rule", why, sizeof(why)), -1);
        assert_non_null(strstr(why, "unbalanced brace"));
        assert_int_equal(rw_am_generator_check("http://x/rule}", why, sizeof(why)), -1);
        assert_int_equal(rw_am_generator_check("x/{rule}", why, sizeof(why)), -1);
        assert_non_null(strstr(why, "expected an http(s):// URL"));
}

/* rw_am_new() names the setting of a bad template. */
static void test_generator_conf(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];
        (void)state;
        assert_int_equal(rw_conf_set_arg(conf, "alertmanager.url=http://127.0.0.1:1", errstr,
                                         sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_set_arg(conf, "alertmanager.generator.url=http://x/{nope}",
                                         errstr, sizeof(errstr)), RW_OK);
        assert_null(rw_am_new(conf, NULL, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "alertmanager.generator.url: unknown placeholder "
                                       "{nope}"));
        rw_conf_destroy(conf);
}

static rw_conf_t *am_conf;

static rw_am_t *am_new(const char *queue_max) {
        rw_conf_t *conf = am_conf = rw_conf_new();
        char errstr[512], kv[64];
        rw_am_t *am;

        /* Nothing listens on port 1: every POST fails at once. */
        assert_int_equal(rw_conf_set_arg(conf, "alertmanager.url=http://127.0.0.1:1", errstr,
                                         sizeof(errstr)), RW_OK);
        snprintf(kv, sizeof(kv), "alertmanager.queue.max=%s", queue_max);
        assert_int_equal(rw_conf_set_arg(conf, kv, errstr, sizeof(errstr)), RW_OK);
        am = rw_am_new(conf, NULL, errstr, sizeof(errstr));
        if (!am)
                fail_msg("rw_am_new: %s", errstr);
        return am;     /* conf outlives am: am_destroy() */
}

static void am_destroy(rw_am_t *am) {
        rw_am_destroy(am);
        rw_conf_destroy(am_conf);
}

static void test_replay_never_sent(void **state) {
        rw_am_t *am = am_new("100");
        rw_alert_t a = alert();
        rw_am_stats_t st;
        (void)state;

        a.replay = 1;
        rw_am_notify(am, &a);
        usleep(300 * 1000);
        rw_am_stats(am, &st);
        assert_int_equal(st.errors, 0);         /* nothing was even tried */
        a.replay = 0;
        rw_am_notify(am, &a);
        for (int i = 0; i < 100 && !st.errors; i++) {
                usleep(20 * 1000);
                rw_am_stats(am, &st);
        }
        assert_true(st.errors > 0);             /* a live one is tried */
        assert_int_equal(st.sent, 0);
        am_destroy(am);
}

static void test_drops_counted(void **state) {
        rw_am_t *am = am_new("1");
        rw_alert_t a = alert();
        rw_am_stats_t st;
        (void)state;

        for (int i = 0; i < 1000; i++)
                rw_am_notify(am, &a);
        rw_am_stats(am, &st);
        assert_true(st.dropped > 0 && st.dropped < 1000);
        am_destroy(am);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_generator_url),
                cmocka_unit_test(test_generator_check),
                cmocka_unit_test(test_generator_conf),
                cmocka_unit_test(test_replay_never_sent),
                cmocka_unit_test(test_drops_counted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
