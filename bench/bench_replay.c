/* bench_replay.c - the batch replay's CPU (consumers/replay.c), without Kafka
 * or Redis: the pipeline benchmark's history (riskwatch gen --seed 1, 250 000
 * events of 5 209 accounts over 180 days), each topic in 4 partitions by
 * account, replayed a partition's batch at a time over the account cache
 * (state/cache.c, its default bound) as `riskwatch run` replays it: the
 * batch's accounts looked up in the cache (new ones put in it), those due by
 * the batch's end from the partition's due index, the replay, the due index
 * following it, each changed view marked written, the cache trimmed. Prints ns per event, the median of
 * RUNS runs (and the fastest and slowest), and what the replay decided (the
 * same in every run and build that decides the same).
 *
 * usage: bench_replay [EVENTS [BATCH]]   (RW_BENCH_RUNS overrides RUNS) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/arena.h"
#include "common/conf.h"
#include "consumers/due_index.h"
#include "consumers/replay.h"
#include "gen/gen.h"
#include "state/cache.h"

#define RUNS    7
#define PARTS   4

typedef struct part_s {
        rw_rule_source_t src;
        int32_t partition;
        rw_state_event_t *evs;
        int64_t *offs;
        size_t cnt, size;
} part_t;

/* One run's state of a partition (its views are in the run's cache). */
typedef struct pstate_s {
        rw_due_index_t *dues;
        int64_t watermark;
        rw_input_gaps_t gaps;
} pstate_t;

typedef struct totals_s {
        int64_t applied, duplicates, alerts, suppressed;
        uint64_t digest;                /* of the alert ids, in order */
} totals_t;

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static uint32_t part_of(const char *account) {
        uint32_t h = 2166136261u;

        for (; *account; account++)
                h = (h ^ (unsigned char)*account) * 16777619u;
        return h % PARTS;
}

static void die(const char *what) {
        fprintf(stderr, "bench_replay: %s\n", what);
        exit(1);
}

/* The history, split by topic and partition, its strings in `strs`. */
static size_t load_history(part_t parts[2][PARTS], rw_arena_t *strs, size_t want) {
        rw_gen_params_t gp;
        rw_gen_t *g;
        rw_record_t rec;
        char errstr[256];
        size_t n = 0;

        rw_gen_params_default(&gp);
        gp.seed = 1;
        gp.accounts = 5209;
        gp.days = 180;
        if (!(g = rw_gen_new(&gp, errstr, sizeof(errstr))))
                die(errstr);
        while (n < want && rw_gen_next(g, &rec) == 1) {
                int orders = rec.type == RW_REC_ORDER;
                const char *acct = orders ? rec.u.order.account_id : rec.u.support.account_id;
                part_t *p = &parts[!orders][part_of(acct)];
                rw_state_event_t *ev;

                if (p->cnt == p->size) {
                        p->size = p->size ? p->size * 2 : 4096;
                        p->evs = realloc(p->evs, p->size * sizeof(*p->evs));
                        p->offs = realloc(p->offs, p->size * sizeof(*p->offs));
                        if (!p->evs || !p->offs)
                                die("out of memory");
                }
                ev = &p->evs[p->cnt];
                memset(ev, 0, sizeof(*ev));
                ev->offset = p->offs[p->cnt] = (int64_t)p->cnt;
                if (orders) {
                        static const char kinds[] = { 'P', 'C', 'R' };
                        const rw_order_event_t *o = &rec.u.order;
                        ev->kind = kinds[o->kind];
                        ev->event_id = rw_arena_strdup(strs, o->event_id);
                        ev->account = rw_arena_strdup(strs, o->account_id);
                        ev->vendor = rw_arena_strdup(strs, o->vendor_id);
                        ev->amount = o->amount_minor;
                        ev->occurred_at = o->occurred_at;
                } else {
                        static const char kinds[] = { 'O', 'E', 'X', 'V', 'S' };
                        const rw_support_event_t *s = &rec.u.support;
                        ev->kind = kinds[s->kind];
                        ev->event_id = rw_arena_strdup(strs, s->event_id);
                        ev->account = rw_arena_strdup(strs, s->account_id);
                        ev->vendor = "";
                        ev->amount = s->severity;
                        ev->occurred_at = s->occurred_at;
                        if ((ev->has_csat = s->has_csat != 0))
                                ev->csat = (double)(int)s->csat;
                        if ((ev->has_sentiment = s->has_sentiment != 0))
                                ev->sentiment = rw_sentiment_round(s->sentiment);
                }
                if (!ev->event_id || !ev->account || !ev->vendor)
                        die("out of memory");
                p->cnt++;
                n++;
        }
        rw_gen_destroy(g);
        return n;
}

