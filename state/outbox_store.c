/* outbox_store.c - read and trim an outbox list (LRANGE, LTRIM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/outbox_store.h"
#include "state/state_int.h"

static void rw_outbox_key(rw_state_t *st, const char *tag, const char *topic,
                          char *key, size_t size) {
        if (topic)
                snprintf(key, size, "%s:{%s}:outbox:%s", rw_state_ns(st), tag, topic);
        else
                snprintf(key, size, "%s:{%s}:outbox", rw_state_ns(st), tag);
}

/* One command; an error reply is RW_ERR_FAIL, a lost connection RW_ERR_IO. */
static rw_err_t rw_outbox_cmd(rw_state_t *st, int argc, const char **argv,
                              const char *key, redisReply **rp,
                              char *errstr, size_t errstr_size) {
        redisContext *rc;
        redisReply *r;

        *rp = NULL;
        if (!(rc = rw_state_conn(st, errstr, errstr_size)))
                return rw_state_conn_err(st);
        if (!(r = redisCommandArgv(rc, argc, argv, NULL))) {
                snprintf(errstr, errstr_size, "redis: outbox %s: %s", key,
                         rc->errstr[0] ? rc->errstr : "connection lost");
                return RW_ERR_IO;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                int transient = rw_reply_transient(r);
                snprintf(errstr, errstr_size, "redis: %s %s: %.*s", argv[0], key,
                         (int)r->len, r->str);
                freeReplyObject(r);
                return transient ? RW_ERR_IO : RW_ERR_FAIL;
        }
        *rp = r;
        return RW_OK;
}

rw_err_t rw_outbox_store_read(rw_state_t *st, const char *tag, const char *topic,
                              size_t max, rw_outbox_items_t *out,
                              char *errstr, size_t errstr_size) {
        char key[512], stop[24];
        const char *argv[] = { "LRANGE", key, "0", stop };
        redisReply *r = NULL;
        rw_err_t err;

        memset(out, 0, sizeof(*out));
        if (!max)
                return RW_OK;
        rw_outbox_key(st, tag, topic, key, sizeof(key));
        snprintf(stop, sizeof(stop), "%zu", max - 1);
        if ((err = rw_outbox_cmd(st, 4, argv, key, &r, errstr, errstr_size)))
                return err;
        if (r->type != REDIS_REPLY_ARRAY) {
                snprintf(errstr, errstr_size, "redis: LRANGE %s: unexpected reply", key);
                err = RW_ERR_FAIL;
                goto done;
        }
        if (r->elements && !(out->v = calloc(r->elements, sizeof(*out->v)))) {
                err = RW_ERR_NOMEM;
                goto done;
        }
        for (size_t i = 0; i < r->elements; i++) {
                const redisReply *e = r->element[i];
                if (e->type != REDIS_REPLY_STRING)
                        continue;       /* not written by riskwatch: skipped */
                if (!(out->v[out->cnt].buf = malloc(e->len + 1))) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                memcpy(out->v[out->cnt].buf, e->str, e->len);
                out->v[out->cnt].buf[e->len] = '\0';
                out->v[out->cnt++].len = e->len;
        }
done:
        if (err == RW_ERR_NOMEM) {
                snprintf(errstr, errstr_size, "out of memory");
                rw_outbox_items_clear(out);
        }
        freeReplyObject(r);
        return err;
}

rw_err_t rw_outbox_store_trim(rw_state_t *st, const char *tag, const char *topic,
                              size_t cnt, char *errstr, size_t errstr_size) {
        char key[512], from[24];
        const char *argv[] = { "LTRIM", key, from, "-1" };
        redisReply *r = NULL;
        rw_err_t err;

        if (!cnt)
                return RW_OK;
        rw_outbox_key(st, tag, topic, key, sizeof(key));
        snprintf(from, sizeof(from), "%zu", cnt);
        if ((err = rw_outbox_cmd(st, 4, argv, key, &r, errstr, errstr_size)))
                return err;
        freeReplyObject(r);
        return RW_OK;
}

void rw_outbox_items_clear(rw_outbox_items_t *items) {
        if (!items)
                return;
        for (size_t i = 0; i < items->cnt; i++)
                free(items->v[i].buf);
        free(items->v);
        memset(items, 0, sizeof(*items));
}
