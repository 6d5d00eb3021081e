/* boundary.c - the dependency-rule decider: one process at a time folds the
 * finished interval buckets of every orders partition into the {dep} slot's
 * 90-day totals and decides the dependency rules at each boundary. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "consumers/boundary.h"
#include "common/log.h"
#include "state/boundary_lua.h"   /* generated from boundary.lua: rw_boundary_lua[] */

typedef unsigned __int128 rw_u128_t;

struct rw_boundary_s {
        rw_rules_params_t params;
        rw_boundary_opts_t opts;
        int64_t nwin;           /* buckets in the dependency window */
        char token[33];         /* this decider's lock token */
        char sha[48];           /* SHA1 of boundary.lua once loaded */
};

void rw_boundary_opts_default(rw_boundary_opts_t *opts) {
        *opts = (rw_boundary_opts_t){
                .interval_ms = 3600 * 1000LL,
                .lateness_ms = 5 * 60 * 1000LL,
                .idle_timeout_ms = 30 * 1000LL,
                .max_per_tick = 500,
                .lock_ttl_ms = 30 * 1000LL,
        };
}

rw_boundary_t *rw_boundary_new(const rw_rules_params_t *params,
                               const rw_boundary_opts_t *opts,
                               char *errstr, size_t errstr_size) {
        rw_boundary_t *bd;
        unsigned char rnd[16];
        FILE *fp;

        if (opts->interval_ms <= 0 || params->dep_window_ms < opts->interval_ms ||
            params->dep_window_ms % opts->interval_ms) {
                snprintf(errstr, errstr_size, "evaluation.interval: %" PRId64 " ms "
                         "does not divide the dependency window (%" PRId64 " ms)",
                         opts->interval_ms, params->dep_window_ms);
                return NULL;
        }
        if (opts->max_per_tick < 1 || opts->lock_ttl_ms < 1 ||
            opts->idle_timeout_ms < 0 || opts->lateness_ms < 0) {
                snprintf(errstr, errstr_size, "boundary: option out of range");
                return NULL;
        }
        if (!(bd = calloc(1, sizeof(*bd)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        bd->params = *params;
        bd->opts = *opts;
        bd->nwin = params->dep_window_ms / opts->interval_ms;
        /* The token only has to differ between deciders. */
        if (!(fp = fopen("/dev/urandom", "rb")) || fread(rnd, 1, sizeof(rnd), fp) != sizeof(rnd)) {
                uint64_t x = (uint64_t)rw_now_ms() ^ ((uint64_t)(uintptr_t)bd << 17) ^
                             (uint64_t)rw_mono_ms() << 40;
                for (size_t i = 0; i < sizeof(rnd); i++, x = x * 6364136223846793005ULL + 1)
                        rnd[i] = (unsigned char)(x >> 56);
        }
        if (fp)
                fclose(fp);
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(bd->token + i * 2, 3, "%02x", rnd[i]);
        return bd;
}

void rw_boundary_destroy(rw_boundary_t *bd) {
        free(bd);
}

/*
 * Small helpers: an argument vector that owns its strings, a string-keyed
 * map, 128-bit decimal strings.
 */

typedef struct rw_args_s {
        char **v;
        size_t *len;
        size_t cnt, cap;
} rw_args_t;

static int rw_args_add(rw_args_t *a, const void *s, size_t len) {
        char *c;
        if (a->cnt == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 64;
                char **v = realloc(a->v, cap * sizeof(*v));
                size_t *l;
                if (!v)
                        return -1;
                a->v = v;
                if (!(l = realloc(a->len, cap * sizeof(*l))))
                        return -1;
                a->len = l;
                a->cap = cap;
        }
        if (!(c = malloc(len + 1)))
                return -1;
        memcpy(c, s, len);
        c[len] = '\0';
        a->v[a->cnt] = c;
        a->len[a->cnt++] = len;
        return 0;
}

static int rw_args_str(rw_args_t *a, const char *s) {
        return rw_args_add(a, s, strlen(s));
}

static int rw_args_fmt(rw_args_t *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static int rw_args_fmt(rw_args_t *a, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(buf))
                return -1;
        return rw_args_add(a, buf, (size_t)n);
}

static void rw_args_reset(rw_args_t *a) {
        for (size_t i = 0; i < a->cnt; i++)
                free(a->v[i]);
        a->cnt = 0;
}

static void rw_args_free(rw_args_t *a) {
        rw_args_reset(a);
        free(a->v);
        free(a->len);
        memset(a, 0, sizeof(*a));
}

/* One subject (accounts/vendors map) or one fingerprint (lifecycle map). */
typedef struct rw_bent_s {
        char *key;
        /* subjects at one boundary */
        int64_t add;            /* merged bucket value folded in */
        int64_t sub;            /* fold copy leaving the window */
        int64_t old, val;       /* 90-day total before / after */
        /* fingerprints */
        rw_rule_id_t rule;
        size_t subj_off;        /* subject id = key + subj_off */
        rw_fp_state_t fp;
        int dirty;              /* to write at this boundary */
        int gone;               /* to delete (equivalent to no state) */
} rw_bent_t;

typedef struct rw_bmap_s {
        rw_bent_t *ents;
        size_t cnt, cap;
        uint32_t *slots;        /* entry index + 1; 0 = empty */
        size_t nslots;
} rw_bmap_t;

static uint32_t rw_hash(const char *s, size_t len) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)s[i]) * 16777619u;
        return h;
}

static int rw_bmap_find(const rw_bmap_t *m, const char *key, size_t len) {
        if (!m->nslots)
                return -1;
        for (size_t i = rw_hash(key, len) & (m->nslots - 1);; i = (i + 1) & (m->nslots - 1)) {
                uint32_t s = m->slots[i];
                if (!s)
                        return -1;
                if (!strncmp(m->ents[s - 1].key, key, len) && !m->ents[s - 1].key[len])
                        return (int)(s - 1);
        }
}

static int rw_bmap_rehash(rw_bmap_t *m, size_t nslots) {
        uint32_t *slots = calloc(nslots, sizeof(*slots));
        if (!slots)
                return -1;
        for (size_t e = 0; e < m->cnt; e++) {
                size_t i = rw_hash(m->ents[e].key, strlen(m->ents[e].key)) & (nslots - 1);
                while (slots[i])
                        i = (i + 1) & (nslots - 1);
                slots[i] = (uint32_t)e + 1;
        }
        free(m->slots);
        m->slots = slots;
        m->nslots = nslots;
        return 0;
}

