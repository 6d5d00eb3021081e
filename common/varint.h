/* varint.h - LEB128 integers (7 bits a byte, low first) and their zigzag
 * form for signed values, for the compact encodings riskwatch keeps: in
 * memory (an idle account's packed view) and in Redis (the fold copies). */
#ifndef RW_VARINT_H
#define RW_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes one value takes. */
#define RW_VARINT_MAX 10

/* v at b; its length. */
static inline size_t rw_uvarint_put(unsigned char *b, uint64_t v) {
        size_t n = 0;
        while (v >= 0x80) {
                b[n++] = (unsigned char)(v | 0x80);
                v >>= 7;
        }
        b[n++] = (unsigned char)v;
        return n;
}

/* A value at *pp (before end) into *v, *pp moved past it; -1 when it runs
 * past end or beyond 64 bits. */
static inline int rw_uvarint_get(const unsigned char **pp, const unsigned char *end,
                                 uint64_t *v) {
        uint64_t u = 0;
        for (int shift = 0; *pp < end && shift < 64; shift += 7) {
                unsigned char c = *(*pp)++;
                if (shift == 63 && c > 1)
                        return -1;
                u |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80)) {
                        *v = u;
                        return 0;
                }
        }
        return -1;
}

/* Signed: zigzag, so small negative values stay short. */
static inline size_t rw_svarint_put(unsigned char *b, int64_t v) {
        return rw_uvarint_put(b, ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0));
}

static inline int rw_svarint_get(const unsigned char **pp, const unsigned char *end,
                                 int64_t *v) {
        uint64_t z;
        if (rw_uvarint_get(pp, end, &z))
                return -1;
        *v = (int64_t)((z >> 1) ^ (0 - (z & 1)));
        return 0;
}

#endif /* RW_VARINT_H */