/* The account's view: cached, or new (put in the cache). */
static rw_account_view_t *view_of(rw_cache_t *c, int tag, const char *account) {
        rw_account_view_t *av = rw_cache_get(c, tag, account), v;

        if (av)
                return av;
        if (rw_account_init(&v, account) || !(av = rw_cache_put(c, tag, &v)))
                die("out of memory");
        return av;
}

/* One partition's events [from, to) as one batch. */
static void batch(const rw_rules_params_t *params, const rw_account_limits_t *lim,
                  rw_cache_t *c, const part_t *p, pstate_t *s, size_t from, size_t to,
                  totals_t *tot) {
        size_t cnt = to - from, acct_cnt, due_cnt = 0;
        int tag = (int)p->src * PARTS + p->partition;
        rw_account_view_t **avs, **accts;
        const char **names;
        char **due_accts = NULL;
        int64_t *dues = NULL, wm = s->watermark;
        rw_replay_out_t out;
        rw_replay_opts_t o = {
                .params = params, .src = p->src, .topic = p->src ? "support" : "orders",
                .partition = p->partition, .lateness_ms = 5 * 60 * 1000,
                .interval_ms = 3600 * 1000, .lim = *lim, .watermark = s->watermark,
                .gaps = s->gaps, .peer_cnt = 0, .wall_ms = 1, .replay = 0,
        };

        for (size_t j = from; j < to; j++)
                if (p->evs[j].occurred_at > wm)
                        wm = p->evs[j].occurred_at;
        if (rw_due_index_until(s->dues, wm - o.lateness_ms, &due_accts, &dues, &due_cnt))
                die("out of memory");
        if (!(names = malloc((cnt + 1) * sizeof(*names))) ||
            !(avs = malloc((cnt + due_cnt + 1) * sizeof(*avs))) ||
            !(accts = malloc((cnt + due_cnt + 1) * sizeof(*accts))))
                die("out of memory");
        for (size_t j = 0; j < cnt; j++)
                names[j] = p->evs[from + j].account;
        rw_cache_get_many(c, tag, names, cnt, avs);
        for (size_t j = 0; j < cnt; j++)
                if (!avs[j])
                        avs[j] = view_of(c, tag, names[j]);
        for (size_t j = 0; j < due_cnt; j++) {
                if (!(avs[cnt + j] = rw_cache_get(c, tag, due_accts[j])))
                        die("a due account left the cache (the bound is too small)");
                free(due_accts[j]);
        }
        free(due_accts);
        free(dues);
        acct_cnt = rw_replay_distinct(avs, cnt + due_cnt, accts);
        if (rw_replay_batch(&o, p->evs + from, p->offs + from, cnt, avs, accts, acct_cnt, &out))
                die("replay failed");
        if (out.stop >= 0)
                die("a gap stopped the batch");
        s->watermark = out.watermark;
        s->gaps = out.gaps;
        for (size_t i = 0; i < acct_cnt; i++) {
                if (rw_due_index_set(s->dues, accts[i]->account, accts[i]->due))
                        die("out of memory");
                if (rw_account_dirty(accts[i]))
                        rw_account_clean(accts[i]);     /* as a write would */
        }
        rw_cache_trim(c);
        tot->applied += (int64_t)out.applied;
        tot->duplicates += (int64_t)out.duplicates;
        tot->suppressed += out.suppressed;
        tot->alerts += (int64_t)out.alerts.cnt;
        for (size_t i = 0; i < out.alerts.cnt; i++)
                for (const char *c = out.alerts.v[i].alert_id; *c; c++)
                        tot->digest = (tot->digest ^ (unsigned char)*c) * 1099511628211ULL;
        rw_replay_out_clear(&out);
        free(names);
        free(avs);
        free(accts);
}

