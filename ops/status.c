/* status.c - the status line `run` logs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ops/status.h"

const char *rw_status_format(const rw_status_t *st, char *buf, size_t size) {
        char rate[32], lag[64], wm[128], ts[40], dur[32], redis[700];
        int64_t per_s = st->elapsed_ms > 0 ?
                        (st->records * 1000 + st->elapsed_ms / 2) / st->elapsed_ms : 0;

        rw_fmt_count(rate, sizeof(rate), per_s);
        if (st->lag >= 0) {
                char n[32];
                snprintf(lag, sizeof(lag), "lag %s record%s",
                         rw_fmt_count(n, sizeof(n), st->lag), st->lag == 1 ? "" : "s");
        } else {
                snprintf(lag, sizeof(lag), "lag not known yet");
        }
        if (st->watermark > 0)
                snprintf(wm, sizeof(wm), "watermark %s (%s behind)",
                         rw_fmt_time(ts, sizeof(ts), st->watermark),
                         rw_fmt_duration(dur, sizeof(dur), st->now_ms - st->watermark));
        else
                snprintf(wm, sizeof(wm), "no watermark yet");
        if (!st->redis_ok)
                snprintf(redis, sizeof(redis), "redis failing since %s: %s",
                         rw_fmt_time(ts, sizeof(ts), st->redis_err_at),
                         st->redis_err && *st->redis_err ? st->redis_err : "unknown error");
        else if (st->redis_err && *st->redis_err)
                snprintf(redis, sizeof(redis), "redis ok (last error %s: %s)",
                         rw_fmt_time(ts, sizeof(ts), st->redis_err_at), st->redis_err);
        else
                snprintf(redis, sizeof(redis), "redis ok");
        snprintf(buf, size, "status: %s records/s, %d partition%s, %s, %s, %" PRId64
                 " alert%s since start, %s", rate, st->assigned,
                 st->assigned == 1 ? "" : "s", lag, wm, st->alerts,
                 st->alerts == 1 ? "" : "s", redis);
        return buf;
}
