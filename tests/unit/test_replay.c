/* test_replay.c - the pure batch replay (consumers/replay.c): de-duplication,
 * event-time evaluation, due times, portfolio intervals, and that the
 * outcome does not depend on where batches end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/conf.h"
#include "consumers/replay.h"

#define T0 1772344800000LL      /* 2026-03-01T06:00:00Z */
#define H (3600 * 1000LL)

static rw_rules_params_t params;

static rw_replay_opts_t opts(int64_t watermark) {
        return (rw_replay_opts_t){
                .params = &params, .src = RW_SRC_ORDERS, .topic = "orders", .partition = 3,
                .lateness_ms = 5 * 60 * 1000, .interval_ms = H, .dep_decided = 0,
                .lim = { .window_days = rw_rules_state_days(&params), .dedup_ms = 7 * RW_DAY_MS,
                         .dedup_max = 64 },
                .watermark = watermark, .wall_ms = T0, .replay = 0,
        };
}

/* A history: `n` weekly orders of one account, then `gap` days of nothing
 * but other accounts' orders (which move event time on). */
typedef struct hist_s {
        rw_state_event_t evs[128];
        int64_t offs[128];
        char ids[128][16];
        size_t cnt;
} hist_t;

static void hist_add(hist_t *h, const char *acct, char kind, int64_t amount, int64_t at) {
        size_t i = h->cnt++;
        snprintf(h->ids[i], sizeof(h->ids[i]), "e%zu", i);
        h->evs[i] = (rw_state_event_t){ .kind = kind, .event_id = h->ids[i], .account = acct,
                                        .vendor = "v", .amount = amount, .occurred_at = at,
                                        .offset = (int64_t)i };
        h->offs[i] = (int64_t)i;
}

static void weekly_then_silent(hist_t *h) {
        memset(h, 0, sizeof(*h));
        for (int w = 0; w < 20; w++)
                hist_add(h, "quiet", 'P', 1000, T0 + w * 7 * RW_DAY_MS);
        for (int d = 0; d < 60; d += 2)
                hist_add(h, "busy", 'P', 500, T0 + (20 * 7 + d) * RW_DAY_MS);
}

/* Replays h[from, to) over the two views; appends the alert ids to ids. */
static void replay(const hist_t *h, size_t from, size_t to, rw_account_view_t *quiet,
                   rw_account_view_t *busy, int64_t *wm, char ids[][64], size_t *nids,
                   rw_replay_out_t *keep) {
        rw_account_view_t *avs[128], *accts[2] = { quiet, busy };
        rw_replay_opts_t o = opts(*wm);
        rw_replay_out_t out;

        for (size_t i = from; i < to; i++)
                avs[i - from] = !strcmp(h->evs[i].account, "quiet") ? quiet : busy;
        assert_int_equal(rw_replay_batch(&o, h->evs + from, h->offs + from, to - from, avs,
                                         accts, 2, &out), 0);
        for (size_t i = 0; i < out.alerts.cnt; i++)
                snprintf(ids[(*nids)++], 64, "%s %s %lld", out.alerts.v[i].alert_id,
                         out.alerts.v[i].rule, (long long)out.alerts.v[i].source_offset);
        *wm = out.watermark;
        if (keep)
                *keep = out;
        else
                rw_replay_out_clear(&out);
}

/* The quiet account fires churn.inactivity at its due time, time-driven
 * (source offset -1), while the busy account's orders move event time. */
static void test_inactivity_due(void **state) {
        hist_t h;
        rw_account_view_t quiet, busy;
        char ids[64][64];
        size_t n = 0, fired = 0;
        int64_t wm = 0;
        (void)state;

        weekly_then_silent(&h);
        rw_account_init(&quiet, "quiet");
        rw_account_init(&busy, "busy");
        replay(&h, 0, h.cnt, &quiet, &busy, &wm, ids, &n, NULL);
        for (size_t i = 0; i < n; i++)
                if (strstr(ids[i], "churn.inactivity") && strstr(ids[i], " -1"))
                        fired++;
        assert_int_equal(fired, 1);
        assert_int_equal(wm, h.evs[h.cnt - 1].occurred_at);
        rw_account_view_clear(&quiet);
        rw_account_view_clear(&busy);
}

