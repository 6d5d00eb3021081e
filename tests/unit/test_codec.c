/* test_codec.c - codec unit tests: round trips, evolution, poison, validation, interop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <avro.h>
#include "schemas/codec.h"
#include "schemas/codec_int.h"

/*
 * Helpers.
 */

/* Largest single allocation avro-c asked for since the last reset: a decoder
 * that trusts a declared length shows up here. */
static size_t max_alloc;
static size_t n_alloc;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
        (void)ud;
        (void)osize;
        if (nsize == 0) {
                free(ptr);
                return NULL;
        }
        if (nsize > max_alloc)
                max_alloc = nsize;
        n_alloc++;
        return realloc(ptr, nsize);
}

static char source_dir[4096];
static char schemas_dir[4096];

/* out = dir/name; fails the test rather than truncate. */
static void join(char *out, size_t size, const char *dir, const char *name) {
        int n = snprintf(out, size, "%s/%s", dir, name);

        if (n < 0 || (size_t)n >= size)
                fail_msg("path too long: %s/%s", dir, name);
}

static void find_schemas_dir(void) {
        const char *env = getenv("RW_SOURCE_DIR");

        if (env && *env) {
                snprintf(source_dir, sizeof(source_dir), "%s", env);
        } else {
                /* Run by hand: the source tree this file was compiled from. */
                const char *suffix = "/tests/unit/test_codec.c";
                size_t n = strlen(__FILE__), s = strlen(suffix);

                if (n > s && !strcmp(&__FILE__[n - s], suffix))
                        snprintf(source_dir, sizeof(source_dir), "%.*s", (int)(n - s), __FILE__);
                else
                        snprintf(source_dir, sizeof(source_dir), ".");
        }
        join(schemas_dir, sizeof(schemas_dir), source_dir, "schemas");
}

static rw_codec_t *codec_new_ok(const char *dir) {
        char errstr[512] = "";
        rw_codec_t *codec = rw_codec_new(dir, errstr, sizeof(errstr));

        if (!codec)
                fail_msg("rw_codec_new(%s): %s", dir, errstr);
        return codec;
}

/* A scratch schemas directory, removed by tmpdir_remove(). */
typedef struct tmpdir_s {
        char path[256];
        char *files[32];
        int n;
} tmpdir_t;

static void tmpdir_make(tmpdir_t *td) {
        memset(td, 0, sizeof(*td));
        snprintf(td->path, sizeof(td->path), "/tmp/rw_test_codec_XXXXXX");
        assert_non_null(mkdtemp(td->path));
}

static void tmpdir_write(tmpdir_t *td, const char *name, const char *text, size_t len) {
        char path[512];
        FILE *fp;
        int i;

        join(path, sizeof(path), td->path, name);
        assert_non_null(fp = fopen(path, "wb"));
        assert_int_equal(fwrite(text, 1, len, fp), len);
        fclose(fp);
        for (i = 0; i < td->n; i++)
                if (!strcmp(td->files[i], name))
                        return;
        assert_true(td->n < 32);
        td->files[td->n++] = strdup(name);
}

static void tmpdir_puts(tmpdir_t *td, const char *name, const char *text) {
        tmpdir_write(td, name, text, strlen(text));
}

static char *slurp(const char *path, size_t *lenp) {
        FILE *fp = fopen(path, "rb");
        char *buf;
        long n;

        if (!fp)
                fail_msg("cannot open %s", path);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        assert_non_null(buf = malloc((size_t)n + 1));
        assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
        buf[n] = '\0';
        fclose(fp);
        *lenp = (size_t)n;
        return buf;
}

/* Copy the shipped schema files into td. */
static void tmpdir_copy_schemas(tmpdir_t *td) {
        static const char *files[] = { "OrderEvent.avsc", "SupportEvent.avsc", "RiskAlert.avsc" };
        char path[4200];
        size_t i, len;

        for (i = 0; i < 3; i++) {
                char *text;

                join(path, sizeof(path), schemas_dir, files[i]);
                text = slurp(path, &len);
                tmpdir_write(td, files[i], text, len);
                free(text);
        }
}

static void tmpdir_remove(tmpdir_t *td) {
        char path[512];
        int i;

        for (i = 0; i < td->n; i++) {
                join(path, sizeof(path), td->path, td->files[i]);
                unlink(path);
                free(td->files[i]);
        }
        rmdir(td->path);
}

/* A hand-rolled Avro binary writer, independent of avro-c, for exact poison. */
typedef struct bin_s {
        unsigned char b[4096];
        size_t n;
} bin_t;

static void bin_frame(bin_t *b, uint32_t id) {
        b->n = 0;
        b->b[b->n++] = 0;
        b->b[b->n++] = (unsigned char)(id >> 24);
        b->b[b->n++] = (unsigned char)(id >> 16);
        b->b[b->n++] = (unsigned char)(id >> 8);
        b->b[b->n++] = (unsigned char)id;
}

static void bin_long(bin_t *b, int64_t v) {
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (u & ~(uint64_t)0x7f) {
                b->b[b->n++] = (unsigned char)((u & 0x7f) | 0x80);
                u >>= 7;
        }
        b->b[b->n++] = (unsigned char)u;
}

static void bin_raw(bin_t *b, const void *p, size_t n) {
        memcpy(b->b + b->n, p, n);
        b->n += n;
}

static void bin_str(bin_t *b, const char *s) {
        bin_long(b, (int64_t)strlen(s));
        bin_raw(b, s, strlen(s));
}

/* A well-formed OrderEvent v1 body, each part overridable by the caller. */
static void bin_order(bin_t *b, uint32_t id, int64_t kind, int64_t pl_branch) {
        bin_frame(b, id);
        bin_str(b, "e1");
        bin_str(b, "a1");
        bin_str(b, "v1");
        bin_long(b, pl_branch);
        if (pl_branch == 1)
                bin_str(b, "pl");
        bin_long(b, kind);
        bin_long(b, 500);
        bin_str(b, "EUR");
        bin_long(b, 1700000000000);
}

static rw_codec_status_t decode(rw_codec_t *codec, rw_record_type_t t, const void *buf,
                                size_t len, rw_record_t *rec, char *errstr, size_t size) {
        errstr[0] = '\0';
        return rw_codec_decode(codec, t, buf, len, rec, errstr, size);
}

static void assert_mentions(const char *errstr, const char *substr) {
        if (substr && !strstr(errstr, substr))
                fail_msg("errstr \"%s\" does not mention \"%s\"", errstr, substr);
}

#define assert_status(codec, t, buf, len, want, substr) do {                          \
        rw_record_t rec_;                                                               \
        char err_[512];                                                                 \
        rw_codec_status_t st_ = decode((codec), (t), (buf), (len), &rec_, err_,         \
                                       sizeof(err_));                                   \
        if (st_ != (want))                                                              \
                fail_msg("status %s, want %s (%s)", rw_codec_reason(st_),               \
                         rw_codec_reason(want), err_);                                  \
        assert_mentions(err_, (substr));                                                \
        if (st_ != RW_CODEC_OK)                                                         \
                assert_false(strchr(err_, '\n'));                                       \
} while (0)

static void encode_ok(rw_codec_t *codec, const rw_record_t *rec, void **buf, size_t *len) {
        char errstr[512] = "";

        if (rw_codec_encode(codec, rec, buf, len, errstr, sizeof(errstr)) != RW_OK)
                fail_msg("encode: %s", errstr);
}

static void decode_ok(rw_codec_t *codec, rw_record_type_t t, const void *buf, size_t len,
                      rw_record_t *out) {
        char errstr[512];
        rw_codec_status_t st = decode(codec, t, buf, len, out, errstr, sizeof(errstr));

        if (st != RW_CODEC_OK)
                fail_msg("decode: %s: %s", rw_codec_reason(st), errstr);
}

static char *json_flags_of(const rw_record_t *rec, unsigned flags) {
        char *text = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&text, &size);

        assert_non_null(fp);
        rw_record_print_json(rec, fp, flags);
        fclose(fp);
        return text;
}

static char *json_of(const rw_record_t *rec) {
        return json_flags_of(rec, 0);
}

/* Records used across tests. */
static rw_record_t sample_order(void) {
        rw_record_t r;

        memset(&r, 0, sizeof(r));
        r.type = RW_REC_ORDER;
        r.u.order.event_id = "ord-1";
        r.u.order.account_id = "acct-1";
        r.u.order.vendor_id = "vend-1";
        r.u.order.product_line = "widgets";
        r.u.order.kind = RW_ORDER_REFUNDED;
        r.u.order.amount_minor = 4999;
        r.u.order.currency = "EUR";
        r.u.order.occurred_at = 1700000000000;
        return r;
}

static rw_record_t sample_support(void) {
        rw_record_t r;

        memset(&r, 0, sizeof(r));
        r.type = RW_REC_SUPPORT;
        r.u.support.event_id = "sup-1";
        r.u.support.account_id = "acct-1";
        r.u.support.ticket_id = "T-1";
        r.u.support.kind = RW_SUPPORT_SURVEY;
        r.u.support.severity = RW_TICKET_HIGH;
        r.u.support.has_csat = 1;
        r.u.support.csat = 4;
        r.u.support.has_sentiment = 1;
        r.u.support.sentiment = -0.5f;
        r.u.support.occurred_at = 1700000000001;
        return r;
}

static rw_record_t sample_alert(void) {
        rw_record_t r;

        memset(&r, 0, sizeof(r));
        r.type = RW_REC_ALERT;
        r.u.alert.alert_id = "al-1";
        r.u.alert.fingerprint = "dependency.vendor_share/VENDOR/v9";
        r.u.alert.rule = "dependency.vendor_share";
        r.u.alert.category = RW_CAT_DEPENDENCY;
        r.u.alert.subject_type = RW_SUBJ_VENDOR;
        r.u.alert.subject_id = "v9";
        r.u.alert.status = RW_ALERT_RESOLVED;
        r.u.alert.severity = RW_SEV_WARNING;
        r.u.alert.observed = 0.3125;
        r.u.alert.threshold = 0.3;
        r.u.alert.has_baseline = 1;
        r.u.alert.baseline = -2.5e-7;
        r.u.alert.window_ms = 7776000000;
        r.u.alert.event_time = 1700000000000;
        r.u.alert.emitted_at = 1700000000999;
        r.u.alert.source_topic = "orders";
        r.u.alert.source_partition = 7;
        r.u.alert.source_offset = 123456789012;
        r.u.alert.summary = "vendor v9 holds 31% of order value";
        r.u.alert.replay = 1;
        return r;
}

