/* test_account.c - the pure per-account arithmetic (state/account.c) and
 * the account cache (state/cache.c): buckets within the window, write
 * tracking, de-duplication by offset and by id, the packed form of an idle
 * view, bounded memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <cmocka.h>
#include "state/account.h"
#include "state/cache.h"

#define T0 1772344800000LL      /* 2026-03-01T06:00:00Z */

static const rw_account_limits_t LIM = { .window_days = 120, .dedup_ms = 7 * RW_DAY_MS,
                                         .dedup_max = 4 };

static rw_state_event_t order(const char *id, char kind, int64_t amount, int64_t at,
                              int64_t offset) {
        return (rw_state_event_t){ .kind = kind, .event_id = id, .account = "a",
                                   .vendor = "v", .amount = amount, .occurred_at = at,
                                   .offset = offset };
}

static const rw_day_bucket_t *bucket(const rw_account_view_t *av, int64_t day) {
        for (size_t i = 0; i < av->bucket_cnt; i++)
                if (av->buckets[i].day == day)
                        return &av->buckets[i];
        return NULL;
}

/* A new latest day drops the buckets leaving the window, and records them
 * as gone; an event behind the window counts in the meta only. */
static void test_window(void **state) {
        rw_account_view_t av;
        rw_state_event_t ev;
        int64_t d0 = T0 / RW_DAY_MS;
        (void)state;

        assert_int_equal(rw_account_init(&av, "a"), 0);
        ev = order("e1", 'P', 100, T0, 0);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        ev = order("e2", 'P', 50, T0 + 10 * RW_DAY_MS, 1);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        assert_int_equal(av.bucket_cnt, 2);
        assert_true(rw_account_dirty(&av));
        rw_account_clean(&av);
        assert_false(rw_account_dirty(&av));

        /* Day d0 + 120 moves the window past d0 (kept: d0+1 .. d0+120). */
        ev = order("e3", 'R', 30, T0 + 120 * RW_DAY_MS, 2);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        assert_null(bucket(&av, d0));
        assert_non_null(bucket(&av, d0 + 10));
        assert_int_equal(av.gone_cnt, 1);
        assert_int_equal(av.gone[0], d0);
        assert_int_equal(av.maxday, d0 + 120);

        /* Behind the window: no bucket, but the order meta counts it. */
        ev = order("e4", 'P', 70, T0 - 5 * RW_DAY_MS, 3);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        assert_null(bucket(&av, d0 - 5));
        assert_int_equal(av.orders_total, 3);
        assert_int_equal(av.first_order, T0 - 5 * RW_DAY_MS);
        assert_int_equal(bucket(&av, d0 + 120)->refunded_sum, 30);
        rw_account_view_clear(&av);
}

/* Re-deliveries: an offset not past the account's last one, or a
 * remembered id; ids are kept within the horizon and at most dedup_max. */
static void test_dedup(void **state) {
        rw_account_view_t av;
        rw_state_event_t ev;
        char id[16];
        (void)state;

        assert_int_equal(rw_account_init(&av, "a"), 0);
        for (int i = 0; i < 6; i++) {
                snprintf(id, sizeof(id), "id-%d", i);
                ev = order(id, 'P', 1, T0 + i * 1000, 10 + i);
                assert_false(rw_account_seen(&av, id, 10 + i));
                assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        }
        assert_int_equal(av.last_offset, 15);
        assert_true(rw_account_seen(&av, "anything", 15));     /* consumed again */
        assert_true(rw_account_seen(&av, "id-5", 99));          /* sent twice */
        assert_true(rw_account_seen(&av, "id-2", 99));
        assert_false(rw_account_seen(&av, "id-1", 99));         /* beyond dedup_max */
        assert_int_equal(av.id_cnt, 4);
        /* An event 8 days later: the older ids leave the horizon. */
        ev = order("late", 'P', 1, T0 + 8 * RW_DAY_MS, 20);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        assert_int_equal(av.id_cnt, 1);
        assert_false(rw_account_seen(&av, "id-5", 99));
        assert_true(rw_account_seen(&av, "late", 99));
        /* Prefixes and near misses are different ids. */
        assert_false(rw_account_seen(&av, "lat", 99));
        assert_false(rw_account_seen(&av, "late ", 99));

        /* The stored form round-trips. */
        {
                unsigned char buf[4 * RW_SEEN_ID_SIZE];
                rw_account_view_t back;
                assert_int_equal(rw_account_init(&back, "a"), 0);
                rw_account_ids_store(&av, 0, buf);
                assert_int_equal(rw_account_ids_load(&back, buf, av.id_cnt * RW_SEEN_ID_SIZE, NULL, 0),
                                 0);
                assert_int_equal(back.id_cnt, av.id_cnt);
                assert_memory_equal(back.ids, av.ids, av.id_cnt * sizeof(*av.ids));
                assert_int_equal(rw_account_ids_load(&back, buf, 5, NULL, 0), -1);  /* malformed */
                assert_int_equal(rw_account_ids_load(&back, buf, 24, buf, 7), -1);
                /* The string and the hash's tail read as one. */
                assert_int_equal(rw_account_ids_load(&back, buf, RW_SEEN_ID_SIZE,
                                                     buf + RW_SEEN_ID_SIZE,
                                                     (av.id_cnt - 1) * RW_SEEN_ID_SIZE),
                                 0);
                assert_int_equal(back.id_cnt, av.id_cnt);
                assert_int_equal(back.ids_tail, av.id_cnt - 1);
                assert_memory_equal(back.ids, av.ids, av.id_cnt * sizeof(*av.ids));
                rw_account_view_clear(&back);
        }
        rw_account_view_clear(&av);
}

