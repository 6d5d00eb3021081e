/* account.c - the pure per-account arithmetic: buckets within the window,
 * order meta, remembered event ids, and what changed since the last write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/account.h"

int rw_account_init(rw_account_view_t *av, const char *account) {
        memset(av, 0, sizeof(*av));
        av->maxday = -1;
        av->last_offset = -1;
        return (av->account = strdup(account)) ? 0 : -1;
}

void rw_event_id_hash(const char *event_id, uint64_t *h1, uint64_t *h2) {
        uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL;

        for (const unsigned char *p = (const unsigned char *)event_id; *p; p++) {
                a = (a ^ *p) * 0x100000001b3ULL;
                b = (b + *p) * 0xff51afd7ed558ccdULL;
                b ^= b >> 31;
        }
        /* The length too: ids that are prefixes of each other differ. */
        b ^= (uint64_t)strlen(event_id) * 0xc4ceb9fe1a85ec53ULL;
        b ^= b >> 33;
        *h1 = a;
        *h2 = b;
}

int rw_account_seen_hashed(const rw_account_view_t *av, uint64_t h1, uint64_t h2,
                           int64_t offset) {
        if (offset <= av->last_offset)
                return 1;
        for (size_t i = av->id_cnt; i-- > 0; )
                if (av->ids[i].h1 == h1 && av->ids[i].h2 == h2)
                        return 1;
        return 0;
}

int rw_account_seen(const rw_account_view_t *av, const char *event_id, int64_t offset) {
        uint64_t h1 = 0, h2 = 0;

        if (offset > av->last_offset && av->id_cnt)
                rw_event_id_hash(event_id, &h1, &h2);
        return rw_account_seen_hashed(av, h1, h2, offset);
}

/* The retention rule over ids[0..id_cnt), whose last entry just arrived:
 * within the horizon of the latest, at most dedup_max, newest kept. The
 * entries from index `tail` on (those remembered since the last store) are
 * to be appended to the stored form; 1 when one of them was dropped, so the
 * stored form must be rewritten instead. */
static int rw_ids_trim(rw_account_view_t *av, const rw_account_limits_t *lim, size_t tail) {
        int64_t latest = av->ids[av->id_cnt - 1].at;
        size_t i, keep = 0, drop_front, tail_keep = tail;
        int lost = 0;

        for (i = 0; i < av->id_cnt; i++)
                if (av->ids[i].at > latest)
                        latest = av->ids[i].at;
        for (i = 0; i < av->id_cnt; i++) {
                if (av->ids[i].at > latest - lim->dedup_ms)
                        av->ids[keep++] = av->ids[i];
                else if (i >= tail)
                        lost = 1;
                else
                        tail_keep--;
        }
        drop_front = keep > lim->dedup_max ? keep - lim->dedup_max : 0;
        if (drop_front > tail_keep)
                lost = 1;
        if (drop_front)
                memmove(av->ids, av->ids + drop_front,
                        (keep - drop_front) * sizeof(*av->ids));
        av->id_cnt = keep - drop_front;
        return lost;
}

static int rw_account_remember(rw_account_view_t *av, uint64_t h1, uint64_t h2,
                               int64_t at, const rw_account_limits_t *lim) {
        int lost;

        if (!lim->dedup_ms || !lim->dedup_max)
                return 0;
        if (rw_grow(&av->ids, &av->id_size, av->id_cnt + 1, sizeof(*av->ids), 4))
                return -1;
        av->ids[av->id_cnt].h1 = h1;
        av->ids[av->id_cnt].h2 = h2;
        av->ids[av->id_cnt++].at = at;
        av->ids_dirty = 1;
        av->ids_fresh++;
        /* The stored tail goes out again with the fresh ids (RW_IDS_TAIL,
         * RW_IDS_APPEND): one of its ids dropped, the ids are rewritten. */
        lost = av->ids_fresh + av->ids_tail > av->id_cnt;
        if (rw_ids_trim(av, lim, lost ? 0 : av->id_cnt - av->ids_fresh - av->ids_tail))
                lost = 1;
        if (lost)
                av->ids_rewrite = 1;
        return 0;
}