/* One run over every partition; returns its wall clock in ns. */
static double run(const rw_rules_params_t *params, const rw_account_limits_t *lim,
                  part_t parts[2][PARTS], size_t bsize, size_t cache_bytes, totals_t *tot) {
        pstate_t st[2][PARTS];
        rw_cache_t *c = rw_cache_new(cache_bytes);
        double t0;

        if (!c)
                die("out of memory");
        memset(st, 0, sizeof(st));
        memset(tot, 0, sizeof(*tot));
        tot->digest = 1469598103934665603ULL;
        for (int t = 0; t < 2; t++)
                for (int p = 0; p < PARTS; p++)
                        if (!(st[t][p].dues = rw_due_index_new()))
                                die("out of memory");
        t0 = now_ns();
        /* Round robin over the partitions, a batch each, as a consumer
         * polling all of them takes them. */
        for (size_t from = 0;; from += bsize) {
                int any = 0;
                for (int t = 0; t < 2; t++)
                        for (int p = 0; p < PARTS; p++) {
                                const part_t *pt = &parts[t][p];
                                size_t to = from + bsize < pt->cnt ? from + bsize : pt->cnt;
                                if (from >= pt->cnt)
                                        continue;
                                any = 1;
                                batch(params, lim, c, pt, &st[t][p], from, to, tot);
                        }
                if (!any)
                        break;
        }
        t0 = now_ns() - t0;
        for (int t = 0; t < 2; t++)
                for (int p = 0; p < PARTS; p++)
                        rw_due_index_destroy(st[t][p].dues);
        rw_cache_destroy(c);
        return t0;
}

int main(int argc, char **argv) {
        size_t want = argc > 1 ? strtoul(argv[1], NULL, 10) : 250000;
        size_t bsize = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000;
        int runs = getenv("RW_BENCH_RUNS") ? atoi(getenv("RW_BENCH_RUNS")) : RUNS;
        part_t parts[2][PARTS];
        rw_arena_t strs = { .block = 1 << 20 };
        rw_rules_params_t params;
        rw_account_limits_t lim;
        rw_conf_t *conf = rw_conf_new();
        double *ns;
        size_t cache_bytes;
        totals_t tot, first;
        size_t n;
        char errstr[256];

        if (!conf || want < 1 || bsize < 1 || runs < 1 || !(ns = calloc((size_t)runs, sizeof(*ns))))
                die("usage: bench_replay [EVENTS [BATCH]]");
        if (rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr)))
                die(errstr);
        lim = (rw_account_limits_t){
                .window_days = rw_rules_state_days(&params),
                .dedup_ms = rw_conf_get_int(conf, "dedup.horizon"),
                .dedup_max = (size_t)rw_conf_get_int(conf, "dedup.max.ids"),
        };
        cache_bytes = (size_t)rw_conf_get_int(conf, "state.cache.max.bytes");
        memset(parts, 0, sizeof(parts));
        for (int t = 0; t < 2; t++)
                for (int p = 0; p < PARTS; p++) {
                        parts[t][p].src = t ? RW_SRC_SUPPORT : RW_SRC_ORDERS;
                        parts[t][p].partition = p;
                }
        n = load_history(parts, &strs, want);
        for (int r = 0; r < runs; r++) {
                ns[r] = run(&params, &lim, parts, bsize, cache_bytes, &tot) / (double)n;
                if (!r)
                        first = tot;
                else if (memcmp(&tot, &first, sizeof(tot)))
                        die("a run decided differently from the first");
                fprintf(stderr, "bench_replay: run %d of %d: %.0f ns/event\n", r + 1, runs, ns[r]);
        }
        qsort(ns, (size_t)runs, sizeof(*ns), cmp_double);
        printf("batch replay: %zu events (2 topics x %d partitions, batches of %zu), %d runs\n",
               n, PARTS, bsize, runs);
        printf("  %.0f ns/event median (%.0f-%.0f), %.0f events/s per core\n", ns[runs / 2],
               ns[0], ns[runs - 1], 1e9 / ns[runs / 2]);
        printf("  applied %lld, duplicates %lld, alert transitions %lld (digest %016llx)\n",
               (long long)tot.applied, (long long)tot.duplicates, (long long)tot.alerts,
               (unsigned long long)tot.digest);
        printf("{\"benchmark\":\"replay\",\"events\":%zu,\"batch\":%zu,\"runs\":%d,"
               "\"ns_per_event_median\":%.1f,\"ns_per_event_min\":%.1f,\"ns_per_event_max\":%.1f,"
               "\"alerts\":%lld,\"digest\":\"%016llx\"}\n",
               n, bsize, runs, ns[runs / 2], ns[0], ns[runs - 1], (long long)tot.alerts,
               (unsigned long long)tot.digest);
        for (int t = 0; t < 2; t++)
                for (int p = 0; p < PARTS; p++) {
                        free(parts[t][p].evs);
                        free(parts[t][p].offs);
                }
        rw_arena_free(&strs);
        rw_conf_destroy(conf);
        free(ns);
        return 0;
}
