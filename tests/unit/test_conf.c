/* test_conf.c - unit tests for the property table, value parsing and loading. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <librdkafka/rdkafka.h>
#include "common/conf.h"

#define MS_S 1000LL
#define MS_M (60 * MS_S)
#define MS_H (60 * MS_M)
#define MS_D (24 * MS_H)

/* Write `text` to a fresh temporary file; its path goes to `path`. */
static void write_tmp(const char *text, char *path, size_t path_size) {
        FILE *fp;
        int fd;

        snprintf(path, path_size, "/tmp/rw_test_conf_XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        fp = fdopen(fd, "w");
        assert_non_null(fp);
        assert_int_equal(fputs(text, fp) >= 0, 1);
        assert_int_equal(fclose(fp), 0);
}

/* Load `text` as a file; the error (if any) is in errstr, with the path
 * replaced by "F" so expectations can be exact. */
static rw_err_t load_text(rw_conf_t *conf, const char *text, char *errstr,
                          size_t errstr_size) {
        char path[64], raw[1024];
        size_t plen;
        rw_err_t err;

        write_tmp(text, path, sizeof(path));
        raw[0] = '\0';
        err = rw_conf_load_file(conf, path, raw, sizeof(raw));
        unlink(path);
        plen = strlen(path);
        if (!strncmp(raw, path, plen))
                snprintf(errstr, errstr_size, "F%s", raw + plen);
        else
                snprintf(errstr, errstr_size, "%s", raw);
        return err;
}

/* Expect `text` to fail to load with exactly `expect`. */
static void expect_file_error(const char *text, const char *expect) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[1024];

        assert_int_equal(load_text(conf, text, errstr, sizeof(errstr)),
                         RW_ERR_CONFIG);
        assert_string_equal(errstr, expect);
        rw_conf_destroy(conf);
}

/* -X key=value must fail with exactly `expect` and leave the value alone. */
static void expect_arg_error(const char *kv, const char *expect) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];

        assert_int_equal(rw_conf_set_arg(conf, kv, errstr, sizeof(errstr)),
                         RW_ERR_CONFIG);
        assert_string_equal(errstr, expect);
        rw_conf_destroy(conf);
}

static void expect_arg_ok(rw_conf_t *conf, const char *kv) {
        char errstr[512] = "";
        rw_err_t err = rw_conf_set_arg(conf, kv, errstr, sizeof(errstr));

        if (err)
                fail_msg("%s: %s", kv, errstr);
}

/* -X key=value must fail (any reason). */
static void expect_arg_bad(const char *kv) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];

        if (rw_conf_set_arg(conf, kv, errstr, sizeof(errstr)) != RW_ERR_CONFIG)
                fail_msg("%s: accepted", kv);
        rw_conf_destroy(conf);
}

/* The dump as one malloc'ed string, after a '\n' so that every line can be
 * matched as "\nkey=value\n". */
static char *dump_str(const rw_conf_t *conf) {
        char *buf = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&buf, &size);

        assert_non_null(fp);
        fputc('\n', fp);
        rw_conf_dump(conf, fp);
        fclose(fp);
        return buf;
}

static char *doc_str(void) {
        char *buf = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&buf, &size);

        assert_non_null(fp);
        rw_conf_doc_markdown(fp);
        fclose(fp);
        return buf;
}

static void test_defaults(void **state) {
        rw_conf_t *conf = rw_conf_new();
        const char *k, *v;

        (void)state;
        assert_string_equal(rw_conf_get_str(conf, "group.id"), "riskwatch");
        assert_string_equal(rw_conf_get_str(conf, "client.id"), "riskwatch");
        assert_string_equal(rw_conf_get_str(conf, "redis.url"),
                            "redis://127.0.0.1:6379/0");
        assert_int_equal(rw_conf_get_int(conf, "redis.timeout"), 2 * MS_S);
        assert_string_equal(rw_conf_get_str(conf, "state.namespace"), "rw");
        assert_string_equal(rw_conf_get_str(conf, "topics.orders"), "orders");
        assert_string_equal(rw_conf_get_str(conf, "topics.support"), "support");
        assert_string_equal(rw_conf_get_str(conf, "topics.alerts"),
                            "risk-alerts");
        assert_string_equal(rw_conf_get_str(conf, "topics.dlq"),
                            "riskwatch-dlq");
        assert_string_equal(rw_conf_get_str(conf, "schemas.dir"), "");
        assert_string_equal(rw_conf_get_str(conf, "schema.registry.url"), "");
        assert_int_equal(rw_conf_get_int(conf, "schema.registry.timeout"),
                         5 * MS_S);
        assert_string_equal(rw_conf_get_str(conf, "log.level"), "info");
        assert_string_equal(rw_conf_get_str(conf, "log.file"), "");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 5000);
        assert_int_equal(rw_conf_get_int(conf, "batch.timeout"), 100);
        assert_int_equal(rw_conf_get_int(conf, "allowed.lateness"), 5 * MS_M);
        assert_int_equal(rw_conf_get_int(conf, "dedup.horizon"), 7 * MS_D);
        assert_int_equal(rw_conf_get_int(conf, "future.margin"), MS_H);
        assert_true(rw_conf_get_dbl(conf, "alerts.hysteresis") == 0.10);
        assert_int_equal(rw_conf_get_int(conf, "alerts.cooldown"), 24 * MS_H);
        assert_int_equal(rw_conf_get_int(conf, "demo.accounts"), 300);
        assert_int_equal(rw_conf_get_int(conf, "demo.days"), 180);
        assert_int_equal(rw_conf_get_int(conf, "demo.seed"), 42);

        assert_int_equal(rw_conf_kafka_cnt(conf), 1);
        rw_conf_kafka_get(conf, 0, &k, &v);
        assert_string_equal(k, "bootstrap.servers");
        assert_string_equal(v, "localhost:9092");
        assert_string_equal(rw_conf_kafka_find(conf, "bootstrap.servers"),
                            "localhost:9092");
        assert_null(rw_conf_kafka_find(conf, "acks"));
        rw_conf_destroy(conf);
}

