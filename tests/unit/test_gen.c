/* test_gen.c - the event generator: determinism, validity, and that each scenario shows what the rules look for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen/gen.h"

#define DAY_MS (24 * 3600 * 1000LL)

/* One generated event, reduced to what the checks need. */
typedef struct ev_s {
        int64_t at;
        int64_t amount;
        int acct;
        int vendor;
        int is_order;
        int kind;
        int severity;
        int has_csat;
        int csat;
        int has_sentiment;
        float sentiment;
} ev_t;

/* The default history, generated once for the property checks. */
typedef struct hist_s {
        rw_gen_t *g;
        ev_t *evs;              /* stream order */
        size_t cnt;
        ev_t *by_acct;          /* the same, grouped by account, each in stream order */
        size_t *first;          /* account a: by_acct[first[a] .. first[a + 1]) */
        size_t orders;
        int64_t start;
        int64_t end;
        int accounts;
        int vendors;
} hist_t;

static hist_t H;

static int vendor_idx(const char *vendor_id) {
        char *end;
        long v;

        if (strncmp(vendor_id, "vendor-", 7))
                return -1;
        v = strtol(vendor_id + 7, &end, 10);
        return *end ? -1 : (int)v - 1;
}

static void hist_free(hist_t *h) {
        rw_gen_destroy(h->g);
        free(h->evs);
        free(h->by_acct);
        free(h->first);
        memset(h, 0, sizeof(*h));
}

static int hist_load(hist_t *h, const rw_gen_params_t *p) {
        char errstr[256];
        rw_record_t rec;
        size_t size = 1024;
        int r;

        memset(h, 0, sizeof(*h));
        if (!(h->g = rw_gen_new(p, errstr, sizeof(errstr))))
                return -1;
        h->evs = malloc(size * sizeof(*h->evs));
        h->start = p->start_ms;
        h->end = rw_gen_end_ms(h->g);
        h->accounts = p->accounts;
        h->vendors = p->vendors;
        while ((r = rw_gen_next(h->g, &rec)) == 1) {
                ev_t *e;

                if (h->cnt == size) {
                        size *= 2;
                        h->evs = realloc(h->evs, size * sizeof(*h->evs));
                }
                e = &h->evs[h->cnt++];
                memset(e, 0, sizeof(*e));
                if (rec.type == RW_REC_ORDER) {
                        const rw_order_event_t *o = &rec.u.order;

                        h->orders++;
                        e->is_order = 1;
                        e->at = o->occurred_at;
                        e->acct = rw_gen_account_idx(h->g, o->account_id);
                        e->vendor = vendor_idx(o->vendor_id);
                        e->kind = o->kind;
                        e->amount = o->amount_minor;
                } else {
                        const rw_support_event_t *s = &rec.u.support;

                        e->at = s->occurred_at;
                        e->acct = rw_gen_account_idx(h->g, s->account_id);
                        e->kind = s->kind;
                        e->severity = s->severity;
                        e->has_csat = s->has_csat;
                        e->csat = s->csat;
                        e->has_sentiment = s->has_sentiment;
                        e->sentiment = s->sentiment;
                }
        }
        if (r != 0)
                return -1;
        h->by_acct = malloc(h->cnt * sizeof(*h->by_acct));
        h->first = calloc((size_t)h->accounts + 2, sizeof(*h->first));
        for (size_t i = 0; i < h->cnt; i++)
                h->first[h->evs[i].acct + 2]++;
        for (int a = 2; a < h->accounts + 2; a++)
                h->first[a] += h->first[a - 1];
        for (size_t i = 0; i < h->cnt; i++)
                h->by_acct[h->first[h->evs[i].acct + 1]++] = h->evs[i];
        return 0;
}

#define ACCT_EVENTS(h, a, e) \
        for (const ev_t *e = &(h)->by_acct[(h)->first[a]]; \
             e < &(h)->by_acct[(h)->first[(a) + 1]]; e++)

static int setup_default(void **state) {
        rw_gen_params_t p;

        (void)state;
        rw_gen_params_default(&p);
        return hist_load(&H, &p);
}

static int teardown_default(void **state) {
        (void)state;
        hist_free(&H);
        return 0;
}

static rw_gen_scenario_t scenario_of(int acct) {
        rw_gen_scenario_t s = RW_GEN__SCENARIO_CNT;

        assert_int_equal(rw_gen_account_info(H.g, acct, NULL, &s, NULL), RW_OK);
        return s;
}

static int64_t onset_of(int acct) {
        int64_t onset = 0;

        assert_int_equal(rw_gen_account_info(H.g, acct, NULL, NULL, &onset), RW_OK);
        return onset;
}

