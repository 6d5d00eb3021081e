/* alert_diff.c - a backtest's alert transitions against the live run's. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "consumers/alert_diff.h"
#include "common/rw.h"

int rw_diff_list_add(rw_diff_list_t *l, const rw_alert_t *a) {
        rw_diff_alert_t *d;

        if (rw_grow(&l->v, &l->size, l->cnt + 1, sizeof(*l->v), 64))
                return -1;
        d = &l->v[l->cnt];
        *d = (rw_diff_alert_t){ .status = a->status, .severity = a->severity,
                                .event_time = a->event_time };
        if (!(d->alert_id = strdup(a->alert_id)) || !(d->fingerprint = strdup(a->fingerprint)) ||
            !(d->rule = strdup(a->rule))) {
                free(d->alert_id);
                free(d->fingerprint);
                return -1;
        }
        l->cnt++;
        return 0;
}

void rw_diff_list_clear(rw_diff_list_t *l) {
        for (size_t i = 0; i < l->cnt; i++) {
                free(l->v[i].alert_id);
                free(l->v[i].fingerprint);
                free(l->v[i].rule);
        }
        free(l->v);
        memset(l, 0, sizeof(*l));
}

const char *rw_diff_kind_name(rw_diff_kind_t k) {
        static const char *const names[RW_DIFF__CNT] = {
                "alike", "shifted", "only_live", "only_backtest",
        };
        return k < RW_DIFF__CNT ? names[k] : "?";
}

/* By fingerprint, status, event time, id: the pairing order. */
static int rw_diff_cmp(const void *a, const void *b) {
        const rw_diff_alert_t *x = a, *y = b;
        int c = strcmp(x->fingerprint, y->fingerprint);
        if (c)
                return c;
        if (x->status != y->status)
                return x->status < y->status ? -1 : 1;
        if (x->event_time != y->event_time)
                return x->event_time < y->event_time ? -1 : 1;
        return strcmp(x->alert_id, y->alert_id);
}

typedef struct rw_diff_id_s {
        const char *id;
        size_t ix;
} rw_diff_id_t;

static int rw_diff_id_cmp(const void *a, const void *b) {
        return strcmp(((const rw_diff_id_t *)a)->id, ((const rw_diff_id_t *)b)->id);
}

static rw_diff_row_t *rw_diff_row(rw_diff_t *d, const char *rule) {
        for (size_t i = 0; i < d->cnt; i++)
                if (d->rows[i].rule && !strcmp(d->rows[i].rule, rule))
                        return &d->rows[i];
        return NULL;
}

static int rw_diff_add_row(rw_diff_t *d, size_t *size, const char *rule) {
        rw_diff_row_t *r;
        if (rw_grow(&d->rows, size, d->cnt + 1, sizeof(*d->rows), 16))
                return -1;
        r = &d->rows[d->cnt];
        memset(r, 0, sizeof(*r));
        if (rule && !(r->rule = strdup(rule)))
                return -1;
        d->cnt++;
        return 0;
}

static void rw_diff_count(rw_diff_t *d, const char *rule, rw_diff_kind_t k, ssize_t live,
                          ssize_t test) {
        rw_diff_row_t *rows[2] = { rw_diff_row(d, rule), &d->rows[d->cnt - 1] };
        for (int i = 0; i < 2; i++) {
                rw_diff_row_t *r = rows[i];
                r->n[k]++;
                if (r->ex_cnt[k] < RW_DIFF_EXAMPLES) {
                        r->ex[k][r->ex_cnt[k]].live = live;
                        r->ex[k][r->ex_cnt[k]++].test = test;
                }
        }
}

static int rw_diff_rule_cmp(const void *a, const void *b) {
        const rw_diff_row_t *x = a, *y = b;
        return strcmp(x->rule, y->rule);
}

int rw_diff_compute(rw_diff_list_t *live, rw_diff_list_t *test, rw_diff_t *out) {
        rw_diff_id_t *ids = NULL;
        unsigned char *lm = NULL, *tm = NULL;
        size_t size = 0, i, j;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        qsort(live->v, live->cnt, sizeof(*live->v), rw_diff_cmp);
        qsort(test->v, test->cnt, sizeof(*test->v), rw_diff_cmp);
        /* The rules of both sides, by name, then the total. */
        for (int side = 0; side < 2; side++) {
                const rw_diff_list_t *l = side ? test : live;
                for (i = 0; i < l->cnt; i++)
                        if (!rw_diff_row(out, l->v[i].rule) &&
                            rw_diff_add_row(out, &size, l->v[i].rule))
                                goto done;
        }
        if (out->cnt)
                qsort(out->rows, out->cnt, sizeof(*out->rows), rw_diff_rule_cmp);
        if (rw_diff_add_row(out, &size, NULL))
                goto done;

        lm = calloc(live->cnt + 1, 1);
        tm = calloc(test->cnt + 1, 1);
        ids = calloc(test->cnt + 1, sizeof(*ids));
        if (!lm || !tm || !ids)
                goto done;
        /* Alike: the same id (what caused it, when, and how severe). */
        for (j = 0; j < test->cnt; j++)
                ids[j] = (rw_diff_id_t){ .id = test->v[j].alert_id, .ix = j };
        qsort(ids, test->cnt, sizeof(*ids), rw_diff_id_cmp);
        for (i = 0; i < live->cnt; i++) {
                rw_diff_id_t key = { .id = live->v[i].alert_id }, *hit;
                if (!(hit = bsearch(&key, ids, test->cnt, sizeof(*ids), rw_diff_id_cmp)) ||
                    tm[hit->ix])
                        continue;
                lm[i] = tm[hit->ix] = 1;
                rw_diff_count(out, live->v[i].rule, RW_DIFF_ALIKE, (ssize_t)i, (ssize_t)hit->ix);
        }
        /* Shifted: what is left, paired in order per fingerprint and status
         * (both lists are sorted that way). */
        for (i = 0, j = 0; i < live->cnt && j < test->cnt;) {
                int c;
                if (lm[i]) {
                        i++;
                        continue;
                }
                if (tm[j]) {
                        j++;
                        continue;
                }
                c = strcmp(live->v[i].fingerprint, test->v[j].fingerprint);
                if (!c)
                        c = live->v[i].status == test->v[j].status ? 0 :
                            live->v[i].status < test->v[j].status ? -1 : 1;
                if (c < 0) {
                        i++;
                } else if (c > 0) {
                        j++;
                } else {
                        lm[i] = tm[j] = 1;
                        rw_diff_count(out, live->v[i].rule, RW_DIFF_SHIFTED, (ssize_t)i,
                                      (ssize_t)j);
                        i++;
                        j++;
                }
        }
        for (i = 0; i < live->cnt; i++)
                if (!lm[i])
                        rw_diff_count(out, live->v[i].rule, RW_DIFF_LIVE_ONLY, (ssize_t)i, -1);
        for (j = 0; j < test->cnt; j++)
                if (!tm[j])
                        rw_diff_count(out, test->v[j].rule, RW_DIFF_TEST_ONLY, -1, (ssize_t)j);
        rc = 0;
done:
        free(ids);
        free(lm);
        free(tm);
        if (rc)
                rw_diff_clear(out);
        return rc;
}

void rw_diff_clear(rw_diff_t *d) {
        for (size_t i = 0; i < d->cnt; i++)
                free(d->rows[i].rule);
        free(d->rows);
        memset(d, 0, sizeof(*d));
}