/* The entry of key (added, zeroed, if new); -1 when out of memory. */
static int rw_bmap_get(rw_bmap_t *m, const char *key, size_t len, int *addedp) {
        int e = rw_bmap_find(m, key, len);
        size_t i;

        if (addedp)
                *addedp = e < 0;
        if (e >= 0)
                return e;
        if ((m->cnt + 1) * 2 > m->nslots &&
            rw_bmap_rehash(m, m->nslots ? m->nslots * 2 : 64))
                return -1;
        if (m->cnt == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 32;
                rw_bent_t *ents = realloc(m->ents, cap * sizeof(*ents));
                if (!ents)
                        return -1;
                m->ents = ents;
                m->cap = cap;
        }
        memset(&m->ents[m->cnt], 0, sizeof(m->ents[m->cnt]));
        if (!(m->ents[m->cnt].key = strndup(key, len)))
                return -1;
        for (i = rw_hash(key, len) & (m->nslots - 1); m->slots[i];
             i = (i + 1) & (m->nslots - 1))
                ;
        m->slots[i] = (uint32_t)m->cnt + 1;
        return (int)m->cnt++;
}

static void rw_bmap_reset(rw_bmap_t *m) {
        for (size_t e = 0; e < m->cnt; e++)
                free(m->ents[e].key);
        m->cnt = 0;
        if (m->slots)
                memset(m->slots, 0, m->nslots * sizeof(*m->slots));
}

static void rw_bmap_free(rw_bmap_t *m) {
        rw_bmap_reset(m);
        free(m->ents);
        free(m->slots);
        memset(m, 0, sizeof(*m));
}

static void rw_u128_fmt(rw_u128_t v, char *buf, size_t size) {
        char tmp[48];
        size_t n = 0;
        do {
                tmp[n++] = (char)('0' + (int)(v % 10));
                v /= 10;
        } while (v);
        for (size_t i = 0; i < n && i + 1 < size; i++)
                buf[i] = tmp[n - 1 - i];
        buf[n < size ? n : size - 1] = '\0';
}

static rw_u128_t rw_u128_parse(const char *s) {
        rw_u128_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (rw_u128_t)(*s - '0');
        return v;
}

static rw_u128_t rw_sq(int64_t v) {
        rw_u128_t a = (rw_u128_t)(v < 0 ? -(__int128)v : (__int128)v);
        return a * a;
}

/*
 * Redis plumbing: pipelined commands on the state's context. A context in
 * error is never used again in the tick; the caller reconnects.
 */

typedef struct rw_tick_s {
        rw_boundary_t *bd;
        rw_state_t *st;
        redisContext *rc;
        rw_codec_t *codec;
        const char *ns;
        int32_t parts;
        int64_t wall_now;
        char pfx[192];          /* ns:{dep}: */
        /* what the {dep} slot holds, as of the last decision read or made */
        int have_last;
        int64_t last, first;
        int64_t sum[2];         /* [0] accounts, [1] vendors */
        rw_u128_t sq[2];
        int64_t low;            /* L */
        rw_bmap_t fps;          /* fingerprint -> lifecycle, the f hash */
        rw_bmap_t subj[2];      /* subjects touched at the boundary */
        rw_args_t dels;         /* best-effort DELs of folded buckets */
        rw_args_t args;         /* script arguments */
        char *errstr;
        size_t errstr_size;
} rw_tick_t;

static rw_err_t rw_tick_ioerr(rw_tick_t *t) {
        snprintf(t->errstr, t->errstr_size, "redis: %s", t->rc->errstr[0] ?
                 t->rc->errstr : "connection lost");
        return RW_ERR_IO;
}

static rw_err_t rw_tick_send(rw_tick_t *t, int argc, const char **argv, const size_t *lens) {
        if (redisAppendCommandArgv(t->rc, argc, argv, lens) != REDIS_OK)
                return rw_tick_ioerr(t);
        return RW_OK;
}

/* The next pipelined reply; an error reply is RW_ERR_FAIL (reply freed). */
static rw_err_t rw_tick_recv(rw_tick_t *t, redisReply **rp) {
        redisReply *r = NULL;
        *rp = NULL;
        if (redisGetReply(t->rc, (void **)&r) != REDIS_OK || !r)
                return rw_tick_ioerr(t);
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(t->errstr, t->errstr_size, "redis: %.*s", (int)r->len, r->str);
                freeReplyObject(r);
                return RW_ERR_FAIL;
        }
        *rp = r;
        return RW_OK;
}

/* Send n commands, then read n replies into rs (all freed on error). A
 * failed reply does not stop the reading: the pipeline stays in step. */
static rw_err_t rw_tick_pipe(rw_tick_t *t, size_t n, redisReply **rs) {
        rw_err_t err = RW_OK;
        for (size_t i = 0; i < n; i++) {
                rw_err_t e = rw_tick_recv(t, &rs[i]);
                if (e == RW_ERR_IO) {
                        for (size_t j = 0; j < i; j++)
                                freeReplyObject(rs[j]);
                        memset(rs, 0, n * sizeof(*rs));
                        return RW_ERR_IO;
                }
                if (e && !err)
                        err = e;
        }
        if (err) {
                for (size_t i = 0; i < n; i++)
                        if (rs[i])
                                freeReplyObject(rs[i]);
                memset(rs, 0, n * sizeof(*rs));
        }
        return err;
}

static rw_err_t rw_tick_cmd(rw_tick_t *t, redisReply **rp, int argc, const char **argv) {
        rw_err_t err = rw_tick_send(t, argc, argv, NULL);
        return err ? err : rw_tick_recv(t, rp);
}

static int64_t rw_reply_i64(const redisReply *r) {
        if (!r)
                return 0;
        if (r->type == REDIS_REPLY_INTEGER)
                return r->integer;
        if (r->type == REDIS_REPLY_STRING)
                return strtoll(r->str, NULL, 10);
        return 0;
}

static void rw_key(char *buf, size_t size, const char *ns, const char *slot,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void rw_key(char *buf, size_t size, const char *ns, const char *slot,
                   const char *fmt, ...) {
        va_list ap;
        int n = snprintf(buf, size, "%s:{%s}:", ns, slot);
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < size)
                vsnprintf(buf + n, size - (size_t)n, fmt, ap);
        va_end(ap);
}

/*
 * What the {dep} slot says: progress (-> L), the aggregates, the first
 * bucket when nothing was decided yet. One round trip.
 */

/* L from the prog hash: min over the partitions of wm - lateness, skipping
 * idle ones; all idle: the max of the known nows. INT64_MIN: none. */