static int is_placed(const ev_t *e) {
        return e->is_order && e->kind == RW_ORDER_PLACED;
}

static int is_return(const ev_t *e) {
        return e->is_order && (e->kind == RW_ORDER_CANCELLED || e->kind == RW_ORDER_REFUNDED);
}

static int is_opening(const ev_t *e) {
        return !e->is_order && (e->kind == RW_SUPPORT_OPENED || e->kind == RW_SUPPORT_REOPENED);
}

static int64_t net_amount(const ev_t *e) {
        if (!e->is_order)
                return 0;
        if (e->kind == RW_ORDER_PLACED)
                return e->amount;
        if (e->kind == RW_ORDER_REFUNDED)
                return -e->amount;
        return 0;
}

/* PLACED count and net spend of acct in [from, to). */
static void acct_window(int acct, int64_t from, int64_t to, double *placedp, double *netp) {
        double placed = 0, net = 0;

        ACCT_EVENTS(&H, acct, e) {
                if (e->at < from || e->at >= to)
                        continue;
                placed += is_placed(e);
                net += (double)net_amount(e);
        }
        *placedp = placed;
        *netp = net;
}

/* The order-drop and spend-drop ratios at time now: the last 30 days
 * against the 90 days before, scaled to 30 days. */
static void drop_ratios_at(int acct, int64_t now, double *orderp, double *spendp) {
        double p30, n30, p90, n90;

        acct_window(acct, now - 30 * DAY_MS, now, &p30, &n30);
        acct_window(acct, now - 120 * DAY_MS, now - 30 * DAY_MS, &p90, &n90);
        *orderp = p90 > 0 ? p30 / (p90 / 3.0) : 1.0;
        *spendp = n90 > 0 ? n30 / (n90 / 3.0) : 1.0;
}

static void drop_ratios(int acct, double *orderp, double *spendp) {
        drop_ratios_at(acct, H.end, orderp, spendp);
}

/* Lowest drop ratios of an account as time passes (every 6 hours, once
 * the 120 days the rules compare are there). */
static void drop_ratios_min(int acct, double *orderp, double *spendp) {
        *orderp = *spendp = 1e9;
        for (int64_t now = H.start + 120 * DAY_MS; now <= H.end; now += DAY_MS / 4) {
                double o, sp;

                drop_ratios_at(acct, now, &o, &sp);
                if (o < *orderp)
                        *orderp = o;
                if (sp < *spendp)
                        *spendp = sp;
        }
}

/* Times of the account's events that match pred, in stream order. */
static size_t acct_times(int acct, int (*pred)(const ev_t *), int64_t *out, size_t max) {
        size_t n = 0;

        ACCT_EVENTS(&H, acct, e) {
                if (n < max && pred(e))
                        out[n++] = e->at;
        }
        return n;
}

/* Most of the given times in any window [t, t + width). */
static int max_in_window(const int64_t *t, size_t n, int64_t width) {
        int best = 0;

        for (size_t i = 0, j = 0; i < n; i++) {
                while (j < n && t[j] < t[i] + width)
                        j++;
                if ((int)(j - i) > best)
                        best = (int)(j - i);
        }
        return best;
}

/* Largest refund share (CANCELLED + REFUNDED over all order events) among
 * 30-day windows holding >= 4 order events. Windows are tried where the
 * share can peak: ending at an event, or just after one leaves. */
static double max_refund_share(int acct) {
        static int64_t ends[4096];
        static int is_ret[4096];
        size_t n = 0, m;
        double best = 0.0;

        ACCT_EVENTS(&H, acct, e) {
                if (!e->is_order || n >= 2048)
                        continue;
                is_ret[n] = is_return(e);
                ends[n++] = e->at;
        }
        m = n;
        for (size_t i = 0; i < n; i++) {
                if (ends[i] + 30 * DAY_MS < H.end)
                        ends[m++] = ends[i] + 30 * DAY_MS;
        }
        for (size_t w = 0; w < m; w++) {
                int64_t to = ends[w], from = to - 30 * DAY_MS;
                int orders = 0, rets = 0;

                for (size_t i = 0; i < n; i++) {
                        if (ends[i] > from && ends[i] <= to) {
                                orders++;
                                rets += is_ret[i];
                        }
                }
                if (orders >= 4 && (double)rets / orders > best) {
                        best = (double)rets / orders;
                        if (getenv("DBG")) print_message("acct %d to %.2f orders %d rets %d\n", acct, (double)(to - H.start) / DAY_MS, orders, rets);
                }
        }
        return best;
}