static void test_table(void **state) {
        const rw_conf_prop_t *props = rw_conf_props(), *p, *q;
        char errstr[512];
        size_t n = 0;

        (void)state;
        for (p = props; p->name; p++, n++) {
                assert_true(*p->name);
                assert_non_null(p->defval);
                assert_non_null(p->desc);
                assert_true(strlen(p->desc) > 20);
                assert_true(strncmp(p->name, "kafka.", 6) != 0);
                assert_true(p->min <= p->max);
                assert_ptr_equal(rw_conf_prop_find(p->name), p);
                if (rw_conf_check_value(p, p->defval, errstr, sizeof(errstr)))
                        fail_msg("%s: default: %s", p->name, errstr);
                for (q = props; q < p; q++)
                        assert_string_not_equal(q->name, p->name);
        }
        assert_true(n >= 24);
        assert_null(rw_conf_prop_find("kafka.bootstrap.servers"));
        assert_null(rw_conf_prop_find("no.such"));
}

static void test_int(void **state) {
        rw_conf_t *conf = rw_conf_new();

        (void)state;
        expect_arg_ok(conf, "batch.size=1");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 1);
        expect_arg_ok(conf, "batch.size=100000");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 100000);
        expect_arg_ok(conf, "demo.seed=0");
        assert_int_equal(rw_conf_get_int(conf, "demo.seed"), 0);

        expect_arg_error("batch.size=abc",
                         "-X batch.size: expected an integer in [1, 100000], "
                         "got \"abc\"");
        expect_arg_error("batch.size=0",
                         "-X batch.size: expected an integer in [1, 100000], "
                         "got \"0\"");
        expect_arg_bad("batch.size=100001");
        expect_arg_bad("batch.size=12x");
        expect_arg_bad("batch.size=");
        expect_arg_bad("batch.size=1.5");
        expect_arg_bad("batch.size=0x10");
        expect_arg_bad("batch.size=+5");
        expect_arg_bad("batch.size=-5");
        expect_arg_bad("batch.size=99999999999999999999999");
        expect_arg_bad("demo.seed=-1");
        /* Whitespace around the value is trimmed, inside it is not. */
        expect_arg_ok(conf, "batch.size = 7 ");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 7);
        expect_arg_bad("batch.size=1 0");
        rw_conf_destroy(conf);
}

static void test_dbl(void **state) {
        rw_conf_t *conf = rw_conf_new();

        (void)state;
        expect_arg_ok(conf, "alerts.hysteresis=0");
        assert_true(rw_conf_get_dbl(conf, "alerts.hysteresis") == 0.0);
        expect_arg_ok(conf, "alerts.hysteresis=1");
        assert_true(rw_conf_get_dbl(conf, "alerts.hysteresis") == 1.0);
        expect_arg_ok(conf, "alerts.hysteresis=2.5e-1");
        assert_true(rw_conf_get_dbl(conf, "alerts.hysteresis") == 0.25);

        expect_arg_error("alerts.hysteresis=1.5",
                         "-X alerts.hysteresis: expected a number in [0, 1], "
                         "got \"1.5\"");
        expect_arg_bad("alerts.hysteresis=-0.1");
        expect_arg_bad("alerts.hysteresis=nan");
        expect_arg_bad("alerts.hysteresis=inf");
        expect_arg_bad("alerts.hysteresis=0.5x");
        expect_arg_bad("alerts.hysteresis=");
        expect_arg_bad("alerts.hysteresis=ten");
        rw_conf_destroy(conf);
}

