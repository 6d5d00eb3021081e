/* gen.c - seeded event history: per-account order and ticket processes merged by event time. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen/gen.h"

#define RW_GEN_HOUR_MS  (3600 * 1000LL)
#define RW_GEN_DAY_MS   (24 * RW_GEN_HOUR_MS)
#define RW_GEN_NEVER    INT64_MAX
#define RW_GEN_TWO_PI   6.283185307179586

/* Order gaps are the mean gap times U(1 - jitter, 1 + jitter). Low variance
 * keeps a steady account's 30-day count close to its 90-day rate, so the
 * order-drop rule (fires below 50%) stays well away from it. */
#define RW_GEN_JITTER           0.10
/* Steady tickets open every 42 days times U(0.5, 1.5): never three in a week. */
#define RW_GEN_TICKET_GAP_D     42.0
/* An angry account keeps opening tickets after its burst. */
#define RW_GEN_ANGRY_GAP_D      14.0
/* Share of orders that come back. Steady accounts only return orders when
 * they order at least every 5 days: one return among >= 5 orders in 30 days
 * stays under the refund-rate rule's 25%. */
#define RW_GEN_RETURN_P         0.03
#define RW_GEN_RETURN_MAX_GAP_D 5.0
#define RW_GEN_REFUNDING_P      0.5
/* Of the orders that come back, this share is REFUNDED, the rest CANCELLED.
 * An occasional refund gives back part of the order (an item), a refunding
 * account's refunds give back all of it. Net spend only loses REFUNDED. */
#define RW_GEN_REFUNDED_SHARE   0.6
#define RW_GEN_PART_LO          0.2
#define RW_GEN_PART_HI          0.5
/* Targets of the dependency scenarios, over the last 90 days. */
#define RW_GEN_ACCOUNT_SHARE    0.30
#define RW_GEN_VENDOR_SHARE     0.55
#define RW_GEN_WINDOW_D         90

static const char *const rw_gen_scenario_names[RW_GEN__SCENARIO_CNT] = {
        "steady", "fading", "vanished", "angry", "refunding", "dominant",
};

static const char *const rw_gen_products[] = {
        "grocery", "electronics", "home", "apparel", "office",
};

/* xoshiro256** seeded through splitmix64: small, fast, and the same on
 * every platform, which rand() is not. */
typedef struct rw_gen_rng_s {
        uint64_t s[4];
} rw_gen_rng_t;

typedef struct rw_gen_acct_s {
        char id[24];
        rw_gen_scenario_t scenario;
        int64_t onset;          /* RW_GEN_NEVER when none */
        double gap0;            /* mean order gap before onset, ms */
        double gap1;            /* mean order gap after onset, ms; 0 = no orders */
        double amount;          /* mean order amount before onset, EUR */
        double amount_mult1;    /* amount factor after onset */
        double amount_sigma;    /* log-normal spread of one order */
        double amount_min;
        double amount_max;
        double ret_p0;          /* share of orders returned before onset */
        double ret_p1;          /* ... and after */
        double ret_acc;         /* returns are spread evenly, not by chance */
        double vendor_acc;      /* so is the dominant vendor's share */
        int burst_size;         /* angry: tickets in the burst */
        int burst_left;
        int burst_started;
        rw_gen_rng_t rng;
} rw_gen_acct_t;

/* What a queued entry stands for when it comes due. */
typedef enum rw_gen_what_e {
        RW_GEN_EV_PLACE = 0,    /* the account's next order */
        RW_GEN_EV_RETURN,       /* an order coming back */
        RW_GEN_EV_OPEN,         /* the account's next ticket */
        RW_GEN_EV_TICKET,       /* the next step of an open ticket */
} rw_gen_what_t;

#define RW_GEN_F_ANGRY          0x01
#define RW_GEN_F_ESCALATE       0x02
#define RW_GEN_F_REOPEN         0x04
#define RW_GEN_F_SURVEY         0x08

typedef struct rw_gen_ev_s {
        int64_t at;
        uint64_t seq;           /* tie-break: insertion order */
        int64_t amount;         /* RETURN: minor units */
        uint64_t ticket;        /* TICKET: ticket number */
        int32_t acct;
        uint8_t what;           /* rw_gen_what_t */
        uint8_t kind;           /* RETURN: order kind; TICKET: support kind */
        uint8_t severity;
        uint8_t flags;          /* RW_GEN_F_* */
        int16_t vendor;
        int16_t product;        /* -1 = null */
} rw_gen_ev_t;

