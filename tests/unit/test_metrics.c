/* test_metrics.c - the Prometheus text exposition (format 0.0.4) of the
 * metrics registry, and the operations endpoints' answers (/metrics,
 * /healthz, /readyz), also over HTTP on a loopback port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "ops/metrics.h"
#include "ops/ops.h"
#include "common/conf.h"

static void test_render(void **state) {
        static const double bounds[] = { 0.005, 0.1, 1 };
        rw_metrics_t *m = rw_metrics_new();
        char labels[128];
        size_t len = 0;
        char *out;
        (void)state;

        int c = rw_metrics_family(m, "rw_records_total", RW_METRIC_COUNTER,
                                  "Records, by topic.\nSecond line \\ here.", 1, NULL, 0);
        int u = rw_metrics_family(m, "rw_errors_total", RW_METRIC_COUNTER, "Errors.", 0, NULL, 0);
        int g = rw_metrics_family(m, "rw_lag_seconds", RW_METRIC_GAUGE, "Lag.", 1, NULL, 0);
        int h = rw_metrics_family(m, "rw_batch_seconds", RW_METRIC_HISTOGRAM, "Batches.", 0,
                                  bounds, 3);
        assert_true(c >= 0 && u >= 0 && g >= 0 && h >= 0);
        rw_metrics_add(m, c, rw_metrics_labels(labels, sizeof(labels), "topic", "orders",
                                               "outcome", "applied", NULL), 2);
        rw_metrics_add(m, c, rw_metrics_labels(labels, sizeof(labels), "topic", "orders",
                                               "outcome", "applied", NULL), 3);
        rw_metrics_add(m, c, rw_metrics_labels(labels, sizeof(labels), "topic",
                                               "we\"ird\\to\npic", "outcome", "dlq", NULL), 1);
        rw_metrics_set(m, g, "partition=\"0\"", 1.5);
        rw_metrics_set(m, g, "partition=\"0\"", 2.25);
        rw_metrics_observe(m, h, NULL, 0.005);  /* le is inclusive */
        rw_metrics_observe(m, h, NULL, 0.05);
        rw_metrics_observe(m, h, NULL, 0.07);
        rw_metrics_observe(m, h, NULL, 30);
        out = rw_metrics_render(m, &len);
        assert_non_null(out);
        assert_int_equal(len, strlen(out));
        assert_string_equal(out,
                "# HELP rw_records_total Records, by topic.\\nSecond line \\\\ here.\n"
                "# TYPE rw_records_total counter\n"
                "rw_records_total{topic=\"orders\",outcome=\"applied\"} 5\n"
                "rw_records_total{topic=\"we\\\"ird\\\\to\\npic\",outcome=\"dlq\"} 1\n"
                "# HELP rw_errors_total Errors.\n"
                "# TYPE rw_errors_total counter\n"
                "rw_errors_total 0\n"
                "# HELP rw_lag_seconds Lag.\n"
                "# TYPE rw_lag_seconds gauge\n"
                "rw_lag_seconds{partition=\"0\"} 2.25\n"
                "# HELP rw_batch_seconds Batches.\n"
                "# TYPE rw_batch_seconds histogram\n"
                "rw_batch_seconds_bucket{le=\"0.005\"} 1\n"
                "rw_batch_seconds_bucket{le=\"0.1\"} 3\n"
                "rw_batch_seconds_bucket{le=\"1\"} 3\n"
                "rw_batch_seconds_bucket{le=\"+Inf\"} 4\n"
                "rw_batch_seconds_sum 30.125\n"
                "rw_batch_seconds_count 4\n");
        free(out);

        /* Replacing a family's series at once: the old ones are gone. */
        {
                const char *ls[] = { "partition=\"1\"", "partition=\"2\"" };
                const double vs[] = { 7, 0.5 };
                rw_metrics_set_all(m, g, ls, vs, 2);
        }
        out = rw_metrics_render(m, NULL);
        assert_non_null(strstr(out, "# TYPE rw_lag_seconds gauge\n"
                                    "rw_lag_seconds{partition=\"1\"} 7\n"
                                    "rw_lag_seconds{partition=\"2\"} 0.5\n"
                                    "# HELP rw_batch_seconds"));
        free(out);
        rw_metrics_clear(m, c);
        out = rw_metrics_render(m, NULL);
        assert_non_null(strstr(out, "# TYPE rw_records_total counter\n# HELP rw_errors_total"));
        free(out);
        rw_metrics_destroy(m);
}