static void test_params(void **state) {
        rw_gen_params_t p;
        char errstr[256];

        (void)state;
        errstr[0] = '\0';
        assert_null(rw_gen_new(NULL, errstr, sizeof(errstr)));
        assert_true(errstr[0] != '\0');

        rw_gen_params_default(&p);
        assert_int_equal(p.seed, 42);
        assert_int_equal(p.accounts, 300);
        assert_int_equal(p.vendors, 12);
        assert_int_equal(p.days, 180);
        assert_int_equal(p.start_ms, 1767225600000LL);

        p.accounts = 0;
        errstr[0] = '\0';
        assert_null(rw_gen_new(&p, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "accounts"));

        rw_gen_params_default(&p);
        p.angry_frac = 1.5;
        assert_null(rw_gen_new(&p, errstr, sizeof(errstr)));

        rw_gen_params_default(&p);
        p.fading_frac = p.vanished_frac = p.angry_frac = p.refunding_frac = 0.25;
        errstr[0] = '\0';
        assert_null(rw_gen_new(&p, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "scenarios"));

        rw_gen_params_default(&p);
        p.vendors = 0;
        assert_null(rw_gen_new(&p, errstr, sizeof(errstr)));
        p.vendors = 1;
        p.days = 0;
        assert_null(rw_gen_new(&p, errstr, sizeof(errstr)));

        rw_gen_destroy(NULL);
}

static void test_scenario_names(void **state) {
        (void)state;
        assert_string_equal(rw_gen_scenario_name(RW_GEN_STEADY), "steady");
        assert_string_equal(rw_gen_scenario_name(RW_GEN_FADING), "fading");
        assert_string_equal(rw_gen_scenario_name(RW_GEN_VANISHED), "vanished");
        assert_string_equal(rw_gen_scenario_name(RW_GEN_ANGRY), "angry");
        assert_string_equal(rw_gen_scenario_name(RW_GEN_REFUNDING), "refunding");
        assert_string_equal(rw_gen_scenario_name(RW_GEN_DOMINANT), "dominant");
        assert_string_equal(rw_gen_scenario_name(RW_GEN__SCENARIO_CNT), "unknown");
}

static int same_str(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return !strcmp(a, b);
}

static int same_record(const rw_record_t *a, const rw_record_t *b) {
        if (a->type != b->type)
                return 0;
        if (a->type == RW_REC_ORDER) {
                const rw_order_event_t *x = &a->u.order, *y = &b->u.order;

                return same_str(x->event_id, y->event_id) &&
                       same_str(x->account_id, y->account_id) &&
                       same_str(x->vendor_id, y->vendor_id) &&
                       same_str(x->product_line, y->product_line) &&
                       same_str(x->currency, y->currency) &&
                       x->kind == y->kind && x->amount_minor == y->amount_minor &&
                       x->occurred_at == y->occurred_at;
        } else {
                const rw_support_event_t *x = &a->u.support, *y = &b->u.support;

                return same_str(x->event_id, y->event_id) &&
                       same_str(x->account_id, y->account_id) &&
                       same_str(x->ticket_id, y->ticket_id) &&
                       x->kind == y->kind && x->severity == y->severity &&
                       x->has_csat == y->has_csat && x->csat == y->csat &&
                       x->has_sentiment == y->has_sentiment &&
                       x->sentiment == y->sentiment && x->occurred_at == y->occurred_at;
        }
}

/* Compare two generators event by event; returns the number of events when
 * they agree to the end, -1 at the first difference. */
static long compare_runs(const rw_gen_params_t *pa, const rw_gen_params_t *pb) {
        char errstr[256];
        rw_gen_t *a = rw_gen_new(pa, errstr, sizeof(errstr));
        rw_gen_t *b = rw_gen_new(pb, errstr, sizeof(errstr));
        rw_record_t ra, rb;
        long n = 0;
        int xa, xb;

        assert_non_null(a);
        assert_non_null(b);
        for (;;) {
                xa = rw_gen_next(a, &ra);
                xb = rw_gen_next(b, &rb);
                if (xa != xb || (xa == 1 && !same_record(&ra, &rb))) {
                        n = -1;
                        break;
                }
                if (xa != 1)
                        break;
                n++;
        }
        rw_gen_destroy(a);
        rw_gen_destroy(b);
        return n;
}

