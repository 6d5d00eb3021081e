/* test_registry.c - schema registry client and its use by the codec, against
 * a real schema registry: Apicurio Registry (in-memory) through its
 * Confluent-compatible API, started privately by scripts/schema-registry.sh.
 * Faults a real registry cannot be told to make (503s, delays, basic auth)
 * come from tests/integration/registry_server.py, a Confluent-compatible
 * imitation with fault controls, used for those tests alone. Both run as
 * child processes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <curl/curl.h>
#include "schemas/codec.h"
#include "schemas/registry.h"

static char source_dir[2048];
static char schemas_dir[2100];
static char tmp_dir[] = "/tmp/rw-test-registry.XXXXXX";
static pid_t server_pid = -1;
static int server_port;
static char base_url[64];                /* the imitation (fault injection) */
static char real_url[128];               /* Apicurio's .../apis/ccompat/v7 */
static char real_dir[2200], real_log[2300];
/* Ids Apicurio assigned, in group_setup, to the schemas registered there. */
static int32_t id_thing, id_v2, id_proto;

/* OrderEvent v2: one field more, with a default; a doc with characters the
 * registry's JSON escapes (quotes, backslash, non-ASCII, a surrogate pair). */
static const char order_v2[] =
        "{\"type\": \"record\", \"name\": \"OrderEvent\", \"namespace\": \"riskwatch\",\n"
        " \"doc\": \"v2 \\\"quoted\\\" back\\\\slash caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e\",\n"
        " \"fields\": [\n"
        "  {\"name\": \"event_id\", \"type\": \"string\"},\n"
        "  {\"name\": \"account_id\", \"type\": \"string\"},\n"
        "  {\"name\": \"vendor_id\", \"type\": \"string\"},\n"
        "  {\"name\": \"product_line\", \"type\": [\"null\", \"string\"], \"default\": null},\n"
        "  {\"name\": \"kind\", \"type\": {\"type\": \"enum\", \"name\": \"OrderKind\",\n"
        "   \"symbols\": [\"PLACED\", \"CANCELLED\", \"REFUNDED\"]}},\n"
        "  {\"name\": \"amount_minor\", \"type\": \"long\"},\n"
        "  {\"name\": \"currency\", \"type\": \"string\"},\n"
        "  {\"name\": \"occurred_at\", \"type\": {\"type\": \"long\", \"logicalType\": "
        "\"timestamp-millis\"}},\n"
        "  {\"name\": \"channel\", \"type\": \"string\", \"default\": \"web\"}\n"
        " ]}\n";

static const char other_record[] =
        "{\"type\": \"record\", \"name\": \"Thing\", \"namespace\": \"other\", "
        "\"fields\": [{\"name\": \"x\", \"type\": \"int\"}]}";

/*
 * Helpers.
 */

static void write_file(const char *name, const char *text) {
        char path[2300];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
        if (!(fp = fopen(path, "w")) || fputs(text, fp) < 0 || fclose(fp))
                fail_msg("write %s: %s", path, strerror(errno));
}

