/* follow.c - quiet partitions keep time: end-of-partition reports, and an
 * idle partition's clock following the group's low watermark. */
#include <stdlib.h>
#include <string.h>
#include "consumers/processor_int.h"
#include "consumers/idle.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/repeat.h"

/* The clock an idle partition should move to (consumers/idle.h), or 0 when
 * it is not idle (at its end for idle.timeout; never in a replay, run -e)
 * or already there; it needs a stored position (accounts to follow). */
static int64_t rw_follow_target(const rw_processor_t *proc, const rw_part_t *p) {
        int64_t t;

        if (proc->opts.exit_at_eof || !p->assigned || !p->end_since || p->expected <= 0 ||
            p->retry_at >= 0 || rw_now_ms() - p->end_since < proc->idle_timeout_ms)
                return 0;
        t = rw_idle_clock(p->watermark, proc->group_now);
        return t > p->followed ? t : 0;
}

/* Whether an idle partition has a clock to move (a batch without records). */
int rw_follow_due(const rw_processor_t *proc) {
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (rw_follow_target(proc, &proc->parts[i]))
                        return 1;
        return 0;
}

/* Idle partitions with no record in this batch follow: their due accounts
 * are evaluated up to their clock, written with their unchanged offset. */
void rw_follow_mark(rw_processor_t *proc) {
        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t t = p->last_offset < 0 ? rw_follow_target(proc, p) : 0;
                if (!t)
                        continue;
                p->follow = p->followed = t;
                p->last_offset = p->expected - 1;
        }
}

/* Which owned partitions are at their end, and since when (consumers/
 * idle.h); for the orders partitions, say so in their reports (refreshed
 * every tick while it holds), or withdraw it once it no longer holds. */
static void rw_report_ends(rw_processor_t *proc) {
        rw_bstore_prog_t *v = calloc(proc->part_cnt + 1, sizeof(*v));
        int64_t *expected = calloc(proc->part_cnt + 1, sizeof(*expected));
        const int64_t now = rw_now_ms();
        rw_bstore_t bs = { 0 };
        char errstr[512];
        size_t n = 0;

        if (!v || !expected)
                abort();
        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];
                int64_t lo, hi = -1;
                int end;

                if (!p->assigned) {
                        p->end_since = 0;
                        p->end_reported = 0;
                        continue;
                }
                /* The high watermark of the last fetch: no network. */
                if (rd_kafka_get_watermark_offsets(proc->rk, p->topic, p->partition, &lo, &hi))
                        hi = -1;
                end = rw_idle_at_end(p->eof, p->expected, hi,
                                     p->w || (p->fl_w && !p->fl_follow) ||
                                     p->retry_at >= 0);
                p->end_since = !end ? 0 : p->end_since ? p->end_since : now;
                if (strcmp(p->topic, proc->topic_orders) || (!end && !p->end_reported))
                        continue;
                expected[n] = p->expected;
                v[n++] = (rw_bstore_prog_t){ .partition = p->partition, .ok = 1,
                                             .watermark = p->watermark, .wall_ms = now,
                                             .end_since = p->end_since };
                p->end_reported = end;
        }
        rw_bstore_init(&bs, proc->state);
        if (n && rw_bstore_report(&bs, proc->topic_orders, v, expected, n, errstr,
                                  sizeof(errstr)))
                rw_log_debug("partition reports: %s", errstr);
        free(v);
        free(expected);
}

/* Every half second on the loop: say which owned partitions are at their
 * end, and, while one is, read the group's low watermark it follows (the
 * decider, on its own thread, reads the reports). */
void rw_loop_tick(rw_processor_t *proc) {
        char errstr[512];
        rw_err_t err = RW_OK;
        int hopeless, asked = 0;

        proc->tick_at = rw_mono_ms() + 500;
        (void)rw_hold_release(proc, &hopeless);    /* waiting partitions */
        rw_report_ends(proc);
        if (proc->opts.exit_at_eof || (!proc->orders_partitions &&
                                       !(proc->orders_partitions = rw_kafka_partition_cnt(proc->rk, proc->topic_orders))))
                return;
        for (size_t i = 0; i < proc->part_cnt; i++) {
                if (!proc->parts[i].assigned || !proc->parts[i].end_since)
                        continue;
                err = rw_boundary_low_watermark(proc->boundary, proc->state,
                                                proc->orders_partitions, rw_now_ms(),
                                                &proc->group_now, errstr, sizeof(errstr));
                asked = 1;
                break;
        }
        if (err == RW_ERR_IO) {
                rw_repeat_fail(&proc->low_fault, rw_mono_ms(), RW_REPEAT_EVERY_MS,
                               "the group's low watermark", errstr);
                rw_state_reconnect(proc->state, errstr, sizeof(errstr));
        } else if (err) {
                rw_fatal(proc, "dependency rules: %s", errstr);
        } else if (asked) {
                rw_repeat_ok(&proc->low_fault, rw_mono_ms(), "the group's low watermark");
        }
}