static void test_labels(void **state) {
        char buf[16];
        (void)state;
        /* Too long for the buffer: empty rather than cut. */
        assert_string_equal(rw_metrics_labels(buf, sizeof(buf), "topic", "a-long-topic-name",
                                              NULL), "");
        assert_string_equal(rw_metrics_labels(buf, sizeof(buf), "a", "b", NULL), "a=\"b\"");
}

static rw_ops_t *ops_new(const char *listen) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512], kv[128];
        rw_err_t err = RW_OK;
        rw_ops_t *ops;

        snprintf(kv, sizeof(kv), "metrics.listen=%s", listen);
        assert_int_equal(rw_conf_set_arg(conf, kv, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_set_arg(conf, "log.status.interval=0", errstr,
                                         sizeof(errstr)), RW_OK);
        ops = rw_ops_new(conf, &err, errstr, sizeof(errstr));
        if (!ops)
                fail_msg("rw_ops_new: %s", errstr);
        rw_conf_destroy(conf);
        return ops;
}

static int serve(rw_ops_t *ops, const char *path, char **body) {
        size_t len;
        int status = rw_ops_serve(ops, path, body, &len);
        assert_int_equal(len, strlen(*body));
        return status;
}

static void test_endpoints(void **state) {
        rw_ops_t *ops = ops_new("");
        rw_ops_part_t parts[2] = {
                { .topic = "orders", .partition = 0, .watermark = 1000, .position = 90, .hi = 100 },
                { .topic = "orders", .partition = 1, .watermark = 0, .position = -1, .hi = -1 },
        };
        rw_ops_report_t rep = { .consumed = 10, .redis_calls = 7, .fenced = 1, .unacked = 2,
                                .parts = parts, .part_cnt = 2 };
        char *body;
        (void)state;

        assert_int_equal(rw_ops_port(ops), 0);
        assert_int_equal(serve(ops, "/healthz", &body), 200);
        assert_non_null(strstr(body, "ok: the loop went round"));
        free(body);
        /* No partition yet: not ready. */
        assert_int_equal(serve(ops, "/readyz", &body), 503);
        assert_string_equal(body, "not ready: no partitions of orders and support assigned "
                                  "(group riskwatch)\n");
        free(body);
        rw_ops_report(ops, &rep);
        assert_int_equal(serve(ops, "/readyz", &body), 200);
        assert_string_equal(body, "ready: 2 partitions assigned, redis ok\n");
        free(body);
        rw_ops_redis(ops, "redis: Connection refused");
        assert_int_equal(serve(ops, "/readyz", &body), 503);
        assert_non_null(strstr(body, "not ready: redis failing since "));
        assert_non_null(strstr(body, "Z: redis: Connection refused\n"));
        free(body);
        rw_ops_redis(ops, NULL);
        assert_int_equal(serve(ops, "/readyz", &body), 200);
        free(body);
        assert_int_equal(serve(ops, "/nope", &body), 404);
        free(body);

        rw_ops_records(ops, "orders", RW_OPS_APPLIED, 8);
        rw_ops_records(ops, "orders", RW_OPS_LATE, 1);
        rw_ops_dead_letters(ops, "support", "bad_magic", 1);
        rw_ops_alert(ops, "churn.refund_rate", "WARNING", "FIRING", 0);
        rw_ops_batch(ops, 20000);
        rw_ops_rebalance(ops, 1);
        assert_int_equal(serve(ops, "/metrics", &body), 200);
        static const char *const want[] = {
                "riskwatch_build_info{version=\"" RW_VERSION_STR "\"} 1\n",
                "riskwatch_records_consumed_total{topic=\"orders\",outcome=\"applied\"} 8\n",
                "riskwatch_records_consumed_total{topic=\"orders\",outcome=\"late\"} 1\n",
                "riskwatch_records_consumed_total{topic=\"orders\",outcome=\"duplicate\"} 0\n",
                "riskwatch_records_consumed_total{topic=\"support\",outcome=\"dlq\"} 1\n",
                "riskwatch_dead_letters_total{reason=\"bad_magic\"} 1\n",
                "riskwatch_alert_transitions_total{rule=\"churn.refund_rate\",severity=\"WARNING\","
                "status=\"FIRING\"} 1\n",
                "riskwatch_alert_latency_seconds_bucket{le=\"604800\"} 0\n",
                "riskwatch_alert_latency_seconds_count 1\n",
                "riskwatch_batch_duration_seconds_bucket{le=\"0.01\"} 0\n",
                "riskwatch_batch_duration_seconds_bucket{le=\"0.025\"} 1\n",
                "riskwatch_consumer_lag_records{topic=\"orders\",partition=\"0\"} 10\n",
                "riskwatch_redis_round_trips_total 7\n",
                "riskwatch_redis_errors_total 1\n",
                "riskwatch_redis_up 1\n",
                "riskwatch_fences_total 1\n",
                "riskwatch_writes_unacked_total 2\n",
                "riskwatch_rebalances_total{kind=\"assign\"} 1\n",
                "riskwatch_rebalances_total{kind=\"revoke\"} 0\n",
                "riskwatch_assigned_partitions 2\n",
                "# TYPE riskwatch_event_time_lag_seconds gauge\n"
                "riskwatch_event_time_lag_seconds{topic=\"orders\",partition=\"0\"} ",
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (!strstr(body, want[i]))
                        fail_msg("/metrics lacks %s\n--- got ---\n%s", want[i], body);
        /* A partition without a known high watermark has no lag series. */
        assert_null(strstr(body, "partition=\"1\""));
        free(body);
        rw_ops_destroy(ops);
}

/* GET path from 127.0.0.1:port: the whole response. */
static char *get(int port, const char *path) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        char req[256], *out = calloc(1, 65536);
        size_t of = 0;
        ssize_t n;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        assert_non_null(out);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 path);
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        while (of < 65535 && (n = read(fd, out + of, 65535 - of)) > 0)
                of += (size_t)n;
        close(fd);
        return out;
}

