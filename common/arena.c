/* arena.c - see arena.h. */
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"

char *rw_arena_strdup(rw_arena_t *a, const char *s) {
        size_t len = strlen(s) + 1, block = a->block ? a->block : 65536;
        rw_arena_block_t *b = a->head;

        if (!b || b->size - b->used < len) {
                size_t size = len > block ? len : block;
                rw_arena_block_t *nb = malloc(sizeof(*nb) + size);
                if (!nb)
                        return NULL;
                nb->next = b;
                nb->used = 0;
                nb->size = size;
                a->head = b = nb;
        }
        memcpy(b->data + b->used, s, len);
        b->used += len;
        return b->data + b->used - len;
}

void rw_arena_reset(rw_arena_t *a) {
        rw_arena_block_t *b = a->head;

        while (b && b->next) {
                rw_arena_block_t *next = b->next;
                free(b);
                b = next;
        }
        if (b)
                b->used = 0;
        a->head = b;
}

void rw_arena_free(rw_arena_t *a) {
        rw_arena_reset(a);
        free(a->head);
        a->head = NULL;
}