static void assert_order_eq(const rw_order_event_t *a, const rw_order_event_t *b) {
        assert_string_equal(a->event_id, b->event_id);
        assert_string_equal(a->account_id, b->account_id);
        assert_string_equal(a->vendor_id, b->vendor_id);
        if (b->product_line)
                assert_string_equal(a->product_line, b->product_line);
        else
                assert_null(a->product_line);
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->amount_minor, b->amount_minor);
        assert_string_equal(a->currency, b->currency);
        assert_int_equal(a->occurred_at, b->occurred_at);
}

static void assert_support_eq(const rw_support_event_t *a, const rw_support_event_t *b) {
        assert_string_equal(a->event_id, b->event_id);
        assert_string_equal(a->account_id, b->account_id);
        assert_string_equal(a->ticket_id, b->ticket_id);
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->severity, b->severity);
        assert_int_equal(a->has_csat, b->has_csat);
        if (b->has_csat)
                assert_int_equal(a->csat, b->csat);
        assert_int_equal(a->has_sentiment, b->has_sentiment);
        if (b->has_sentiment)
                assert_true(a->sentiment == b->sentiment);
        assert_int_equal(a->occurred_at, b->occurred_at);
}

static void assert_alert_eq(const rw_alert_t *a, const rw_alert_t *b) {
        assert_string_equal(a->alert_id, b->alert_id);
        assert_string_equal(a->fingerprint, b->fingerprint);
        assert_string_equal(a->rule, b->rule);
        assert_int_equal(a->category, b->category);
        assert_int_equal(a->subject_type, b->subject_type);
        assert_string_equal(a->subject_id, b->subject_id);
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->severity, b->severity);
        assert_true(a->observed == b->observed);
        assert_true(a->threshold == b->threshold);
        assert_int_equal(a->has_baseline, b->has_baseline);
        if (b->has_baseline)
                assert_true(a->baseline == b->baseline);
        assert_int_equal(a->window_ms, b->window_ms);
        assert_int_equal(a->event_time, b->event_time);
        assert_int_equal(a->emitted_at, b->emitted_at);
        assert_string_equal(a->source_topic, b->source_topic);
        assert_int_equal(a->source_partition, b->source_partition);
        assert_int_equal(a->source_offset, b->source_offset);
        assert_string_equal(a->summary, b->summary);
        assert_int_equal(!!a->replay, !!b->replay);
}

static void roundtrip(rw_codec_t *codec, const rw_record_t *in, rw_record_t *out) {
        void *buf;
        size_t len;
        const unsigned char *p;
        int32_t want_id = rw_codec_reader_id(codec, in->type);

        encode_ok(codec, in, &buf, &len);
        p = buf;
        assert_true(len > 5);
        assert_int_equal(p[0], 0);
        assert_int_equal((int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                                   (uint32_t)p[3] << 8 | p[4]), want_id);
        decode_ok(codec, in->type, buf, len, out);
        assert_int_equal(out->type, in->type);
        assert_int_equal(out->schema_id, want_id);
        free(buf);
}

/*
 * Round trips.
 */

static void test_catalogue_ids(void **state) {
        rw_codec_t *codec = *state;

        assert_int_equal(rw_codec_reader_id(codec, RW_REC_ORDER), 1);
        assert_int_equal(rw_codec_reader_id(codec, RW_REC_SUPPORT), 2);
        assert_int_equal(rw_codec_reader_id(codec, RW_REC_ALERT), 3);
        assert_true(rw_codec_has_schema(codec, 1));
        assert_true(rw_codec_has_schema(codec, 3));
        assert_false(rw_codec_has_schema(codec, 4));
        assert_false(rw_codec_has_schema(codec, -1));
}

static void test_roundtrip_order(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t in = sample_order(), out;

        roundtrip(codec, &in, &out);
        assert_order_eq(&out.u.order, &in.u.order);

        in.u.order.product_line = NULL;
        in.u.order.kind = RW_ORDER_PLACED;
        in.u.order.amount_minor = 0;
        in.u.order.event_id = u8"ord-\u00e9\u65e5";
        in.u.order.occurred_at = -1;
        roundtrip(codec, &in, &out);
        assert_null(out.u.order.product_line);
        assert_order_eq(&out.u.order, &in.u.order);
}

static void test_roundtrip_support(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t in = sample_support(), out;

        roundtrip(codec, &in, &out);
        assert_support_eq(&out.u.support, &in.u.support);

        in.u.support.has_csat = 0;
        in.u.support.has_sentiment = 0;
        in.u.support.kind = RW_SUPPORT_OPENED;
        in.u.support.severity = RW_TICKET_URGENT;
        in.u.support.ticket_id = "";
        roundtrip(codec, &in, &out);
        assert_false(out.u.support.has_csat);
        assert_false(out.u.support.has_sentiment);
        assert_support_eq(&out.u.support, &in.u.support);

        in.u.support.has_csat = 1;
        in.u.support.csat = 1;
        roundtrip(codec, &in, &out);
        assert_support_eq(&out.u.support, &in.u.support);
}

static void test_roundtrip_alert(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t in = sample_alert(), out;

        roundtrip(codec, &in, &out);
        assert_alert_eq(&out.u.alert, &in.u.alert);

        in.u.alert.has_baseline = 0;
        in.u.alert.replay = 0;
        in.u.alert.source_topic = "";
        in.u.alert.source_partition = -1;
        in.u.alert.source_offset = -1;
        in.u.alert.category = RW_CAT_CHURN;
        in.u.alert.subject_type = RW_SUBJ_PORTFOLIO;
        in.u.alert.status = RW_ALERT_FIRING;
        in.u.alert.severity = RW_SEV_CRITICAL;
        roundtrip(codec, &in, &out);
        assert_false(out.u.alert.has_baseline);
        assert_alert_eq(&out.u.alert, &in.u.alert);
}

static void test_encode_rejects(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t r = sample_order();
        char errstr[256];
        void *buf = (void *)1;
        size_t len = 1;

        r.u.order.currency = NULL;
        assert_int_not_equal(rw_codec_encode(codec, &r, &buf, &len, errstr, sizeof(errstr)), RW_OK);
        assert_null(buf);
        assert_non_null(strstr(errstr, "currency"));

        r = sample_order();
        r.u.order.kind = (rw_order_kind_t)3;
        assert_int_not_equal(rw_codec_encode(codec, &r, &buf, &len, errstr, sizeof(errstr)), RW_OK);
        assert_non_null(strstr(errstr, "kind"));

        /* The codec is still usable afterwards. */
        r = sample_order();
        encode_ok(codec, &r, &buf, &len);
        free(buf);
}

static void test_names(void **state) {
        (void)state;
        assert_string_equal(rw_codec_reason(RW_CODEC_TOO_SHORT), "too_short");
        assert_string_equal(rw_codec_reason(RW_CODEC_BAD_MAGIC), "bad_magic");
        assert_string_equal(rw_codec_reason(RW_CODEC_UNKNOWN_SCHEMA), "unknown_schema");
        assert_string_equal(rw_codec_reason(RW_CODEC_AVRO_DECODE), "avro_decode");
        assert_string_equal(rw_codec_reason(RW_CODEC_INVALID_FIELD), "invalid_field");
        assert_string_equal(rw_order_kind_name(RW_ORDER_CANCELLED), "CANCELLED");
        assert_string_equal(rw_support_kind_name(RW_SUPPORT_SURVEY), "SURVEY");
        assert_string_equal(rw_ticket_severity_name(RW_TICKET_URGENT), "URGENT");
        assert_string_equal(rw_category_name(RW_CAT_DEPENDENCY), "DEPENDENCY");
        assert_string_equal(rw_subject_type_name(RW_SUBJ_PORTFOLIO), "PORTFOLIO");
        assert_string_equal(rw_alert_status_name(RW_ALERT_RESOLVED), "RESOLVED");
        assert_string_equal(rw_alert_severity_name(RW_SEV_CRITICAL), "CRITICAL");
        assert_string_equal(rw_alert_severity_name((rw_alert_severity_t)9), "UNKNOWN");
}

/*
 * Evolution: further writer versions in the catalogue.
 */

static const char order_v2_json[] =
        "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"vendor_id\",\"type\":\"string\"},"
        "{\"name\":\"product_line\",\"type\":[\"null\",\"string\"],\"default\":null},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"OrderKind\","
        "\"symbols\":[\"PLACED\",\"CANCELLED\",\"REFUNDED\"]}},"
        "{\"name\":\"channel\",\"type\":\"string\",\"default\":\"web\"},"
        "{\"name\":\"amount_minor\",\"type\":\"long\"},"
        "{\"name\":\"currency\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\","
        "\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"map\","
        "\"values\":{\"type\":\"array\",\"items\":\"int\"}},"
        "\"default\":{}}]}";

static const char support_nosentiment_json[] =
        "{\"type\":\"record\",\"name\":\"SupportEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"ticket_id\",\"type\":\"string\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"SupportKind\","
        "\"symbols\":[\"OPENED\",\"ESCALATED\",\"REOPENED\",\"RESOLVED\",\"SURVEY\"]}},"
        "{\"name\":\"severity\",\"type\":{\"type\":\"enum\",\"name\":\"TicketSeverity\","
        "\"symbols\":[\"LOW\",\"NORMAL\",\"HIGH\",\"URGENT\"]}},"
        "{\"name\":\"csat\",\"type\":[\"null\",\"int\"],\"default\":null},"
        "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\","
        "\"logicalType\":\"timestamp-millis\"}}]}";

/* Enum symbols in another order plus one the reader lacks; amount as int
 * (promoted to long); product_line as a plain string (into the reader's
 * union). */
static const char order_reordered_json[] =
        "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"occurred_at\",\"type\":\"long\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"OrderKind\","
        "\"symbols\":[\"REFUNDED\",\"PLACED\",\"CHARGEBACK\",\"CANCELLED\"]}},"
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"vendor_id\",\"type\":\"string\"},"
        "{\"name\":\"product_line\",\"type\":\"string\"},"
        "{\"name\":\"amount_minor\",\"type\":\"int\"},"
        "{\"name\":\"currency\",\"type\":\"string\"}]}";

static const char order_incompatible_json[] =
        "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"vendor_id\",\"type\":\"string\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"OrderKind\","
        "\"symbols\":[\"PLACED\"]}},"
        "{\"name\":\"amount_minor\",\"type\":\"string\"},"
        "{\"name\":\"currency\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"}]}";

static const char support_noticket_json[] =
        "{\"type\":\"record\",\"name\":\"SupportEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"SupportKind\","
        "\"symbols\":[\"OPENED\"]}},"
        "{\"name\":\"severity\",\"type\":{\"type\":\"enum\",\"name\":\"TicketSeverity\","
        "\"symbols\":[\"LOW\"]}},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"}]}";

static void set_str(avro_value_t *rec, const char *name, const char *s) {
        avro_value_t f;

        assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
        assert_int_equal(avro_value_set_string(&f, s), 0);
}