static void test_deterministic(void **state) {
        rw_gen_params_t pa, pb;
        long n;

        (void)state;
        rw_gen_params_default(&pa);
        pb = pa;
        n = compare_runs(&pa, &pb);
        assert_int_equal(n, (long)H.cnt);

        pb.seed = 43;
        assert_int_equal(compare_runs(&pa, &pb), -1);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_stream_valid(void **state) {
        char errstr[256];
        rw_gen_params_t p;
        rw_gen_t *g;
        rw_record_t rec;
        char **ids;
        size_t n = 0;
        int64_t last = INT64_MIN;
        int r;

        (void)state;
        rw_gen_params_default(&p);
        g = rw_gen_new(&p, errstr, sizeof(errstr));
        assert_non_null(g);
        ids = calloc(H.cnt, sizeof(*ids));
        assert_non_null(ids);
        while ((r = rw_gen_next(g, &rec)) == 1) {
                const char *id, *acct;
                int64_t at;

                assert_true(n < H.cnt);
                assert_int_equal(rec.schema_id, 0);
                if (rec.type == RW_REC_ORDER) {
                        const rw_order_event_t *o = &rec.u.order;

                        id = o->event_id;
                        acct = o->account_id;
                        at = o->occurred_at;
                        assert_true(vendor_idx(o->vendor_id) >= 0);
                        assert_true(vendor_idx(o->vendor_id) < p.vendors);
                        assert_true(o->product_line == NULL || o->product_line[0]);
                        assert_true(o->kind <= RW_ORDER_REFUNDED);
                        assert_true(o->amount_minor >= 0);
                        assert_int_equal(strlen(o->currency), 3);
                        for (int i = 0; i < 3; i++)
                                assert_true(o->currency[i] >= 'A' && o->currency[i] <= 'Z');
                        assert_int_equal(id[0], 'o');
                } else {
                        const rw_support_event_t *s = &rec.u.support;

                        assert_int_equal(rec.type, RW_REC_SUPPORT);
                        id = s->event_id;
                        acct = s->account_id;
                        at = s->occurred_at;
                        assert_true(s->ticket_id && s->ticket_id[0]);
                        assert_true(s->kind <= RW_SUPPORT_SURVEY);
                        assert_true(s->severity <= RW_TICKET_URGENT);
                        assert_int_equal(s->has_csat, s->kind == RW_SUPPORT_SURVEY);
                        if (s->has_csat)
                                assert_true(s->csat >= 1 && s->csat <= 5);
                        if (s->has_sentiment)
                                assert_true(s->sentiment >= -1.0f && s->sentiment <= 1.0f);
                        assert_int_equal(id[0], 's');
                }
                assert_true(id && id[0]);
                assert_true(acct && acct[0]);
                assert_true(rw_gen_account_idx(g, acct) >= 0);
                assert_true(at >= last);
                assert_true(at >= p.start_ms && at < rw_gen_end_ms(g));
                last = at;
                ids[n++] = strdup(id);
        }
        assert_int_equal(r, 0);
        assert_int_equal(rw_gen_next(g, &rec), 0);
        assert_int_equal(n, H.cnt);
        qsort(ids, n, sizeof(*ids), cmp_str);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        assert_true(strcmp(ids[i - 1], ids[i]) < 0);
        }
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
        rw_gen_destroy(g);

        /* A few tens of thousands of events for the defaults. */
        print_message("defaults: %zu events (%zu orders, %zu support)\n",
                      H.cnt, H.orders, H.cnt - H.orders);
        assert_true(H.cnt >= 10000 && H.cnt <= 40000);
        assert_true(H.orders > H.cnt / 2);
}

/* The event and ticket ids of one history, sorted (strdup'ed; free with
 * free_ids). */
static char **history_ids(const rw_gen_params_t *p, size_t *cntp) {
        char errstr[256];
        rw_gen_t *g = rw_gen_new(p, errstr, sizeof(errstr));
        rw_record_t rec;
        char **ids = NULL;
        size_t n = 0, size = 0;

        assert_non_null(g);
        while (rw_gen_next(g, &rec) == 1) {
                if (n + 2 > size) {
                        size = size ? 2 * size : 1024;
                        ids = realloc(ids, size * sizeof(*ids));
                        assert_non_null(ids);
                }
                if (rec.type == RW_REC_ORDER) {
                        ids[n++] = strdup(rec.u.order.event_id);
                } else {
                        ids[n++] = strdup(rec.u.support.event_id);
                        ids[n++] = strdup(rec.u.support.ticket_id);
                }
        }
        rw_gen_destroy(g);
        qsort(ids, n, sizeof(*ids), cmp_str);
        *cntp = n;
        return ids;
}

static void free_ids(char **ids, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
}