static void test_bool(void **state) {
        const rw_conf_prop_t prop = {
                "test.flag", RW_CONF_BOOL, "false", 0, 0, NULL, 0, "a flag"
        };
        const char *good[] = { "true", "false", "1", "0" };
        const char *bad[] = { "", "yes", "no", "TRUE", "2", "true " };
        char errstr[512];

        (void)state;
        for (size_t i = 0; i < RW_ARRAY_SIZE(good); i++)
                assert_int_equal(rw_conf_check_value(&prop, good[i], errstr,
                                                     sizeof(errstr)), RW_OK);
        for (size_t i = 0; i < RW_ARRAY_SIZE(bad); i++)
                assert_int_equal(rw_conf_check_value(&prop, bad[i], errstr,
                                                     sizeof(errstr)),
                                 RW_ERR_CONFIG);
        rw_conf_check_value(&prop, "maybe", errstr, sizeof(errstr));
        assert_string_equal(errstr,
                            "expected true, false, 1 or 0, got \"maybe\"");
}

static void test_duration(void **state) {
        static const struct { const char *text; int64_t ms; } good[] = {
                { "250", 250 }, { "250ms", 250 }, { "2s", 2 * MS_S },
                { "3m", 3 * MS_M }, { "2h", 2 * MS_H }, { "7d", 7 * MS_D },
                { "0", 0 }, { "365d", 365 * MS_D },
        };
        rw_conf_t *conf = rw_conf_new();
        char kv[64];

        (void)state;
        for (size_t i = 0; i < RW_ARRAY_SIZE(good); i++) {
                snprintf(kv, sizeof(kv), "dedup.horizon=%s", good[i].text);
                expect_arg_ok(conf, kv);
                assert_int_equal(rw_conf_get_int(conf, "dedup.horizon"),
                                 good[i].ms);
        }
        expect_arg_ok(conf, "redis.timeout=10ms");
        expect_arg_ok(conf, "redis.timeout=60s");
        assert_int_equal(rw_conf_get_int(conf, "redis.timeout"), 60 * MS_S);

        expect_arg_error("redis.timeout=61s",
                         "-X redis.timeout: expected a duration in "
                         "[10ms, 1m] (an integer with unit ms, s, m, h or d), "
                         "got \"61s\"");
        expect_arg_bad("redis.timeout=9ms");
        expect_arg_bad("redis.timeout=1.5s");
        expect_arg_bad("redis.timeout=5x");
        expect_arg_bad("redis.timeout=5 s");
        expect_arg_bad("redis.timeout=-1s");
        expect_arg_bad("redis.timeout=s");
        expect_arg_bad("redis.timeout=");
        expect_arg_bad("redis.timeout=5S");
        expect_arg_bad("dedup.horizon=366d");
        expect_arg_bad("dedup.horizon=9999999999999999d");
        expect_arg_bad("dedup.horizon=99999999999999999999");
        rw_conf_destroy(conf);
}

static void test_time(void **state) {
        static const struct { const char *text; int64_t ms; } good[] = {
                { "1970-01-01", 0 }, { "2000-01-01", 946684800000LL },
                { "2000-02-29", 951782400000LL },
                { "2026-03-01T06:00:00Z", 1772344800000LL },
                { "9999-12-31T23:59:59Z", 253402300799000LL },
        };
        static const char *const bad[] = {
                "validate.occurred.min=2001-02-29", "validate.occurred.min=2000-13-01",
                "validate.occurred.min=2000-01-32", "validate.occurred.min=2000-1-1",
                "validate.occurred.min=2000-01-01T00:00:00",
                "validate.occurred.min=2000-01-01T24:00:00Z",
                "validate.occurred.min=2000-01-01 00:00:00Z",
                "validate.occurred.min=946684800000", "validate.occurred.min=",
        };
        rw_conf_t *conf = rw_conf_new();
        char kv[64];

        (void)state;
        assert_int_equal(rw_conf_get_int(conf, "validate.occurred.min"), 946684800000LL);
        for (size_t i = 0; i < RW_ARRAY_SIZE(good); i++) {
                snprintf(kv, sizeof(kv), "validate.occurred.min=%s", good[i].text);
                expect_arg_ok(conf, kv);
                assert_int_equal(rw_conf_get_int(conf, "validate.occurred.min"),
                                 good[i].ms);
        }
        expect_arg_error("validate.occurred.min=2000-02-30",
                         "-X validate.occurred.min: expected a UTC time in "
                         "[1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z] as YYYY-MM-DD "
                         "or YYYY-MM-DDTHH:MM:SSZ, got \"2000-02-30\"");
        for (size_t i = 0; i < RW_ARRAY_SIZE(bad); i++)
                expect_arg_bad(bad[i]);
        rw_conf_destroy(conf);
}