static void set_long(avro_value_t *rec, const char *name, int64_t v) {
        avro_value_t f;

        assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
        assert_int_equal(avro_value_set_long(&f, v), 0);
}

static void set_int(avro_value_t *rec, const char *name, int32_t v) {
        avro_value_t f;

        assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
        assert_int_equal(avro_value_set_int(&f, v), 0);
}

static void set_enum(avro_value_t *rec, const char *name, int v) {
        avro_value_t f;

        assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
        assert_int_equal(avro_value_set_enum(&f, v), 0);
}

/* Set a ["null", T] field to its T branch and return that branch. */
static avro_value_t set_branch1(avro_value_t *rec, const char *name) {
        avro_value_t f, b = { NULL, NULL };

        assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
        assert_int_equal(avro_value_set_branch(&f, 1, &b), 0);
        return b;
}

/* Write one record with avro-c's generic writer under `json`, framed as `id`. */
typedef void (*fill_fn)(avro_value_t *rec);

static void write_with(const char *json, uint32_t id, fill_fn fill, bin_t *out) {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t rec;
        avro_writer_t w;
        size_t size;

        assert_int_equal(avro_schema_from_json_length(json, strlen(json), &schema), 0);
        assert_non_null(iface = avro_generic_class_from_schema(schema));
        assert_int_equal(avro_generic_value_new(iface, &rec), 0);
        fill(&rec);
        assert_int_equal(avro_value_sizeof(&rec, &size), 0);
        bin_frame(out, id);
        assert_true(out->n + size <= sizeof(out->b));
        w = avro_writer_memory((const char *)out->b + out->n, (int64_t)size);
        assert_int_equal(avro_value_write(w, &rec), 0);
        out->n += size;
        avro_writer_free(w);
        avro_value_decref(&rec);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
}

static void fill_order_v2(avro_value_t *rec) {
        avro_value_t b, tags, arr, item;

        set_str(rec, "event_id", "v2-e1");
        set_str(rec, "account_id", "v2-a1");
        set_str(rec, "vendor_id", "v2-v1");
        b = set_branch1(rec, "product_line");
        assert_int_equal(avro_value_set_string(&b, "gadgets"), 0);
        set_enum(rec, "kind", 1);
        set_str(rec, "channel", "mobile");
        set_long(rec, "amount_minor", 250);
        set_str(rec, "currency", "GBP");
        set_long(rec, "occurred_at", 1700000000777);
        assert_int_equal(avro_value_get_by_name(rec, "tags", &tags, NULL), 0);
        assert_int_equal(avro_value_add(&tags, "promo", &arr, NULL, NULL), 0);
        assert_int_equal(avro_value_append(&arr, &item, NULL), 0);
        assert_int_equal(avro_value_set_int(&item, 7), 0);
}

static void fill_support_nosentiment(avro_value_t *rec) {
        avro_value_t b;

        set_str(rec, "event_id", "s12");
        set_str(rec, "account_id", "a12");
        set_str(rec, "ticket_id", "t12");
        set_enum(rec, "kind", 4);
        set_enum(rec, "severity", 2);
        b = set_branch1(rec, "csat");
        assert_int_equal(avro_value_set_int(&b, 3), 0);
        set_long(rec, "occurred_at", 1700000000012);
}

static int reordered_kind;

static void fill_order_reordered(avro_value_t *rec) {
        set_long(rec, "occurred_at", 1700000000013);
        set_enum(rec, "kind", reordered_kind);
        set_str(rec, "event_id", "r13");
        set_str(rec, "account_id", "a13");
        set_str(rec, "vendor_id", "v13");
        set_str(rec, "product_line", "pl13");
        set_int(rec, "amount_minor", 13);
        set_str(rec, "currency", "CHF");
}

static void fill_order_incompatible(avro_value_t *rec) {
        set_str(rec, "event_id", "x");
        set_str(rec, "account_id", "x");
        set_str(rec, "vendor_id", "x");
        set_enum(rec, "kind", 0);
        set_str(rec, "amount_minor", "12");
        set_str(rec, "currency", "EUR");
        set_long(rec, "occurred_at", 1);
}

static void evolution_dir(tmpdir_t *td) {
        char path[4200], *cat;
        size_t len;

        tmpdir_make(td);
        tmpdir_copy_schemas(td);
        join(path, sizeof(path), schemas_dir, "catalogue.txt");
        cat = slurp(path, &len);
        tmpdir_write(td, "catalogue.txt", cat, len);
        free(cat);
        /* Append the further writer versions to the copied catalogue. */
        {
                char cpath[512];
                FILE *fp;

                join(cpath, sizeof(cpath), td->path, "catalogue.txt");
                assert_non_null(fp = fopen(cpath, "a"));
                fputs("# further writer versions\n"
                      "11 OrderEvent_v2.avsc\n"
                      "12 SupportEvent_nosentiment.avsc   # sentiment defaults to null\n"
                      "13\tOrderEvent_reordered.avsc\n"
                      "14 OrderEvent_incompatible.avsc\n"
                      "15 SupportEvent_noticket.avsc\n", fp);
                fclose(fp);
        }
        tmpdir_puts(td, "OrderEvent_v2.avsc", order_v2_json);
        tmpdir_puts(td, "SupportEvent_nosentiment.avsc", support_nosentiment_json);
        tmpdir_puts(td, "OrderEvent_reordered.avsc", order_reordered_json);
        tmpdir_puts(td, "OrderEvent_incompatible.avsc", order_incompatible_json);
        tmpdir_puts(td, "SupportEvent_noticket.avsc", support_noticket_json);
}

static void test_evolution_added_field(void **state) {
        tmpdir_t td;
        rw_codec_t *codec;
        rw_record_t rec;
        bin_t b;

        (void)state;
        evolution_dir(&td);
        codec = codec_new_ok(td.path);
        write_with(order_v2_json, 11, fill_order_v2, &b);
        decode_ok(codec, RW_REC_ORDER, b.b, b.n, &rec);
        assert_int_equal(rec.schema_id, 11);
        assert_string_equal(rec.u.order.event_id, "v2-e1");
        assert_string_equal(rec.u.order.account_id, "v2-a1");
        assert_string_equal(rec.u.order.vendor_id, "v2-v1");
        assert_string_equal(rec.u.order.product_line, "gadgets");
        assert_int_equal(rec.u.order.kind, RW_ORDER_CANCELLED);
        assert_int_equal(rec.u.order.amount_minor, 250);
        assert_string_equal(rec.u.order.currency, "GBP");
        assert_int_equal(rec.u.order.occurred_at, 1700000000777);

        /* v1 bytes still decode with the same codec. */
        bin_order(&b, 1, 2, 0);
        decode_ok(codec, RW_REC_ORDER, b.b, b.n, &rec);
        assert_int_equal(rec.schema_id, 1);
        assert_int_equal(rec.u.order.kind, RW_ORDER_REFUNDED);
        rw_codec_destroy(codec);
        tmpdir_remove(&td);
}

static void test_evolution_reader_default(void **state) {
        tmpdir_t td;
        rw_codec_t *codec;
        rw_record_t rec;
        bin_t b;

        (void)state;
        evolution_dir(&td);
        codec = codec_new_ok(td.path);
        write_with(support_nosentiment_json, 12, fill_support_nosentiment, &b);
        decode_ok(codec, RW_REC_SUPPORT, b.b, b.n, &rec);
        assert_int_equal(rec.schema_id, 12);
        assert_string_equal(rec.u.support.event_id, "s12");
        assert_string_equal(rec.u.support.account_id, "a12");
        assert_string_equal(rec.u.support.ticket_id, "t12");
        assert_int_equal(rec.u.support.kind, RW_SUPPORT_SURVEY);
        assert_int_equal(rec.u.support.severity, RW_TICKET_HIGH);
        assert_int_equal(rec.u.support.has_csat, 1);
        assert_int_equal(rec.u.support.csat, 3);
        assert_int_equal(rec.u.support.has_sentiment, 0);
        assert_int_equal(rec.u.support.occurred_at, 1700000000012);
        rw_codec_destroy(codec);
        tmpdir_remove(&td);
}

static void test_evolution_enum_by_symbol(void **state) {
        static const struct { int widx; int want; } cases[] = {
                { 0, RW_ORDER_REFUNDED }, { 1, RW_ORDER_PLACED }, { 3, RW_ORDER_CANCELLED },
        };
        tmpdir_t td;
        rw_codec_t *codec;
        rw_record_t rec;
        bin_t b;
        size_t i;

        (void)state;
        evolution_dir(&td);
        codec = codec_new_ok(td.path);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                reordered_kind = cases[i].widx;
                write_with(order_reordered_json, 13, fill_order_reordered, &b);
                decode_ok(codec, RW_REC_ORDER, b.b, b.n, &rec);
                assert_int_equal(rec.u.order.kind, cases[i].want);
                assert_string_equal(rec.u.order.product_line, "pl13");
                assert_int_equal(rec.u.order.amount_minor, 13);
                assert_int_equal(rec.u.order.occurred_at, 1700000000013);
                assert_string_equal(rec.u.order.currency, "CHF");
        }
        /* A symbol the reader does not know. */
        reordered_kind = 2;
        write_with(order_reordered_json, 13, fill_order_reordered, &b);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "CHARGEBACK");
        rw_codec_destroy(codec);
        tmpdir_remove(&td);
}

static void test_evolution_unresolvable(void **state) {
        tmpdir_t td;
        rw_codec_t *codec;
        bin_t b;

        (void)state;
        evolution_dir(&td);
        codec = codec_new_ok(td.path);
        write_with(order_incompatible_json, 14, fill_order_incompatible, &b);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_UNKNOWN_SCHEMA, "amount_minor");
        /* A reader field without a default that the writer lacks. */
        bin_frame(&b, 15);
        bin_str(&b, "e");
        bin_str(&b, "a");
        bin_long(&b, 0);
        bin_long(&b, 0);
        bin_long(&b, 1);
        assert_status(codec, RW_REC_SUPPORT, b.b, b.n, RW_CODEC_UNKNOWN_SCHEMA, "ticket_id");
        rw_codec_destroy(codec);
        tmpdir_remove(&td);
}

