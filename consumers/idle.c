/* idle.c - which input partitions hold event time back: at their end for
 * idle.timeout (idle) or not (behind, or live). */
#include "consumers/idle.h"

int rw_idle_at_end(int eof, int64_t next, int64_t high, int busy) {
        if (!eof || busy || high < 0)
                return 0;
        return (next < 0 ? 0 : next) >= high;
}

int rw_idle_is_idle(const rw_idle_opts_t *o, const rw_bstore_prog_t *r, int64_t wall_now) {
        if (o->replay || !r->ok || r->end_since <= 0)
                return 0;
        /* A stale report: its owner may have stalled since (Redis, Kafka or
         * the process itself), and records may have arrived meanwhile. */
        if (wall_now - r->wall_ms > o->fresh_ms)
                return 0;
        return wall_now - r->end_since >= o->idle_timeout_ms;
}

int64_t rw_idle_clock(int64_t watermark, int64_t group) {
        return group > watermark ? group : watermark;
}

int64_t rw_idle_low(const rw_idle_opts_t *o, const rw_bstore_prog_t *v, size_t n,
                    int32_t parts, int64_t wall_now) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        int active = 0;

        if (parts <= 0)
                return INT64_MIN;
        for (int32_t p = 0; p < parts; p++) {
                const rw_bstore_prog_t *r = NULL;

                for (size_t j = 0; j < n; j++)
                        if (v[j].partition == p)
                                r = &v[j];
                if (!r || !r->ok)
                        return INT64_MIN;       /* not known: holds everything back */
                if (rw_idle_is_idle(o, r, wall_now)) {
                        if (rw_idle_clock(r->watermark, INT64_MIN) > hi)
                                hi = rw_idle_clock(r->watermark, INT64_MIN);
                        continue;
                }
                active = 1;
                if (r->watermark - o->lateness_ms < lo)
                        lo = r->watermark - o->lateness_ms;
        }
        return active ? lo : hi;
}
