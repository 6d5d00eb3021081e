/* idle.h - which input partitions hold event time back (pure). A partition
 * counts as idle only when its owner has seen it at its end (every record
 * the broker holds applied and stored) for idle.timeout of wall time, and
 * says so still (a fresh report). A partition that is merely behind (its
 * fetches or its writes stalled, its owner gone) never counts as idle,
 * however long it has been silent: it holds the group's low watermark back
 * until it catches up.
 *
 * Each orders partition's owner reports in NS:{dep}:prog (key layout:
 * consumers/boundary.h) "<wm>,<wall ms>" with every batch it stores (not at
 * its end), and "<wm>,<wall ms>,<end since>" while it is at its end,
 * refreshed every tick, and only while Redis holds the offset it wrote (a
 * Redis that lost writes does not hear that the partition is at its end). */
#ifndef RW_IDLE_H
#define RW_IDLE_H

#include "common/rw.h"
#include "state/boundary_store.h"       /* rw_bstore_prog_t */

typedef struct rw_idle_opts_s {
        int64_t lateness_ms;            /* allowed.lateness */
        int64_t idle_timeout_ms;        /* idle.timeout */
        int64_t fresh_ms;               /* an at-end report older than this says nothing */
        int replay;                     /* run -e: a replay of what the input holds,
                                         * no partition counts as idle (a pure
                                         * function of the input, not of time) */
} rw_idle_opts_t;

/* How long an at-end report stays believable: its owner refreshes it every
 * half second. */
#define RW_IDLE_FRESH_MS 5000

/* Whether the owner of a partition may say it is at its end: it has read up
 * to the end (eof, librdkafka's end-of-partition), every record up to the
 * broker's high watermark `high` (< 0: not known) is stored (`next`, the
 * stored next offset, < 0: none stored) and nothing of it is pending
 * (`busy`: a write being built or in flight, a record waiting). */
int rw_idle_at_end(int eof, int64_t next, int64_t high, int busy);

/* Whether report `r` says its partition is idle at wall time `wall_now`. */
int rw_idle_is_idle(const rw_idle_opts_t *o, const rw_bstore_prog_t *r, int64_t wall_now);

/* An idle partition's event clock: its highest event time `watermark` (the
 * lateness allowance no longer holds its last records back), following the
 * group's low watermark `group` (INT64_MIN: none) once the group is ahead.
 * Its owner evaluates its accounts' due times up to it, and stores it as
 * the partition's watermark. */
int64_t rw_idle_clock(int64_t watermark, int64_t group);

/* The group's low watermark L over orders partitions 0..parts-1 from their
 * reports v[0..n-1]: the lowest now (watermark - lateness) of the partitions
 * that are not idle; a partition that never reported, or whose report does
 * not parse, holds it back (INT64_MIN). When every partition is idle, the
 * highest of their clocks (rw_idle_clock(): the lateness allowance no longer
 * applies). INT64_MIN: none yet. */
int64_t rw_idle_low(const rw_idle_opts_t *o, const rw_bstore_prog_t *v, size_t n,
                    int32_t parts, int64_t wall_now);

#endif