static void test_enum(void **state) {
        rw_conf_t *conf = rw_conf_new();

        (void)state;
        expect_arg_ok(conf, "log.level=debug");
        assert_string_equal(rw_conf_get_str(conf, "log.level"), "debug");
        expect_arg_ok(conf, "log.level=error");
        assert_string_equal(rw_conf_get_str(conf, "log.level"), "error");
        expect_arg_error("log.level=trace",
                         "-X log.level: expected one of error|warn|info|debug, "
                         "got \"trace\"");
        expect_arg_bad("log.level=DEBUG");
        expect_arg_bad("log.level=");
        expect_arg_bad("log.level=warn|info");
        expect_arg_bad("log.level=in");
        rw_conf_destroy(conf);
}

static void test_str_checks(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char kv[300];

        (void)state;
        expect_arg_ok(conf, "state.namespace=prod-eu.1_x");
        assert_string_equal(rw_conf_get_str(conf, "state.namespace"),
                            "prod-eu.1_x");
        expect_arg_error("state.namespace=a:b",
                         "-X state.namespace: expected 1..64 of letters, "
                         "digits, `_`, `.`, `-`, got \"a:b\"");
        expect_arg_bad("state.namespace={rw}");
        expect_arg_bad("state.namespace=");
        expect_arg_bad("state.namespace=a b");

        expect_arg_ok(conf, "topics.orders=shop.orders_v2-eu");
        assert_string_equal(rw_conf_get_str(conf, "topics.orders"),
                            "shop.orders_v2-eu");
        snprintf(kv, sizeof(kv), "topics.dlq=%0249d", 0);
        expect_arg_ok(conf, kv);
        snprintf(kv, sizeof(kv), "topics.dlq=%0250d", 0);
        expect_arg_bad(kv);
        expect_arg_bad("topics.orders=");
        expect_arg_bad("topics.support=a b");
        expect_arg_bad("topics.alerts=alerts/1");
        expect_arg_bad("topics.alerts=.");
        expect_arg_bad("topics.alerts=..");
        expect_arg_bad("group.id=");
        expect_arg_bad("client.id=");

        /* Free-form strings keep their text. */
        expect_arg_ok(conf, "log.file=/var/log/riskwatch/alerts.jsonl");
        assert_string_equal(rw_conf_get_str(conf, "log.file"),
                            "/var/log/riskwatch/alerts.jsonl");
        expect_arg_ok(conf, "schemas.dir=");
        rw_conf_destroy(conf);
}

static void test_http_url(void **state) {
        const char *good[] = {
                "", "http://am:9093", "https://user:pw@am.example.com/x?y=1",
                "HTTP://10.0.0.1", "http://[::1]:8081/", "https://h:65535",
        };
        const char *bad[] = {
                "ftp://am", "http://", "https://", "http:///path", "http://:80",
                "http://h:0", "http://h:65536", "http://h:x", "http://h x",
                "am:9093", "http://[]:80", "http://u@",
        };
        const rw_conf_prop_t *prop = rw_conf_prop_find("schema.registry.url");
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];

        (void)state;
        assert_non_null(prop);
        for (size_t i = 0; i < RW_ARRAY_SIZE(good); i++) {
                if (rw_conf_check_value(prop, good[i], errstr, sizeof(errstr)))
                        fail_msg("%s: %s", good[i], errstr);
        }
        for (size_t i = 0; i < RW_ARRAY_SIZE(bad); i++) {
                if (!rw_conf_check_value(prop, bad[i], errstr, sizeof(errstr)))
                        fail_msg("%s: accepted", bad[i]);
        }
        expect_arg_ok(conf, "schema.registry.url=http://registry:8081");
        assert_string_equal(rw_conf_get_str(conf, "schema.registry.url"),
                            "http://registry:8081");
        expect_arg_error("schema.registry.url=am:9093",
                         "-X schema.registry.url: expected empty or an http:// or "
                         "https:// URL with a host");
        rw_conf_destroy(conf);
}

