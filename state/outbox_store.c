/* outbox_store.c - read and trim an outbox list (LRANGE, LTRIM), and the
 * slot's firing set beside it (HGETALL; HSET/HDEL with the trim). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/outbox_store.h"
#include "state/state_int.h"

/* The slot's key `kind` ("outbox", "firing"). */
static void rw_slot_key(rw_state_t *st, const char *kind, const char *tag,
                        const char *topic, char *key, size_t size) {
        if (topic)
                snprintf(key, size, "%s:{%s}:%s:%s", rw_state_ns(st), tag, kind, topic);
        else
                snprintf(key, size, "%s:{%s}:%s", rw_state_ns(st), tag, kind);
}

static void rw_outbox_key(rw_state_t *st, const char *tag, const char *topic,
                          char *key, size_t size) {
        rw_slot_key(st, "outbox", tag, topic, key, size);
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
        int64_t t0 = rw_state_rt_begin();
        r = redisCommandArgv(rc, argc, argv, NULL);
        rw_state_rt_end(t0);
        if (!r) {
                snprintf(errstr, errstr_size, "redis: outbox %s: %s", key,
                         rc->errstr[0] ? rw_redis_strerror(rc) : "connection lost");
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

/* Append a copy of a string reply (NUL-terminated) to out, whose v has
 * room. -1 when out of memory. */
static int rw_outbox_item_add(rw_outbox_items_t *out, const redisReply *e) {
        if (!(out->v[out->cnt].buf = malloc(e->len + 1)))
                return -1;
        memcpy(out->v[out->cnt].buf, e->str, e->len);
        out->v[out->cnt].buf[e->len] = '\0';
        out->v[out->cnt++].len = e->len;
        return 0;
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
                if (rw_outbox_item_add(out, e)) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
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
                              size_t cnt, const rw_firing_update_t *ups, size_t up_cnt,
                              char *errstr, size_t errstr_size) {
        char key[512], fkey[512], from[24];
        const char *lt[] = { "LTRIM", key, from, "-1" }, *multi[] = { "MULTI" },
                   *exec[] = { "EXEC" };
        redisContext *rc;
        redisReply *r = NULL;
        rw_err_t err = RW_OK;
        size_t sent = 0, i;
        int64_t t0;

        if (!cnt && !up_cnt)
                return RW_OK;
        if (!up_cnt) {
                rw_outbox_key(st, tag, topic, key, sizeof(key));
                snprintf(from, sizeof(from), "%zu", cnt);
                if ((err = rw_outbox_cmd(st, 4, lt, key, &r, errstr, errstr_size)))
                        return err;
                freeReplyObject(r);
                return RW_OK;
        }
        rw_outbox_key(st, tag, topic, key, sizeof(key));
        rw_slot_key(st, "firing", tag, topic, fkey, sizeof(fkey));
        snprintf(from, sizeof(from), "%zu", cnt);
        if (!(rc = rw_state_conn(st, errstr, errstr_size)))
                return rw_state_conn_err(st);
        /* One round trip: MULTI, LTRIM, the updates in order, EXEC. */
        if (redisAppendCommandArgv(rc, 1, multi, NULL) != REDIS_OK)
                goto io;
        sent++;
        if (redisAppendCommandArgv(rc, 4, lt, NULL) != REDIS_OK)
                goto io;
        sent++;
        for (i = 0; i < up_cnt; i++) {
                const char *hv[4] = { ups[i].buf ? "HSET" : "HDEL", fkey,
                                      ups[i].fingerprint, ups[i].buf };
                size_t lens[4] = { strlen(hv[0]), strlen(fkey), strlen(ups[i].fingerprint),
                                   ups[i].len };
                if (redisAppendCommandArgv(rc, ups[i].buf ? 4 : 3, hv, lens) != REDIS_OK)
                        goto io;
                sent++;
        }
        if (redisAppendCommandArgv(rc, 1, exec, NULL) != REDIS_OK)
                goto io;
        sent++;
        t0 = rw_state_rt_begin();
        for (i = 0; i < sent; i++) {
                if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r) {
                        rw_state_rt_end(t0);
                        goto io;
                }
                if (r->type == REDIS_REPLY_ERROR && err == RW_OK) {
                        err = rw_reply_transient(r) ? RW_ERR_IO : RW_ERR_FAIL;
                        snprintf(errstr, errstr_size, "redis: trim %s: %.*s", key,
                                 (int)r->len, r->str);
                }
                freeReplyObject(r);
                r = NULL;
        }
        rw_state_rt_end(t0);
        return err;
io:
        snprintf(errstr, errstr_size, "redis: trim %s: %s", key,
                 rc->errstr[0] ? rw_redis_strerror(rc) : "connection lost");
        return RW_ERR_IO;
}

rw_err_t rw_outbox_store_firing(rw_state_t *st, const char *tag, const char *topic,
                                rw_outbox_items_t *out, char *errstr, size_t errstr_size) {
        char key[512];
        const char *argv[] = { "HGETALL", key };
        redisReply *r = NULL;
        rw_err_t err;

        memset(out, 0, sizeof(*out));
        rw_slot_key(st, "firing", tag, topic, key, sizeof(key));
        if ((err = rw_outbox_cmd(st, 2, argv, key, &r, errstr, errstr_size)))
                return err;
        if (r->type != REDIS_REPLY_ARRAY) {
                snprintf(errstr, errstr_size, "redis: HGETALL %s: unexpected reply", key);
                err = RW_ERR_FAIL;
                goto done;
        }
        if (r->elements && !(out->v = calloc(r->elements / 2 + 1, sizeof(*out->v)))) {
                err = RW_ERR_NOMEM;
                goto done;
        }
        for (size_t i = 1; i < r->elements; i += 2) {
                const redisReply *e = r->element[i];
                if (e->type != REDIS_REPLY_STRING)
                        continue;
                if (rw_outbox_item_add(out, e)) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
        }
done:
        if (err == RW_ERR_NOMEM) {
                snprintf(errstr, errstr_size, "out of memory");
                rw_outbox_items_clear(out);
        }
        freeReplyObject(r);
        return err;
}

rw_err_t rw_outbox_store_depth(rw_state_t *st, const char *const *tags,
                               const char *const *topics, size_t cnt, int64_t *depthp,
                               char *errstr, size_t errstr_size) {
        redisContext *rc;
        rw_err_t err = RW_OK;
        char key[512];
        int64_t t0;
        size_t i;

        *depthp = 0;
        if (!cnt)
                return RW_OK;
        if (!(rc = rw_state_conn(st, errstr, errstr_size)))
                return rw_state_conn_err(st);
        for (i = 0; i < cnt; i++) {
                const char *argv[] = { "LLEN", key };
                rw_outbox_key(st, tags[i], topics[i], key, sizeof(key));
                if (redisAppendCommandArgv(rc, 2, argv, NULL) != REDIS_OK)
                        goto io;
        }
        t0 = rw_state_rt_begin();
        for (i = 0; i < cnt; i++) {
                redisReply *r = NULL;
                if (redisGetReply(rc, (void **)&r) != REDIS_OK || !r)
                        goto io;
                if (r->type == REDIS_REPLY_INTEGER)
                        *depthp += r->integer;
                else if (r->type == REDIS_REPLY_ERROR && err == RW_OK) {
                        err = rw_reply_transient(r) ? RW_ERR_IO : RW_ERR_FAIL;
                        snprintf(errstr, errstr_size, "redis: LLEN: %.*s", (int)r->len, r->str);
                }
                freeReplyObject(r);
        }
        rw_state_rt_end(t0);
        return err;
io:
        snprintf(errstr, errstr_size, "redis: outbox depth: %s",
                 rc->errstr[0] ? rw_redis_strerror(rc) : "connection lost");
        return RW_ERR_IO;
}

void rw_outbox_items_clear(rw_outbox_items_t *items) {
        if (!items)
                return;
        for (size_t i = 0; i < items->cnt; i++)
                free(items->v[i].buf);
        free(items->v);
        memset(items, 0, sizeof(*items));
}
