/* gen.h - seedable, I/O-free generator of a realistic order and support history. */
#ifndef RW_GEN_H
#define RW_GEN_H

#include "common/rw.h"
#include "schemas/codec.h"

/* What an account does over the history. Every account except the churn
 * scenarios and the dominant one is STEADY, and a steady account stays quiet
 * under the contract's default rules. */
typedef enum rw_gen_scenario_e {
        RW_GEN_STEADY = 0,
        RW_GEN_FADING,     /* orders drop to 20-28% of before, amounts shrink */
        RW_GEN_VANISHED,   /* stops ordering (and calling) at onset */
        RW_GEN_ANGRY,      /* burst of urgent tickets at onset, bad surveys after */
        RW_GEN_REFUNDING,  /* half of the orders after onset come back */
        RW_GEN_DOMINANT,   /* ~30% of all accounts' net spend */
        RW_GEN__SCENARIO_CNT,
} rw_gen_scenario_t;

/* onset_ms of an account that has no onset (STEADY, DOMINANT). */
#define RW_GEN_NO_ONSET INT64_MIN

/* "steady", "fading", "vanished", "angry", "refunding", "dominant". */
const char *rw_gen_scenario_name(rw_gen_scenario_t s);

typedef struct rw_gen_params_s {
        uint64_t seed;
        int accounts;           /* total, the dominant account included */
        int vendors;
        int days;               /* history length; events fall in [start_ms, start_ms + days) */
        int64_t start_ms;       /* event time of day 0 */
        double fading_frac;     /* fraction of accounts in each churn scenario */
        double vanished_frac;
        double angry_frac;
        double refunding_frac;
        int dominant_account;   /* 1 = one account takes ~30% of net spend */
        int dominant_vendor;    /* 1 = vendor-01 takes ~55% of order value */
} rw_gen_params_t;

/* 300 accounts, 12 vendors, 180 days from 2026-01-01T00:00:00Z, seed 42,
 * 4% of accounts in each churn scenario, a dominant account and vendor. */
void rw_gen_params_default(rw_gen_params_t *p);

typedef struct rw_gen_s rw_gen_t;

/* Create a generator; p is copied. Returns NULL and fills errstr when a
 * parameter is out of range or memory runs out. Memory is O(accounts).
 * Free with rw_gen_destroy(). */
rw_gen_t *rw_gen_new(const rw_gen_params_t *p, char *errstr, size_t errstr_size);

/* NULL-safe. */
void rw_gen_destroy(rw_gen_t *g);

/* Next event, in nondecreasing occurred_at order across all accounts.
 * Returns 1 and fills *rec (RW_REC_ORDER or RW_REC_SUPPORT, schema_id 0 as
 * there is no frame), 0 at the end of the history, -1 when memory ran out
 * (the generator is then finished). Strings in *rec point into
 * generator-owned memory, valid until the next call or rw_gen_destroy().
 * The same params always yield the same sequence, byte for byte. */
int rw_gen_next(rw_gen_t *g, rw_record_t *rec);

/* Number of accounts; their indexes are 0 .. cnt-1, ids "acct-0001" ... */
int rw_gen_account_cnt(const rw_gen_t *g);

/* The label of account idx: its id, scenario and the event time its change
 * starts (RW_GEN_NO_ONSET for steady and dominant accounts). Any output
 * pointer may be NULL. The id stays valid until rw_gen_destroy().
 * Returns RW_ERR_FAIL when idx is out of range. */
rw_err_t rw_gen_account_info(const rw_gen_t *g, int idx, const char **account_idp,
                             rw_gen_scenario_t *scenariop, int64_t *onset_msp);

/* Index of an account id this generator produces, or -1. */
int rw_gen_account_idx(const rw_gen_t *g, const char *account_id);

/* End of the history (exclusive): start_ms + days. Every event is before it. */
int64_t rw_gen_end_ms(const rw_gen_t *g);

#endif