struct rw_gen_s {
        rw_gen_params_t p;
        int64_t end_ms;
        rw_gen_acct_t *accts;
        char (*vendor_ids)[20];
        rw_gen_ev_t *heap;      /* min-heap on (at, seq) */
        size_t heap_cnt;
        size_t heap_size;
        uint64_t seq;
        uint64_t order_seq;
        uint64_t support_seq;
        uint64_t ticket_seq;
        int failed;
        /* "o-SEED-START-N", "s-SEED-START-N", "t-SEED-START-N": the seed
         * and start_ms name the history, so two histories with different
         * starts (or seeds) never share an event or ticket id. */
        char event_id[72];
        char ticket_id[72];
};

static uint64_t rw_gen_splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static void rw_gen_rng_seed(rw_gen_rng_t *r, uint64_t seed, uint64_t stream) {
        uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
        for (int i = 0; i < 4; i++)
                r->s[i] = rw_gen_splitmix64(&x);
}

static inline uint64_t rw_gen_rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rw_gen_rng_next(rw_gen_rng_t *r) {
        uint64_t *s = r->s;
        uint64_t res = rw_gen_rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rw_gen_rotl(s[3], 45);
        return res;
}

/* Uniform in [0, 1). */
static double rw_gen_unif(rw_gen_rng_t *r) {
        return (double)(rw_gen_rng_next(r) >> 11) * 0x1.0p-53;
}

static double rw_gen_range(rw_gen_rng_t *r, double lo, double hi) {
        return lo + (hi - lo) * rw_gen_unif(r);
}

/* Uniform integer in [0, n). */
static int rw_gen_below(rw_gen_rng_t *r, int n) {
        return (int)(rw_gen_unif(r) * n);
}

static double rw_gen_normal(rw_gen_rng_t *r) {
        double u1 = 1.0 - rw_gen_unif(r);       /* (0, 1]: log() is finite */
        double u2 = rw_gen_unif(r);

        return sqrt(-2.0 * log(u1)) * cos(RW_GEN_TWO_PI * u2);
}

static int64_t rw_gen_span(rw_gen_rng_t *r, int64_t lo_ms, int64_t hi_ms) {
        return lo_ms + (int64_t)((double)(hi_ms - lo_ms) * rw_gen_unif(r));
}

const char *rw_gen_scenario_name(rw_gen_scenario_t s) {
        if ((unsigned)s >= RW_GEN__SCENARIO_CNT)
                return "unknown";
        return rw_gen_scenario_names[s];
}

void rw_gen_params_default(rw_gen_params_t *p) {
        memset(p, 0, sizeof(*p));
        p->seed = 42;
        p->accounts = 300;
        p->vendors = 12;
        p->days = 180;
        p->start_ms = 1767225600000LL;          /* 2026-01-01T00:00:00Z */
        p->fading_frac = 0.04;
        p->vanished_frac = 0.04;
        p->angry_frac = 0.04;
        p->refunding_frac = 0.04;
        p->dominant_account = 1;
        p->dominant_vendor = 1;
}

static int rw_gen_frac_cnt(double frac, int accounts) {
        return (int)floor(frac * accounts + 0.5);
}

static int rw_gen_frac_ok(double f) {
        return f >= 0.0 && f <= 1.0;    /* false for NaN too */
}

static rw_err_t rw_gen_params_check(const rw_gen_params_t *p,
                                    char *errstr, size_t errstr_size) {
        int used;

        if (p->accounts < 1 || p->accounts > 1000000) {
                snprintf(errstr, errstr_size, "accounts %d: must be 1..1000000", p->accounts);
                return RW_ERR_CONFIG;
        }
        if (p->vendors < 1 || p->vendors > 999) {
                snprintf(errstr, errstr_size, "vendors %d: must be 1..999", p->vendors);
                return RW_ERR_CONFIG;
        }
        if (p->days < 1 || p->days > 3650) {
                snprintf(errstr, errstr_size, "days %d: must be 1..3650", p->days);
                return RW_ERR_CONFIG;
        }
        if (p->start_ms < 0 || p->start_ms > INT64_MAX / 4) {
                snprintf(errstr, errstr_size, "start_ms %" PRId64 ": out of range", p->start_ms);
                return RW_ERR_CONFIG;
        }
        if (!rw_gen_frac_ok(p->fading_frac) || !rw_gen_frac_ok(p->vanished_frac) ||
            !rw_gen_frac_ok(p->angry_frac) || !rw_gen_frac_ok(p->refunding_frac)) {
                snprintf(errstr, errstr_size, "scenario fractions must be in 0..1");
                return RW_ERR_CONFIG;
        }
        used = rw_gen_frac_cnt(p->fading_frac, p->accounts) +
               rw_gen_frac_cnt(p->vanished_frac, p->accounts) +
               rw_gen_frac_cnt(p->angry_frac, p->accounts) +
               rw_gen_frac_cnt(p->refunding_frac, p->accounts) +
               (p->dominant_account ? 1 : 0);
        if (used > p->accounts) {
                snprintf(errstr, errstr_size,
                         "scenarios need %d accounts, only %d configured",
                         used, p->accounts);
                return RW_ERR_CONFIG;
        }
        return RW_OK;
}