static void test_add_schema(void **state) {
        static const char other[] = "{\"type\":\"record\",\"name\":\"Other\",\"fields\":[]}";
        rw_codec_t *codec = codec_new_ok(schemas_dir);
        char errstr[512];
        rw_record_t rec;
        bin_t b;

        (void)state;
        assert_false(rw_codec_has_schema(codec, 21));
        assert_int_equal(rw_codec_add_schema(codec, 21, order_v2_json, strlen(order_v2_json),
                                             errstr, sizeof(errstr)), RW_OK);
        assert_true(rw_codec_has_schema(codec, 21));
        write_with(order_v2_json, 21, fill_order_v2, &b);
        decode_ok(codec, RW_REC_ORDER, b.b, b.n, &rec);
        assert_string_equal(rec.u.order.currency, "GBP");
        assert_int_equal(rec.schema_id, 21);

        assert_int_not_equal(rw_codec_add_schema(codec, 21, order_v2_json, strlen(order_v2_json),
                                                 errstr, sizeof(errstr)), RW_OK);
        assert_non_null(strstr(errstr, "21"));
        assert_int_not_equal(rw_codec_add_schema(codec, 22, "{\"type\":", 8,
                                                 errstr, sizeof(errstr)), RW_OK);
        assert_int_not_equal(rw_codec_add_schema(codec, 23, other, strlen(other),
                                                 errstr, sizeof(errstr)), RW_OK);
        assert_non_null(strstr(errstr, "Other"));
        rw_codec_destroy(codec);
}

/*
 * Poison.
 */

static void test_poison_frame(void **state) {
        rw_codec_t *codec = *state;
        static const unsigned char four[] = { 0, 0, 0, 0 };
        static const unsigned char magic[] = { 1, 0, 0, 0, 1, 2, 'e', '1' };
        static const unsigned char unknown[] = { 0, 0, 0, 3, 0xe7, 0 };
        static const unsigned char huge_id[] = { 0, 0xff, 0xff, 0xff, 0xff, 0 };
        rw_record_t rec;
        void *buf;
        size_t len;

        assert_status(codec, RW_REC_ORDER, "", 0, RW_CODEC_TOO_SHORT, "0 bytes");
        assert_status(codec, RW_REC_ORDER, NULL, 0, RW_CODEC_TOO_SHORT, NULL);
        assert_status(codec, RW_REC_ORDER, four, sizeof(four), RW_CODEC_TOO_SHORT, "4 bytes");
        assert_status(codec, RW_REC_ORDER, magic, sizeof(magic), RW_CODEC_BAD_MAGIC, "0x01");
        assert_status(codec, RW_REC_ORDER, unknown, sizeof(unknown), RW_CODEC_UNKNOWN_SCHEMA,
                      "999");
        assert_status(codec, RW_REC_ORDER, huge_id, sizeof(huge_id), RW_CODEC_UNKNOWN_SCHEMA,
                      "4294967295");

        /* Order bytes on the support topic. */
        rec = sample_order();
        encode_ok(codec, &rec, &buf, &len);
        assert_status(codec, RW_REC_SUPPORT, buf, len, RW_CODEC_UNKNOWN_SCHEMA,
                      "riskwatch.OrderEvent");
        assert_status(codec, RW_REC_ALERT, buf, len, RW_CODEC_UNKNOWN_SCHEMA, NULL);
        free(buf);
}

static void test_poison_truncated_and_trailing(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t recs[3] = { sample_order(), sample_support(), sample_alert() };
        unsigned char *grown;
        void *buf;
        size_t len, cut;
        int i;

        for (i = 0; i < 3; i++) {
                encode_ok(codec, &recs[i], &buf, &len);
                /* Every cut inside the body. */
                for (cut = 5; cut < len; cut++)
                        assert_status(codec, recs[i].type, buf, cut, RW_CODEC_AVRO_DECODE, NULL);
                assert_status(codec, recs[i].type, buf, len, RW_CODEC_OK, NULL);
                assert_non_null(grown = malloc(len + 3));
                memcpy(grown, buf, len);
                memcpy(grown + len, "xyz", 3);
                assert_status(codec, recs[i].type, grown, len + 1, RW_CODEC_AVRO_DECODE,
                              "1 trailing byte");
                assert_status(codec, recs[i].type, grown, len + 3, RW_CODEC_AVRO_DECODE,
                              "trailing");
                free(grown);
                free(buf);
        }
}

static void test_poison_lengths(void **state) {
        rw_codec_t *codec = *state;
        bin_t b;

        /* A string claiming more bytes than the record holds. */
        bin_frame(&b, 1);
        bin_long(&b, 1000);
        bin_raw(&b, "abcdefgh", 8);
        max_alloc = 0;
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "event_id");
        assert_true(max_alloc < 4096);

        /* 2^62 and INT64_MAX: avro-c 1.11.1 would try to malloc that much. */
        bin_frame(&b, 1);
        bin_long(&b, (int64_t)1 << 62);
        bin_raw(&b, "ab", 2);
        max_alloc = 0;
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "length");
        assert_true(max_alloc < 4096);
        bin_frame(&b, 1);
        bin_long(&b, INT64_MAX);
        max_alloc = 0;
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "length");
        assert_true(max_alloc < 4096);

        /* 100 MB declared in a later field. */
        bin_frame(&b, 1);
        bin_str(&b, "e1");
        bin_str(&b, "a1");
        bin_long(&b, 100 * 1000 * 1000);
        max_alloc = 0;
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "vendor_id");
        assert_true(max_alloc < 4096);

        /* Negative length. */
        bin_frame(&b, 1);
        bin_long(&b, -3);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "negative");

        /* A varint longer than 10 bytes. */
        bin_frame(&b, 1);
        bin_raw(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "varint");
}

static void test_poison_indexes(void **state) {
        rw_codec_t *codec = *state;
        bin_t b;

        bin_order(&b, 1, 3, 0);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "kind");
        bin_order(&b, 1, -1, 0);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "enum index");
        bin_order(&b, 1, 1000000, 0);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "kind");
        bin_order(&b, 1, 2, 0);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_OK, NULL);

        /* Union branch out of range, and negative. */
        bin_order(&b, 1, 0, 2);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "product_line");
        bin_order(&b, 1, 0, 1 << 30);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "union branch");
        bin_order(&b, 1, 0, -1);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "union branch");
}

static void test_poison_values(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t rec = sample_alert();
        unsigned char *p;
        void *buf;
        size_t len;
        bin_t b;

        /* Boolean byte other than 0/1 (replay is the last byte). */
        encode_ok(codec, &rec, &buf, &len);
        p = buf;
        p[len - 1] = 2;
        assert_status(codec, RW_REC_ALERT, buf, len, RW_CODEC_AVRO_DECODE, "replay");
        free(buf);

        /* Invalid UTF-8 and NUL inside strings. */
        bin_frame(&b, 1);
        bin_long(&b, 2);
        bin_raw(&b, "\xc3\x28", 2);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "UTF-8");
        bin_frame(&b, 1);
        bin_str(&b, "e1");
        bin_long(&b, 3);
        bin_raw(&b, "a\0b", 3);
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "account_id");
        bin_frame(&b, 1);
        bin_long(&b, 3);
        bin_raw(&b, "\xed\xa0\x80", 3);         /* a UTF-16 surrogate */
        assert_status(codec, RW_REC_ORDER, b.b, b.n, RW_CODEC_AVRO_DECODE, "UTF-8");

        /* An int beyond 32 bits (csat). */
        bin_frame(&b, 2);
        bin_str(&b, "e");
        bin_str(&b, "a");
        bin_str(&b, "t");
        bin_long(&b, 0);
        bin_long(&b, 0);
        bin_long(&b, 1);
        bin_long(&b, (int64_t)1 << 40);
        bin_long(&b, 0);
        bin_long(&b, 1);
        assert_status(codec, RW_REC_SUPPORT, b.b, b.n, RW_CODEC_AVRO_DECODE, "csat");
}

/* Random damage to valid records: every verdict is one of the contract's,
 * nothing crashes (valgrind/ASan builds check the memory side), and what
 * decodes is well-formed. */
static void test_poison_mutations(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t recs[3] = { sample_order(), sample_support(), sample_alert() };
        uint64_t seed = 0x9e3779b97f4a7c15u;
        int i, iter, counts[RW_CODEC_RETRY + 1] = { 0 };

        for (i = 0; i < 3; i++) {
                void *buf;
                size_t len;

                encode_ok(codec, &recs[i], &buf, &len);
                for (iter = 0; iter < 4000; iter++) {
                        unsigned char m[512];
                        size_t n = len, k, edits;
                        rw_record_t out;
                        rw_codec_status_t st;
                        char errstr[512];

                        memcpy(m, buf, len);
                        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
                        edits = 1 + seed % 3;
                        for (k = 0; k < edits; k++) {
                                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
                                switch (seed % 4) {
                                case 0:         /* flip bits in a body byte */
                                case 1:
                                        m[5 + (seed >> 8) % (n - 5)] ^= (unsigned char)(seed >> 32);
                                        break;
                                case 2:         /* cut */
                                        n = 5 + (seed >> 8) % (n - 4);
                                        break;
                                default:        /* append */
                                        if (n < sizeof(m))
                                                m[n++] = (unsigned char)(seed >> 16);
                                        break;
                                }
                                if (n <= 5)
                                        break;
                        }
                        max_alloc = 0;
                        st = decode(codec, recs[i].type, m, n, &out, errstr, sizeof(errstr));
                        assert_true(st == RW_CODEC_OK || st == RW_CODEC_AVRO_DECODE);
                        assert_true(max_alloc < 4096);
                        counts[st]++;
                        if (st == RW_CODEC_OK) {
                                char *json = json_of(&out);

                                assert_true(json[0] == '{' && json[strlen(json) - 1] == '}');
                                free(json);
                        }
                }
                free(buf);
        }
        /* Both verdicts are exercised. */
        assert_true(counts[RW_CODEC_OK] > 0);
        assert_true(counts[RW_CODEC_AVRO_DECODE] > 1000);
}

/*
 * Validation.
 */

#define NOW 1700000000000
#define FUTURE (5 * 60 * 1000)
#define OCCURRED_MIN 946684800000LL     /* 2000-01-01T00:00:00Z */
#define AMOUNT_MAX 1000000000000LL
#define ID_MAX 256

static const rw_validate_limits_t vlim = {
        .max_future_ms = FUTURE, .occurred_min = OCCURRED_MIN,
        .amount_max = AMOUNT_MAX, .id_max_bytes = ID_MAX,
};

static void assert_invalid(const rw_record_t *rec, const char *field) {
        char errstr[256] = "";
        rw_codec_status_t st = rw_record_validate(rec, NOW, "now", &vlim, errstr, sizeof(errstr));

        if (st != RW_CODEC_INVALID_FIELD)
                fail_msg("validate: %s, want invalid_field for %s", rw_codec_reason(st), field);
        if (!strstr(errstr, field))
                fail_msg("errstr \"%s\" does not name %s", errstr, field);
}

static void assert_valid(const rw_record_t *rec) {
        char errstr[256] = "";

        if (rw_record_validate(rec, NOW, "now", &vlim, errstr, sizeof(errstr)) != RW_CODEC_OK)
                fail_msg("validate: %s", errstr);
}

