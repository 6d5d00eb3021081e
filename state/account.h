/* account.h - one account's rolling state in memory and the pure arithmetic
 * that applies an event to it (the same as state.lua does in Redis). */
#ifndef RW_ACCOUNT_H
#define RW_ACCOUNT_H

#include "common/rw.h"
#include "rules/rules.h"

/* One decoded event as the state store applies it. Strings are borrowed. */
typedef struct rw_state_event_s {
        char kind;              /* P C R (orders), O E X V S (support) */
        const char *event_id;
        const char *account;
        const char *vendor;     /* "" for support events */
        int64_t amount;         /* minor units, or ticket severity 0..3 */
        int64_t occurred_at;
        char extra[48];         /* "csat,sentiment" for support, else "" */
} rw_state_event_t;

/* An account: day buckets within the longest window, order meta, and the
 * lifecycle state of each rule's fingerprint. */
typedef struct rw_account_view_s {
        char *account;
        rw_day_bucket_t *buckets;
        size_t bucket_cnt, bucket_size;
        int64_t orders_total, first_order, last_order;
        rw_fp_state_t fp[RW_RULE__CNT];
        int fp_dirty[RW_RULE__CNT];     /* changed since loaded */
        int64_t due;                    /* when its rules next change verdict (0: none) */
} rw_account_view_t;

/* Apply one event (pure; grows buckets as needed). Returns -1 on OOM. */
int rw_account_apply(rw_account_view_t *av, const rw_state_event_t *ev);

/* Parse a bucket as stored: "po,ps,co,ro,rs,tk,tu,cs,cn,ss,sn". */
void rw_bucket_parse(int64_t day, const char *csv, rw_day_bucket_t *b);

/* Free what a view holds (not the view itself). */
void rw_account_view_clear(rw_account_view_t *av);

#endif