/* The stored ids go to the account hash's tail at most writes, are
 * appended to the string at others and written whole now and then;
 * whatever the writes, a view loaded from what they left (and settled)
 * holds the ids the writing view held, and the stored form stays within
 * half as much again as what is kept, its tail within RW_IDS_TAIL_MAX. A
 * stream of events with times out of order (some beyond the horizon on
 * arrival), more than dedup_max of them, cut into writes of random sizes:
 * the stored form as the write path builds it, reloaded after every write. */
static void test_ids_append(void **state) {
        static const rw_account_limits_t lim = { .window_days = 120,
                                                 .dedup_ms = 7 * RW_DAY_MS, .dedup_max = 8 };
        unsigned char *stored = NULL, tail[RW_IDS_TAIL_MAX * RW_SEEN_ID_SIZE];
        size_t stored_len = 0, tail_len = 0, n[4] = { 0 };
        rw_account_view_t av;
        uint32_t rnd = 12345;
        char id[32];
        (void)state;

        assert_int_equal(rw_account_init(&av, "a"), 0);
        for (int i = 0, left = 0; i < 4000; i++) {
                rw_state_event_t ev;
                int64_t at;

                rnd = rnd * 1103515245u + 12345u;
                /* Mostly forward in time, sometimes days back (some beyond
                 * the horizon), now and then a jump ahead. */
                at = T0 + (int64_t)i * 3600 * 1000 -
                     ((rnd >> 8) % 10 == 0 ? (int64_t)((rnd >> 12) % 10) * RW_DAY_MS : 0) +
                     ((rnd >> 8) % 97 == 0 ? 2 * RW_DAY_MS : 0);
                snprintf(id, sizeof(id), "ev-%d", i);
                ev = order(id, 'P', 1, at, 100 + i);
                assert_int_equal(rw_account_apply(&av, &ev, &lim), 0);
                if (left-- > 0)
                        continue;
                /* The next write's size: mostly a few events, now and then
                 * more than dedup_max. */
                left = (rnd >> 16) % 10 ? (int)((rnd >> 20) % 4) : 12;

                /* The write, as state.c builds it, then the view cleaned. */
                if (av.ids_dirty) {
                        rw_ids_mode_t m = rw_account_ids_mode(&av);
                        size_t from = rw_account_ids_from(&av, m);
                        size_t add = (av.id_cnt - from) * RW_SEEN_ID_SIZE;
                        n[m]++;
                        if (m == RW_IDS_TAIL) {
                                assert_true(add <= sizeof(tail));
                                rw_account_ids_store(&av, from, tail);
                                tail_len = add;
                        } else {
                                unsigned char *p;
                                if (m != RW_IDS_APPEND)
                                        stored_len = 0;
                                p = realloc(stored, stored_len + add + 1);
                                assert_non_null(p);
                                stored = p;
                                rw_account_ids_store(&av, from, stored + stored_len);
                                stored_len += add;
                                tail_len = 0;
                        }
                }
                rw_account_clean(&av);
                assert_int_equal(av.ids_stored * RW_SEEN_ID_SIZE, stored_len + tail_len);
                assert_int_equal(av.ids_tail * RW_SEEN_ID_SIZE, tail_len);
                assert_true(av.ids_stored <= av.id_cnt + av.id_cnt / 2 + 2);

                /* Loaded back: the same ids, the same stored form. */
                {
                        rw_account_view_t back;
                        assert_int_equal(rw_account_init(&back, "a"), 0);
                        assert_int_equal(rw_account_ids_load(&back, stored, stored_len, tail,
                                                             tail_len), 0);
                        rw_account_ids_settle(&back, &lim);
                        assert_int_equal(back.id_cnt, av.id_cnt);
                        assert_memory_equal(back.ids, av.ids, av.id_cnt * sizeof(*av.ids));
                        assert_int_equal(back.ids_stored, av.ids_stored);
                        assert_int_equal(back.ids_tail, av.ids_tail);
                        assert_false(back.ids_rewrite);
                        rw_account_view_clear(&back);
                }
        }
        print_message("%zu to the tail, %zu appends, %zu rewrites\n", n[RW_IDS_TAIL],
                      n[RW_IDS_APPEND], n[RW_IDS_WHOLE]);
        /* Every kind of write happened, many times. */
        assert_true(n[RW_IDS_TAIL] > 100);
        assert_true(n[RW_IDS_APPEND] > 100);
        assert_true(n[RW_IDS_WHOLE] > 100);
        free(stored);
        rw_account_view_clear(&av);
}

/* A tail the retention rule drops from when read (the ids read with a
 * lower dedup.max.ids than they were written with) is not stored again
 * as a tail: the next write of the ids rewrites them whole, also after the
 * view was packed in between. */