static void test_http(void **state) {
        rw_ops_t *ops = ops_new("127.0.0.1:0");
        int port = rw_ops_port(ops);
        char *resp;
        (void)state;

        assert_true(port > 0);
        resp = get(port, "/metrics");
        assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert_non_null(strstr(resp, "\r\n\r\n# HELP riskwatch_build_info "));
        free(resp);
        resp = get(port, "/readyz");
        assert_non_null(strstr(resp, "HTTP/1.1 503 Service Unavailable\r\n"));
        free(resp);
        resp = get(port, "/healthz");
        assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
        free(resp);
        rw_ops_destroy(ops);
}

static void test_bad_listen(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];
        rw_err_t err = RW_OK;
        (void)state;

        assert_int_equal(rw_conf_set_arg(conf, "metrics.listen=localhost", errstr,
                                         sizeof(errstr)), RW_OK);
        assert_null(rw_ops_new(conf, &err, errstr, sizeof(errstr)));
        assert_int_equal(err, RW_ERR_CONFIG);
        assert_string_equal(errstr, "-X metrics.listen: expected HOST:PORT, got \"localhost\"");
        rw_conf_destroy(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render),
                cmocka_unit_test(test_labels),
                cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_http),
                cmocka_unit_test(test_bad_listen),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
