/* redis_child.h - a private redis-server child on a Unix socket (the demo's
 * embedded Redis); it dies with its parent. */
#ifndef RW_REDIS_CHILD_H
#define RW_REDIS_CHILD_H

#include <sys/types.h>
#include "common/rw.h"

typedef struct rw_redis_child_s {
        pid_t pid;
        char dir[256];          /* private temp dir holding the socket */
        char sock[320];
        char url[400];          /* unix:///.../redis.sock */
} rw_redis_child_t;

/* Start `redis-server` (from PATH) with no persistence in a fresh temp dir
 * and wait until it answers PING. RW_ERR_FAIL + errstr on failure. */
rw_err_t rw_redis_child_start(rw_redis_child_t *rc, char *errstr, size_t errstr_size);

/* Stop the child (SIGTERM, then SIGKILL) and remove its directory. Safe to
 * call twice. */
void rw_redis_child_stop(rw_redis_child_t *rc);

#endif