static void test_ids_tail_lost(void **state) {
        static const rw_account_limits_t wide = { .window_days = 120,
                                                  .dedup_ms = 7 * RW_DAY_MS, .dedup_max = 8 },
                                         narrow = { .window_days = 120,
                                                    .dedup_ms = 7 * RW_DAY_MS, .dedup_max = 1 };
        unsigned char str[8 * RW_SEEN_ID_SIZE], tail[RW_IDS_TAIL_MAX * RW_SEEN_ID_SIZE];
        rw_account_view_t av, back, un;
        rw_state_event_t ev;
        unsigned char *buf;
        size_t len, from;
        (void)state;

        assert_int_equal(rw_account_init(&av, "a"), 0);
        for (int i = 0; i < 6; i++) {
                char id[16];
                snprintf(id, sizeof(id), "e%d", i);
                ev = order(id, 'P', 1, T0 + i * 1000, i);
                assert_int_equal(rw_account_apply(&av, &ev, &wide), 0);
        }
        assert_int_equal(rw_account_ids_mode(&av), RW_IDS_WHOLE);
        rw_account_ids_store(&av, 0, str);
        rw_account_clean(&av);
        ev = order("e6", 'P', 1, T0 + 6000, 6);
        assert_int_equal(rw_account_apply(&av, &ev, &wide), 0);
        ev = order("e7", 'P', 1, T0 + 7000, 7);
        assert_int_equal(rw_account_apply(&av, &ev, &wide), 0);
        assert_int_equal(rw_account_ids_mode(&av), RW_IDS_TAIL);
        from = rw_account_ids_from(&av, RW_IDS_TAIL);
        assert_int_equal(av.id_cnt - from, 2);
        rw_account_ids_store(&av, from, tail);
        rw_account_clean(&av);
        assert_int_equal(av.ids_tail, 2);

        /* Read with one id kept: e6 of the tail is dropped. */
        assert_int_equal(rw_account_init(&back, "a"), 0);
        assert_int_equal(rw_account_ids_load(&back, str, 6 * RW_SEEN_ID_SIZE, tail,
                                             2 * RW_SEEN_ID_SIZE), 0);
        rw_account_ids_settle(&back, &narrow);
        assert_int_equal(back.id_cnt, 1);
        assert_true(back.ids_rewrite);
        /* Packed (clean) and unpacked: still to be rewritten. */
        assert_int_equal(rw_account_pack(&back, &buf, &len), 0);
        assert_int_equal(rw_account_unpack(buf, len, &un), 0);
        free(buf);
        assert_true(un.ids_rewrite);
        assert_int_equal(un.ids_tail, 2);
        ev = order("e8", 'P', 1, T0 + 8000, 8);
        assert_int_equal(rw_account_apply(&un, &ev, &narrow), 0);
        assert_int_equal(rw_account_ids_mode(&un), RW_IDS_WHOLE);
        rw_account_clean(&un);
        assert_int_equal(un.ids_tail, 0);
        assert_int_equal(un.ids_stored, 1);
        assert_false(un.ids_rewrite);

        /* Read with the settings it was written with: the tail goes on. */
        rw_account_view_clear(&back);
        assert_int_equal(rw_account_init(&back, "a"), 0);
        assert_int_equal(rw_account_ids_load(&back, str, 6 * RW_SEEN_ID_SIZE, tail,
                                             2 * RW_SEEN_ID_SIZE), 0);
        rw_account_ids_settle(&back, &wide);
        assert_false(back.ids_rewrite);
        assert_int_equal(rw_account_apply(&back, &ev, &wide), 0);
        assert_int_equal(rw_account_ids_mode(&back), RW_IDS_APPEND);    /* tail full */
        assert_int_equal(rw_account_ids_from(&back, RW_IDS_APPEND), back.id_cnt - 3);
        rw_account_view_clear(&back);
        rw_account_view_clear(&un);
        rw_account_view_clear(&av);

        /* The writer's own rule dropping the tail: four ids written whole
         * (day 5), one that arrived late with day 1's time in the tail,
         * then one of day 9, beyond whose horizon the tail's id falls. The
         * tail is not sent again (it would repeat the string's last id):
         * the ids are rewritten whole. */
        assert_int_equal(rw_account_init(&av, "b"), 0);
        for (int i = 0; i < 4; i++) {
                char id[16];
                snprintf(id, sizeof(id), "a%d", i);
                ev = order(id, 'P', 1, T0 + 5 * RW_DAY_MS + i, i);
                assert_int_equal(rw_account_apply(&av, &ev, &wide), 0);
        }
        assert_int_equal(rw_account_ids_mode(&av), RW_IDS_WHOLE);
        rw_account_clean(&av);
        ev = order("late", 'P', 1, T0 + RW_DAY_MS, 4);
        assert_int_equal(rw_account_apply(&av, &ev, &wide), 0);
        assert_int_equal(rw_account_ids_mode(&av), RW_IDS_TAIL);
        rw_account_clean(&av);
        ev = order("c", 'P', 1, T0 + 9 * RW_DAY_MS, 5);
        assert_int_equal(rw_account_apply(&av, &ev, &wide), 0);
        assert_int_equal(av.id_cnt, 5);
        assert_int_equal(rw_account_ids_mode(&av), RW_IDS_WHOLE);
        rw_account_view_clear(&av);
}

