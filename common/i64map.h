/* i64map.h - a string-keyed map of 64-bit integers: dense entries, indexed
 * by open addressing with linear probing and backward-shift deletion. For
 * in-memory mirrors of what Redis stores (an owned partition's due times,
 * the decider's totals): one entry per account, 29 to 47 bytes each (the
 * entries grow by half, the slots double) plus its key. */
#ifndef RW_I64MAP_H
#define RW_I64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rw_i64map_s rw_i64map_t;

rw_i64map_t *rw_i64map_new(void);
void rw_i64map_destroy(rw_i64map_t *m);
void rw_i64map_clear(rw_i64map_t *m);
size_t rw_i64map_cnt(const rw_i64map_t *m);

/* Set key to v (the key is copied). 0, or -1 when out of memory. */
int rw_i64map_set(rw_i64map_t *m, const char *key, size_t len, int64_t v);
void rw_i64map_del(rw_i64map_t *m, const char *key, size_t len);
/* 1 and *vp when key is there, else 0. */
int rw_i64map_get(const rw_i64map_t *m, const char *key, size_t len, int64_t *vp);

/* Every entry, in no particular order: start with *it = 0; 1 and the entry
 * while there is one, 0 at the end. The map must not change meanwhile. */
int rw_i64map_next(const rw_i64map_t *m, size_t *it, const char **keyp, size_t *lenp,
                   int64_t *vp);

#endif /* RW_I64MAP_H */