static char *read_file(const char *path) {
        FILE *fp = fopen(path, "r");
        char *buf;
        long n;

        if (!fp)
                fail_msg("open %s: %s", path, strerror(errno));
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = calloc(1, (size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        return buf;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *opaque) {
        char **out = opaque;
        size_t old = *out ? strlen(*out) : 0, n = size * nmemb;
        char *nb = realloc(*out, old + n + 1);

        assert_non_null(nb);
        memcpy(nb + old, data, n);
        nb[old + n] = '\0';
        *out = nb;
        return n;
}

/* A request to the test registry's control endpoints; the body, malloc()ed. */
static char *http(const char *path, const char *post) {
        CURL *c = curl_easy_init();
        char url[128], *out = NULL;
        CURLcode cc;

        assert_non_null(c);
        snprintf(url, sizeof(url), "%s%s", base_url, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (post)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        if ((cc = curl_easy_perform(c)) != CURLE_OK)
                fail_msg("%s: %s", url, curl_easy_strerror(cc));
        curl_easy_cleanup(c);
        return out ? out : strdup("");
}

static void control(const char *json) {
        free(http("/_control", json));
}

/* How often the test registry was asked `what` ("GET /schemas/ids/101"). */
static int requests(const char *what) {
        char *stats = http("/_stats", NULL), key[128], *p;
        int n = 0;

        snprintf(key, sizeof(key), "\"%s\": ", what);
        if ((p = strstr(stats, key)))
                n = atoi(p + strlen(key));
        free(stats);
        return n;
}

static rw_registry_t *registry_new_ok(const char *url, int64_t timeout_ms) {
        char errstr[512] = "";
        rw_registry_t *reg = rw_registry_new(url, timeout_ms, errstr, sizeof(errstr));

        if (!reg)
                fail_msg("rw_registry_new(%s): %s", url, errstr);
        return reg;
}

/* A port nothing listens on (bound, then closed). */
static int closed_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

/* A framed OrderEvent v2 under `id`: the v1 encoding plus the channel string. */
static unsigned char *order_v2_frame(rw_codec_t *codec, int32_t id, size_t *lenp) {
        rw_record_t rec = { .type = RW_REC_ORDER };
        char errstr[256];
        unsigned char *buf;
        void *v1;
        size_t len;

        rec.u.order = (rw_order_event_t){
                .event_id = "ev-1", .account_id = "acct-1", .vendor_id = "vendor-1",
                .product_line = NULL, .kind = RW_ORDER_REFUNDED, .amount_minor = 4200,
                .currency = "EUR", .occurred_at = 1772344800000,
        };
        assert_int_equal(rw_codec_encode(codec, &rec, &v1, &len, errstr, sizeof(errstr)), RW_OK);
        buf = malloc(len + 5);
        assert_non_null(buf);
        memcpy(buf, v1, len);
        free(v1);
        buf[1] = (unsigned char)((uint32_t)id >> 24);
        buf[2] = (unsigned char)((uint32_t)id >> 16);
        buf[3] = (unsigned char)((uint32_t)id >> 8);
        buf[4] = (unsigned char)id;
        memcpy(buf + len, "\x06" "sms", 4);     /* channel: length 3 (zig-zag 6), "sms" */
        *lenp = len + 4;
        return buf;
}

static void reset_server(void) {
        control("{\"fail\": 0, \"delay_ms\": 0, \"auth\": \"\"}");
}

/* A request to Apicurio (`path` under its ccompat base); returns the HTTP
 * status, the body in *bodyp (malloc()ed) if bodyp. */
static long real_http(const char *path, const char *post, char **bodyp) {
        CURL *c = curl_easy_init();
        struct curl_slist *hdr = NULL;
        char url[1024], *out = NULL;
        long status = 0;
        CURLcode cc;

        assert_non_null(c);
        snprintf(url, sizeof(url), "%s%s", real_url, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (post) {
                hdr = curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        }
        if ((cc = curl_easy_perform(c)) != CURLE_OK)
                fail_msg("%s: %s", url, curl_easy_strerror(cc));
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(c);
        if (bodyp)
                *bodyp = out ? out : strdup("");
        else
                free(out);
        return status;
}

/* Registers `schema` (of `type`, NULL = Avro) under `subject` in Apicurio, as
 * a producer would; returns the id it assigned. */
static int32_t real_register(const char *subject, const char *schema, const char *type) {
        char path[256], *quoted = rw_json_quote(schema), *body, *resp;
        int64_t id = -1;
        long status;

        assert_non_null(quoted);
        snprintf(path, sizeof(path), "/subjects/%s/versions", subject);
        assert_true(asprintf(&body, "{\"schema\":%s%s%s%s}", quoted,
                             type ? ",\"schemaType\":\"" : "", type ? type : "",
                             type ? "\"" : "") > 0);
        status = real_http(path, body, &resp);
        if (status != 200 || rw_json_member_int(resp, strlen(resp), "id", &id))
                fail_msg("POST %s: HTTP %ld: %s", path, status, resp);
        free(resp);
        free(body);
        free(quoted);
        return (int32_t)id;
}

/* How often Apicurio was asked `method` `path` (its access log). A last
 * request to a marker path, once seen in the log, says every earlier line
 * is there. */
static int real_requests(const char *method, const char *path) {
        static int marker;
        char want[512], mark[128], line[2048];
        int n = 0, seen = 0;

        snprintf(mark, sizeof(mark), "/subjects/rw-marker-%d/versions", ++marker);
        real_http(mark, NULL, NULL);
        snprintf(mark, sizeof(mark), "path=\"/apis/ccompat/v7/subjects/rw-marker-%d/versions\" ",
                 marker);
        snprintf(want, sizeof(want), "method=\"%s\" path=\"/apis/ccompat/v7%s\" ", method, path);
        for (int tries = 0; !seen && tries < 100; tries++) {
                FILE *fp = fopen(real_log, "r");

                n = 0;
                while (fp && fgets(line, sizeof(line), fp)) {
                        n += strstr(line, want) != NULL;
                        seen |= strstr(line, mark) != NULL;
                }
                if (fp)
                        fclose(fp);
                if (!seen)
                        usleep(50 * 1000);
        }
        if (!seen)
                fail_msg("%s has no line for the marker request", real_log);
        return n;
}

static int real_gets(int32_t id) {
        char path[64];

        snprintf(path, sizeof(path), "/schemas/ids/%" PRId32, id);
        return real_requests("GET", path);
}

/*
 * JSON helpers.
 */

static void test_json_member_str(void **state) {
        static const char doc[] =
                "{\"a\": {\"schema\": \"nested\"}, \"list\": [1, \"x\", {\"y\": [true, null]}],"
                " \"n\": -12.5e3, \"schema\": \"{\\\"k\\\": \\\"v\\\\\\\\ \\u00e9\\ud834\\udd1e"
                "\\n\\t\\/\\\"\"}";
        static const char *bad[] = {
                "[\"schema\", \"x\"]", "{\"schema\": 3}", "{\"schema\": \"a\\u0000b\"}",
                "{\"schema\": \"\\ud834x\"}", "{\"schema\": \"\\udd1e\"}", "{\"schema\": \"ab",
                "{\"schema\": \"a\\qb\"}", "{\"other\": \"x\"}", "{\"a\": [1, 2}, \"schema\": \"x\"}",
                "", "{", "{\"schema\": \"tab\there\"}",
        };
        char *s;

        (void)state;
        s = rw_json_member_str(doc, strlen(doc), "schema");
        assert_non_null(s);
        assert_string_equal(s, "{\"k\": \"v\\\\ \xc3\xa9\xf0\x9d\x84\x9e\n\t/\"");
        free(s);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                s = rw_json_member_str(bad[i], strlen(bad[i]), "schema");
                if (s)
                        fail_msg("rw_json_member_str(%s) = \"%s\", expected NULL", bad[i], s);
        }
}

static void test_json_member_int(void **state) {
        static const char doc[] = "{\"x\": \"id\", \"error_code\": 40403, \"id\": -7}";
        int64_t v = 0;

        (void)state;
        assert_int_equal(rw_json_member_int(doc, strlen(doc), "error_code", &v), 0);
        assert_int_equal(v, 40403);
        assert_int_equal(rw_json_member_int(doc, strlen(doc), "id", &v), 0);
        assert_int_equal(v, -7);
        assert_int_not_equal(rw_json_member_int(doc, strlen(doc), "x", &v), 0);
        assert_int_not_equal(rw_json_member_int(doc, strlen(doc), "missing", &v), 0);
        assert_int_not_equal(rw_json_member_int("{\"id\": 1.5}", 11, "id", &v), 0);
        assert_int_not_equal(rw_json_member_int("{\"id\": 123456789012345678901234}", 32,
                                                "id", &v), 0);
}

static void test_json_quote_roundtrip(void **state) {
        const char *texts[] = { order_v2, "", "a\"b\\c\x01\x1f\x7f", "tab\there\r\n" };

        (void)state;
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                char *q = rw_json_quote(texts[i]), *doc, *back;

                assert_non_null(q);
                assert_true(asprintf(&doc, "{\"schema\":%s}", q) > 0);
                back = rw_json_member_str(doc, strlen(doc), "schema");
                assert_non_null(back);
                assert_string_equal(back, texts[i]);
                free(back);
                free(doc);
                free(q);
        }
}

/*
 * The client.
 */

static void test_url_errors(void **state) {
        char errstr[256];

        (void)state;
        assert_null(rw_registry_new("ftp://h/", 1000, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "http"));
        assert_null(rw_registry_new("http://h/?x=1", 1000, errstr, sizeof(errstr)));
        assert_null(rw_registry_new("http://user:pw@/", 1000, errstr, sizeof(errstr)));
        assert_null(strstr(errstr, "pw"));
}

static void test_fetch_ok_and_cached(void **state) {
        rw_registry_t *reg = registry_new_ok(real_url, 5000);
        char errstr[512] = "", *json = NULL, *again = NULL;
        int before = real_gets(id_v2);

        (void)state;
        if (rw_registry_get_schema(reg, id_v2, &json, errstr, sizeof(errstr)) != RW_OK)
                fail_msg("id %d: %s", (int)id_v2, errstr);
        assert_string_equal(json, order_v2);            /* unescaped exactly */
        assert_int_equal(rw_registry_get_schema(reg, id_v2, &again, errstr, sizeof(errstr)),
                         RW_OK);
        assert_string_equal(again, order_v2);
        assert_int_equal(real_gets(id_v2) - before, 1);
        free(json);
        free(again);
        rw_registry_destroy(reg);
}

static void test_not_found_is_a_verdict(void **state) {
        rw_registry_t *reg = registry_new_ok(real_url, 5000);
        char errstr[512] = "", *json = NULL;
        int before = real_gets(999);

        (void)state;
        assert_int_equal(rw_registry_get_schema(reg, 999, &json, errstr, sizeof(errstr)),
                         RW_ERR_FAIL);
        assert_null(json);
        assert_non_null(strstr(errstr, "999"));
        assert_non_null(strstr(errstr, "40403"));
        assert_int_equal(rw_registry_get_schema(reg, 999, &json, errstr, sizeof(errstr)),
                         RW_ERR_FAIL);
        assert_int_equal(real_gets(999) - before, 1);

        /* Not Avro: a verdict too. */
        assert_int_equal(rw_registry_get_schema(reg, id_proto, &json, errstr, sizeof(errstr)),
                         RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "PROTOBUF"));
        rw_registry_destroy(reg);
}

static void test_wrong_path_is_retriable(void **state) {
        char url[256], errstr[512] = "", *json = NULL;
        rw_registry_t *reg;

        (void)state;
        /* A 404 from something that is not the registry's API says nothing
         * about the id: Apicurio's answer for a path it does not serve. */
        snprintf(url, sizeof(url), "%s/not/the/registry/", real_url);
        reg = registry_new_ok(url, 5000);
        assert_int_equal(rw_registry_get_schema(reg, id_v2, &json, errstr, sizeof(errstr)),
                         RW_ERR_IO);
        assert_non_null(strstr(errstr, "404"));
        rw_registry_destroy(reg);
}

static void test_5xx_is_retriable(void **state) {
        rw_registry_t *reg = registry_new_ok(base_url, 5000);
        char errstr[512] = "", *json = NULL;

        (void)state;
        control("{\"fail\": 503}");
        assert_int_equal(rw_registry_get_schema(reg, 102, &json, errstr, sizeof(errstr)),
                         RW_ERR_IO);
        assert_null(json);
        assert_non_null(strstr(errstr, "503"));
        /* Not cached: asked again, and answered once the registry is back. */
        reset_server();
        assert_int_equal(rw_registry_get_schema(reg, 102, &json, errstr, sizeof(errstr)), RW_OK);
        assert_non_null(strstr(json, "SupportEvent"));
        assert_int_equal(requests("GET /schemas/ids/102"), 2);
        free(json);
        rw_registry_destroy(reg);
}

static void test_unreachable(void **state) {
        char url[64], errstr[512] = "", *json = NULL;
        rw_registry_t *reg;
        int32_t id;

        (void)state;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
        reg = registry_new_ok(url, 2000);
        assert_int_equal(rw_registry_get_schema(reg, 101, &json, errstr, sizeof(errstr)),
                         RW_ERR_IO);
        assert_non_null(strstr(errstr, url));
        assert_int_equal(rw_registry_register(reg, "s-value", order_v2, &id, errstr,
                                              sizeof(errstr)), RW_ERR_IO);
        rw_registry_destroy(reg);
}

static void test_timeout(void **state) {
        rw_registry_t *reg = registry_new_ok(base_url, 300);
        char errstr[512] = "", *json = NULL;
        int64_t t0;

        (void)state;
        control("{\"delay_ms\": 3000}");
        t0 = rw_mono_ms();
        assert_int_equal(rw_registry_get_schema(reg, 105, &json, errstr, sizeof(errstr)),
                         RW_ERR_IO);
        assert_true(rw_mono_ms() - t0 < 2000);
        assert_non_null(strcasestr(errstr, "timed out"));
        reset_server();
        /* The handle is reused after a timeout. */
        assert_int_equal(rw_registry_get_schema(reg, 105, &json, errstr, sizeof(errstr)), RW_OK);
        free(json);
        rw_registry_destroy(reg);
}

static void test_basic_auth(void **state) {
        char url[128], errstr[512] = "", *json = NULL;
        rw_registry_t *reg;

        (void)state;
        control("{\"auth\": \"ops:p@ss:w0rd\"}");
        /* Without credentials: 401 says nothing about the id: retriable. */
        reg = registry_new_ok(base_url, 5000);
        assert_int_equal(rw_registry_get_schema(reg, 106, &json, errstr, sizeof(errstr)),
                         RW_ERR_IO);
        assert_non_null(strstr(errstr, "401"));
        rw_registry_destroy(reg);

        snprintf(url, sizeof(url), "http://ops:p%%40ss%%3Aw0rd@127.0.0.1:%d/", server_port);
        reg = registry_new_ok(url, 5000);
        assert_string_equal(rw_registry_url(reg), base_url);
        assert_int_equal(rw_registry_get_schema(reg, 106, &json, errstr, sizeof(errstr)), RW_OK);
        free(json);
        rw_registry_destroy(reg);

        snprintf(url, sizeof(url), "http://ops:wrong-secret@127.0.0.1:%d", server_port);
        reg = registry_new_ok(url, 5000);
        assert_int_equal(rw_registry_get_schema(reg, 107, &json, errstr, sizeof(errstr)),
                         RW_ERR_IO);
        assert_null(strstr(errstr, "wrong-secret"));
        rw_registry_destroy(reg);
        reset_server();
}

static void test_register(void **state) {
        rw_registry_t *reg = registry_new_ok(real_url, 5000);
        char errstr[512] = "", *json = NULL, path[2300], *alert, *resp;
        int32_t id = -1, again = -1;
        int64_t listed = -1;

        (void)state;
        snprintf(path, sizeof(path), "%s/RiskAlert.avsc", schemas_dir);
        alert = read_file(path);
        if (rw_registry_register(reg, "alerts-x-value", alert, &id, errstr,
                                 sizeof(errstr)) != RW_OK)
                fail_msg("register: %s", errstr);
        assert_true(id != id_thing && id != id_v2 && id != id_proto);
        assert_int_equal(rw_registry_register(reg, "alerts-x-value", alert, &again, errstr,
                                              sizeof(errstr)), RW_OK);
        assert_int_equal(again, id);
        assert_int_equal(real_requests("POST", "/subjects/alerts-x-value/versions"), 2);
        /* The registry lists it under the subject with that id. */
        assert_int_equal(real_http("/subjects/alerts-x-value/versions/latest", NULL, &resp), 200);
        assert_int_equal(rw_json_member_int(resp, strlen(resp), "id", &listed), 0);
        assert_int_equal(listed, id);
        free(resp);
        assert_int_equal(rw_registry_get_schema(reg, id, &json, errstr, sizeof(errstr)), RW_OK);
        assert_string_equal(json, alert);               /* text survives the round trip */
        free(json);

        /* A refusal is not retriable. */
        assert_int_equal(rw_registry_register(reg, "bad-value", "not json", &id, errstr,
                                              sizeof(errstr)), RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "422"));
        rw_registry_destroy(reg);

        /* A registry failing (the imitation): retriable. */
        reg = registry_new_ok(base_url, 5000);
        control("{\"fail\": 503}");
        assert_int_equal(rw_registry_register(reg, "alerts-x-value", alert, &id, errstr,
                                              sizeof(errstr)), RW_ERR_IO);
        reset_server();
        free(alert);
        rw_registry_destroy(reg);
}

