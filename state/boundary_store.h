/* boundary_store.h - the dependency decider's Redis side: the {dep} slot
 * (progress, aggregates, lifecycle states, totals, the lock), the orders
 * partitions' interval buckets, and the boundary script (state/boundary.lua).
 * Key layout: consumers/boundary.h. The decider computes; this stores. */
#ifndef RW_BOUNDARY_STORE_H
#define RW_BOUNDARY_STORE_H

#include "common/rw.h"
#include "rules/rules.h"
#include "rules/portfolio.h"   /* rw_u128_t */
#include "state/state.h"

/* A session of the decider with one Redis: the boundary script's SHA once
 * loaded, and the round trips made (for people and tests). */
typedef struct rw_bstore_s {
        rw_state_t *st;
        char pfx[192];          /* NS:{dep}: */
        char sha[48];           /* "" until loaded */
        int64_t round_trips;
        /* The window the totals sum over: the evaluation interval and the
         * number of intervals in the dependency window (set by the decider;
         * the totals cannot be read without them). */
        int64_t interval_ms, nwin;
        /* The decider's copy of the 90-day totals, built once from the
         * window's fold copies (their sum: Redis does not store the totals)
         * and kept in step with what its script stores: the copies are only
         * ever written by the holder of the decider's lock, fenced on the
         * last decided boundary. Valid while that boundary is tot_last; any
         * other (decided elsewhere, Redis lost writes), a fence or an error
         * drops it, to be built again. NULL until first used. */
        struct rw_i64map_s *tot[2];
        int tot_ok;
        int64_t tot_last;       /* agg.last it holds (INT64_MIN: none decided) */
        /* Per orders partition, NS:{P}:pbc:since once read (INT64_MIN: not
         * read or not set yet): set once by the first write that stores
         * interval chunks, it never moves, so it is read until found. */
        int64_t *since;
        int32_t since_cnt;
        /* Called before each read of the window's copies, after the
         * decided boundary that chose them was read (NULL: none): lets a
         * test move the boundary on in between, as another decider can. */
        void (*load_hook)(void *opaque);
        void *load_opaque;
} rw_bstore_t;

/* Point bs at st (keeps the loaded SHA when st's namespace is the same). */
void rw_bstore_init(rw_bstore_t *bs, rw_state_t *st);

/* Free what bs holds in memory (the totals' copy). */
void rw_bstore_release(rw_bstore_t *bs);

/* A subject and an integer (a hash field of a bucket, a fold copy, a total). */
typedef struct rw_bstore_pair_s {
        char *subject;
        size_t len;
        int64_t value;
} rw_bstore_pair_t;

typedef struct rw_bstore_hash_s {
        rw_bstore_pair_t *v;
        size_t cnt;
        /* One block holding the subjects of v[0 .. names_cnt - 1]
         * (rw_bstore_fold_decode(): one allocation per copy, not one per
         * subject); the others' are their own allocations. */
        char *names;
        size_t names_cnt;
} rw_bstore_hash_t;

/* A fold copy as stored: one string of entries, each the subject's length
 * (LEB128), the subject's bytes, and the value (zigzag LEB128), in the byte
 * order of the subjects, so the same copy is always the same string. One
 * SET per copy rather than a hash field per subject: Redis spends less CPU
 * on it and stores it in less memory than a compact hash. *bufp is malloc'd
 * (NULL for an empty copy). -1 when out of memory. */
int rw_bstore_fold_encode(const rw_bstore_hash_t *h, char **bufp, size_t *lenp);
/* Parse a stored fold copy into h (cleared first). -1 when out of memory, -2
 * when s is not one (h cleared). */
int rw_bstore_fold_decode(const char *s, size_t len, rw_bstore_hash_t *h);
void rw_bstore_hash_clear(rw_bstore_hash_t *h);

/* A subject of a sorted set of totals and its score. */
typedef struct rw_bstore_scored_s {
        char *subject;
        size_t len;
        double score;
} rw_bstore_scored_t;

/* What an orders partition's owner reported in NS:{dep}:prog:
 * "<wm>,<wall ms>" with a batch, "<wm>,<wall ms>,<end since>" while it is
 * at its end (consumers/idle.h). */
typedef struct rw_bstore_prog_s {
        int32_t partition;
        int ok;                 /* 0: the value does not parse (counts as absent) */
        int64_t watermark, wall_ms;
        int64_t end_since;      /* wall ms since when it is at its end (0: not) */
} rw_bstore_prog_t;

