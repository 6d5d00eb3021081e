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

/* Forget every entry; the index then holds the due times up to `horizon`
 * (INT64_MAX: all of them). A partition whose accounts are many keeps only
 * the nearest in memory: what is due after the horizon stays in Redis, read
 * back (a new horizon) once the event clock passes it. */
void rw_due_index_reset(rw_due_index_t *ix, int64_t horizon);

/* Every due time at or before this is held (INT64_MAX: every one). */
int64_t rw_due_index_horizon(const rw_due_index_t *ix);

/* Hold at most about 2 x `ahead` due times past the floor (0: any number):
 * past that, a set keeps those up to the floor and the `ahead` nearest after
 * them (and their ties), and lowers the horizon to the last of them. */
void rw_due_index_bound(rw_due_index_t *ix, size_t ahead);

/* The clock reached `until`: every due time at or before it stays held
 * whatever the bound (they are due, to be taken by rw_due_index_until(), not
 * left in the store behind a lowered horizon). Forgotten by a reset. */
void rw_due_index_hold(rw_due_index_t *ix, int64_t until);

/* The account's due time (ms); due <= 0, or after the horizon, removes it.
 * 0, or -1 when out of memory (the index may then have lost entries: clear
 * it and load it again). */
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
