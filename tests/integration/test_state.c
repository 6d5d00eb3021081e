/* test_state.c - the Redis state layer against a private redis-server:
 * fenced atomic batches, de-duplication, script reload, bounded memory, and
 * that the in-process replay (state/account.c) matches what Redis stores. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "common/conf.h"
#include "common/log.h"
#include "state/boundary_store.h"
#include "state/redis_child.h"
#include "state/state.h"

#define T0 1772344800000LL      /* 2026-03-01T06:00:00Z */

/* The processor's defaults: 120 days of buckets, ids of 7 days, 64 at most. */
static const rw_account_limits_t LIM = { .window_days = 120, .dedup_ms = 7 * RW_DAY_MS,
                                         .dedup_max = 64 };

typedef struct fx_s {
        rw_redis_child_t redis;
        rw_conf_t *conf;
        rw_state_t *st;
        redisContext *rc;
} fx_t;

static int fx_setup(void **state) {
        fx_t *fx = calloc(1, sizeof(*fx));
        char errstr[512];

        rw_log_set_level(RW_LOG_WARN);
        assert_int_equal(rw_redis_child_start(&fx->redis, errstr, sizeof(errstr)), RW_OK);
        fx->conf = rw_conf_new();
        assert_int_equal(rw_conf_set(fx->conf, "redis.url", fx->redis.url, "test",
                                     errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_set(fx->conf, "state.namespace", "ts", "test",
                                     errstr, sizeof(errstr)), RW_OK);
        fx->st = rw_state_new(fx->conf, errstr, sizeof(errstr));
        assert_non_null(fx->st);
        fx->rc = redisConnectUnix(fx->redis.sock);
        assert_int_equal(fx->rc->err, 0);
        *state = fx;
        return 0;
}

static int fx_teardown(void **state) {
        fx_t *fx = *state;
        redisFree(fx->rc);
        rw_state_destroy(fx->st);
        rw_conf_destroy(fx->conf);
        rw_redis_child_stop(&fx->redis);
        free(fx);
        return 0;
}

static rw_state_event_t ev_order(const char *id, const char *acct, char kind,
                                 int64_t amount, int64_t at) {
        return (rw_state_event_t){ .kind = kind, .event_id = id, .account = acct,
                                   .vendor = "v1", .amount = amount,
                                   .occurred_at = at };
}

static char *hget(fx_t *fx, const char *key, const char *field) {
        redisReply *r = redisCommand(fx->rc, "HGET %s %s", key, field);
        char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
        freeReplyObject(r);
        return v;
}

static long long llget(fx_t *fx, const char *fmt, ...) {
        va_list ap;
        redisReply *r;
        long long v;

        va_start(ap, fmt);
        r = redisvCommand(fx->rc, fmt, ap);
        va_end(ap);
        v = r->type == REDIS_REPLY_INTEGER ? r->integer :
            r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        freeReplyObject(r);
        return v;
}

/* A write whose expected offset is stale is rejected whole. */
/* The PLACED count of an orders account's hash (the fourth figure of its
 * field m), -1 when it has none. */
static long long placed(fx_t *fx, const char *key) {
        char *m = hget(fx, key, "m"), *p = m;
        long long v = -1;
        for (int i = 0; p && i < 3; i++)
                p = (p = strchr(p, ',')) ? p + 1 : NULL;
        if (p)
                v = strtoll(p, NULL, 10);
        free(m);
        return v;
}

static void test_fencing(void **state) {
        fx_t *fx = *state;
        rw_state_event_t evs[2] = { ev_order("f1", "a", 'P', 100, T0),
                                    ev_order("f2", "a", 'P', 100, T0 + 1000) };
        int64_t applied, dups;
        char errstr[512];
        int64_t off, wm;

        assert_int_equal(rw_state_apply(fx->st, "orders", 0, -1, 10, &LIM, evs, 1, &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        /* A zombie that still believes nothing was stored. */
        assert_int_equal(rw_state_apply(fx->st, "orders", 0, -1, 11, &LIM, evs + 1, 1, &applied, &dups, errstr, sizeof(errstr)), RW_ERR_FENCED);
        assert_non_null(strstr(errstr, "stored offset is 10"));
        assert_int_equal(rw_state_get_position(fx->st, "orders", 0, &off, &wm, errstr,
                                               sizeof(errstr)), RW_OK);
        assert_int_equal(off, 10);
        assert_int_equal(wm, T0);
        assert_int_equal(placed(fx, "ts:{0}:a:a"), 1);
        /* The account's one id: the tail in its hash, no string. */
        assert_int_equal(llget(fx, "HSTRLEN ts:{0}:a:a i"), RW_SEEN_ID_SIZE);
        assert_int_equal(llget(fx, "EXISTS ts:{0}:da:a"), 0);
        /* The owner, with the right expectation, goes on. */
        assert_int_equal(rw_state_apply(fx->st, "orders", 0, 10, 11, &LIM, evs + 1, 1, &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(placed(fx, "ts:{0}:a:a"), 2);
}

/* The same event id twice counts once; the second is reported a duplicate. */
static void test_dedup(void **state) {
        fx_t *fx = *state;
        rw_state_event_t evs[3] = { ev_order("d1", "b", 'P', 100, T0),
                                    ev_order("d1", "b", 'P', 100, T0),
                                    ev_order("d2", "b", 'R', 40, T0) };
        int64_t applied, dups;
        char errstr[512], *b;

        assert_int_equal(rw_state_apply(fx->st, "orders", 1, -1, 3, &LIM, evs, 3, &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(applied, 2);
        assert_int_equal(dups, 1);
        /* Re-delivered later (e.g. after a reset to offset 0): nothing changes. */
        assert_int_equal(rw_state_apply(fx->st, "orders", 1, 3, 6, &LIM, evs, 3, &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(applied, 0);
        assert_int_equal(dups, 3);
        b = hget(fx, "ts:{1}:a:b", "20513");
        assert_non_null(b);
        assert_string_equal(b, "1,100,,1,40");
        free(b);
}

/* Redis forgot the script (restart, SCRIPT FLUSH): it is loaded again. */
static void test_script_reload(void **state) {
        fx_t *fx = *state;
        rw_state_event_t ev = ev_order("s1", "c", 'P', 1, T0);
        int64_t applied, dups;
        char errstr[512];

        freeReplyObject(redisCommand(fx->rc, "SCRIPT FLUSH"));
        assert_int_equal(rw_state_apply(fx->st, "orders", 2, -1, 1, &LIM, &ev, 1, &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(applied, 1);
}

/* Three years of daily events for one account: its state stays bounded by
 * the longest window, and old buckets are gone. */
static void test_memory_bounded(void **state) {
        fx_t *fx = *state;
        enum { DAYS = 3 * 365, PER_BATCH = 30 };
        rw_state_event_t evs[PER_BATCH];
        char ids[PER_BATCH][32];
        int64_t applied, dups;
        char errstr[512];
        int64_t off = -1, next = 0;
        long long hlen_at_year = 0, mem_at_year = 0, hlen, mem;

        for (int d = 0; d < DAYS; d += PER_BATCH) {
                int n = 0;
                for (int i = d; i < d + PER_BATCH && i < DAYS; i++, n++) {
                        snprintf(ids[n], sizeof(ids[n]), "m-%d", i);
                        evs[n] = ev_order(ids[n], "longlived", i % 7 ? 'P' : 'R', 500,
                                          T0 + (int64_t)i * RW_DAY_MS);
                }
                next += n;
                assert_int_equal(rw_state_apply(fx->st, "orders", 3, off, next, &LIM, evs, (size_t)n, &applied, &dups, errstr, sizeof(errstr)), RW_OK);
                off = next;
                if (d / PER_BATCH == 365 / PER_BATCH) {
                        hlen_at_year = llget(fx, "HLEN ts:{3}:a:longlived");
                        mem_at_year = llget(fx, "MEMORY USAGE ts:{3}:a:longlived");
                }
        }
        hlen = llget(fx, "HLEN ts:{3}:a:longlived");
        mem = llget(fx, "MEMORY USAGE ts:{3}:a:longlived");
        print_message("after 1 year: %lld fields, %lld bytes; after 3 years: %lld "
                      "fields, %lld bytes\n", hlen_at_year, mem_at_year, hlen, mem);
        assert_true(hlen <= 120 + 6);                   /* the window + meta */
        assert_true(mem <= mem_at_year + mem_at_year / 4);
        assert_int_equal(llget(fx, "HEXISTS ts:{3}:a:longlived %lld",
                               (long long)(T0 / RW_DAY_MS)), 0);
        assert_int_equal(placed(fx, "ts:{3}:a:longlived"), DAYS - (DAYS + 6) / 7);

        /* A late order for a day behind the window counts in the order meta
         * but leaves no bucket (nor a vendor one); one inside the window
         * does. And a long silence drops every bucket but the new one. */
        {
                rw_state_event_t late[3];
                int64_t last = T0 + (int64_t)(DAYS - 1) * RW_DAY_MS;
                late[0] = ev_order("late-old", "longlived", 'P', 700, last - 200 * RW_DAY_MS);
                late[1] = ev_order("late-in", "longlived", 'P', 700, last - 100 * RW_DAY_MS);
                late[2] = ev_order("after-silence", "longlived", 'P', 700,
                                   last + 400 * RW_DAY_MS);
                assert_int_equal(rw_state_apply(fx->st, "orders", 3, off, next + 2, &LIM, late, 2, &applied, &dups, errstr, sizeof(errstr)),
                                 RW_OK);
                assert_int_equal(llget(fx, "HEXISTS ts:{3}:a:longlived %lld",
                                       (long long)((last - 200 * RW_DAY_MS) / RW_DAY_MS)), 0);
                assert_int_equal(llget(fx, "HEXISTS ts:{3}:v:v1 %lld",
                                       (long long)((last - 200 * RW_DAY_MS) / RW_DAY_MS)), 0);
                assert_int_equal(llget(fx, "HEXISTS ts:{3}:a:longlived %lld",
                                       (long long)((last - 100 * RW_DAY_MS) / RW_DAY_MS)), 1);
                assert_int_equal(placed(fx, "ts:{3}:a:longlived"), DAYS - (DAYS + 6) / 7 + 2);
                assert_int_equal(rw_state_apply(fx->st, "orders", 3, next + 2, next + 3, &LIM, late + 2, 1, &applied, &dups, errstr, sizeof(errstr)),
                                 RW_OK);
                /* the new day's bucket + m (maxday, offset, time, orders) */
                assert_int_equal(llget(fx, "HLEN ts:{3}:a:longlived"), 1 + 1);
        }
}

/* Compare a replayed view with the hash Redis holds for it. */
static void expect_view_is_stored(fx_t *fx, const rw_account_view_t *av,
                                  const char *key) {
        /* m, and i when the ids' tail is there */
        assert_int_equal(av->bucket_cnt, (size_t)(llget(fx, "HLEN %s", key) - 1 -
                                                  llget(fx, "HEXISTS %s i", key)));
        for (size_t i = 0; i < av->bucket_cnt; i++) {
                char field[24], *csv;
                rw_day_bucket_t stored;
                const rw_day_bucket_t *b = &av->buckets[i];
                snprintf(field, sizeof(field), "%lld", (long long)b->day);
                csv = hget(fx, key, field);
                assert_non_null(csv);
                rw_bucket_parse(b->day, csv, &stored);
                free(csv);
                assert_memory_equal(&stored, b, sizeof(stored));
        }
}

/* What a batch writes is what the in-process arithmetic holds: a view
 * built by applying the events in memory equals the one loaded back from
 * Redis (buckets, order meta, remembered ids), for both streams; each
 * stream has a hash of its own. */
static void test_replay_matches_redis(void **state) {
        fx_t *fx = *state;
        rw_state_event_t orders[4] = {
                ev_order("r1", "acct", 'P', 1200, T0),
                ev_order("r2", "acct", 'C', 0, T0 + 3600000),
                ev_order("r3", "acct", 'R', 700, T0 + RW_DAY_MS),
                ev_order("r4", "acct", 'P', 300, T0 + 2 * RW_DAY_MS),
        };
        rw_state_event_t support[4] = {
                { .kind = 'O', .event_id = "r5", .account = "acct", .vendor = "",
                  .amount = 3, .occurred_at = T0 + RW_DAY_MS },
                { .kind = 'S', .event_id = "r6", .account = "acct", .vendor = "",
                  .amount = 1, .occurred_at = T0 + RW_DAY_MS, .csat = 2, .has_csat = 1,
                  .sentiment = -0.75, .has_sentiment = 1 },
                { .kind = 'S', .event_id = "r7", .account = "acct", .vendor = "",
                  .amount = 0, .occurred_at = T0 + RW_DAY_MS, .sentiment = 0.25, .has_sentiment = 1 },
                { .kind = 'E', .event_id = "r8", .account = "acct", .vendor = "",
                  .amount = 1, .occurred_at = T0 + 2 * RW_DAY_MS },
        };
        const char *names[1] = { "acct" };
        rw_account_view_t mem, stored;
        int64_t applied, dups;
        char errstr[512];

        /* Orders in two batches: the second builds on what the first left. */
        assert_int_equal(rw_state_apply(fx->st, "orders", 4, -1, 3, &LIM, orders, 3,
                                        &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_state_apply(fx->st, "orders", 4, 3, 4, &LIM, orders + 3, 1,
                                        &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_account_init(&mem, "acct"), 0);
        for (int i = 0; i < 4; i++) {
                rw_state_event_t ev = orders[i];
                ev.offset = i;  /* as rw_state_apply() numbers them */
                assert_int_equal(rw_account_apply(&mem, &ev, &LIM), 0);
        }
        assert_int_equal(rw_state_load(fx->st, "orders", 4, 1, names, 1, &stored, errstr,
                                       sizeof(errstr)), RW_OK);
        assert_int_equal(stored.orders_total, 2);
        assert_int_equal(mem.orders_total, stored.orders_total);
        assert_int_equal(mem.first_order, stored.first_order);
        assert_int_equal(mem.last_order, stored.last_order);
        assert_int_equal(mem.maxday, stored.maxday);
        assert_int_equal(mem.last_offset, 3);
        assert_int_equal(stored.last_offset, 3);
        assert_int_equal(mem.bucket_cnt, stored.bucket_cnt);
        for (size_t i = 0; i < mem.bucket_cnt; i++)
                assert_memory_equal(&mem.buckets[i], &stored.buckets[i], sizeof(mem.buckets[i]));
        assert_int_equal(mem.id_cnt, 4);
        assert_int_equal(stored.id_cnt, 4);
        assert_memory_equal(mem.ids, stored.ids, mem.id_cnt * sizeof(*mem.ids));
        expect_view_is_stored(fx, &stored, "ts:{4}:a:acct");
        rw_account_view_clear(&mem);
        rw_account_view_clear(&stored);

        /* Support events: their own hash; the orders hash is untouched. */
        assert_int_equal(rw_state_apply(fx->st, "support", 4, -1, 4, &LIM, support, 4,
                                        &applied, &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_account_init(&mem, "acct"), 0);
        for (int i = 0; i < 4; i++) {
                rw_state_event_t ev = support[i];
                ev.offset = i;  /* as rw_state_apply() numbers them */
                assert_int_equal(rw_account_apply(&mem, &ev, &LIM), 0);
        }
        assert_int_equal(rw_state_load(fx->st, "support", 4, 0, names, 1, &stored, errstr,
                                       sizeof(errstr)), RW_OK);
        assert_int_equal(mem.bucket_cnt, stored.bucket_cnt);
        for (size_t i = 0; i < mem.bucket_cnt; i++)
                assert_memory_equal(&mem.buckets[i], &stored.buckets[i], sizeof(mem.buckets[i]));
        expect_view_is_stored(fx, &stored, "ts:{4}:s:acct");
        /* 3 days, m and i: the ids' tail. The first batch's 3 ids went
         * whole to the string, the second's one to the tail. */
        assert_int_equal(llget(fx, "HLEN ts:{4}:a:acct"), 3 + 1 + 1);
        assert_int_equal(llget(fx, "STRLEN ts:{4}:da:acct"), 3 * RW_SEEN_ID_SIZE);
        assert_int_equal(llget(fx, "HSTRLEN ts:{4}:a:acct i"), RW_SEEN_ID_SIZE);
        rw_account_view_clear(&mem);
        rw_account_view_clear(&stored);
}

/* An account stored by an earlier version, its meta in one field each
 * (m:n, m:first, m:last, m:maxday, m:off, m:at), reads as it was and is
 * rewritten in the two fields (m, o) at its next write, the old ones gone. */
static void test_legacy_meta(void **state) {
        fx_t *fx = *state;
        const int64_t day = T0 / RW_DAY_MS, next = T0 + 2 * RW_DAY_MS;
        rw_state_event_t ev = ev_order("l3", "old", 'P', 500, next);
        int64_t applied, dups;
        char errstr[512], want[128], *v;
        redisReply *r;

        r = redisCommand(fx->rc, "HSET ts:{5}:a:old %lld 2,1700 m:n 2 m:first %lld "
                         "m:last %lld m:maxday %lld m:off 1 m:at %lld",
                         (long long)day, (long long)T0, (long long)(T0 + 1000),
                         (long long)day, (long long)(T0 + 1000));
        freeReplyObject(r);
        r = redisCommand(fx->rc, "SET ts:{5}:off:orders 2");
        freeReplyObject(r);
        assert_int_equal(rw_state_apply(fx->st, "orders", 5, 2, 3, &LIM, &ev, 1, &applied,
                                        &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(applied, 1);
        assert_int_equal(llget(fx, "HEXISTS ts:{5}:a:old m:n"), 0);
        assert_int_equal(llget(fx, "HEXISTS ts:{5}:a:old m:off"), 0);
        /* Two days, m, and i: the new event's id */
        assert_int_equal(llget(fx, "HLEN ts:{5}:a:old"), 2 + 1 + 1);
        assert_int_equal(llget(fx, "HSTRLEN ts:{5}:a:old i"), RW_SEEN_ID_SIZE);
        /* One field: MAXDAY,OFFSET,TIME,PLACED, then the first and the last
         * order as distances back from TIME. */
        snprintf(want, sizeof(want), "%lld,2,%lld,3,%lld,0", (long long)(day + 2),
                 (long long)next, (long long)(next - T0));
        assert_non_null(v = hget(fx, "ts:{5}:a:old", "m"));
        assert_string_equal(v, want);
        free(v);

        /* The version before the one field: "m" (MAXDAY,OFFSET,TIME) and "o"
         * (PLACED,FIRST,LAST); read as it is, rewritten into "m" (its "o"
         * deleted) at the account's next write. */
        r = redisCommand(fx->rc, "HSET ts:{7}:a:two %lld 2,1700 m %lld,1,%lld o 2,%lld,%lld",
                         (long long)day, (long long)day, (long long)(T0 + 1000),
                         (long long)T0, (long long)(T0 + 1000));
        freeReplyObject(r);
        r = redisCommand(fx->rc, "SET ts:{7}:off:orders 2");
        freeReplyObject(r);
        {
                const char *names[1] = { "two" };
                rw_account_view_t stored;
                assert_int_equal(rw_state_load(fx->st, "orders", 7, 1, names, 1, &stored,
                                               errstr, sizeof(errstr)), RW_OK);
                assert_int_equal(stored.orders_total, 2);
                assert_int_equal(stored.first_order, T0);
                assert_int_equal(stored.last_order, T0 + 1000);
                assert_int_equal(stored.last_offset, 1);
                assert_int_equal(stored.maxday, day);
                rw_account_view_clear(&stored);
        }
        ev = ev_order("l4", "two", 'P', 500, next);
        assert_int_equal(rw_state_apply(fx->st, "orders", 7, 2, 3, &LIM, &ev, 1, &applied,
                                        &dups, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(applied, 1);
        assert_int_equal(llget(fx, "HEXISTS ts:{7}:a:two o"), 0);
        assert_non_null(v = hget(fx, "ts:{7}:a:two", "m"));
        assert_string_equal(v, want);
        free(v);
        {
                const char *names[1] = { "two" };
                rw_account_view_t stored;
                assert_int_equal(rw_state_load(fx->st, "orders", 7, 1, names, 1, &stored,
                                               errstr, sizeof(errstr)), RW_OK);
                assert_int_equal(stored.orders_total, 3);
                assert_int_equal(stored.first_order, T0);
                assert_int_equal(stored.last_order, next);
                assert_int_equal(stored.last_at, next);
                rw_account_view_clear(&stored);
        }
}

/* Loading the three accounts fails whole, naming why (`want`), and leaves
 * their views empty. */
static void load_refused(fx_t *fx, const char *const names[3], rw_account_view_t views[3],
                         const char *want) {
        char errstr[512];

        assert_int_equal(rw_state_load(fx->st, "orders", 6, 1, names, 3, views, errstr,
                                       sizeof(errstr)), RW_ERR_FAIL);
        assert_non_null(strstr(errstr, want));
        for (int i = 0; i < 3; i++)
                assert_int_equal(views[i].bucket_cnt, 0);
}

/* Loading accounts: a reply Redis refuses, or ids that do not parse, fail
 * the load whole (views cleared) and name why; the replies after it are
 * still read, so the connection stays in step for the next load. */
static void test_load_refused(void **state) {
        fx_t *fx = *state;
        const char *names[3] = { "ok1", "bad", "ok2" };
        rw_account_view_t views[3];
        char errstr[512];
        redisReply *r;

        memset(views, 0, sizeof(views));
        r = redisCommand(fx->rc, "HSET ts:{6}:a:ok1 %lld 1,100 m 20000,1,%lld",
                         (long long)(T0 / RW_DAY_MS), (long long)T0);
        freeReplyObject(r);
        r = redisCommand(fx->rc, "HSET ts:{6}:a:ok2 %lld 2,200 m 20000,2,%lld",
                         (long long)(T0 / RW_DAY_MS), (long long)T0);
        freeReplyObject(r);
        r = redisCommand(fx->rc, "SET ts:{6}:a:bad notahash");
        freeReplyObject(r);
        load_refused(fx, names, views, "loading accounts: WRONGTYPE");

        r = redisCommand(fx->rc, "DEL ts:{6}:a:bad");
        freeReplyObject(r);
        r = redisCommand(fx->rc, "SET ts:{6}:da:bad 12345");
        freeReplyObject(r);
        load_refused(fx, names, views, "ts:{6}:da:bad: malformed");
        r = redisCommand(fx->rc, "DEL ts:{6}:da:bad");
        freeReplyObject(r);
        r = redisCommand(fx->rc, "HSET ts:{6}:a:bad m 20000,2,%lld i 12345", (long long)T0);
        freeReplyObject(r);
        load_refused(fx, names, views, "ts:{6}:da:bad (with the hash's field i): malformed");

        /* In step: the next load reads its own replies. */
        assert_int_equal(rw_state_load(fx->st, "orders", 6, 1, names + 2, 1, views, errstr,
                                       sizeof(errstr)), RW_OK);
        assert_int_equal(views[0].bucket_cnt, 1);
        assert_int_equal(views[0].buckets[0].placed, 2);
        assert_int_equal(views[0].last_offset, 2);
        rw_account_view_clear(&views[0]);
}

/* Accounts Redis does not hold: rw_state_load_absent() makes, without a
 * round trip, the views rw_state_load() reads for them (same packed form,
 * same spare capacity), in both streams. */
static void test_load_absent(void **state) {
        fx_t *fx = *state;
        const char *names[2] = { "never1", "never2" };
        char errstr[512];

        for (int orders = 0; orders < 2; orders++) {
                rw_account_view_t read[2], made[2];
                assert_int_equal(rw_state_load(fx->st, orders ? "orders" : "support", 7,
                                               orders, names, 2, read, errstr,
                                               sizeof(errstr)), RW_OK);
                assert_int_equal(rw_state_load_absent(names, 2, made), RW_OK);
                for (int i = 0; i < 2; i++) {
                        unsigned char *a, *b;
                        size_t al, bl;
                        assert_string_equal(made[i].account, names[i]);
                        assert_int_equal(made[i].bucket_size, read[i].bucket_size);
                        assert_int_equal(rw_account_pack(&read[i], &a, &al), 0);
                        assert_int_equal(rw_account_pack(&made[i], &b, &bl), 0);
                        assert_memory_equal(a, b, al);
                        assert_int_equal(al, bl);
                        free(a);
                        free(b);
                        rw_account_view_clear(&read[i]);
                        rw_account_view_clear(&made[i]);
                }
        }
}

/* Deleting a namespace: every key of it (positions included, more than
 * one UNLINK's worth of them), none of another namespace's. */
static void test_purge(void **state) {
        fx_t *fx = *state;
        char errstr[512];
        int64_t deleted = -1;
        redisReply *r;

        for (int p = 0; p < 300; p++) {
                r = redisCommand(fx->rc, "MSET ts:{%d}:off:orders 5 ts:{%d}:wm:orders 7 "
                                 "ts:{%d}:a:x%d 1", p, p, p, p);
                freeReplyObject(r);
        }
        r = redisCommand(fx->rc, "SET tsother:{1}:off:orders 5");
        freeReplyObject(r);
        assert_int_equal(rw_state_purge(fx->st, &deleted, errstr, sizeof(errstr)), RW_OK);
        assert_true(deleted >= 900);
        r = redisCommand(fx->rc, "SCAN 0 MATCH ts:* COUNT 100000");
        assert_int_equal(r->element[1]->elements, 0);
        freeReplyObject(r);
        assert_int_equal(llget(fx, "EXISTS tsother:{1}:off:orders"), 1);
}

/* Two amounts for one account in interval k whose sum does not fit in 64
 * bits: the write is refused whole, before anything is sent (w destroyed). */
static void write_out_of_range(fx_t *fx, rw_state_write_t *w, int64_t k) {
        rw_err_t werr;
        char errstr[512];

        assert_int_equal(rw_state_write_portfolio(w, 'a', k, "big", INT64_MAX / 2 + 1), 0);
        assert_int_equal(rw_state_write_portfolio(w, 'a', k, "big", INT64_MAX / 2 + 1), 0);
        assert_int_equal(rw_state_write_exec(fx->st, &w, 1, &werr, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(werr, RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "out of the 64-bit range"));
        rw_state_write_destroy(w);
}

/* The sum of subject's entries in h (a subject may appear in the string
 * and in the hash of an interval bucket). */
static int64_t bucket_sum(const rw_bstore_hash_t *h, const char *subject) {
        int64_t v = 0;
        for (size_t i = 0; i < h->cnt; i++)
                if (h->v[i].len == strlen(subject) && !memcmp(h->v[i].subject, subject,
                                                                h->v[i].len))
                        v += h->v[i].value;
        return v;
}

/* Send w, which must land; then, if `into` is not NULL, commit what it
 * wrote into it. w is destroyed. */
static void write_landed(fx_t *fx, rw_state_write_t *w, rw_isums_t *into) {
        rw_err_t werr;
        char errstr[512];

        assert_int_equal(rw_state_write_exec(fx->st, &w, 1, &werr, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(werr, RW_OK);
        if (into)
                assert_int_equal(rw_isums_commit(into, w), 0);
        rw_state_write_destroy(w);
}

/* One write of partition 3 (stored offset `expected`, then expected + 1)
 * to interval k, with the interval floor and top as read before it. */
static void write_interval_k(fx_t *fx, int64_t expected, int64_t first, int64_t last,
                             int64_t k, const char *subject, int64_t amount) {
        rw_state_write_t *w = rw_state_write_new(fx->st, "orders", 3, expected,
                                                 expected + 1, T0);

        assert_non_null(w);
        rw_state_write_bounds(w, first, last);
        assert_int_equal(rw_state_write_portfolio(w, 'a', k, subject, amount), 0);
        assert_int_equal(rw_state_write_portfolio(w, 'a', k, "same", 10), 0);
        assert_int_equal(rw_state_write_portfolio(w, 'a', k, "gone", 4), 0);
        assert_int_equal(rw_state_write_portfolio(w, 'a', k, "gone", -4), 0);
        assert_int_equal(rw_state_write_portfolio(w, 'v', k, "", 1), 0);
        write_landed(fx, w, NULL);
}

static void write_interval(fx_t *fx, int64_t expected, int64_t first, int64_t last,
                           const char *subject, int64_t amount) {
        write_interval_k(fx, expected, first, last, 7, subject, amount);
}

/* A new interval is written whole as a section of its chunk's string
 * (pbc:F:C, 24 intervals), later additions to it field by field (pb:); the
 * decider reads both as one bucket, and deletes both once folded. An
 * earlier version's string (pbs:F:K) below pbc:since is still read. */
static void test_interval_bucket(void **state) {
        fx_t *fx = *state;
        rw_bstore_t bs = { 0 };
        rw_bstore_buckets_t bk;
        const rw_bstore_hash_t *a, *v;
        rw_state_write_t *w;
        char errstr[512];
        redisReply *r;

        write_interval(fx, -1, -1, -1, "first", 100);   /* interval 7 is new */
        r = redisCommand(fx->rc, "TYPE ts:{3}:pbc:a:0");
        assert_string_equal(r->str, "string");
        freeReplyObject(r);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pb:a:7 ts:{3}:pbs:a:7"), 0);
        assert_int_equal(llget(fx, "GET ts:{3}:pb:last"), 7);
        assert_int_equal(llget(fx, "GET ts:{3}:pbc:since"), 7);
        write_interval(fx, 0, 7, 7, "later", 20);     /* written before: added to */
        assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 later"), 20);
        assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 same"), 10);
        assert_int_equal(llget(fx, "HEXISTS ts:{3}:pb:a:7 gone"), 0);
        /* Interval 9 is new: its section goes after 7's, in the same chunk;
         * pbc:since stays. 30 opens chunk 1. */
        write_interval_k(fx, 1, 7, 7, 9, "nine", 9);
        write_interval_k(fx, 2, 7, 9, 30, "thirty", 30);
        assert_int_equal(llget(fx, "GET ts:{3}:pbc:since"), 7);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pbc:a:0 ts:{3}:pbc:v:0 ts:{3}:pbc:a:1 "
                               "ts:{3}:pbs:a:9 ts:{3}:pb:a:9"), 3);
        /* An earlier version's string of interval 5, below pbc:since. */
        {
                rw_bstore_pair_t pr = { .subject = "old", .len = 3, .value = 5 };
                rw_bstore_hash_t h = { .v = &pr, .cnt = 1 };
                char *blob;
                size_t len;
                assert_int_equal(rw_bstore_fold_encode(&h, &blob, &len), 0);
                r = redisCommand(fx->rc, "SET ts:{3}:pbs:a:5 %b", blob, len);
                freeReplyObject(r);
                free(blob);
        }

        rw_bstore_init(&bs, fx->st);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 5, 5, 5 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_OK);
        a = &bk.bucket[(2 * 4 + 3) * 2 + 0];           /* interval 7 */
        v = &bk.bucket[(2 * 4 + 3) * 2 + 1];
        assert_int_equal(bucket_sum(a, "first"), 100);
        assert_int_equal(bucket_sum(a, "later"), 20);
        assert_int_equal(bucket_sum(a, "same"), 20);
        assert_int_equal(bucket_sum(a, "gone"), 0);
        assert_int_equal(bucket_sum(v, ""), 2);
        assert_int_equal(bk.bucket[(2 * 4 + 2) * 2].cnt, 0);   /* another partition */
        assert_int_equal(bucket_sum(&bk.bucket[(0 * 4 + 3) * 2], "old"), 5);
        assert_int_equal(bk.bucket[(1 * 4 + 3) * 2].cnt, 0);   /* interval 6: none */
        assert_int_equal(bucket_sum(&bk.bucket[(4 * 4 + 3) * 2], "nine"), 9);
        assert_int_equal(bucket_sum(&bk.bucket[(4 * 4 + 3) * 2], "same"), 10);
        assert_int_equal(bucket_sum(&bk.bucket[(4 * 4 + 3) * 2 + 1], ""), 1);
        rw_bstore_buckets_clear(&bk);
        /* pbc:since known now: the hashes at or above it are read as the
         * index (pbh:F) lists them, in a second round trip. */
        assert_int_equal(llget(fx, "ZSCORE ts:{3}:pbh:a 7"), 7);
        assert_int_equal(llget(fx, "ZCARD ts:{3}:pbh:a"), 1);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 7, 1, 7 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(bucket_sum(&bk.bucket[3 * 2], "later"), 20);
        assert_int_equal(bucket_sum(&bk.bucket[3 * 2], "first"), 100);
        assert_int_equal(bucket_sum(&bk.bucket[3 * 2 + 1], ""), 2);
        rw_bstore_buckets_clear(&bk);
        /* Added to interval 5, below pbc:since: its hash is listed too. */
        write_interval_k(fx, 3, 7, 30, 5, "five", 5);
        assert_int_equal(llget(fx, "ZSCORE ts:{3}:pbh:a 5"), 5);
        /* A run across chunks: 23 .. 30. The hashes the index lists below
         * it are folded (below pbc:since or not): deleted, and taken out of
         * the index. */
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 23, 8, 23 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(bucket_sum(&bk.bucket[(7 * 4 + 3) * 2], "thirty"), 30);
        assert_int_equal(bk.bucket[(0 * 4 + 3) * 2].cnt, 0);
        rw_bstore_buckets_clear(&bk);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pb:a:7 ts:{3}:pb:v:7 ts:{3}:pbh:a "
                               "ts:{3}:pbh:v ts:{3}:pb:a:5 ts:{3}:pb:v:5"), 0);

        /* A chunk that is not one, or an old string that is not a bucket, is
         * a fault, named. */
        r = redisCommand(fx->rc, "SET ts:{3}:pbc:v:2 \xff");
        freeReplyObject(r);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 50, 1, 50 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "ts:{3}:pbc:v:2: not a chunk of interval buckets"));
        r = redisCommand(fx->rc, "SET ts:{3}:pbs:v:6 \xff");
        freeReplyObject(r);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 6, 1, 6 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "ts:{3}:pbs:v:6: not an interval bucket"));
        /* Interval 9 twice (its chunk holds it; an old string too): a fault. */
        r = redisCommand(fx->rc, "SET ts:{3}:pbs:a:9 x");
        freeReplyObject(r);
        r = redisCommand(fx->rc, "DEL ts:{3}:pbc:since");
        freeReplyObject(r);
        rw_bstore_release(&bs);
        rw_bstore_init(&bs, fx->st);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 9, 1, 9 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "ts:{3}:pbs:a:9: an interval its chunk holds too"));
        r = redisCommand(fx->rc, "SET ts:{3}:pbc:since 7");
        freeReplyObject(r);
        rw_bstore_release(&bs);
        rw_bstore_init(&bs, fx->st);

        /* Folded: below pbc:since each interval's hash and old string, and
         * each chunk once its last interval is. 5 .. 23 leaves nothing of
         * chunk 0; 24 .. 47 takes chunk 1 (and chunk 0 again). The old
         * strings at or above pbc:since (written above by hand) are not
         * looked for. */
        r = redisCommand(fx->rc, "HSET ts:{3}:pb:a:6 old 1");
        freeReplyObject(r);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 7, 1, 7 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_OK);
        rw_bstore_buckets_clear(&bk);
        assert_int_equal(rw_bstore_delete_buckets(&bs, 4, 5, 18, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pbs:a:5 ts:{3}:pb:a:6 ts:{3}:pbs:v:6"), 0);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pbc:a:0 ts:{3}:pbc:v:0 ts:{3}:pbs:a:9"), 3);
        assert_int_equal(rw_bstore_delete_buckets(&bs, 4, 23, 1, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pbc:a:0 ts:{3}:pbc:v:0"), 0);
        assert_int_equal(rw_bstore_delete_buckets(&bs, 4, 24, 24, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pbc:a:1 ts:{3}:pbc:v:1 ts:{3}:pbs:a:9"), 1);
        rw_bstore_release(&bs);
        r = redisCommand(fx->rc, "DEL ts:{3}:pbs:a:9 ts:{3}:pbc:v:2");
        freeReplyObject(r);

        /* A new interval's sum out of range refuses the write too. */
        w = rw_state_write_new(fx->st, "orders", 3, 1, 2, T0);
        rw_state_write_bounds(w, 7, 7);
        write_out_of_range(fx, w, 31);
        assert_int_equal(llget(fx, "EXISTS ts:{3}:pbc:a:1"), 0);
}

/* The HINCRBY calls Redis has served so far (INFO commandstats). */
static long long hincrby_calls(fx_t *fx) {
        redisReply *r = redisCommand(fx->rc, "INFO commandstats");
        const char *at = r && r->type == REDIS_REPLY_STRING ?
                         strstr(r->str, "cmdstat_hincrby:calls=") : NULL;
        long long n = at ? strtoll(at + strlen("cmdstat_hincrby:calls="), NULL, 10) : 0;
        freeReplyObject(r);
        return n;
}

/* A write of interval 7's account bucket, built on `is` (NULL: none), then
 * committed into it if it landed and `commit`. */
static void write_isums(fx_t *fx, rw_isums_t *is, int commit, int64_t expected,
                        int64_t last, const char *subject, int64_t amount) {
        rw_state_write_t *w = rw_state_write_new(fx->st, "orders", 3, expected,
                                                 expected + 1, T0);

        assert_non_null(w);
        rw_state_write_bounds(w, last < 0 ? -1 : 7, last);
        rw_state_write_isums(w, is);
        assert_int_equal(rw_state_write_portfolio(w, 'a', 7, subject, amount), 0);
        assert_int_equal(rw_state_write_portfolio(w, 'a', 7, "same", 10), 0);
        write_landed(fx, w, commit ? is : NULL);
}

/* The owner's latest interval: it opened it, so it knows what the hash
 * beside the string holds, and sets the new totals (one HSET) instead of
 * adding field by field; after a write it does not know the outcome of
 * (reset), it adds again. Whatever the path, the decider reads the sums. */
static void test_interval_isums(void **state) {
        fx_t *fx = *state;
        rw_isums_t *is = rw_isums_new();
        rw_bstore_t bs = { 0 };
        rw_bstore_buckets_t bk;
        char errstr[512];
        long long n0;

        assert_non_null(is);
        write_isums(fx, is, 1, -1, -1, "first", 100);   /* opens 7: the string */
        n0 = hincrby_calls(fx);
        write_isums(fx, is, 1, 0, 7, "later", 20);      /* totals set */
        write_isums(fx, is, 1, 1, 7, "later", 5);
        assert_int_equal(hincrby_calls(fx), n0);
        assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 later"), 25);
        assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 same"), 20);
        /* A write whose sums for the interval are all 0 (an order and its
         * refund): nothing to set, and no empty HSET for Redis to refuse. */
        {
                rw_state_write_t *w = rw_state_write_new(fx->st, "orders", 3, 2, 3, T0);
                rw_state_write_bounds(w, 7, 7);
                rw_state_write_isums(w, is);
                assert_int_equal(rw_state_write_portfolio(w, 'a', 7, "net0", 5), 0);
                assert_int_equal(rw_state_write_portfolio(w, 'a', 7, "net0", -5), 0);
                write_landed(fx, w, is);
                assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 later"), 25);
        }

        /* A write that did not land, as far as the owner knows: reset, and
         * the next ones add to what Redis holds. */
        write_isums(fx, is, 0, 3, 7, "lost", 1);
        rw_isums_reset(is);
        write_isums(fx, is, 1, 4, 7, "later", 1);
        assert_true(hincrby_calls(fx) > n0);
        assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 later"), 26);
        assert_int_equal(llget(fx, "HGET ts:{3}:pb:a:7 same"), 40);
        /* Not its latest interval any more after the reset: still added to. */
        n0 = hincrby_calls(fx);
        write_isums(fx, is, 1, 5, 7, "later", 1);
        assert_true(hincrby_calls(fx) > n0);

        rw_bstore_init(&bs, fx->st);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 7, 1, 7 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_OK);
        {
                const rw_bstore_hash_t *a = &bk.bucket[(0 * 4 + 3) * 2 + 0];
                assert_int_equal(bucket_sum(a, "first"), 100);
                assert_int_equal(bucket_sum(a, "later"), 27);
                assert_int_equal(bucket_sum(a, "lost"), 1);
                assert_int_equal(bucket_sum(a, "same"), 60);
        }
        rw_bstore_buckets_clear(&bk);
        rw_bstore_release(&bs);
        rw_isums_destroy(is);
}

/* A write of `n` subjects PREFIX0.. (amount 1 each) to interval k of
 * partition 3, built on `is` (NULL: adds field by field), committed into it. */
static void write_many(fx_t *fx, rw_isums_t *is, int64_t expected, int64_t last, int64_t k,
                       const char *prefix, int n) {
        rw_state_write_t *w = rw_state_write_new(fx->st, "orders", 3, expected,
                                                 expected + 1, T0);
        char subj[64];

        assert_non_null(w);
        rw_state_write_bounds(w, 7, last);
        rw_state_write_isums(w, is);
        for (int i = 0; i < n; i++) {
                snprintf(subj, sizeof(subj), "%s%d", prefix, i);
                assert_int_equal(rw_state_write_portfolio(w, 'a', k, subj, 1), 0);
        }
        write_landed(fx, w, is);
}

static int encoding_is(fx_t *fx, const char *key, const char *want) {
        redisReply *r = redisCommand(fx->rc, "OBJECT ENCODING %s", key);
        int ok = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, want);
        if (!ok)
                fprintf(stderr, "%s: encoding %s, not %s\n", key,
                        r && r->type == REDIS_REPLY_STRING ? r->str : "(none)", want);
        freeReplyObject(r);
        return ok;
}

/* An interval's hash that reaches RW_PB_HASHTABLE_MIN subjects becomes a
 * hashtable in Redis (a listpack is searched from its start for every
 * field set), whether its totals are set (the owner's latest interval) or
 * added; a small one stays a listpack (less memory). The decider's sums
 * leave the field that does it out. */
static void test_interval_hashtable(void **state) {
        fx_t *fx = *state;
        rw_isums_t *is = rw_isums_new();
        rw_bstore_t bs = { 0 };
        rw_bstore_buckets_t bk;
        char errstr[512];
        long long n0;

        assert_non_null(is);
        write_many(fx, is, -1, -1, 7, "first", 1);              /* opens 7: the string */
        write_many(fx, is, 0, 7, 7, "small", RW_PB_HASHTABLE_MIN / 2);
        assert_true(encoding_is(fx, "ts:{3}:pb:a:7", "listpack"));
        write_many(fx, is, 1, 7, 7, "big", RW_PB_HASHTABLE_MIN / 2);    /* totals set */
        assert_true(encoding_is(fx, "ts:{3}:pb:a:7", "hashtable"));
        write_many(fx, is, 2, 7, 7, "big", 3);

        write_many(fx, is, 3, 7, 8, "first", 1);                /* opens 8 */
        rw_isums_reset(is);
        n0 = hincrby_calls(fx);
        write_many(fx, NULL, 4, 8, 8, "added", RW_PB_HASHTABLE_MIN);
        assert_true(hincrby_calls(fx) >= n0 + RW_PB_HASHTABLE_MIN);
        assert_true(encoding_is(fx, "ts:{3}:pb:a:8", "hashtable"));

        rw_bstore_init(&bs, fx->st);
        assert_int_equal(rw_bstore_read_buckets(&bs, 4, 7, 2, 7 - 2160, 0, 0, 0, &bk,
                                                errstr, sizeof(errstr)), RW_OK);
        {
                const rw_bstore_hash_t *a7 = &bk.bucket[(0 * 4 + 3) * 2 + 0],
                                       *a8 = &bk.bucket[(1 * 4 + 3) * 2 + 0];
                assert_int_equal(a7->cnt, 1 + RW_PB_HASHTABLE_MIN);
                assert_int_equal(bucket_sum(a7, "big0"), 2);
                assert_int_equal(bucket_sum(a7, "big3"), 1);
                assert_int_equal(bucket_sum(a7, "small0"), 1);
                assert_int_equal(bucket_sum(a7, ""), 0);
                for (size_t i = 0; i < a7->cnt; i++)
                        assert_true(a7->v[i].len && a7->v[i].subject[0]);
                assert_int_equal(a8->cnt, 1 + RW_PB_HASHTABLE_MIN);
                assert_int_equal(bucket_sum(a8, "added0"), 1);
                for (size_t i = 0; i < a8->cnt; i++)
                        assert_true(a8->v[i].len && a8->v[i].subject[0]);
        }
        rw_bstore_buckets_clear(&bk);
        rw_bstore_release(&bs);
        rw_isums_destroy(is);
}

/* The evaluation interval a namespace was built with: recorded by the first
 * run, returned to every later one (a different one is refused by the
 * caller); an earlier version's namespace, which did not record it, is
 * caught when its last decided boundary is not a multiple of the interval
 * asked for, and recorded otherwise. */
static void test_interval_recorded(void **state) {
        fx_t *fx = *state;
        char errstr[512];
        int64_t stored = -1;
        char *v;

        assert_int_equal(rw_state_interval(fx->st, 3600000, 1, &stored, errstr,
                                           sizeof(errstr)), RW_OK);
        assert_int_equal(stored, 3600000);
        v = hget(fx, "ts:{dep}:agg", "interval");
        assert_non_null(v);
        assert_string_equal(v, "3600000");
        free(v);
        /* Read only: nothing recorded, the interval asked for comes back. */
        freeReplyObject(redisCommand(fx->rc, "RENAME ts:{dep}:agg ts:{dep}:kept"));
        assert_int_equal(rw_state_interval(fx->st, 900000, 0, &stored, errstr,
                                           sizeof(errstr)), RW_OK);
        assert_int_equal(stored, 900000);
        assert_int_equal(llget(fx, "EXISTS ts:{dep}:agg"), 0);
        freeReplyObject(redisCommand(fx->rc, "RENAME ts:{dep}:kept ts:{dep}:agg"));
        assert_int_equal(rw_state_interval(fx->st, 900000, 0, &stored, errstr,
                                           sizeof(errstr)), RW_OK);
        assert_int_equal(stored, 3600000);
        /* Another run asks for 15m: it gets the recorded 1h, which stays. */
        assert_int_equal(rw_state_interval(fx->st, 900000, 1, &stored, errstr,
                                           sizeof(errstr)), RW_OK);
        assert_int_equal(stored, 3600000);
        v = hget(fx, "ts:{dep}:agg", "interval");
        assert_string_equal(v, "3600000");
        free(v);

        /* Not recorded, boundaries of 1h decided: 2h cannot have made
         * 11:00 (refused, nothing recorded), 30m could have (recorded). */
        freeReplyObject(redisCommand(fx->rc, "DEL ts:{dep}:agg"));
        freeReplyObject(redisCommand(fx->rc, "HSET ts:{dep}:agg last %lld",
                                     (long long)(T0 + 5 * 3600000LL)));
        assert_int_equal(rw_state_interval(fx->st, 7200000, 1, &stored, errstr,
                                           sizeof(errstr)), RW_OK);
        assert_int_equal(stored, 0);
        assert_null(hget(fx, "ts:{dep}:agg", "interval"));
        assert_int_equal(rw_state_interval(fx->st, 1800000, 1, &stored, errstr,
                                           sizeof(errstr)), RW_OK);
        assert_int_equal(stored, 1800000);
        v = hget(fx, "ts:{dep}:agg", "last");
        assert_int_equal(strtoll(v, NULL, 10), T0 + 5 * 3600000LL);     /* untouched */
        free(v);
}

/* rw_state_layout(record) on namespace "ts" gives `want`, and leaves the
 * field `field` (NULL: none). */
static void layout_is(fx_t *fx, int record, int64_t want, const char *field) {
        char errstr[512], *v;
        int64_t stored = -1;

        assert_int_equal(rw_state_layout(fx->st, record, &stored, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(stored, want);
        v = hget(fx, "ts:{dep}:agg", "layout");
        if (!field) {
                assert_null(v);
                return;
        }
        assert_non_null(v);
        assert_string_equal(v, field);
        free(v);
}

/* The layout a namespace was written in: a new one records this riskwatch's
 * (RW_STATE_LAYOUT); one written before layouts were recorded (an interval
 * recorded, or a boundary decided) is layout 1 and recorded so; a recorded
 * layout comes back as it is, whatever it is; read only, nothing is
 * recorded. */
static void test_layout_recorded(void **state) {
        fx_t *fx = *state;
        char now[24];

        snprintf(now, sizeof(now), "%d", RW_STATE_LAYOUT);
        /* New: read only, then recorded. */
        layout_is(fx, 0, RW_STATE_LAYOUT, NULL);
        layout_is(fx, 1, RW_STATE_LAYOUT, now);
        /* Written by a later layout: returned as it is, never overwritten. */
        freeReplyObject(redisCommand(fx->rc, "HSET ts:{dep}:agg layout 7"));
        layout_is(fx, 1, 7, "7");
        /* Older than the records: an interval recorded, or a boundary
         * decided, and no layout: layout 1. */
        freeReplyObject(redisCommand(fx->rc, "DEL ts:{dep}:agg"));
        freeReplyObject(redisCommand(fx->rc, "HSET ts:{dep}:agg interval 3600000"));
        layout_is(fx, 1, 1, "1");
        freeReplyObject(redisCommand(fx->rc, "DEL ts:{dep}:agg"));
        freeReplyObject(redisCommand(fx->rc, "HSET ts:{dep}:agg last %lld",
                                     (long long)(T0 + 5 * 3600000LL)));
        layout_is(fx, 0, 1, NULL);
}

/* A batch write applies whole or not at all. A sum the write computes that
 * does not fit in 64 bits is refused before anything is sent; a command
 * Redis refuses inside the transaction is reported as that, a fault. */
static void test_write_whole_or_nothing(void **state) {
        fx_t *fx = *state;
        rw_state_write_t *w;
        rw_err_t werr;
        char errstr[512];
        redisReply *r;

        w = rw_state_write_new(fx->st, "orders", 2, -1, 5, T0);
        assert_non_null(w);
        rw_state_write_bounds(w, 0, 10);
        assert_int_equal(rw_state_write_vendor(w, "v9", -1, 20513, 7, 120), 0);
        write_out_of_range(fx, w, 5);
        assert_int_equal(llget(fx, "EXISTS ts:{2}:pb:a:5"), 0);
        assert_int_equal(llget(fx, "EXISTS ts:{2}:v:v9"), 0);
        assert_int_equal(llget(fx, "EXISTS ts:{2}:off:orders"), 0);

        /* A stored value another writer broke: HINCRBY fails inside EXEC. */
        r = redisCommand(fx->rc, "HSET ts:{2}:pb:a:5 big notanumber");
        freeReplyObject(r);
        w = rw_state_write_new(fx->st, "orders", 2, -1, 5, T0);
        rw_state_write_bounds(w, 0, 10);
        assert_int_equal(rw_state_write_portfolio(w, 'a', 5, "big", 3), 0);
        assert_int_equal(rw_state_write_exec(fx->st, &w, 1, &werr, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(werr, RW_ERR_FAIL);
        assert_non_null(strstr(errstr, "inside the transaction and applied the rest"));
        assert_non_null(strstr(errstr, "not an integer"));
        rw_state_write_destroy(w);
}

/* Sent, executed by Redis, its reply lost (the connection dropped before it
 * was read, as after redis.timeout): sent again, a write that finds the
 * stored offset at the one it writes landed, and is neither applied twice
 * (its outbox holds the alert once) nor fenced; one that finds the offset
 * moved past it (another owner went on from there) is fenced. */
/* Send w, wait until `cmd` answers `want` (it landed), and lose its reply. */
static void send_unread_until(fx_t *fx, rw_state_write_t *w, const char *cmd, int64_t want) {
        rw_state_txn_t *txn = NULL;
        rw_err_t werr = RW_ERR_IO;
        char errstr[512];

        assert_int_equal(rw_state_write_send(fx->st, &w, 1, &werr, &txn, errstr,
                                             sizeof(errstr)), RW_OK);
        assert_non_null(txn);
        for (int i = 0; i < 500 && llget(fx, cmd) != want; i++) {
                redisReply *r = redisCommand(fx->rc, "PING");   /* Redis works on it */
                freeReplyObject(r);
        }
        assert_int_equal(llget(fx, cmd), want);
        /* The reply is never read: the connection goes. */
        rw_state_txn_destroy(txn);
        assert_int_equal(rw_state_reconnect(fx->st, errstr, sizeof(errstr)), RW_OK);
}

static void send_unread(fx_t *fx, rw_state_write_t *w, int64_t next) {
        send_unread_until(fx, w, "GET ts:{5}:off:orders", next);
}

/* w sent again: written (landed before, its reply lost, or not), its
 * partition's outbox holding `llen` entries and its offset at `off`. */
static void exec_written(fx_t *fx, rw_state_write_t *w, int landed, int64_t llen, int64_t off) {
        rw_err_t werr;
        char errstr[512];

        assert_int_equal(rw_state_write_exec(fx->st, &w, 1, &werr, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(werr, RW_OK);
        assert_int_equal(rw_state_write_landed_unacked(w), landed);
        assert_int_equal(llget(fx, "LLEN ts:{5}:outbox:orders"), llen);
        assert_int_equal(llget(fx, "GET ts:{5}:off:orders"), off);
        rw_state_write_destroy(w);
}

static void test_reply_lost(void **state) {
        fx_t *fx = *state;
        rw_state_write_t *w, *o;
        rw_err_t werr;
        char errstr[512];

        w = rw_state_write_new(fx->st, "orders", 5, -1, 10, T0);
        assert_non_null(w);
        assert_int_equal(rw_state_write_outbox(w, "alert-1", 7), 0);
        send_unread(fx, w, 10);
        exec_written(fx, w, 1, 1, 10);

        /* The next write lands, its reply lost; another owner goes on from
         * its offset before it is sent again. */
        w = rw_state_write_new(fx->st, "orders", 5, 10, 11, T0);
        assert_int_equal(rw_state_write_outbox(w, "alert-2", 7), 0);
        send_unread(fx, w, 11);
        o = rw_state_write_new(fx->st, "orders", 5, 11, 12, T0);
        write_landed(fx, o, NULL);
        assert_int_equal(rw_state_write_exec(fx->st, &w, 1, &werr, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(werr, RW_ERR_FENCED);
        assert_non_null(strstr(errstr, "stored offset is 12, expected 10"));
        assert_int_equal(rw_state_write_landed_unacked(w), 0);
        assert_int_equal(llget(fx, "LLEN ts:{5}:outbox:orders"), 2);
        rw_state_write_destroy(w);

        /* Never sent: a stored offset at its end is another owner's. */
        w = rw_state_write_new(fx->st, "orders", 5, 11, 12, T0);
        assert_int_equal(rw_state_write_exec(fx->st, &w, 1, &werr, errstr, sizeof(errstr)),
                         RW_OK);
        assert_int_equal(werr, RW_ERR_FENCED);
        rw_state_write_destroy(w);

        /* A write that leaves the offset where it was (an alert of a due
         * evaluation, no record): landed, its reply lost, sent again, its
         * token tells it landed; its alert is in the outbox once. */
        w = rw_state_write_new(fx->st, "orders", 5, 12, 12, T0);
        assert_int_equal(rw_state_write_outbox(w, "alert-3", 7), 0);
        send_unread_until(fx, w, "LLEN ts:{5}:outbox:orders", 3);
        exec_written(fx, w, 1, 3, 12);

        /* Another such write of this process landed since (another token
         * stored): this one, lost before it reached Redis, goes out. */
        w = rw_state_write_new(fx->st, "orders", 5, 12, 12, T0);
        assert_int_equal(rw_state_write_outbox(w, "alert-4", 7), 0);
        send_unread_until(fx, w, "LLEN ts:{5}:outbox:orders", 4);
        {
                /* As if it had never reached Redis, and another write had
                 * landed since: its outbox entry gone, another token. */
                redisReply *r = redisCommand(fx->rc, "RPOP ts:{5}:outbox:orders");
                freeReplyObject(r);
                r = redisCommand(fx->rc, "SET ts:{5}:wt:orders other");
                freeReplyObject(r);
        }
        assert_int_equal(llget(fx, "LLEN ts:{5}:outbox:orders"), 3);
        exec_written(fx, w, 0, 4, 12);
}

/* A due query with `ahead`: what is due by `until`, then the nearest after
 * it, short of the last due time reached when the limit cut its ties; the
 * horizon says how far the answer is whole. */
static void test_due_ahead(void **state) {
        fx_t *fx = *state;
        rw_due_query_t q = { .topic = "orders", .partition = 1, .until = 100, .ahead = 3 };
        char errstr[512];
        redisReply *r;

        r = redisCommand(fx->rc, "ZADD ts:{1}:due:orders 50 a 100 b 150 c 200 d 200 e "
                                 "200 f 300 g");
        freeReplyObject(r);
        /* b at until, then c, d, e within 3: f ties with e past the limit,
         * so 200 is not whole: c only, horizon 199. */
        assert_int_equal(rw_state_due(fx->st, &q, 1, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(q.horizon, 199);
        assert_int_equal(q.cnt, 3);
        assert_string_equal(q.accounts[0], "a");
        assert_string_equal(q.accounts[1], "b");
        assert_string_equal(q.accounts[2], "c");
        assert_int_equal(q.dues[2], 150);
        rw_due_query_clear(&q);
        /* From 199 on: the three of 200 and g, fewer than asked: all. */
        q.until = 199;
        q.ahead = 5;
        assert_int_equal(rw_state_due(fx->st, &q, 1, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(q.horizon, INT64_MAX);
        assert_int_equal(q.cnt, 7);
        assert_int_equal(q.dues[6], 300);
        rw_due_query_clear(&q);
        /* Exactly as many as asked: the last due time could have ties. */
        q.until = 200;
        q.ahead = 1;
        assert_int_equal(rw_state_due(fx->st, &q, 1, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(q.horizon, 299);
        assert_int_equal(q.cnt, 6);
        rw_due_query_clear(&q);
        /* No ahead: what is due by until, whole up to it. */
        q.ahead = 0;
        assert_int_equal(rw_state_due(fx->st, &q, 1, errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(q.horizon, 200);
        assert_int_equal(q.cnt, 6);
        rw_due_query_clear(&q);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_due_ahead, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_fencing, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_dedup, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_script_reload, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_memory_bounded, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_matches_redis, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_legacy_meta, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_load_absent, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_purge, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_load_refused, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_interval_bucket, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_interval_isums, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_interval_hashtable, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_interval_recorded, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_layout_recorded, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_reply_lost, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_write_whole_or_nothing, fx_setup,
                                                fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