/* Onset at a fraction of the history drawn from [lo, hi], but at least
 * min_tail_d days before the end (so the rule has time to see it) and not
 * before the start. */
static int64_t rw_gen_onset(const rw_gen_t *g, rw_gen_acct_t *a,
                            double lo, double hi, int min_tail_d) {
        int64_t span = g->end_ms - g->p.start_ms;
        int64_t t = g->p.start_ms + (int64_t)(rw_gen_range(&a->rng, lo, hi) * (double)span);

        if (t > g->end_ms - min_tail_d * RW_GEN_DAY_MS)
                t = g->end_ms - min_tail_d * RW_GEN_DAY_MS;
        if (t < g->p.start_ms)
                t = g->p.start_ms;
        return t;
}

static void rw_gen_acct_init(rw_gen_t *g, int idx, rw_gen_scenario_t scenario) {
        rw_gen_acct_t *a = &g->accts[idx];
        rw_gen_rng_t *r = &a->rng;

        snprintf(a->id, sizeof(a->id), "acct-%04d", idx + 1);
        rw_gen_rng_seed(r, g->p.seed, (uint64_t)idx + 1);
        a->scenario = scenario;
        a->onset = RW_GEN_NEVER;
        a->gap0 = rw_gen_range(r, 3.0, 7.0) * RW_GEN_DAY_MS;
        /* Typical basket per account, then a mild spread per order: amounts
         * land in 20-500 EUR and a month's spend tracks the account's rate. */
        a->amount = exp(log(80.0) + 0.5 * rw_gen_normal(r));
        if (a->amount < 30.0)
                a->amount = 30.0;
        if (a->amount > 300.0)
                a->amount = 300.0;
        a->amount_mult1 = 1.0;
        a->amount_sigma = 0.10;
        a->amount_min = 20.0;
        a->amount_max = 500.0;
        /* The first return comes after >= 13 orders: a return in the first
         * weeks of the history would make a share of very few orders. */
        a->ret_acc = rw_gen_range(r, 0.0, 0.6);
        a->vendor_acc = rw_gen_unif(r);

        switch (scenario) {
        case RW_GEN_FADING:
                /* Late onset and a deep cut: at the end of the history the
                 * last 30 days sit well under half of the 90 days before,
                 * even though that baseline already holds some faded weeks. */
                a->gap0 = rw_gen_range(r, 3.5, 5.0) * RW_GEN_DAY_MS;
                a->onset = rw_gen_onset(g, a, 0.72, 0.80, 35);
                a->gap1 = a->gap0 / rw_gen_range(r, 0.15, 0.25);
                a->amount_mult1 = rw_gen_range(r, 0.5, 0.7);
                break;
        case RW_GEN_VANISHED:
                a->onset = rw_gen_onset(g, a, 0.45, 0.70, 45);
                a->gap1 = 0;
                break;
        case RW_GEN_ANGRY:
                a->onset = rw_gen_onset(g, a, 0.60, 0.80, 10);
                a->burst_size = 4 + rw_gen_below(r, 3);
                break;
        case RW_GEN_REFUNDING:
                a->gap0 = rw_gen_range(r, 2.5, 4.5) * RW_GEN_DAY_MS;
                a->onset = rw_gen_onset(g, a, 0.55, 0.80, 30);
                break;
        case RW_GEN_DOMINANT:
                /* amount is set once every other account is known */
                a->gap0 = rw_gen_range(r, 0.9, 1.1) * RW_GEN_DAY_MS;
                a->amount_sigma = 0.35;
                a->amount_min = 50.0;
                a->amount_max = 100000.0;
                break;
        default:
                break;
        }
        if (scenario != RW_GEN_FADING && scenario != RW_GEN_VANISHED)
                a->gap1 = a->gap0;
        if (a->gap0 <= RW_GEN_RETURN_MAX_GAP_D * RW_GEN_DAY_MS)
                a->ret_p0 = RW_GEN_RETURN_P;
        a->ret_p1 = scenario == RW_GEN_REFUNDING ? RW_GEN_REFUNDING_P : a->ret_p0;
}