/* A bucket's stored form round-trips, amounts beyond 2^53 exactly. */
static void test_bucket_format(void **state) {
        rw_day_bucket_t b = { .day = 7, .placed = 3, .placed_sum = 9007199254740993LL,
                              .refunded = 1, .refunded_sum = 5, .tickets = 2,
                              .csat_sum = 7, .csat_n = 3, .sentiment_sum = -0.375,
                              .sentiment_n = 2 }, back;
        char csv[256];
        (void)state;

        rw_bucket_format(&b, csv, sizeof(csv));
        rw_bucket_parse(7, csv, &back);
        assert_memory_equal(&b, &back, sizeof(b));

        /* Compact: zeros empty, trailing ones left out. */
        b = (rw_day_bucket_t){ .day = 7, .placed = 1, .placed_sum = 2500 };
        rw_bucket_format(&b, csv, sizeof(csv));
        assert_string_equal(csv, "1,2500");
        rw_bucket_parse(7, csv, &back);
        assert_memory_equal(&b, &back, sizeof(b));
        b = (rw_day_bucket_t){ .day = 7, .csat_sum = 4, .csat_n = 1 };
        rw_bucket_format(&b, csv, sizeof(csv));
        assert_string_equal(csv, ",,,,,,,4,1");
        rw_bucket_parse(7, csv, &back);
        assert_memory_equal(&b, &back, sizeof(b));
        b = (rw_day_bucket_t){ .day = 7, .cancelled = 2, .sentiment_sum = -0.5,
                               .sentiment_n = 1 };
        rw_bucket_format(&b, csv, sizeof(csv));
        assert_string_equal(csv, ",,2,,,,,,,-0.5,1");
        rw_bucket_parse(7, csv, &back);
        assert_memory_equal(&b, &back, sizeof(b));
        /* The earlier form, every field written, still reads the same. */
        rw_bucket_parse(7, "0,0,2,0,0,0,0,0,0,-0.5,1", &back);
        assert_memory_equal(&b, &back, sizeof(b));
}

/* A bucket's counts are 32 bits: a stored count beyond that reads as the
 * largest, and counting past the largest stays there (the amounts, 64
 * bits, go on adding). */
static void test_bucket_saturates(void **state) {
        rw_day_bucket_t back;
        rw_account_view_t av;
        rw_state_event_t ev;
        (void)state;

        rw_bucket_parse(7, "4294967296,10,-4294967296,,,2147483647", &back);
        assert_int_equal(back.placed, INT32_MAX);
        assert_int_equal(back.placed_sum, 10);
        assert_int_equal(back.cancelled, INT32_MIN);
        assert_int_equal(back.tickets, INT32_MAX);

        assert_int_equal(rw_account_init(&av, "a"), 0);
        ev = order("e1", 'P', 100, T0, 0);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        av.buckets[0].placed = INT32_MAX;
        ev = order("e2", 'P', 50, T0 + 1000, 1);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        assert_int_equal(av.bucket_cnt, 1);
        assert_int_equal(av.buckets[0].placed, INT32_MAX);
        assert_int_equal(av.buckets[0].placed_sum, 150);
        assert_int_equal(av.orders_total, 2);
        rw_account_view_clear(&av);
}

static void put(rw_cache_t *c, int tag, const char *name, int days) {
        rw_account_view_t av;
        assert_int_equal(rw_account_init(&av, name), 0);
        for (int d = 0; d < days; d++) {
                rw_state_event_t ev = order("x", 'P', 1, T0 + d * RW_DAY_MS, d);
                assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        }
        assert_non_null(rw_cache_put(c, tag, &av));
}

/* Bounded in bytes, least recently used evicted; tags kept apart. */
static void test_cache(void **state) {
        rw_cache_t *c = rw_cache_new(12 * 1024);
        rw_cache_stats_t st;
        char name[16];
        (void)state;

        assert_non_null(c);
        put(c, 0, "a1", 10);
        /* It counts what the allocator holds for the view, not less. */
        {
                const rw_account_view_t *v = rw_cache_get(c, 0, "a1");
                rw_cache_stats(c, &st);
                assert_true(st.bytes >= sizeof(*v) + malloc_usable_size(v->account) +
                                        malloc_usable_size(v->buckets) +
                                        malloc_usable_size(v->bucket_dirty) +
                                        malloc_usable_size(v->gone) +
                                        malloc_usable_size(v->ids) + 6 * 8);
        }
        put(c, 1, "a1", 20);
        assert_non_null(rw_cache_get(c, 0, "a1"));
        assert_int_equal(rw_cache_get(c, 1, "a1")->bucket_cnt, 20);
        assert_null(rw_cache_get(c, 2, "a1"));
        /* Many more than fit: the oldest go, the recently used stay. */
        for (int i = 0; i < 200; i++) {
                snprintf(name, sizeof(name), "b%d", i);
                put(c, 0, name, 3);
                assert_non_null(rw_cache_get(c, 1, "a1"));      /* kept in use */
                rw_cache_trim(c);
        }
        rw_cache_trim(c);       /* nothing used since: within the bound */
        rw_cache_stats(c, &st);
        assert_true(st.bytes <= 12 * 1024);
        assert_true(st.evictions > 0);
        assert_non_null(rw_cache_get(c, 1, "a1"));
        assert_null(rw_cache_get(c, 0, "b0"));
        assert_non_null(rw_cache_get(c, 0, "b199"));
        /* Evictions per tag: all of tag 0, none of tag 1 (kept in use). */
        assert_int_equal(rw_cache_evicted(c, 0), st.evictions);
        assert_int_equal(rw_cache_evicted(c, 1), 0);
        assert_int_equal(rw_cache_evicted(c, 7), 0);
        /* A revoked partition's views go, the others stay; a drop is not
         * an eviction. */
        rw_cache_drop_tag(c, 1);
        assert_null(rw_cache_get(c, 1, "a1"));
        assert_non_null(rw_cache_get(c, 0, "b199"));
        assert_int_equal(rw_cache_evicted(c, 1), 0);
        /* Size 0: a view used since the last trim survives it (its batch
         * may not be stored yet), and is gone after the next one. */
        rw_cache_destroy(c);
        c = rw_cache_new(0);
        put(c, 0, "z", 1);
        rw_cache_trim(c);
        rw_cache_trim(c);
        assert_null(rw_cache_get(c, 0, "z"));
        put(c, 0, "y", 1);
        rw_cache_trim(c);
        assert_non_null(rw_cache_get(c, 0, "y"));
        rw_cache_trim(c);       /* used again: kept once more */
        rw_cache_trim(c);
        assert_null(rw_cache_get(c, 0, "y"));
        rw_cache_destroy(c);
}

