/* due_index.c - an owned partition's due times in memory: an open-addressing
 * hash table (linear probing, backward-shift deletion) of account -> due. */
#include <stdlib.h>
#include <string.h>
#include "consumers/due_index.h"

typedef struct rw_due_slot_s {
        char *account;          /* NULL: empty */
        uint64_t hash;
        int64_t due;
} rw_due_slot_t;

struct rw_due_index_s {
        rw_due_slot_t *slots;
        size_t size;            /* a power of two, or 0 */
        size_t cnt;
        int64_t min;            /* no entry is due before this (a lower bound) */
};

static uint64_t rw_due_hash(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return h;
}

rw_due_index_t *rw_due_index_new(void) {
        rw_due_index_t *ix = calloc(1, sizeof(*ix));
        if (ix)
                ix->min = INT64_MAX;
        return ix;
}

void rw_due_index_clear(rw_due_index_t *ix) {
        for (size_t i = 0; i < ix->size; i++)
                free(ix->slots[i].account);
        free(ix->slots);
        ix->slots = NULL;
        ix->size = ix->cnt = 0;
        ix->min = INT64_MAX;
}

void rw_due_index_destroy(rw_due_index_t *ix) {
        if (!ix)
                return;
        rw_due_index_clear(ix);
        free(ix);
}

size_t rw_due_index_cnt(const rw_due_index_t *ix) {
        return ix->cnt;
}

/* The slot holding account, or the empty slot where it would go. */
static size_t rw_due_find(const rw_due_index_t *ix, const char *account, uint64_t h) {
        size_t mask = ix->size - 1, i = (size_t)h & mask;
        while (ix->slots[i].account &&
               (ix->slots[i].hash != h || strcmp(ix->slots[i].account, account)))
                i = (i + 1) & mask;
        return i;
}

static int rw_due_grow(rw_due_index_t *ix) {
        size_t n = ix->size ? ix->size * 2 : 64;
        rw_due_slot_t *old = ix->slots, *ns = calloc(n, sizeof(*ns));
        size_t osize = ix->size;

        if (!ns)
                return -1;
        ix->slots = ns;
        ix->size = n;
        for (size_t i = 0; i < osize; i++)
                if (old[i].account)
                        ix->slots[rw_due_find(ix, old[i].account, old[i].hash)] = old[i];
        free(old);
        return 0;
}

static void rw_due_remove_at(rw_due_index_t *ix, size_t i) {
        size_t mask = ix->size - 1, j = i;

        free(ix->slots[i].account);
        ix->slots[i].account = NULL;
        ix->cnt--;
        /* Backward shift: move up what probing would no longer find. */
        for (;;) {
                size_t home;
                j = (j + 1) & mask;
                if (!ix->slots[j].account)
                        return;
                home = (size_t)ix->slots[j].hash & mask;
                /* j's entry may stay unless i lies cyclically in [home, j). */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        ix->slots[i] = ix->slots[j];
                        ix->slots[j].account = NULL;
                        i = j;
                }
        }
}

int rw_due_index_set(rw_due_index_t *ix, const char *account, int64_t due) {
        uint64_t h = rw_due_hash(account);
        size_t i;

        if (due <= 0) {
                if (ix->size && ix->slots[i = rw_due_find(ix, account, h)].account)
                        rw_due_remove_at(ix, i);
                return 0;
        }
        if ((ix->cnt + 1) * 4 > ix->size * 3 && rw_due_grow(ix))
                return -1;
        i = rw_due_find(ix, account, h);
        if (!ix->slots[i].account) {
                if (!(ix->slots[i].account = strdup(account)))
                        return -1;
                ix->slots[i].hash = h;
                ix->cnt++;
        }
        ix->slots[i].due = due;
        if (due < ix->min)
                ix->min = due;
        return 0;
}

int64_t rw_due_index_get(const rw_due_index_t *ix, const char *account) {
        size_t i;
        if (!ix->size)
                return 0;
        i = rw_due_find(ix, account, rw_due_hash(account));
        return ix->slots[i].account ? ix->slots[i].due : 0;
}

int rw_due_index_until(const rw_due_index_t *ix, int64_t until, char ***accountsp,
                       int64_t **duesp, size_t *cntp) {
        rw_due_index_t *mix = (rw_due_index_t *)ix;    /* min is a cache */
        char **accounts = NULL;
        int64_t *dues = NULL, min = INT64_MAX;
        size_t n = 0, size = 0;

        *accountsp = NULL;
        *duesp = NULL;
        *cntp = 0;
        if (until < ix->min)
                return 0;
        for (size_t i = 0; i < ix->size; i++) {
                const rw_due_slot_t *s = &ix->slots[i];
                if (!s->account)
                        continue;
                if (s->due > until) {
                        if (s->due < min)
                                min = s->due;
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
                if (!(accounts[n] = strdup(s->account)))
                        goto nomem;
                dues[n++] = s->due;
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