/* Share of an order refunded at time t (when it is refunded at all). */
static double rw_gen_refund_part(rw_gen_acct_t *a, int64_t t) {
        if (a->scenario == RW_GEN_REFUNDING && (double)t >= (double)a->onset)
                return 1.0;
        return rw_gen_range(&a->rng, RW_GEN_PART_LO, RW_GEN_PART_HI);
}

/* Expected net spend (PLACED - REFUNDED, EUR) of an account in [w0, w1). */
static double rw_gen_expected_net(const rw_gen_acct_t *a, int64_t w0, int64_t w1) {
        double onset = (double)a->onset;
        double pre = fmin((double)w1, onset) - (double)w0;
        double post = (double)w1 - fmax((double)w0, onset);
        double part = (RW_GEN_PART_LO + RW_GEN_PART_HI) / 2;
        double part1 = a->scenario == RW_GEN_REFUNDING ? 1.0 : part;
        double net = 0.0;

        if (pre > 0)
                net += pre / a->gap0 * a->amount *
                       (1.0 - a->ret_p0 * RW_GEN_REFUNDED_SHARE * part);
        if (post > 0 && a->gap1 > 0)
                net += post / a->gap1 * a->amount * a->amount_mult1 *
                       (1.0 - a->ret_p1 * RW_GEN_REFUNDED_SHARE * part1);
        return net;
}

/* Size the dominant account's orders so that its expected net spend over
 * the last 90 days is RW_GEN_ACCOUNT_SHARE of everyone's. */
static void rw_gen_size_dominant(rw_gen_t *g, rw_gen_acct_t *dom) {
        int64_t w0 = g->end_ms - RW_GEN_WINDOW_D * RW_GEN_DAY_MS;
        double others = 0.0, target, orders;

        if (w0 < g->p.start_ms)
                w0 = g->p.start_ms;
        for (int i = 0; i < g->p.accounts; i++) {
                if (&g->accts[i] != dom)
                        others += rw_gen_expected_net(&g->accts[i], w0, g->end_ms);
        }
        target = others * RW_GEN_ACCOUNT_SHARE / (1.0 - RW_GEN_ACCOUNT_SHARE);
        orders = (double)(g->end_ms - w0) / dom->gap0 *
                 (1.0 - dom->ret_p0 * RW_GEN_REFUNDED_SHARE *
                  (RW_GEN_PART_LO + RW_GEN_PART_HI) / 2);
        dom->amount = target > 0 && orders > 0 ? target / orders : 1000.0;
        if (dom->amount < dom->amount_min)
                dom->amount = dom->amount_min;
}

static int rw_gen_heap_less(const rw_gen_ev_t *x, const rw_gen_ev_t *y) {
        return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

/* Queue ev unless it falls after the end of the history. */
static rw_err_t rw_gen_push(rw_gen_t *g, rw_gen_ev_t *ev) {
        size_t i;

        if (ev->at >= g->end_ms)
                return RW_OK;
        if (g->heap_cnt == g->heap_size) {
                size_t size = g->heap_size * 2;
                rw_gen_ev_t *heap = realloc(g->heap, size * sizeof(*heap));

                if (!heap)
                        return RW_ERR_NOMEM;
                g->heap = heap;
                g->heap_size = size;
        }
        ev->seq = g->seq++;
        i = g->heap_cnt++;
        while (i > 0) {
                size_t parent = (i - 1) / 2;

                if (!rw_gen_heap_less(ev, &g->heap[parent]))
                        break;
                g->heap[i] = g->heap[parent];
                i = parent;
        }
        g->heap[i] = *ev;
        return RW_OK;
}

static void rw_gen_pop(rw_gen_t *g, rw_gen_ev_t *ev) {
        rw_gen_ev_t last;
        size_t i = 0;

        *ev = g->heap[0];
        last = g->heap[--g->heap_cnt];
        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= g->heap_cnt)
                        break;
                if (c + 1 < g->heap_cnt && rw_gen_heap_less(&g->heap[c + 1], &g->heap[c]))
                        c++;
                if (!rw_gen_heap_less(&g->heap[c], &last))
                        break;
                g->heap[i] = g->heap[c];
                i = c;
        }
        if (g->heap_cnt > 0)
                g->heap[i] = last;
}

/* Time of the next order after t: w mean gaps of work at the rate in force,
 * switching rate at the onset. */
static int64_t rw_gen_advance(const rw_gen_acct_t *a, int64_t t, double w) {
        if ((double)t < (double)a->onset) {
                double dt = w * a->gap0;
                double left = (double)a->onset - (double)t;

                if (dt < left)
                        return t + (int64_t)dt;
                w -= left / a->gap0;
                t = a->onset;
        }
        if (a->gap1 <= 0)
                return RW_GEN_NEVER;
        return t + (int64_t)(w * a->gap1);
}

