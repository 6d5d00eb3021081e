/* due_index.c - an owned partition's due times in memory: a map of account
 * -> due (common/i64map.h) of those up to a horizon, and a lower bound of
 * what it holds. */
#include <stdlib.h>
#include <string.h>
#include "consumers/due_index.h"
#include "common/i64map.h"

struct rw_due_index_s {
        rw_i64map_t *m;
        int64_t min;            /* no entry is due before this (a lower bound) */
        int64_t horizon;        /* every due time up to this is held */
        int64_t floor;          /* rw_due_index_hold(): never shrunk below */
        size_t ahead;           /* rw_due_index_bound() (0: none) */
        size_t limit;           /* a set past this many entries shrinks */
};

rw_due_index_t *rw_due_index_new(void) {
        rw_due_index_t *ix = calloc(1, sizeof(*ix));
        if (ix && !(ix->m = rw_i64map_new())) {
                free(ix);
                return NULL;
        }
        if (ix) {
                ix->min = ix->horizon = INT64_MAX;
                ix->floor = INT64_MIN;
        }
        return ix;
}

void rw_due_index_reset(rw_due_index_t *ix, int64_t horizon) {
        rw_i64map_clear(ix->m);
        ix->min = INT64_MAX;
        ix->horizon = horizon;
        ix->floor = INT64_MIN;
        ix->limit = 2 * ix->ahead;
}

void rw_due_index_hold(rw_due_index_t *ix, int64_t until) {
        if (until > ix->floor)
                ix->floor = until;
}

int64_t rw_due_index_horizon(const rw_due_index_t *ix) {
        return ix->horizon;
}

void rw_due_index_destroy(rw_due_index_t *ix) {
        if (!ix)
                return;
        rw_i64map_destroy(ix->m);
        free(ix);
}

size_t rw_due_index_cnt(const rw_due_index_t *ix) {
        return rw_i64map_cnt(ix->m);
}

void rw_due_index_bound(rw_due_index_t *ix, size_t ahead) {
        ix->ahead = ahead;
        ix->limit = 2 * ahead;
}

static int rw_i64_cmp(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

/* Keep every due time up to the floor (due by the clock: they are to be
 * evaluated, not left in Redis) and the `ahead` nearest after them, with
 * their ties: the horizon comes down to the last of them (what is past it
 * is in Redis, or in a write not landed yet whose accounts a load lays over
 * what it reads). The next shrink comes `ahead` sets or more later. */
static int rw_due_index_shrink(rw_due_index_t *ix) {
        size_t n = rw_i64map_cnt(ix->m), it = 0, len, i = 0, held = 0;
        int64_t *dues = malloc(n * sizeof(*dues)), due, h;
        rw_i64map_t *keep;
        const char *account;

        if (!dues)
                return -1;
        while (rw_i64map_next(ix->m, &it, &account, &len, &due)) {
                dues[i++] = due;
                held += due <= ix->floor;
        }
        ix->limit = held + 2 * ix->ahead;
        if (held + ix->ahead >= n) {
                free(dues);
                return 0;
        }
        /* A sort every `ahead` sets or so: the index holds a few thousand. */
        qsort(dues, n, sizeof(*dues), rw_i64_cmp);
        h = dues[held + ix->ahead - 1];
        free(dues);
        if (!(keep = rw_i64map_new()))
                return -1;
        it = 0;
        while (rw_i64map_next(ix->m, &it, &account, &len, &due))
                if (due <= h && rw_i64map_set(keep, account, len, due)) {
                        rw_i64map_destroy(keep);
                        return -1;
                }
        rw_i64map_destroy(ix->m);
        ix->m = keep;
        ix->horizon = h;
        return 0;
}

int rw_due_index_set(rw_due_index_t *ix, const char *account, int64_t due) {
        if (due <= 0 || due > ix->horizon) {
                rw_i64map_del(ix->m, account, strlen(account));
                return 0;
        }
        if (rw_i64map_set(ix->m, account, strlen(account), due))
                return -1;
        if (due < ix->min)
                ix->min = due;
        if (ix->ahead && rw_i64map_cnt(ix->m) > ix->limit)
                return rw_due_index_shrink(ix);
        return 0;
}

int64_t rw_due_index_get(const rw_due_index_t *ix, const char *account) {
        int64_t due;
        return rw_i64map_get(ix->m, account, strlen(account), &due) ? due : 0;
}

int rw_due_index_until(const rw_due_index_t *ix, int64_t until, char ***accountsp,
                       int64_t **duesp, size_t *cntp) {
        rw_due_index_t *mix = (rw_due_index_t *)ix;    /* min is a cache */
        char **accounts = NULL;
        int64_t *dues = NULL, min = INT64_MAX, due;
        size_t n = 0, size = 0, it = 0, len;
        const char *account;

        *accountsp = NULL;
        *duesp = NULL;
        *cntp = 0;
        if (until < ix->min)
                return 0;
        while (rw_i64map_next(ix->m, &it, &account, &len, &due)) {
                if (due > until) {
                        if (due < min)
                                min = due;
                        continue;
                }
                if (n == size) {
                        size_t ns = size ? size * 2 : 16;
                        char **na = realloc(accounts, ns * sizeof(*na));
                        int64_t *nd = na ? realloc(dues, ns * sizeof(*nd)) : NULL;
                        if (na)
                                accounts = na;
                        if (!nd)
                                goto nomem;
                        dues = nd;
                        size = ns;
                }
                if (!(accounts[n] = strdup(account)))
                        goto nomem;
                dues[n++] = due;
        }
        /* The due ones are about to move on: the bound is what is left. */
        if (!n)
                mix->min = min;
        *accountsp = accounts;
        *duesp = dues;
        *cntp = n;
        return 0;
nomem:
        while (n > 0)
                free(accounts[--n]);
        free(accounts);
        free(dues);
        return -1;
}
