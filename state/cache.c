/* cache.c - the accounts a process owns, in memory: a chained hash map with
 * an LRU list, bounded in bytes. Over the bound, the views not in use are
 * packed first (rw_account_pack(): a fraction of their memory, unpacked on
 * their next use), least recently used first; then the packed ones are
 * evicted, least recently used first. */
#include <stdlib.h>
#include <string.h>
#include "state/cache.h"

typedef struct rw_cache_entry_s {
        struct rw_cache_entry_s *next;          /* hash chain */
        struct rw_cache_entry_s *lru_prev, *lru_next;
        uint64_t hash;
        int tag;
        uint64_t gen;                           /* the trim period of its last use */
        size_t bytes;
        rw_account_view_t *av;                  /* the view, or NULL: packed */
        unsigned char *packed;                  /* starts with the name */
        size_t packed_len;
} rw_cache_entry_t;

/* A least-recently-used order: head most recent. */
typedef struct rw_cache_lru_s {
        rw_cache_entry_t *head, *tail;
} rw_cache_lru_t;

struct rw_cache_s {
        rw_cache_entry_t **slots;
        size_t slot_cnt;                        /* a power of two */
        /* Entries holding their view, and packed ones: each trim packs from
         * the first's tail and evicts from the second's, without walking
         * past what it does not touch. */
        rw_cache_lru_t views, packs;
        unsigned char *scratch;                 /* a view packed, then copied */
        size_t scratch_size;
        uint64_t gen;                           /* trims so far, plus 1 */
        rw_cache_stats_t st;
        /* Evictions per tag (rw_cache_evicted()): the tags seen evicting,
         * few (a process's partitions). */
        struct rw_cache_tag_ev_s { int tag; uint64_t n; } *tev;
        size_t tev_cnt, tev_size;
};

