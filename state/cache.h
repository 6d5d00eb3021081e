/* cache.h - the accounts a process owns, kept in memory between batches: a
 * hash map of account views per partition tag, bounded in bytes. Over the
 * bound, the least recently used views are packed (rw_account_pack(): a
 * fraction of a view's memory, unpacked on the next use without a round
 * trip), and once every idle one is, the least recently used packed ones
 * are evicted. Entries are written through to Redis by every batch, so
 * evicting one loses nothing: the next use reads it back. */
#ifndef RW_CACHE_H
#define RW_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "state/account.h"

typedef struct rw_cache_s rw_cache_t;

typedef struct rw_cache_stats_s {
        int64_t hits, misses, evictions;
        int64_t unpacks;                /* packed ones used again */
        size_t entries, bytes, max_bytes;
        size_t packed;                  /* entries held packed */
} rw_cache_stats_t;

/* A cache of at most max_bytes (0: keeps nothing between batches). NULL
 * when out of memory. */
rw_cache_t *rw_cache_new(size_t max_bytes);
/* NULL-safe. */
void rw_cache_destroy(rw_cache_t *c);

/* The view of (tag, account) (unpacked if it was packed), NULL on a miss.
 * The pointer stays valid until rw_cache_trim() or rw_cache_drop_tag(). */
rw_account_view_t *rw_cache_get(rw_cache_t *c, int tag, const char *account);

/* rw_cache_get() of accounts[0, cnt), in order, into views[] (NULL: a
 * miss): the same outcome, with the memory of the lookups a few places
 * ahead loaded while one is made. */
void rw_cache_get_many(rw_cache_t *c, int tag, const char *const *accounts, size_t cnt,
                       rw_account_view_t **views);

/* Add a view loaded from the store (takes ownership of what it holds and
 * leaves *av empty). Returns the cached view; NULL when out of memory. */
rw_account_view_t *rw_cache_put(rw_cache_t *c, int tag, rw_account_view_t *av);

/* How many views of a tag were evicted since the cache was made (dropping a
 * tag evicts none). A caller that knew every account of a tag the store
 * holds is in the cache knows it still while this has not moved. */
uint64_t rw_cache_evicted(const rw_cache_t *c, int tag);

/* Drop every view of a tag (its partition was revoked or fenced). */
void rw_cache_drop_tag(rw_cache_t *c, int tag);

/* Pack, then evict, the least recently used views until within the bound,
 * never one used since the previous trim (the bound may be exceeded by one
 * batch's accounts). Call between batches only (it invalidates pointers to
 * packed and evicted views). */
void rw_cache_trim(rw_cache_t *c);

void rw_cache_stats(const rw_cache_t *c, rw_cache_stats_t *stats);

/* Whether what the cache holds (as of the views' sizes at the last trim, and
 * every view put since) is over its bound: a trim would pack or evict. */
int rw_cache_over(const rw_cache_t *c);

#endif
