/* cache.c - the accounts a process owns, in memory: a chained hash map with
 * an LRU list, bounded in bytes. */
#include <stdlib.h>
#include <string.h>
#include "state/cache.h"

typedef struct rw_cache_entry_s {
        struct rw_cache_entry_s *next;          /* hash chain */
        struct rw_cache_entry_s *lru_prev, *lru_next;
        uint64_t hash;
        int tag;
        int touched;                            /* used since the last trim */
        size_t bytes;
        rw_account_view_t av;
} rw_cache_entry_t;

struct rw_cache_s {
        rw_cache_entry_t **slots;
        size_t slot_cnt;                        /* a power of two */
        rw_cache_entry_t *lru_head, *lru_tail;  /* head: most recent */
        rw_cache_stats_t st;
};

static uint64_t rw_cache_hash(int tag, const char *account) {
        uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(unsigned)tag;
        for (const unsigned char *p = (const unsigned char *)account; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return h ^ (h >> 29);
}

/* An entry's bytes: its view's blocks, and the entry's own block around
 * the view (its links and the allocator's header). */
static size_t rw_cache_entry_bytes(const rw_cache_entry_t *e) {
        return rw_account_footprint(&e->av) +
               (sizeof(*e) - sizeof(e->av)) + 16;
}

rw_cache_t *rw_cache_new(size_t max_bytes) {
        rw_cache_t *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->slot_cnt = 1024;
        if (!(c->slots = calloc(c->slot_cnt, sizeof(*c->slots)))) {
                free(c);
                return NULL;
        }
        c->st.max_bytes = max_bytes;
        return c;
}

static void rw_cache_unlink(rw_cache_t *c, rw_cache_entry_t *e) {
        rw_cache_entry_t **pp = &c->slots[e->hash & (c->slot_cnt - 1)];

        while (*pp != e)
                pp = &(*pp)->next;
        *pp = e->next;
        if (e->lru_prev)
                e->lru_prev->lru_next = e->lru_next;
        else
                c->lru_head = e->lru_next;
        if (e->lru_next)
                e->lru_next->lru_prev = e->lru_prev;
        else
                c->lru_tail = e->lru_prev;
        c->st.entries--;
        c->st.bytes -= e->bytes;
        rw_account_view_clear(&e->av);
        free(e);
}

void rw_cache_destroy(rw_cache_t *c) {
        if (!c)
                return;
        while (c->lru_head)
                rw_cache_unlink(c, c->lru_head);
        free(c->slots);
        free(c);
}

static void rw_cache_to_front(rw_cache_t *c, rw_cache_entry_t *e) {
        e->touched = 1;
        if (c->lru_head == e)
                return;
        if (e->lru_prev)
                e->lru_prev->lru_next = e->lru_next;
        if (e->lru_next)
                e->lru_next->lru_prev = e->lru_prev;
        else if (e->lru_prev)
                c->lru_tail = e->lru_prev;
        e->lru_prev = NULL;
        e->lru_next = c->lru_head;
        if (c->lru_head)
                c->lru_head->lru_prev = e;
        c->lru_head = e;
        if (!c->lru_tail)
                c->lru_tail = e;
}

rw_account_view_t *rw_cache_get(rw_cache_t *c, int tag, const char *account) {
        uint64_t h = rw_cache_hash(tag, account);

        for (rw_cache_entry_t *e = c->slots[h & (c->slot_cnt - 1)]; e; e = e->next)
                if (e->hash == h && e->tag == tag && !strcmp(e->av.account, account)) {
                        rw_cache_to_front(c, e);
                        c->st.hits++;
                        return &e->av;
                }
        c->st.misses++;
        return NULL;
}

static void rw_cache_grow(rw_cache_t *c) {
        size_t n = c->slot_cnt * 2;
        rw_cache_entry_t **ns = calloc(n, sizeof(*ns));

        if (!ns)
                return;         /* longer chains, still correct */
        for (size_t i = 0; i < c->slot_cnt; i++)
                for (rw_cache_entry_t *e = c->slots[i], *next; e; e = next) {
                        next = e->next;
                        e->next = ns[e->hash & (n - 1)];
                        ns[e->hash & (n - 1)] = e;
                }
        free(c->slots);
        c->slots = ns;
        c->slot_cnt = n;
}

rw_account_view_t *rw_cache_put(rw_cache_t *c, int tag, rw_account_view_t *av) {
        rw_cache_entry_t *e = calloc(1, sizeof(*e));
        size_t slot;

        if (!e)
                return NULL;
        if (c->st.entries >= c->slot_cnt)
                rw_cache_grow(c);
        e->hash = rw_cache_hash(tag, av->account);
        e->tag = tag;
        e->av = *av;
        memset(av, 0, sizeof(*av));
        av->maxday = -1;
        av->last_offset = -1;
        slot = e->hash & (c->slot_cnt - 1);
        e->next = c->slots[slot];
        c->slots[slot] = e;
        c->st.entries++;
        e->bytes = rw_cache_entry_bytes(e);
        c->st.bytes += e->bytes;
        e->lru_prev = e->lru_next = NULL;
        /* Linked at the front. */
        e->lru_next = c->lru_head;
        if (c->lru_head)
                c->lru_head->lru_prev = e;
        c->lru_head = e;
        if (!c->lru_tail)
                c->lru_tail = e;
        e->touched = 1;
        return &e->av;
}

void rw_cache_drop_tag(rw_cache_t *c, int tag) {
        for (rw_cache_entry_t *e = c->lru_head, *next; e; e = next) {
                next = e->lru_next;
                if (e->tag == tag)
                        rw_cache_unlink(c, e);
        }
}

void rw_cache_trim(rw_cache_t *c) {
        rw_cache_entry_t *e;

        /* Entries used since the last trim are at the front: their size
         * may have changed, and they are kept (the caller may still hold
         * them: a batch whose write is not stored yet). */
        for (e = c->lru_head; e && e->touched; e = e->lru_next) {
                size_t b = rw_cache_entry_bytes(e);
                c->st.bytes = c->st.bytes - e->bytes + b;
                e->bytes = b;
        }
        while (c->lru_tail && !c->lru_tail->touched && c->st.bytes > c->st.max_bytes) {
                rw_cache_unlink(c, c->lru_tail);
                c->st.evictions++;
        }
        for (e = c->lru_head; e && e->touched; e = e->lru_next)
                e->touched = 0;
}

void rw_cache_stats(const rw_cache_t *c, rw_cache_stats_t *stats) {
        *stats = c->st;
}
