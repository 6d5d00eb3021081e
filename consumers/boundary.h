/* boundary.h - the dependency-rule decider: folds the orders partitions'
 * per-interval buckets into 90-day portfolio totals at event-time boundaries
 * and decides the dependency rules there, once, by one process.
 *
 * Boundaries are the multiples B of the evaluation interval I. Bucket k
 * (event times [k*I, (k+1)*I)) is final once every orders partition's "now"
 * (its highest event time applied minus allowed.lateness) has reached
 * (k+1)*I; B is then decided over the window of the dep_window_ms / I
 * buckets ending at B. Inputs (written by the partition owners):
 *
 *   <ns>:{P}:pbc:a:<c>  account -> net spend of intervals c*24 .. c*24+23,
 *                       each as the batch that opened the interval wrote it:
 *                       a section per interval in the fold copies' encoding
 *                       (state/boundary_store.h), appended
 *   <ns>:{P}:pb:a:<k>   hash account -> net spend later batches added to it
 *   <ns>:{P}:pbh:a      sorted set of the intervals k that have such a hash
 *   <ns>:{P}:pbc:v:<c>  vendor -> PLACED order value of interval k, the same
 *   <ns>:{P}:pb:v:<k>   way ("" -> the interval's PLACED orders)
 *   <ns>:{P}:pbs:F:<k>  an interval as earlier versions stored it (one string
 *                       per interval), below <ns>:{P}:pbc:since
 *   <ns>:{P}:pb:first   the lowest k ever written in that slot
 *   <ns>:{dep}:prog     hash "<P>" -> "<wm>,<wall_ms>[,<end_since>]" (the
 *                       partition's report: consumers/idle.h); "start" -> wall ms
 *
 * A partition holds the boundaries back until its owner reports it idle:
 * at its end for idle.timeout (never merely silent: one that is behind, its
 * fetches or writes stalled, holds them back however long it is silent).
 *
 * The decider's own state lives in the {dep} slot (see state/boundary.lua):
 * fc:a:<k> fc:v:<k> agg f outbox lock (the 90-day totals are the sum of
 * the window's fold copies: kept in memory, not stored). */
#ifndef RW_BOUNDARY_H
#define RW_BOUNDARY_H

#include "common/rw.h"
#include "rules/rules.h"
#include "schemas/codec.h"
#include "state/state.h"

/* Deliver the outbox of slot `tag` ("dep"): RW_OK when everything in it was
 * delivered and trimmed; RW_ERR_IO on Redis trouble (the tick returns
 * RW_ERR_IO: retry), anything else when delivery failed (RW_ERR_FAIL). What
 * was not delivered stays for the next drain. */
typedef rw_err_t (rw_boundary_drain_cb)(void *opaque, const char *tag);

typedef struct rw_boundary_opts_s {
        int64_t interval_ms;        /* I: evaluation.interval (default 1 h) */
        int64_t lateness_ms;        /* allowed.lateness */
        int64_t idle_timeout_ms;    /* idle.timeout (default 30 s) */
        int max_per_tick;           /* boundaries decided per tick (default 500) */
        int max_per_call;           /* boundaries folded per script call (100) */
        int64_t max_run_pairs;      /* ... while their buckets hold at most this many
                                     * subject entries (10000; one boundary always),
                                     * read and decided: a run is held in memory */
        int64_t lock_ttl_ms;        /* {dep}:lock ttl, renewed per boundary (30 s) */
        int replay;                 /* the alerts' replay flag */
        int64_t emit_from;          /* boundaries before it: decided, not emitted */
} rw_boundary_opts_t;

/* Defaults as above; lateness 5 min. */
void rw_boundary_opts_default(rw_boundary_opts_t *opts);

typedef struct rw_boundary_s rw_boundary_t;

/* A decider with the rule parameters `params` (copied) and `opts`. Returns
 * NULL and fills errstr when an option is out of range (interval <= 0, a
 * dependency window that is not a whole number of intervals, ...). */
rw_boundary_t *rw_boundary_new(const rw_rules_params_t *params,
                               const rw_boundary_opts_t *opts,
                               char *errstr, size_t errstr_size);
/* NULL-safe. */
void rw_boundary_destroy(rw_boundary_t *bd);

/* A replay (run -e): no partition counts as idle, so what is decided is a
 * function of the input alone, never of how long a partition was quiet. */
