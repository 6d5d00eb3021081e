/* bench_codec.c - codec throughput: OrderEvent and SupportEvent decode, RiskAlert
 * encode, each as median ns/record over RUNS runs and as a multiple of a no-op
 * baseline that only copies the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "schemas/codec.h"
#include "schemas/codec_int.h"

#define RUNS    9
#define ITERS   1000000         /* per run; RW_BENCH_ITERS overrides (profiling) */

typedef struct bench_s {
        rw_codec_t *codec;
        rw_record_type_t type;
        const void *buf;                /* framed bytes to decode */
        size_t len;
        const rw_record_t *rec;         /* record to encode */
        unsigned char copy[512];        /* the baseline's destination */
        char errstr[512];
} bench_t;

typedef int (*bench_fn)(bench_t *b);

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* The no-op: what touching the record's bytes once costs. */
static int op_copy(bench_t *b) {
        memcpy(b->copy, b->buf, b->len);
        __asm__ volatile("" : : "r"(b->copy) : "memory");
        return 0;
}

static int op_decode(bench_t *b) {
        rw_record_t out;

        if (rw_codec_decode(b->codec, b->type, b->buf, b->len, &out,
                            b->errstr, sizeof(b->errstr)) != RW_CODEC_OK)
                return -1;
        __asm__ volatile("" : : "r"(&out) : "memory");
        return 0;
}

static int op_encode(bench_t *b) {
        void *buf;
        size_t len;

        if (rw_codec_encode(b->codec, b->rec, &buf, &len, b->errstr, sizeof(b->errstr)))
                return -1;
        free(buf);
        return 0;
}

/* Median ns per call over RUNS runs of iters calls; -1 on failure. */
static double measure(bench_fn fn, bench_t *b, long iters) {
        double ns[RUNS];
        long i;
        int run;

        for (i = 0; i < iters / 10; i++)        /* warm up caches and predictors */
                if (fn(b))
                        return -1;
        for (run = 0; run < RUNS; run++) {
                double t0 = now_ns();

                for (i = 0; i < iters; i++)
                        if (fn(b))
                                return -1;
                ns[run] = (now_ns() - t0) / (double)iters;
        }
        qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
        return ns[RUNS / 2];
}

static int report(const char *what, bench_fn fn, bench_t *b, long iters) {
        double base, ns;

        if ((base = measure(op_copy, b, iters)) < 0 || (ns = measure(fn, b, iters)) < 0) {
                fprintf(stderr, "bench_codec: %s: %s\n", what, b->errstr);
                return -1;
        }
        printf("%-34s %4zu B  %8.1f ns/record  %11.0f records/s  %6.1fx baseline "
               "(memcpy %.1f ns)\n", what, b->len, ns, 1e9 / ns, ns / base, base);
        return 0;
}

static rw_record_t sample_order(void) {
        rw_record_t r;

        memset(&r, 0, sizeof(r));
        r.type = RW_REC_ORDER;
        r.u.order.event_id = "0d1f6c2e-6a43-4c7e-9d7b-2f1f0c9a11aa";
        r.u.order.account_id = "acct-000123";
        r.u.order.vendor_id = "vendor-0042";
        r.u.order.product_line = "hardware";
        r.u.order.kind = RW_ORDER_PLACED;
        r.u.order.amount_minor = 129900;
        r.u.order.currency = "EUR";
        r.u.order.occurred_at = 1700000000000;
        return r;
}

static rw_record_t sample_support(void) {
        rw_record_t r;

        memset(&r, 0, sizeof(r));
        r.type = RW_REC_SUPPORT;
        r.u.support.event_id = "5b0c1d9e-3f1a-4e8b-8c2d-7a6e5f4d3c2b";
        r.u.support.account_id = "acct-000123";
        r.u.support.ticket_id = "T-20231114-0042";
        r.u.support.kind = RW_SUPPORT_SURVEY;
        r.u.support.severity = RW_TICKET_HIGH;
        r.u.support.has_csat = 1;
        r.u.support.csat = 2;
        r.u.support.has_sentiment = 1;
        r.u.support.sentiment = -0.4f;
        r.u.support.occurred_at = 1700000000000;
        return r;
}