/* Ids both sorted lists hold. */
static size_t common_ids(char **a, size_t na, char **b, size_t nb) {
        size_t i = 0, j = 0, common = 0;

        while (i < na && j < nb) {
                int c = strcmp(a[i], b[j]);
                if (c == 0) {
                        common++;
                        i++;
                        j++;
                } else if (c < 0) {
                        i++;
                } else {
                        j++;
                }
        }
        return common;
}

/* Two histories with the same seed but another start (a day later, or a
 * millisecond later), or another seed, share no event or ticket id: a
 * second `gen --start ...` onto the same topics is new events, not
 * re-deliveries. The same (seed, start) gives the same ids. */
static void test_ids_per_history(void **state) {
        rw_gen_params_t p, q;
        char **a, **b;
        size_t na, nb;

        (void)state;
        rw_gen_params_default(&p);
        p.accounts = 20;
        p.days = 30;
        a = history_ids(&p, &na);
        assert_true(na > 100);

        q = p;
        b = history_ids(&q, &nb);
        assert_int_equal(nb, na);
        assert_int_equal(common_ids(a, na, b, nb), na);
        free_ids(b, nb);

        const int64_t shifts[] = { 30 * DAY_MS, DAY_MS, 1 };
        for (size_t k = 0; k < sizeof(shifts) / sizeof(shifts[0]); k++) {
                q = p;
                q.start_ms = p.start_ms + shifts[k];
                b = history_ids(&q, &nb);
                assert_true(nb > 100);
                assert_int_equal(common_ids(a, na, b, nb), 0);
                free_ids(b, nb);
        }
        q = p;
        q.seed = p.seed + 1;
        b = history_ids(&q, &nb);
        assert_int_equal(common_ids(a, na, b, nb), 0);
        free_ids(b, nb);
        free_ids(a, na);
}

static void test_accounts(void **state) {
        int cnt[RW_GEN__SCENARIO_CNT] = { 0 };
        const char *id = NULL;
        rw_gen_scenario_t s;
        int64_t onset;

        (void)state;
        assert_int_equal(rw_gen_account_cnt(H.g), 300);
        for (int i = 0; i < rw_gen_account_cnt(H.g); i++) {
                char want[32];

                assert_int_equal(rw_gen_account_info(H.g, i, &id, &s, &onset), RW_OK);
                snprintf(want, sizeof(want), "acct-%04d", i + 1);
                assert_string_equal(id, want);
                assert_int_equal(rw_gen_account_idx(H.g, id), i);
                cnt[s]++;
                if (s == RW_GEN_STEADY || s == RW_GEN_DOMINANT) {
                        assert_true(onset == RW_GEN_NO_ONSET);
                } else {
                        assert_true(onset > H.start && onset < H.end);
                }
                if (s == RW_GEN_VANISHED)
                        assert_true(onset <= H.end - 45 * DAY_MS);
                if (s == RW_GEN_FADING)
                        assert_true(onset <= H.end - 30 * DAY_MS);
        }
        /* 4% of 300 each, one dominant, the rest steady */
        assert_int_equal(cnt[RW_GEN_FADING], 12);
        assert_int_equal(cnt[RW_GEN_VANISHED], 12);
        assert_int_equal(cnt[RW_GEN_ANGRY], 12);
        assert_int_equal(cnt[RW_GEN_REFUNDING], 12);
        assert_int_equal(cnt[RW_GEN_DOMINANT], 1);
        assert_int_equal(cnt[RW_GEN_STEADY], 300 - 49);

        assert_int_equal(rw_gen_account_info(H.g, -1, &id, &s, &onset), RW_ERR_FAIL);
        assert_int_equal(rw_gen_account_info(H.g, 300, NULL, NULL, NULL), RW_ERR_FAIL);
        assert_int_equal(rw_gen_account_idx(H.g, "acct-0000"), -1);
        assert_int_equal(rw_gen_account_idx(H.g, "acct-0301"), -1);
        assert_int_equal(rw_gen_account_idx(H.g, "acct-1"), -1);
        assert_int_equal(rw_gen_account_idx(H.g, "vendor-01"), -1);
        assert_int_equal(rw_gen_account_idx(H.g, "acct-0001x"), -1);
}

/* Net spend share per account and order value (PLACED) share per vendor
 * over the last 90 days, as the dependency rules measure them. */