static int64_t rw_boundary_low(const rw_boundary_t *bd, const redisReply *prog,
                               int32_t parts, int64_t wall_now) {
        int64_t start = 0, lo = INT64_MAX, hi = INT64_MIN;
        int have_start = 0, active = 0, known = 0;

        if (!prog || prog->type != REDIS_REPLY_ARRAY || !prog->elements)
                return INT64_MIN;
        for (size_t j = 0; j + 1 < prog->elements; j += 2)
                if (!strcmp(prog->element[j]->str, "start")) {
                        start = strtoll(prog->element[j + 1]->str, NULL, 10);
                        have_start = 1;
                }
        for (int32_t p = 0; p < parts; p++) {
                char name[16];
                const redisReply *v = NULL;
                long long wm = 0, wall = 0;
                int64_t now;

                snprintf(name, sizeof(name), "%d", (int)p);
                for (size_t j = 0; j + 1 < prog->elements; j += 2)
                        if (!strcmp(prog->element[j]->str, name))
                                v = prog->element[j + 1];
                if (!v) {
                        /* Never reported: holds L back until it counts idle. */
                        if (!have_start || wall_now - start <= bd->opts.idle_timeout_ms)
                                active = 1, lo = INT64_MIN;
                        continue;
                }
                if (sscanf(v->str, "%lld,%lld", &wm, &wall) != 2)
                        continue;
                now = (int64_t)wm - bd->opts.lateness_ms;
                known = 1;
                if (now > hi)
                        hi = now;
                if (wall_now - (int64_t)wall > bd->opts.idle_timeout_ms)
                        continue;       /* idle */
                active = 1;
                if (now < lo)
                        lo = now;
        }
        if (active)
                return lo == INT64_MAX ? INT64_MIN : lo;
        return known ? hi : INT64_MIN;
}

static void rw_tick_parse_agg(rw_tick_t *t, const redisReply *agg) {
        t->have_last = 0;
        for (size_t j = 0; j + 1 < agg->elements; j += 2) {
                const char *f = agg->element[j]->str, *v = agg->element[j + 1]->str;
                if (!strcmp(f, "last"))
                        t->last = strtoll(v, NULL, 10), t->have_last = 1;
                else if (!strcmp(f, "first"))
                        t->first = strtoll(v, NULL, 10);
                else if (!strcmp(f, "a:sum"))
                        t->sum[0] = strtoll(v, NULL, 10);
                else if (!strcmp(f, "v:sum"))
                        t->sum[1] = strtoll(v, NULL, 10);
                else if (!strcmp(f, "a:sq"))
                        t->sq[0] = rw_u128_parse(v);
                else if (!strcmp(f, "v:sq"))
                        t->sq[1] = rw_u128_parse(v);
        }
}

/* Read prog, agg and (optionally) the f hash, and when nothing was decided
 * yet each partition's pb:first: sets low, last, first, sums, fps. *startp
 * = 0 when there is nothing to decide from (no bucket anywhere). */
static rw_err_t rw_tick_load(rw_tick_t *t, int with_fps, int *startp) {
        char prog[256], agg[256], f[256];
        const char *a1[2] = { "HGETALL", prog }, *a2[2] = { "HGETALL", agg },
                   *a3[2] = { "HGETALL", f };
        redisReply *rs[3] = { NULL, NULL, NULL };
        size_t n = with_fps ? 3 : 2;
        rw_err_t err;

        *startp = 0;
        snprintf(prog, sizeof(prog), "%sprog", t->pfx);
        snprintf(agg, sizeof(agg), "%sagg", t->pfx);
        snprintf(f, sizeof(f), "%sf", t->pfx);
        if ((err = rw_tick_send(t, 2, a1, NULL)) || (err = rw_tick_send(t, 2, a2, NULL)) ||
            (with_fps && (err = rw_tick_send(t, 2, a3, NULL))) ||
            (err = rw_tick_pipe(t, n, rs)))
                return err;
        if (t->parts <= 0) {
                /* Not told: the partitions that reported progress. */
                for (size_t j = 0; j + 1 < rs[0]->elements; j += 2) {
                        char *end;
                        long p = strtol(rs[0]->element[j]->str, &end, 10);
                        if (!*end && p >= 0 && p + 1 > t->parts)
                                t->parts = (int32_t)(p + 1);
                }
        }
        t->low = rw_boundary_low(t->bd, rs[0], t->parts, t->wall_now);
        rw_tick_parse_agg(t, rs[1]);
        for (size_t j = 0; with_fps && j + 1 < rs[2]->elements; j += 2) {
                const char *key = rs[2]->element[j]->str, *s1, *s2;
                rw_rule_id_t rule;
                int e;

                if (!(s1 = strchr(key, '/')) || !(s2 = strchr(s1 + 1, '/')))
                        continue;
                rule = rw_rule_by_name(key, (size_t)(s1 - key));
                if (rule == RW_RULE__CNT || rw_rule_category(rule) != RW_CAT_DEPENDENCY)
                        continue;
                if ((e = rw_bmap_get(&t->fps, key, strlen(key), NULL)) < 0) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                t->fps.ents[e].rule = rule;
                t->fps.ents[e].subj_off = (size_t)(s2 + 1 - key);
                rw_fp_state_parse(rs[2]->element[j + 1]->str, &t->fps.ents[e].fp);
        }
        if (t->have_last) {
                *startp = 1;
        } else if (t->low != INT64_MIN) {
                /* Nothing decided yet: history starts at the lowest bucket. */
                int64_t kmin = INT64_MAX;
                redisReply **firsts = calloc((size_t)t->parts + 1, sizeof(*firsts));
                if (!firsts) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                for (int32_t p = 0; p < t->parts && !err; p++) {
                        char key[256], slot[16];
                        const char *argv[2] = { "GET", key };
                        snprintf(slot, sizeof(slot), "%d", (int)p);
                        rw_key(key, sizeof(key), t->ns, slot, "pb:first");
                        err = rw_tick_send(t, 2, argv, NULL);
                }
                if (!err)
                        err = rw_tick_pipe(t, (size_t)t->parts, firsts);
                for (int32_t p = 0; p < t->parts && !err; p++) {
                        if (firsts[p]->type == REDIS_REPLY_STRING &&
                            rw_reply_i64(firsts[p]) < kmin)
                                kmin = rw_reply_i64(firsts[p]);
                }
                for (int32_t p = 0; p < t->parts; p++)
                        if (firsts[p])
                                freeReplyObject(firsts[p]);
                free(firsts);
                if (!err && kmin != INT64_MAX) {
                        t->first = kmin * t->bd->opts.interval_ms;
                        t->last = t->first;
                        t->sum[0] = t->sum[1] = 0;
                        t->sq[0] = t->sq[1] = 0;
                        *startp = 1;
                }
        }
done:
        for (size_t i = 0; i < n; i++)
                if (rs[i])
                        freeReplyObject(rs[i]);
        return err;
}