static void test_redis_url_good(void **state) {
        rw_redis_url_t u;
        char errstr[512];

        (void)state;
#define PARSE_OK(url) do {                                                    \
                if (rw_redis_url_parse(url, &u, errstr, sizeof(errstr)))      \
                        fail_msg("%s: %s", url, errstr);                      \
        } while (0)
        PARSE_OK("redis://127.0.0.1:6379/0");
        assert_false(u.is_unix);
        assert_string_equal(u.host, "127.0.0.1");
        assert_int_equal(u.port, 6379);
        assert_int_equal(u.db, 0);
        assert_string_equal(u.user, "");
        assert_string_equal(u.password, "");

        PARSE_OK("redis://cache");
        assert_string_equal(u.host, "cache");
        assert_int_equal(u.port, 6379);
        assert_int_equal(u.db, 0);

        PARSE_OK("redis://app:s3cret@cache.internal:7000/3");
        assert_string_equal(u.user, "app");
        assert_string_equal(u.password, "s3cret");
        assert_string_equal(u.host, "cache.internal");
        assert_int_equal(u.port, 7000);
        assert_int_equal(u.db, 3);

        PARSE_OK("redis://:pw@h:1/");
        assert_string_equal(u.user, "");
        assert_string_equal(u.password, "pw");
        assert_int_equal(u.port, 1);
        assert_int_equal(u.db, 0);

        /* As redis-cli reads it: user info without ':' is the password. */
        PARSE_OK("redis://pw@h");
        assert_string_equal(u.user, "");
        assert_string_equal(u.password, "pw");

        PARSE_OK("redis://u%3Ax:p%40ss%2F@h:65535/2147483647");
        assert_string_equal(u.user, "u:x");
        assert_string_equal(u.password, "p@ss/");
        assert_int_equal(u.port, 65535);
        assert_int_equal(u.db, 2147483647);

        PARSE_OK("redis://[::1]:6380/1");
        assert_string_equal(u.host, "::1");
        assert_int_equal(u.port, 6380);
        assert_int_equal(u.db, 1);

        PARSE_OK("redis://[fe80::1]");
        assert_string_equal(u.host, "fe80::1");
        assert_int_equal(u.port, 6379);

        PARSE_OK("unix:///run/redis/redis.sock");
        assert_true(u.is_unix);
        assert_string_equal(u.path, "/run/redis/redis.sock");
        assert_int_equal(u.db, 0);

        PARSE_OK("unix:///tmp/r.sock?db=5");
        assert_true(u.is_unix);
        assert_string_equal(u.path, "/tmp/r.sock");
        assert_int_equal(u.db, 5);
#undef PARSE_OK
}

static void test_redis_url_bad(void **state) {
        const char *bad[] = {
                "", "http://h:6379", "rediss://h", "redis://", "redis://:6379",
                "redis://pw@", "redis://h:0", "redis://h:65536", "redis://h:",
                "redis://h:abc", "redis://h:6379x", "redis://h/x",
                "redis://h/-1", "redis://h/1/2", "redis://h/2147483648",
                "redis://::1:6379", "redis://[::1", "redis://[::1]x",
                "redis://%zz@h", "redis://h /0", "unix://", "unix://tmp/s",
                "unix:///s?db=x", "unix:///s?foo=1", "redis://h?db=1",
        };
        rw_redis_url_t u;
        char errstr[512];

        (void)state;
        for (size_t i = 0; i < RW_ARRAY_SIZE(bad); i++) {
                errstr[0] = '\0';
                if (rw_redis_url_parse(bad[i], &u, errstr, sizeof(errstr)) !=
                    RW_ERR_CONFIG)
                        fail_msg("\"%s\": accepted", bad[i]);
                assert_true(strlen(errstr) > 0);
        }
        rw_redis_url_parse("redis://h:0", &u, errstr, sizeof(errstr));
        assert_string_equal(errstr, "expected a port in [1, 65535], got \"0\"");
        rw_redis_url_parse("redis://:6379", &u, errstr, sizeof(errstr));
        assert_string_equal(errstr, "empty host");
        rw_redis_url_parse("http://h", &u, errstr, sizeof(errstr));
        assert_string_equal(errstr,
                            "expected redis://[[user]:password@]host[:port]"
                            "[/db] or unix:///path/to/socket");

        /* Through the table: the password is never quoted back. */
        expect_arg_error("redis.url=redis://:hunter2@h:0",
                         "-X redis.url: expected a port in [1, 65535], "
                         "got \"0\"");
}

