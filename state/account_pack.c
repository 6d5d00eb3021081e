/* account_pack.c - an idle account's view in a compact form (pure): what the
 * account cache keeps of the accounts it does not use at the moment.
 *
 * Layout: the account's name and its NUL; the order meta, the latest day,
 * time and offset, the due time and how far the stored one is before it
 * (zigzag varints); the number of ids
 * stored; a mask of the lifecycle states that are not zero, and each of
 * them; the buckets: the count, then per bucket its day as a step from the
 * previous one, a mask of its non-zero fields, and those fields (counts and
 * amounts as zigzag varints, the two sums of doubles as their 8 bytes); the
 * ids: the count, then per id its two hash halves (16 bytes) and its time as
 * a step from the previous one. */
#include <stdlib.h>
#include <string.h>
#include "state/account.h"
#include "common/varint.h"

/* A bucket's fields in the packed order: seven counts, two amounts (the
 * zigzag varints), then the two sums of doubles. */
#define RW_PACK_COUNTS 7
#define RW_PACK_INTS 9
#define RW_PACK_FIELDS 11

static void rw_pack_fields(const rw_day_bucket_t *b, int64_t *iv, double *dv) {
        iv[0] = b->placed;
        iv[1] = b->cancelled;
        iv[2] = b->refunded;
        iv[3] = b->tickets;
        iv[4] = b->tickets_hot;
        iv[5] = b->csat_n;
        iv[6] = b->sentiment_n;
        iv[7] = b->placed_sum;
        iv[8] = b->refunded_sum;
        dv[0] = b->csat_sum;
        dv[1] = b->sentiment_sum;
}

static int rw_pack_double_set(double d) {
        static const double zero = 0.0;
        return memcmp(&d, &zero, sizeof(d)) != 0;       /* -0.0 is kept as it is */
}

size_t rw_account_pack_bound(const rw_account_view_t *av) {
        /* The seven meta values and the stored due time, the ids stored
         * and their tail, the states' mask and the two counts; the states;
         * the buckets; the ids. */
        return strlen(av->account) + 1 + (8 + 5) * RW_VARINT_MAX +
               RW_RULE__CNT * 3 * RW_VARINT_MAX +
               av->bucket_cnt * ((2 + RW_PACK_INTS) * RW_VARINT_MAX + 2 * sizeof(double)) +
               av->id_cnt * (16 + RW_VARINT_MAX);
}

size_t rw_account_pack_into(const rw_account_view_t *av, unsigned char *b) {
        size_t nl = strlen(av->account), n;
        unsigned mask = 0;
        int64_t prev;

        memcpy(b, av->account, nl + 1);
        n = nl + 1;
        n += rw_svarint_put(b + n, av->orders_total);
        n += rw_svarint_put(b + n, av->first_order);
        n += rw_svarint_put(b + n, av->last_order);
        n += rw_svarint_put(b + n, av->maxday);
        n += rw_svarint_put(b + n, av->last_at);
        n += rw_svarint_put(b + n, av->last_offset);
        n += rw_svarint_put(b + n, av->due);
        n += rw_svarint_put(b + n, (int64_t)((uint64_t)av->due - (uint64_t)av->due_stored));
        n += rw_uvarint_put(b + n, av->ids_stored);
        /* A rewrite a read asked for survives the packing (a clean view's
         * only one: rw_account_ids_settle()). */
        n += rw_uvarint_put(b + n, (uint64_t)av->ids_tail * 2 + !!av->ids_rewrite);
        for (int r = 0; r < RW_RULE__CNT; r++)
                if (av->fp[r].firing || av->fp[r].severity || av->fp[r].resolved_at)
                        mask |= 1u << r;
        n += rw_uvarint_put(b + n, mask);
        for (int r = 0; r < RW_RULE__CNT; r++) {
                if (!(mask & (1u << r)))
                        continue;
                n += rw_svarint_put(b + n, av->fp[r].firing);
                n += rw_svarint_put(b + n, (int64_t)av->fp[r].severity);
                n += rw_svarint_put(b + n, av->fp[r].resolved_at);
        }
        n += rw_uvarint_put(b + n, av->bucket_cnt);
        prev = 0;
        for (size_t i = 0; i < av->bucket_cnt; i++) {
                const rw_day_bucket_t *bk = &av->buckets[i];
                int64_t iv[RW_PACK_INTS];
                double dv[2];
                unsigned fm = 0;

                rw_pack_fields(bk, iv, dv);
                for (int f = 0; f < RW_PACK_INTS; f++)
                        if (iv[f])
                                fm |= 1u << f;
                for (int f = 0; f < 2; f++)
                        if (rw_pack_double_set(dv[f]))
                                fm |= 1u << (RW_PACK_INTS + f);
                n += rw_svarint_put(b + n, (int64_t)bk->day - prev);
                prev = bk->day;
                n += rw_uvarint_put(b + n, fm);
                for (int f = 0; f < RW_PACK_INTS; f++)
                        if (fm & (1u << f))
                                n += rw_svarint_put(b + n, iv[f]);
                for (int f = 0; f < 2; f++)
                        if (fm & (1u << (RW_PACK_INTS + f))) {
                                memcpy(b + n, &dv[f], sizeof(double));
                                n += sizeof(double);
                        }
        }
        n += rw_uvarint_put(b + n, av->id_cnt);
        prev = 0;
        for (size_t i = 0; i < av->id_cnt; i++) {
                memcpy(b + n, &av->ids[i].h1, 8);
                memcpy(b + n + 8, &av->ids[i].h2, 8);
                n += 16;
                /* Wrapping steps: any two times have one. */
                n += rw_svarint_put(b + n, (int64_t)((uint64_t)av->ids[i].at - (uint64_t)prev));
                prev = av->ids[i].at;
        }
        return n;
}