static rw_record_t sample_alert(void) {
        rw_record_t r;

        memset(&r, 0, sizeof(r));
        r.type = RW_REC_ALERT;
        r.u.alert.alert_id = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
        r.u.alert.fingerprint = "dependency.vendor_share/VENDOR/vendor-0042";
        r.u.alert.rule = "dependency.vendor_share";
        r.u.alert.category = RW_CAT_DEPENDENCY;
        r.u.alert.subject_type = RW_SUBJ_VENDOR;
        r.u.alert.subject_id = "vendor-0042";
        r.u.alert.status = RW_ALERT_FIRING;
        r.u.alert.severity = RW_SEV_WARNING;
        r.u.alert.observed = 0.3125;
        r.u.alert.threshold = 0.3;
        r.u.alert.has_baseline = 1;
        r.u.alert.baseline = 0.12;
        r.u.alert.window_ms = 7776000000;
        r.u.alert.event_time = 1700000000000;
        r.u.alert.emitted_at = 1700000000999;
        r.u.alert.source_topic = "orders";
        r.u.alert.source_partition = 7;
        r.u.alert.source_offset = 123456789012;
        r.u.alert.summary = "vendor-0042 holds 31% of order value over 90 days";
        return r;
}

/* Usage: bench_codec [SCHEMAS_DIR]  (default $RW_SOURCE_DIR/schemas, else ./schemas) */
int main(int argc, char **argv) {
        const char *src = getenv("RW_SOURCE_DIR"), *it = getenv("RW_BENCH_ITERS");
        rw_record_t order = sample_order(), support = sample_support(), alert = sample_alert();
        void *obuf = NULL, *sbuf = NULL, *abuf = NULL;
        size_t olen, slen, alen;
        long iters = it ? atol(it) : ITERS;
        char dir[4096];
        bench_t b;
        int rc = 1;

        memset(&b, 0, sizeof(b));
        if (iters < 10)
                iters = 10;
        if (argc > 1)
                snprintf(dir, sizeof(dir), "%s", argv[1]);
        else
                snprintf(dir, sizeof(dir), "%s/schemas", src ? src : ".");
        if (!(b.codec = rw_codec_new(dir, b.errstr, sizeof(b.errstr)))) {
                fprintf(stderr, "bench_codec: %s\n", b.errstr);
                goto done;
        }
        if (rw_codec_encode(b.codec, &order, &obuf, &olen, b.errstr, sizeof(b.errstr)) ||
            rw_codec_encode(b.codec, &support, &sbuf, &slen, b.errstr, sizeof(b.errstr)) ||
            rw_codec_encode(b.codec, &alert, &abuf, &alen, b.errstr, sizeof(b.errstr))) {
                fprintf(stderr, "bench_codec: encode: %s\n", b.errstr);
                goto done;
        }

        printf("median of %d runs of %ld records each\n", RUNS, iters);
        b.type = RW_REC_ORDER, b.buf = obuf, b.len = olen;
        if (report("OrderEvent decode", op_decode, &b, iters))
                goto done;
        b.type = RW_REC_SUPPORT, b.buf = sbuf, b.len = slen;
        if (report("SupportEvent decode", op_decode, &b, iters))
                goto done;
        b.rec = &alert, b.buf = abuf, b.len = alen;
        if (report("RiskAlert encode", op_encode, &b, iters))
                goto done;

        /* The general path every writer can take, for comparison. */
        rw_codec_set_direct(b.codec, 0);
        b.type = RW_REC_ORDER, b.buf = obuf, b.len = olen;
        if (report("OrderEvent decode (avro-c path)", op_decode, &b, iters))
                goto done;
        b.type = RW_REC_SUPPORT, b.buf = sbuf, b.len = slen;
        if (report("SupportEvent decode (avro-c path)", op_decode, &b, iters))
                goto done;
        rc = 0;
done:
        free(abuf);
        free(sbuf);
        free(obuf);
        rw_codec_destroy(b.codec);
        return rc;
}