static void test_validate_order(void **state) {
        rw_record_t r = sample_order();

        (void)state;
        assert_valid(&r);
        r.u.order.occurred_at = NOW + FUTURE;
        assert_valid(&r);
        r.u.order.amount_minor = 0;
        r.u.order.product_line = NULL;
        assert_valid(&r);

        r = sample_order(); r.u.order.event_id = "";
        assert_invalid(&r, "event_id");
        r = sample_order(); r.u.order.event_id = NULL;
        assert_invalid(&r, "event_id");
        r = sample_order(); r.u.order.account_id = "";
        assert_invalid(&r, "account_id");
        r = sample_order(); r.u.order.vendor_id = "";
        assert_invalid(&r, "vendor_id");
        r = sample_order(); r.u.order.amount_minor = -1;
        assert_invalid(&r, "amount_minor");
        r = sample_order(); r.u.order.currency = "eur";
        assert_invalid(&r, "currency");
        r = sample_order(); r.u.order.currency = "EURO";
        assert_invalid(&r, "currency");
        r = sample_order(); r.u.order.currency = "EU";
        assert_invalid(&r, "currency");
        r = sample_order(); r.u.order.occurred_at = NOW + FUTURE + 1;
        assert_invalid(&r, "occurred_at");
}

/* Bounds on every numeric and string field, checked before state is
 * touched: amounts whose sums could overflow, times before the lower
 * bound, ids that would make megabyte keys and alerts. */
static void test_validate_bounds(void **state) {
        static const int64_t early[] = { OCCURRED_MIN - 1, 0, -1, INT64_MIN };
        char id_max[ID_MAX + 1], id_long[ID_MAX + 2];
        rw_record_t r;

        (void)state;
        memset(id_max, 'a', ID_MAX);
        id_max[ID_MAX] = '\0';
        memset(id_long, 'a', ID_MAX + 1);
        id_long[ID_MAX + 1] = '\0';

        r = sample_order(); r.u.order.amount_minor = AMOUNT_MAX;
        assert_valid(&r);
        r = sample_order(); r.u.order.amount_minor = AMOUNT_MAX + 1;
        assert_invalid(&r, "validate.amount.max");
        r = sample_order(); r.u.order.amount_minor = 100000000000000000LL;   /* 10^17 */
        assert_invalid(&r, "amount_minor");
        r = sample_order(); r.u.order.amount_minor = INT64_MAX;
        assert_invalid(&r, "amount_minor");

        r = sample_order(); r.u.order.occurred_at = OCCURRED_MIN;
        assert_valid(&r);
        {       /* Times a person reads: RFC 3339, or said to be out of range. */
                char errstr[256];
                r.u.order.occurred_at = 0;
                rw_record_validate(&r, NOW, "now", &vlim, errstr, sizeof(errstr));
                assert_string_equal(errstr, "field occurred_at: 0 (1970-01-01T00:00:00Z) is "
                                    "before validate.occurred.min (2000-01-01T00:00:00Z)");
                r.u.order.occurred_at = INT64_MIN;
                rw_record_validate(&r, NOW, "now", &vlim, errstr, sizeof(errstr));
                assert_non_null(strstr(errstr, "(beyond the calendar)"));
        }
        for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
                r = sample_order(); r.u.order.occurred_at = early[i];
                assert_invalid(&r, "validate.occurred.min");
                r = sample_support(); r.u.support.occurred_at = early[i];
                assert_invalid(&r, "validate.occurred.min");
        }

        r = sample_order();
        r.u.order.event_id = r.u.order.account_id = r.u.order.vendor_id = id_max;
        r.u.order.product_line = id_max;
        assert_valid(&r);
        r = sample_order(); r.u.order.event_id = id_long;
        assert_invalid(&r, "event_id");
        r = sample_order(); r.u.order.account_id = id_long;
        assert_invalid(&r, "account_id");
        r = sample_order(); r.u.order.vendor_id = id_long;
        assert_invalid(&r, "vendor_id");
        r = sample_order(); r.u.order.product_line = id_long;
        assert_invalid(&r, "product_line");
        r = sample_order(); r.u.order.product_line = "";
        assert_valid(&r);
        r = sample_support();
        r.u.support.event_id = r.u.support.account_id = r.u.support.ticket_id = id_max;
        assert_valid(&r);
        r = sample_support(); r.u.support.account_id = id_long;
        assert_invalid(&r, "account_id");
        r = sample_support(); r.u.support.ticket_id = id_long;
        assert_invalid(&r, "ticket_id");
        r = sample_support(); r.u.support.event_id = id_long;
        assert_invalid(&r, "validate.id.max.bytes");
}

static void test_validate_support(void **state) {
        rw_record_t r = sample_support();

        (void)state;
        assert_valid(&r);
        r.u.support.csat = 1; r.u.support.sentiment = -1.0f;
        assert_valid(&r);
        r.u.support.csat = 5; r.u.support.sentiment = 1.0f;
        assert_valid(&r);
        r.u.support.has_csat = 0; r.u.support.csat = 0;
        r.u.support.has_sentiment = 0; r.u.support.sentiment = 9.0f;
        assert_valid(&r);

        r = sample_support(); r.u.support.event_id = "";
        assert_invalid(&r, "event_id");
        r = sample_support(); r.u.support.account_id = "";
        assert_invalid(&r, "account_id");
        r = sample_support(); r.u.support.csat = 0;
        assert_invalid(&r, "csat");
        r = sample_support(); r.u.support.csat = 6;
        assert_invalid(&r, "csat");
        r = sample_support(); r.u.support.sentiment = 1.5f;
        assert_invalid(&r, "sentiment");
        r = sample_support(); r.u.support.sentiment = -1.01f;
        assert_invalid(&r, "sentiment");
        r = sample_support(); r.u.support.sentiment = nanf("");
        assert_invalid(&r, "sentiment");
        r = sample_support(); r.u.support.occurred_at = NOW + 3600 * 1000;
        assert_invalid(&r, "occurred_at");

        /* Alerts are riskwatch's own output: nothing to validate. */
        r = sample_alert();
        assert_valid(&r);
}

/*
 * Interop: bytes written by the reference Python implementation
 * (tests/data/make_interop.py; the values below mirror it).
 */

static char *read_data(const char *name, size_t *len) {
        char path[4300], dir[4200];

        join(dir, sizeof(dir), source_dir, "tests/data");
        join(path, sizeof(path), dir, name);
        return slurp(path, len);
}

/* Decode name; re-encoding must give Python's bytes back exactly. */
static void interop_decode(rw_codec_t *codec, const char *name, rw_record_type_t t,
                           rw_record_t *rec, char **bytes, size_t *len) {
        void *again;
        size_t again_len;

        *bytes = read_data(name, len);
        decode_ok(codec, t, *bytes, *len, rec);
        encode_ok(codec, rec, &again, &again_len);
        assert_int_equal(again_len, *len);
        assert_memory_equal(again, *bytes, *len);
        free(again);
}

static void test_interop_order(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t rec;
        char *bytes;
        size_t len;

        interop_decode(codec, "order_v1.bin", RW_REC_ORDER, &rec, &bytes, &len);
        assert_int_equal(rec.schema_id, 1);
        assert_string_equal(rec.u.order.event_id, "py-order-0001");
        assert_string_equal(rec.u.order.account_id, u8"acct-Z\u00fcrich-42");
        assert_string_equal(rec.u.order.vendor_id, u8"vendor-\u65e5\u672c");
        assert_string_equal(rec.u.order.product_line, "hardware \"pro\"\\tools");
        assert_int_equal(rec.u.order.kind, RW_ORDER_REFUNDED);
        assert_int_equal(rec.u.order.amount_minor, 123456789012);
        assert_string_equal(rec.u.order.currency, "EUR");
        assert_int_equal(rec.u.order.occurred_at, 1700000000123);
        free(bytes);

        interop_decode(codec, "order_v1_null.bin", RW_REC_ORDER, &rec, &bytes, &len);
        assert_string_equal(rec.u.order.event_id, "py-order-0002");
        assert_string_equal(rec.u.order.account_id, "acct-7");
        assert_string_equal(rec.u.order.vendor_id, "vendor-1");
        assert_null(rec.u.order.product_line);
        assert_int_equal(rec.u.order.kind, RW_ORDER_CANCELLED);
        assert_int_equal(rec.u.order.amount_minor, 0);
        assert_string_equal(rec.u.order.currency, "USD");
        assert_int_equal(rec.u.order.occurred_at, -86400000);
        free(bytes);
}

static void test_interop_support(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t rec;
        char *bytes;
        size_t len;

        interop_decode(codec, "support_v1.bin", RW_REC_SUPPORT, &rec, &bytes, &len);
        assert_int_equal(rec.schema_id, 2);
        assert_string_equal(rec.u.support.event_id, "py-support-0001");
        assert_string_equal(rec.u.support.account_id, u8"acct-Z\u00fcrich-42");
        assert_string_equal(rec.u.support.ticket_id, "T-9001");
        assert_int_equal(rec.u.support.kind, RW_SUPPORT_SURVEY);
        assert_int_equal(rec.u.support.severity, RW_TICKET_URGENT);
        assert_int_equal(rec.u.support.has_csat, 1);
        assert_int_equal(rec.u.support.csat, 2);
        assert_int_equal(rec.u.support.has_sentiment, 1);
        assert_true(rec.u.support.sentiment == -0.75f);
        assert_int_equal(rec.u.support.occurred_at, 1700000100000);
        free(bytes);

        interop_decode(codec, "support_v1_null.bin", RW_REC_SUPPORT, &rec, &bytes, &len);
        assert_string_equal(rec.u.support.event_id, "py-support-0002");
        assert_string_equal(rec.u.support.account_id, "acct-7");
        assert_string_equal(rec.u.support.ticket_id, "");
        assert_int_equal(rec.u.support.kind, RW_SUPPORT_ESCALATED);
        assert_int_equal(rec.u.support.severity, RW_TICKET_LOW);
        assert_int_equal(rec.u.support.has_csat, 0);
        assert_int_equal(rec.u.support.has_sentiment, 0);
        assert_int_equal(rec.u.support.occurred_at, 1700000200000);
        free(bytes);
}