/* Every field a clean view carries, compared (the dirty marks are all 0 in
 * both; capacities may differ). */
static void assert_same_view(const rw_account_view_t *a, const rw_account_view_t *b) {
        assert_string_equal(a->account, b->account);
        assert_int_equal(a->bucket_cnt, b->bucket_cnt);
        for (size_t i = 0; i < a->bucket_cnt; i++)
                assert_memory_equal(&a->buckets[i], &b->buckets[i], sizeof(a->buckets[i]));
        assert_int_equal(a->orders_total, b->orders_total);
        assert_int_equal(a->first_order, b->first_order);
        assert_int_equal(a->last_order, b->last_order);
        assert_int_equal(a->maxday, b->maxday);
        assert_int_equal(a->last_at, b->last_at);
        assert_int_equal(a->last_offset, b->last_offset);
        assert_memory_equal(a->fp, b->fp, sizeof(a->fp));
        assert_int_equal(a->due, b->due);
        assert_int_equal(a->due_stored, b->due_stored);
        assert_int_equal(a->due_keep, b->due_keep);
        assert_int_equal(a->id_cnt, b->id_cnt);
        if (a->id_cnt)
                assert_memory_equal(a->ids, b->ids, a->id_cnt * sizeof(*a->ids));
        assert_int_equal(a->ids_stored, b->ids_stored);
        assert_int_equal(a->ids_tail, b->ids_tail);
        assert_int_equal(a->ids_rewrite, b->ids_rewrite);
        assert_int_equal(a->meta_legacy, b->meta_legacy);
        assert_int_equal(rw_account_dirty(a), rw_account_dirty(b));
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state;
}

/* A value that is 0 half of the time, else small, large or extreme. */
static int64_t rnd_i64(void) {
        switch (rnd() % 8) {
        case 0: return INT64_MAX;
        case 1: return INT64_MIN;
        case 2: return -(int64_t)(rnd() % 1000);
        case 3: return (int64_t)(rnd() >> 1);
        default: return rnd() % 2 ? 0 : (int64_t)(rnd() % 100000);
        }
}

