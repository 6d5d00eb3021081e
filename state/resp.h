/* resp.h - Redis commands in the protocol's own encoding (RESP), built by
 * riskwatch rather than by hiredis' per-argument formatting (a tenth of the
 * write path's time), and written to the socket as they are built. Inside
 * state/ only. */
#ifndef RW_RESP_H
#define RW_RESP_H

#include <stddef.h>
#include <hiredis/hiredis.h>

/* With `rc` set, what the buffer holds goes to rc's socket whenever it
 * reaches RW_RESP_FLUSH bytes, and an argument of that size or more goes
 * from the caller's memory without a copy: a command or a transaction of
 * any size needs no more buffer than that, and Redis parses its start while
 * the rest is encoded. hiredis' own output buffer must be empty meanwhile
 * (the bytes go out in order). */
#define RW_RESP_FLUSH (256 * 1024)

typedef struct rw_resp_s {
        char *b;                /* the buffer (kept by the caller between uses) */
        size_t len, size;
        int oom;                /* out of memory: what follows is dropped */
        int ioerr;              /* a write failed: rc has the error */
        redisContext *rc;       /* flush to its socket (NULL: build only) */
} rw_resp_t;

/* "<tag><n>\r\n" at b (room for 23 bytes), the protocol's header of an
 * array (tag '*') or a bulk string ('$'); its length. */
size_t rw_resp_head(char *b, char tag, size_t n);
/* A command of argc arguments: its header, then rw_resp_arg() argc times. */
void rw_resp_cmd(rw_resp_t *r, size_t argc);
void rw_resp_arg(rw_resp_t *r, const char *p, size_t len);
void rw_resp_str(rw_resp_t *r, const char *p);
/* What the buffer holds out to the socket (once a write failed, dropped). */
void rw_resp_flush(rw_resp_t *r);

/* rc's error as a person reads it: hiredis words a read that waited
 * redis.timeout (SO_RCVTIMEO) as the socket's EAGAIN, "Resource temporarily
 * unavailable"; that one is "timed out (no answer within redis.timeout)". */
const char *rw_redis_strerror(const redisContext *rc);

/* Write all of b to rc's socket, bypassing hiredis' output buffer. 0, or -1
 * with rc's error set. */
int rw_redis_write_all(redisContext *rc, const char *b, size_t len);

#endif