static void test_interop_alert(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t rec;
        char *bytes;
        size_t len;
        const rw_alert_t *a = &rec.u.alert;

        interop_decode(codec, "alert_v1.bin", RW_REC_ALERT, &rec, &bytes, &len);
        assert_int_equal(rec.schema_id, 3);
        assert_string_equal(a->alert_id, "py-alert-0001");
        assert_string_equal(a->fingerprint, "churn.order_drop/ACCOUNT/acct-7");
        assert_string_equal(a->rule, "churn.order_drop");
        assert_int_equal(a->category, RW_CAT_CHURN);
        assert_int_equal(a->subject_type, RW_SUBJ_ACCOUNT);
        assert_string_equal(a->subject_id, "acct-7");
        assert_int_equal(a->status, RW_ALERT_FIRING);
        assert_int_equal(a->severity, RW_SEV_CRITICAL);
        assert_true(a->observed == 0.1);
        assert_true(a->threshold == 0.5);
        assert_int_equal(a->has_baseline, 1);
        assert_true(a->baseline == 12.25);
        assert_int_equal(a->window_ms, 2592000000);
        assert_int_equal(a->event_time, 1700000300000);
        assert_int_equal(a->emitted_at, 1700000300456);
        assert_string_equal(a->source_topic, "orders");
        assert_int_equal(a->source_partition, 3);
        assert_int_equal(a->source_offset, 9876543210);
        assert_string_equal(a->summary, "acct-7: orders down to 10% of baseline\n(30d)");
        assert_true(a->replay);
        free(bytes);

        interop_decode(codec, "alert_v1_null.bin", RW_REC_ALERT, &rec, &bytes, &len);
        assert_string_equal(a->alert_id, "py-alert-0002");
        assert_string_equal(a->fingerprint, "dependency.vendor_hhi/PORTFOLIO/vendors");
        assert_string_equal(a->rule, "dependency.vendor_hhi");
        assert_int_equal(a->category, RW_CAT_DEPENDENCY);
        assert_int_equal(a->subject_type, RW_SUBJ_PORTFOLIO);
        assert_string_equal(a->subject_id, "vendors");
        assert_int_equal(a->status, RW_ALERT_RESOLVED);
        assert_int_equal(a->severity, RW_SEV_INFO);
        assert_true(a->observed == 1500.0);
        assert_true(a->threshold == 1800.0);
        assert_int_equal(a->has_baseline, 0);
        assert_int_equal(a->window_ms, 7776000000);
        assert_int_equal(a->event_time, 1700003600000);
        assert_int_equal(a->emitted_at, 1700003600001);
        assert_string_equal(a->source_topic, "");
        assert_int_equal(a->source_partition, -1);
        assert_int_equal(a->source_offset, -1);
        assert_string_equal(a->summary, "vendor concentration back to normal");
        assert_false(a->replay);
        free(bytes);
}

/*
 * JSON.
 */

static void test_print_json(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t rec;
        char *json, *bytes;
        size_t len;

        interop_decode(codec, "order_v1.bin", RW_REC_ORDER, &rec, &bytes, &len);
        json = json_of(&rec);
        assert_string_equal(json,
                u8"{\"type\":\"OrderEvent\",\"schema_id\":1,\"event_id\":\"py-order-0001\","
                u8"\"account_id\":\"acct-Z\u00fcrich-42\",\"vendor_id\":\"vendor-\u65e5\u672c\","
                "\"product_line\":\"hardware \\\"pro\\\"\\\\tools\",\"kind\":\"REFUNDED\","
                "\"amount_minor\":123456789012,\"currency\":\"EUR\","
                "\"occurred_at\":1700000000123}");
        free(json);
        free(bytes);

        interop_decode(codec, "support_v1_null.bin", RW_REC_SUPPORT, &rec, &bytes, &len);
        json = json_of(&rec);
        assert_string_equal(json,
                "{\"type\":\"SupportEvent\",\"schema_id\":2,\"event_id\":\"py-support-0002\","
                "\"account_id\":\"acct-7\",\"ticket_id\":\"\",\"kind\":\"ESCALATED\","
                "\"severity\":\"LOW\",\"csat\":null,\"sentiment\":null,"
                "\"occurred_at\":1700000200000}");
        free(json);
        free(bytes);

        interop_decode(codec, "alert_v1.bin", RW_REC_ALERT, &rec, &bytes, &len);
        json = json_of(&rec);
        assert_string_equal(json,
                "{\"type\":\"RiskAlert\",\"schema_id\":3,\"alert_id\":\"py-alert-0001\","
                "\"fingerprint\":\"churn.order_drop/ACCOUNT/acct-7\",\"rule\":\"churn.order_drop\","
                "\"category\":\"CHURN\",\"subject_type\":\"ACCOUNT\",\"subject_id\":\"acct-7\","
                "\"status\":\"FIRING\",\"severity\":\"CRITICAL\",\"observed\":0.1,"
                "\"threshold\":0.5,\"baseline\":12.25,\"window_ms\":2592000000,"
                "\"event_time\":1700000300000,\"emitted_at\":1700000300456,"
                "\"source_topic\":\"orders\",\"source_partition\":3,"
                "\"source_offset\":9876543210,"
                "\"summary\":\"acct-7: orders down to 10% of baseline\\n(30d)\",\"replay\":true}");
        free(json);
        /* RW_JSON_TIME_RFC3339: the timestamp-millis fields as RFC 3339
         * strings, every other long (window_ms, source_offset) as it was. */
        json = json_flags_of(&rec, RW_JSON_TIME_RFC3339);
        assert_non_null(strstr(json, "\"window_ms\":2592000000,"
                                     "\"event_time\":\"2023-11-14T22:18:20Z\","
                                     "\"emitted_at\":\"2023-11-14T22:18:20.456Z\","));
        assert_non_null(strstr(json, "\"source_offset\":9876543210,"));
        free(json);
        free(bytes);

        /* Control characters, a float, NaN (not JSON) and a null optional. */
        rec = sample_support();
        rec.schema_id = 2;
        rec.u.support.ticket_id = "a\x01\tb\x1f";
        rec.u.support.has_csat = 0;
        rec.u.support.sentiment = 0.1f;
        json = json_of(&rec);
        assert_non_null(strstr(json, "\"ticket_id\":\"a\\u0001\\tb\\u001f\""));
        assert_non_null(strstr(json, "\"csat\":null,\"sentiment\":0.1,"));
        free(json);
        rec.u.support.sentiment = nanf("");
        json = json_of(&rec);
        assert_non_null(strstr(json, "\"sentiment\":null"));
        free(json);
}

/*
 * Catalogue errors: start-up fails and names the file and line.
 */

static void assert_catalogue_error(const char *catalogue, const char *want1, const char *want2) {
        tmpdir_t td;
        char errstr[512] = "";
        rw_codec_t *codec;

        tmpdir_make(&td);
        tmpdir_copy_schemas(&td);
        tmpdir_puts(&td, "Broken.avsc", "{\"type\": \"record\", \"name\": ");
        tmpdir_puts(&td, "Other.avsc",
                    "{\"type\":\"record\",\"name\":\"Other\",\"namespace\":\"x\",\"fields\":[]}");
        tmpdir_puts(&td, "OrderEvent_nocurrency.avsc",
                "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":\"riskwatch\","
                "\"fields\":[{\"name\":\"event_id\",\"type\":\"string\"},"
                "{\"name\":\"account_id\",\"type\":\"string\"},"
                "{\"name\":\"vendor_id\",\"type\":\"string\"},"
                "{\"name\":\"product_line\",\"type\":[\"null\",\"string\"],\"default\":null},"
                "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"OrderKind\","
                "\"symbols\":[\"PLACED\",\"CANCELLED\",\"REFUNDED\"]}},"
                "{\"name\":\"amount_minor\",\"type\":\"int\"},"
                "{\"name\":\"currency\",\"type\":\"string\"},"
                "{\"name\":\"occurred_at\",\"type\":\"long\"}]}");
        if (catalogue)
                tmpdir_puts(&td, "catalogue.txt", catalogue);
        codec = rw_codec_new(td.path, errstr, sizeof(errstr));
        if (codec)
                fail_msg("catalogue accepted:\n%s", catalogue);
        if (!strstr(errstr, want1) || (want2 && !strstr(errstr, want2)))
                fail_msg("errstr \"%s\" lacks \"%s\" / \"%s\"", errstr, want1, want2 ? want2 : "");
        tmpdir_remove(&td);
}

#define READERS "1 OrderEvent.avsc reader\n2 SupportEvent.avsc reader\n3 RiskAlert.avsc reader\n"

static void test_catalogue_errors(void **state) {
        (void)state;
        assert_catalogue_error(NULL, "catalogue.txt", "No such file");
        assert_catalogue_error("# header\n\nx OrderEvent.avsc\n", "catalogue.txt:3:", "\"x\"");
        assert_catalogue_error(READERS "0 OrderEvent.avsc\n", "catalogue.txt:4:", "1..");
        assert_catalogue_error(READERS "3 OrderEvent.avsc\n", "catalogue.txt:4:",
                               "already at line 3");
        assert_catalogue_error(READERS "7 OrderEvent.avsc writer\n", "catalogue.txt:4:",
                               "writer");
        assert_catalogue_error(READERS "7\n", "catalogue.txt:4:", "ID FILE");
        assert_catalogue_error(READERS "7 a b reader\n", "catalogue.txt:4:", NULL);
        assert_catalogue_error(READERS "7 Missing.avsc\n", "catalogue.txt:4:", "Missing.avsc");
        assert_catalogue_error(READERS "7 Broken.avsc\n", "catalogue.txt:4", "Broken.avsc");
        assert_catalogue_error(READERS "7 Other.avsc\n", "catalogue.txt:4", "x.Other");
        assert_catalogue_error(READERS "7 OrderEvent.avsc reader\n", "catalogue.txt:4:",
                               "second reader");
        assert_catalogue_error("1 OrderEvent.avsc reader\n2 SupportEvent.avsc reader\n",
                               "catalogue.txt", "riskwatch.RiskAlert");
        assert_catalogue_error("1 OrderEvent_nocurrency.avsc reader\n"
                               "2 SupportEvent.avsc reader\n3 RiskAlert.avsc reader\n",
                               "catalogue.txt:1", "amount_minor");
}

/*
 * Hot path: decoding reuses the codec's values.
 */

static void test_decode_reuse(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t in = sample_order(), out;
        void *buf;
        size_t len, before;
        int i;

        encode_ok(codec, &in, &buf, &len);
        decode_ok(codec, RW_REC_ORDER, buf, len, &out);
        before = n_alloc;
        for (i = 0; i < 100; i++)
                decode_ok(codec, RW_REC_ORDER, buf, len, &out);
        /* avro-c 1.11.1 allocates each decoded string (buffer + wrapper);
         * nothing else may be allocated per record. */
        assert_true(n_alloc - before <= 100 * 2 * 6);
        assert_order_eq(&out.u.order, &in.u.order);
        free(buf);
}

/*
 * The two decode paths (schemas/codec_int.h). main() runs every test above
 * through each; the tests below compare them directly.
 */

static int avro_path_forced(void) {
        const char *env = getenv("RW_CODEC_DECODE");

        return env && !strcmp(env, "avro");
}