/* Time of the account's next ticket after t (w: gaps of the base rate). */
static int64_t rw_gen_next_open(rw_gen_acct_t *a, int64_t t, double w) {
        rw_gen_rng_t *r = &a->rng;
        int64_t n;

        if (a->burst_started) {
                if (a->burst_left > 0)
                        return t + rw_gen_span(r, RW_GEN_DAY_MS / 2, RW_GEN_DAY_MS * 14 / 10);
                return t + (int64_t)(rw_gen_range(r, 0.5, 1.5) * RW_GEN_ANGRY_GAP_D * RW_GEN_DAY_MS);
        }
        n = t + (int64_t)(w * RW_GEN_TICKET_GAP_D * RW_GEN_DAY_MS);
        if ((double)n >= (double)a->onset) {
                if (a->scenario == RW_GEN_ANGRY) {
                        a->burst_started = 1;
                        a->burst_left = a->burst_size;
                        return a->onset;
                }
                if (a->scenario == RW_GEN_VANISHED)
                        return RW_GEN_NEVER;
        }
        return n;
}

static int64_t rw_gen_amount(rw_gen_acct_t *a, int64_t t) {
        double s = a->amount_sigma;
        double eur = a->amount * exp(s * rw_gen_normal(&a->rng) - s * s / 2);

        if ((double)t >= (double)a->onset)
                eur *= a->amount_mult1;
        if (eur < a->amount_min)
                eur = a->amount_min;
        if (eur > a->amount_max)
                eur = a->amount_max;
        return (int64_t)llround(eur * 100.0);
}

static int rw_gen_vendor(const rw_gen_t *g, rw_gen_acct_t *a) {
        int n = g->p.vendors;

        if (g->p.dominant_vendor && n > 1) {
                a->vendor_acc += RW_GEN_VENDOR_SHARE;
                if (a->vendor_acc >= 1.0) {
                        a->vendor_acc -= 1.0;
                        return 0;
                }
                return 1 + rw_gen_below(&a->rng, n - 1);
        }
        return rw_gen_below(&a->rng, n);
}

static void rw_gen_fill_order(rw_gen_t *g, const rw_gen_acct_t *a, const rw_gen_ev_t *ev,
                              rw_record_t *rec) {
        rw_order_event_t *o = &rec->u.order;

        snprintf(g->event_id, sizeof(g->event_id), "o-%" PRIu64 "-%" PRId64 "-%" PRIu64,
                 g->p.seed, g->p.start_ms, ++g->order_seq);
        rec->type = RW_REC_ORDER;
        o->event_id = g->event_id;
        o->account_id = a->id;
        o->vendor_id = g->vendor_ids[ev->vendor];
        o->product_line = ev->product < 0 ? NULL : rw_gen_products[ev->product];
        o->kind = (rw_order_kind_t)ev->kind;
        o->amount_minor = ev->amount;
        o->currency = "EUR";
        o->occurred_at = ev->at;
}

static void rw_gen_fill_support(rw_gen_t *g, const rw_gen_acct_t *a, const rw_gen_ev_t *ev,
                                rw_record_t *rec) {
        rw_support_event_t *s = &rec->u.support;

        snprintf(g->event_id, sizeof(g->event_id), "s-%" PRIu64 "-%" PRId64 "-%" PRIu64,
                 g->p.seed, g->p.start_ms, ++g->support_seq);
        snprintf(g->ticket_id, sizeof(g->ticket_id), "t-%" PRIu64 "-%" PRId64 "-%" PRIu64,
                 g->p.seed, g->p.start_ms, ev->ticket);
        rec->type = RW_REC_SUPPORT;
        s->event_id = g->event_id;
        s->account_id = a->id;
        s->ticket_id = g->ticket_id;
        s->kind = (rw_support_kind_t)ev->kind;
        s->severity = (rw_ticket_severity_t)ev->severity;
        s->occurred_at = ev->at;
}