/*
 * The codec with a registry.
 */

static void test_codec_fetches_unknown_ids(void **state) {
        rw_registry_t *reg = registry_new_ok(real_url, 5000);
        char errstr[512] = "";
        rw_codec_t *codec = rw_codec_new(schemas_dir, errstr, sizeof(errstr));
        rw_record_t rec;
        unsigned char *frame;
        size_t len;

        (void)state;
        int before = real_gets(id_v2), before1 = real_gets(1);

        if (!codec)
                fail_msg("rw_codec_new: %s", errstr);
        frame = order_v2_frame(codec, id_v2, &len);

        /* Without a registry an unknown id is a verdict. */
        assert_int_equal(rw_codec_decode(codec, RW_REC_ORDER, frame, len, &rec, errstr,
                                         sizeof(errstr)), RW_CODEC_UNKNOWN_SCHEMA);
        assert_non_null(strstr(errstr, "not in the catalogue"));
        assert_int_equal(real_gets(id_v2) - before, 0);

        rw_codec_set_registry(codec, reg);
        for (int i = 0; i < 3; i++) {
                rw_codec_status_t st = rw_codec_decode(codec, RW_REC_ORDER, frame, len, &rec,
                                                       errstr, sizeof(errstr));
                if (st != RW_CODEC_OK)
                        fail_msg("decode of id %d: %s: %s", (int)id_v2, rw_codec_reason(st),
                                 errstr);
                assert_int_equal(rec.schema_id, id_v2);
                assert_string_equal(rec.u.order.event_id, "ev-1");
                assert_int_equal(rec.u.order.kind, RW_ORDER_REFUNDED);
                assert_int_equal(rec.u.order.amount_minor, 4200);
                assert_int_equal(rec.u.order.occurred_at, 1772344800000);
        }
        assert_true(rw_codec_has_schema(codec, id_v2));
        assert_int_equal(real_gets(id_v2) - before, 1);

        /* With a registry every id resolves through it, the catalogue's too
         * (the contract): this registry's id 1 is other.Thing, not the
         * catalogue's OrderEvent, so that is a verdict, asked once and
         * remembered. */
        frame[1] = frame[2] = frame[3] = 0;
        frame[4] = 1;
        for (int i = 0; i < 2; i++)
                assert_int_equal(rw_codec_decode(codec, RW_REC_ORDER, frame, len - 4, &rec,
                                                 errstr, sizeof(errstr)),
                                 RW_CODEC_UNKNOWN_SCHEMA);
        assert_int_equal(real_gets(1) - before1, 1);
        free(frame);
        rw_codec_set_registry(codec, NULL);
        rw_codec_destroy(codec);
        rw_registry_destroy(reg);
}