/* A count or day in the 32 bits of a bucket, saturated. */
static int32_t rw_i32_sat(long long v) {
        return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* One more of a count, saturated at INT32_MAX (2 billion events of one kind
 * for one account in one day). */
static void rw_bucket_count(int32_t *n) {
        if (*n < INT32_MAX)
                (*n)++;
}

void rw_bucket_parse(int64_t day, const char *csv, rw_day_bucket_t *b) {
        double v[11] = { 0 };
        long long iv[11] = { 0 };
        char *end;
        const char *p = csv;

        for (int i = 0; i < 11 && *p; i++) {
                if (*p == ',') {        /* an empty field: 0 */
                        p++;
                        continue;
                }
                /* Counts and amounts exactly (beyond 2^53), sums as doubles. */
                iv[i] = strtoll(p, &end, 10);
                v[i] = strtod(p, &end);
                if (end == p)
                        break;
                p = *end == ',' ? end + 1 : end;
        }
        *b = (rw_day_bucket_t){ .day = rw_i32_sat(day),
                .placed = rw_i32_sat(iv[0]), .placed_sum = iv[1],
                .cancelled = rw_i32_sat(iv[2]), .refunded = rw_i32_sat(iv[3]),
                .refunded_sum = iv[4], .tickets = rw_i32_sat(iv[5]),
                .tickets_hot = rw_i32_sat(iv[6]), .csat_sum = v[7],
                .csat_n = rw_i32_sat(iv[8]), .sentiment_sum = v[9],
                .sentiment_n = rw_i32_sat(iv[10]) };
}

/* A sum as "%.14g" prints it: integral values below 1e14 (CSAT sums are)
 * as integers, without printf; anything else through snprintf. */
static size_t rw_sum_str(char *dst, size_t size, double v) {
        if (v > -1e14 && v < 1e14 && v == (double)(int64_t)v && !(v == 0 && signbit(v)))
                return rw_i64_str(dst, (int64_t)v);
        return (size_t)snprintf(dst, size, "%.14g", v);
}

void rw_bucket_format(const rw_day_bucket_t *b, char *buf, size_t size) {
        const int64_t ints[] = { b->placed, b->placed_sum, b->cancelled, b->refunded,
                                 b->refunded_sum, b->tickets, b->tickets_hot };
        char tmp[160];
        size_t n = 0, keep = 0;

        /* placed,placed_sum,cancelled,refunded,refunded_sum,tickets,
         * tickets_hot,csat_sum,csat_n,sentiment_sum,sentiment_n; a zero is
         * an empty field, and trailing empty fields are left out: an order
         * day is "1,2500", a survey day ",,,,,,,4,1". */
        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
                if (ints[i]) {
                        n += rw_i64_str(tmp + n, ints[i]);
                        keep = n;
                }
                tmp[n++] = ',';
        }
        if (b->csat_sum != 0 || signbit(b->csat_sum)) {
                n += rw_sum_str(tmp + n, 32, b->csat_sum);
                keep = n;
        }
        tmp[n++] = ',';
        if (b->csat_n) {
                n += rw_i64_str(tmp + n, b->csat_n);
                keep = n;
        }
        tmp[n++] = ',';
        if (b->sentiment_sum != 0 || signbit(b->sentiment_sum)) {
                n += rw_sum_str(tmp + n, 32, b->sentiment_sum);
                keep = n;
        }
        tmp[n++] = ',';
        if (b->sentiment_n) {
                n += rw_i64_str(tmp + n, b->sentiment_n);
                keep = n;
        }
        n = keep;
        if (n >= size)
                n = size - 1;
        memcpy(buf, tmp, n);
        buf[n] = '\0';
}