static uint64_t rw_cache_hash(int tag, const char *account) {
        uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(unsigned)tag;
        for (const unsigned char *p = (const unsigned char *)account; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return h ^ (h >> 29);
}

/* An entry's bytes: its own block, and its view's blocks (the view in a
 * block of its own) or its packed form's. */
static size_t rw_cache_entry_bytes(const rw_cache_entry_t *e) {
        return rw_heap_block(sizeof(*e)) +
               (e->av ? rw_account_footprint(e->av) - sizeof(*e->av) +
                                rw_heap_block(sizeof(*e->av)) :
                        rw_heap_block(e->packed_len));
}

static const char *rw_cache_name(const rw_cache_entry_t *e) {
        return e->av ? e->av->account : (const char *)e->packed;
}

static void rw_cache_entry_free(rw_cache_entry_t *e) {
        if (e->av) {
                rw_account_view_clear(e->av);
                free(e->av);
        }
        free(e->packed);
        free(e);
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
        c->gen = 1;
        return c;
}

static void rw_lru_remove(rw_cache_lru_t *l, rw_cache_entry_t *e) {
        if (e->lru_prev)
                e->lru_prev->lru_next = e->lru_next;
        else
                l->head = e->lru_next;
        if (e->lru_next)
                e->lru_next->lru_prev = e->lru_prev;
        else
                l->tail = e->lru_prev;
        e->lru_prev = e->lru_next = NULL;
}

static void rw_lru_push(rw_cache_lru_t *l, rw_cache_entry_t *e) {
        e->lru_prev = NULL;
        e->lru_next = l->head;
        if (l->head)
                l->head->lru_prev = e;
        l->head = e;
        if (!l->tail)
                l->tail = e;
}

static rw_cache_lru_t *rw_cache_lru(rw_cache_t *c, const rw_cache_entry_t *e) {
        return e->av ? &c->views : &c->packs;
}

static void rw_cache_unlink(rw_cache_t *c, rw_cache_entry_t *e) {
        rw_cache_entry_t **pp = &c->slots[e->hash & (c->slot_cnt - 1)];

        while (*pp != e)
                pp = &(*pp)->next;
        *pp = e->next;
        rw_lru_remove(rw_cache_lru(c, e), e);
        c->st.entries--;
        c->st.packed -= !e->av;
        c->st.bytes -= e->bytes;
        rw_cache_entry_free(e);
}

/* Evict an entry, counted in all and for its tag. */
static void rw_cache_evict(rw_cache_t *c, rw_cache_entry_t *e) {
        size_t i;

        for (i = 0; i < c->tev_cnt && c->tev[i].tag != e->tag; i++)
                ;
        if (i == c->tev_cnt) {
                if (rw_grow(&c->tev, &c->tev_size, c->tev_cnt + 1, sizeof(*c->tev), 16))
                        abort();        /* a few bytes: as a malloc failure */
                c->tev[c->tev_cnt++] = (struct rw_cache_tag_ev_s){ .tag = e->tag };
        }
        c->tev[i].n++;
        c->st.evictions++;
        rw_cache_unlink(c, e);
}

uint64_t rw_cache_evicted(const rw_cache_t *c, int tag) {
        for (size_t i = 0; i < c->tev_cnt; i++)
                if (c->tev[i].tag == tag)
                        return c->tev[i].n;
        return 0;
}

void rw_cache_destroy(rw_cache_t *c) {
        if (!c)
                return;
        while (c->views.head)
                rw_cache_unlink(c, c->views.head);
        while (c->packs.head)
                rw_cache_unlink(c, c->packs.head);
        free(c->slots);
        free(c->scratch);
        free(c->tev);
        free(c);
}

/* Used now: at the front of the views (unpacked before). */
static void rw_cache_to_front(rw_cache_t *c, rw_cache_entry_t *e) {
        e->gen = c->gen;
        if (c->views.head == e)
                return;
        rw_lru_remove(&c->views, e);
        rw_lru_push(&c->views, e);
}

/* An idle entry's view, packed; the view (its blocks and all) to *keep, or
 * freed when keep is NULL. -1 when out of memory or the view is not clean
 * (the entry is as it was). */
static int rw_cache_pack(rw_cache_t *c, rw_cache_entry_t *e, rw_account_view_t **keep) {
        size_t bound;

        if (rw_account_dirty(e->av))
                return -1;
        /* Packed into the scratch buffer, then into a block of its size:
         * no block of the bound's size freed around each. */
        bound = rw_account_pack_bound(e->av);
        if (bound > c->scratch_size) {
                unsigned char *t = realloc(c->scratch, bound * 2);
                if (!t)
                        return -1;
                c->scratch = t;
                c->scratch_size = bound * 2;
        }
        e->packed_len = rw_account_pack_into(e->av, c->scratch);
        if (!(e->packed = malloc(e->packed_len))) {
                e->packed_len = 0;
                return -1;
        }
        memcpy(e->packed, c->scratch, e->packed_len);
        rw_lru_remove(&c->views, e);
        if (keep) {
                *keep = e->av;
        } else {
                rw_account_view_clear(e->av);
                free(e->av);
        }
        e->av = NULL;
        rw_lru_push(&c->packs, e);     /* the most recent of the packed */
        c->st.packed++;
        c->st.bytes -= e->bytes;
        e->bytes = rw_cache_entry_bytes(e);
        c->st.bytes += e->bytes;
        return 0;
}

/* A packed entry's view, back in memory. When the cache is full, the least
 * recently used view that neither the open batches nor the write in flight
 * can hold (not used in this trim period or the one before) is packed, and
 * its blocks take the unpacked view: the views' memory moves from one account
 * to the other instead of going back to the allocator and out again. -1 when
 * out of memory (the entry is as it was). */
static int rw_cache_unpack(rw_cache_t *c, rw_cache_entry_t *e) {
        rw_cache_entry_t *y = c->views.tail;
        rw_account_view_t *av = NULL;

        if (c->st.bytes >= c->st.max_bytes && y && y->gen + 1 < c->gen &&
            !rw_cache_pack(c, y, &av)) {
                /* y counts its packed form now; av is counted with e. */
                if (rw_account_unpack_reuse(e->packed, e->packed_len, av)) {
                        free(av);
                        return -1;
                }
        } else if (!(av = malloc(sizeof(*av))) ||
                   rw_account_unpack(e->packed, e->packed_len, av)) {
                free(av);
                return -1;
        }
        rw_lru_remove(&c->packs, e);
        free(e->packed);
        e->packed = NULL;
        e->packed_len = 0;
        e->av = av;
        rw_lru_push(&c->views, e);
        c->st.packed--;
        c->st.unpacks++;
        c->st.bytes -= e->bytes;
        e->bytes = rw_cache_entry_bytes(e);
        c->st.bytes += e->bytes;
        return 0;
}

static rw_account_view_t *rw_cache_get_hashed(rw_cache_t *c, int tag, const char *account,
                                              uint64_t h) {
        for (rw_cache_entry_t *e = c->slots[h & (c->slot_cnt - 1)]; e; e = e->next)
                if (e->hash == h && e->tag == tag && !strcmp(rw_cache_name(e), account)) {
                        if (!e->av && rw_cache_unpack(c, e)) {
                                /* Out of memory: as if evicted (the store
                                 * holds it). */
                                rw_cache_evict(c, e);
                                break;
                        }
                        rw_cache_to_front(c, e);
                        c->st.hits++;
                        return e->av;
                }
        c->st.misses++;
        return NULL;
}

rw_account_view_t *rw_cache_get(rw_cache_t *c, int tag, const char *account) {
        return rw_cache_get_hashed(c, tag, account, rw_cache_hash(tag, account));
}

void rw_cache_get_many(rw_cache_t *c, int tag, const char *const *accounts, size_t cnt,
                       rw_account_view_t **views) {
        /* Each lookup reads a slot, an entry, its view and the name, most of
         * them out of the CPU caches: those of the lookups a few places
         * ahead are loaded meanwhile (their hashes kept in a ring). */
        enum { AHEAD = 8 };
        uint64_t ring[AHEAD];
        const size_t mask = c->slot_cnt - 1;

        for (size_t i = 0; i < cnt && i < AHEAD; i++) {
                ring[i] = rw_cache_hash(tag, accounts[i]);
                __builtin_prefetch(&c->slots[ring[i] & mask]);
        }
        for (size_t i = 0; i < cnt; i++) {
                const rw_cache_entry_t *e;
                uint64_t h = ring[i % AHEAD];

                if (i + 2 < cnt && (e = c->slots[ring[(i + 2) % AHEAD] & mask]) && e->av)
                        __builtin_prefetch(e->av);
                if (i + 4 < cnt && (e = c->slots[ring[(i + 4) % AHEAD] & mask]))
                        __builtin_prefetch(e);
                views[i] = rw_cache_get_hashed(c, tag, accounts[i], h);
                if (i + AHEAD < cnt) {
                        ring[i % AHEAD] = rw_cache_hash(tag, accounts[i + AHEAD]);
                        __builtin_prefetch(&c->slots[ring[i % AHEAD] & mask]);
                }
        }
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

        if (!e || !(e->av = malloc(sizeof(*e->av)))) {
                free(e);
                return NULL;
        }
        if (c->st.entries >= c->slot_cnt)
                rw_cache_grow(c);
        e->hash = rw_cache_hash(tag, av->account);
        e->tag = tag;
        *e->av = *av;
        memset(av, 0, sizeof(*av));
        av->maxday = -1;
        av->last_offset = -1;
        slot = e->hash & (c->slot_cnt - 1);
        e->next = c->slots[slot];
        c->slots[slot] = e;
        c->st.entries++;
        e->bytes = rw_cache_entry_bytes(e);
        c->st.bytes += e->bytes;
        rw_lru_push(&c->views, e);
        e->gen = c->gen;
        return e->av;
}

void rw_cache_drop_tag(rw_cache_t *c, int tag) {
        rw_cache_lru_t *lists[2] = { &c->views, &c->packs };

        for (int k = 0; k < 2; k++)
                for (rw_cache_entry_t *e = lists[k]->head, *next; e; e = next) {
                        next = e->lru_next;
                        if (e->tag == tag)
                                rw_cache_unlink(c, e);
                }
}

void rw_cache_trim(rw_cache_t *c) {
        rw_cache_entry_t *e, *prev;

        /* Entries used since the last trim are at the front of the views:
         * their size may have changed, and they are kept as they are (the
         * caller may still hold them: a batch whose write is not stored
         * yet). */
        for (e = c->views.head; e && e->gen == c->gen; e = e->lru_next) {
                size_t b = rw_cache_entry_bytes(e);
                c->st.bytes = c->st.bytes - e->bytes + b;
                e->bytes = b;
        }
        /* Over the bound: pack the idle views, least recently used first,
         * as many as it takes; then evict packed ones, least recently used
         * first; then views that could not be packed. A cache of size 0
         * keeps nothing: what it would pack it would evict. */
        for (e = c->st.max_bytes ? c->views.tail : NULL;
             e && e->gen != c->gen && c->st.bytes > c->st.max_bytes; e = prev) {
                prev = e->lru_prev;
                (void)rw_cache_pack(c, e, NULL);        /* else kept as it is */
        }
        while (c->packs.tail && c->st.bytes > c->st.max_bytes)
                rw_cache_evict(c, c->packs.tail);
        while (c->views.tail && c->views.tail->gen != c->gen &&
               c->st.bytes > c->st.max_bytes)
                rw_cache_evict(c, c->views.tail);
        c->gen++;
}

void rw_cache_stats(const rw_cache_t *c, rw_cache_stats_t *stats) {
        *stats = c->st;
}

int rw_cache_over(const rw_cache_t *c) {
        return c->st.bytes > c->st.max_bytes;
}