static void shares(const hist_t *h, double *acct_share, double *vendor_share) {
        double acct_total = 0, vendor_total = 0;

        memset(acct_share, 0, sizeof(double) * (size_t)h->accounts);
        memset(vendor_share, 0, sizeof(double) * (size_t)h->vendors);
        for (size_t i = 0; i < h->cnt; i++) {
                const ev_t *e = &h->evs[i];

                if (!e->is_order || e->at < h->end - 90 * DAY_MS)
                        continue;
                acct_share[e->acct] += (double)net_amount(e);
                acct_total += (double)net_amount(e);
                if (e->kind == RW_ORDER_PLACED) {
                        vendor_share[e->vendor] += (double)e->amount;
                        vendor_total += (double)e->amount;
                }
        }
        for (int a = 0; a < h->accounts; a++)
                acct_share[a] /= acct_total;
        for (int v = 0; v < h->vendors; v++)
                vendor_share[v] /= vendor_total;
}

static void test_dependency_shares(void **state) {
        double *as = calloc((size_t)H.accounts, sizeof(double));
        double *vs = calloc((size_t)H.vendors, sizeof(double));
        double dom = 0, other = 0, vother = 0, hhi_a = 0, hhi_v = 0;

        (void)state;
        assert_non_null(as);
        assert_non_null(vs);
        shares(&H, as, vs);
        for (int a = 0; a < H.accounts; a++) {
                if (scenario_of(a) == RW_GEN_DOMINANT)
                        dom = as[a];
                else if (as[a] > other)
                        other = as[a];
                hhi_a += 10000 * as[a] * as[a];
        }
        for (int v = 1; v < H.vendors; v++) {
                if (vs[v] > vother)
                        vother = vs[v];
        }
        for (int v = 0; v < H.vendors; v++)
                hhi_v += 10000 * vs[v] * vs[v];
        print_message("dominant account share %.1f%%, next %.1f%%, account HHI %.0f\n",
                      100 * dom, 100 * other, hhi_a);
        print_message("vendor-01 share %.1f%%, next %.1f%%, vendor HHI %.0f\n",
                      100 * vs[0], 100 * vother, hhi_v);
        assert_true(dom > 0.25 && dom < 0.40);
        assert_true(other < 0.20);
        assert_true(vs[0] > 0.50);
        assert_true(vother < 0.20);
        free(as);
        free(vs);
}

/* Without the dependency scenarios nobody stands out. */
static void test_no_dominance(void **state) {
        rw_gen_params_t p;
        hist_t h;
        double *as, *vs, amax = 0, vmax = 0;

        (void)state;
        rw_gen_params_default(&p);
        p.seed = 7;
        p.dominant_account = 0;
        p.dominant_vendor = 0;
        assert_int_equal(hist_load(&h, &p), 0);
        as = calloc((size_t)h.accounts, sizeof(double));
        vs = calloc((size_t)h.vendors, sizeof(double));
        assert_non_null(as);
        assert_non_null(vs);
        shares(&h, as, vs);
        for (int a = 0; a < h.accounts; a++) {
                int64_t onset;
                rw_gen_scenario_t s;

                assert_int_equal(rw_gen_account_info(h.g, a, NULL, &s, &onset), RW_OK);
                assert_true(s != RW_GEN_DOMINANT);
                if (as[a] > amax)
                        amax = as[a];
        }
        for (int v = 0; v < h.vendors; v++) {
                if (vs[v] > vmax)
                        vmax = vs[v];
        }
        print_message("no dominance: top account %.1f%%, top vendor %.1f%%\n",
                      100 * amax, 100 * vmax);
        assert_true(amax < 0.05);
        assert_true(vmax < 0.15);
        free(as);
        free(vs);
        hist_free(&h);
}

static void test_order_drop(void **state) {
        double fade_max_o = 0, fade_max_s = 0, steady_min_o = 1e9, steady_min_s = 1e9;
        int fading = 0;

        (void)state;
        for (int a = 0; a < H.accounts; a++) {
                rw_gen_scenario_t s = scenario_of(a);
                double o, sp;

                if (s != RW_GEN_FADING && s != RW_GEN_STEADY)
                        continue;
                drop_ratios(a, &o, &sp);
                if (s == RW_GEN_FADING) {
                        double p90, n90;

                        /* the contract's minimum baseline */
                        acct_window(a, H.end - 120 * DAY_MS, H.end - 30 * DAY_MS, &p90, &n90);
                        assert_true(p90 >= 6);
                        fading++;
                        if (o > fade_max_o)
                                fade_max_o = o;
                        if (sp > fade_max_s)
                                fade_max_s = sp;
                        assert_true(o < 0.5);
                        assert_true(sp < 0.5);
                } else {
                        if (o < steady_min_o)
                                steady_min_o = o;
                        if (sp < steady_min_s)
                                steady_min_s = sp;
                        assert_true(o >= 0.6);
                        assert_true(sp >= 0.5);
                }
        }
        print_message("order drop (last 30d / 90d rate): fading max %.2f, steady min %.2f\n",
                      fade_max_o, steady_min_o);
        print_message("spend drop: fading max %.2f, steady min %.2f\n",
                      fade_max_s, steady_min_s);
        assert_int_equal(fading, 12);
}

