/* i64map.c - a string-keyed map of 64-bit integers (see i64map.h). */
#include <stdlib.h>
#include <string.h>
#include "common/i64map.h"

typedef struct rw_i64slot_s {
        char *key;              /* NULL: empty */
        size_t len;
        uint64_t hash;
        int64_t v;
} rw_i64slot_t;

struct rw_i64map_s {
        rw_i64slot_t *slots;
        size_t size;            /* a power of two, or 0 */
        size_t cnt;
};

static uint64_t rw_i64map_hash(const char *s, size_t len) {
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        return h;
}

rw_i64map_t *rw_i64map_new(void) {
        return calloc(1, sizeof(rw_i64map_t));
}

void rw_i64map_clear(rw_i64map_t *m) {
        for (size_t i = 0; i < m->size; i++)
                free(m->slots[i].key);
        free(m->slots);
        m->slots = NULL;
        m->size = m->cnt = 0;
}

void rw_i64map_destroy(rw_i64map_t *m) {
        if (!m)
                return;
        rw_i64map_clear(m);
        free(m);
}

size_t rw_i64map_cnt(const rw_i64map_t *m) {
        return m->cnt;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t rw_i64map_find(const rw_i64map_t *m, const char *key, size_t len,
                             uint64_t h) {
        size_t mask = m->size - 1, i = (size_t)h & mask;
        while (m->slots[i].key && (m->slots[i].hash != h || m->slots[i].len != len ||
                                   memcmp(m->slots[i].key, key, len)))
                i = (i + 1) & mask;
        return i;
}

static int rw_i64map_grow(rw_i64map_t *m) {
        size_t n = m->size ? m->size * 2 : 64, osize = m->size;
        rw_i64slot_t *old = m->slots, *ns = calloc(n, sizeof(*ns));

        if (!ns)
                return -1;
        m->slots = ns;
        m->size = n;
        for (size_t i = 0; i < osize; i++)
                if (old[i].key)
                        m->slots[rw_i64map_find(m, old[i].key, old[i].len, old[i].hash)] =
                                old[i];
        free(old);
        return 0;
}

int rw_i64map_set(rw_i64map_t *m, const char *key, size_t len, int64_t v) {
        uint64_t h = rw_i64map_hash(key, len);
        size_t i;

        if ((m->cnt + 1) * 4 > m->size * 3 && rw_i64map_grow(m))
                return -1;
        i = rw_i64map_find(m, key, len, h);
        if (!m->slots[i].key) {
                if (!(m->slots[i].key = malloc(len + 1)))
                        return -1;
                memcpy(m->slots[i].key, key, len);
                m->slots[i].key[len] = '\0';
                m->slots[i].len = len;
                m->slots[i].hash = h;
                m->cnt++;
        }
        m->slots[i].v = v;
        return 0;
}

void rw_i64map_del(rw_i64map_t *m, const char *key, size_t len) {
        size_t mask, i, j;

        if (!m->size || !m->slots[i = rw_i64map_find(m, key, len,
                                                     rw_i64map_hash(key, len))].key)
                return;
        mask = m->size - 1;
        free(m->slots[i].key);
        m->slots[i].key = NULL;
        m->cnt--;
        /* Backward shift: move up what probing would no longer find. */
        for (j = i;;) {
                size_t home;
                j = (j + 1) & mask;
                if (!m->slots[j].key)
                        return;
                home = (size_t)m->slots[j].hash & mask;
                /* j's entry may stay unless i lies cyclically in [home, j). */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        m->slots[i] = m->slots[j];
                        m->slots[j].key = NULL;
                        i = j;
                }
        }
}

int rw_i64map_get(const rw_i64map_t *m, const char *key, size_t len, int64_t *vp) {
        size_t i;
        if (!m->size)
                return 0;
        i = rw_i64map_find(m, key, len, rw_i64map_hash(key, len));
        if (!m->slots[i].key)
                return 0;
        *vp = m->slots[i].v;
        return 1;
}

int rw_i64map_next(const rw_i64map_t *m, size_t *it, const char **keyp, size_t *lenp,
                   int64_t *vp) {
        for (; *it < m->size; (*it)++)
                if (m->slots[*it].key) {
                        const rw_i64slot_t *s = &m->slots[(*it)++];
                        *keyp = s->key;
                        *lenp = s->len;
                        *vp = s->v;
                        return 1;
                }
        return 0;
}