/* The same alerts, ids and state whatever the batch boundaries. */
static void test_batch_boundaries(void **state) {
        hist_t h;
        char one[64][64], split[64][64];
        size_t n1 = 0, n2 = 0;
        (void)state;

        weekly_then_silent(&h);
        for (size_t cut = 1; cut < h.cnt; cut += 7) {
                rw_account_view_t q1, b1, q2, b2;
                int64_t wm1 = 0, wm2 = 0;
                n1 = n2 = 0;
                rw_account_init(&q1, "quiet");
                rw_account_init(&b1, "busy");
                rw_account_init(&q2, "quiet");
                rw_account_init(&b2, "busy");
                replay(&h, 0, h.cnt, &q1, &b1, &wm1, one, &n1, NULL);
                replay(&h, 0, cut, &q2, &b2, &wm2, split, &n2, NULL);
                replay(&h, cut, h.cnt, &q2, &b2, &wm2, split, &n2, NULL);
                assert_int_equal(n1, n2);
                for (size_t i = 0; i < n1; i++)
                        assert_string_equal(one[i], split[i]);
                assert_int_equal(wm1, wm2);
                assert_int_equal(q1.bucket_cnt, q2.bucket_cnt);
                assert_memory_equal(q1.buckets, q2.buckets, q1.bucket_cnt * sizeof(*q1.buckets));
                assert_int_equal(q1.due, q2.due);
                assert_memory_equal(q1.fp, q2.fp, sizeof(q1.fp));
                rw_account_view_clear(&q1);
                rw_account_view_clear(&b1);
                rw_account_view_clear(&q2);
                rw_account_view_clear(&b2);
        }
}

/* A re-delivery counts once: by offset (consumed again) or by id (sent
 * twice); neither moves state nor fires. */
static void test_duplicates(void **state) {
        hist_t h;
        rw_account_view_t quiet, busy;
        rw_replay_out_t out;
        char ids[64][64];
        size_t n = 0;
        int64_t wm = 0, total;
        (void)state;

        weekly_then_silent(&h);
        rw_account_init(&quiet, "quiet");
        rw_account_init(&busy, "busy");
        replay(&h, 0, 10, &quiet, &busy, &wm, ids, &n, NULL);
        total = quiet.orders_total;
        /* Offsets 5..9 again, then e9 (the account's latest, so within
         * the id horizon) again under a new offset. */
        memmove(&h.evs[0], &h.evs[5], 5 * sizeof(h.evs[0]));
        memmove(&h.offs[0], &h.offs[5], 5 * sizeof(h.offs[0]));
        h.evs[5] = h.evs[4];    /* e9 */
        h.evs[5].offset = h.offs[5] = 10;
        replay(&h, 0, 6, &quiet, &busy, &wm, ids, &n, &out);
        assert_int_equal(out.applied, 0);
        assert_int_equal(out.duplicates, 6);
        assert_string_equal(out.flags, "dddddd");
        assert_int_equal(out.pbk[0], -1);
        assert_int_equal(quiet.orders_total, total);
        rw_replay_out_clear(&out);
        rw_account_view_clear(&quiet);
        rw_account_view_clear(&busy);
}

/* An order counts in the portfolio interval of its time, but never in one
 * the partition has passed (late) or the group has decided. */
static void test_portfolio_interval(void **state) {
        hist_t h;
        rw_account_view_t a, b;
        rw_account_view_t *avs[3], *accts[2] = { &a, &b };
        rw_replay_opts_t o = opts(0);
        rw_replay_out_t out;
        (void)state;

        memset(&h, 0, sizeof(h));
        hist_add(&h, "quiet", 'P', 1, T0 + 10 * H);
        hist_add(&h, "quiet", 'P', 1, T0 + 2 * H);      /* late: now is 10h - 5m */
        hist_add(&h, "busy", 'P', 1, T0 + 11 * H);
        rw_account_init(&a, "quiet");
        rw_account_init(&b, "busy");
        avs[0] = avs[1] = &a;
        avs[2] = &b;
        o.dep_decided = T0 + 12 * H;
        assert_int_equal(rw_replay_batch(&o, h.evs, h.offs, 3, avs, accts, 2, &out), 0);
        assert_int_equal(out.pbk[0], (T0 + 12 * H) / H);        /* decided: next one */
        o.dep_decided = 0;
        rw_replay_out_clear(&out);
        rw_account_view_clear(&a);
        rw_account_view_clear(&b);
        rw_account_init(&a, "quiet");
        rw_account_init(&b, "busy");
        assert_int_equal(rw_replay_batch(&o, h.evs, h.offs, 3, avs, accts, 2, &out), 0);
        assert_int_equal(out.pbk[0], (T0 + 10 * H) / H);
        assert_int_equal(out.pbk[1], (T0 + 10 * H - 5 * 60 * 1000) / H);
        assert_int_equal(out.pbk[2], (T0 + 11 * H) / H);
        assert_int_equal(out.late, 1);
        rw_replay_out_clear(&out);
        rw_account_view_clear(&a);
        rw_account_view_clear(&b);
}

/* The inactivity alert of a silent account whose id is `acct`: its
 * fingerprint and alert id. */
