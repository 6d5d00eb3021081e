/* test_kafka_log.c - what riskwatch says of librdkafka's connection
 * failures: a real client against a loopback port nothing listens on. Each
 * failure librdkafka logs (FAIL) and repeats as an error event (_TRANSPORT)
 * is said once, not twice; the lines as written to stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "common/conf.h"
#include "common/kafka.h"
#include "common/log.h"
#include "tests/capture.h"

/* A loopback port nothing listens on: bound, then closed. */
static int closed_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}


static void test_refused_said_once(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512], bs[64], *buf, *line;
        const char *const defaults[] = { "reconnect.backoff.ms", "100",
                                         "reconnect.backoff.max.ms", "200", NULL };
        rd_kafka_conf_t *kconf;
        rd_kafka_t *rk;
        rw_capture_t cap;
        int fails = 0, dups = 0, quiet = 0;

        (void)state;
        rw_log_set_level(RW_LOG_DEBUG);
        snprintf(bs, sizeof(bs), "127.0.0.1:%d", closed_port());
        assert_int_equal(rw_conf_set(conf, "kafka.bootstrap.servers", bs, "test", errstr,
                                     sizeof(errstr)), RW_OK);
        kconf = rw_kafka_conf_new(conf, defaults, errstr, sizeof(errstr));
        assert_non_null(kconf);
        rw_capture_begin(&cap);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr));
        assert_non_null(rk);
        for (int i = 0; i < 25; i++)
                rd_kafka_poll(rk, 100);         /* serves the error events */
        rd_kafka_destroy(rk);
        buf = rw_capture_end(&cap);
        /* Each failure said at error or warning level once; its repeat, if
         * any, at debug. */
        for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                if (!strstr(line, "Connect to "))
                        continue;
                if (strstr(line, " debug ")) {
                        quiet += strstr(line, "_TRANSPORT: ") != NULL;
                        continue;
                }
                fails++;
                dups += strstr(line, "_TRANSPORT: ") != NULL;
        }
        print_message("%d connection failure line(s) said, %d repeated as _TRANSPORT, "
                      "%d repeat(s) at debug\n", fails, dups, quiet);
        assert_true(fails >= 1);
        assert_int_equal(dups, 0);
        assert_true(quiet >= 1);        /* the event came, and was said at debug */
        rw_conf_destroy(conf);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refused_said_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