static void test_file_ok(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[1024] = "";
        const char *k, *v;

        (void)state;
        assert_int_equal(load_text(conf,
                                   "# riskwatch.conf\n"
                                   "\n"
                                   "   # indented comment\n"
                                   "  batch.size   =   250  \n"
                                   "log.level=debug\r\n"
                                   "\t\n"
                                   "topics.orders=shop-orders\n"
                                   "kafka.bootstrap.servers=b1:9092,b2:9092\n"
                                   "kafka.acks=all\n"
                                   "kafka.sasl.username = bob\n"
                                   "log.file=\n"
                                   "client.id=rw # not a comment\n",
                                   errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 250);
        assert_string_equal(rw_conf_get_str(conf, "log.level"), "debug");
        assert_string_equal(rw_conf_get_str(conf, "topics.orders"),
                            "shop-orders");
        assert_string_equal(rw_conf_get_str(conf, "log.file"), "");
        assert_string_equal(rw_conf_get_str(conf, "client.id"),
                            "rw # not a comment");
        /* Untouched keys keep their defaults. */
        assert_string_equal(rw_conf_get_str(conf, "topics.support"), "support");

        assert_int_equal(rw_conf_kafka_cnt(conf), 3);
        rw_conf_kafka_get(conf, 0, &k, &v);
        assert_string_equal(k, "bootstrap.servers");
        assert_string_equal(v, "b1:9092,b2:9092");
        rw_conf_kafka_get(conf, 1, &k, &v);
        assert_string_equal(k, "acks");
        assert_string_equal(v, "all");
        rw_conf_kafka_get(conf, 2, &k, &v);
        assert_string_equal(k, "sasl.username");
        assert_string_equal(v, "bob");
        rw_conf_destroy(conf);
}

static void test_file_errors(void **state) {
        rw_conf_t *conf;
        char errstr[1024];

        (void)state;
        expect_file_error("batch.size=10\n# ok\njust some text\n",
                          "F:3: just some text: expected key=value");
        expect_file_error("this line has no equals sign and goes on and on\n",
                          "F:1: this line has no equals sign and goes on...: "
                          "expected key=value");
        expect_file_error("\n=value\n", "F:2: =value: expected key=value");
        expect_file_error("batch.size=10\nno.such.key=1\n",
                          "F:2: no.such.key: unknown property");
        expect_file_error("topics.order=x\n",
                          "F:1: topics.order: unknown property "
                          "(did you mean topics.orders?)");
        expect_file_error("bootstrap.servers=b:9092\n",
                          "F:1: bootstrap.servers: unknown property "
                          "(librdkafka's properties take the prefix kafka.: "
                          "did you mean kafka.bootstrap.servers?)");
        expect_file_error("# c\n\n\nbatch.size=many\n",
                          "F:4: batch.size: expected an integer in "
                          "[1, 100000], got \"many\"");
        expect_file_error("log.level=info\nbatch.size=10\nx.y=\n",
                          "F:3: x.y: unknown property");
        expect_file_error("group.id=a\nbatch.size=10\n\nbatch.size = 20\n",
                          "F:4: batch.size: duplicate (first set at line 2)");
        expect_file_error("kafka.acks=all\nkafka.acks=1\n",
                          "F:2: kafka.acks: duplicate (first set at line 1)");

        conf = rw_conf_new();
        assert_int_equal(rw_conf_load_file(conf, "/nonexistent/rw.conf",
                                           errstr, sizeof(errstr)),
                         RW_ERR_CONFIG);
        assert_string_equal(errstr,
                            "/nonexistent/rw.conf: No such file or directory");
        rw_conf_destroy(conf);
}

static void test_arg_over_file(void **state) {
        rw_conf_t *conf;
        char errstr[1024];

        (void)state;
        /* File first, then -X. */
        conf = rw_conf_new();
        assert_int_equal(load_text(conf, "batch.size=10\nkafka.acks=1\n",
                                   errstr, sizeof(errstr)), RW_OK);
        expect_arg_ok(conf, "batch.size=20");
        expect_arg_ok(conf, "kafka.acks=all");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 20);
        assert_string_equal(rw_conf_kafka_find(conf, "acks"), "all");
        rw_conf_destroy(conf);

        /* -X first, then the file: -X still wins. */
        conf = rw_conf_new();
        expect_arg_ok(conf, "batch.size=20");
        expect_arg_ok(conf, "kafka.acks=all");
        assert_int_equal(load_text(conf,
                                   "batch.size=10\nkafka.acks=1\n"
                                   "batch.timeout=50ms\n",
                                   errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 20);
        assert_string_equal(rw_conf_kafka_find(conf, "acks"), "all");
        assert_int_equal(rw_conf_get_int(conf, "batch.timeout"), 50);
        /* ... but a bad value in the file is still an error. */
        assert_int_equal(load_text(conf, "batch.size=0\n", errstr,
                                   sizeof(errstr)), RW_ERR_CONFIG);
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 20);
        /* A later -X replaces an earlier one. */
        expect_arg_ok(conf, "batch.size=30");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 30);
        rw_conf_destroy(conf);
}

static void test_arg_errors(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[512];

        (void)state;
        expect_arg_error("batch.size", "-X batch.size: expected key=value");
        expect_arg_error("=5", "-X =5: expected key=value");
        expect_arg_error("no.such=1", "-X no.such: unknown property");
        expect_arg_error("batch.sise=1",
                         "-X batch.sise: unknown property "
                         "(did you mean batch.size?)");
        /* rw_conf_set: the caller names the origin. */
        assert_int_equal(rw_conf_set(conf, "batch.size", "x", "env",
                                     errstr, sizeof(errstr)), RW_ERR_CONFIG);
        assert_string_equal(errstr, "env: batch.size: expected an integer in "
                                    "[1, 100000], got \"x\"");
        assert_int_equal(rw_conf_set(conf, "batch.size", "9", "env",
                                     errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 9);
        /* A rejected value leaves the previous one. */
        assert_int_equal(rw_conf_set_arg(conf, "batch.size=0", errstr,
                                         sizeof(errstr)), RW_ERR_CONFIG);
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 9);
        rw_conf_destroy(conf);
}