static void long_id_alert(const char *acct, char **fprp, char *aid) {
        hist_t h;
        rw_account_view_t quiet, busy, *avs[128], *accts[2] = { &quiet, &busy };
        rw_replay_opts_t o = opts(0);
        rw_replay_out_t out;
        size_t found = 0;

        weekly_then_silent(&h);
        for (size_t i = 0; i < h.cnt; i++) {
                if (!strcmp(h.evs[i].account, "quiet"))
                        h.evs[i].account = acct;
                avs[i] = h.evs[i].account == acct ? &quiet : &busy;
        }
        assert_int_equal(rw_account_init(&quiet, acct), 0);
        assert_int_equal(rw_account_init(&busy, "busy"), 0);
        assert_int_equal(rw_replay_batch(&o, h.evs, h.offs, h.cnt, avs, accts, 2, &out), 0);
        for (size_t i = 0; i < out.alerts.cnt; i++)
                if (!strcmp(out.alerts.v[i].rule, "churn.inactivity")) {
                        assert_non_null(*fprp = strdup(out.alerts.v[i].fingerprint));
                        snprintf(aid, 40, "%s", out.alerts.v[i].alert_id);
                        assert_string_equal(out.alerts.v[i].subject_id, acct);
                        assert_non_null(strstr(out.alerts.v[i].summary, acct));
                        found++;
                }
        assert_int_equal(found, 1);
        rw_replay_out_clear(&out);
        rw_account_view_clear(&quiet);
        rw_account_view_clear(&busy);
}

/* Two 10,240-byte account ids differing in the last character: whole
 * fingerprints, distinct alert ids. */
/* Replays h[from, to) with the other orders partitions `peers` (peer_cnt
 * as rw_replay_opts_t has it); returns how many churn.inactivity FIRING. */
static int replay_peers(const hist_t *h, size_t from, size_t to, rw_account_view_t *quiet,
                        rw_account_view_t *busy, int64_t *wm, rw_input_gaps_t *gaps,
                        const rw_input_peer_t *peers, ssize_t peer_cnt,
                        rw_replay_out_t *out) {
        rw_account_view_t *avs[128], *accts[2] = { quiet, busy };
        rw_replay_opts_t o = opts(*wm);
        int fired = 0;

        o.gaps = *gaps;
        o.peers = peers;
        o.peer_cnt = peer_cnt;
        for (size_t i = from; i < to; i++)
                avs[i - from] = !strcmp(h->evs[i].account, "quiet") ? quiet : busy;
        assert_int_equal(rw_replay_batch(&o, h->evs + from, h->offs + from, to - from, avs,
                                         accts, 2, out), 0);
        for (size_t i = 0; i < out->alerts.cnt; i++)
                fired += !strcmp(out->alerts.v[i].rule, "churn.inactivity") &&
                         out->alerts.v[i].status == RW_ALERT_FIRING;
        *wm = out->watermark;
        *gaps = out->gaps;
        return fired;
}

/* The partition's events jump 30 days after the quiet account's last order
 * (a gap of the partition). Not knowing the other partitions, the batch
 * stops at the record that ends the gap (the events before it replayed,
 * the gap itself stored); once they are known, a live peer makes it no
 * outage (the quiet account's inactivity fires, as one pass with the peer
 * known gives), a peer silent over the same days makes it one (held). */
