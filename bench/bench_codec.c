/* bench_codec.c - decode throughput of one OrderEvent: median ns/record over 7 runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "schemas/codec.h"

#define RUNS    7
#define ITERS   1000000

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Usage: bench_codec [SCHEMAS_DIR]  (default $RW_SOURCE_DIR/schemas, else ./schemas) */
int main(int argc, char **argv) {
        char dir[4096], errstr[512];
        const char *src = getenv("RW_SOURCE_DIR");
        rw_codec_t *codec = NULL;
        rw_record_t rec, out;
        double ns[RUNS];
        void *buf = NULL;
        size_t len;
        int run, i, rc = 1;

        if (argc > 1)
                snprintf(dir, sizeof(dir), "%s", argv[1]);
        else
                snprintf(dir, sizeof(dir), "%s/schemas", src ? src : ".");
        if (!(codec = rw_codec_new(dir, errstr, sizeof(errstr)))) {
                fprintf(stderr, "bench_codec: %s\n", errstr);
                goto done;
        }

        memset(&rec, 0, sizeof(rec));
        rec.type = RW_REC_ORDER;
        rec.u.order.event_id = "0d1f6c2e-6a43-4c7e-9d7b-2f1f0c9a11aa";
        rec.u.order.account_id = "acct-000123";
        rec.u.order.vendor_id = "vendor-0042";
        rec.u.order.product_line = "hardware";
        rec.u.order.kind = RW_ORDER_PLACED;
        rec.u.order.amount_minor = 129900;
        rec.u.order.currency = "EUR";
        rec.u.order.occurred_at = 1700000000000;
        if (rw_codec_encode(codec, &rec, &buf, &len, errstr, sizeof(errstr))) {
                fprintf(stderr, "bench_codec: encode: %s\n", errstr);
                goto done;
        }

        for (run = 0; run < RUNS; run++) {
                double t0 = now_ns();

                for (i = 0; i < ITERS; i++) {
                        if (rw_codec_decode(codec, RW_REC_ORDER, buf, len, &out,
                                            errstr, sizeof(errstr)) != RW_CODEC_OK) {
                                fprintf(stderr, "bench_codec: decode: %s\n", errstr);
                                goto done;
                        }
                }
                ns[run] = (now_ns() - t0) / ITERS;
        }
        qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
        printf("OrderEvent decode (%zu bytes): median %.1f ns/record (min %.1f, max %.1f) "
               "over %d runs of %d; %.0f records/s\n",
               len, ns[RUNS / 2], ns[0], ns[RUNS - 1], RUNS, ITERS, 1e9 / ns[RUNS / 2]);
        rc = 0;
done:
        free(buf);
        rw_codec_destroy(codec);
        return rc;
}