static rw_err_t rw_gen_do_place(rw_gen_t *g, rw_gen_acct_t *a, rw_gen_ev_t *ev,
                                rw_record_t *rec) {
        rw_gen_rng_t *r = &a->rng;
        rw_gen_ev_t next = *ev;
        rw_err_t err;

        ev->kind = RW_ORDER_PLACED;
        ev->amount = rw_gen_amount(a, ev->at);
        ev->vendor = (int16_t)rw_gen_vendor(g, a);
        ev->product = rw_gen_unif(r) < 0.2 ? -1 :
                (int16_t)rw_gen_below(r, (int)RW_ARRAY_SIZE(rw_gen_products));
        rw_gen_fill_order(g, a, ev, rec);

        a->ret_acc += (double)ev->at >= (double)a->onset ? a->ret_p1 : a->ret_p0;
        if (a->ret_acc >= 1.0) {
                rw_gen_ev_t ret = *ev;

                a->ret_acc -= 1.0;
                ret.what = RW_GEN_EV_RETURN;
                if (rw_gen_unif(r) < RW_GEN_REFUNDED_SHARE) {
                        ret.kind = RW_ORDER_REFUNDED;
                        ret.amount = (int64_t)llround((double)ev->amount *
                                                      rw_gen_refund_part(a, ev->at));
                        ret.at += rw_gen_span(r, 2 * RW_GEN_DAY_MS, 12 * RW_GEN_DAY_MS);
                } else {
                        ret.kind = RW_ORDER_CANCELLED;
                        ret.at += rw_gen_span(r, RW_GEN_HOUR_MS, 36 * RW_GEN_HOUR_MS);
                }
                if ((err = rw_gen_push(g, &ret)))
                        return err;
        }
        next.at = rw_gen_advance(a, ev->at,
                                 rw_gen_range(r, 1.0 - RW_GEN_JITTER, 1.0 + RW_GEN_JITTER));
        return rw_gen_push(g, &next);
}

static rw_ticket_severity_t rw_gen_severity(rw_gen_rng_t *r, int angry) {
        double u = rw_gen_unif(r);

        if (angry)
                return u < 0.2 ? RW_TICKET_NORMAL : u < 0.7 ? RW_TICKET_HIGH : RW_TICKET_URGENT;
        return u < 0.40 ? RW_TICKET_LOW : u < 0.85 ? RW_TICKET_NORMAL :
               u < 0.98 ? RW_TICKET_HIGH : RW_TICKET_URGENT;
}

static rw_err_t rw_gen_do_open(rw_gen_t *g, rw_gen_acct_t *a, rw_gen_ev_t *ev,
                               rw_record_t *rec) {
        rw_gen_rng_t *r = &a->rng;
        rw_support_event_t *s = &rec->u.support;
        rw_gen_ev_t step, next = *ev;
        int angry = a->burst_started, first = 0;
        rw_err_t err;

        if (angry && a->burst_left > 0) {
                first = a->burst_left == a->burst_size;
                a->burst_left--;
        }
        ev->ticket = ++g->ticket_seq;
        ev->kind = RW_SUPPORT_OPENED;
        ev->severity = first ? RW_TICKET_URGENT : rw_gen_severity(r, angry);
        ev->flags = angry ? RW_GEN_F_ANGRY | RW_GEN_F_SURVEY : 0;
        if (first || rw_gen_unif(r) < (angry ? 0.4 : 0.08))
                ev->flags |= RW_GEN_F_ESCALATE;
        if (rw_gen_unif(r) < (angry ? 0.3 : 0.08))
                ev->flags |= RW_GEN_F_REOPEN;
        if (!angry && rw_gen_unif(r) < 0.6)
                ev->flags |= RW_GEN_F_SURVEY;
        rw_gen_fill_support(g, a, ev, rec);
        if (angry) {
                s->has_sentiment = 1;
                s->sentiment = (float)rw_gen_range(r, -1.0, -0.6);
        } else if (rw_gen_unif(r) < 0.5) {
                s->has_sentiment = 1;
                s->sentiment = (float)rw_gen_range(r, -0.3, 0.3);
        }

        step = *ev;
        step.what = RW_GEN_EV_TICKET;
        if (ev->flags & RW_GEN_F_ESCALATE) {
                step.kind = RW_SUPPORT_ESCALATED;
                step.at += rw_gen_span(r, RW_GEN_HOUR_MS, 12 * RW_GEN_HOUR_MS);
        } else {
                step.kind = RW_SUPPORT_RESOLVED;
                step.at += rw_gen_span(r, 2 * RW_GEN_HOUR_MS, 72 * RW_GEN_HOUR_MS);
        }
        if ((err = rw_gen_push(g, &step)))
                return err;
        next.at = rw_gen_next_open(a, ev->at, rw_gen_range(r, 0.5, 1.5));
        return rw_gen_push(g, &next);
}