static void test_gap_waits_for_peers(void **state) {
        hist_t h;
        rw_input_peer_t live = { .partition = 0, .known = 1 }, silent;
        (void)state;

        memset(&h, 0, sizeof(h));
        for (int w = 0; w < 20; w++)
                hist_add(&h, "quiet", 'P', 1000, T0 + w * 7 * RW_DAY_MS);
        for (int d = 0; d < 10; d++)
                hist_add(&h, "busy", 'P', 500, T0 + (19 * 7 + 30 + d) * RW_DAY_MS);
        live.watermark = h.evs[h.cnt - 1].occurred_at;
        silent = live;
        silent.gaps.v[0] = (rw_input_gap_t){ T0, h.evs[20].occurred_at };
        silent.gaps.cnt = 1;
        for (int peer = 0; peer < 2; peer++) {
                rw_account_view_t q1, b1, q2, b2;
                rw_input_gaps_t g1 = { 0 }, g2 = { 0 };
                rw_replay_out_t out;
                int64_t wm1 = 0, wm2 = 0;
                int fired1, fired2;
                const rw_input_peer_t *pp = peer ? &silent : &live;

                rw_account_init(&q1, "quiet");
                rw_account_init(&b1, "busy");
                rw_account_init(&q2, "quiet");
                rw_account_init(&b2, "busy");
                fired1 = replay_peers(&h, 0, h.cnt, &q1, &b1, &wm1, &g1, pp, 1, &out);
                assert_int_equal(out.stop, -1);
                assert_int_equal(g1.cnt, 1);
                assert_int_equal(g1.out_cnt, peer);
                rw_replay_out_clear(&out);
                /* Peers not read: stops at event 20, the gap stored. */
                fired2 = replay_peers(&h, 0, h.cnt, &q2, &b2, &wm2, &g2, NULL, -1, &out);
                assert_int_equal(out.stop, 20);
                assert_int_equal(out.need, h.evs[20].occurred_at);
                assert_int_equal(out.flags[19], '1');
                assert_int_equal(out.flags[20], 0);
                assert_int_equal(out.applied, 20);
                assert_int_equal(wm2, h.evs[19].occurred_at);
                assert_int_equal(g2.cnt, 1);
                assert_int_equal(g2.out_cnt, 0);
                rw_replay_out_clear(&out);
                /* A peer not past the gap's end: still waiting. */
                live.watermark = h.evs[19].occurred_at;
                fired2 += replay_peers(&h, 20, h.cnt, &q2, &b2, &wm2, &g2, &live, 1, &out);
                assert_int_equal(out.stop, 0);
                rw_replay_out_clear(&out);
                live.watermark = h.evs[h.cnt - 1].occurred_at;
                fired2 += replay_peers(&h, 20, h.cnt, &q2, &b2, &wm2, &g2, pp, 1, &out);
                assert_int_equal(out.stop, -1);
                assert_int_equal(g2.cnt, 1);            /* noted once */
                assert_int_equal(g2.out_cnt, peer);
                rw_replay_out_clear(&out);
                assert_int_equal(fired1, !peer);
                assert_int_equal(fired2, fired1);
                assert_memory_equal(q1.fp, q2.fp, sizeof(q1.fp));
                rw_account_view_clear(&q1);
                rw_account_view_clear(&b1);
                rw_account_view_clear(&q2);
                rw_account_view_clear(&b2);
        }
}

/* An idle partition's follow (no records) from day 100 to day 150: a gap of
 * its own; an outage of the group where its peer was silent too. */
static void test_follow_gap(void **state) {
        rw_input_peer_t peer = { .partition = 1, .known = 1, .watermark = T0 + 150 * RW_DAY_MS };
        (void)state;

        for (int silent = 0; silent < 2; silent++) {
                rw_replay_opts_t o = opts(T0 + 150 * RW_DAY_MS + 5 * 60 * 1000);
                rw_replay_out_t out;

                peer.gaps.cnt = silent;
                peer.gaps.v[0] = (rw_input_gap_t){ T0 + 90 * RW_DAY_MS, T0 + 150 * RW_DAY_MS };
                o.follow_from = T0 + 100 * RW_DAY_MS;
                o.peers = &peer;
                o.peer_cnt = 1;
                assert_true(rw_replay_gap_ahead(&o, NULL, 0));
                assert_int_equal(rw_replay_batch(&o, NULL, NULL, 0, NULL, NULL, 0, &out), 0);
                assert_true(out.gaps_changed);
                assert_int_equal(out.gaps.cnt, 1);
                assert_int_equal(out.gaps.v[0].start, T0 + 100 * RW_DAY_MS);
                assert_int_equal(out.gaps.v[0].end, T0 + 150 * RW_DAY_MS);
                assert_int_equal(out.gaps.out_cnt, silent);
                rw_replay_out_clear(&out);
                /* A small step is no gap. */
                o.follow_from = T0 + 145 * RW_DAY_MS;
                assert_false(rw_replay_gap_ahead(&o, NULL, 0));
        }
}

static void test_long_ids_do_not_collide(void **state) {
        enum { LEN = 10240 };
        char *a = malloc(LEN + 1), *b = malloc(LEN + 1), *fa = NULL, *fb = NULL;
        char ida[40], idb[40];

        (void)state;
        assert_non_null(a);
        assert_non_null(b);
        memset(a, 'a', LEN);
        a[LEN] = '\0';
        memcpy(b, a, LEN + 1);
        b[LEN - 1] = 'b';
        long_id_alert(a, &fa, ida);
        long_id_alert(b, &fb, idb);
        assert_int_equal(strlen(fa), strlen("churn.inactivity/ACCOUNT/") + LEN);
        assert_string_not_equal(fa, fb);
        assert_string_not_equal(ida, idb);
        free(fa);
        free(fb);
        free(a);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_long_ids_do_not_collide),
                cmocka_unit_test(test_inactivity_due),
                cmocka_unit_test(test_gap_waits_for_peers),
                cmocka_unit_test(test_follow_gap),
                cmocka_unit_test(test_batch_boundaries),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_portfolio_interval),
        };
        rw_conf_t *conf = rw_conf_new();
        char errstr[256];
        int rc;

        assert_int_equal(rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr)), 0);
        rc = cmocka_run_group_tests(tests, NULL, NULL);
        rw_conf_destroy(conf);
        return rc;
}
