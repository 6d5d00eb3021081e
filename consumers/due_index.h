/* due_index.h - an owned partition's due times in memory (pure).
 *
 * The owner of a partition is its only writer, so it can answer "which of
 * its accounts are due by T" itself: the index is loaded once from Redis
 * (the partition's due sorted set) when the partition is first used, follows
 * every write the owner builds, and is dropped whenever what is cached of the
 * partition is (revoked, fenced, a write that did not land), to be loaded
 * again. A batch then needs no round trip to learn its due accounts. */
#ifndef RW_DUE_INDEX_H
#define RW_DUE_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct rw_due_index_s rw_due_index_t;

rw_due_index_t *rw_due_index_new(void);
void rw_due_index_destroy(rw_due_index_t *ix);

/* Forget every entry. */
void rw_due_index_clear(rw_due_index_t *ix);

/* The account's due time (ms); due <= 0 removes it. 0, or -1 when out of
 * memory. */
int rw_due_index_set(rw_due_index_t *ix, const char *account, int64_t due);

/* The account's due time, 0 when it has none. */
int64_t rw_due_index_get(const rw_due_index_t *ix, const char *account);

size_t rw_due_index_cnt(const rw_due_index_t *ix);

/* The accounts due at or before `until`, in no particular order: *accounts
 * (each malloc'ed, then the array) and *dues, *cnt of them; the caller frees
 * them. 0, or -1 when out of memory (nothing returned). */
int rw_due_index_until(const rw_due_index_t *ix, int64_t until, char ***accounts,
                       int64_t **dues, size_t *cnt);

#endif /* RW_DUE_INDEX_H */