static rw_err_t rw_gen_do_ticket(rw_gen_t *g, rw_gen_acct_t *a, rw_gen_ev_t *ev,
                                 rw_record_t *rec) {
        rw_gen_rng_t *r = &a->rng;
        rw_support_event_t *s = &rec->u.support;
        rw_gen_ev_t step = *ev;
        /* A ticket opened before the onset and closed after it is answered
         * in the account's new mood. */
        int angry = (ev->flags & RW_GEN_F_ANGRY) ||
                    (a->scenario == RW_GEN_ANGRY && ev->at >= a->onset);

        switch ((rw_support_kind_t)ev->kind) {
        case RW_SUPPORT_ESCALATED:
                if (ev->severity < RW_TICKET_HIGH)
                        ev->severity = RW_TICKET_HIGH;
                rw_gen_fill_support(g, a, ev, rec);
                step = *ev;
                step.kind = RW_SUPPORT_RESOLVED;
                step.at += rw_gen_span(r, 4 * RW_GEN_HOUR_MS, 72 * RW_GEN_HOUR_MS);
                break;
        case RW_SUPPORT_RESOLVED:
                rw_gen_fill_support(g, a, ev, rec);
                if (ev->flags & RW_GEN_F_REOPEN) {
                        step.kind = RW_SUPPORT_REOPENED;
                        step.flags &= (uint8_t)~RW_GEN_F_REOPEN;
                        step.at += rw_gen_span(r, 12 * RW_GEN_HOUR_MS, 96 * RW_GEN_HOUR_MS);
                } else if (ev->flags & RW_GEN_F_SURVEY) {
                        step.kind = RW_SUPPORT_SURVEY;
                        step.at += rw_gen_span(r, RW_GEN_HOUR_MS, 24 * RW_GEN_HOUR_MS);
                } else {
                        return RW_OK;   /* the ticket is done */
                }
                break;
        case RW_SUPPORT_REOPENED:
                rw_gen_fill_support(g, a, ev, rec);
                if (angry) {
                        s->has_sentiment = 1;
                        s->sentiment = (float)rw_gen_range(r, -1.0, -0.7);
                }
                step.kind = RW_SUPPORT_RESOLVED;
                step.at += rw_gen_span(r, 2 * RW_GEN_HOUR_MS, 48 * RW_GEN_HOUR_MS);
                break;
        case RW_SUPPORT_SURVEY:
                rw_gen_fill_support(g, a, ev, rec);
                s->has_csat = 1;
                s->has_sentiment = 1;
                if (angry) {
                        s->csat = rw_gen_unif(r) < 0.6 ? 1 : 2;
                        s->sentiment = (float)rw_gen_range(r, -1.0, -0.6);
                } else {
                        double u = rw_gen_unif(r);

                        s->csat = u < 0.15 ? 3 : u < 0.55 ? 4 : 5;
                        s->sentiment = (float)rw_gen_range(r, 0.0, 1.0);
                }
                return RW_OK;
        default:
                return RW_OK;   /* OPENED is never a queued step */
        }
        return rw_gen_push(g, &step);
}

int rw_gen_next(rw_gen_t *g, rw_record_t *rec) {
        rw_gen_acct_t *a;
        rw_gen_ev_t ev;
        rw_err_t err = RW_OK;

        if (g->failed)
                return -1;
        if (g->heap_cnt == 0)
                return 0;
        rw_gen_pop(g, &ev);
        a = &g->accts[ev.acct];
        memset(rec, 0, sizeof(*rec));
        switch ((rw_gen_what_t)ev.what) {
        case RW_GEN_EV_PLACE:
                err = rw_gen_do_place(g, a, &ev, rec);
                break;
        case RW_GEN_EV_RETURN:
                rw_gen_fill_order(g, a, &ev, rec);
                break;
        case RW_GEN_EV_OPEN:
                err = rw_gen_do_open(g, a, &ev, rec);
                break;
        case RW_GEN_EV_TICKET:
                err = rw_gen_do_ticket(g, a, &ev, rec);
                break;
        }
        if (err) {
                g->failed = 1;
                return -1;
        }
        return 1;
}

