/* fuzz_decode.c - libFuzzer target for rw_codec_decode(): any input, as each
 * record type, through both decode paths; what decodes must re-encode and
 * decode to the same fields. Aborts on any disagreement. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "schemas/codec.h"
#include "schemas/codec_int.h"

/*
 * Writer schemas beside the catalogue's readers (ids 1-3), so that inputs can
 * reach evolution: 11 adds fields of every kind (skipped on decode), 12 adds
 * one and lacks the optional sentiment (defaulted), 13 needs promotions and
 * re-ordered enum symbols (avro-c's resolved writer only).
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
        "{\"name\":\"occurred_at\",\"type\":\"long\"},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"map\","
        "\"values\":{\"type\":\"array\",\"items\":\"int\"}},\"default\":{}}]}";

static const char support_v2_json[] =
        "{\"type\":\"record\",\"name\":\"SupportEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"ticket_id\",\"type\":\"string\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"SupportKind\","
        "\"symbols\":[\"OPENED\",\"ESCALATED\",\"REOPENED\",\"RESOLVED\",\"SURVEY\"]}},"
        "{\"name\":\"severity\",\"type\":{\"type\":\"enum\",\"name\":\"TicketSeverity\","
        "\"symbols\":[\"LOW\",\"NORMAL\",\"HIGH\",\"URGENT\"]}},"
        "{\"name\":\"csat\",\"type\":[\"null\",\"int\"],\"default\":null},"
        "{\"name\":\"agent\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Agent\","
        "\"fields\":[{\"name\":\"id\",\"type\":{\"type\":\"fixed\",\"name\":\"Id\",\"size\":4}},"
        "{\"name\":\"raw\",\"type\":\"bytes\"},{\"name\":\"on_call\",\"type\":\"boolean\"},"
        "{\"name\":\"load\",\"type\":[\"double\",\"float\",\"string\"]}]}],\"default\":null},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"}]}";

static const char order_promoted_json[] =
        "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":\"riskwatch\",\"fields\":["
        "{\"name\":\"occurred_at\",\"type\":\"int\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"OrderKind\","
        "\"symbols\":[\"REFUNDED\",\"PLACED\",\"CHARGEBACK\",\"CANCELLED\"]}},"
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"account_id\",\"type\":\"string\"},"
        "{\"name\":\"vendor_id\",\"type\":\"string\"},"
        "{\"name\":\"product_line\",\"type\":\"string\"},"
        "{\"name\":\"amount_minor\",\"type\":\"int\"},"
        "{\"name\":\"currency\",\"type\":\"string\"}]}";

static rw_codec_t *direct, *general;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "fuzz_decode: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

static rw_codec_t *codec_new(const char *dir) {
        static const struct { int32_t id; const char *json; } extra[] = {
                { 11, order_v2_json }, { 12, support_v2_json }, { 13, order_promoted_json },
        };
        char errstr[512];
        rw_codec_t *codec;
        size_t i;

        if (!(codec = rw_codec_new(dir, errstr, sizeof(errstr))))
                die("rw_codec_new(%s): %s", dir, errstr);
        for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
                if (rw_codec_add_schema(codec, extra[i].id, extra[i].json,
                                        strlen(extra[i].json), errstr, sizeof(errstr)))
                        die("rw_codec_add_schema: %s", errstr);
        return codec;
}

static void codecs_destroy(void) {
        rw_codec_destroy(general);
        rw_codec_destroy(direct);
        general = direct = NULL;
}

/* The codecs live across inputs, as in riskwatch, and are destroyed at exit,
 * before LeakSanitizer's final check (tests/fuzz/run.sh has more on leaks). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *src = getenv("RW_SOURCE_DIR");
        char dir[4096];

        (void)argc;
        (void)argv;
        snprintf(dir, sizeof(dir), "%s/schemas", src && *src ? src : RW_SOURCE_DIR);
        direct = codec_new(dir);
        general = codec_new(dir);
        rw_codec_set_direct(direct, 1);
        rw_codec_set_direct(general, 0);
        atexit(codecs_destroy);
        return 0;
}

static int same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

#define SAME(f) (!memcmp(&a->f, &b->f, sizeof(a->f)))

/* Every field, bit for bit; the schema id only when with_id. NULL when
 * equal, else the first field that differs. */