static void test_kafka_passthrough(void **state) {
        rw_conf_t *conf = rw_conf_new();
        rd_kafka_conf_t *rkc;
        char errstr[512], expect[512], rk_errstr[256];
        const char *k, *v;

        (void)state;
        expect_arg_ok(conf, "kafka.acks=all");
        expect_arg_ok(conf, "kafka.security.protocol=SASL_SSL");
        expect_arg_ok(conf, "kafka.bootstrap.servers=k1:9092");
        expect_arg_ok(conf, "kafka.acks=1");
        /* In order of first set; a later set replaces in place. */
        assert_int_equal(rw_conf_kafka_cnt(conf), 3);
        rw_conf_kafka_get(conf, 0, &k, &v);
        assert_string_equal(k, "bootstrap.servers");
        assert_string_equal(v, "k1:9092");
        rw_conf_kafka_get(conf, 1, &k, &v);
        assert_string_equal(k, "acks");
        assert_string_equal(v, "1");
        rw_conf_kafka_get(conf, 2, &k, &v);
        assert_string_equal(k, "security.protocol");
        assert_string_equal(v, "SASL_SSL");

        /* A bad value fails with librdkafka's own reason. */
        rkc = rd_kafka_conf_new();
        assert_int_not_equal(rd_kafka_conf_set(rkc, "acks", "banana",
                                               rk_errstr, sizeof(rk_errstr)),
                             RD_KAFKA_CONF_OK);
        rd_kafka_conf_destroy(rkc);
        snprintf(expect, sizeof(expect), "-X kafka.acks: %s", rk_errstr);
        assert_int_equal(rw_conf_set_arg(conf, "kafka.acks=banana", errstr,
                                         sizeof(errstr)), RW_ERR_CONFIG);
        assert_string_equal(errstr, expect);
        assert_true(strlen(rk_errstr) > 0);
        assert_string_equal(rw_conf_kafka_find(conf, "acks"), "1");

        assert_int_equal(rw_conf_set_arg(conf, "kafka.no.such.prop=1", errstr,
                                         sizeof(errstr)), RW_ERR_CONFIG);
        assert_non_null(strstr(errstr, "-X kafka.no.such.prop: "));
        assert_non_null(strstr(errstr, "No such configuration property"));
        assert_int_equal(rw_conf_kafka_cnt(conf), 3);

        expect_arg_error("kafka.=1",
                         "-X kafka.: expected a librdkafka property name "
                         "after kafka.");
        expect_arg_error("kafka.group.id=g",
                         "-X kafka.group.id: set it with the riskwatch "
                         "property group.id");
        expect_arg_bad("kafka.client.id=c");
        rw_conf_destroy(conf);
}