/*
 * One boundary.
 */

static const rw_rule_id_t rw_share_rule[2] = { RW_RULE_ACCOUNT_SHARE, RW_RULE_VENDOR_SHARE };
static const rw_rule_id_t rw_hhi_rule[2] = { RW_RULE_ACCOUNT_HHI, RW_RULE_VENDOR_HHI };
static const char *rw_fam[2] = { "a", "v" };

typedef struct rw_trans_s {
        rw_alert_t a;
        char id[40];
        char summary[512];
} rw_trans_t;

typedef struct rw_trans_list_s {
        rw_trans_t *v;
        size_t cnt, cap;
} rw_trans_list_t;

static void rw_dep_summary(rw_rule_id_t rule, const char *subject, int resolved,
                           const rw_decision_t *dec, char *buf, size_t size) {
        const char *tail = resolved ? ", back to normal" : "";
        long long days = (long long)(dec->window_ms / RW_DAY_MS);

        switch (rule) {
        case RW_RULE_ACCOUNT_SHARE:
                snprintf(buf, size, "%s: %.0f%% of all accounts' net spend over %lld "
                         "days (limit %.0f%%)%s", subject, dec->observed * 100.0, days,
                         dec->threshold * 100.0, tail);
                break;
        case RW_RULE_VENDOR_SHARE:
                snprintf(buf, size, "%s: %.0f%% of all order value over %lld days "
                         "(limit %.0f%%)%s", subject, dec->observed * 100.0, days,
                         dec->threshold * 100.0, tail);
                break;
        default:
                snprintf(buf, size, "%s: concentration (HHI) %.0f over %lld days "
                         "(limit %.0f)%s", rule == RW_RULE_ACCOUNT_HHI ?
                         "accounts' net spend" : "vendors' order value",
                         dec->observed, days, dec->threshold, tail);
                break;
        }
}

/* Step the lifecycle of rule/subject with a decision at B; a transition is
 * recorded in the fps map and appended to tl. */
static rw_err_t rw_tick_step(rw_tick_t *t, rw_trans_list_t *tl, rw_rule_id_t rule,
                             const char *subject, double value, double total,
                             int64_t B) {
        const rw_boundary_t *bd = t->bd;
        rw_subject_type_t stype = rw_rule_subject(rule);
        rw_decision_t dec;
        rw_fp_state_t fst = { 0 };
        rw_transition_t tr;
        rw_trans_t *tn;
        size_t len;
        char *fp;
        int e, added;

        if (!rw_rules_eval_portfolio(rule, &bd->params, value, total, B - t->first, &dec))
                return RW_OK;
        len = strlen(rw_rule_name(rule)) + strlen(rw_subject_type_name(stype)) +
              strlen(subject) + 3;
        if (!(fp = malloc(len)))
                return RW_ERR_NOMEM;
        snprintf(fp, len, "%s/%s/%s", rw_rule_name(rule), rw_subject_type_name(stype), subject);
        e = rw_bmap_find(&t->fps, fp, len - 1);
        if (e >= 0)
                fst = t->fps.ents[e].fp;
        tr = rw_lifecycle_step(&fst, &dec, B, bd->params.cooldown_ms);
        if (tr == RW_TRANS_NONE) {
                free(fp);
                return RW_OK;
        }
        e = rw_bmap_get(&t->fps, fp, len - 1, &added);
        free(fp);
        if (e < 0)
                return RW_ERR_NOMEM;
        if (added) {
                t->fps.ents[e].rule = rule;
                t->fps.ents[e].subj_off = len - 1 - strlen(subject);
        }
        t->fps.ents[e].fp = fst;
        t->fps.ents[e].dirty = 1;
        t->fps.ents[e].gone = 0;
        if (tl->cnt == tl->cap) {
                size_t cap = tl->cap ? tl->cap * 2 : 16;
                rw_trans_t *v = realloc(tl->v, cap * sizeof(*v));
                if (!v)
                        return RW_ERR_NOMEM;
                tl->v = v;
                tl->cap = cap;
        }
        tn = &tl->v[tl->cnt++];
        memset(tn, 0, sizeof(*tn));
        tn->a = (rw_alert_t){
                .rule = rw_rule_name(rule),
                .category = rw_rule_category(rule),
                .subject_type = stype,
                .status = tr == RW_TRANS_RESOLVED ? RW_ALERT_RESOLVED : RW_ALERT_FIRING,
                .severity = fst.severity,
                .observed = dec.observed, .threshold = dec.threshold,
                .window_ms = bd->params.dep_window_ms,
                .event_time = B,
                .emitted_at = t->wall_now,
                .source_topic = "", .source_partition = -1, .source_offset = -1,
                .replay = bd->opts.replay,
                /* map keys are separate allocations: stable while it grows */
                .fingerprint = t->fps.ents[e].key,
                .subject_id = t->fps.ents[e].key + t->fps.ents[e].subj_off,
        };
        rw_dep_summary(rule, subject, tr == RW_TRANS_RESOLVED, &dec, tn->summary,
                       sizeof(tn->summary));
        return RW_OK;
}

static int rw_trans_cmp(const void *a, const void *b) {
        return strcmp(((const rw_trans_t *)a)->a.fingerprint,
                      ((const rw_trans_t *)b)->a.fingerprint);
}


/* Add an HGETALL reply of subject -> value to the family's merge: into
 * `add` (a partition's bucket) or, with `leaving`, into `sub` (the fold copy
 * leaving the window). */
static rw_err_t rw_tick_fold_reply(rw_tick_t *t, int fam, const redisReply *r,
                                   int leaving) {
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
                int e = rw_bmap_get(&t->subj[fam], r->element[j]->str,
                                    r->element[j]->len, NULL);
                if (e < 0)
                        return RW_ERR_NOMEM;
                if (leaving)
                        t->subj[fam].ents[e].sub += rw_reply_i64(r->element[j + 1]);
                else
                        t->subj[fam].ents[e].add += rw_reply_i64(r->element[j + 1]);
        }
        return RW_OK;
}
/* Merge bucket k of every partition and the fold copy leaving the window
 * into subj[]. One round trip (plus the DELs of the last boundary). */