/* The run really takes the path it is named for. */
static void test_decode_path(void **state) {
        rw_codec_t *codec = *state;
        rw_record_t in = sample_support(), out;
        uint64_t before = rw_codec_direct_decodes(codec);
        void *buf;
        size_t len;

        encode_ok(codec, &in, &buf, &len);
        decode_ok(codec, RW_REC_SUPPORT, buf, len, &out);
        assert_support_eq(&out.u.support, &in.u.support);
        assert_int_equal(rw_codec_direct_decodes(codec) - before, avro_path_forced() ? 0 : 1);
        free(buf);
}

/* Which writers take the direct path, and that it allocates nothing. */
static void test_direct_path(void **state) {
        tmpdir_t td;
        rw_codec_t *codec;
        rw_record_t in = sample_order(), out;
        uint64_t n0;
        size_t len, before;
        void *buf;
        bin_t b;
        int i;

        (void)state;
        evolution_dir(&td);
        codec = codec_new_ok(td.path);
        rw_codec_set_direct(codec, 1);

        /* The reader itself. */
        encode_ok(codec, &in, &buf, &len);
        decode_ok(codec, RW_REC_ORDER, buf, len, &out);
        n0 = rw_codec_direct_decodes(codec);
        before = n_alloc;
        for (i = 0; i < 100; i++)
                decode_ok(codec, RW_REC_ORDER, buf, len, &out);
        assert_int_equal(n_alloc, before);
        assert_int_equal(rw_codec_direct_decodes(codec) - n0, 100);
        assert_order_eq(&out.u.order, &in.u.order);

        /* Fields only the writer has (a string, a map of arrays) are skipped. */
        write_with(order_v2_json, 11, fill_order_v2, &b);
        n0 = rw_codec_direct_decodes(codec);
        decode_ok(codec, RW_REC_ORDER, b.b, b.n, &out);
        assert_int_equal(rw_codec_direct_decodes(codec) - n0, 1);
        assert_string_equal(out.u.order.product_line, "gadgets");
        assert_int_equal(out.u.order.kind, RW_ORDER_CANCELLED);
        assert_int_equal(out.u.order.amount_minor, 250);
        assert_string_equal(out.u.order.currency, "GBP");

        /* A field only the reader has takes its default. */
        write_with(support_nosentiment_json, 12, fill_support_nosentiment, &b);
        n0 = rw_codec_direct_decodes(codec);
        decode_ok(codec, RW_REC_SUPPORT, b.b, b.n, &out);
        assert_int_equal(rw_codec_direct_decodes(codec) - n0, 1);
        assert_int_equal(out.u.support.has_csat, 1);
        assert_int_equal(out.u.support.csat, 3);
        assert_int_equal(out.u.support.has_sentiment, 0);

        /* Promotion (int to long) and a string into a union: avro-c's. */
        reordered_kind = 0;
        write_with(order_reordered_json, 13, fill_order_reordered, &b);
        n0 = rw_codec_direct_decodes(codec);
        decode_ok(codec, RW_REC_ORDER, b.b, b.n, &out);
        assert_int_equal(rw_codec_direct_decodes(codec) - n0, 0);
        assert_int_equal(out.u.order.kind, RW_ORDER_REFUNDED);

        /* Turned off, nothing takes it. */
        rw_codec_set_direct(codec, 0);
        decode_ok(codec, RW_REC_ORDER, buf, len, &out);
        assert_int_equal(rw_codec_direct_decodes(codec) - n0, 0);
        assert_order_eq(&out.u.order, &in.u.order);
        free(buf);
        rw_codec_destroy(codec);
        tmpdir_remove(&td);
}

static uint64_t rng(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* Random text: empty, short or long (multi-byte lengths), with quotes,
 * control characters and 2-, 3- and 4-byte UTF-8. */
static const char *rand_str(uint64_t *s, char *buf, size_t size) {
        static const char *const parts[] = {
                "a", "Z", "0", "-", " ", "\"", "\\", "\n", "\x01", "acct-000123",
                u8"\u00e9", u8"\u65e5", u8"\U0001F600", "EUR",
        };
        size_t n = 0, k = rng(s) % 8 ? rng(s) % 6 : rng(s) % 80;

        while (k-- > 0) {
                const char *p = parts[rng(s) % (sizeof(parts) / sizeof(parts[0]))];
                size_t pl = strlen(p);

                if (n + pl >= size)
                        break;
                memcpy(buf + n, p, pl);
                n += pl;
        }
        buf[n] = '\0';
        return buf;
}

/* Numbers of every varint length and sign. */
static int64_t rand_long(uint64_t *s) {
        uint64_t u = rng(s) >> (rng(s) % 64);

        return rng(s) & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
}

static void bin_rand_str(bin_t *b, uint64_t *s) {
        char text[400];

        bin_str(b, rand_str(s, text, sizeof(text)));
}

/* One random record as written by each kind of writer in evolution_dir():
 * 0-2 the readers (through rw_codec_encode), 3 OrderEvent v2 (id 11), 4 the
 * SupportEvent without sentiment (12), 5 the reordered OrderEvent (13). */
static rw_record_type_t rand_record(rw_codec_t *codec, uint64_t *s, int kind, bin_t *b) {
        static const rw_record_type_t types[] = {
                RW_REC_ORDER, RW_REC_SUPPORT, RW_REC_ALERT, RW_REC_ORDER, RW_REC_SUPPORT,
                RW_REC_ORDER,
        };
        char t[8][400];
        rw_record_t r;
        uint32_t fbits;
        uint64_t dbits;
        void *buf;
        size_t len;
        int i;

        memset(&r, 0, sizeof(r));
        r.type = types[kind];
        switch (kind) {
        case 0:
                r.u.order.event_id = rand_str(s, t[0], sizeof(t[0]));
                r.u.order.account_id = rand_str(s, t[1], sizeof(t[1]));
                r.u.order.vendor_id = rand_str(s, t[2], sizeof(t[2]));
                r.u.order.product_line = rng(s) & 1 ? rand_str(s, t[3], sizeof(t[3])) : NULL;
                r.u.order.kind = (rw_order_kind_t)(rng(s) % 3);
                r.u.order.amount_minor = rand_long(s);
                r.u.order.currency = rand_str(s, t[4], sizeof(t[4]));
                r.u.order.occurred_at = rand_long(s);
                break;
        case 1:
                r.u.support.event_id = rand_str(s, t[0], sizeof(t[0]));
                r.u.support.account_id = rand_str(s, t[1], sizeof(t[1]));
                r.u.support.ticket_id = rand_str(s, t[2], sizeof(t[2]));
                r.u.support.kind = (rw_support_kind_t)(rng(s) % 5);
                r.u.support.severity = (rw_ticket_severity_t)(rng(s) % 4);
                r.u.support.has_csat = (int)(rng(s) & 1);
                r.u.support.csat = (int32_t)rand_long(s);
                r.u.support.has_sentiment = (int)(rng(s) & 1);
                fbits = (uint32_t)rng(s);       /* any bits: NaN, Inf, denormals */
                memcpy(&r.u.support.sentiment, &fbits, sizeof(fbits));
                r.u.support.occurred_at = rand_long(s);
                break;
        case 2:
                r.u.alert.alert_id = rand_str(s, t[0], sizeof(t[0]));
                r.u.alert.fingerprint = rand_str(s, t[1], sizeof(t[1]));
                r.u.alert.rule = rand_str(s, t[2], sizeof(t[2]));
                r.u.alert.category = (rw_category_t)(rng(s) % 2);
                r.u.alert.subject_type = (rw_subject_type_t)(rng(s) % 3);
                r.u.alert.subject_id = rand_str(s, t[3], sizeof(t[3]));
                r.u.alert.status = (rw_alert_status_t)(rng(s) % 2);
                r.u.alert.severity = (rw_alert_severity_t)(rng(s) % 3);
                dbits = rng(s);
                memcpy(&r.u.alert.observed, &dbits, sizeof(dbits));
                r.u.alert.threshold = (double)rand_long(s) / 1024;
                r.u.alert.has_baseline = (int)(rng(s) & 1);
                r.u.alert.baseline = (double)rand_long(s) / 3;
                r.u.alert.window_ms = rand_long(s);
                r.u.alert.event_time = rand_long(s);
                r.u.alert.emitted_at = rand_long(s);
                r.u.alert.source_topic = rand_str(s, t[4], sizeof(t[4]));
                r.u.alert.source_partition = (int32_t)rand_long(s);
                r.u.alert.source_offset = rand_long(s);
                r.u.alert.summary = rand_str(s, t[5], sizeof(t[5]));
                r.u.alert.replay = (int)(rng(s) & 1);
                break;
        case 3:
                bin_frame(b, 11);
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_long(b, (int64_t)(rng(s) & 1));
                if (b->b[b->n - 1])
                        bin_rand_str(b, s);
                bin_long(b, (int64_t)(rng(s) % 3));
                bin_rand_str(b, s);                     /* channel: skipped */
                bin_long(b, rand_long(s));
                bin_rand_str(b, s);
                bin_long(b, rand_long(s));
                for (i = (int)(rng(s) % 3); i > 0; i--) {       /* tags: map blocks */
                        bin_t items;
                        int64_t n = 1 + (int64_t)(rng(s) % 3), k;

                        items.n = 0;
                        for (k = 0; k < n; k++) {
                                bin_rand_str(&items, s);
                                bin_long(&items, 2);            /* array block of 2 ints */
                                bin_long(&items, (int32_t)rand_long(s));
                                bin_long(&items, (int32_t)rand_long(s));
                                bin_long(&items, 0);
                        }
                        if (rng(s) & 1) {
                                bin_long(b, n);
                        } else {                                /* negative count + size */
                                bin_long(b, -n);
                                bin_long(b, (int64_t)items.n);
                        }
                        bin_raw(b, items.b, items.n);
                }
                bin_long(b, 0);
                return RW_REC_ORDER;
        case 4:
                bin_frame(b, 12);
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_long(b, (int64_t)(rng(s) % 5));
                bin_long(b, (int64_t)(rng(s) % 4));
                bin_long(b, (int64_t)(rng(s) & 1));
                if (b->b[b->n - 1])
                        bin_long(b, (int32_t)rand_long(s));
                bin_long(b, rand_long(s));
                return RW_REC_SUPPORT;
        default:
                bin_frame(b, 13);
                bin_long(b, rand_long(s));
                bin_long(b, (int64_t)(rng(s) % 4));     /* 2 is CHARGEBACK: not in the reader */
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_rand_str(b, s);
                bin_long(b, (int32_t)rand_long(s));
                bin_rand_str(b, s);
                return RW_REC_ORDER;
        }
        encode_ok(codec, &r, &buf, &len);
        assert_true(len <= sizeof(b->b));
        b->n = 0;
        bin_raw(b, buf, len);
        free(buf);
        return r.type;
}

static void assert_same_str(const char *a, const char *b, const char *field) {
        if (!a != !b || (a && strcmp(a, b)))
                fail_msg("field %s: \"%s\" vs \"%s\"", field, a ? a : "(null)", b ? b : "(null)");
}

#define assert_same_num(a, b, f) do {                                                   \
        if (memcmp(&(a)->f, &(b)->f, sizeof((a)->f)))                                   \
                fail_msg("field %s differs", #f);                                       \
} while (0)

/* Every field, bit for bit (floats included). */
static void assert_same_record(const rw_record_t *x, const rw_record_t *y) {
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->schema_id, y->schema_id);
        if (x->type == RW_REC_ORDER) {
                const rw_order_event_t *a = &x->u.order, *b = &y->u.order;

                assert_same_str(a->event_id, b->event_id, "event_id");
                assert_same_str(a->account_id, b->account_id, "account_id");
                assert_same_str(a->vendor_id, b->vendor_id, "vendor_id");
                assert_same_str(a->product_line, b->product_line, "product_line");
                assert_same_num(a, b, kind);
                assert_same_num(a, b, amount_minor);
                assert_same_str(a->currency, b->currency, "currency");
                assert_same_num(a, b, occurred_at);
        } else if (x->type == RW_REC_SUPPORT) {
                const rw_support_event_t *a = &x->u.support, *b = &y->u.support;

                assert_same_str(a->event_id, b->event_id, "event_id");
                assert_same_str(a->account_id, b->account_id, "account_id");
                assert_same_str(a->ticket_id, b->ticket_id, "ticket_id");
                assert_same_num(a, b, kind);
                assert_same_num(a, b, severity);
                assert_same_num(a, b, has_csat);
                assert_same_num(a, b, csat);
                assert_same_num(a, b, has_sentiment);
                assert_same_num(a, b, sentiment);
                assert_same_num(a, b, occurred_at);
        } else {
                const rw_alert_t *a = &x->u.alert, *b = &y->u.alert;

                assert_same_str(a->alert_id, b->alert_id, "alert_id");
                assert_same_str(a->fingerprint, b->fingerprint, "fingerprint");
                assert_same_str(a->rule, b->rule, "rule");
                assert_same_num(a, b, category);
                assert_same_num(a, b, subject_type);
                assert_same_str(a->subject_id, b->subject_id, "subject_id");
                assert_same_num(a, b, status);
                assert_same_num(a, b, severity);
                assert_same_num(a, b, observed);
                assert_same_num(a, b, threshold);
                assert_same_num(a, b, has_baseline);
                assert_same_num(a, b, baseline);
                assert_same_num(a, b, window_ms);
                assert_same_num(a, b, event_time);
                assert_same_num(a, b, emitted_at);
                assert_same_str(a->source_topic, b->source_topic, "source_topic");
                assert_same_num(a, b, source_partition);
                assert_same_num(a, b, source_offset);
                assert_same_str(a->summary, b->summary, "summary");
                assert_same_num(a, b, replay);
        }
}

