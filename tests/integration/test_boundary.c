/* test_boundary.c - the dependency-rule decider against a private
 * redis-server: totals against brute force, the lifecycle at boundaries,
 * exactly-once decisions with two deciders, idle partitions and the low
 * watermark, and an outbox that survives a failed delivery. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "common/conf.h"
#include "common/log.h"
#include "consumers/boundary.h"
#include "consumers/idle.h"
#include "state/redis_child.h"
#include "state/state.h"
#include "state/boundary_lua.h"
#include "state/boundary_store.h"

#define DAY RW_DAY_MS

typedef struct fx_s {
        rw_redis_child_t redis;
        rw_codec_t *codec;
        redisContext *rc;
        int64_t wall;           /* the tests' wall clock */
} fx_t;

static int fx_setup(void **state) {
        fx_t *fx = calloc(1, sizeof(*fx));
        char errstr[512], dir[512];

        rw_log_set_level(RW_LOG_WARN);
        assert_int_equal(rw_redis_child_start(&fx->redis, errstr, sizeof(errstr)), RW_OK);
        fx->codec = rw_codec_new(rw_schemas_dir(NULL, dir, sizeof(dir)), errstr, sizeof(errstr));
        assert_non_null(fx->codec);
        fx->rc = redisConnectUnix(fx->redis.sock);
        assert_int_equal(fx->rc->err, 0);
        fx->wall = 1772344800000LL;
        *state = fx;
        return 0;
}

static int fx_teardown(void **state) {
        fx_t *fx = *state;
        redisFree(fx->rc);
        rw_codec_destroy(fx->codec);
        rw_redis_child_stop(&fx->redis);
        free(fx);
        return 0;
}

static rw_state_t *state_new(fx_t *fx, const char *ns) {
        rw_conf_t *conf = rw_conf_new();
        rw_state_t *st;
        char errstr[512];
        assert_int_equal(rw_conf_set(conf, "redis.url", fx->redis.url, "test",
                                     errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_set(conf, "state.namespace", ns, "test",
                                     errstr, sizeof(errstr)), RW_OK);
        st = rw_state_new(conf, errstr, sizeof(errstr));
        assert_non_null(st);
        rw_conf_destroy(conf);
        return st;
}

static rw_boundary_t *decider_new(int64_t interval, int64_t window, int max_per_tick,
                                  int64_t lock_ttl) {
        rw_rules_params_t params;
        rw_boundary_opts_t opts;
        rw_boundary_t *bd;
        char errstr[256];

        rw_rules_params_default(&params);
        /* Small portfolios: the window's minimums are tested on their own. */
        params.dep_min_orders = 0;
        params.dep_min_subjects[0] = params.dep_min_subjects[1] = 0;
        params.dep_window_ms = window;
        rw_boundary_opts_default(&opts);
        opts.interval_ms = interval;
        opts.lateness_ms = 0;
        opts.max_per_tick = max_per_tick;
        opts.lock_ttl_ms = lock_ttl;
        bd = rw_boundary_new(&params, &opts, errstr, sizeof(errstr));
        assert_non_null(bd);
        return bd;
}

static void cmd(redisContext *rc, const char *fmt, ...) {
        va_list ap;
        redisReply *r;
        va_start(ap, fmt);
        r = redisvCommand(rc, fmt, ap);
        va_end(ap);
        assert_non_null(r);
        assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
        freeReplyObject(r);
}

/* Rewrite the fold copy NS:{dep}:fc:FAM:K: without subject `drop`, or, with
 * `legacy`, as the hash NS:{dep}:fold:FAM:K earlier versions stored. */
static void fold_rewrite(redisContext *rc, const char *ns, const char *fam, int k,
                         int legacy, const char *drop) {
        redisReply *r = redisCommand(rc, "GET %s:{dep}:fc:%s:%d", ns, fam, k);
        rw_bstore_hash_t h;
        size_t keep = 0, len;
        char *buf;

        assert_non_null(r);
        if (r->type != REDIS_REPLY_STRING) {
                freeReplyObject(r);
                return;
        }
        assert_int_equal(rw_bstore_fold_decode(r->str, r->len, &h), 0);
        freeReplyObject(r);
        cmd(rc, "DEL %s:{dep}:fc:%s:%d", ns, fam, k);
        for (size_t i = 0; i < h.cnt; i++) {
                if (legacy)
                        cmd(rc, "HSET %s:{dep}:fold:%s:%d %b %lld", ns, fam, k, h.v[i].subject,
                            h.v[i].len, (long long)h.v[i].value);
                else if (strcmp(h.v[i].subject, drop))
                        h.v[keep++] = h.v[i];
                /* (a dropped subject is in the decoded copy's names block,
                 * freed with it) */
        }
        if (!legacy) {
                h.cnt = keep;
                assert_int_equal(rw_bstore_fold_encode(&h, &buf, &len), 0);
                if (len)
                        cmd(rc, "SET %s:{dep}:fc:%s:%d %b", ns, fam, k, buf, len);
                free(buf);
        }
        rw_bstore_hash_clear(&h);
}

static long long llget(redisContext *rc, const char *fmt, ...) {
        va_list ap;
        redisReply *r;
        long long v;
        va_start(ap, fmt);
        r = redisvCommand(rc, fmt, ap);
        va_end(ap);
        v = r->type == REDIS_REPLY_INTEGER ? r->integer :
            r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        freeReplyObject(r);
        return v;
}

static char *sget(redisContext *rc, const char *fmt, ...) {
        va_list ap;
        redisReply *r;
        char *v;
        va_start(ap, fmt);
        r = redisvCommand(rc, fmt, ap);
        va_end(ap);
        v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
        freeReplyObject(r);
        return v;
}

/* What a partition owner writes: bucket deltas and its progress. */
static void put(redisContext *rc, const char *ns, int p, char fam, int64_t k,
                const char *subject, int64_t v) {
        char fs[2] = { fam, '\0' };
        cmd(rc, "HINCRBY %s:{%d}:pb:%s:%lld %s %lld", ns, p, fs, (long long)k,
            subject, (long long)v);
}

static void put_first(redisContext *rc, const char *ns, int p, int64_t k) {
        cmd(rc, "SET %s:{%d}:pb:first %lld", ns, p, (long long)k);
}

static void prog(redisContext *rc, const char *ns, int p, int64_t wm, int64_t wall) {
        cmd(rc, "HSET %s:{dep}:prog %d %lld,%lld", ns, p, (long long)wm, (long long)wall);
        cmd(rc, "HSETNX %s:{dep}:prog start %lld", ns, (long long)wall);
}

/*
 * The drain callback: pops the whole outbox atomically (so concurrent
 * drains deliver each element once) and keeps the decoded alerts.
 */

typedef struct got_s {
        char id[40], fp[160], summary[256], subject[64];
        int status, severity, category, subject_type, has_baseline, replay;
        int64_t event_time, window_ms, source_offset;
        int32_t source_partition;
        double observed, threshold;
        char source_topic[16];
} got_t;

typedef struct sink_s {
        redisContext *rc;
        rw_codec_t *codec;
        const char *ns;
        int fail;               /* deliveries fail (nothing trimmed) ... */
        int pass;               /* ... after the first `pass` calls */
        unsigned jitter;        /* seed: sleep up to 2 ms per call (0: none) */
        int calls;
        got_t *v;
        size_t cnt, cap;
} sink_t;

static rw_err_t sink_drain(void *opaque, const char *tag) {
        sink_t *s = opaque;
        redisReply *r;
        char key[128];

        if (++s->calls > s->pass && s->fail)
                return RW_ERR_FAIL;
        if (s->jitter)
                usleep((useconds_t)(rand_r(&s->jitter) % 2000));
        snprintf(key, sizeof(key), "%s:{%s}:outbox", s->ns, tag);
        r = redisCommand(s->rc, "EVAL %s 1 %s",
                         "local v = redis.call('LRANGE', KEYS[1], 0, -1) "
                         "redis.call('DEL', KEYS[1]) return v", key);
        if (!r || r->type != REDIS_REPLY_ARRAY)
                return RW_ERR_FAIL;
        for (size_t i = 0; i < r->elements; i++) {
                rw_record_t rec;
                char errstr[256];
                got_t *g;
                if (rw_codec_decode(s->codec, RW_REC_ALERT, r->element[i]->str,
                                    r->element[i]->len, &rec, errstr, sizeof(errstr)))
                        return RW_ERR_FAIL;
                if (s->cnt == s->cap) {
                        s->cap = s->cap ? s->cap * 2 : 64;
                        s->v = realloc(s->v, s->cap * sizeof(*s->v));
                }
                g = &s->v[s->cnt++];
                memset(g, 0, sizeof(*g));
                snprintf(g->id, sizeof(g->id), "%s", rec.u.alert.alert_id);
                snprintf(g->fp, sizeof(g->fp), "%s", rec.u.alert.fingerprint);
                snprintf(g->summary, sizeof(g->summary), "%s", rec.u.alert.summary);
                snprintf(g->subject, sizeof(g->subject), "%s", rec.u.alert.subject_id);
                snprintf(g->source_topic, sizeof(g->source_topic), "%s",
                         rec.u.alert.source_topic);
                g->status = rec.u.alert.status;
                g->severity = rec.u.alert.severity;
                g->category = rec.u.alert.category;
                g->subject_type = rec.u.alert.subject_type;
                g->has_baseline = rec.u.alert.has_baseline;
                g->replay = rec.u.alert.replay;
                g->event_time = rec.u.alert.event_time;
                g->window_ms = rec.u.alert.window_ms;
                g->source_offset = rec.u.alert.source_offset;
                g->source_partition = rec.u.alert.source_partition;
                g->observed = rec.u.alert.observed;
                g->threshold = rec.u.alert.threshold;
        }
        freeReplyObject(r);
        return RW_OK;
}

static void sink_init(sink_t *s, fx_t *fx, const char *ns) {
        char errstr[256], dir[512];
        memset(s, 0, sizeof(*s));
        s->rc = redisConnectUnix(fx->redis.sock);
        assert_int_equal(s->rc->err, 0);
        s->codec = rw_codec_new(rw_schemas_dir(NULL, dir, sizeof(dir)), errstr, sizeof(errstr));
        assert_non_null(s->codec);
        s->ns = ns;
}

static void sink_clear(sink_t *s) {
        redisFree(s->rc);
        rw_codec_destroy(s->codec);
        free(s->v);
}

static int got_cmp(const void *a, const void *b) {
        const got_t *x = a, *y = b;
        if (x->event_time != y->event_time)
                return x->event_time < y->event_time ? -1 : 1;
        return strcmp(x->fp, y->fp);
}

/* Tick until everything up to L is decided; returns the boundaries decided. */
static int64_t tick_all(rw_boundary_t *bd, rw_state_t *st, rw_codec_t *codec, int parts,
                        int64_t wall, sink_t *sink) {
        rw_boundary_result_t res;
        char errstr[512];
        int64_t n = 0;
        do {
                rw_err_t err = rw_boundary_tick(bd, st, codec, parts, wall, sink_drain,
                                                sink, &res, errstr, sizeof(errstr));
                if (err)
                        fail_msg("tick: %s", errstr);
                assert_false(res.busy);
                n += res.decided;
        } while (res.more);
        return n;
}

/*
 * Totals, shares and HHI equal a brute-force recomputation from the raw
 * buckets, at checkpoints before, at and past a full window.
 */

#define BF_PARTS 3
#define BF_DAYS 140
#define BF_ACCTS 25
#define BF_VENDORS 6

static uint64_t rng_state = 42;
static uint32_t rnd(void) {
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)(rng_state >> 33);
}