static rw_err_t rw_tick_read_buckets(rw_tick_t *t, int64_t k, int64_t leave) {
        size_t nd = t->dels.cnt, n = nd + (size_t)t->parts * 2 + (leave >= 0 ? 2 : 0);
        redisReply **rs = calloc(n + 1, sizeof(*rs));
        rw_err_t err = RW_OK;
        size_t i = nd;

        if (!rs)
                return RW_ERR_NOMEM;
        for (size_t d = 0; d < nd && !err; d++) {
                const char *argv[2] = { "DEL", t->dels.v[d] };
                err = rw_tick_send(t, 2, argv, NULL);
        }
        for (int32_t p = 0; p < t->parts && !err; p++) {
                for (int fam = 0; fam < 2 && !err; fam++) {
                        char key[256], slot[16];
                        const char *argv[2] = { "HGETALL", key };
                        snprintf(slot, sizeof(slot), "%d", (int)p);
                        rw_key(key, sizeof(key), t->ns, slot, "pb:%s:%" PRId64, rw_fam[fam], k);
                        err = rw_tick_send(t, 2, argv, NULL);
                }
        }
        for (int fam = 0; fam < 2 && leave >= 0 && !err; fam++) {
                char key[256];
                const char *argv[2] = { "HGETALL", key };
                snprintf(key, sizeof(key), "%sfold:%s:%" PRId64, t->pfx, rw_fam[fam], leave);
                err = rw_tick_send(t, 2, argv, NULL);
        }
        if (err || (err = rw_tick_pipe(t, n, rs)))
                goto done;
        rw_args_reset(&t->dels);
        for (int32_t p = 0; p < t->parts && !err; p++)
                for (int fam = 0; fam < 2 && !err; fam++, i++)
                        err = rw_tick_fold_reply(t, fam, rs[i], 0);
        for (int fam = 0; fam < 2 && leave >= 0 && !err; fam++, i++)
                err = rw_tick_fold_reply(t, fam, rs[i], 1);
done:
        for (size_t j = 0; j < n; j++)
                if (rs[j])
                        freeReplyObject(rs[j]);
        free(rs);
        return err;
}

/* The totals before the boundary of every touched or firing subject, and
 * the subjects whose unchanged total could hold a share rule after it
 * (a score range on z:, so negative net spends cannot hide one). */
static rw_err_t rw_tick_read_totals(rw_tick_t *t, const int64_t newsum[2]) {
        redisReply *rs[4] = { NULL, NULL, NULL, NULL };
        int sent[4] = { 0, 0, 0, 0 };
        size_t n = 0, i = 0;
        rw_err_t err = RW_OK;
        rw_args_t *a = &t->args;

        for (int fam = 0; fam < 2 && !err; fam++) {
                rw_bmap_t *m = &t->subj[fam];
                rw_args_reset(a);
                if (m->cnt) {
                        char key[256];
                        snprintf(key, sizeof(key), "%stot:%s", t->pfx, rw_fam[fam]);
                        if (rw_args_str(a, "HMGET") || rw_args_str(a, key))
                                return RW_ERR_NOMEM;
                        for (size_t e = 0; e < m->cnt; e++)
                                if (rw_args_str(a, m->ents[e].key))
                                        return RW_ERR_NOMEM;
                        if ((err = rw_tick_send(t, (int)a->cnt, (const char **)a->v, a->len)))
                                break;
                        sent[fam * 2] = 1, n++;
                }
                if (newsum[fam] > 0 && t->bd->params.enabled[rw_share_rule[fam]]) {
                        double thr = t->bd->params.dep_warn[rw_share_rule[fam]] *
                                     (double)newsum[fam];
                        char key[256], lo[48];
                        const char *argv[5] = { "ZRANGEBYSCORE", key, lo, "+inf", "WITHSCORES" };
                        /* A little below the limit: rounding must not drop one. */
                        snprintf(lo, sizeof(lo), "%.0f", thr * (1.0 - 1e-9) - 1.0);
                        snprintf(key, sizeof(key), "%sz:%s", t->pfx, rw_fam[fam]);
                        if ((err = rw_tick_send(t, 5, argv, NULL)))
                                break;
                        sent[fam * 2 + 1] = 1, n++;
                }
        }
        if (err || !n || (err = rw_tick_pipe(t, n, rs)))
                return err;
        for (int fam = 0; fam < 2; fam++) {
                rw_bmap_t *m = &t->subj[fam];
                size_t cnt = m->cnt;
                if (sent[fam * 2]) {
                        const redisReply *r = rs[i++];
                        for (size_t e = 0; e < cnt && e < r->elements; e++) {
                                rw_bent_t *en = &m->ents[e];
                                en->old = rw_reply_i64(r->element[e]);
                                en->val = en->old + en->add - en->sub;
                        }
                }
                if (sent[fam * 2 + 1]) {
                        const redisReply *r = rs[i++];
                        for (size_t j = 0; j + 1 < r->elements; j += 2) {
                                int added, e = rw_bmap_get(m, r->element[j]->str,
                                                           r->element[j]->len, &added);
                                if (e < 0) {
                                        err = RW_ERR_NOMEM;
                                        goto done;
                                }
                                if (added)
                                        m->ents[e].old = m->ents[e].val =
                                                (int64_t)strtod(r->element[j + 1]->str, NULL);
                        }
                }
        }
done:
        for (size_t j = 0; j < n; j++)
                if (rs[j])
                        freeReplyObject(rs[j]);
        return err;
}

/* The script call: RW_OK, RW_ERR_FENCED when another process decided. */
static rw_err_t rw_tick_write(rw_tick_t *t) {
        rw_boundary_t *bd = t->bd;
        rw_args_t *a = &t->args;
        redisReply *r = NULL;
        rw_err_t err;

        for (int attempt = 0;; attempt++) {
                if (!bd->sha[0]) {
                        const char *argv[3] = { "SCRIPT", "LOAD", rw_boundary_lua };
                        if ((err = rw_tick_cmd(t, &r, 3, argv)))
                                return err;
                        if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(bd->sha)) {
                                freeReplyObject(r);
                                snprintf(t->errstr, t->errstr_size,
                                         "redis: SCRIPT LOAD: unexpected reply");
                                return RW_ERR_FAIL;
                        }
                        memcpy(bd->sha, r->str, r->len);
                        bd->sha[r->len] = '\0';
                        freeReplyObject(r);
                }
                free(a->v[1]);
                if (!(a->v[1] = strdup(bd->sha)))
                        return RW_ERR_NOMEM;
                a->len[1] = strlen(bd->sha);
                if ((err = rw_tick_send(t, (int)a->cnt, (const char **)a->v, a->len)))
                        return err;
                if (redisGetReply(t->rc, (void **)&r) != REDIS_OK || !r)
                        return rw_tick_ioerr(t);
                if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8) &&
                    attempt == 0) {
                        freeReplyObject(r);
                        bd->sha[0] = '\0';
                        continue;
                }
                break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(t->errstr, t->errstr_size, "redis: boundary script: %.*s",
                         (int)r->len, r->str);
                err = RW_ERR_FAIL;
        } else if (r->type != REDIS_REPLY_ARRAY || !r->elements ||
                   r->element[0]->type != REDIS_REPLY_STRING) {
                snprintf(t->errstr, t->errstr_size, "redis: boundary script: unexpected reply");
                err = RW_ERR_FAIL;
        } else if (!strcmp(r->element[0]->str, "STALE")) {
                snprintf(t->errstr, t->errstr_size, "boundary: decided elsewhere "
                         "(last is %s)", r->elements > 1 ? r->element[1]->str : "?");
                err = RW_ERR_FENCED;
        } else {
                err = RW_OK;
        }
        freeReplyObject(r);
        return err;
}