static void test_codec_verdicts_are_remembered(void **state) {
        rw_registry_t *reg = registry_new_ok(real_url, 5000);
        char errstr[512] = "";
        rw_codec_t *codec = rw_codec_new(schemas_dir, errstr, sizeof(errstr));
        static const unsigned char id998[] = { 0, 0, 0, 0x03, 0xe6, 0 };
        unsigned char idthing[] = { 0, 0, 0, 0, 0, 2 };
        rw_record_t rec;
        int before998 = real_gets(998), before_thing = real_gets(id_thing);

        (void)state;
        assert_non_null(codec);
        assert_true(id_thing < 256);
        idthing[4] = (unsigned char)id_thing;
        rw_codec_set_registry(codec, reg);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(rw_codec_decode(codec, RW_REC_ORDER, id998, sizeof(id998), &rec,
                                                 errstr, sizeof(errstr)),
                                 RW_CODEC_UNKNOWN_SCHEMA);
                assert_non_null(strstr(errstr, "998"));
                assert_non_null(strstr(errstr, "not found"));
                /* A record riskwatch does not read: the schema is refused once. */
                assert_int_equal(rw_codec_decode(codec, RW_REC_ORDER, idthing, sizeof(idthing),
                                                 &rec, errstr, sizeof(errstr)),
                                 RW_CODEC_UNKNOWN_SCHEMA);
                assert_non_null(strstr(errstr, "other.Thing"));
        }
        assert_int_equal(real_gets(998) - before998, 1);
        assert_int_equal(real_gets(id_thing) - before_thing, 1);
        rw_codec_destroy(codec);
        rw_registry_destroy(reg);
}