rw_gen_t *rw_gen_new(const rw_gen_params_t *p, char *errstr, size_t errstr_size) {
        rw_gen_t *g = NULL, *ret = NULL;
        rw_gen_scenario_t *scen = NULL;
        rw_gen_acct_t *dom = NULL;
        rw_gen_rng_t master;
        int n = 0;

        if (!p) {
                snprintf(errstr, errstr_size, "no generator parameters");
                goto done;
        }
        if (rw_gen_params_check(p, errstr, errstr_size))
                goto done;
        if (!(g = calloc(1, sizeof(*g))) ||
            !(g->accts = calloc((size_t)p->accounts, sizeof(*g->accts))) ||
            !(g->vendor_ids = calloc((size_t)p->vendors, sizeof(*g->vendor_ids))) ||
            !(scen = calloc((size_t)p->accounts, sizeof(*scen)))) {
                snprintf(errstr, errstr_size, "out of memory for %d accounts", p->accounts);
                goto done;
        }
        g->p = *p;
        g->end_ms = p->start_ms + (int64_t)p->days * RW_GEN_DAY_MS;
        g->heap_size = 4 * (size_t)p->accounts + 16;
        if (!(g->heap = malloc(g->heap_size * sizeof(*g->heap)))) {
                snprintf(errstr, errstr_size, "out of memory for %d accounts", p->accounts);
                goto done;
        }
        for (int v = 0; v < p->vendors; v++)
                snprintf(g->vendor_ids[v], sizeof(g->vendor_ids[v]), "vendor-%02d", v + 1);

        /* Scenarios in a seeded shuffle, so labels do not follow the ids. */
        if (p->dominant_account)
                scen[n++] = RW_GEN_DOMINANT;
        for (int k = rw_gen_frac_cnt(p->fading_frac, p->accounts); k > 0; k--)
                scen[n++] = RW_GEN_FADING;
        for (int k = rw_gen_frac_cnt(p->vanished_frac, p->accounts); k > 0; k--)
                scen[n++] = RW_GEN_VANISHED;
        for (int k = rw_gen_frac_cnt(p->angry_frac, p->accounts); k > 0; k--)
                scen[n++] = RW_GEN_ANGRY;
        for (int k = rw_gen_frac_cnt(p->refunding_frac, p->accounts); k > 0; k--)
                scen[n++] = RW_GEN_REFUNDING;
        rw_gen_rng_seed(&master, p->seed, 0);
        for (int i = p->accounts - 1; i > 0; i--) {
                int j = rw_gen_below(&master, i + 1);
                rw_gen_scenario_t t = scen[i];

                scen[i] = scen[j];
                scen[j] = t;
        }

        for (int i = 0; i < p->accounts; i++) {
                rw_gen_acct_init(g, i, scen[i]);
                if (scen[i] == RW_GEN_DOMINANT)
                        dom = &g->accts[i];
        }
        if (dom)
                rw_gen_size_dominant(g, dom);

        /* Start each process at a random phase of its first gap, as if it
         * had been running before the history begins. */
        for (int i = 0; i < p->accounts; i++) {
                rw_gen_acct_t *a = &g->accts[i];
                rw_gen_ev_t ev;

                memset(&ev, 0, sizeof(ev));
                ev.acct = i;
                ev.what = RW_GEN_EV_PLACE;
                ev.at = rw_gen_advance(a, p->start_ms, rw_gen_unif(&a->rng));
                if (rw_gen_push(g, &ev)) {
                        snprintf(errstr, errstr_size, "out of memory for %d accounts", p->accounts);
                        goto done;
                }
                ev.what = RW_GEN_EV_OPEN;
                ev.at = rw_gen_next_open(a, p->start_ms, rw_gen_unif(&a->rng));
                if (rw_gen_push(g, &ev)) {
                        snprintf(errstr, errstr_size, "out of memory for %d accounts", p->accounts);
                        goto done;
                }
        }
        ret = g;
        g = NULL;
done:
        free(scen);
        rw_gen_destroy(g);
        return ret;
}

void rw_gen_destroy(rw_gen_t *g) {
        if (!g)
                return;
        free(g->heap);
        free(g->vendor_ids);
        free(g->accts);
        free(g);
}

int rw_gen_account_cnt(const rw_gen_t *g) {
        return g->p.accounts;
}

rw_err_t rw_gen_account_info(const rw_gen_t *g, int idx, const char **account_idp,
                             rw_gen_scenario_t *scenariop, int64_t *onset_msp) {
        const rw_gen_acct_t *a;

        if (idx < 0 || idx >= g->p.accounts)
                return RW_ERR_FAIL;
        a = &g->accts[idx];
        if (account_idp)
                *account_idp = a->id;
        if (scenariop)
                *scenariop = a->scenario;
        if (onset_msp)
                *onset_msp = a->onset == RW_GEN_NEVER ? RW_GEN_NO_ONSET : a->onset;
        return RW_OK;
}

int rw_gen_account_idx(const rw_gen_t *g, const char *account_id) {
        char *end;
        long n;

        if (!account_id || strncmp(account_id, "acct-", 5))
                return -1;
        n = strtol(account_id + 5, &end, 10);
        if (*end || n < 1 || n > g->p.accounts || strcmp(g->accts[n - 1].id, account_id))
                return -1;
        return (int)(n - 1);
}

int64_t rw_gen_end_ms(const rw_gen_t *g) {
        return g->end_ms;
}