/* Store the reports v[0..n-1] (partition, watermark, wall_ms, end_since) of
 * partitions of `topic`, each only while Redis holds expected[i] as that
 * partition's stored offset (a Redis that lost writes is not told what it
 * no longer holds): two round trips. RW_ERR_IO on connection trouble,
 * RW_ERR_FAIL when refused. */
rw_err_t rw_bstore_report(rw_bstore_t *bs, const char *topic, const rw_bstore_prog_t *v,
                          const int64_t *expected, size_t n,
                          char *errstr, size_t errstr_size);

/* A dependency rule's lifecycle state (the f hash). */
typedef struct rw_bstore_fp_s {
        char *fingerprint;      /* rule/subject_type/subject */
        rw_fp_state_t fp;
} rw_bstore_fp_t;

/* The {dep} slot as read in one round trip. */
typedef struct rw_bstore_head_s {
        int have_start;
        int64_t start;                  /* prog "start": wall ms */
        rw_bstore_prog_t *prog;
        size_t prog_cnt;
        int have_last;
        int64_t last, first;            /* agg */
        int64_t sum[2];                 /* [0] accounts, [1] vendors */
        rw_u128_t sq[2];
        int64_t cnt[2];                 /* subjects with a total other than 0 */
        int64_t orders;                 /* PLACED orders in the window ... */
        int64_t orders_since;           /* ... counted from this boundary */
        int have_counts;                /* cnt and orders are stored */
        rw_bstore_fp_t *fps;            /* with_fps only */
        size_t fp_cnt;
} rw_bstore_head_t;

/* Read prog, agg and (with_fps) the f hash. Caller clears *out with
 * rw_bstore_head_clear(). Errors: RW_ERR_IO on connection trouble
 * (reconnect and retry), RW_ERR_FAIL when Redis refused, RW_ERR_NOMEM. */
rw_err_t rw_bstore_head(rw_bstore_t *bs, int with_fps, rw_bstore_head_t *out,
                        char *errstr, size_t errstr_size);
void rw_bstore_head_clear(rw_bstore_head_t *h);

/* The gaps of orders partitions 0..parts-1 of `topic` (NS:{P}:gaps:TOPIC,
 * rw_input_gaps_parse(); none when absent) into gaps[0..parts-1], in one
 * round trip. Read after the progress reports (rw_bstore_head()), they hold
 * every gap up to the watermark each reported. */
rw_err_t rw_bstore_gaps(rw_bstore_t *bs, const char *topic, int32_t parts,
                        rw_input_gaps_t *gaps, char *errstr, size_t errstr_size);

/* The number of subjects with a total other than 0, accounts and vendors
 * (from bs's copy of the totals, built when it has none). */
rw_err_t rw_bstore_subjects(rw_bstore_t *bs, int64_t cnt[2], char *errstr,
                            size_t errstr_size);

/* The lowest interval index in any of partitions 0..parts-1 (pb:first);
 * *foundp 0 when none holds a bucket. */
rw_err_t rw_bstore_first(rw_bstore_t *bs, int32_t parts, int64_t *kminp, int *foundp,
                         char *errstr, size_t errstr_size);

/* Interval buckets k0 .. k0+cnt-1 of partitions 0..parts-1, both families,
 * and the fold copies leaving the window with them (interval leave0 + i for
 * bucket k0 + i, none below leave_min). One round trip, which also deletes
 * (best effort) the buckets del_k0 .. del_k0+del_cnt-1 of every partition,
 * folded by an earlier call. */
typedef struct rw_bstore_buckets_s {
        rw_bstore_hash_t *bucket;       /* [(i * parts + p) * 2 + fam] */
        rw_bstore_hash_t *leaving;      /* [i * 2 + fam] (empty: none) */
        size_t cnt;
        int32_t parts;
} rw_bstore_buckets_t;

rw_err_t rw_bstore_read_buckets(rw_bstore_t *bs, int32_t parts, int64_t k0, size_t cnt,
                                int64_t leave0, int64_t leave_min,
                                int64_t del_k0, size_t del_cnt,
                                rw_bstore_buckets_t *out,
                                char *errstr, size_t errstr_size);
void rw_bstore_buckets_clear(rw_bstore_buckets_t *b);