static void test_codec_retry_while_unreachable(void **state) {
        rw_registry_t *reg = registry_new_ok(base_url, 5000);
        char errstr[512] = "";
        rw_codec_t *codec = rw_codec_new(schemas_dir, errstr, sizeof(errstr));
        rw_record_t rec;
        unsigned char *frame;
        size_t len;

        (void)state;
        assert_non_null(codec);
        rw_codec_set_registry(codec, reg);
        frame = order_v2_frame(codec, 108, &len);
        control("{\"fail\": 503}");
        for (int i = 0; i < 2; i++) {
                assert_int_equal(rw_codec_decode(codec, RW_REC_ORDER, frame, len, &rec, errstr,
                                                 sizeof(errstr)), RW_CODEC_RETRY);
                assert_non_null(strstr(errstr, "503"));
        }
        assert_false(rw_codec_has_schema(codec, 108));
        reset_server();
        assert_int_equal(rw_codec_decode(codec, RW_REC_ORDER, frame, len, &rec, errstr,
                                         sizeof(errstr)), RW_CODEC_OK);
        assert_string_equal(rec.u.order.account_id, "acct-1");
        assert_int_equal(requests("GET /schemas/ids/108"), 3);
        free(frame);
        rw_codec_destroy(codec);
        rw_registry_destroy(reg);
}