static void test_dump(void **state) {
        rw_conf_t *conf = rw_conf_new();
        const rw_conf_prop_t *p;
        char *out, *line, *save, prev[256] = "", want[300];
        size_t lines = 0, props = 0;

        (void)state;
        expect_arg_ok(conf, "redis.url=redis://app:s3cret@cache:6379/2");
        expect_arg_ok(conf, "kafka.sasl.username=bob");
        expect_arg_ok(conf, "kafka.sasl.password=hunter2");
        expect_arg_ok(conf, "kafka.ssl.key.password=keypw");
        expect_arg_ok(conf, "schema.registry.url=https://ops:ampw@am:9093/");
        out = dump_str(conf);
        assert_null(strstr(out, "s3cret"));
        assert_null(strstr(out, "hunter2"));
        assert_null(strstr(out, "keypw"));
        assert_null(strstr(out, "ampw"));
        assert_non_null(strstr(out, "\nredis.url=redis://app:***@cache:6379/2\n"));
        assert_non_null(strstr(out, "\nkafka.sasl.password=***\n"));
        assert_non_null(strstr(out, "\nkafka.ssl.key.password=***\n"));
        assert_non_null(strstr(out, "\nkafka.sasl.username=bob\n"));
        assert_non_null(strstr(out, "\nkafka.bootstrap.servers=localhost:9092\n"));
        assert_non_null(strstr(out,
                               "\nschema.registry.url=https://ops:***@am:9093/\n"));
        assert_non_null(strstr(out, "\nbatch.size=5000\n"));
        assert_non_null(strstr(out, "\nschemas.dir=\n"));

        /* Sorted by key, one line per property and kafka.* entry. */
        for (line = strtok_r(out, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                size_t klen = strcspn(line, "=");

                assert_true(line[klen] == '=');
                line[klen] = '\0';
                assert_true(strcmp(prev, line) < 0);
                snprintf(prev, sizeof(prev), "%s", line);
                lines++;
        }
        for (p = rw_conf_props(); p->name; p++)
                props++;
        assert_int_equal(lines, props + rw_conf_kafka_cnt(conf));
        free(out);

        /* Every table property is in the dump. */
        out = dump_str(conf);
        for (p = rw_conf_props(); p->name; p++) {
                snprintf(want, sizeof(want), "%s=", p->name);
                assert_non_null(strstr(out, want));
        }
        free(out);

        /* Other password forms of redis URLs. */
        expect_arg_ok(conf, "redis.url=redis://:pw1@cache");
        expect_arg_ok(conf, "kafka.sasl.oauthbearer.config=principal=x");
        out = dump_str(conf);
        assert_non_null(strstr(out, "\nredis.url=redis://:***@cache\n"));
        assert_non_null(strstr(out, "\nkafka.sasl.oauthbearer.config=***\n"));
        free(out);
        expect_arg_ok(conf, "redis.url=redis://pw2@cache");
        out = dump_str(conf);
        assert_non_null(strstr(out, "\nredis.url=redis://***@cache\n"));
        assert_null(strstr(out, "pw2"));
        free(out);
        rw_conf_destroy(conf);
}

static void test_doc_markdown(void **state) {
        const rw_conf_prop_t *p;
        char *doc, *again, want[300];
        size_t rows = 0, props = 0;

        (void)state;
        doc = doc_str();
        assert_true(!strncmp(doc, "| property | type | default | "
                                  "range / values | description |\n", 60));
        for (p = rw_conf_props(); p->name; p++) {
                snprintf(want, sizeof(want), "\n| `%s` | ", p->name);
                if (!strstr(doc, want))
                        fail_msg("%s missing from the reference", p->name);
                props++;
        }
        for (const char *s = doc; (s = strstr(s, "\n| `")); s++)
                rows++;
        assert_int_equal(rows, props);
        assert_non_null(strstr(doc, "| `batch.size` | integer | `5000` | "
                                    "1 .. 100000 | "));
        assert_non_null(strstr(doc, "| `redis.timeout` | duration | `2s` | "
                                    "10ms .. 1m | "));
        assert_non_null(strstr(doc, "`error`, `warn`, `info`, `debug`"));
        assert_non_null(strstr(doc, "`kafka.`"));
        assert_non_null(strstr(doc, "`localhost:9092`"));
        /* Deterministic, so the README copy can be checked. */
        again = doc_str();
        assert_string_equal(doc, again);
        free(again);
        free(doc);
}

/* Reading a property the table does not have (or as another type) aborts
 * loudly in every build, NDEBUG included: it never reads another value. */
static int getter_dies(int which) {
        pid_t pid = fork();
        int status = 0;

        if (pid == 0) {
                rw_conf_t *conf = rw_conf_new();
                freopen("/dev/null", "w", stderr);
                if (which == 0)
                        (void)rw_conf_get_int(conf, "batch.sise");
                else if (which == 1)
                        (void)rw_conf_get_str(conf, "batch.size");
                else
                        (void)rw_conf_get_int(conf, "batch.size");
                _exit(0);
        }
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_unknown_name_aborts(void **state) {
        (void)state;
        assert_true(getter_dies(0));    /* misspelt */
        assert_true(getter_dies(1));    /* wrong type */
        assert_false(getter_dies(2));   /* a real one */
}

/* Where a value was set, for errors across properties. */
static void test_origin(void **state) {
        rw_conf_t *conf = rw_conf_new();
        char errstr[256], path[] = "/tmp/rw-test-origin-XXXXXX";
        int fd = mkstemp(path);
        (void)state;

        assert_true(fd >= 0);
        assert_true(write(fd, "\xef\xbb\xbf# c\nbatch.size=7\n", 21) == 21);
        close(fd);
        assert_null(rw_conf_origin(conf, "batch.size"));
        assert_int_equal(rw_conf_load_file(conf, path, errstr, sizeof(errstr)), RW_OK);
        snprintf(errstr, sizeof(errstr), "%s:2", path);
        assert_string_equal(rw_conf_origin(conf, "batch.size"), errstr);
        assert_int_equal(rw_conf_set_arg(conf, "batch.size=9", errstr, sizeof(errstr)), RW_OK);
        assert_string_equal(rw_conf_origin(conf, "batch.size"), "-X");
        assert_int_equal(rw_conf_get_int(conf, "batch.size"), 9);
        unlink(path);
        rw_conf_destroy(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_int),
                cmocka_unit_test(test_dbl),
                cmocka_unit_test(test_bool),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_time),
                cmocka_unit_test(test_enum),
                cmocka_unit_test(test_str_checks),
                cmocka_unit_test(test_http_url),
                cmocka_unit_test(test_redis_url_good),
                cmocka_unit_test(test_redis_url_bad),
                cmocka_unit_test(test_file_ok),
                cmocka_unit_test(test_file_errors),
                cmocka_unit_test(test_arg_over_file),
                cmocka_unit_test(test_arg_errors),
                cmocka_unit_test(test_kafka_passthrough),
                cmocka_unit_test(test_dump),
                cmocka_unit_test(test_doc_markdown),
                cmocka_unit_test(test_unknown_name_aborts),
                cmocka_unit_test(test_origin),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
