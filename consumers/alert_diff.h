/* alert_diff.h - two sets of alert transitions compared, alert by alert: a
 * backtest's against what fired live. Pure. */
#ifndef RW_ALERT_DIFF_H
#define RW_ALERT_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include "schemas/codec.h"

/* What a comparison needs of a transition (copied). */
typedef struct rw_diff_alert_s {
        char *alert_id, *fingerprint, *rule;
        rw_alert_status_t status;
        rw_alert_severity_t severity;
        int64_t event_time;
} rw_diff_alert_t;

typedef struct rw_diff_list_s {
        rw_diff_alert_t *v;
        size_t cnt, size;
} rw_diff_list_t;

int rw_diff_list_add(rw_diff_list_t *l, const rw_alert_t *a);      /* -1: OOM */
void rw_diff_list_clear(rw_diff_list_t *l);

typedef enum rw_diff_kind_e {
        RW_DIFF_ALIKE = 0,      /* the same alert id on both sides */
        RW_DIFF_SHIFTED,        /* same fingerprint and status, other time or severity */
        RW_DIFF_LIVE_ONLY,
        RW_DIFF_TEST_ONLY,
        RW_DIFF__CNT,
} rw_diff_kind_t;

const char *rw_diff_kind_name(rw_diff_kind_t k);

#define RW_DIFF_EXAMPLES 3

typedef struct rw_diff_row_s {
        char *rule;                             /* NULL: the total */
        int64_t n[RW_DIFF__CNT];
        /* Up to RW_DIFF_EXAMPLES examples per kind: indexes into the live
         * and the test list (-1: none on that side). */
        struct { ssize_t live, test; } ex[RW_DIFF__CNT][RW_DIFF_EXAMPLES];
        size_t ex_cnt[RW_DIFF__CNT];
} rw_diff_row_t;

typedef struct rw_diff_s {
        rw_diff_row_t *rows;    /* per rule, by name; then the total last */
        size_t cnt;
} rw_diff_t;

/* Compare: alike by id; then, per fingerprint and status, the k-th left on
 * one side pairs with the k-th left on the other, in event-time order
 * (shifted); the rest is on one side only. Sorts both lists. -1: OOM. */
int rw_diff_compute(rw_diff_list_t *live, rw_diff_list_t *test, rw_diff_t *out);
void rw_diff_clear(rw_diff_t *d);

#endif