static void test_codec_writer_id(void **state) {
        char errstr[512] = "";
        rw_codec_t *codec = rw_codec_new(schemas_dir, errstr, sizeof(errstr));
        rw_record_t rec = { .type = RW_REC_ALERT }, back;
        unsigned char *buf;
        void *v;
        size_t len;
        char path[2300], *text;

        (void)state;
        assert_non_null(codec);
        snprintf(path, sizeof(path), "%s/RiskAlert.avsc", schemas_dir);
        text = read_file(path);
        assert_string_equal(rw_codec_reader_json(codec, RW_REC_ALERT), text);
        free(text);

        rec.u.alert = (rw_alert_t){
                .alert_id = "a", .fingerprint = "f", .rule = "r", .subject_id = "s",
                .source_topic = "t", .summary = "x", .source_partition = -1,
                .source_offset = -1,
        };
        rw_codec_set_writer_id(codec, RW_REC_ALERT, 4242);
        assert_int_equal(rw_codec_encode(codec, &rec, &v, &len, errstr, sizeof(errstr)), RW_OK);
        buf = v;
        assert_int_equal(buf[0], 0);
        assert_int_equal(((uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
                          (uint32_t)buf[3] << 8 | buf[4]), 4242);
        assert_int_equal(rw_codec_reader_id(codec, RW_REC_ALERT), 3);
        /* The same bytes under the catalogue id decode. */
        buf[1] = buf[2] = buf[3] = 0;
        buf[4] = 3;
        assert_int_equal(rw_codec_decode(codec, RW_REC_ALERT, buf, len, &back, errstr,
                                         sizeof(errstr)), RW_CODEC_OK);
        free(v);
        rw_codec_destroy(codec);
}

/*
 * The test registry.
 */

static void find_source_dir(void) {
        const char *env = getenv("RW_SOURCE_DIR");

        if (env && *env) {
                snprintf(source_dir, sizeof(source_dir), "%s", env);
        } else {
                const char *suffix = "/tests/unit/test_registry.c";
                size_t n = strlen(__FILE__), s = strlen(suffix);

                if (n > s && !strcmp(&__FILE__[n - s], suffix))
                        snprintf(source_dir, sizeof(source_dir), "%.*s", (int)(n - s), __FILE__);
                else
                        snprintf(source_dir, sizeof(source_dir), ".");
        }
        snprintf(schemas_dir, sizeof(schemas_dir), "%s/schemas", source_dir);
}

static int group_setup(void **state) {
        char script[4600], path[2300], line[32];
        char *support;
        int fds[2];
        FILE *fp;

        (void)state;
        find_source_dir();
        if (!mkdtemp(tmp_dir))
                return -1;
        snprintf(path, sizeof(path), "%s/SupportEvent.avsc", schemas_dir);
        support = read_file(path);
        /* The imitation's schemas, for the fault tests. */
        write_file("102.avsc", support);
        write_file("105.avsc", support);
        write_file("106.avsc", support);
        write_file("107.avsc", support);
        write_file("108.avsc", order_v2);
        free(support);

        /* The imitation, only for the faults Apicurio cannot be told to make:
         * 503s (test_5xx_is_retriable, test_register, test_codec_retry_while_unreachable),
         * a delay (test_timeout), basic auth (test_basic_auth). */
        snprintf(script, sizeof(script), "%s/tests/integration/registry_server.py", source_dir);
        if (pipe(fds))
                return -1;
        fflush(NULL);
        if ((server_pid = fork()) < 0)
                return -1;
        if (server_pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                execl("/usr/bin/python3", "python3", script, tmp_dir, (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        fp = fdopen(fds[0], "r");
        if (!fp || !fgets(line, sizeof(line), fp) || (server_port = atoi(line)) <= 0) {
                fprintf(stderr, "test registry (%s) did not start\n", script);
                return -1;
        }
        fclose(fp);
        snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", server_port);

        /* Apicurio, private to this test (fetched into the cache on first use). */
        snprintf(real_dir, sizeof(real_dir), "%s/apicurio", tmp_dir);
        snprintf(real_log, sizeof(real_log), "%s/registry-access.log", real_dir);
        snprintf(script, sizeof(script), "RW_REGISTRY_WATCH_PID=%ld "
                 "'%s/scripts/schema-registry.sh' start '%s'",
                 (long)getpid(), source_dir, real_dir);
        if (!(fp = popen(script, "r")) || !fgets(real_url, sizeof(real_url), fp)) {
                fprintf(stderr, "Apicurio Registry (%s) did not start\n", script);
                if (fp)
                        pclose(fp);
                return -1;
        }
        real_url[strcspn(real_url, "\n")] = '\0';
        if (pclose(fp) != 0)
                return -1;
        /* Registered in this order in a registry just started, which numbers
         * schemas from 1: its id 1 is a schema other than the catalogue's
         * (test_codec_fetches_unknown_ids), and OrderEvent v2 comes fourth,
         * under an id the catalogue (1 to 3) lacks. */
        id_thing = real_register("other-value", other_record, NULL);
        id_proto = real_register("proto-value", "syntax = \"proto3\"; message M { int32 x = 1; }\n",
                                 "PROTOBUF");
        snprintf(path, sizeof(path), "%s/SupportEvent.avsc", schemas_dir);
        support = read_file(path);
        real_register("support-value", support, NULL);
        free(support);
        id_v2 = real_register("orders-value", order_v2, NULL);
        if (id_thing != 1 || id_v2 <= 3) {
                fprintf(stderr, "Apicurio assigned ids %d and %d, not 1 and above 3\n",
                        (int)id_thing, (int)id_v2);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state) {
        const char *names[] = { "102.avsc", "105.avsc", "106.avsc", "107.avsc", "108.avsc",
                                "apicurio/registry.log", "apicurio/registry-access.log" };
        char path[2300], cmd[4600];

        (void)state;
        if (server_pid > 0) {
                kill(server_pid, SIGTERM);
                waitpid(server_pid, NULL, 0);
        }
        if (real_dir[0]) {
                snprintf(cmd, sizeof(cmd), "'%s/scripts/schema-registry.sh' stop '%s'",
                         source_dir, real_dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "stopping Apicurio Registry failed: %s\n", cmd);
        }
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", tmp_dir, names[i]);
                unlink(path);
        }
        if (real_dir[0])
                rmdir(real_dir);
        rmdir(tmp_dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_member_str),
                cmocka_unit_test(test_json_member_int),
                cmocka_unit_test(test_json_quote_roundtrip),
                cmocka_unit_test(test_url_errors),
                cmocka_unit_test(test_fetch_ok_and_cached),
                cmocka_unit_test(test_not_found_is_a_verdict),
                cmocka_unit_test(test_wrong_path_is_retriable),
                cmocka_unit_test(test_5xx_is_retriable),
                cmocka_unit_test(test_unreachable),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_basic_auth),
                cmocka_unit_test(test_register),
                cmocka_unit_test(test_codec_fetches_unknown_ids),
                cmocka_unit_test(test_codec_verdicts_are_remembered),
                cmocka_unit_test(test_codec_retry_while_unreachable),
                cmocka_unit_test(test_codec_writer_id),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