static rw_day_bucket_t *rw_account_bucket(rw_account_view_t *av, int64_t day) {
        /* A day after the latest event's has no bucket yet (every bucket's
         * day is at most maxday: the event that adds a day moves maxday on,
         * and the two are stored and read together). Otherwise from the
         * latest: days are added as event time moves on, so an event's day
         * is mostly the last one (each is a cache line). */
        if (av->maxday < 0 || day <= av->maxday) {
                for (size_t i = av->bucket_cnt; i-- > 0;)
                        if (av->buckets[i].day == day) {
                                av->bucket_dirty[i] = 1;
                                return &av->buckets[i];
                        }
        }
        if (av->bucket_cnt == av->bucket_size) {
                /* Two arrays of one capacity, grown by 8 (a day at a time:
                 * doubling left a third of the cache's bucket memory
                 * unused). */
                size_t n = av->bucket_size + 8;
                rw_day_bucket_t *nb = realloc(av->buckets, n * sizeof(*nb));
                unsigned char *nd;
                if (!nb)
                        return NULL;
                av->buckets = nb;
                if (!(nd = realloc(av->bucket_dirty, n)))
                        return NULL;
                av->bucket_dirty = nd;
                av->bucket_size = n;
        }
        av->buckets[av->bucket_cnt] = (rw_day_bucket_t){ .day = rw_i32_sat(day) };
        av->bucket_dirty[av->bucket_cnt] = 1;
        return &av->buckets[av->bucket_cnt++];
}

/* A new latest day: drop the buckets that leave the window. */
static int rw_account_advance(rw_account_view_t *av, int64_t day,
                              const rw_account_limits_t *lim) {
        size_t keep = 0;

        if (day <= av->maxday)
                return 0;
        av->maxday = day;
        av->meta_dirty = 1;
        for (size_t i = 0; i < av->bucket_cnt; i++) {
                if (av->buckets[i].day > day - lim->window_days) {
                        if (keep != i) {        /* no 64-byte copy onto itself */
                                av->buckets[keep] = av->buckets[i];
                                av->bucket_dirty[keep] = av->bucket_dirty[i];
                        }
                        keep++;
                        continue;
                }
                if (rw_grow(&av->gone, &av->gone_size, av->gone_cnt + 1, sizeof(*av->gone), 8))
                        return -1;
                av->gone[av->gone_cnt++] = av->buckets[i].day;
        }
        av->bucket_cnt = keep;
        return 0;
}

int rw_account_apply(rw_account_view_t *av, const rw_state_event_t *ev,
                     const rw_account_limits_t *lim) {
        uint64_t h1, h2;

        rw_event_id_hash(ev->event_id, &h1, &h2);
        return rw_account_apply_hashed(av, ev, h1, h2, lim);
}

int rw_account_apply_hashed(rw_account_view_t *av, const rw_state_event_t *ev,
                            uint64_t h1, uint64_t h2, const rw_account_limits_t *lim) {
        int64_t day = ev->occurred_at / RW_DAY_MS;
        rw_day_bucket_t scratch, *b = &scratch;

        if (av->maxday >= 0 && day <= av->maxday - lim->window_days)
                memset(&scratch, 0, sizeof(scratch));   /* behind the window */
        else if (!(b = rw_account_bucket(av, day)))
                return -1;
        switch (ev->kind) {
        case 'P':
                rw_bucket_count(&b->placed);
                b->placed_sum += ev->amount;
                if (++av->orders_total == 1 || ev->occurred_at < av->first_order)
                        av->first_order = ev->occurred_at;
                if (av->orders_total == 1 || ev->occurred_at > av->last_order)
                        av->last_order = ev->occurred_at;
                av->meta_dirty = 1;
                break;
        case 'C':
                rw_bucket_count(&b->cancelled);
                break;
        case 'R':
                rw_bucket_count(&b->refunded);
                b->refunded_sum += ev->amount;
                break;
        default:
                if (ev->kind == 'O' || ev->kind == 'X')
                        rw_bucket_count(&b->tickets);
                if (ev->kind == 'E' || ev->amount == 3)
                        rw_bucket_count(&b->tickets_hot);
                if (ev->has_csat) {
                        b->csat_sum += ev->csat;
                        rw_bucket_count(&b->csat_n);
                }
                if (ev->has_sentiment) {
                        b->sentiment_sum += ev->sentiment;
                        rw_bucket_count(&b->sentiment_n);
                }
                break;
        }
        if (ev->offset > av->last_offset) {
                av->last_offset = ev->offset;
                av->meta_dirty = 1;
        }
        if (ev->occurred_at > av->last_at) {
                av->last_at = ev->occurred_at;
                av->meta_dirty = 1;
        }
        if (rw_account_advance(av, day, lim))
                return -1;
        return rw_account_remember(av, h1, h2, ev->occurred_at, lim);
}