/* Decode with both paths: the same verdict, message and fields. Returns the
 * verdict. The direct codec must have taken its path for every record a
 * plain-mapping writer wrote correctly. */
static rw_codec_status_t assert_paths_agree(rw_codec_t *direct, rw_codec_t *general,
                                            rw_record_type_t t, const void *buf, size_t len) {
        const unsigned char *p = buf;
        uint32_t id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        uint64_t before = rw_codec_direct_decodes(direct);
        char ea[512], eb[512];
        rw_record_t a, b;
        rw_codec_status_t sa, sb;

        sa = decode(direct, t, buf, len, &a, ea, sizeof(ea));
        sb = decode(general, t, buf, len, &b, eb, sizeof(eb));
        if (sa != sb)
                fail_msg("schema id %u: direct %s (%s), avro-c %s (%s)", id,
                         rw_codec_reason(sa), ea, rw_codec_reason(sb), eb);
        if (sa != RW_CODEC_OK)
                assert_string_equal(ea, eb);
        assert_same_record(&a, &b);
        assert_int_equal(rw_codec_direct_decodes(direct) - before,
                         sa == RW_CODEC_OK && id != 13 ? 1 : 0);
        assert_int_equal(rw_codec_direct_decodes(general), 0);
        return sa;
}

/* Differential check over random records of every writer and random damage
 * to them (bit flips, cuts, inserted, deleted and appended bytes). */
static void test_paths_agree(void **state) {
        uint64_t s = 0x2545f4914f6cdd1du;
        int kind, iter, ok = 0, bad = 0;
        rw_codec_t *direct, *general;
        tmpdir_t td;

        (void)state;
        evolution_dir(&td);
        direct = codec_new_ok(td.path);
        general = codec_new_ok(td.path);
        rw_codec_set_direct(direct, 1);
        rw_codec_set_direct(general, 0);
        for (kind = 0; kind < 6; kind++) {
                for (iter = 0; iter < 1500; iter++) {
                        bin_t b;
                        rw_record_type_t t = rand_record(direct, &s, kind, &b);
                        int m;

                        if (assert_paths_agree(direct, general, t, b.b, b.n) == RW_CODEC_OK)
                                ok++;
                        else if (kind != 5)
                                fail_msg("writer kind %d: a well-formed record failed", kind);
                        for (m = 0; m < 4; m++) {
                                unsigned char d[sizeof(b.b) + 8];
                                size_t n = b.n, k, at, edits = 1 + rng(&s) % 3;

                                memcpy(d, b.b, b.n);
                                for (k = 0; k < edits && n > 5; k++) {
                                        at = 5 + rng(&s) % (n - 5);
                                        switch (rng(&s) % 5) {
                                        case 0:
                                        case 1:
                                                d[at] ^= (unsigned char)(1 + rng(&s) % 255);
                                                break;
                                        case 2:
                                                n = at;
                                                break;
                                        case 3:
                                                memmove(d + at + 1, d + at, n - at);
                                                d[at] = (unsigned char)rng(&s);
                                                n++;
                                                break;
                                        default:
                                                memmove(d + at, d + at + 1, n - at - 1);
                                                n--;
                                                break;
                                        }
                                }
                                if (assert_paths_agree(direct, general, t, d, n) == RW_CODEC_OK)
                                        ok++;
                                else
                                        bad++;
                        }
                }
        }
        /* Both outcomes are well represented. */
        assert_true(ok > 9000);
        assert_true(bad > 20000);
        assert_true(rw_codec_direct_decodes(direct) > 8000);
        rw_codec_destroy(general);
        rw_codec_destroy(direct);
        tmpdir_remove(&td);
}

static int group_setup(void **state) {
        char errstr[512];

        *state = rw_codec_new(schemas_dir, errstr, sizeof(errstr));
        if (!*state) {
                fprintf(stderr, "rw_codec_new(%s): %s\n", schemas_dir, errstr);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state) {
        rw_codec_destroy(*state);
        return 0;
}

/* rw_sentiment_round() is strtod(snprintf("%.4f")), the rounding the state
 * has always summed: over every 613th float in -1..1 (3.5 million), every
 * tie (x * 10000 ending in .5: the multiples of 1/32) and the ends. */
static void test_sentiment_round(void **state) {
        const float ends[] = { -1.0f, 1.0f, 0.0f, -0.0f, 0.00005f, -0.00005f,
                               0.99995f, -0.99995f, 1e-30f, -1e-30f };
        size_t checked = 0;
        char m[64];

        (void)state;
        for (uint32_t bits = 0; bits <= 0xBF800000u; bits += 613) {
                float f;
                double want;
                memcpy(&f, &bits, sizeof(f));
                if (!(f >= -1.0f && f <= 1.0f))
                        continue;
                snprintf(m, sizeof(m), "%.4f", (double)f);
                want = strtod(m, NULL);
                if (memcmp(&want, &(double){ rw_sentiment_round(f) }, sizeof(want)))
                        fail_msg("%.9g: %.17g, printf and strtod give %.17g", (double)f,
                                 rw_sentiment_round(f), want);
                checked++;
        }
        for (int j = -32; j <= 32; j++) {
                float f = (float)j / 32.0f;
                snprintf(m, sizeof(m), "%.4f", (double)f);
                assert_true(strtod(m, NULL) == rw_sentiment_round(f));
        }
        for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
                double want;
                snprintf(m, sizeof(m), "%.4f", (double)ends[i]);
                want = strtod(m, NULL);
                assert_memory_equal(&want, &(double){ rw_sentiment_round(ends[i]) },
                                    sizeof(want));
        }
        assert_true(checked > 3000000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_catalogue_ids),
                cmocka_unit_test(test_sentiment_round),
                cmocka_unit_test(test_roundtrip_order),
                cmocka_unit_test(test_roundtrip_support),
                cmocka_unit_test(test_roundtrip_alert),
                cmocka_unit_test(test_encode_rejects),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_evolution_added_field),
                cmocka_unit_test(test_evolution_reader_default),
                cmocka_unit_test(test_evolution_enum_by_symbol),
                cmocka_unit_test(test_evolution_unresolvable),
                cmocka_unit_test(test_add_schema),
                cmocka_unit_test(test_poison_frame),
                cmocka_unit_test(test_poison_truncated_and_trailing),
                cmocka_unit_test(test_poison_lengths),
                cmocka_unit_test(test_poison_indexes),
                cmocka_unit_test(test_poison_values),
                cmocka_unit_test(test_poison_mutations),
                cmocka_unit_test(test_validate_order),
                cmocka_unit_test(test_validate_support),
                cmocka_unit_test(test_validate_bounds),
                cmocka_unit_test(test_interop_order),
                cmocka_unit_test(test_interop_support),
                cmocka_unit_test(test_interop_alert),
                cmocka_unit_test(test_print_json),
                cmocka_unit_test(test_catalogue_errors),
                cmocka_unit_test(test_decode_reuse),
                cmocka_unit_test(test_decode_path),
        };
        const struct CMUnitTest both_paths[] = {
                cmocka_unit_test(test_direct_path),
                cmocka_unit_test(test_paths_agree),
        };
        int failed;

        avro_set_allocator(counting_alloc, NULL);
        find_schemas_dir();
        /* Every test through the direct path (the default), then through
         * avro-c's resolved writer alone. */
        unsetenv("RW_CODEC_DECODE");
        failed = cmocka_run_group_tests_name("direct path", tests, group_setup, group_teardown);
        failed += cmocka_run_group_tests_name("direct and avro-c paths", both_paths, NULL, NULL);
        setenv("RW_CODEC_DECODE", "avro", 1);
        failed += cmocka_run_group_tests_name("avro-c path", tests, group_setup, group_teardown);
        return failed;
}
