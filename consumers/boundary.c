/* boundary.c - the dependency-rule decider: one process at a time folds the
 * finished interval buckets of every orders partition into the {dep} slot's
 * 90-day totals and decides the dependency rules at each boundary. */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "consumers/boundary.h"
#include "common/log.h"
#include "consumers/idle.h"
#include "state/boundary_store.h"

struct rw_boundary_s {
        rw_rules_params_t params;
        rw_boundary_opts_t opts;
        int64_t nwin;           /* buckets in the dependency window */
        char token[33];         /* this decider's lock token */
        int replay;             /* rw_boundary_set_replay() */
        rw_bstore_t store;      /* the Redis side; keeps the script loaded */
        double run_pairs;       /* subject entries per boundary in the last run
                                 * read (-1: none read yet) */
};

void rw_boundary_opts_default(rw_boundary_opts_t *opts) {
        *opts = (rw_boundary_opts_t){
                .interval_ms = 3600 * 1000LL,
                .lateness_ms = 5 * 60 * 1000LL,
                .idle_timeout_ms = 30 * 1000LL,
                .max_per_tick = 500,
                .max_per_call = 100,
                .max_run_pairs = 10000,
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
        if (opts->max_per_tick < 1 || opts->max_per_call < 1 || opts->max_run_pairs < 1 ||
            opts->lock_ttl_ms < 1 || opts->idle_timeout_ms < 0 || opts->lateness_ms < 0) {
                snprintf(errstr, errstr_size, "boundary: option out of range");
                return NULL;
        }
        if (!(bd = calloc(1, sizeof(*bd)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        bd->params = *params;
        bd->opts = *opts;
        bd->run_pairs = -1;
        bd->nwin = params->dep_window_ms / opts->interval_ms;
        bd->store.interval_ms = opts->interval_ms;
        bd->store.nwin = bd->nwin;
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

void rw_boundary_set_replay(rw_boundary_t *bd, int replay) {
        bd->replay = replay;
}

void rw_boundary_destroy(rw_boundary_t *bd) {
        if (!bd)
                return;
        rw_bstore_release(&bd->store);
        free(bd);
}

/*
 * A string-keyed map of subjects and fingerprints.
 */

/* One subject (accounts/vendors map) or one fingerprint (lifecycle map). */
typedef struct rw_bent_s {
        char *key;
        /* A map holds subjects or fingerprints, never both: 48 bytes an
         * entry instead of 80 (a pass's subject maps are most of the
         * decider's memory). */
        union {
                struct {        /* subjects at one boundary */
                        int64_t add;    /* merged bucket value folded in */
                        int64_t sub;    /* fold copy leaving the window */
                        int64_t old, val; /* 90-day total before / after */
                };
                struct {        /* fingerprints */
                        rw_rule_id_t rule;
                        uint32_t subj_off;      /* subject id = key + subj_off */
                        rw_fp_state_t fp;
                };
        };
        unsigned char dirty;    /* to write with this run */
        unsigned char gone;     /* to delete (equivalent to no state) */
        unsigned char owned;    /* key is this map's (else another's, which
                                 * outlives it: rw_bmap_get_shared()) */
        unsigned char cand;     /* a run's total: in the run's candidates
                                 * for a share rule (rw_run_cand_t) */
        uint32_t cix;           /* a boundary's subject: its entry in the
                                 * run's totals (cur) + 1, 0 when it has none
                                 * (in the padding) */
} rw_bent_t;

_Static_assert(sizeof(rw_bent_t) <= 48, "a map entry stays small");

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

/* The entry of key, its hash h (rw_hash()), or -1; *slotp (if not NULL):
 * the empty slot the search ended at, where key would go. */
static int rw_bmap_find_h(const rw_bmap_t *m, const char *key, size_t len, uint32_t h,
                          size_t *slotp) {
        if (!m->nslots)
                return -1;
        for (size_t i = h & (m->nslots - 1);; i = (i + 1) & (m->nslots - 1)) {
                uint32_t s = m->slots[i];
                if (!s) {
                        if (slotp)
                                *slotp = i;
                        return -1;
                }
                if (!strncmp(m->ents[s - 1].key, key, len) && !m->ents[s - 1].key[len])
                        return (int)(s - 1);
        }
}

static int rw_bmap_find(const rw_bmap_t *m, const char *key, size_t len) {
        return rw_bmap_find_h(m, key, len, rw_hash(key, len), NULL);
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

/* The entry of key, its hash h (added, zeroed, if new: with a copy of key,
 * or with key itself when `shared`); -1 when out of memory. The key is
 * hashed once by the caller, whatever the maps it is looked up in. */
static int rw_bmap_add_h(rw_bmap_t *m, const char *key, size_t len, uint32_t h, int shared,
                         int *addedp) {
        size_t i = 0;
        int e = rw_bmap_find_h(m, key, len, h, &i);

        if (addedp)
                *addedp = e < 0;
        if (e >= 0)
                return e;
        if ((m->cnt + 1) * 2 > m->nslots) {
                if (rw_bmap_rehash(m, m->nslots ? m->nslots * 2 : 64))
                        return -1;
                for (i = h & (m->nslots - 1); m->slots[i]; i = (i + 1) & (m->nslots - 1))
                        ;
        }
        if (m->cnt == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 32;
                rw_bent_t *ents = realloc(m->ents, cap * sizeof(*ents));
                if (!ents)
                        return -1;
                m->ents = ents;
                m->cap = cap;
        }
        memset(&m->ents[m->cnt], 0, sizeof(m->ents[m->cnt]));
        if (shared)
                m->ents[m->cnt].key = (char *)key;
        else if (!(m->ents[m->cnt].key = strndup(key, len)))
                return -1;
        m->ents[m->cnt].owned = !shared;
        m->slots[i] = (uint32_t)m->cnt + 1;
        return (int)m->cnt++;
}

static int rw_bmap_get(rw_bmap_t *m, const char *key, size_t len, int *addedp) {
        return rw_bmap_add_h(m, key, len, rw_hash(key, len), 0, addedp);
}

/* As rw_bmap_get(), keeping key itself (NUL-terminated at len), which must
 * outlive the entry: no copy. */
static int rw_bmap_get_shared(rw_bmap_t *m, const char *key, size_t len, int *addedp) {
        return rw_bmap_add_h(m, key, len, rw_hash(key, len), 1, addedp);
}

static void rw_bmap_reset(rw_bmap_t *m) {
        for (size_t e = 0; e < m->cnt; e++)
                if (m->ents[e].owned)
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


/*
 * A tick: what the {dep} slot holds, as of the last decision read or made.
 */

typedef struct rw_tick_s {
        rw_boundary_t *bd;
        rw_bstore_t *bs;
        rw_codec_t *codec;
        int32_t parts;
        int64_t wall_now;
        int have_last;
        int64_t last, first;
        int64_t sum[2];         /* [0] accounts, [1] vendors */
        rw_u128_t sq[2];
        int64_t cnt[2];         /* subjects with a total other than 0 */
        int64_t orders;         /* PLACED orders in the window ... */
        int64_t orders_since;   /* ... counted from this boundary on (whole a
                                 * window later) */
        int64_t low;            /* L */
        rw_bmap_t fps;          /* fingerprint -> lifecycle, the f hash */
        int64_t del_k0;         /* folded buckets to delete from the partitions */
        size_t del_cnt;
        char *errstr;
        size_t errstr_size;
} rw_tick_t;

/* L from the progress reports (consumers/idle.c). */
static int64_t rw_boundary_low(const rw_boundary_t *bd, const rw_bstore_head_t *h,
                               int32_t parts, int64_t wall_now) {
        rw_idle_opts_t o = {
                .lateness_ms = bd->opts.lateness_ms,
                .idle_timeout_ms = bd->opts.idle_timeout_ms,
                .fresh_ms = RW_IDLE_FRESH_MS,
                .replay = bd->replay,
        };
        return rw_idle_low(&o, h->prog, h->prog_cnt, parts, wall_now);
}

/* Read progress, aggregates and (optionally) the lifecycle states, and when
 * nothing was decided yet the start of the history: sets low, last, first,
 * sums, fps. *startp = 0 when there is nothing to decide from (no bucket
 * anywhere). */
static rw_err_t rw_tick_load(rw_tick_t *t, int with_fps, int *startp) {
        rw_bstore_head_t h;
        rw_err_t err;

        *startp = 0;
        if ((err = rw_bstore_head(t->bs, with_fps, &h, t->errstr, t->errstr_size)))
                return err;
        if (t->parts <= 0) {
                /* Not told: the partitions that reported progress. */
                for (size_t j = 0; j < h.prog_cnt; j++)
                        if (h.prog[j].partition + 1 > t->parts)
                                t->parts = h.prog[j].partition + 1;
        }
        t->low = rw_boundary_low(t->bd, &h, t->parts, t->wall_now);
        t->have_last = h.have_last;
        t->last = h.last;
        t->first = h.first;
        for (int fam = 0; fam < 2; fam++) {
                t->sum[fam] = h.sum[fam];
                t->sq[fam] = h.sq[fam];
                t->cnt[fam] = h.cnt[fam];
        }
        t->orders = h.orders;
        t->orders_since = h.orders_since;
        for (size_t j = 0; j < h.fp_cnt; j++) {
                const char *key = h.fps[j].fingerprint, *s1, *s2;
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
                t->fps.ents[e].subj_off = (uint32_t)(s2 + 1 - key);
                t->fps.ents[e].fp = h.fps[j].fp;
        }
        if (t->have_last && !h.have_counts) {
                /* Decided before the window's counts were kept: the
                 * subjects are those with a total; orders are counted from
                 * here on (the orders minimum applies a window later). */
                if ((err = rw_bstore_subjects(t->bs, t->cnt, t->errstr, t->errstr_size)))
                        goto done;
                t->orders = 0;
                t->orders_since = t->last;
                *startp = 1;
        } else if (t->have_last) {
                *startp = 1;
        } else if (t->low != INT64_MIN) {
                /* Nothing decided yet: history starts at the lowest bucket. */
                int64_t kmin;
                int found;
                if ((err = rw_bstore_first(t->bs, t->parts, &kmin, &found, t->errstr,
                                           t->errstr_size)))
                        goto done;
                if (found) {
                        t->first = kmin * t->bd->opts.interval_ms;
                        t->last = t->first;
                        t->sum[0] = t->sum[1] = 0;
                        t->sq[0] = t->sq[1] = 0;
                        t->cnt[0] = t->cnt[1] = 0;
                        t->orders = 0;
                        /* Counted from the start of the history: every
                         * window's count is whole. */
                        t->orders_since = t->first - t->bd->params.dep_window_ms;
                        *startp = 1;
                }
        }
done:
        if (err == RW_ERR_NOMEM)
                snprintf(t->errstr, t->errstr_size, "out of memory");
        rw_bstore_head_clear(&h);
        return err;
}

/*
 * One boundary.
 */

static const rw_rule_id_t rw_share_rule[2] = { RW_RULE_ACCOUNT_SHARE, RW_RULE_VENDOR_SHARE };
static const rw_rule_id_t rw_hhi_rule[2] = { RW_RULE_ACCOUNT_HHI, RW_RULE_VENDOR_HHI };

typedef struct rw_trans_s {
        rw_alert_t a;
        char id[40];
        char summary[1024];     /* a subject id (validate.id.max.bytes, at most 512) and text */
} rw_trans_t;

typedef struct rw_trans_list_s {
        rw_trans_t *v;
        size_t cnt, cap;
} rw_trans_list_t;

static void rw_dep_summary(rw_rule_id_t rule, const char *subject, int resolved,
                           const rw_decision_t *dec, const char *why, char *buf,
                           size_t size) {
        const char *tail = resolved ? ", back to normal" : "";
        long long days = (long long)(dec->window_ms / RW_DAY_MS);

        if (dec->undecided) {
                snprintf(buf, size, "%s: " RW_UNDECIDED_TEXT " (%s)",
                         rule == RW_RULE_ACCOUNT_HHI ? "accounts' net spend" :
                         rule == RW_RULE_VENDOR_HHI ? "vendors' order value" : subject,
                         why);
                return;
        }
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

/* What a boundary's window holds besides the totals: whether it is enough
 * for the dependency rules to decide. */
typedef struct rw_dep_base_s {
        int64_t orders;         /* PLACED orders in the window */
        int orders_known;       /* counted over a whole window */
        int64_t subjects;       /* the family's subjects with a total */
} rw_dep_base_t;

/* 0 when the window is enough to decide `rule` on; else 1 with why not
 * (into `why` unless NULL: it is wanted only for a transition's summary). */
static int rw_dep_short(const rw_rules_params_t *p, rw_rule_id_t rule, int64_t history,
                        double total, const rw_dep_base_t *base, rw_decision_t *dec,
                        char *why, size_t size) {
        int fam = rule == RW_RULE_VENDOR_SHARE || rule == RW_RULE_VENDOR_HHI;
        long long days = (long long)(p->dep_window_ms / RW_DAY_MS);
        char h1[32], h2[32];

        if (history < p->dep_min_history_ms) {
                if (why) {
                        rw_duration_format(history, h1, sizeof(h1));
                        rw_duration_format(p->dep_min_history_ms, h2, sizeof(h2));
                        snprintf(why, size, "%s of history, needs %s", h1, h2);
                }
                rw_rules_undecided_portfolio(p, (double)history,
                                             (double)p->dep_min_history_ms, dec);
        } else if (base->orders_known && base->orders < p->dep_min_orders) {
                if (why)
                        snprintf(why, size, "%lld order(s) in %lld days, needs %lld",
                                 (long long)base->orders, days, (long long)p->dep_min_orders);
                rw_rules_undecided_portfolio(p, (double)base->orders,
                                             (double)p->dep_min_orders, dec);
        } else if (base->subjects < p->dep_min_subjects[fam]) {
                if (why)
                        snprintf(why, size, "%lld %s in %lld days, needs %lld",
                                 (long long)base->subjects, fam ? "vendor(s) with order value" :
                                 "account(s) with net spend", days,
                                 (long long)p->dep_min_subjects[fam]);
                rw_rules_undecided_portfolio(p, (double)base->subjects,
                                             (double)p->dep_min_subjects[fam], dec);
        } else if (total <= 0) {
                if (why)
                        snprintf(why, size, "%s in %lld days", fam ? "no order value" :
                                 "no net spend", days);
                rw_rules_undecided_portfolio(p, total, 0, dec);
        } else {
                return 0;
        }
        return 1;
}

/* Step the lifecycle of rule/subject with a decision at B; a transition is
 * recorded in the fps map and appended to tl. A firing alert whose rule
 * cannot decide any more (too little in the window) resolves. */
static rw_err_t rw_tick_step(rw_tick_t *t, rw_trans_list_t *tl, rw_rule_id_t rule,
                             const char *subject, double value, double total,
                             const rw_dep_base_t *base, int64_t B) {
        const rw_boundary_t *bd = t->bd;
        rw_subject_type_t stype = rw_rule_subject(rule);
        rw_decision_t dec;
        rw_fp_state_t fst = { 0 };
        rw_transition_t tr;
        rw_trans_t *tn;
        const char *rname = rw_rule_name(rule), *tname = rw_subject_type_name(stype);
        size_t rlen = strlen(rname), tlen = strlen(tname), slen = strlen(subject), len;
        /* The fingerprint rule/type/subject: on the stack unless long (this
         * runs for every subject of every boundary). */
        char buf[256], *fp = buf, why[160] = "";
        uint32_t h;
        int e, added, is_short;

        if (!bd->params.enabled[rule])
                return RW_OK;
        len = rlen + tlen + slen + 3;
        if (len > sizeof(buf) && !(fp = malloc(len)))
                return RW_ERR_NOMEM;
        memcpy(fp, rname, rlen);
        fp[rlen] = '/';
        memcpy(fp + rlen + 1, tname, tlen);
        fp[rlen + 1 + tlen] = '/';
        memcpy(fp + rlen + tlen + 2, subject, slen + 1);
        h = rw_hash(fp, len - 1);
        e = rw_bmap_find_h(&t->fps, fp, len - 1, h, NULL);
        if (e >= 0)
                fst = t->fps.ents[e].fp;
        if ((is_short = rw_dep_short(&bd->params, rule, B - t->first, total, base, &dec,
                                     NULL, 0))) {
                if (!fst.firing) {
                        if (fp != buf)
                                free(fp);
                        return RW_OK;
                }
        } else if (!rw_rules_eval_portfolio(rule, &bd->params, value, total,
                                            B - t->first, &dec)) {
                if (fp != buf)
                        free(fp);
                return RW_OK;
        }
        tr = rw_lifecycle_step(&fst, &dec, B, bd->params.cooldown_ms);
        if (tr == RW_TRANS_NONE) {
                if (fp != buf)
                        free(fp);
                return RW_OK;
        }
        e = rw_bmap_add_h(&t->fps, fp, len - 1, h, 0, &added);
        if (fp != buf)
                free(fp);
        if (e < 0)
                return RW_ERR_NOMEM;
        if (added) {
                t->fps.ents[e].rule = rule;
                t->fps.ents[e].subj_off = (uint32_t)(len - 1 - slen);
        }
        t->fps.ents[e].fp = fst;
        t->fps.ents[e].dirty = 1;
        t->fps.ents[e].gone = 0;
        if (B < bd->opts.emit_from)     /* a replay's warm-up */
                return RW_OK;
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
        if (is_short) {         /* the same verdict, now with its reason */
                rw_decision_t again;
                rw_dep_short(&bd->params, rule, B - t->first, total, base, &again, why,
                             sizeof(why));
        }
        rw_dep_summary(rule, subject, tr == RW_TRANS_RESOLVED, &dec, why, tn->summary,
                       sizeof(tn->summary));
        return RW_OK;
}

static int rw_trans_cmp(const void *a, const void *b) {
        return strcmp(((const rw_trans_t *)a)->a.fingerprint,
                      ((const rw_trans_t *)b)->a.fingerprint);
}



/* The entries of a run's totals (cur) whose total has reached the run's
 * lowest share range (q.lo) at some boundary so far, in entry order: a
 * boundary looks for subjects that could hold a share rule among these, not
 * among every subject the run reads (a run of 400 boundaries over thousands
 * of accounts, of which a handful come near a share). */
typedef struct rw_run_cand_s {
        uint32_t *ix;
        size_t cnt, cap;
} rw_run_cand_t;

/* A run of consecutive boundaries decided in memory, then written in one
 * fenced step. Each boundary is decided exactly as if it were decided
 * alone: the totals read for the run are the stored ones, and those the run
 * changes are kept here, boundary by boundary. */
typedef struct rw_run_s {
        size_t n;
        rw_bmap_t *subj;        /* [i * 2 + fam]: subjects touched at boundary i */
        int64_t *newsum;        /* [i * 2 + fam] */
        double *lo;             /* [i * 2 + fam]: share rule range (NAN: none) */
        rw_bmap_t cur[2];       /* totals of the subjects the run reads exactly */
        rw_bstore_totals_t q[2];
        rw_run_cand_t cand[2];
        rw_bstore_hash_t *fold; /* [i * 2 + fam] */
        int64_t *ord_add;       /* [i]: PLACED orders interval k0+i adds */
        int64_t *ord_sub;       /* [i]: and the interval leaving takes away */
        rw_bstore_blob_t *alerts;
        size_t alert_cnt, alert_cap;
} rw_run_t;

static void rw_run_clear(rw_run_t *r) {
        for (size_t i = 0; r->subj && i < r->n * 2; i++)
                rw_bmap_free(&r->subj[i]);
        for (size_t i = 0; r->fold && i < r->n * 2; i++)
                free(r->fold[i].v);     /* their subjects are the maps' keys */
        for (size_t i = 0; i < r->alert_cnt; i++)
                free(r->alerts[i].buf);
        rw_bstore_totals_clear(r->q);
        for (int fam = 0; fam < 2; fam++) {
                rw_bmap_free(&r->cur[fam]);
                free(r->q[fam].values);
                free(r->cand[fam].ix);
        }
        free(r->subj);
        free(r->newsum);
        free(r->lo);
        free(r->fold);
        free(r->ord_add);
        free(r->ord_sub);
        free(r->alerts);
        memset(r, 0, sizeof(*r));
}

/* Add a bucket (or, with `leaving`, a fold copy leaving the window) to a
 * boundary's merge `m`, its subjects to the run's `cur`, whose keys `m`
 * shares (a run holds each subject's name once, not once per boundary). A
 * vendor bucket's field "" (no vendor id is empty) counts its PLACED
 * orders: added to *orders, not a subject. */
static int rw_run_merge(rw_bmap_t *m, rw_bmap_t *cur, const rw_bstore_hash_t *h,
                        int leaving, int64_t *orders) {
        for (size_t j = 0; j < h->cnt; j++) {
                int c, e;
                if (orders && h->v[j].len == 0) {
                        *orders += h->v[j].value;
                        continue;
                }
                const uint32_t hs = rw_hash(h->v[j].subject, h->v[j].len);
                if ((c = rw_bmap_add_h(cur, h->v[j].subject, h->v[j].len, hs, 0, NULL)) < 0 ||
                    (e = rw_bmap_add_h(m, cur->ents[c].key, h->v[j].len, hs, 1, NULL)) < 0)
                        return -1;
                m->ents[e].cix = (uint32_t)c + 1;
                if (leaving)
                        m->ents[e].sub += h->v[j].value;
                else
                        m->ents[e].add += h->v[j].value;
        }
        return 0;
}

/* The stored total of `key` as of the boundary being decided: exact for the
 * subjects the run tracks, else the score read for the share range (the
 * total as a double, as the sorted set holds it). A subject in neither has
 * no total: the run never decides one that was not read. */
static int64_t rw_run_total(const rw_run_t *r, int fam, const char *key, uint32_t cix) {
        int e = cix ? (int)cix - 1 : rw_bmap_find(&r->cur[fam], key, strlen(key));
        if (e >= 0)
                return r->cur[fam].ents[e].val;
        for (size_t j = 0; j < r->q[fam].range_cnt; j++)
                if (!strcmp(r->q[fam].range[j].subject, key))
                        return (int64_t)r->q[fam].range[j].score;
        return 0;
}

/* Entry x of the run's totals of family fam joins the candidates if its
 * total reached the run's lowest share range (and it is not one already).
 * -1 when out of memory. */
static int rw_run_cand_add(rw_run_t *r, int fam, uint32_t x) {
        rw_run_cand_t *c = &r->cand[fam];
        rw_bent_t *en = &r->cur[fam].ents[x];
        size_t lo = 0, hi;

        if (en->cand || !r->q[fam].want_range || !en->val ||
            (double)en->val < r->q[fam].lo)
                return 0;
        if (rw_grow(&c->ix, &c->cap, c->cnt + 1, sizeof(*c->ix), 16))
                return -1;
        for (hi = c->cnt; lo < hi;) {   /* entry order: the order of a full scan */
                size_t mid = (lo + hi) / 2;
                if (c->ix[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        memmove(&c->ix[lo + 1], &c->ix[lo], (c->cnt - lo) * sizeof(*c->ix));
        c->ix[lo] = x;
        c->cnt++;
        en->cand = 1;
        return 0;
}

/* Read the buckets of the run and every total it needs: two round trips
 * whatever the run's length. */
static rw_err_t rw_run_read(rw_tick_t *t, rw_run_t *r, int64_t k0) {
        rw_boundary_t *bd = t->bd;
        const int64_t I = bd->opts.interval_ms;
        rw_bstore_buckets_t bk;
        int64_t sum[2] = { t->sum[0], t->sum[1] };
        rw_err_t err;

        if ((err = rw_bstore_read_buckets(t->bs, t->parts, k0, r->n, k0 - bd->nwin,
                                          t->first / I, t->del_k0, t->del_cnt, &bk,
                                          t->errstr, t->errstr_size)))
                return err;
        t->del_cnt = 0;
        for (size_t i = 0; i < r->n; i++) {
                for (int fam = 0; fam < 2; fam++) {
                        rw_bmap_t *m = &r->subj[i * 2 + fam];
                        for (int32_t p = 0; p < t->parts; p++)
                                if (rw_run_merge(m, &r->cur[fam],
                                                 &bk.bucket[(i * (size_t)t->parts +
                                                             (size_t)p) * 2 + (size_t)fam], 0,
                                                 fam ? &r->ord_add[i] : NULL))
                                        goto nomem;
                        if (rw_run_merge(m, &r->cur[fam], &bk.leaving[i * 2 + (size_t)fam], 1,
                                         fam ? &r->ord_sub[i] : NULL))
                                goto nomem;
                        for (size_t e = 0; e < m->cnt; e++)
                                sum[fam] += m->ents[e].add - m->ents[e].sub;
                        r->newsum[i * 2 + fam] = sum[fam];
                        r->lo[i * 2 + fam] = NAN;
                        if (sum[fam] > 0 && bd->params.enabled[rw_share_rule[fam]]) {
                                r->lo[i * 2 + fam] = rw_portfolio_share_floor(
                                        bd->params.dep_warn[rw_share_rule[fam]], sum[fam]);
                                if (!r->q[fam].want_range || r->lo[i * 2 + fam] < r->q[fam].lo)
                                        r->q[fam].lo = r->lo[i * 2 + fam];
                                r->q[fam].want_range = 1;
                        }
                }
        }
        /* Subjects firing a share rule are decided at every boundary. */
        for (size_t e = 0; e < t->fps.cnt; e++) {
                const rw_bent_t *f = &t->fps.ents[e];
                for (int fam = 0; fam < 2; fam++)
                        if (f->fp.firing && f->rule == rw_share_rule[fam] &&
                            rw_bmap_get(&r->cur[fam], f->key + f->subj_off,
                                        strlen(f->key + f->subj_off), NULL) < 0)
                                goto nomem;
        }
        for (int fam = 0; fam < 2; fam++) {
                const char **subjects;
                r->q[fam].cnt = r->cur[fam].cnt;
                if (!(r->q[fam].values = calloc(r->cur[fam].cnt + 1, sizeof(int64_t))) ||
                    !(subjects = calloc(r->cur[fam].cnt + 1, sizeof(*subjects))))
                        goto nomem;
                for (size_t e = 0; e < r->cur[fam].cnt; e++)
                        subjects[e] = r->cur[fam].ents[e].key;
                r->q[fam].subjects = subjects;
        }
        err = rw_bstore_read_totals(t->bs, r->q, t->errstr, t->errstr_size);
        for (int fam = 0; fam < 2; fam++) {
                free((void *)r->q[fam].subjects);
                r->q[fam].subjects = NULL;
                for (size_t e = 0; !err && e < r->cur[fam].cnt; e++)
                        r->cur[fam].ents[e].val = r->q[fam].values[e];
                for (size_t e = 0; !err && e < r->cur[fam].cnt; e++)
                        if (rw_run_cand_add(r, fam, (uint32_t)e))
                                err = RW_ERR_NOMEM;
        }
        if (err == RW_ERR_NOMEM)
                snprintf(t->errstr, t->errstr_size, "out of memory");
        rw_bstore_buckets_clear(&bk);
        return err;
nomem:
        rw_bstore_buckets_clear(&bk);
        snprintf(t->errstr, t->errstr_size, "out of memory");
        return RW_ERR_NOMEM;
}

#define RW_TRY(x) do { if (x) { err = RW_ERR_NOMEM; goto done; } } while (0)

/* The entry of subject s in boundary map m, sharing the run's copy of its
 * name when the run tracks it. */
static int rw_run_subj(rw_run_t *r, int fam, rw_bmap_t *m, const char *s, size_t len,
                       int *addedp) {
        int c = rw_bmap_find(&r->cur[fam], s, len), x;
        if (c < 0)
                return rw_bmap_get(m, s, len, addedp);
        if ((x = rw_bmap_get_shared(m, r->cur[fam].ents[c].key, len, addedp)) >= 0)
                m->ents[x].cix = (uint32_t)c + 1;
        return x;
}

/* Decide boundary B, the i-th of the run, in memory: its fold copies and
 * alerts join the run's, the totals it changes are kept in r->cur. */
static rw_err_t rw_run_decide(rw_tick_t *t, rw_run_t *r, size_t i, int64_t B,
                              int64_t sum[2], rw_u128_t sq[2], int64_t cnt[2],
                              int64_t *orders) {
        rw_boundary_t *bd = t->bd;
        int64_t newsum[2], newcnt[2], neworders = *orders + r->ord_add[i] - r->ord_sub[i];
        rw_u128_t newsq[2];
        rw_trans_list_t tl = { 0 };
        rw_err_t err = RW_OK;

        for (int fam = 0; fam < 2; fam++) {
                rw_bmap_t *m = &r->subj[i * 2 + fam];
                newsum[fam] = r->newsum[i * 2 + fam];
                for (size_t e = 0; e < m->cnt; e++) {
                        m->ents[e].old = rw_run_total(r, fam, m->ents[e].key,
                                                      m->ents[e].cix);
                        m->ents[e].val = m->ents[e].old + m->ents[e].add - m->ents[e].sub;
                }
                /* Firing subjects are decided whether or not they changed. */
                for (size_t e = 0; e < t->fps.cnt; e++) {
                        const rw_bent_t *f = &t->fps.ents[e];
                        const char *s = f->key + f->subj_off;
                        int added, x;
                        if (!f->fp.firing || f->rule != rw_share_rule[fam])
                                continue;
                        RW_TRY((x = rw_run_subj(r, fam, m, s, strlen(s), &added)) < 0);
                        if (added)
                                m->ents[x].old = m->ents[x].val =
                                        rw_run_total(r, fam, s, m->ents[x].cix);
                }
                /* The subjects whose unchanged total could hold a share rule
                 * (a score range, so negative net spends cannot hide one). */
                if (!isnan(r->lo[i * 2 + fam])) {
                        const double lo = r->lo[i * 2 + fam];
                        const rw_bmap_t *c = &r->cur[fam];
                        const rw_run_cand_t *cd = &r->cand[fam];
                        int added, x;
                        for (size_t j = 0; j < cd->cnt; j++) {
                                const size_t e = cd->ix[j];
                                double score = (double)c->ents[e].val;
                                if (!c->ents[e].val || score < lo)
                                        continue;       /* not in the set, or below */
                                RW_TRY((x = rw_bmap_get_shared(m, c->ents[e].key,
                                                               strlen(c->ents[e].key),
                                                               &added)) < 0);
                                m->ents[x].cix = (uint32_t)e + 1;
                                if (added)
                                        m->ents[x].old = m->ents[x].val = (int64_t)score;
                        }
                        for (size_t j = 0; j < r->q[fam].range_cnt; j++) {
                                const rw_bstore_scored_t *z = &r->q[fam].range[j];
                                if (z->score < lo || rw_bmap_find(c, z->subject, z->len) >= 0)
                                        continue;
                                RW_TRY((x = rw_run_subj(r, fam, m, z->subject, z->len,
                                                        &added)) < 0);
                                if (added)
                                        m->ents[x].old = m->ents[x].val = (int64_t)z->score;
                        }
                }
        }

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
                rw_bmap_t *m = &r->subj[i * 2 + fam];
                rw_dep_base_t base;
                newsq[fam] = sq[fam];
                newcnt[fam] = cnt[fam];
                for (size_t e = 0; e < m->cnt; e++)
                        if (m->ents[e].add != m->ents[e].sub) {
                                newsq[fam] = rw_portfolio_sq_move(newsq[fam], m->ents[e].old,
                                                                  m->ents[e].val);
                                newcnt[fam] += (m->ents[e].val != 0) - (m->ents[e].old != 0);
                        }
                base = (rw_dep_base_t){
                        .orders = neworders, .subjects = newcnt[fam],
                        .orders_known = B - t->orders_since >= bd->params.dep_window_ms,
                };
                for (size_t e = 0; e < m->cnt; e++)
                        if ((err = rw_tick_step(t, &tl, rw_share_rule[fam], m->ents[e].key,
                                                (double)m->ents[e].val,
                                                (double)newsum[fam], &base, B)))
                                goto done;
                if ((err = rw_tick_step(t, &tl, rw_hhi_rule[fam], fam ? "vendors" : "accounts",
                                        (double)newsq[fam], (double)newsum[fam], &base, B)))
                        goto done;
        }

        /* What the boundary stores: totals (kept for the run's later
         * boundaries), the fold copy of its bucket, its alerts. */
        for (int fam = 0; fam < 2; fam++) {
                rw_bmap_t *m = &r->subj[i * 2 + fam];
                rw_bstore_hash_t *h = &r->fold[i * 2 + fam];
                size_t nfold = 0;
                for (size_t e = 0; e < m->cnt; e++) {
                        const rw_bent_t *en = &m->ents[e];
                        nfold += en->add != 0;
                        if (en->add != en->sub) {
                                int x = en->cix ? (int)en->cix - 1 :
                                        rw_bmap_find(&r->cur[fam], en->key, strlen(en->key));
                                assert(x >= 0);   /* every touched subject is tracked */
                                r->cur[fam].ents[x].val = en->val;
                                r->cur[fam].ents[x].dirty = 1;
                                RW_TRY(rw_run_cand_add(r, fam, (uint32_t)x));
                        }
                }
                nfold += fam && r->ord_add[i];  /* the orders count, field "" */
                RW_TRY(nfold && !(h->v = calloc(nfold, sizeof(*h->v))));
                for (size_t e = 0; e < m->cnt; e++) {
                        const rw_bent_t *en = &m->ents[e];
                        if (!en->add)
                                continue;
                        h->v[h->cnt].subject = en->key;  /* outlives the fold */
                        h->v[h->cnt].len = strlen(en->key);
                        h->v[h->cnt++].value = en->add;
                }
                if (fam && r->ord_add[i]) {
                        static char none[1];
                        h->v[h->cnt].subject = none;
                        h->v[h->cnt].len = 0;
                        h->v[h->cnt++].value = r->ord_add[i];
                }
        }
        /* The alerts, in fingerprint order: the same history, the same outbox. */
        if (tl.cnt)
                qsort(tl.v, tl.cnt, sizeof(*tl.v), rw_trans_cmp);
        if (r->alert_cnt + tl.cnt > r->alert_cap) {
                size_t cap = (r->alert_cnt + tl.cnt) * 2;
                rw_bstore_blob_t *v = realloc(r->alerts, cap * sizeof(*v));
                RW_TRY(!v);
                r->alerts = v;
                r->alert_cap = cap;
        }
        for (size_t j = 0; j < tl.cnt; j++) {
                rw_trans_t *tn = &tl.v[j];
                rw_record_t rec = { .type = RW_REC_ALERT };
                rw_bstore_blob_t *b = &r->alerts[r->alert_cnt];

                tn->a.alert_id = tn->id;
                tn->a.summary = tn->summary;
                rw_alert_id_derive(tn->a.fingerprint, rw_alert_status_name(tn->a.status),
                                   rw_alert_severity_name(tn->a.severity), B,
                                   tn->id, sizeof(tn->id));
                rec.u.alert = tn->a;
                b->buf = NULL;
                if (rw_codec_encode(t->codec, &rec, &b->buf, &b->len, t->errstr,
                                    t->errstr_size)) {
                        err = RW_ERR_FAIL;
                        goto done;
                }
                r->alert_cnt++;
        }
        for (int fam = 0; fam < 2; fam++) {
                sum[fam] = newsum[fam];
                sq[fam] = newsq[fam];
                cnt[fam] = newcnt[fam];
        }
        *orders = neworders;
done:
        if (err == RW_ERR_NOMEM)
                snprintf(t->errstr, t->errstr_size, "out of memory");
        free(tl.v);
        return err;
}

/* Decide the n boundaries after the last decided one: read, decide each in
 * memory, write once. RW_ERR_FENCED: another process decided first. */
/* How many boundaries a run reads: max_run_pairs at the density of the
 * last run read, RW_RUN_FIRST before any, at least one. */
#define RW_RUN_FIRST 8
static int64_t rw_run_fit(const rw_boundary_t *bd) {
        double fit;

        if (bd->run_pairs < 0)
                return RW_RUN_FIRST;
        if (bd->run_pairs == 0)
                return INT32_MAX;
        fit = (double)bd->opts.max_run_pairs / bd->run_pairs;
        return fit < 1 ? 1 : fit > (double)INT32_MAX ? INT32_MAX : (int64_t)fit;
}

static rw_err_t rw_tick_run(rw_tick_t *t, size_t n, rw_boundary_result_t *res) {
        rw_boundary_t *bd = t->bd;
        const int64_t I = bd->opts.interval_ms;
        const int64_t B0 = t->last + I, k0 = B0 / I - 1, leave0 = k0 - bd->nwin;
        int64_t sum[2] = { t->sum[0], t->sum[1] };
        rw_u128_t sq[2] = { t->sq[0], t->sq[1] };
        int64_t cnt[2] = { t->cnt[0], t->cnt[1] }, orders = t->orders;
        rw_bstore_pair_t *tot[2] = { NULL, NULL };
        rw_bstore_fpw_t *fps = NULL;
        rw_bstore_decision_t d;
        rw_run_t r = { 0 };
        rw_err_t err = RW_OK;

        r.n = n;
        RW_TRY(!(r.subj = calloc(n * 2, sizeof(*r.subj))) ||
               !(r.newsum = calloc(n * 2, sizeof(*r.newsum))) ||
               !(r.lo = calloc(n * 2, sizeof(*r.lo))) ||
               !(r.fold = calloc(n * 2, sizeof(*r.fold))) ||
               !(r.ord_add = calloc(n, sizeof(*r.ord_add))) ||
               !(r.ord_sub = calloc(n, sizeof(*r.ord_sub))));
        if ((err = rw_run_read(t, &r, k0)))
                goto done;
        /* The script's size: a run stops before the boundary that would
         * take its buckets past max_run_pairs subjects (the first always
         * goes). What it read, all of it, sets the density the next run
         * reads at (rw_run_fit()). */
        {
                size_t pairs = 0;
                for (size_t i = 0; i < r.n; i++) {
                        pairs += r.subj[i * 2].cnt + r.subj[i * 2 + 1].cnt;
                        if (i > 0 && n == r.n && pairs > (size_t)bd->opts.max_run_pairs)
                                n = i;
                }
                bd->run_pairs = (double)pairs / (double)r.n;
                if ((int64_t)pairs > res->read_pairs_max)
                        res->read_pairs_max = (int64_t)pairs;
        }
        for (size_t i = 0; i < n; i++)
                if ((err = rw_run_decide(t, &r, i, B0 + (int64_t)i * I, sum, sq, cnt,
                                         &orders)))
                        goto done;

        d = (rw_bstore_decision_t){
                .have_expected = t->have_last, .expected = t->last,
                .last = B0 + (int64_t)(n - 1) * I,
                .token = bd->token, .lock_ttl_ms = bd->opts.lock_ttl_ms,
                .k0 = k0, .kcnt = n,
                .leave_lo = leave0 >= t->first / I ? leave0 : t->first / I,
                .leave_hi = leave0 + (int64_t)n - 1,
                .first = t->first,
                .sum = { sum[0], sum[1] }, .sq = { sq[0], sq[1] },
                .cnt = { cnt[0], cnt[1] }, .orders = orders,
                .orders_since = t->orders_since,
                .fold = r.fold,
                .alerts = r.alerts, .alert_cnt = r.alert_cnt,
        };
        for (int fam = 0; fam < 2; fam++) {
                const rw_bmap_t *c = &r.cur[fam];
                RW_TRY(!(tot[fam] = calloc(c->cnt + 1, sizeof(*tot[fam]))));
                for (size_t e = 0; e < c->cnt; e++)
                        if (c->ents[e].dirty)
                                tot[fam][d.tot_cnt[fam]++] = (rw_bstore_pair_t){
                                        .subject = c->ents[e].key,
                                        .len = strlen(c->ents[e].key),
                                        .value = c->ents[e].val,
                                };
                d.tot[fam] = tot[fam];
        }
        RW_TRY(!(fps = calloc(t->fps.cnt + 1, sizeof(*fps))));
        for (size_t e = 0; e < t->fps.cnt; e++)
                if (t->fps.ents[e].dirty)
                        fps[d.fp_cnt++] = (rw_bstore_fpw_t){
                                .fingerprint = t->fps.ents[e].key,
                                .fp = t->fps.ents[e].gone ? NULL : &t->fps.ents[e].fp,
                        };
        d.fps = fps;
        if ((err = rw_bstore_decide(t->bs, &d, t->errstr, t->errstr_size)))
                goto done;

        /* Decided: the {dep} slot now says what this tick holds in memory. */
        t->have_last = 1;
        t->last = d.last;
        for (int fam = 0; fam < 2; fam++) {
                t->sum[fam] = sum[fam];
                t->sq[fam] = sq[fam];
                t->cnt[fam] = cnt[fam];
        }
        t->orders = orders;
        for (size_t e = 0; e < t->fps.cnt; e++)
                t->fps.ents[e].dirty = t->fps.ents[e].gone = 0;
        if (!t->del_cnt)
                t->del_k0 = k0;
        t->del_cnt += n;
        res->decided += (int64_t)n;
        res->alerts += (int64_t)r.alert_cnt;
done:
        if (err == RW_ERR_NOMEM)
                snprintf(t->errstr, t->errstr_size, "out of memory");
        free(tot[0]);
        free(tot[1]);
        free(fps);
        rw_run_clear(&r);
        return err;
}

static void rw_tick_init(rw_tick_t *t, rw_boundary_t *bd, rw_state_t *st,
                         int32_t partitions, int64_t wall_now,
                         char *errstr, size_t errstr_size) {
        memset(t, 0, sizeof(*t));
        t->bd = bd;
        t->bs = &bd->store;
        rw_bstore_init(t->bs, st);
        t->parts = partitions;
        t->wall_now = wall_now;
        t->errstr = errstr;
        t->errstr_size = errstr_size;
        t->low = INT64_MIN;
}

static void rw_tick_clear(rw_tick_t *t) {
        rw_bmap_free(&t->fps);
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
        int64_t trips;
        const int64_t I = bd->opts.interval_ms;

        if (!res)
                res = &dummy;
        *res = (rw_boundary_result_t){ .low_watermark = INT64_MIN, .last = -1 };
        rw_tick_init(&t, bd, st, partitions, wall_now, errstr, errstr_size);
        trips = t.bs->round_trips;
        t.codec = codec;
        if ((err = rw_bstore_lock(t.bs, bd->token, bd->opts.lock_ttl_ms, &held, errstr,
                                  errstr_size)))
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
                        /* A run: bounded by the options, by what L allows and
                         * by the window (a fold copy leaving within the run
                         * would be one the run writes). */
                        int64_t n = (t.low - t.last) / I, fit;
                        if (n > bd->opts.max_per_tick - res->decided)
                                n = bd->opts.max_per_tick - res->decided;
                        if (n > bd->opts.max_per_call)
                                n = bd->opts.max_per_call;
                        if (n > bd->nwin)
                                n = bd->nwin;
                        /* What a run reads is held at once: as many
                         * boundaries as max_run_pairs allows at the last
                         * run's density (a few for the first), not
                         * max_per_call whatever the number of accounts. */
                        fit = rw_run_fit(bd);
                        if (n > fit)
                                n = fit;
                        err = rw_tick_run(&t, (size_t)n, res);
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
        if (err || (err = rw_bstore_delete_buckets(t.bs, t.parts, t.del_k0, t.del_cnt,
                                                   errstr, errstr_size)))
                goto unlock;
        if (res->alerts)
                err = rw_tick_drain(drain, opaque, errstr, errstr_size);
unlock:
        /* A lost connection cannot release: the lock expires, or this
         * decider's token takes it again on the next tick. */
        if (err != RW_ERR_IO) {
                rw_err_t uerr = rw_bstore_unlock(t.bs, bd->token, errstr, errstr_size);
                if (!err)
                        err = uerr;
        }
done:
        res->round_trips = t.bs->round_trips - trips;
        if (res->decided)
                rw_log_debug("dependency rules: %lld boundary(ies) decided in %lld "
                             "round trip(s)", (long long)res->decided,
                             (long long)res->round_trips);
        rw_tick_clear(&t);
        return err;
}

rw_err_t rw_boundary_low_watermark(rw_boundary_t *bd, rw_state_t *st, int32_t partitions,
                                   int64_t wall_now, int64_t *lowp,
                                   char *errstr, size_t errstr_size) {
        rw_bstore_t bs = { 0 };
        rw_bstore_head_t h;
        rw_err_t err;

        *lowp = INT64_MIN;
        rw_bstore_init(&bs, st);
        if ((err = rw_bstore_head(&bs, 0, &h, errstr, errstr_size)))
                return err;
        *lowp = rw_boundary_low(bd, &h, partitions, wall_now);
        rw_bstore_head_clear(&h);
        return RW_OK;
}

rw_err_t rw_boundary_input_peers(rw_boundary_t *bd, rw_state_t *st, const char *topic,
                                 int32_t partitions, int32_t self, int64_t wall_now,
                                 rw_input_peer_t *peers, size_t *np,
                                 char *errstr, size_t errstr_size) {
        rw_idle_opts_t o = {
                .lateness_ms = bd->opts.lateness_ms,
                .idle_timeout_ms = bd->opts.idle_timeout_ms,
                .fresh_ms = RW_IDLE_FRESH_MS,
                .replay = bd->replay,
        };
        rw_input_gaps_t *gaps = NULL;
        rw_bstore_t bs = { 0 };
        rw_bstore_head_t h;
        rw_err_t err;

        *np = 0;
        if (partitions <= 0)
                return RW_OK;
        if (!(gaps = calloc((size_t)partitions, sizeof(*gaps)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        rw_bstore_init(&bs, st);
        /* The reports first: the gaps read after them reach their watermarks. */
        if ((err = rw_bstore_head(&bs, 0, &h, errstr, errstr_size))) {
                free(gaps);
                return err;
        }
        if (!(err = rw_bstore_gaps(&bs, topic, partitions, gaps, errstr, errstr_size))) {
                for (int32_t p = 0; p < partitions; p++) {
                        const rw_bstore_prog_t *r = NULL;
                        rw_input_peer_t *q;

                        if (p == self)
                                continue;
                        for (size_t j = 0; j < h.prog_cnt; j++)
                                if (h.prog[j].partition == p && h.prog[j].ok)
                                        r = &h.prog[j];
                        q = &peers[(*np)++];
                        *q = (rw_input_peer_t){ .partition = p, .known = r != NULL,
                                                .gaps = gaps[p] };
                        if (!r)
                                continue;
                        q->watermark = r->watermark;
                        q->idle = rw_idle_is_idle(&o, r, wall_now);
                        q->at_end = r->end_since > 0 && wall_now - r->wall_ms <= o.fresh_ms;
                }
        }
        rw_bstore_head_clear(&h);
        free(gaps);
        return err;
}

rw_err_t rw_boundary_status(rw_boundary_t *bd, rw_state_t *st, int32_t partitions,
                            int64_t wall_now, rw_boundary_status_t *out,
                            char *errstr, size_t errstr_size) {
        rw_bstore_top_t top = { 0 };
        rw_tick_t t;
        rw_err_t err;
        int start = 0;

        memset(out, 0, sizeof(*out));
        out->last = out->first = -1;
        out->low_watermark = INT64_MIN;
        rw_tick_init(&t, bd, st, partitions, wall_now, errstr, errstr_size);
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
        out->account_hhi = rw_portfolio_hhi(t.sq[0], t.sum[0]);
        out->vendor_hhi = rw_portfolio_hhi(t.sq[1], t.sum[1]);
        if ((err = rw_bstore_top(t.bs, RW_BOUNDARY_TOP, &top, errstr, errstr_size)))
                goto done;
        for (int fam = 0; fam < 2; fam++) {
                int64_t sum = fam ? t.sum[1] : t.sum[0];
                for (size_t i = 0; i < top.cnt[fam] && i < RW_BOUNDARY_TOP; i++) {
                        char *id = fam ? out->top_vendors[i].id : out->top_accounts[i].id;
                        int64_t v = (int64_t)top.v[fam][i].score;
                        snprintf(id, 128, "%s", top.v[fam][i].subject);
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
        out->firing = top.firing;
        out->outbox = top.outbox;
done:
        rw_bstore_top_clear(&top);
        rw_tick_clear(&t);
        return err;
}