static uint64_t rw_le64_get(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static void rw_le64_put(unsigned char *p, uint64_t v) {
        for (int i = 0; i < 8; i++, v >>= 8)
                p[i] = (unsigned char)v;
}

int rw_account_ids_load(rw_account_view_t *av, const void *str, size_t len, const void *tail,
                        size_t tail_len) {
        size_t n = len / RW_SEEN_ID_SIZE, t = tail_len / RW_SEEN_ID_SIZE;

        if (len % RW_SEEN_ID_SIZE || tail_len % RW_SEEN_ID_SIZE)
                return -1;
        free(av->ids);
        av->ids = NULL;
        av->id_cnt = av->id_size = 0;
        av->ids_stored = n + t;
        av->ids_tail = t;
        av->ids_fresh = 0;
        av->ids_rewrite = 0;
        if (!n && !t)
                return 0;
        if (!(av->ids = malloc((n + t) * sizeof(*av->ids))))
                return -1;
        for (size_t i = 0; i < n + t; i++) {
                const unsigned char *p = i < n ? (const unsigned char *)str + i * RW_SEEN_ID_SIZE :
                                         (const unsigned char *)tail + (i - n) * RW_SEEN_ID_SIZE;
                av->ids[i].h1 = rw_le64_get(p);
                av->ids[i].h2 = rw_le64_get(p + 8);
                av->ids[i].at = (int64_t)rw_le64_get(p + 16);
        }
        av->id_cnt = av->id_size = n + t;
        return 0;
}

static int rw_seen_id_eq(const rw_seen_id_t *a, const rw_seen_id_t *b) {
        return a->h1 == b->h1 && a->h2 == b->h2 && a->at == b->at;
}

void rw_account_ids_settle(rw_account_view_t *av, const rw_account_limits_t *lim) {
        size_t n = av->id_cnt, t = av->ids_tail;
        rw_seen_id_t tail[RW_IDS_TAIL_MAX];
        int intact = 1;

        if (!lim->dedup_ms || !lim->dedup_max)
                return;
        if (t > RW_IDS_TAIL_MAX || t > n)
                intact = 0;
        else if (t)
                memcpy(tail, av->ids + n - t, t * sizeof(*tail));
        /* In place: the kept ones stay a prefix no longer than what was read. */
        av->id_cnt = 0;
        for (size_t i = 0; i < n; i++) {
                rw_seen_id_t id = av->ids[i];
                av->ids[av->id_cnt++] = id;
                (void)rw_ids_trim(av, lim, av->id_cnt);
        }
        /* The tail is stored again by the next write that keeps it: it must
         * be the last of the ids kept. */
        if (intact && t)
                for (size_t i = 0; i < t; i++)
                        if (av->id_cnt < t ||
                            !rw_seen_id_eq(&av->ids[av->id_cnt - t + i], &tail[i]))
                                intact = 0;
        if (!intact)
                av->ids_rewrite = 1;
}

rw_ids_mode_t rw_account_ids_mode(const rw_account_view_t *av) {
        /* The stored form (string and tail) stays within half as much
         * again as what is kept (and two): a rewrite every so many ids
         * rather than at every write. */
        int grow = av->id_cnt && !av->ids_rewrite &&
                   av->ids_fresh + av->ids_tail <= av->id_cnt &&
                   av->ids_stored + av->ids_fresh <= av->id_cnt + av->id_cnt / 2 + 2;

        if (!av->id_cnt)
                return RW_IDS_NONE;
        if (grow && av->ids_tail + av->ids_fresh <= RW_IDS_TAIL_MAX)
                return RW_IDS_TAIL;
        /* Appended, a command of its own (the writes gather whole lists
         * into one MSET): worth it once the list repeated would be 4 ids
         * (96 bytes) or more. */
        if (grow && av->id_cnt - av->ids_fresh >= 4)
                return RW_IDS_APPEND;
        return RW_IDS_WHOLE;
}

size_t rw_account_ids_from(const rw_account_view_t *av, rw_ids_mode_t m) {
        return m == RW_IDS_TAIL || m == RW_IDS_APPEND ?
               av->id_cnt - av->ids_fresh - av->ids_tail : 0;
}

void rw_account_ids_store(const rw_account_view_t *av, size_t from, unsigned char *buf) {
        for (size_t i = from; i < av->id_cnt; i++, buf += RW_SEEN_ID_SIZE) {
                rw_le64_put(buf, av->ids[i].h1);
                rw_le64_put(buf + 8, av->ids[i].h2);
                rw_le64_put(buf + 16, (uint64_t)av->ids[i].at);
        }
}

void rw_account_due_keep(rw_account_view_t *av, int64_t now) {
        av->due_keep = av->due > 0 && av->due_stored > now && av->due_stored < av->due &&
                       av->due - av->due_stored <= RW_DUE_KEEP_MS;
}

int rw_account_due_dirty(const rw_account_view_t *av) {
        return av->due != av->due_stored && !av->due_keep;
}

int rw_account_dirty(const rw_account_view_t *av) {
        if (av->meta_dirty || av->meta_legacy || av->gone_cnt || av->ids_dirty ||
            rw_account_due_dirty(av))
                return 1;
        for (size_t i = 0; i < av->bucket_cnt; i++)
                if (av->bucket_dirty[i])
                        return 1;
        for (int r = 0; r < RW_RULE__CNT; r++)
                if (av->fp_dirty[r])
                        return 1;
        return 0;
}

void rw_account_clean(rw_account_view_t *av) {
        if (av->bucket_cnt)
                memset(av->bucket_dirty, 0, av->bucket_cnt);
        memset(av->fp_dirty, 0, sizeof(av->fp_dirty));
        av->meta_dirty = 0;
        av->meta_legacy = 0;
        av->gone_cnt = 0;
        if (av->ids_dirty) {
                switch (rw_account_ids_mode(av)) {
                case RW_IDS_TAIL:
                        av->ids_stored += av->ids_fresh;
                        av->ids_tail += av->ids_fresh;
                        break;
                case RW_IDS_APPEND:
                        av->ids_stored += av->ids_fresh;
                        av->ids_tail = 0;
                        break;
                case RW_IDS_WHOLE:
                case RW_IDS_NONE:
                        av->ids_stored = av->id_cnt;
                        av->ids_tail = 0;
                        break;
                }
                /* Only a write of the ids ends a rewrite: one a read asked
                 * for (rw_account_ids_settle()) waits for the next id. */
                av->ids_rewrite = 0;
        }
        av->ids_dirty = 0;
        av->ids_fresh = 0;
        if (!av->due_keep)
                av->due_stored = av->due;
}

size_t rw_heap_block(size_t n) {
        size_t b = (n + 8 + 15) & ~(size_t)15;
        return !n ? 0 : b < 32 ? 32 : b;
}

size_t rw_account_footprint(const rw_account_view_t *av) {
        return sizeof(*av) + rw_heap_block(av->account ? strlen(av->account) + 1 : 0) +
               rw_heap_block(av->bucket_size * sizeof(*av->buckets)) +
               rw_heap_block(av->bucket_size) +
               rw_heap_block(av->gone_size * sizeof(*av->gone)) +
               rw_heap_block(av->id_size * sizeof(*av->ids));
}

void rw_account_view_clear(rw_account_view_t *av) {
        free(av->account);
        free(av->buckets);
        free(av->bucket_dirty);
        free(av->gone);
        free(av->ids);
        memset(av, 0, sizeof(*av));
        av->maxday = -1;
        av->last_offset = -1;
}