int rw_account_pack(const rw_account_view_t *av, unsigned char **bufp, size_t *lenp) {
        unsigned char *b;

        *bufp = NULL;
        *lenp = 0;
        if (rw_account_dirty(av) || !(b = malloc(rw_account_pack_bound(av))))
                return -1;
        *lenp = rw_account_pack_into(av, b);
        *bufp = b;
        return 0;
}

/* A count of at most `cap` (what the rest of the input could hold). */
static int rw_unpack_cnt(const unsigned char **pp, const unsigned char *end, size_t cap,
                         size_t *cnt) {
        uint64_t v;
        if (rw_uvarint_get(pp, end, &v) || v > cap)
                return -1;
        *cnt = (size_t)v;
        return 0;
}

static int rw_unpack_i32(const unsigned char **pp, const unsigned char *end, int32_t *v) {
        int64_t x;
        if (rw_svarint_get(pp, end, &x) || x < INT32_MIN || x > INT32_MAX)
                return -1;
        *v = (int32_t)x;
        return 0;
}

static int rw_unpack_bucket(const unsigned char **pp, const unsigned char *end,
                            int64_t *day, rw_day_bucket_t *bk) {
        int32_t *counts[RW_PACK_COUNTS] = { &bk->placed, &bk->cancelled, &bk->refunded,
                                            &bk->tickets, &bk->tickets_hot, &bk->csat_n,
                                            &bk->sentiment_n };
        int64_t *amounts[2] = { &bk->placed_sum, &bk->refunded_sum }, step;
        double *sums[2] = { &bk->csat_sum, &bk->sentiment_sum };
        uint64_t fm;

        memset(bk, 0, sizeof(*bk));
        if (rw_svarint_get(pp, end, &step) || __builtin_add_overflow(*day, step, day) ||
            *day < INT32_MIN || *day > INT32_MAX ||
            rw_uvarint_get(pp, end, &fm) || fm >> RW_PACK_FIELDS)
                return -1;
        bk->day = (int32_t)*day;
        for (int f = 0; f < RW_PACK_COUNTS; f++)
                if ((fm & (1u << f)) && rw_unpack_i32(pp, end, counts[f]))
                        return -1;
        for (int f = 0; f < 2; f++)
                if ((fm & (1u << (RW_PACK_COUNTS + f))) && rw_svarint_get(pp, end, amounts[f]))
                        return -1;
        for (int f = 0; f < 2; f++) {
                if (!(fm & (1u << (RW_PACK_INTS + f))))
                        continue;
                if ((size_t)(end - *pp) < sizeof(double))
                        return -1;
                memcpy(sums[f], *pp, sizeof(double));
                *pp += sizeof(double);
        }
        return 0;
}

/* Room for n entries of `each` bytes in the block whose pointer is at vp
 * (*size entries now): exactly n when it grows. -1 when out of memory (the
 * block as it was). */
static int rw_unpack_room(void *vp, size_t *size, size_t n, size_t each) {
        void *v, *t;
        if (n <= *size)
                return 0;
        memcpy(&v, vp, sizeof(v));
        if (!(t = realloc(v, n * each)))
                return -1;
        memcpy(vp, &t, sizeof(t));
        *size = n;
        return 0;
}

