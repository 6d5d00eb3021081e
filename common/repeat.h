/* repeat.h - a fault met again at every attempt (a pass, a tick) without
 * a log storm: said when it starts, again at most every RW_REPEAT_EVERY_MS
 * while it lasts (how long, how many attempts), and once when it ends.
 * One rw_repeat_t per fault and thread. */
#ifndef RW_REPEAT_H
#define RW_REPEAT_H

#include <stdint.h>

#define RW_REPEAT_EVERY_MS 30000

typedef struct rw_repeat_s {
        int64_t since_ms;       /* the first failed attempt (0: not failing) */
        int64_t said_ms;        /* when last said */
        int64_t attempts;       /* failed attempts since since_ms */
} rw_repeat_t;

/* A failed attempt of `what` at now_ms (monotonic) with the error err:
 * a warning when it is the first or every_ms passed since the last one
 * said. Returns 1 when it said one, 0 otherwise. */
int rw_repeat_fail(rw_repeat_t *r, int64_t now_ms, int64_t every_ms, const char *what,
                   const char *err);

/* An attempt of `what` that succeeded at now_ms: if it was failing, says
 * that it works again after how long and how many failed attempts, and
 * forgets the failure. Returns 1 when it said so, 0 otherwise. */
int rw_repeat_ok(rw_repeat_t *r, int64_t now_ms, const char *what);

#endif
