/* i64map.c - a string-keyed map of 64-bit integers (see i64map.h).
 *
 * The entries are one dense array (24 bytes each, grown by half); the hash
 * table holds only their indexes (4 bytes a slot, at most three quarters
 * full). Per-account mirrors hold one entry per account a process has seen,
 * so an entry's size is what they cost: for 200 000 keys, 2 MB of slots and
 * 5 to 7 MB of entries (keys aside), where slots holding the entries took
 * 16 MB. */
#include <stdlib.h>
#include <string.h>
#include "common/i64map.h"

typedef struct rw_i64ent_s {
        char *key;              /* NUL-terminated copy */
        int64_t v;
        uint32_t len;
        uint32_t hash;
} rw_i64ent_t;

struct rw_i64map_s {
        rw_i64ent_t *ents;      /* dense: cnt of cap */
        size_t cnt, cap;
        uint32_t *slots;        /* entry index + 1; 0 = empty */
        size_t size;            /* slots: a power of two, or 0 */
};

static uint32_t rw_i64map_hash(const char *s, size_t len) {
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        return (uint32_t)(h ^ (h >> 32));
}

rw_i64map_t *rw_i64map_new(void) {
        return calloc(1, sizeof(rw_i64map_t));
}

void rw_i64map_clear(rw_i64map_t *m) {
        for (size_t i = 0; i < m->cnt; i++)
                free(m->ents[i].key);
        free(m->ents);
        free(m->slots);
        memset(m, 0, sizeof(*m));
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
                             uint32_t h) {
        size_t mask = m->size - 1, i = h & mask;
        while (m->slots[i]) {
                const rw_i64ent_t *e = &m->ents[m->slots[i] - 1];
                if (e->hash == h && e->len == len && !memcmp(e->key, key, len))
                        break;
                i = (i + 1) & mask;
        }
        return i;
}

static int rw_i64map_rehash(rw_i64map_t *m, size_t n) {
        uint32_t *ns = calloc(n, sizeof(*ns));

        if (!ns)
                return -1;
        free(m->slots);
        m->slots = ns;
        m->size = n;
        for (size_t e = 0; e < m->cnt; e++) {
                size_t i = m->ents[e].hash & (n - 1);
                while (ns[i])
                        i = (i + 1) & (n - 1);
                ns[i] = (uint32_t)e + 1;
        }
        return 0;
}

int rw_i64map_set(rw_i64map_t *m, const char *key, size_t len, int64_t v) {
        uint32_t h = rw_i64map_hash(key, len);
        rw_i64ent_t *e;
        size_t i;

        if (len > UINT32_MAX || m->cnt >= UINT32_MAX - 1)
                return -1;
        if ((m->cnt + 1) * 4 > m->size * 3 &&
            rw_i64map_rehash(m, m->size ? m->size * 2 : 64))
                return -1;
        i = rw_i64map_find(m, key, len, h);
        if (m->slots[i]) {
                m->ents[m->slots[i] - 1].v = v;
                return 0;
        }
        if (m->cnt == m->cap) {
                size_t cap = m->cap ? m->cap + m->cap / 2 : 32;
                rw_i64ent_t *ne = realloc(m->ents, cap * sizeof(*ne));
                if (!ne)
                        return -1;
                m->ents = ne;
                m->cap = cap;
        }
        e = &m->ents[m->cnt];
        if (!(e->key = malloc(len + 1)))
                return -1;
        memcpy(e->key, key, len);
        e->key[len] = '\0';
        e->len = (uint32_t)len;
        e->hash = h;
        e->v = v;
        m->slots[i] = (uint32_t)++m->cnt;
        return 0;
}

void rw_i64map_del(rw_i64map_t *m, const char *key, size_t len) {
        size_t mask, i, j, x, last;

        if (!m->size || !m->slots[i = rw_i64map_find(m, key, len,
                                                     rw_i64map_hash(key, len))])
                return;
        mask = m->size - 1;
        x = m->slots[i] - 1;
        m->slots[i] = 0;
        /* Backward shift: move up what probing would no longer find. */
        for (j = i;;) {
                size_t home;
                j = (j + 1) & mask;
                if (!m->slots[j])
                        break;
                home = m->ents[m->slots[j] - 1].hash & mask;
                /* j's entry may stay unless i lies cyclically in [home, j). */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        m->slots[i] = m->slots[j];
                        m->slots[j] = 0;
                        i = j;
                }
        }
        /* The last entry fills the hole: its slot follows it. */
        free(m->ents[x].key);
        last = --m->cnt;
        if (x != last) {
                for (j = m->ents[last].hash & mask; m->slots[j] != last + 1;
                     j = (j + 1) & mask)
                        ;
                m->slots[j] = (uint32_t)x + 1;
                m->ents[x] = m->ents[last];
        }
}

int rw_i64map_get(const rw_i64map_t *m, const char *key, size_t len, int64_t *vp) {
        size_t i;
        if (!m->size)
                return 0;
        i = rw_i64map_find(m, key, len, rw_i64map_hash(key, len));
        if (!m->slots[i])
                return 0;
        *vp = m->ents[m->slots[i] - 1].v;
        return 1;
}

int rw_i64map_next(const rw_i64map_t *m, size_t *it, const char **keyp, size_t *lenp,
                   int64_t *vp) {
        const rw_i64ent_t *e;

        if (*it >= m->cnt)
                return 0;
        e = &m->ents[(*it)++];
        *keyp = e->key;
        *lenp = e->len;
        *vp = e->v;
        return 1;
}
