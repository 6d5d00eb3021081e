/* outbox.c - deliver the transitions waiting in a Redis outbox (see
 * state/outbox.h): produce in order, wait for the acknowledgements, then
 * trim what was delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "state/outbox.h"
#include "state/state.h"
#include "producers/producer.h"

#define RW_OUTBOX_CHUNK 500

rw_err_t rw_outbox_drain(rw_state_t *st, const char *tag, const char *topic,
                         rw_producer_t *prod, rw_codec_t *codec,
                         rw_outbox_emit_cb *emit, void *opaque,
                         int64_t *deliveredp, char *errstr, size_t errstr_size) {
        char key[512], stop[24], from[24];
        rw_err_t err = RW_OK;

        if (topic)
                snprintf(key, sizeof(key), "%s:{%s}:outbox:%s", rw_state_ns(st), tag,
                         topic);
        else
                snprintf(key, sizeof(key), "%s:{%s}:outbox", rw_state_ns(st), tag);
        for (;;) {
                redisContext *rc = rw_state_context(st);
                redisReply *r, *t;
                const char *lrange[] = { "LRANGE", key, "0", stop };
                const char *ltrim[] = { "LTRIM", key, from, "-1" };
                size_t n;

                if (!rc && rw_state_reconnect(st, errstr, errstr_size))
                        return RW_ERR_IO;
                rc = rw_state_context(st);
                snprintf(stop, sizeof(stop), "%d", RW_OUTBOX_CHUNK - 1);
                if (!(r = redisCommandArgv(rc, 4, lrange, NULL))) {
                        snprintf(errstr, errstr_size, "redis: outbox %s: %s", key,
                                 rc->errstr);
                        rw_state_reconnect(st, errstr + strlen(errstr), 0);
                        return RW_ERR_IO;
                }
                if (r->type != REDIS_REPLY_ARRAY) {
                        snprintf(errstr, errstr_size, "redis: LRANGE %s: %s", key,
                                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
                        freeReplyObject(r);
                        return RW_ERR_FAIL;
                }
                if (!(n = r->elements)) {
                        freeReplyObject(r);
                        return RW_OK;
                }
                for (size_t i = 0; i < n && !err; i++) {
                        const redisReply *e = r->element[i];
                        rw_record_t rec;
                        char msg[256];

                        if (rw_codec_decode(codec, RW_REC_ALERT, e->str, e->len, &rec,
                                            msg, sizeof(msg)) != RW_CODEC_OK) {
                                /* Written by this code: cannot happen unless
                                 * the key was tampered with. Deliver as is,
                                 * keyed by nothing, rather than lose it. */
                                err = rw_producer_send_alert_raw(prod, NULL, 0, e->str,
                                                                 e->len, errstr,
                                                                 errstr_size);
                                continue;
                        }
                        err = rw_producer_send_alert_raw(
                                prod, rec.u.alert.fingerprint,
                                strlen(rec.u.alert.fingerprint), e->str, e->len,
                                errstr, errstr_size);
                }
                if (!err)
                        err = rw_producer_flush(prod, 30 * 1000, errstr, errstr_size);
                if (err) {
                        freeReplyObject(r);
                        return RW_ERR_FAIL;
                }
                /* Acknowledged: tell people, then trim. */
                for (size_t i = 0; emit && i < n; i++) {
                        rw_record_t rec;
                        char msg[256];
                        if (rw_codec_decode(codec, RW_REC_ALERT, r->element[i]->str,
                                            r->element[i]->len, &rec, msg,
                                            sizeof(msg)) == RW_CODEC_OK)
                                emit(opaque, &rec.u.alert);
                }
                if (deliveredp)
                        *deliveredp += (int64_t)n;
                freeReplyObject(r);
                snprintf(from, sizeof(from), "%zu", n);
                if (!(t = redisCommandArgv(rc, 4, ltrim, NULL))) {
                        snprintf(errstr, errstr_size, "redis: outbox %s: %s", key,
                                 rc->errstr);
                        rw_state_reconnect(st, errstr + strlen(errstr), 0);
                        return RW_ERR_IO;
                }
                freeReplyObject(t);
                if (n < RW_OUTBOX_CHUNK)
                        return RW_OK;
        }
}