#define RW_TRY(x) do { if (x) { err = RW_ERR_NOMEM; goto done; } } while (0)

/* Decide boundary B. RW_ERR_FENCED: another process decided it first. */
static rw_err_t rw_tick_decide(rw_tick_t *t, int64_t B, rw_boundary_result_t *res) {
        rw_boundary_t *bd = t->bd;
        const int64_t I = bd->opts.interval_ms;
        const int64_t k = B / I - 1, leave = k - bd->nwin;
        int64_t newsum[2];
        rw_u128_t newsq[2];
        rw_trans_list_t tl = { 0 };
        rw_args_t *a = &t->args;
        char num[64];
        size_t nfp = 0;
        rw_err_t err;

        rw_bmap_reset(&t->subj[0]);
        rw_bmap_reset(&t->subj[1]);
        if ((err = rw_tick_read_buckets(t, k, leave >= t->first / I ? leave : -1)))
                goto done;
        for (int fam = 0; fam < 2; fam++) {
                rw_bmap_t *m = &t->subj[fam];
                newsum[fam] = t->sum[fam];
                for (size_t e = 0; e < m->cnt; e++)
                        newsum[fam] += m->ents[e].add - m->ents[e].sub;
                /* Firing subjects are decided whether or not they changed. */
                for (size_t e = 0; e < t->fps.cnt; e++) {
                        const rw_bent_t *f = &t->fps.ents[e];
                        if (f->fp.firing && f->rule == rw_share_rule[fam] &&
                            rw_bmap_get(m, f->key + f->subj_off,
                                        strlen(f->key + f->subj_off), NULL) < 0) {
                                err = RW_ERR_NOMEM;
                                goto done;
                        }
                }
        }
        if ((err = rw_tick_read_totals(t, newsum)))
                goto done;

        /* Lifecycle states past their cooldown equal no state: forget them. */
        for (size_t e = 0; e < t->fps.cnt; e++) {
                rw_bent_t *f = &t->fps.ents[e];
                if (!f->fp.firing && f->fp.resolved_at > 0 &&
                    B - f->fp.resolved_at >= bd->params.cooldown_ms) {
                        f->fp = (rw_fp_state_t){ 0 };
                        f->dirty = f->gone = 1;
                }
        }
        for (int fam = 0; fam < 2; fam++) {
                rw_bmap_t *m = &t->subj[fam];
                newsq[fam] = t->sq[fam];
                for (size_t e = 0; e < m->cnt; e++)
                        if (m->ents[e].add != m->ents[e].sub)
                                newsq[fam] = newsq[fam] - rw_sq(m->ents[e].old) +
                                             rw_sq(m->ents[e].val);
                for (size_t e = 0; e < m->cnt; e++)
                        if ((err = rw_tick_step(t, &tl, rw_share_rule[fam], m->ents[e].key,
                                                (double)m->ents[e].val,
                                                (double)newsum[fam], B)))
                                goto done;
                if ((err = rw_tick_step(t, &tl, rw_hhi_rule[fam], fam ? "vendors" : "accounts",
                                        (double)newsq[fam], (double)newsum[fam], B)))
                        goto done;
        }

        /* The script's arguments (layout in state/boundary.lua). */
        rw_args_reset(a);
        RW_TRY(rw_args_str(a, "EVALSHA") || rw_args_str(a, "") || rw_args_str(a, "1") ||
               rw_args_fmt(a, "%sagg", t->pfx) || rw_args_str(a, t->pfx));
        if (t->have_last)
                RW_TRY(rw_args_fmt(a, "%" PRId64, t->last));
        else
                RW_TRY(rw_args_str(a, ""));
        RW_TRY(rw_args_fmt(a, "%" PRId64, B) || rw_args_str(a, bd->token) ||
               rw_args_fmt(a, "%" PRId64, bd->opts.lock_ttl_ms) ||
               rw_args_fmt(a, "%" PRId64, k));
        if (leave >= t->first / I)
                RW_TRY(rw_args_fmt(a, "%" PRId64, leave));
        else
                RW_TRY(rw_args_str(a, ""));
        RW_TRY(rw_args_str(a, "5") || rw_args_str(a, "first") ||
               rw_args_fmt(a, "%" PRId64, t->first) ||
               rw_args_str(a, "a:sum") || rw_args_fmt(a, "%" PRId64, newsum[0]) ||
               rw_args_str(a, "v:sum") || rw_args_fmt(a, "%" PRId64, newsum[1]));
        rw_u128_fmt(newsq[0], num, sizeof(num));
        RW_TRY(rw_args_str(a, "a:sq") || rw_args_str(a, num));
        rw_u128_fmt(newsq[1], num, sizeof(num));
        RW_TRY(rw_args_str(a, "v:sq") || rw_args_str(a, num));
        for (int pass = 0; pass < 2; pass++) {      /* totals, then fold copies */
                for (int fam = 0; fam < 2; fam++) {
                        rw_bmap_t *m = &t->subj[fam];
                        size_t cntpos = a->cnt, cnt = 0;
                        RW_TRY(rw_args_str(a, "0"));
                        for (size_t e = 0; e < m->cnt; e++) {
                                const rw_bent_t *en = &m->ents[e];
                                if (pass == 0 ? en->add == en->sub : en->add == 0)
                                        continue;
                                RW_TRY(rw_args_str(a, en->key) ||
                                       rw_args_fmt(a, "%" PRId64, pass == 0 ? en->val : en->add));
                                cnt++;
                        }
                        free(a->v[cntpos]);
                        snprintf(num, sizeof(num), "%zu", cnt);
                        RW_TRY(!(a->v[cntpos] = strdup(num)));
                        a->len[cntpos] = strlen(num);
                }
        }
        for (size_t e = 0; e < t->fps.cnt; e++)
                nfp += t->fps.ents[e].dirty;
        RW_TRY(rw_args_fmt(a, "%zu", nfp));
        for (size_t e = 0; e < t->fps.cnt; e++) {
                const rw_bent_t *f = &t->fps.ents[e];
                if (!f->dirty)
                        continue;
                RW_TRY(rw_args_str(a, f->key));
                if (f->gone)
                        RW_TRY(rw_args_str(a, ""));
                else {
                        char csv[RW_FP_CSV_SIZE];
                        rw_fp_state_format(&f->fp, csv, sizeof(csv));
                        RW_TRY(rw_args_str(a, csv));
                }
        }
        /* The alerts, in fingerprint order: the same history, the same outbox. */
        if (tl.cnt)
                qsort(tl.v, tl.cnt, sizeof(*tl.v), rw_trans_cmp);
        RW_TRY(rw_args_fmt(a, "%zu", tl.cnt));
        for (size_t i = 0; i < tl.cnt; i++) {
                rw_trans_t *tn = &tl.v[i];
                rw_record_t rec = { .type = RW_REC_ALERT };
                void *buf = NULL;
                size_t len = 0;

                tn->a.alert_id = tn->id;
                tn->a.summary = tn->summary;
                rw_alert_id_derive(tn->a.fingerprint, rw_alert_status_name(tn->a.status),
                                   rw_alert_severity_name(tn->a.severity), B,
                                   tn->id, sizeof(tn->id));
                rec.u.alert = tn->a;
                if (rw_codec_encode(t->codec, &rec, &buf, &len, t->errstr, t->errstr_size)) {
                        err = RW_ERR_FAIL;
                        goto done;
                }
                if (rw_args_add(a, buf, len)) {
                        free(buf);
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                free(buf);
        }
        if ((err = rw_tick_write(t)))
                goto done;

        /* Decided: the {dep} slot now says what this tick holds in memory. */
        t->have_last = 1;
        t->last = B;
        for (int fam = 0; fam < 2; fam++) {
                t->sum[fam] = newsum[fam];
                t->sq[fam] = newsq[fam];
        }
        for (size_t e = 0; e < t->fps.cnt; e++)
                t->fps.ents[e].dirty = t->fps.ents[e].gone = 0;
        for (int32_t p = 0; p < t->parts; p++) {
                for (int fam = 0; fam < 2; fam++) {
                        char key[256], slot[16];
                        snprintf(slot, sizeof(slot), "%d", (int)p);
                        rw_key(key, sizeof(key), t->ns, slot, "pb:%s:%" PRId64, rw_fam[fam], k);
                        RW_TRY(rw_args_str(&t->dels, key));
                }
        }
        res->decided++;
        res->alerts += (int64_t)tl.cnt;
done:
        if (err == RW_ERR_NOMEM)
                snprintf(t->errstr, t->errstr_size, "out of memory");
        free(tl.v);
        return err;
}

/* Send the pending DELs of folded buckets (best effort). */
static rw_err_t rw_tick_flush_dels(rw_tick_t *t) {
        rw_err_t err = RW_OK;
        size_t sent = 0;
        for (; sent < t->dels.cnt && !err; sent++) {
                const char *argv[2] = { "DEL", t->dels.v[sent] };
                err = rw_tick_send(t, 2, argv, NULL);
        }
        for (size_t i = 0; i < sent && !err; i++) {
                redisReply *r = NULL;
                err = rw_tick_recv(t, &r);
                if (err == RW_ERR_FAIL)
                        err = RW_OK;
                if (r)
                        freeReplyObject(r);
        }
        rw_args_reset(&t->dels);
        return err;
}

/* SET NX PX; the lock is also ours when it still holds our token (a tick
 * cut short by a lost connection). 1 held, 0 busy. */
static rw_err_t rw_tick_lock(rw_tick_t *t, int *heldp) {
        char key[256], ttl[32];
        const char *set[6] = { "SET", key, t->bd->token, "NX", "PX", ttl };
        const char *get[2] = { "GET", key };
        const char *pexp[3] = { "PEXPIRE", key, ttl };
        redisReply *r = NULL;
        rw_err_t err;

        *heldp = 0;
        snprintf(key, sizeof(key), "%slock", t->pfx);
        snprintf(ttl, sizeof(ttl), "%" PRId64, t->bd->opts.lock_ttl_ms);
        if ((err = rw_tick_cmd(t, &r, 6, set)))
                return err;
        *heldp = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (*heldp)
                return RW_OK;
        if ((err = rw_tick_cmd(t, &r, 2, get)))
                return err;
        *heldp = r->type == REDIS_REPLY_STRING && !strcmp(r->str, t->bd->token);
        freeReplyObject(r);
        if (!*heldp)
                return RW_OK;
        if ((err = rw_tick_cmd(t, &r, 3, pexp)))
                return err;
        freeReplyObject(r);
        return RW_OK;
}

static rw_err_t rw_tick_unlock(rw_tick_t *t) {
        static const char cad[] =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0";
        char key[256];
        const char *argv[5] = { "EVAL", cad, "1", key, t->bd->token };
        redisReply *r = NULL;
        rw_err_t err;

        snprintf(key, sizeof(key), "%slock", t->pfx);
        if ((err = rw_tick_cmd(t, &r, 5, argv)))
                return err;
        freeReplyObject(r);
        return RW_OK;
}

static rw_err_t rw_tick_init(rw_tick_t *t, rw_boundary_t *bd, rw_state_t *st,
                             int32_t partitions, int64_t wall_now,
                             char *errstr, size_t errstr_size) {
        memset(t, 0, sizeof(*t));
        t->bd = bd;
        t->st = st;
        t->parts = partitions;
        t->wall_now = wall_now;
        t->errstr = errstr;
        t->errstr_size = errstr_size;
        t->ns = rw_state_ns(st);
        t->low = INT64_MIN;
        snprintf(t->pfx, sizeof(t->pfx), "%s:{dep}:", t->ns);
        t->rc = rw_state_context(st);
        if (!t->rc || t->rc->err) {
                if (rw_state_reconnect(st, errstr, errstr_size))
                        return RW_ERR_IO;
                t->rc = rw_state_context(st);
        }
        return RW_OK;
}

static void rw_tick_clear(rw_tick_t *t) {
        rw_bmap_free(&t->fps);
        rw_bmap_free(&t->subj[0]);
        rw_bmap_free(&t->subj[1]);
        rw_args_free(&t->dels);
        rw_args_free(&t->args);
}

/* Deliver the {dep} outbox through the caller: Redis trouble stays
 * RW_ERR_IO (retry), anything else is a failed delivery. */
static rw_err_t rw_tick_drain(rw_boundary_drain_cb *drain, void *opaque,
                              char *errstr, size_t errstr_size) {
        rw_err_t err;

        if (!drain || !(err = drain(opaque, "dep")))
                return RW_OK;
        snprintf(errstr, errstr_size, "outbox {dep}: %s",
                 err == RW_ERR_IO ? "redis unavailable" : "delivery failed");
        return err == RW_ERR_IO ? RW_ERR_IO : RW_ERR_FAIL;
}

rw_err_t rw_boundary_tick(rw_boundary_t *bd, rw_state_t *st, rw_codec_t *codec,
                          int32_t partitions, int64_t wall_now,
                          rw_boundary_drain_cb *drain, void *opaque,
                          rw_boundary_result_t *res,
                          char *errstr, size_t errstr_size) {
        rw_boundary_result_t dummy;
        rw_tick_t t;
        rw_err_t err;
        int held = 0, start = 0;
        const int64_t I = bd->opts.interval_ms;

        if (!res)
                res = &dummy;
        *res = (rw_boundary_result_t){ .low_watermark = INT64_MIN, .last = -1 };
        if ((err = rw_tick_init(&t, bd, st, partitions, wall_now, errstr, errstr_size)))
                return err;
        t.codec = codec;
        if ((err = rw_tick_lock(&t, &held)))
                goto done;
        if (!held) {
                res->busy = 1;
                goto done;
        }
        /* What a decider that died before delivering left behind. */
        if ((err = rw_tick_drain(drain, opaque, errstr, errstr_size)))
                goto unlock;
        if ((err = rw_tick_load(&t, 1, &start)))
                goto unlock;
        res->low_watermark = t.low;
        if (start) {
                while (t.last + I <= t.low && res->decided < bd->opts.max_per_tick) {
                        err = rw_tick_decide(&t, t.last + I, res);
                        if (err == RW_ERR_FENCED) {
                                rw_log_info("%s", errstr);
                                res->stale = 1;
                                err = RW_OK;
                                break;
                        }
                        if (err)
                                break;
                }
                res->more = !err && !res->stale && t.last + I <= t.low;
        }
        if (t.have_last)
                res->last = t.last;
        if (err || (err = rw_tick_flush_dels(&t)))
                goto unlock;
        if (res->alerts)
                err = rw_tick_drain(drain, opaque, errstr, errstr_size);
unlock:
        /* A lost connection cannot release: the lock expires, or this
         * decider's token takes it again on the next tick. */
        if (err != RW_ERR_IO) {
                rw_err_t uerr = rw_tick_unlock(&t);
                if (!err)
                        err = uerr;
        }
done:
        rw_tick_clear(&t);
        return err;
}

rw_err_t rw_boundary_status(rw_boundary_t *bd, rw_state_t *st, int32_t partitions,
                            int64_t wall_now, rw_boundary_status_t *out,
                            char *errstr, size_t errstr_size) {
        rw_tick_t t;
        rw_err_t err;
        int start = 0;
        redisReply *rs[4] = { NULL, NULL, NULL, NULL };
        char za[256], zv[256], f[256], ob[256], top[16];
        const char *ra[6] = { "ZRANGE", za, "0", top, "REV", "WITHSCORES" };
        const char *rv[6] = { "ZRANGE", zv, "0", top, "REV", "WITHSCORES" };
        const char *rf[2] = { "HVALS", f };
        const char *rl[2] = { "LLEN", ob };

        memset(out, 0, sizeof(*out));
        out->last = out->first = -1;
        out->low_watermark = INT64_MIN;
        if ((err = rw_tick_init(&t, bd, st, partitions, wall_now, errstr, errstr_size)))
                return err;
        if ((err = rw_tick_load(&t, 0, &start)))
                goto done;
        out->low_watermark = t.low;
        out->partitions = t.parts;
        if (start) {
                out->first = t.first;
                if (t.have_last)
                        out->last = t.last;
                if (t.low != INT64_MIN && t.low >= t.last + bd->opts.interval_ms)
                        out->pending = (t.low - t.last) / bd->opts.interval_ms;
        }
        out->account_sum = t.sum[0];
        out->vendor_sum = t.sum[1];
        if (t.sum[0] > 0)
                out->account_hhi = (double)t.sq[0] / ((double)t.sum[0] * (double)t.sum[0]) * 1e4;
        if (t.sum[1] > 0)
                out->vendor_hhi = (double)t.sq[1] / ((double)t.sum[1] * (double)t.sum[1]) * 1e4;
        snprintf(za, sizeof(za), "%sz:a", t.pfx);
        snprintf(zv, sizeof(zv), "%sz:v", t.pfx);
        snprintf(f, sizeof(f), "%sf", t.pfx);
        snprintf(ob, sizeof(ob), "%soutbox", t.pfx);
        snprintf(top, sizeof(top), "%d", RW_BOUNDARY_TOP - 1);
        if ((err = rw_tick_send(&t, 6, ra, NULL)) || (err = rw_tick_send(&t, 6, rv, NULL)) ||
            (err = rw_tick_send(&t, 2, rf, NULL)) || (err = rw_tick_send(&t, 2, rl, NULL)) ||
            (err = rw_tick_pipe(&t, 4, rs)))
                goto done;
        for (int fam = 0; fam < 2; fam++) {
                const redisReply *r = rs[fam];
                int64_t sum = fam ? t.sum[1] : t.sum[0];
                for (size_t j = 0; j + 1 < r->elements && j / 2 < RW_BOUNDARY_TOP; j += 2) {
                        size_t i = j / 2;
                        char *id = fam ? out->top_vendors[i].id : out->top_accounts[i].id;
                        int64_t v = (int64_t)strtod(r->element[j + 1]->str, NULL);
                        snprintf(id, 128, "%s", r->element[j]->str);
                        if (fam) {
                                out->top_vendors[i].total = v;
                                out->top_vendors[i].share = sum > 0 ? (double)v / (double)sum : 0;
                                out->top_vendor_cnt++;
                        } else {
                                out->top_accounts[i].total = v;
                                out->top_accounts[i].share = sum > 0 ? (double)v / (double)sum : 0;
                                out->top_account_cnt++;
                        }
                }
        }
        for (size_t j = 0; j < rs[2]->elements; j++)
                out->firing += rs[2]->element[j]->str[0] == '1';
        out->outbox = rw_reply_i64(rs[3]);
done:
        for (int i = 0; i < 4; i++)
                if (rs[i])
                        freeReplyObject(rs[i]);
        rw_tick_clear(&t);
        return err;
}