/* As the rules see it, evaluated all along: a steady account never drops
 * under half of its own rate or spend; a fading one drops under a quarter
 * of its spend (CRITICAL) at some point. */
static void test_drop_over_time(void **state) {
        double steady_o = 1e9, steady_s = 1e9, fade_o = 0, fade_s = 0;

        (void)state;
        for (int a = 0; a < H.accounts; a++) {
                rw_gen_scenario_t s = scenario_of(a);
                double o, sp;

                if (s != RW_GEN_FADING && s != RW_GEN_STEADY)
                        continue;
                drop_ratios_min(a, &o, &sp);
                if (s == RW_GEN_STEADY) {
                        assert_true(o >= 0.5);
                        assert_true(sp >= 0.5);
                        steady_o = o < steady_o ? o : steady_o;
                        steady_s = sp < steady_s ? sp : steady_s;
                } else {
                        assert_true(o < 0.5);
                        assert_true(sp < 0.25);
                        fade_o = o > fade_o ? o : fade_o;
                        fade_s = sp > fade_s ? sp : fade_s;
                }
        }
        print_message("lowest drop ratio over time: steady min order %.2f spend %.2f; "
                      "fading max order %.2f spend %.2f\n", steady_o, steady_s, fade_o, fade_s);
}

/* Gap since the last order at the end, and the largest gap between orders. */
static void inactivity(int acct, double *tailp, double *maxgapp, double *meangapp, size_t *np) {
        static int64_t t[4096];
        size_t n = acct_times(acct, is_placed, t, RW_ARRAY_SIZE(t));
        double maxgap = 0;

        for (size_t i = 1; i < n; i++) {
                if ((double)(t[i] - t[i - 1]) > maxgap)
                        maxgap = (double)(t[i] - t[i - 1]);
        }
        *np = n;
        *tailp = n ? (double)(H.end - t[n - 1]) : 0;
        *maxgapp = maxgap;
        *meangapp = n > 1 ? (double)(t[n - 1] - t[0]) / (double)(n - 1) : 0;
}

static double inactivity_limit(double meangap) {
        double lim = 3 * meangap;

        return lim > 14.0 * DAY_MS ? lim : 14.0 * DAY_MS;
}

static void test_inactivity(void **state) {
        double vanished_min = 1e9, steady_max = 0;

        (void)state;
        for (int a = 0; a < H.accounts; a++) {
                rw_gen_scenario_t s = scenario_of(a);
                double tail, maxgap, mean;
                size_t n;

                inactivity(a, &tail, &maxgap, &mean, &n);
                if (s == RW_GEN_VANISHED) {
                        double x = tail / inactivity_limit(mean);

                        assert_true(n >= 3);
                        assert_true(x > 1.0);
                        if (x < vanished_min)
                                vanished_min = x;
                } else if (s == RW_GEN_STEADY) {
                        double gap = tail > maxgap ? tail : maxgap;
                        double x = gap / inactivity_limit(mean);

                        assert_true(x < 1.0);
                        if (x > steady_max)
                                steady_max = x;
                }
        }
        print_message("inactivity (gap / max(14d, 3 x mean gap)): vanished min %.2f, "
                      "steady max %.2f\n", vanished_min, steady_max);
}

static void test_refund_rate(void **state) {
        double refunding_min = 1.0, steady_max = 0;

        (void)state;
        for (int a = 0; a < H.accounts; a++) {
                rw_gen_scenario_t s = scenario_of(a);
                double share;

                if (s != RW_GEN_REFUNDING && s != RW_GEN_STEADY)
                        continue;
                share = max_refund_share(a);
                if (s == RW_GEN_REFUNDING) {
                        assert_true(share >= 0.25);
                        if (share < refunding_min)
                                refunding_min = share;
                } else {
                        assert_true(share < 0.25);
                        if (share > steady_max)
                                steady_max = share;
                }
        }
        print_message("refund share (best 30d window, >= 4 orders): refunding min %.2f, "
                      "steady max %.2f\n", refunding_min, steady_max);
}