static const char *diff(const rw_record_t *x, const rw_record_t *y, int with_id) {
        if (x->type != y->type)
                return "type";
        if (with_id && x->schema_id != y->schema_id)
                return "schema_id";
        if (x->type == RW_REC_ORDER) {
                const rw_order_event_t *a = &x->u.order, *b = &y->u.order;

                if (!same_str(a->event_id, b->event_id)) return "event_id";
                if (!same_str(a->account_id, b->account_id)) return "account_id";
                if (!same_str(a->vendor_id, b->vendor_id)) return "vendor_id";
                if (!same_str(a->product_line, b->product_line)) return "product_line";
                if (!SAME(kind)) return "kind";
                if (!SAME(amount_minor)) return "amount_minor";
                if (!same_str(a->currency, b->currency)) return "currency";
                if (!SAME(occurred_at)) return "occurred_at";
        } else if (x->type == RW_REC_SUPPORT) {
                const rw_support_event_t *a = &x->u.support, *b = &y->u.support;

                if (!same_str(a->event_id, b->event_id)) return "event_id";
                if (!same_str(a->account_id, b->account_id)) return "account_id";
                if (!same_str(a->ticket_id, b->ticket_id)) return "ticket_id";
                if (!SAME(kind)) return "kind";
                if (!SAME(severity)) return "severity";
                if (!SAME(has_csat) || !SAME(csat)) return "csat";
                if (!SAME(has_sentiment) || !SAME(sentiment)) return "sentiment";
                if (!SAME(occurred_at)) return "occurred_at";
        } else {
                const rw_alert_t *a = &x->u.alert, *b = &y->u.alert;

                if (!same_str(a->alert_id, b->alert_id)) return "alert_id";
                if (!same_str(a->fingerprint, b->fingerprint)) return "fingerprint";
                if (!same_str(a->rule, b->rule)) return "rule";
                if (!SAME(category)) return "category";
                if (!SAME(subject_type)) return "subject_type";
                if (!same_str(a->subject_id, b->subject_id)) return "subject_id";
                if (!SAME(status)) return "status";
                if (!SAME(severity)) return "severity";
                if (!SAME(observed)) return "observed";
                if (!SAME(threshold)) return "threshold";
                if (!SAME(has_baseline) || !SAME(baseline)) return "baseline";
                if (!SAME(window_ms)) return "window_ms";
                if (!SAME(event_time)) return "event_time";
                if (!SAME(emitted_at)) return "emitted_at";
                if (!same_str(a->source_topic, b->source_topic)) return "source_topic";
                if (!SAME(source_partition)) return "source_partition";
                if (!SAME(source_offset)) return "source_offset";
                if (!same_str(a->summary, b->summary)) return "summary";
                if (!SAME(replay)) return "replay";
        }
        return NULL;
}

static void check(rw_record_type_t t, const uint8_t *data, size_t size) {
        char ed[512], eg[512];
        rw_record_t rd, rg, r2, r3;
        rw_codec_status_t sd, sg;
        const char *f;
        void *buf;
        size_t len;

        /* Both paths: the same verdict, message and fields. */
        sd = rw_codec_decode(direct, t, data, size, &rd, ed, sizeof(ed));
        sg = rw_codec_decode(general, t, data, size, &rg, eg, sizeof(eg));
        if (sd != sg)
                die("direct path says %s, avro-c path %s", rw_codec_reason(sd),
                    rw_codec_reason(sg));
        if (sd != RW_CODEC_OK) {
                if (strcmp(ed, eg))
                        die("messages differ: \"%s\" vs \"%s\"", ed, eg);
                return;
        }
        if ((f = diff(&rd, &rg, 1)))
                die("paths disagree on field %s", f);
        rw_record_validate(&rd, 0, "now", &RW_VALIDATE_LIMITS_DEFAULT, ed, sizeof(ed));

        /* Re-encode (reader schema) and decode again, on each path. rd's
         * strings stay valid until direct decodes again; rg's until general
         * does. */
        if (rw_codec_encode(direct, &rd, &buf, &len, ed, sizeof(ed)))
                die("re-encoding a decoded record: %s", ed);
        if (rw_codec_decode(direct, t, buf, len, &r2, ed, sizeof(ed)) != RW_CODEC_OK)
                die("re-encoded record does not decode: %s", ed);
        if ((f = diff(&r2, &rg, 0)))
                die("field %s changed in a round trip", f);
        if (rw_codec_decode(general, t, buf, len, &r3, eg, sizeof(eg)) != RW_CODEC_OK)
                die("re-encoded record does not decode (avro-c path): %s", eg);
        if ((f = diff(&r2, &r3, 1)))
                die("paths disagree on re-encoded field %s", f);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        rw_record_type_t t;

        for (t = RW_REC_ORDER; t < RW_REC__CNT; t++)
                check(t, data, size);
        return 0;
}