/* Delete the folded buckets del_k0 .. del_k0+del_cnt-1 of every partition
 * (best effort: an error reply is ignored). */
rw_err_t rw_bstore_delete_buckets(rw_bstore_t *bs, int32_t parts, int64_t del_k0,
                                  size_t del_cnt, char *errstr, size_t errstr_size);

/* Per family: the stored 90-day totals of `subjects` (values[i], 0 when
 * none; caller allocates cnt) and, with want_range, the subjects whose total
 * is at least `lo` (rounded to an integer), with their totals as scores, in
 * ascending order of score then subject (*range, caller clears with
 * rw_bstore_totals_clear()). From bs's copy of the totals; when it has
 * none, it is built from the window's fold copies (usually two round trips,
 * one MULTI reading every copy the window holds). */
typedef struct rw_bstore_totals_s {
        const char *const *subjects;
        size_t cnt;
        int64_t *values;
        int want_range;
        double lo;
        rw_bstore_scored_t *range;
        size_t range_cnt;
} rw_bstore_totals_t;

rw_err_t rw_bstore_read_totals(rw_bstore_t *bs, rw_bstore_totals_t q[2],
                               char *errstr, size_t errstr_size);
void rw_bstore_totals_clear(rw_bstore_totals_t q[2]);

/* A lifecycle state to store (fp NULL: delete it) and an encoded alert. */
typedef struct rw_bstore_fpw_s {
        const char *fingerprint;
        const rw_fp_state_t *fp;
} rw_bstore_fpw_t;

typedef struct rw_bstore_blob_s {
        void *buf;
        size_t len;
} rw_bstore_blob_t;

/* A run of consecutive boundaries decided, written in one fenced step:
 * intervals k0 .. k0+kcnt-1 folded (agg.last becomes (k0+kcnt) * I = last),
 * fold copies leave_lo .. leave_hi dropped (none when lo > hi). */
typedef struct rw_bstore_decision_s {
        int have_expected;
        int64_t expected;               /* agg.last read before the run */
        int64_t last;
        const char *token;              /* the lock's, renewed while held */
        int64_t lock_ttl_ms;
        int64_t k0;
        size_t kcnt;
        int64_t leave_lo, leave_hi;
        int64_t first, sum[2];
        rw_u128_t sq[2];
        int64_t cnt[2], orders, orders_since;
        const rw_bstore_pair_t *tot[2]; /* new totals (0 removes): not stored,
                                         * they follow into bs's copy */
        size_t tot_cnt[2];
        const rw_bstore_hash_t *fold;   /* [i * 2 + fam]: what bucket k0+i added */
        const rw_bstore_fpw_t *fps;
        size_t fp_cnt;
        const rw_bstore_blob_t *alerts; /* RPUSHed onto NS:{dep}:outbox in order */
        size_t alert_cnt;
} rw_bstore_decision_t;

/* The boundary script: RW_OK, RW_ERR_FENCED when agg.last is no longer
 * `expected` (nothing written; errstr says what it is), RW_ERR_FAIL when
 * Redis refused the script, RW_ERR_IO (written or not: the fence tells). */
rw_err_t rw_bstore_decide(rw_bstore_t *bs, const rw_bstore_decision_t *d,
                          char *errstr, size_t errstr_size);

/* The decider's lock (SET NX PX), also held when it still holds `token`
 * (then renewed). *heldp 1 held, 0 busy. */
rw_err_t rw_bstore_lock(rw_bstore_t *bs, const char *token, int64_t ttl_ms, int *heldp,
                        char *errstr, size_t errstr_size);
/* Release the lock if `token` holds it. */
rw_err_t rw_bstore_unlock(rw_bstore_t *bs, const char *token,
                          char *errstr, size_t errstr_size);

/* For people: the `top` largest totals per family (highest first; caller
 * frees with rw_bstore_top_clear(); from bs's copy, built when it has
 * none), the firing fingerprints and the outbox length. */
typedef struct rw_bstore_top_s {
        rw_bstore_scored_t *v[2];
        size_t cnt[2];
        size_t firing;
        int64_t outbox;
} rw_bstore_top_t;

rw_err_t rw_bstore_top(rw_bstore_t *bs, size_t top, rw_bstore_top_t *out,
                       char *errstr, size_t errstr_size);
void rw_bstore_top_clear(rw_bstore_top_t *t);

#endif