static void test_support(void **state) {
        static int64_t t[4096];
        int angry_min = 1000, steady_max = 0;
        double angry_csat_max = 0, steady_csat_min = 5;

        (void)state;
        for (int a = 0; a < H.accounts; a++) {
                rw_gen_scenario_t s = scenario_of(a);
                size_t n = acct_times(a, is_opening, t, RW_ARRAY_SIZE(t));
                int peak = max_in_window(t, n, 7 * DAY_MS);

                if (s == RW_GEN_ANGRY) {
                        int64_t onset = onset_of(a);
                        int burst = 0, before = 0, sharp = 0, answers = 0;
                        double csat = 0, senti = 0;
                        int scored = 0;

                        ACCT_EVENTS(&H, a, e) {
                                if (e->is_order)
                                        continue;
                                if (is_opening(e) && e->at >= onset - 56 * DAY_MS && e->at < onset)
                                        before++;
                                if (e->at >= onset && e->at < onset + 7 * DAY_MS) {
                                        burst += is_opening(e);
                                        sharp |= e->severity == RW_TICKET_URGENT ||
                                                 e->kind == RW_SUPPORT_ESCALATED;
                                }
                                if (e->at >= onset && e->at < onset + 30 * DAY_MS) {
                                        if (e->has_csat) {
                                                answers++;
                                                csat += e->csat;
                                        }
                                        if (e->has_sentiment) {
                                                scored++;
                                                senti += e->sentiment;
                                        }
                                }
                        }
                        /* support_spike: >= 3 in 7 days and >= 3 x the weekly
                         * rate of the 8 weeks before; CRITICAL with URGENT or
                         * ESCALATED among them */
                        assert_true(burst >= 4);
                        assert_true(burst >= 3.0 * before / 8.0);
                        assert_true(sharp);
                        /* low_satisfaction */
                        assert_true(answers >= 2);
                        assert_true(csat / answers <= 2.5);
                        assert_true(scored >= 3 && senti / scored <= -0.5);
                        if (peak < angry_min)
                                angry_min = peak;
                        if (csat / answers > angry_csat_max)
                                angry_csat_max = csat / answers;
                } else if (s == RW_GEN_STEADY) {
                        assert_true(peak < 3);
                        if (peak > steady_max)
                                steady_max = peak;
                }
                if (s == RW_GEN_STEADY) {
                        ACCT_EVENTS(&H, a, e) {
                                if (e->is_order)
                                        continue;
                                if (e->has_csat && e->csat < steady_csat_min)
                                        steady_csat_min = e->csat;
                                if (e->has_sentiment)
                                        assert_true(e->sentiment > -0.5f);
                        }
                }
        }
        print_message("tickets opened/reopened in 7 days: angry min %d, steady max %d; "
                      "CSAT: angry 30d mean max %.1f, steady min answer %.0f\n",
                      angry_min, steady_max, angry_csat_max, steady_csat_min);
        assert_true(steady_csat_min >= 3);
}

/* Odd sizes still make a coherent history. */
static void test_small(void **state) {
        rw_gen_params_t p;
        hist_t h;

        (void)state;
        rw_gen_params_default(&p);
        p.accounts = 5;
        p.vendors = 1;
        p.days = 20;
        p.fading_frac = p.vanished_frac = p.angry_frac = p.refunding_frac = 0.2;
        assert_int_equal(hist_load(&h, &p), 0);
        assert_true(h.cnt > 0);
        for (size_t i = 0; i < h.cnt; i++) {
                assert_true(h.evs[i].at >= h.start && h.evs[i].at < h.end);
                assert_true(h.evs[i].acct >= 0 && h.evs[i].acct < 5);
                if (h.evs[i].is_order)
                        assert_int_equal(h.evs[i].vendor, 0);
                if (i > 0)
                        assert_true(h.evs[i].at >= h.evs[i - 1].at);
        }
        hist_free(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_params),
                cmocka_unit_test(test_scenario_names),
                cmocka_unit_test(test_deterministic),
                cmocka_unit_test(test_stream_valid),
                cmocka_unit_test(test_ids_per_history),
                cmocka_unit_test(test_accounts),
                cmocka_unit_test(test_dependency_shares),
                cmocka_unit_test(test_no_dominance),
                cmocka_unit_test(test_order_drop),
                cmocka_unit_test(test_drop_over_time),
                cmocka_unit_test(test_inactivity),
                cmocka_unit_test(test_refund_rate),
                cmocka_unit_test(test_support),
                cmocka_unit_test(test_small),
        };

        return cmocka_run_group_tests(tests, setup_default, teardown_default);
}