int rw_account_unpack_reuse(const unsigned char *buf, size_t len, rw_account_view_t *av) {
        const unsigned char *p = buf, *end = buf + len, *nul = memchr(buf, '\0', len);
        int64_t *meta[7] = { &av->orders_total, &av->first_order, &av->last_order,
                             &av->maxday, &av->last_at, &av->last_offset, &av->due };
        uint64_t mask;
        int64_t prev = 0;
        size_t cnt, nl;

        {
                /* Everything but the blocks (and their sizes) starts anew. */
                rw_account_view_t blocks = *av;
                memset(av, 0, sizeof(*av));
                av->account = blocks.account;
                av->buckets = blocks.buckets;
                av->bucket_dirty = blocks.bucket_dirty;
                av->bucket_size = blocks.bucket_size;
                av->gone = blocks.gone;
                av->gone_size = blocks.gone_size;
                av->ids = blocks.ids;
                av->id_size = blocks.id_size;
        }
        if (!nul)
                goto fail;
        nl = (size_t)(nul - buf) + 1;
        {
                char *t = realloc(av->account, nl);
                if (!t)
                        goto fail;
                memcpy(t, buf, nl);
                av->account = t;
        }
        p = nul + 1;
        for (int i = 0; i < 7; i++)
                if (rw_svarint_get(&p, end, meta[i]))
                        goto fail;
        {
                int64_t kept;
                if (rw_svarint_get(&p, end, &kept))
                        goto fail;
                av->due_stored = (int64_t)((uint64_t)av->due - (uint64_t)kept);
                av->due_keep = kept != 0;       /* clean when packed: kept */
        }
        if (rw_unpack_cnt(&p, end, SIZE_MAX, &av->ids_stored) ||
            rw_unpack_cnt(&p, end, SIZE_MAX, &av->ids_tail) ||
            rw_uvarint_get(&p, end, &mask) || mask >> RW_RULE__CNT)
                goto fail;
        av->ids_rewrite = (int)(av->ids_tail & 1);
        av->ids_tail >>= 1;
        for (int r = 0; r < RW_RULE__CNT; r++) {
                int64_t firing, sev;
                if (!(mask & (1u << r)))
                        continue;
                if (rw_svarint_get(&p, end, &firing) || firing < INT32_MIN ||
                    firing > INT32_MAX || rw_svarint_get(&p, end, &sev) || sev < INT32_MIN ||
                    sev > INT32_MAX || rw_svarint_get(&p, end, &av->fp[r].resolved_at))
                        goto fail;
                av->fp[r].firing = (int)firing;
                av->fp[r].severity = (rw_alert_severity_t)sev;
        }
        /* Each bucket takes 2 bytes at least, each id 17. */
        if (rw_unpack_cnt(&p, end, (size_t)(end - p) / 2, &cnt))
                goto fail;
        if (cnt > av->bucket_size) {
                size_t bs = av->bucket_size;
                if (rw_unpack_room(&av->buckets, &bs, cnt, sizeof(*av->buckets)) ||
                    rw_unpack_room(&av->bucket_dirty, &av->bucket_size, cnt, 1))
                        goto fail;
        }
        if (cnt)
                memset(av->bucket_dirty, 0, cnt);
        for (size_t i = 0; i < cnt; i++, av->bucket_cnt++)
                if (rw_unpack_bucket(&p, end, &prev, &av->buckets[i]))
                        goto fail;
        if (rw_unpack_cnt(&p, end, (size_t)(end - p) / 17, &cnt) ||
            rw_unpack_room(&av->ids, &av->id_size, cnt, sizeof(*av->ids)))
                goto fail;
        prev = 0;
        for (size_t i = 0; i < cnt; i++, av->id_cnt++) {
                int64_t step;
                if ((size_t)(end - p) < 16)
                        goto fail;
                memcpy(&av->ids[i].h1, p, 8);
                memcpy(&av->ids[i].h2, p + 8, 8);
                p += 16;
                if (rw_svarint_get(&p, end, &step))
                        goto fail;
                av->ids[i].at = prev = (int64_t)((uint64_t)prev + (uint64_t)step);
        }
        if (p != end)
                goto fail;
        return 0;
fail:
        rw_account_view_clear(av);
        return -1;
}

int rw_account_unpack(const unsigned char *buf, size_t len, rw_account_view_t *av) {
        memset(av, 0, sizeof(*av));     /* no blocks to reuse */
        return rw_account_unpack_reuse(buf, len, av);
}