static int32_t rnd_i32(void) {
        int64_t v = rnd_i64();
        return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

static double rnd_double(void) {
        switch (rnd() % 5) {
        case 0: return -0.0;
        case 1: return 0.0;
        case 2: return 1e300;
        default: return (double)(int64_t)(rnd() % 20000) / 7.0 - 1000.0;
        }
}

/* A clean view with random content: any number of buckets (days in any
 * order and anywhere in 32 bits), lifecycle states, ids. */
static void rnd_view(rw_account_view_t *av, int n) {
        char name[32];
        snprintf(name, sizeof(name), "acct-%d-\xc3\xa9", n);
        assert_int_equal(rw_account_init(av, n % 7 ? name : ""), 0);
        av->bucket_cnt = av->bucket_size = rnd() % 40;
        if (av->bucket_cnt) {
                av->buckets = calloc(av->bucket_cnt, sizeof(*av->buckets));
                av->bucket_dirty = calloc(av->bucket_cnt, 1);
                assert_non_null(av->buckets);
                assert_non_null(av->bucket_dirty);
        }
        for (size_t i = 0; i < av->bucket_cnt; i++) {
                rw_day_bucket_t *b = &av->buckets[i];
                b->day = rnd() % 4 ? 20000 + (int32_t)(rnd() % 400) : rnd_i32();
                b->placed = rnd_i32();
                b->cancelled = rnd_i32();
                b->refunded = rnd_i32();
                b->tickets = rnd_i32();
                b->tickets_hot = rnd_i32();
                b->csat_n = rnd_i32();
                b->sentiment_n = rnd_i32();
                b->placed_sum = rnd_i64();
                b->refunded_sum = rnd_i64();
                b->csat_sum = rnd_double();
                b->sentiment_sum = rnd_double();
        }
        av->orders_total = rnd_i64();
        av->first_order = rnd_i64();
        av->last_order = rnd_i64();
        av->maxday = rnd() % 3 ? -1 : rnd_i64();
        av->last_at = rnd_i64();
        av->last_offset = rnd() % 3 ? -1 : rnd_i64();
        for (int r = 0; r < RW_RULE__CNT; r++)
                if (rnd() % 3 == 0)
                        av->fp[r] = (rw_fp_state_t){ .firing = (int)(rnd() % 2),
                                                     .severity = (rw_alert_severity_t)(rnd() % 2),
                                                     .resolved_at = rnd_i64() };
        av->due = av->due_stored = rnd_i64();
        if (rnd() % 3 == 0 && av->due > 0) {   /* an earlier stored one kept */
                av->due_stored = av->due - (int64_t)(rnd() % (uint64_t)av->due);
                av->due_keep = av->due_stored != av->due;
        }
        av->id_cnt = av->id_size = rnd() % 70;
        if (av->id_cnt)
                assert_non_null(av->ids = calloc(av->id_cnt, sizeof(*av->ids)));
        for (size_t i = 0; i < av->id_cnt; i++)
                av->ids[i] = (rw_seen_id_t){ .h1 = rnd(), .h2 = rnd(), .at = rnd_i64() };
        av->ids_stored = rnd() % 100;
        av->ids_tail = rnd() % (RW_IDS_TAIL_MAX + 1);
        av->ids_rewrite = (int)(rnd() % 2);
        assert_false(rw_account_dirty(av));
}

/* A clean view packs and unpacks to the same view, whatever it holds; a
 * view with something to write is not packed; a cut, padded or empty
 * packed form is refused, with nothing left allocated. */
static void test_pack(void **state) {
        (void)state;
        for (int n = 0; n < 2000; n++) {
                rw_account_view_t av, back;
                unsigned char *buf;
                size_t len;

                rnd_view(&av, n);
                assert_int_equal(rw_account_pack(&av, &buf, &len), 0);
                assert_string_equal((const char *)buf, av.account);   /* the name first */
                assert_int_equal(rw_account_unpack(buf, len, &back), 0);
                assert_same_view(&av, &back);
                rw_account_view_clear(&back);
                if (n % 50 == 0) {
                        unsigned char *pad = malloc(len + 1);
                        assert_non_null(pad);
                        for (size_t cut = 0; cut < len; cut++)
                                assert_int_equal(rw_account_unpack(buf, cut, &back), -1);
                        memcpy(pad, buf, len);
                        pad[len] = 0;
                        assert_int_equal(rw_account_unpack(pad, len + 1, &back), -1);
                        free(pad);
                }
                free(buf);
                av.meta_dirty = 1;
                assert_int_equal(rw_account_pack(&av, &buf, &len), -1);
                assert_null(buf);
                rw_account_view_clear(&av);
        }
}

/* The stored due time stays while it is ahead of the clock and not later
 * than the account's: no write for it, and it stays what was stored. */
static void test_due_keep(void **state) {
        static const struct { int64_t stored, due, now; int keep; } cases[] = {
                { 80, 100, 50, 1 },     /* earlier, still ahead: kept */
                { 100, 100, 50, 0 },    /* the same: nothing to keep */
                { 0, 100, 50, 0 },      /* none stored */
                { 80, 100, 80, 0 },     /* reached by the clock */
                { 120, 100, 50, 0 },    /* later than the account's */
                { 80, 0, 50, 0 },       /* none due any more: removed */
                { 1000, 1000 + RW_DUE_KEEP_MS, 50, 1 },     /* at the most */
                { 1000, 1001 + RW_DUE_KEEP_MS, 50, 0 },     /* too early */
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                rw_account_view_t av;
                assert_int_equal(rw_account_init(&av, "a"), 0);
                av.due_stored = cases[i].stored;
                av.due = cases[i].due;
                rw_account_due_keep(&av, cases[i].now);
                assert_int_equal(av.due_keep, cases[i].keep);
                assert_int_equal(rw_account_due_dirty(&av),
                                 !cases[i].keep && cases[i].stored != cases[i].due);
                assert_int_equal(rw_account_dirty(&av), rw_account_due_dirty(&av));
                rw_account_clean(&av);
                assert_int_equal(av.due_stored, cases[i].keep ? cases[i].stored : cases[i].due);
                assert_int_equal(rw_account_dirty(&av), 0);
                rw_account_view_clear(&av);
        }
}

/* An unpacked view goes on as the view it was: the same ids are duplicates,
 * a new event changes it alike, and a write appends the same ids. */
static void test_pack_resume(void **state) {
        rw_account_view_t av, back;
        rw_state_event_t ev;
        unsigned char *buf;
        size_t len;
        (void)state;

        assert_int_equal(rw_account_init(&av, "a"), 0);
        for (int i = 0; i < 6; i++) {
                char id[8];
                snprintf(id, sizeof(id), "e%d", i);
                ev = order(id, i % 3 ? 'P' : 'R', 100 + i, T0 + i * 3 * RW_DAY_MS, i);
                assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        }
        av.fp[1] = (rw_fp_state_t){ .firing = 1, .severity = RW_SEV_CRITICAL };
        av.due = T0 + 40 * RW_DAY_MS;
        rw_account_clean(&av);
        assert_int_equal(rw_account_pack(&av, &buf, &len), 0);
        assert_int_equal(rw_account_unpack(buf, len, &back), 0);
        free(buf);
        assert_true(len < rw_account_footprint(&av) / 4);
        assert_true(rw_account_seen(&back, "e5", 99));
        assert_false(rw_account_seen(&back, "e1", 99));         /* beyond dedup.max.ids */
        ev = order("e6", 'P', 7, T0 + 20 * RW_DAY_MS, 6);
        assert_int_equal(rw_account_apply(&av, &ev, &LIM), 0);
        assert_int_equal(rw_account_apply(&back, &ev, &LIM), 0);
        assert_int_equal(rw_account_ids_mode(&av), rw_account_ids_mode(&back));
        assert_int_equal(av.ids_tail, back.ids_tail);
        assert_int_equal(av.ids_fresh, back.ids_fresh);
        for (size_t i = 0; i < av.bucket_cnt; i++)
                assert_int_equal(av.bucket_dirty[i], back.bucket_dirty[i]);
        rw_account_clean(&av);
        rw_account_clean(&back);
        assert_same_view(&av, &back);
        rw_account_view_clear(&av);
        rw_account_view_clear(&back);
}

/* A copy of a clean view, into *out: what it should come back as. */
static void copy_view(const rw_account_view_t *v, rw_account_view_t *out) {
        unsigned char *buf;
        size_t len;
        assert_int_equal(rw_account_pack(v, &buf, &len), 0);
        assert_int_equal(rw_account_unpack(buf, len, out), 0);
        free(buf);
}

/* Over the bound, idle views are packed before any is evicted, and come
 * back whole, without a read; a view in use since the last trim is not
 * packed. */
static void test_cache_pack(void **state) {
        rw_account_view_t orig[64];
        rw_cache_t *c;
        rw_cache_stats_t st;
        size_t full = 0;
        char name[16];
        (void)state;

        /* The views' full size first, with no bound to speak of. */
        c = rw_cache_new((size_t)1 << 30);
        for (int i = 0; i < 64; i++) {
                snprintf(name, sizeof(name), "p%d", i);
                put(c, 0, name, 30);
                rw_account_clean(rw_cache_get(c, 0, name));
        }
        rw_cache_trim(c);
        rw_cache_stats(c, &st);
        full = st.bytes;
        assert_int_equal(st.packed, 0);
        rw_cache_destroy(c);

        /* A third of that holds them all, packed. */
        c = rw_cache_new(full / 3);
        for (int i = 0; i < 64; i++) {
                snprintf(name, sizeof(name), "p%d", i);
                put(c, 0, name, 30);
                rw_account_clean(rw_cache_get(c, 0, name));
                copy_view(rw_cache_get(c, 0, name), &orig[i]);
        }
        rw_cache_trim(c);       /* all in use since the last trim: kept */
        rw_cache_stats(c, &st);
        assert_int_equal(st.packed, 0);
        assert_int_equal(st.bytes, full);
        assert_non_null(rw_cache_get(c, 0, "p63"));
        rw_cache_trim(c);       /* p63 in use: kept as it is, the rest packed */
        rw_cache_stats(c, &st);
        assert_int_equal(st.evictions, 0);
        assert_int_equal(st.entries, 64);
        assert_true(st.packed > 0 && st.packed < 64);
        assert_true(st.bytes <= full / 3);
        for (int i = 0; i < 64; i++) {
                const rw_account_view_t *v;
                snprintf(name, sizeof(name), "p%d", i);
                assert_non_null(v = rw_cache_get(c, 0, name));
                assert_same_view(&orig[i], v);
                rw_account_view_clear(&orig[i]);
        }
        rw_cache_stats(c, &st);
        assert_int_equal(st.packed, 0);
        assert_true(st.unpacks > 0);
        assert_int_equal(st.misses, 0);
        rw_cache_destroy(c);
}

/* Two caches filled alike, over a bound that packs most views. */
static rw_cache_t *get_many_cache(size_t bound) {
        rw_cache_t *c = rw_cache_new(bound);
        char name[16];

        for (int i = 0; i < 48; i++) {
                snprintf(name, sizeof(name), "g%d", i);
                put(c, i % 3 == 2, name, 10 + i % 7);
                rw_account_clean(rw_cache_get(c, i % 3 == 2, name));
        }
        rw_cache_trim(c);
        rw_cache_trim(c);
        return c;
}

/* rw_cache_get_many() is rw_cache_get() name after name: the same views
 * (packed ones brought back), misses, least-recently-used order and
 * statistics, over more names than it looks ahead. */
static void test_cache_get_many(void **state) {
        rw_cache_t *one, *many;
        rw_cache_stats_t s1, s2;
        const char *names[64];
        char buf[64][16];
        rw_account_view_t *got[64];
        size_t n = 0, bound;
        (void)state;

        one = get_many_cache((size_t)1 << 30);
        rw_cache_stats(one, &s1);
        bound = s1.bytes / 3;
        rw_cache_destroy(one);
        one = get_many_cache(bound);
        many = get_many_cache(bound);
        rw_cache_stats(one, &s1);
        assert_true(s1.packed > 0);
        /* Tag 0 lookups: hits, packed ones, repeats, names of tag 1 only,
         * and names never put. */
        for (int i = 0; i < 30; i++)
                snprintf(buf[n++], sizeof(buf[0]), "g%d", (i * 7) % 48);
        for (int i = 0; i < 6; i++)
                snprintf(buf[n++], sizeof(buf[0]), "none%d", i);
        for (int i = 0; i < 8; i++)
                snprintf(buf[n++], sizeof(buf[0]), "g%d", i);
        for (size_t i = 0; i < n; i++)
                names[i] = buf[i];
        rw_cache_get_many(many, 0, names, n, got);
        for (size_t i = 0; i < n; i++) {
                const rw_account_view_t *v = rw_cache_get(one, 0, names[i]);
                if (!v) {
                        assert_null(got[i]);
                        continue;
                }
                assert_non_null(got[i]);
                assert_same_view(v, got[i]);
        }
        rw_cache_stats(one, &s1);
        rw_cache_stats(many, &s2);
        assert_true(s1.misses > 0 && s1.unpacks > 0);
        assert_memory_equal(&s1, &s2, sizeof(s1));
        /* The same order of use: the next trims pack and keep the same. */
        rw_cache_trim(one);
        rw_cache_trim(many);
        rw_cache_trim(one);
        rw_cache_trim(many);
        rw_cache_stats(one, &s1);
        rw_cache_stats(many, &s2);
        assert_memory_equal(&s1, &s2, sizeof(s1));
        rw_cache_get_many(many, 0, names, 0, got);      /* none: nothing read */
        rw_cache_destroy(one);
        rw_cache_destroy(many);
}

/* With the cache full, a packed view comes back in the blocks of the least
 * recently used view, which is packed in its place; never in those of a
 * view used in this trim period or the one before (a write in flight may
 * hold it). */
static void test_cache_exchange(void **state) {
        rw_account_view_t orig[64], held_copy;
        rw_account_view_t *held;
        int npacked;
        rw_cache_t *c;
        rw_cache_stats_t st;
        size_t full;
        char name[16];
        (void)state;

        c = rw_cache_new((size_t)1 << 30);
        for (int i = 0; i < 64; i++) {
                snprintf(name, sizeof(name), "x%d", i);
                put(c, 0, name, 5 + i % 20);
        }
        rw_cache_stats(c, &st);
        full = st.bytes;
        rw_cache_destroy(c);

        c = rw_cache_new(full * 3 / 4);
        for (int i = 0; i < 64; i++) {
                snprintf(name, sizeof(name), "x%d", i);
                put(c, 0, name, 5 + i % 20);
                rw_account_clean(rw_cache_get(c, 0, name));
                copy_view(rw_cache_get(c, 0, name), &orig[i]);
        }
        rw_cache_trim(c);       /* all used in this period: kept */
        rw_cache_trim(c);       /* now idle: packed until within the bound */
        rw_cache_stats(c, &st);
        /* The least recently used are packed, x0 on; the rest are views. */
        npacked = (int)st.packed;
        assert_true(npacked >= 4 && npacked < 60);
        /* The views are used, x63 first, then their period ends: as a
         * write in flight would, they keep their blocks, x63 (the least
         * recently used view now) too. */
        assert_non_null(held = rw_cache_get(c, 0, "x63"));
        held_copy = *held;
        for (int i = npacked; i < 63; i++) {
                snprintf(name, sizeof(name), "x%d", i);
                assert_non_null(rw_cache_get(c, 0, name));
        }
        rw_cache_stats(c, &st);
        assert_int_equal(st.packed, npacked);
        rw_cache_trim(c);
        for (int i = 0; i < npacked; i++) {
                const rw_account_view_t *v;
                snprintf(name, sizeof(name), "x%d", i);
                assert_non_null(v = rw_cache_get(c, 0, name));
                assert_true(v != held);
                assert_same_view(&orig[i], v);
        }
        assert_memory_equal(held, &held_copy, sizeof(*held));
        assert_same_view(&orig[63], held);
        /* Later periods, each using a sixth of them (a batch's accounts):
         * any idle view may lend its blocks; every view comes back as it
         * was, none is evicted. */
        for (int round = 0; round < 12; round++) {
                rw_cache_trim(c);
                for (int k = 0; k < 11; k++) {
                        const rw_account_view_t *v;
                        int i = (round * 23 + k * 5) % 64;
                        snprintf(name, sizeof(name), "x%d", i);
                        assert_non_null(v = rw_cache_get(c, 0, name));
                        assert_same_view(&orig[i], v);
                }
        }
        rw_cache_stats(c, &st);
        assert_int_equal(st.misses, 0);
        assert_int_equal(st.evictions, 0);
        assert_true(st.unpacks > npacked);
        assert_true(st.bytes <= full * 3 / 4 + full / 8);
        for (int i = 0; i < 64; i++)
                rw_account_view_clear(&orig[i]);
        rw_cache_destroy(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_window),
                cmocka_unit_test(test_dedup),
                cmocka_unit_test(test_ids_append),
                cmocka_unit_test(test_ids_tail_lost),
                cmocka_unit_test(test_bucket_format),
                cmocka_unit_test(test_bucket_saturates),
                cmocka_unit_test(test_cache),
                cmocka_unit_test(test_pack),
                cmocka_unit_test(test_due_keep),
                cmocka_unit_test(test_pack_resume),
                cmocka_unit_test(test_cache_pack),
                cmocka_unit_test(test_cache_get_many),
                cmocka_unit_test(test_cache_exchange),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
