/* resp.c - commands in the protocol's own encoding (see resp.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/rw.h"
#include "state/resp.h"

const char *rw_redis_strerror(const redisContext *rc) {
        if (rc->err == REDIS_ERR_IO &&
            (!strcmp(rc->errstr, strerror(EAGAIN)) || !strcmp(rc->errstr, strerror(EWOULDBLOCK))))
                return "timed out (no answer within redis.timeout)";
        return rc->errstr;
}

int rw_redis_write_all(redisContext *rc, const char *b, size_t len) {
        while (len) {
                ssize_t n = write(rc->fd, b, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        rc->err = REDIS_ERR_IO;
                        snprintf(rc->errstr, sizeof(rc->errstr), "%s",
                                 n < 0 ? strerror(errno) : "connection closed");
                        return -1;
                }
                b += n;
                len -= (size_t)n;
        }
        return 0;
}

size_t rw_resp_head(char *b, char tag, size_t n) {
        size_t l;

        b[0] = tag;
        l = 1 + rw_i64_str(b + 1, (int64_t)n);
        b[l++] = '\r';
        b[l++] = '\n';
        return l;
}

void rw_resp_flush(rw_resp_t *r) {
        if (!r->ioerr && r->len && rw_redis_write_all(r->rc, r->b, r->len))
                r->ioerr = 1;
        r->len = 0;
}

static void rw_resp_put(rw_resp_t *r, char tag, size_t n, const void *data, size_t len) {
        int direct = r->rc && data && len >= RW_RESP_FLUSH;

        if (r->rc && (direct || r->len >= RW_RESP_FLUSH))
                rw_resp_flush(r);
        if (r->oom || rw_grow(&r->b, &r->size, r->len + 24 + (direct ? 0 : len) + 2, 1,
                              1 << 16)) {
                r->oom = 1;
                return;
        }
        r->len += rw_resp_head(r->b + r->len, tag, n);
        if (!data)
                return;
        if (direct) {           /* the header, then the argument where it is */
                rw_resp_flush(r);
                if (!r->ioerr && rw_redis_write_all(r->rc, data, len))
                        r->ioerr = 1;
        } else {
                memcpy(r->b + r->len, data, len);
                r->len += len;
        }
        r->b[r->len++] = '\r';
        r->b[r->len++] = '\n';
}

void rw_resp_cmd(rw_resp_t *r, size_t argc) {
        rw_resp_put(r, '*', argc, NULL, 0);
}

void rw_resp_arg(rw_resp_t *r, const char *p, size_t len) {
        rw_resp_put(r, '$', len, p, len);
}

void rw_resp_str(rw_resp_t *r, const char *p) {
        rw_resp_arg(r, p, strlen(p));
}