static void test_brute_force(void **state) {
        fx_t *fx = *state;
        static int64_t raw[2][BF_DAYS][BF_ACCTS];   /* merged over partitions */
        const int nsub[2] = { BF_ACCTS, BF_VENDORS };
        const int64_t checkpoints[] = { 12, 45, 90, 91, 97, 131, 140 };
        rw_state_t *st = state_new(fx, "bf");
        rw_boundary_t *bd = decider_new(DAY, 90 * DAY, 17, 30000);
        sink_t sink;

        memset(raw, 0, sizeof(raw));
        sink_init(&sink, fx, "bf");
        rng_state = 42;
        for (int p = 0; p < BF_PARTS; p++) {
                int64_t k0 = p == 2 ? 5 : p;    /* partitions start at different days */
                for (int64_t k = k0; k < BF_DAYS; k++) {
                        for (int j = 0; j < 4; j++) {
                                int a = (int)(rnd() % BF_ACCTS), v = (int)(rnd() % BF_VENDORS);
                                int64_t spend = (int64_t)(rnd() % 5000) - 800;   /* refunds too */
                                int64_t value = (int64_t)(rnd() % 9000) * (v == 0 ? 3 : 1);
                                char id[32];
                                snprintf(id, sizeof(id), "acct-%02d", a);
                                put(fx->rc, "bf", p, 'a', k, id, spend);
                                snprintf(id, sizeof(id), "vendor-%02d", v);
                                put(fx->rc, "bf", p, 'v', k, id, value);
                                raw[0][k][a] += spend;
                                raw[1][k][v] += value;
                        }
                }
                put_first(fx->rc, "bf", p, k0);
        }
        for (size_t c = 0; c < RW_ARRAY_SIZE(checkpoints); c++) {
                int64_t C = checkpoints[c], lo = C - 90 > 0 ? C - 90 : 0;
                rw_boundary_status_t bs;
                char errstr[256];

                for (int p = 0; p < BF_PARTS; p++)
                        prog(fx->rc, "bf", p, C * DAY, fx->wall);
                tick_all(bd, st, fx->codec, BF_PARTS, fx->wall, &sink);
                assert_int_equal(llget(fx->rc, "HGET bf:{dep}:agg last"), C * DAY);
                assert_int_equal(llget(fx->rc, "HGET bf:{dep}:agg first"), 0);
                assert_int_equal(rw_boundary_status(bd, st, BF_PARTS, fx->wall, &bs,
                                                    errstr, sizeof(errstr)), RW_OK);
                assert_int_equal(bs.last, C * DAY);
                assert_int_equal(bs.pending, 0);
                for (int fam = 0; fam < 2; fam++) {
                        int64_t tot[BF_ACCTS] = { 0 }, sum = 0, best = INT64_MIN;
                        unsigned __int128 sq = 0;
                        char want[64], *got, tmp[48];
                        size_t n = 0, nz = 0;

                        for (int64_t k = lo; k < C; k++)
                                for (int s = 0; s < nsub[fam]; s++)
                                        tot[s] += raw[fam][k][s];
                        /* The totals as a decider that starts now builds them
                         * from the window's fold copies. */
                        rw_bstore_t fresh = { .interval_ms = DAY, .nwin = 90 };
                        rw_bstore_totals_t q[2];
                        char ids[BF_ACCTS][32];
                        const char *subjects[BF_ACCTS];
                        int64_t values[BF_ACCTS];
                        int64_t cnt[2];

                        for (int s = 0; s < nsub[fam]; s++) {
                                unsigned __int128 a = (unsigned __int128)(tot[s] < 0 ? -tot[s] : tot[s]);
                                snprintf(ids[s], sizeof(ids[s]), fam ? "vendor-%02d" : "acct-%02d", s);
                                subjects[s] = ids[s];
                                sum += tot[s];
                                sq += a * a;
                                nz += tot[s] != 0;
                                if (tot[s] > best)
                                        best = tot[s];
                        }
                        memset(q, 0, sizeof(q));
                        q[fam] = (rw_bstore_totals_t){ .subjects = subjects, .cnt = (size_t)nsub[fam],
                                                       .values = values, .want_range = 1,
                                                       .lo = -1e15 };
                        rw_bstore_init(&fresh, st);
                        assert_int_equal(rw_bstore_read_totals(&fresh, q, errstr, sizeof(errstr)),
                                         RW_OK);
                        for (int s = 0; s < nsub[fam]; s++)
                                assert_int_equal(values[s], tot[s]);
                        /* Every subject with a total, and only those. */
                        assert_int_equal(q[fam].range_cnt, nz);
                        for (size_t j = 0; j < q[fam].range_cnt; j++)
                                assert_true(q[fam].range[j].score != 0);
                        assert_int_equal(rw_bstore_subjects(&fresh, cnt, errstr, sizeof(errstr)),
                                         RW_OK);
                        assert_int_equal(cnt[fam], nz);
                        rw_bstore_totals_clear(q);
                        rw_bstore_release(&fresh);
                        /* The totals are not stored: neither the hashes nor the
                         * sorted sets earlier versions kept. */
                        assert_int_equal(llget(fx->rc, "EXISTS bf:{dep}:tot:%s", fam ? "v" : "a"), 0);
                        assert_int_equal(llget(fx->rc, "EXISTS bf:{dep}:z:%s", fam ? "v" : "a"), 0);
                        assert_int_equal(llget(fx->rc, "HGET bf:{dep}:agg %s:sum",
                                               fam ? "v" : "a"), sum);
                        /* The sum of squares, exactly. */
                        do {
                                tmp[n++] = (char)('0' + (int)(sq % 10));
                                sq /= 10;
                        } while (sq);
                        for (size_t i = 0; i < n; i++)
                                want[i] = tmp[n - 1 - i];
                        want[n] = '\0';
                        got = sget(fx->rc, "HGET bf:{dep}:agg %s:sq", fam ? "v" : "a");
                        assert_non_null(got);
                        assert_string_equal(got, want);
                        free(got);
                        /* Shares and HHI as people see them. */
                        if (sum > 0) {
                                double hhi = strtod(want, NULL) / ((double)sum * (double)sum) * 1e4;
                                double top = fam ? (double)bs.top_vendors[0].total
                                                 : (double)bs.top_accounts[0].total;
                                double share = fam ? bs.top_vendors[0].share
                                                   : bs.top_accounts[0].share;
                                assert_true(fabs((fam ? bs.vendor_hhi : bs.account_hhi) - hhi) <
                                            1e-9 * hhi);
                                assert_true(top == (double)best);
                                assert_true(fabs(share - (double)best / (double)sum) < 1e-12);
                        }
                }
                /* Fold copies: at most one window of them. */
                {
                        redisReply *r = redisCommand(fx->rc, "KEYS bf:{dep}:fc:v:*");
                        assert_true(r->elements <= 90);
                        assert_true(r->elements == (size_t)(C - lo));
                        freeReplyObject(r);
                }
                /* Folded buckets were removed from the partitions' slots. */
                assert_int_equal(llget(fx->rc, "EXISTS bf:{0}:pb:v:%lld", (long long)(C - 1)), 0);
                assert_int_equal(llget(fx->rc, "EXISTS bf:{0}:pb:v:%lld", (long long)C),
                                 C < BF_DAYS ? 1 : 0);
        }
        /* Alert ids are unique, and the lifecycle never repeats a state. */
        for (size_t i = 0; i < sink.cnt; i++)
                for (size_t j = i + 1; j < sink.cnt; j++)
                        assert_string_not_equal(sink.v[i].id, sink.v[j].id);
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/*
 * A decider that builds its totals reads the decided boundary, then the
 * window's fold copies that boundary chooses (with the boundary again, in
 * one MULTI). When another decider moves the boundary on in between, the
 * totals are those of the window as of the new boundary, not a mix; when it
 * moves at every read, the build gives up with an I/O error after 8 reads.
 */
#define MV_DAYS 100
#define MV_ACCTS 8

typedef struct mover_s {
        redisContext *rc;
        int calls;
        int every;              /* move at every call (else at the first) */
        int64_t to;             /* agg.last set at the first call */
} mover_t;

static void mover_hook(void *opaque) {
        mover_t *m = opaque;
        if (m->calls++ == 0 || m->every)
                cmd(m->rc, "HSET mv:{dep}:agg last %lld", (long long)(m->to + (m->calls - 1) * DAY));
}

/* The accounts' totals as a fresh store (*fresh, released by the caller)
 * builds them, with m moving the boundary between its reads. */
static rw_err_t moved_read(rw_state_t *st, mover_t *m, rw_bstore_t *fresh,
                           const char *const *subjects, int64_t *values, char *errstr,
                           size_t errstr_size) {
        rw_bstore_totals_t q[2];
        rw_err_t err;

        *fresh = (rw_bstore_t){ .interval_ms = DAY, .nwin = 90, .load_hook = mover_hook,
                                .load_opaque = m };
        memset(q, 0, sizeof(q));
        q[0] = (rw_bstore_totals_t){ .subjects = subjects, .cnt = MV_ACCTS, .values = values };
        rw_bstore_init(fresh, st);
        err = rw_bstore_read_totals(fresh, q, errstr, errstr_size);
        rw_bstore_totals_clear(q);
        return err;
}

static void test_totals_moved(void **state) {
        fx_t *fx = *state;
        static int64_t raw[MV_DAYS][MV_ACCTS];
        rw_state_t *st = state_new(fx, "mv");
        rw_boundary_t *bd = decider_new(DAY, 90 * DAY, 1000, 30000);
        const int64_t moved = MV_DAYS + 30;     /* the window: days 40 .. 99 */
        int64_t old_tot[MV_ACCTS] = { 0 }, new_tot[MV_ACCTS] = { 0 }, values[MV_ACCTS];
        const char *subjects[MV_ACCTS];
        char ids[MV_ACCTS][16], errstr[256];
        int differ = 0;
        sink_t sink;

        memset(raw, 0, sizeof(raw));
        sink_init(&sink, fx, "mv");
        rng_state = 7;
        for (int64_t k = 0; k < MV_DAYS; k++)
                for (int j = 0; j < 3; j++) {
                        int a = (int)(rnd() % MV_ACCTS);
                        int64_t spend = (int64_t)(rnd() % 5000) + 1;
                        char id[16];
                        snprintf(id, sizeof(id), "acct-%d", a);
                        put(fx->rc, "mv", 0, 'a', k, id, spend);
                        put(fx->rc, "mv", 0, 'v', k, "vendor-0", spend);
                        raw[k][a] += spend;
                }
        put_first(fx->rc, "mv", 0, 0);
        prog(fx->rc, "mv", 0, MV_DAYS * DAY, fx->wall);
        tick_all(bd, st, fx->codec, 1, fx->wall, &sink);
        assert_int_equal(llget(fx->rc, "HGET mv:{dep}:agg last"), MV_DAYS * DAY);
        for (int a = 0; a < MV_ACCTS; a++) {
                snprintf(ids[a], sizeof(ids[a]), "acct-%d", a);
                subjects[a] = ids[a];
                for (int64_t k = MV_DAYS - 90; k < MV_DAYS; k++)
                        old_tot[a] += raw[k][a];
                for (int64_t k = moved - 90; k < MV_DAYS; k++)
                        new_tot[a] += raw[k][a];
                differ += old_tot[a] != new_tot[a];
        }
        assert_true(differ > 0);        /* the two windows tell apart */

        /* Moved once, between the first read and the copies: read again. */
        {
                mover_t m = { .rc = fx->rc, .to = moved * DAY };
                rw_bstore_t fresh;

                assert_int_equal(moved_read(st, &m, &fresh, subjects, values, errstr,
                                            sizeof(errstr)), RW_OK);
                assert_int_equal(m.calls, 2);
                for (int a = 0; a < MV_ACCTS; a++)
                        assert_int_equal(values[a], new_tot[a]);
                assert_int_equal(fresh.tot_last, moved * DAY);
                rw_bstore_release(&fresh);
        }
        /* Moved at every read: given up, as an I/O error (a decider retries
         * it at its next pass), after 8 reads. */
        {
                mover_t m = { .rc = fx->rc, .to = (moved + 1) * DAY, .every = 1 };
                rw_bstore_t fresh;

                assert_int_equal(moved_read(st, &m, &fresh, subjects, values, errstr,
                                            sizeof(errstr)), RW_ERR_IO);
                assert_non_null(strstr(errstr, "moved on at each of 8 reads"));
                assert_int_equal(m.calls, 8);
                assert_false(fresh.tot_ok);
                rw_bstore_release(&fresh);
        }
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/*
 * The lifecycle at boundaries: a 10-day window, one partition, daily
 * boundaries. Vendors 60/35/5% for 35 days, then 20/28.5/51.5%.
 */

static void write_phases(redisContext *rc, const char *ns, int parts, int64_t days) {
        for (int64_t k = 0; k < days; k++) {
                int p = (int)(k % parts);
                static const int64_t a[3] = { 600, 350, 50 }, b[3] = { 200, 285, 515 };
                for (int v = 0; v < 3; v++) {
                        char id[32];
                        snprintf(id, sizeof(id), "vendor-%02d", v + 1);
                        put(rc, ns, p, 'v', k, id, k < 35 ? a[v] : b[v]);
                }
                for (int i = 0; i < 10; i++) {
                        char id[32];
                        snprintf(id, sizeof(id), "acct-%d", i);
                        put(rc, ns, p, 'a', k, id, 100);
                }
        }
        for (int p = 0; p < parts; p++)
                put_first(rc, ns, p, p);
}

static void test_lifecycle(void **state) {
        fx_t *fx = *state;
        rw_state_t *st = state_new(fx, "lc");
        rw_boundary_t *bd = decider_new(DAY, 10 * DAY, 500, 30000);
        struct { int64_t day; const char *fp; int status, severity; } want[] = {
                { 30, "dependency.vendor_hhi/PORTFOLIO/vendors", RW_ALERT_FIRING, RW_SEV_CRITICAL },
                { 30, "dependency.vendor_share/VENDOR/vendor-01", RW_ALERT_FIRING, RW_SEV_CRITICAL },
                { 30, "dependency.vendor_share/VENDOR/vendor-02", RW_ALERT_FIRING, RW_SEV_WARNING },
                { 41, "dependency.vendor_share/VENDOR/vendor-03", RW_ALERT_FIRING, RW_SEV_WARNING },
                { 44, "dependency.vendor_share/VENDOR/vendor-01", RW_ALERT_RESOLVED, RW_SEV_CRITICAL },
                { 45, "dependency.vendor_share/VENDOR/vendor-03", RW_ALERT_FIRING, RW_SEV_CRITICAL },
        };
        sink_t sink;
        char id[40], *f;

        sink_init(&sink, fx, "lc");
        write_phases(fx->rc, "lc", 1, 60);
        /* Up to day 29: less than 30 days of history, nothing fires. */
        prog(fx->rc, "lc", 0, 29 * DAY, fx->wall);
        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 29);
        assert_int_equal(sink.cnt, 0);
        prog(fx->rc, "lc", 0, 60 * DAY, fx->wall);
        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 31);
        qsort(sink.v, sink.cnt, sizeof(*sink.v), got_cmp);
        assert_int_equal(sink.cnt, RW_ARRAY_SIZE(want));
        for (size_t i = 0; i < sink.cnt; i++) {
                const got_t *g = &sink.v[i];
                assert_int_equal(g->event_time, want[i].day * DAY);
                assert_string_equal(g->fp, want[i].fp);
                assert_int_equal(g->status, want[i].status);
                assert_int_equal(g->severity, want[i].severity);
                assert_int_equal(g->category, RW_CAT_DEPENDENCY);
                assert_int_equal(g->window_ms, 10 * DAY);
                assert_string_equal(g->source_topic, "");
                assert_int_equal(g->source_partition, -1);
                assert_int_equal(g->source_offset, -1);
                assert_int_equal(g->has_baseline, 0);
                assert_int_equal(g->replay, 0);
                rw_alert_id_derive(g->fp, rw_alert_status_name(g->status),
                                   rw_alert_severity_name(g->severity), g->event_time,
                                   id, sizeof(id));
                assert_string_equal(g->id, id);
        }
        assert_int_equal(sink.v[0].subject_type, RW_SUBJ_PORTFOLIO);
        assert_string_equal(sink.v[0].subject, "vendors");
        assert_int_equal(sink.v[1].subject_type, RW_SUBJ_VENDOR);
        assert_string_equal(sink.v[1].subject, "vendor-01");
        assert_string_equal(sink.v[1].summary,
                            "vendor-01: 60% of all order value over 10 days (limit 50%)");
        assert_true(fabs(sink.v[1].observed - 0.6) < 1e-12);
        assert_true(fabs(sink.v[0].observed - 4850) < 1e-6);
        assert_non_null(strstr(sink.v[4].summary, "back to normal"));
        assert_true(fabs(sink.v[4].observed - 0.24) < 1e-12);
        /* vendor-02 sits between warn*(1-h) and warn: still firing. */
        f = sget(fx->rc, "HGET lc:{dep}:f dependency.vendor_share/VENDOR/vendor-02");
        assert_string_equal(f, "1,1,0");
        free(f);
        /* vendor-01 resolved at day 44; a day later its cooldown is over and
         * its state, equal to none, is gone. */
        assert_int_equal(llget(fx->rc, "HEXISTS lc:{dep}:f "
                               "dependency.vendor_share/VENDOR/vendor-01"), 0);
        f = sget(fx->rc, "HGET lc:{dep}:f dependency.vendor_share/VENDOR/vendor-03");
        assert_string_equal(f, "1,2,0");
        free(f);
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/*
 * Two deciders decide each boundary exactly once: taking turns, and
 * concurrently with a lock that expires at once (only the fence holds).
 */

static void write_drift(redisContext *rc, const char *ns, int parts, int64_t days) {
        uint64_t saved = rng_state;
        rng_state = 7;
        for (int64_t k = 0; k < days; k++) {
                for (int p = 0; p < parts; p++) {
                        int64_t era = k / 20;
                        for (int v = 0; v < 4; v++) {
                                char id[32];
                                int64_t w = (v == era % 4) ? 6000 : 1000 + rnd() % 1500;
                                snprintf(id, sizeof(id), "vendor-%02d", v);
                                put(rc, ns, p, 'v', k, id, w);
                        }
                        for (int a = 0; a < 6; a++) {
                                char id[32];
                                int64_t w = (a == (k / 25) % 6) ? 4000 : 500 + rnd() % 800;
                                snprintf(id, sizeof(id), "acct-%d", a);
                                put(rc, ns, p, 'a', k, id, w);
                        }
                }
        }
        for (int p = 0; p < parts; p++)
                put_first(rc, ns, p, 0);
        rng_state = saved;
}

typedef struct racer_s {
        fx_t *fx;
        rw_state_t *st;
        rw_boundary_t *bd;
        sink_t sink;
        int64_t decided, stale, busy, final;
        int parts;
} racer_t;

static void *racer_run(void *arg) {
        racer_t *r = arg;
        redisContext *rc = redisConnectUnix(r->fx->redis.sock);
        for (;;) {
                rw_boundary_result_t res;
                char errstr[512];
                redisReply *rep;
                int64_t last;
                if (rw_boundary_tick(r->bd, r->st, r->sink.codec,
                                     r->parts, r->fx->wall, sink_drain, &r->sink, &res,
                                     errstr, sizeof(errstr)) != RW_OK) {
                        fprintf(stderr, "racer: %s\n", errstr);
                        break;
                }
                r->decided += res.decided;
                r->stale += res.stale;
                r->busy += res.busy;
                rep = redisCommand(rc, "HGET tw:{dep}:agg last");
                last = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : -1;
                freeReplyObject(rep);
                if (last >= r->final)
                        break;
        }
        /* What the other one decided after this one's last drain. */
        sink_drain(&r->sink, "dep");
        redisFree(rc);
        return NULL;
}

static void test_two_deciders(void **state) {
        fx_t *fx = *state;
        const int parts = 2;
        const int64_t days = 160;
        rw_state_t *ref_st = state_new(fx, "tr"), *st1 = state_new(fx, "tw"),
                   *st2 = state_new(fx, "tw");
        rw_boundary_t *ref = decider_new(DAY / 4, 30 * DAY, 500, 30000);
        racer_t r1 = { .fx = fx, .st = st1, .parts = parts },
                r2 = { .fx = fx, .st = st2, .parts = parts };
        sink_t ref_sink;
        got_t *all;
        size_t n;
        pthread_t t1, t2;
        int64_t boundaries = days * 4;

        write_drift(fx->rc, "tr", parts, days);
        write_drift(fx->rc, "tw", parts, days);
        sink_init(&ref_sink, fx, "tr");
        sink_init(&r1.sink, fx, "tw");
        sink_init(&r2.sink, fx, "tw");
        for (int p = 0; p < parts; p++) {
                prog(fx->rc, "tr", p, days * DAY, fx->wall);
                prog(fx->rc, "tw", p, 0, fx->wall);
        }
        assert_int_equal(tick_all(ref, ref_st, fx->codec, parts, fx->wall, &ref_sink),
                         boundaries);
        assert_true(ref_sink.cnt >= 10);

        /* Taking turns, a few boundaries each, as the partitions advance. */
        r1.bd = decider_new(DAY / 4, 30 * DAY, 7, 30000);
        r2.bd = decider_new(DAY / 4, 30 * DAY, 7, 30000);
        for (int64_t d = 1; d <= 80; d += 3) {
                for (int p = 0; p < parts; p++)
                        prog(fx->rc, "tw", p, d * DAY, fx->wall);
                for (int i = 0; i < 4; i++) {
                        racer_t *r = i % 2 ? &r2 : &r1;
                        rw_boundary_result_t res;
                        char errstr[512];
                        assert_int_equal(rw_boundary_tick(r->bd, r->st, r->sink.codec, parts,
                                                          fx->wall, sink_drain, &r->sink, &res,
                                                          errstr, sizeof(errstr)), RW_OK);
                        r->decided += res.decided;
                }
        }
        assert_true(r1.decided > 0 && r2.decided > 0);
        rw_boundary_destroy(r1.bd);
        rw_boundary_destroy(r2.bd);

        /* Concurrently, with a lock that is gone after 1 ms and deliveries
         * that take up to 2 ms: the deciders overlap, only the fence holds. */
        r1.bd = decider_new(DAY / 4, 30 * DAY, 20, 1);
        r2.bd = decider_new(DAY / 4, 30 * DAY, 20, 1);
        r1.sink.jitter = 1;
        r2.sink.jitter = 2;
        r1.final = r2.final = days * DAY;
        for (int p = 0; p < parts; p++)
                prog(fx->rc, "tw", p, days * DAY, fx->wall);
        assert_int_equal(pthread_create(&t1, NULL, racer_run, &r1), 0);
        assert_int_equal(pthread_create(&t2, NULL, racer_run, &r2), 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        print_message("two deciders: %lld + %lld boundaries, %lld stale stops, %lld busy\n",
                      (long long)r1.decided, (long long)r2.decided,
                      (long long)(r1.stale + r2.stale), (long long)(r1.busy + r2.busy));

        /* Every boundary decided once, every transition delivered once. */
        assert_int_equal(r1.decided + r2.decided, boundaries);
        assert_int_equal(llget(fx->rc, "HGET tw:{dep}:agg last"), days * DAY);
        n = r1.sink.cnt + r2.sink.cnt;
        assert_int_equal(n, ref_sink.cnt);
        all = malloc(n * sizeof(*all));
        memcpy(all, r1.sink.v, r1.sink.cnt * sizeof(*all));
        memcpy(all + r1.sink.cnt, r2.sink.v, r2.sink.cnt * sizeof(*all));
        qsort(all, n, sizeof(*all), got_cmp);
        qsort(ref_sink.v, n, sizeof(*all), got_cmp);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(all[i].id, ref_sink.v[i].id);
                if (i)
                        assert_string_not_equal(all[i].id, all[i - 1].id);
        }
        /* The same state as the single decider's. */
        for (int i = 0; i < 6; i++) {
                static const char *fields[] = { "a:sum", "v:sum", "a:sq", "v:sq", "last", "first" };
                char *x = sget(fx->rc, "HGET tr:{dep}:agg %s", fields[i]);
                char *y = sget(fx->rc, "HGET tw:{dep}:agg %s", fields[i]);
                assert_string_equal(x, y);
                free(x);
                free(y);
        }
        free(all);
        sink_clear(&r1.sink);
        sink_clear(&r2.sink);
        sink_clear(&ref_sink);
        rw_boundary_destroy(r1.bd);
        rw_boundary_destroy(r2.bd);
        rw_boundary_destroy(ref);
        rw_state_destroy(st1);
        rw_state_destroy(st2);
        rw_state_destroy(ref_st);
}

/*
 * Idle partitions: only one its owner reports at its end, for idle.timeout
 * and freshly, stops holding L back. One that is merely silent (behind, its
 * fetches or writes stalled) holds it back however long; so does one that
 * never reported, and one whose at-end report went stale.
 */

static int64_t low(rw_boundary_t *bd, rw_state_t *st, int parts, int64_t wall) {
        rw_boundary_status_t bs;
        char errstr[256];
        assert_int_equal(rw_boundary_status(bd, st, parts, wall, &bs, errstr, sizeof(errstr)),
                         RW_OK);
        return bs.low_watermark;
}

/* An owner's at-end report: "<wm>,<wall>,<end since>". */
static void prog_end(redisContext *rc, const char *ns, int p, int64_t wm, int64_t wall,
                     int64_t since) {
        cmd(rc, "HSET %s:{dep}:prog %d %lld,%lld,%lld", ns, p, (long long)wm,
            (long long)wall, (long long)since);
}

static void test_idle(void **state) {
        fx_t *fx = *state;
        rw_state_t *st = state_new(fx, "id");
        rw_boundary_t *bd = decider_new(DAY, 90 * DAY, 500, 30000);
        const int64_t w = fx->wall;
        sink_t sink;

        sink_init(&sink, fx, "id");
        assert_int_equal(low(bd, st, 2, w), INT64_MIN);         /* no progress at all */
        write_phases(fx->rc, "id", 2, 12);
        prog(fx->rc, "id", 0, 10 * DAY, w);
        /* Partition 1 never reported: it holds, however long. */
        assert_int_equal(low(bd, st, 2, w + 30000), INT64_MIN);
        assert_int_equal(tick_all(bd, st, fx->codec, 2, w + 30000, &sink), 0);
        assert_int_equal(low(bd, st, 2, w + 3600000), INT64_MIN);
        /* Partition 1 behind: it holds L back. */
        prog(fx->rc, "id", 1, 3 * DAY, w + 30000);
        prog(fx->rc, "id", 0, 10 * DAY, w + 30000);
        assert_int_equal(low(bd, st, 2, w + 30001), 3 * DAY);
        assert_int_equal(tick_all(bd, st, fx->codec, 2, w + 30001, &sink), 3);
        /* Partition 1 silent for an hour (a stalled fetch, a stalled Redis):
         * still behind, still holding. */
        prog(fx->rc, "id", 0, 11 * DAY, w + 60000);
        assert_int_equal(low(bd, st, 2, w + 3600000), 3 * DAY);
        /* At its end: it holds for idle.timeout, then no more. */
        prog_end(fx->rc, "id", 1, 3 * DAY, w + 60000, w + 60000);
        assert_int_equal(low(bd, st, 2, w + 60000), 3 * DAY);
        assert_int_equal(low(bd, st, 2, w + 89999), 3 * DAY);
        prog_end(fx->rc, "id", 1, 3 * DAY, w + 90000, w + 60000);
        assert_int_equal(low(bd, st, 2, w + 90000), 11 * DAY);  /* idle */
        /* ... while its owner says so: a report older than the freshness
         * bound says nothing (the owner may have stalled since). */
        assert_int_equal(low(bd, st, 2, w + 90000 + RW_IDLE_FRESH_MS), 11 * DAY);
        assert_int_equal(low(bd, st, 2, w + 90001 + RW_IDLE_FRESH_MS), 3 * DAY);
        assert_int_equal(tick_all(bd, st, fx->codec, 2, w + 90000, &sink), 8);
        /* A batch report withdraws it (records arrived). */
        prog(fx->rc, "id", 1, 3 * DAY, w + 90001);
        assert_int_equal(low(bd, st, 2, w + 90002), 3 * DAY);
        /* Both idle: the furthest partition's now. */
        prog_end(fx->rc, "id", 0, 11 * DAY, w + 200000, w + 100000);
        prog_end(fx->rc, "id", 1, 3 * DAY, w + 200000, w + 100000);
        assert_int_equal(low(bd, st, 2, w + 200000), 11 * DAY);
        /* A replay (run -e): nothing is idle, the lowest holds. */
        rw_boundary_set_replay(bd, 1);
        assert_int_equal(low(bd, st, 2, w + 200000), 3 * DAY);
        rw_boundary_set_replay(bd, 0);
        prog_end(fx->rc, "id", 0, 11 * DAY, w + 300000, w + 300000);
        prog(fx->rc, "id", 1, 3 * DAY, w + 300000);
        /* Lateness counts: now = wm - allowed.lateness. */
        {
                rw_rules_params_t params;
                rw_boundary_opts_t opts;
                rw_boundary_t *late;
                char errstr[256];
                rw_rules_params_default(&params);
                rw_boundary_opts_default(&opts);
                opts.interval_ms = DAY;
                opts.lateness_ms = 3600 * 1000;
                late = rw_boundary_new(&params, &opts, errstr, sizeof(errstr));
                assert_int_equal(low(late, st, 2, w + 300000), 3 * DAY - 3600 * 1000);
                rw_boundary_destroy(late);
        }
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/*
 * A delivery that fails after the decision loses nothing: the decisions
 * stay in the outbox and the next tick delivers the same alert ids.
 */

static void test_crash_before_drain(void **state) {
        fx_t *fx = *state;
        rw_state_t *st = state_new(fx, "cr");
        rw_boundary_t *bd = decider_new(DAY, 10 * DAY, 500, 30000);
        rw_boundary_result_t res;
        sink_t sink;
        char errstr[512];
        redisReply *r;
        char ids[8][40];
        size_t n;

        sink_init(&sink, fx, "cr");
        write_phases(fx->rc, "cr", 2, 60);
        prog(fx->rc, "cr", 0, 60 * DAY, fx->wall);
        prog(fx->rc, "cr", 1, 60 * DAY, fx->wall);
        sink.fail = 1;          /* the outbox is empty at the start; then it fails */
        sink.pass = 1;
        assert_int_equal(rw_boundary_tick(bd, st, fx->codec, 2, fx->wall, sink_drain, &sink,
                                          &res, errstr, sizeof(errstr)), RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "delivery failed"));
        assert_int_equal(res.decided, 60);
        assert_int_equal(res.alerts, 6);
        /* The lock was released: another decider is not kept waiting. */
        assert_int_equal(llget(fx->rc, "EXISTS cr:{dep}:lock"), 0);
        r = redisCommand(fx->rc, "LRANGE cr:{dep}:outbox 0 -1");
        assert_int_equal(r->elements, 6);
        n = r->elements;
        for (size_t i = 0; i < n; i++) {
                rw_record_t rec;
                assert_int_equal(rw_codec_decode(fx->codec, RW_REC_ALERT, r->element[i]->str,
                                                 r->element[i]->len, &rec, errstr,
                                                 sizeof(errstr)), RW_CODEC_OK);
                snprintf(ids[i], sizeof(ids[i]), "%s", rec.u.alert.alert_id);
        }
        freeReplyObject(r);
        /* Delivery fails again at the start of the next tick: nothing moves. */
        assert_int_equal(rw_boundary_tick(bd, st, fx->codec, 2, fx->wall, sink_drain, &sink,
                                          &res, errstr, sizeof(errstr)), RW_ERR_FAIL);
        assert_int_equal(llget(fx->rc, "LLEN cr:{dep}:outbox"), 6);
        /* A fresh decider (the crashed one's successor) delivers them. */
        rw_boundary_destroy(bd);
        bd = decider_new(DAY, 10 * DAY, 500, 30000);
        sink.fail = 0;
        assert_int_equal(rw_boundary_tick(bd, st, fx->codec, 2, fx->wall, sink_drain, &sink,
                                          &res, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(res.decided, 0);
        assert_int_equal(sink.cnt, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(sink.v[i].id, ids[i]);
        assert_int_equal(llget(fx->rc, "LLEN cr:{dep}:outbox"), 0);
        assert_int_equal(llget(fx->rc, "HGET cr:{dep}:agg last"), 60 * DAY);
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/* A lost connection is RW_ERR_IO; the next tick reconnects and goes on, and
 * the lock it still holds under its token is its own. */
static void test_connection_lost(void **state) {
        fx_t *fx = *state;
        rw_state_t *st = state_new(fx, "io");
        rw_boundary_t *bd = decider_new(DAY, 10 * DAY, 5, 30000);
        rw_boundary_result_t res;
        sink_t sink;
        char errstr[512];

        sink_init(&sink, fx, "io");
        write_phases(fx->rc, "io", 1, 20);
        prog(fx->rc, "io", 0, 20 * DAY, fx->wall);
        assert_int_equal(rw_boundary_tick(bd, st, fx->codec, 1, fx->wall, sink_drain, &sink,
                                          &res, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(res.decided, 5);
        assert_true(res.more);
        /* Drop every other client (the decider's connection). */
        cmd(fx->rc, "CLIENT KILL TYPE normal SKIPME yes");
        assert_int_equal(rw_boundary_tick(bd, st, fx->codec, 1, fx->wall, sink_drain, &sink,
                                          &res, errstr, sizeof(errstr)), RW_ERR_IO);
        redisFree(sink.rc);
        sink.rc = redisConnectUnix(fx->redis.sock);
        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 15);
        assert_int_equal(llget(fx->rc, "HGET io:{dep}:agg last"), 20 * DAY);
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/* A subject with no new orders and none leaving the window is decided too
 * when the others' leaving raises its share. */
static void test_quiet_subject(void **state) {
        fx_t *fx = *state;
        rw_state_t *st = state_new(fx, "qs");
        rw_boundary_t *bd = decider_new(DAY, 40 * DAY, 500, 30000);
        sink_t sink;
        size_t found = 0;

        sink_init(&sink, fx, "qs");
        put(fx->rc, "qs", 0, 'v', 10, "vendor-quiet", 3000);
        for (int64_t k = 0; k < 60; k++)
                put(fx->rc, "qs", 0, 'v', k, "vendor-busy", k < 10 ? 1000 : 50);
        put_first(fx->rc, "qs", 0, 0);
        prog(fx->rc, "qs", 0, 60 * DAY, fx->wall);
        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 60);
        /* 3000 / (5000 + 1750) at day 45, 3000 / (1000 + 1950) at day 49;
         * its own bucket leaves at day 51. */
        static const struct { int64_t day; int status, severity; } want[3] = {
                { 45, RW_ALERT_FIRING, RW_SEV_WARNING },
                { 49, RW_ALERT_FIRING, RW_SEV_CRITICAL },
                { 51, RW_ALERT_RESOLVED, RW_SEV_CRITICAL },
        };
        for (size_t i = 0; i < sink.cnt; i++) {
                const got_t *g = &sink.v[i];
                if (strcmp(g->subject, "vendor-quiet"))
                        continue;
                assert_true(found < 3);
                assert_int_equal(g->event_time, want[found].day * DAY);
                assert_int_equal(g->status, want[found].status);
                assert_int_equal(g->severity, want[found].severity);
                found++;
        }
        assert_int_equal(found, 3);
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/* The script writes nothing unless agg.last is still what the decider read. */
static void test_fence(void **state) {
        fx_t *fx = *state;
        rw_state_t *st = state_new(fx, "fe");
        rw_boundary_t *bd = decider_new(DAY, 10 * DAY, 500, 30000);
        sink_t sink;
        redisReply *r;
        redisReply *before;

        sink_init(&sink, fx, "fe");
        write_phases(fx->rc, "fe", 1, 40);
        prog(fx->rc, "fe", 0, 40 * DAY, fx->wall);
        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 40);
        before = redisCommand(fx->rc, "GET fe:{dep}:fc:v:39");
        assert_int_equal(before->type, REDIS_REPLY_STRING);
        /* A decider that read last = 39 days decides day 40 again. */
        r = redisCommand(fx->rc, "EVAL %s 1 fe:{dep}:agg fe:{dep}: %lld %lld tok 1000 39 1 "
                         "29 29 1 first 0  x y  0  1 x", rw_boundary_lua,
                         (long long)(39 * DAY), (long long)(40 * DAY));
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_string_equal(r->element[0]->str, "STALE");
        assert_int_equal(strtoll(r->element[1]->str, NULL, 10), 40 * DAY);
        freeReplyObject(r);
        assert_int_equal(llget(fx->rc, "HGET fe:{dep}:agg last"), 40 * DAY);
        assert_int_equal(llget(fx->rc, "HGET fe:{dep}:agg first"), 0);
        assert_int_equal(llget(fx->rc, "LLEN fe:{dep}:outbox"), 0);
        {
                redisReply *after = redisCommand(fx->rc, "GET fe:{dep}:fc:v:39");
                assert_int_equal(after->type, REDIS_REPLY_STRING);
                assert_int_equal(after->len, before->len);
                assert_memory_equal(after->str, before->str, before->len);
                freeReplyObject(after);
        }
        freeReplyObject(before);
        sink_clear(&sink);
        rw_boundary_destroy(bd);
        rw_state_destroy(st);
}

/*
 * Runs: folding many boundaries per script call decides exactly what
 * deciding them one by one does (the same alerts, ids, order and stored
 * state), in far fewer round trips.
 */

#define RUN_PARTS 2
#define RUN_Q (DAY / 4)         /* the evaluation interval: 6 h */
#define RUN_K 240               /* 60 days of intervals */

/* Every key of the namespace but the lock, canonical: name, type, value. */
static char *dump_ns(redisContext *rc, const char *ns) {
        static const char lua[] =
                "local out = {} "
                "local keys = redis.call('KEYS', ARGV[1] .. ':*') "
                "table.sort(keys) "
                "for _, k in ipairs(keys) do "
                "  local name = string.sub(k, #ARGV[1] + 1) "
                "  local t = redis.call('TYPE', k).ok "
                "  local v "
                "  if t == 'hash' then "
                "    local h = redis.call('HGETALL', k) local f = {} "
                "    for i = 1, #h, 2 do f[#f + 1] = h[i] .. '=' .. h[i + 1] end "
                "    table.sort(f) v = table.concat(f, ',') "
                "  elseif t == 'zset' then "
                "    v = table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), ',') "
                "  elseif t == 'list' then "
                "    v = tostring(redis.call('LLEN', k)) "
                "  else v = redis.call('GET', k) end "
                "  if not string.find(name, ':lock$') then "
                "    out[#out + 1] = name .. ' ' .. t .. ' ' .. v end "
                "end "
                "return table.concat(out, '\\n')";
        redisReply *r = redisCommand(rc, "EVAL %s 0 %s", lua, ns);
        char *v;
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        v = strdup(r->str);
        freeReplyObject(r);
        return v;
}

static void test_runs(void **state) {
        fx_t *fx = *state;
        static const char *ns[4] = { "r1", "r7", "rN", "rP" };
        static const int per_call[4] = { 1, 7, 100, 100 };
        /* Where the group's low watermark stands at each round of ticks. */
        static const int64_t checkpoints[] = { 3 * DAY, 7 * DAY + RUN_Q, 19 * DAY + 2 * RUN_Q,
                                               33 * DAY, 47 * DAY + 3 * RUN_Q, 60 * DAY };
        int64_t trips[4] = { 0 }, decided[4] = { 0 }, read_max[4] = { 0 };
        sink_t sink[4];
        rw_state_t *st[4];
        rw_boundary_t *bd[4];
        char *dump[4];
        size_t firing = 0;

        for (int d = 0; d < 4; d++) {
                rw_rules_params_t params;
                rw_boundary_opts_t opts;
                char errstr[256];

                rw_rules_params_default(&params);
                params.dep_min_orders = 0;
                params.dep_min_subjects[0] = params.dep_min_subjects[1] = 0;
                params.dep_window_ms = 20 * DAY;        /* 80 intervals */
                params.dep_min_history_ms = 5 * DAY;
                params.cooldown_ms = 2 * DAY;
                rw_boundary_opts_default(&opts);
                opts.interval_ms = RUN_Q;
                opts.lateness_ms = 0;
                opts.max_per_tick = 500;
                opts.max_per_call = per_call[d];
                if (d == 3)
                        opts.max_run_pairs = 60;        /* runs cut by their size */
                assert_non_null(bd[d] = rw_boundary_new(&params, &opts, errstr, sizeof(errstr)));
                st[d] = state_new(fx, ns[d]);
                sink_init(&sink[d], fx, ns[d]);
        }
        /* The same history in each namespace: a dominant account and
         * vendor that change every 10 and 15 days, refunds, quiet spells. */
        rng_state = 7;
        for (int64_t k = 0; k < RUN_K; k++) {
                for (int p = 0; p < RUN_PARTS; p++) {
                        if (rnd() % 5 == 0)
                                continue;
                        for (int j = 0; j < 3; j++) {
                                int a = (int)(rnd() % 8), v = (int)(rnd() % 5);
                                int64_t spend = (int64_t)(rnd() % 3000) - 500;
                                int64_t value = (int64_t)(rnd() % 4000);
                                char id[32];
                                if (a == (int)(k / 40) % 8)
                                        spend *= 6;
                                if (v == (int)(k / 60) % 5)
                                        value *= 5;
                                for (int d = 0; d < 4; d++) {
                                        snprintf(id, sizeof(id), "acct-%d", a);
                                        put(fx->rc, ns[d], p, 'a', k, id, spend);
                                        snprintf(id, sizeof(id), "vendor-%d", v);
                                        put(fx->rc, ns[d], p, 'v', k, id, value);
                                }
                        }
                }
        }
        for (int d = 0; d < 4; d++)
                for (int p = 0; p < RUN_PARTS; p++)
                        put_first(fx->rc, ns[d], p, 0);
        for (size_t c = 0; c < RW_ARRAY_SIZE(checkpoints); c++) {
                for (int d = 0; d < 4; d++) {
                        rw_boundary_result_t res;
                        char errstr[512];
                        for (int p = 0; p < RUN_PARTS; p++)
                                prog(fx->rc, ns[d], p, checkpoints[c], fx->wall);
                        do {
                                if (rw_boundary_tick(bd[d], st[d], sink[d].codec, RUN_PARTS,
                                                     fx->wall, sink_drain, &sink[d], &res,
                                                     errstr, sizeof(errstr)))
                                        fail_msg("tick: %s", errstr);
                                trips[d] += res.round_trips;
                                decided[d] += res.decided;
                                if (res.read_pairs_max > read_max[d])
                                        read_max[d] = res.read_pairs_max;
                        } while (res.more);
                }
        }
        for (int d = 0; d < 4; d++) {
                assert_int_equal(decided[d], RUN_K);
                assert_int_equal(llget(fx->rc, "HGET %s:{dep}:agg last", ns[d]), 60 * DAY);
                dump[d] = dump_ns(fx->rc, ns[d]);
        }
        /* The history is not a quiet one. */
        for (size_t i = 0; i < sink[0].cnt; i++)
                firing += sink[0].v[i].status == RW_ALERT_FIRING;
        assert_true(firing >= 4);
        assert_true(sink[0].cnt > firing);
        for (int d = 1; d < 4; d++) {
                assert_string_equal(dump[0], dump[d]);
                assert_int_equal(sink[d].cnt, sink[0].cnt);
                for (size_t i = 0; i < sink[0].cnt; i++) {
                        const got_t *x = &sink[0].v[i], *y = &sink[d].v[i];
                        assert_string_equal(x->id, y->id);
                        assert_string_equal(x->fp, y->fp);
                        assert_string_equal(x->summary, y->summary);
                        assert_int_equal(x->event_time, y->event_time);
                        assert_int_equal(x->status, y->status);
                        assert_int_equal(x->severity, y->severity);
                        assert_true(x->observed == y->observed);
                }
        }
        print_message("runs: %zu alerts; round trips for %d boundaries: %lld (1 per call), "
                      "%lld (7), %lld (100), %lld (100, at most 60 subject entries); "
                      "the most subject entries one run read: %lld (100), %lld (at most 60)\n",
                      sink[0].cnt, RUN_K, (long long)trips[0], (long long)trips[1],
                      (long long)trips[2], (long long)trips[3], (long long)read_max[2],
                      (long long)read_max[3]);
        /* Two round trips per boundary one by one (its buckets, the script:
         * the decider reads the totals once and keeps them); a run costs
         * two. */
        assert_true(trips[0] >= 2 * RUN_K && trips[0] < 3 * RUN_K);
        assert_true(trips[2] * 10 < trips[0]);
        /* Runs cut by size are shorter, but still runs. */
        assert_true(trips[3] > trips[2] && trips[3] < trips[0]);
        /* And they read no more than their size allows (at the density of
         * the run before, which varies): a run holds what it reads at
         * once. Reading max_per_call boundaries and deciding fewer held
         * all 100. */
        assert_true(read_max[2] >= 5 * 60);
        assert_true(read_max[3] <= 2 * 60);
        for (int d = 0; d < 4; d++) {
                free(dump[d]);
                sink_clear(&sink[d]);
                rw_boundary_destroy(bd[d]);
                rw_state_destroy(st[d]);
        }
}

/*
 * The window's own minimums (rules.dependency.min_orders, min_vendors):
 * two vendors decide nothing, a third makes the rules decide; as the window
 * drains below the orders it needs, the firing alerts resolve, saying why.
 * The orders are counted from the vendor buckets' field "" (no vendor id is
 * empty) and their fold copies; runs of 1 and of many boundaries agree, and
 * so does a portfolio decided before the counts were kept (they are taken
 * up where it stands: subjects from the totals, orders a window on), and
 * a decider that starts on fold copies stored as hashes (earlier versions)
 * builds the same totals from them.
 */
static void test_window_minimums(void **state) {
        fx_t *fx = *state;
        static const char *const nss[4] = { "wm1", "wmn", "wmu", "wml" };
        got_t first[6];
        size_t first_cnt = 0;

        for (int v = 0; v < 4; v++) {
                const char *ns = nss[v];
                rw_state_t *st = state_new(fx, ns);
                rw_rules_params_t params;
                rw_boundary_opts_t opts;
                rw_boundary_t *bd;
                char errstr[256], *f;
                sink_t sink;

                rw_rules_params_default(&params);
                params.dep_window_ms = 10 * DAY;
                params.dep_min_history_ms = 0;
                params.dep_min_orders = 5;
                params.dep_min_subjects[0] = 0;
                params.dep_min_subjects[1] = 3;
                params.enabled[RW_RULE_ACCOUNT_SHARE] = 0;
                params.enabled[RW_RULE_ACCOUNT_HHI] = 0;
                rw_boundary_opts_default(&opts);
                opts.interval_ms = DAY;
                opts.lateness_ms = 0;
                opts.max_per_tick = v ? 100 : 1;
                bd = rw_boundary_new(&params, &opts, errstr, sizeof(errstr));
                assert_non_null(bd);
                sink_init(&sink, fx, ns);
                /* Days 0..4: two vendors (v-a 60%), 2 orders a day; days
                 * 5..9: a third (v-a 600 of 1100), 3 orders a day. */
                for (int64_t k = 0; k < 10; k++) {
                        put(fx->rc, ns, 0, 'v', k, "v-a", 600);
                        put(fx->rc, ns, 0, 'v', k, "v-b", 400);
                        if (k >= 5)
                                put(fx->rc, ns, 0, 'v', k, "v-c", 100);
                        cmd(fx->rc, "HINCRBY %s:{0}:pb:v:%lld %s %d", ns, (long long)k, "",
                            k >= 5 ? 3 : 2);
                        put(fx->rc, ns, 0, 'a', k, "acct-1", 1000);
                }
                put_first(fx->rc, ns, 0, 0);
                if (v == 2) {
                        /* Up to 7 decided, then the counts forgotten. */
                        prog(fx->rc, ns, 0, 7 * DAY, fx->wall);
                        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 7);
                        cmd(fx->rc, "HDEL %s:{dep}:agg orders orders_since a:n v:n", ns);
                        for (int k = 0; k < 7; k++)     /* nor were they folded */
                                fold_rewrite(fx->rc, ns, "v", k, 0, "");
                }
                if (v == 3) {
                        /* Up to 7 decided, the fold copies then stored as an
                         * earlier version kept them (hashes): read the same,
                         * and deleted as they leave the window. */
                        prog(fx->rc, ns, 0, 7 * DAY, fx->wall);
                        assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink), 7);
                        for (int k = 0; k < 7; k++) {
                                fold_rewrite(fx->rc, ns, "a", k, 1, NULL);
                                fold_rewrite(fx->rc, ns, "v", k, 1, NULL);
                        }
                        assert_int_equal(llget(fx->rc, "EXISTS %s:{dep}:fold:v:3", ns), 1);
                        assert_int_equal(llget(fx->rc, "EXISTS %s:{dep}:fc:v:3", ns), 0);
                }
                if (v >= 2) {
                        /* Taken up by a decider that starts now: it builds the
                         * totals from the copies as they are stored. */
                        rw_boundary_destroy(bd);
                        bd = rw_boundary_new(&params, &opts, errstr, sizeof(errstr));
                        assert_non_null(bd);
                }
                prog(fx->rc, ns, 0, 30 * DAY, fx->wall);
                assert_int_equal(tick_all(bd, st, fx->codec, 1, fx->wall, &sink),
                                 v >= 2 ? 23 : 30);
                if (v == 3) {
                        redisReply *r = redisCommand(fx->rc, "KEYS %s:{dep}:fold:*", ns);
                        assert_int_equal(r->elements, 0);
                        freeReplyObject(r);
                }
                qsort(sink.v, sink.cnt, sizeof(*sink.v), got_cmp);
                /* Fire at 6 (interval 5 folded: three vendors; v-a 59%,
                 * v-b 39%), resolve at 19 (intervals 9..18 hold 3 orders,
                 * fewer than 5). */
                assert_int_equal(sink.cnt, 6);
                for (int i = 0; i < 6; i++) {
                        static const char *const fps[3] = {
                                "dependency.vendor_hhi/PORTFOLIO/vendors",
                                "dependency.vendor_share/VENDOR/v-a",
                                "dependency.vendor_share/VENDOR/v-b",
                        };
                        assert_string_equal(sink.v[i].fp, fps[i % 3]);
                        assert_int_equal(sink.v[i].event_time, i < 3 ? 6 * DAY : 19 * DAY);
                        assert_int_equal(sink.v[i].status, i < 3 ? RW_ALERT_FIRING :
                                                                   RW_ALERT_RESOLVED);
                        if (i >= 3)
                                assert_true(sink.v[i].observed == 3 &&
                                            sink.v[i].threshold == 5);
                }
                assert_string_equal(sink.v[4].summary, "v-a: no longer enough data to "
                                    "decide (3 order(s) in 10 days, needs 5)");
                assert_string_equal(sink.v[3].summary, "vendors' order value: no longer "
                                    "enough data to decide (3 order(s) in 10 days, needs 5)");
                /* Stored as the window stands after the last boundary (30:
                 * intervals 20..29, nothing in them). */
                f = sget(fx->rc, "HGET %s:{dep}:agg orders", ns);
                assert_string_equal(f, "0");
                free(f);
                f = sget(fx->rc, "HGET %s:{dep}:agg v:n", ns);
                assert_string_equal(f, "0");
                free(f);
                if (!v) {
                        memcpy(first, sink.v, sink.cnt * sizeof(*first));
                        first_cnt = sink.cnt;
                } else {
                        assert_int_equal(first_cnt, sink.cnt);
                        for (size_t i = 0; i < sink.cnt; i++)
                                assert_string_equal(first[i].id, sink.v[i].id);
                }
                sink_clear(&sink);
                rw_boundary_destroy(bd);
                rw_state_destroy(st);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_brute_force, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_totals_moved, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_lifecycle, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_two_deciders, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_idle, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_crash_before_drain, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_connection_lost, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_fence, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_quiet_subject, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_runs, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_window_minimums, fx_setup, fx_teardown),
        };
        /* A write to a killed connection is an error, not the end (as in
         * the processor). */
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
