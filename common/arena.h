/* arena.h - strings copied into blocks that never move, all freed at once
 * (a batch's decoded ids, a write's subjects): one allocation for many. */
#ifndef RW_ARENA_H
#define RW_ARENA_H

#include <stddef.h>

typedef struct rw_arena_block_s {
        struct rw_arena_block_s *next;
        size_t used, size;
        char data[];
} rw_arena_block_t;

/* Zero-initialised: empty, blocks of `block` bytes (0: 64 KiB). */
typedef struct rw_arena_s {
        rw_arena_block_t *head;
        size_t block;
} rw_arena_t;

/* A copy of s, valid until rw_arena_reset() or rw_arena_free(); NULL when
 * out of memory. */
char *rw_arena_strdup(rw_arena_t *a, const char *s);
/* Forget every copy, keeping the newest block for the next ones. */
void rw_arena_reset(rw_arena_t *a);
void rw_arena_free(rw_arena_t *a);

#endif
