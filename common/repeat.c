/* repeat.c - a recurring fault said once, then at intervals (repeat.h). */
#include <inttypes.h>
#include "common/repeat.h"
#include "common/log.h"
#include "common/rw.h"

int rw_repeat_fail(rw_repeat_t *r, int64_t now_ms, int64_t every_ms, const char *what,
                   const char *err) {
        char every[32], dur[32];

        r->attempts++;
        if (!r->since_ms) {
                r->since_ms = r->said_ms = now_ms ? now_ms : 1;
                rw_log_warn("%s: %s (retrying; said again every %s while it lasts)", what, err,
                            rw_fmt_duration(every, sizeof(every), every_ms));
                return 1;
        }
        if (now_ms - r->said_ms < every_ms)
                return 0;
        r->said_ms = now_ms;
        rw_log_warn("%s: still failing after %s (%" PRId64 " attempts): %s", what,
                    rw_fmt_duration(dur, sizeof(dur), now_ms - r->since_ms), r->attempts,
                    err);
        return 1;
}

int rw_repeat_ok(rw_repeat_t *r, int64_t now_ms, const char *what) {
        char dur[32];

        if (!r->since_ms)
                return 0;
        rw_log_info("%s: working again after %s (%" PRId64 " failed attempt%s)", what,
                    rw_fmt_duration(dur, sizeof(dur), now_ms - r->since_ms), r->attempts,
                    r->attempts == 1 ? "" : "s");
        *r = (rw_repeat_t){ 0 };
        return 1;
}