void rw_boundary_set_replay(rw_boundary_t *bd, int replay);

typedef struct rw_boundary_result_s {
        int busy;                   /* another process holds the lock: nothing done */
        int64_t low_watermark;      /* L (INT64_MIN: none yet) */
        int64_t last;               /* last decided boundary after the tick (-1: none) */
        int64_t decided;            /* boundaries decided by this tick */
        int64_t alerts;             /* transitions written to the outbox */
        int more;                   /* boundaries <= L left for the next tick */
        int stale;                  /* stopped: another process decided first */
        int64_t round_trips;        /* to Redis, in this tick */
        int64_t read_pairs_max;     /* the most subject entries one run of this
                                     * tick read (and held at once) */
} rw_boundary_result_t;

/* Decide every boundary B <= L not decided yet (at most max_per_tick), for
 * `partitions` orders partitions (0..partitions-1) at wall clock `wall_now`:
 * take the {dep} lock, drain what a crashed decider left, decide, drain,
 * release. Each boundary is one atomic, fenced write of the totals, the
 * lifecycle states and the encoded alerts (onto <ns>:{dep}:outbox).
 * `res` (optional) says what happened. RW_ERR_IO on Redis trouble, also
 * when `drain` met it (reconnect the state with rw_state_reconnect() and
 * call again: nothing is half written); RW_ERR_FAIL when `drain` could not
 * deliver (what was decided stays in the outbox) or on an encoding error;
 * errstr says which. */
rw_err_t rw_boundary_tick(rw_boundary_t *bd, rw_state_t *st, rw_codec_t *codec,
                          int32_t partitions, int64_t wall_now,
                          rw_boundary_drain_cb *drain, void *opaque,
                          rw_boundary_result_t *res,
                          char *errstr, size_t errstr_size);

/* The other orders partitions of the group (0..partitions-1 but `self`), as
 * an orders partition that ends a gap needs them (rules.h,
 * rw_input_gaps_group()): each one's reported watermark, whether it is idle
 * (never in a replay) or says it is at its end, and its stored gaps; one
 * round trip. peers has room for partitions entries; *np is set. A
 * partition that never reported is not known. RW_ERR_IO on Redis trouble. */
rw_err_t rw_boundary_input_peers(rw_boundary_t *bd, rw_state_t *st, const char *topic,
                                 int32_t partitions, int32_t self, int64_t wall_now,
                                 rw_input_peer_t *peers, size_t *np,
                                 char *errstr, size_t errstr_size);

/* The group's low watermark L alone (one round trip, no lock): *lowp, or
 * INT64_MIN when none yet. Idle partitions follow it (consumers/idle.h).
 * RW_ERR_IO on Redis trouble. */
rw_err_t rw_boundary_low_watermark(rw_boundary_t *bd, rw_state_t *st, int32_t partitions,
                                   int64_t wall_now, int64_t *lowp,
                                   char *errstr, size_t errstr_size);

/* What the decider has decided, for people (inspect). */
#define RW_BOUNDARY_TOP 5
typedef struct rw_boundary_status_s {
        int64_t last;                   /* last decided boundary (-1: none) */
        int64_t first;                  /* start of the history (-1: none) */
        int64_t low_watermark;          /* L now (INT64_MIN: none) */
        int32_t partitions;             /* orders partitions L was taken over */
        int64_t pending;                /* boundaries <= L not decided yet */
        int64_t account_sum, vendor_sum;
        double account_hhi, vendor_hhi; /* 0..10000 (0 when the sum is <= 0) */
        int64_t outbox;                 /* transitions waiting for delivery */
        struct { char id[128]; int64_t total; double share; }
                top_accounts[RW_BOUNDARY_TOP], top_vendors[RW_BOUNDARY_TOP];
        size_t top_account_cnt, top_vendor_cnt;
        size_t firing;                  /* dependency fingerprints firing */
} rw_boundary_status_t;

/* Read the decider's state (no lock, no writes); `partitions` 0: the orders
 * partitions that reported progress. RW_ERR_IO on Redis trouble. */
rw_err_t rw_boundary_status(rw_boundary_t *bd, rw_state_t *st, int32_t partitions,
                            int64_t wall_now, rw_boundary_status_t *out,
                            char *errstr, size_t errstr_size);

#endif
