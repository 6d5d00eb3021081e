/* outbox.c - deliver the transitions waiting in a Redis outbox (see
 * state/outbox.h): produce in order, wait for the acknowledgements, then
 * trim what was delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/outbox.h"
#include "state/outbox_store.h"
#include "producers/producer.h"
#include "common/log.h"

#define RW_OUTBOX_CHUNK 500

/* The DLQ reason of an alert the alerts topic refused for good. */
#define RW_OUTBOX_DLQ_REASON "alert_undeliverable"

/* Items of the chunk that the alerts topic refused for what they are (too
 * large, malformed): each goes to the DLQ with its reason, is logged and
 * counted, so one alert can never hold the outbox (and the partition's
 * alerts behind it) for ever. RW_ERR_FAIL when an item is still unanswered
 * or failed for another reason (an outage: nothing is trimmed, the drain is
 * tried again), or when the DLQ does not take them. */
static rw_err_t rw_outbox_dead_letter(rw_producer_t *prod, rw_codec_t *codec,
                                      const rw_outbox_items_t *items,
                                      const rd_kafka_resp_err_t *status,
                                      const char *slot, char *errstr, size_t errstr_size) {
        size_t dead = 0;

        for (size_t i = 0; i < items->cnt; i++)
                if (status[i] != RD_KAFKA_RESP_ERR_NO_ERROR &&
                    !rw_producer_err_permanent(status[i])) {
                        snprintf(errstr, errstr_size, "alert not delivered: %s",
                                 status[i] == RD_KAFKA_RESP_ERR__IN_PROGRESS ?
                                 "no answer from the broker" : rd_kafka_err2str(status[i]));
                        return RW_ERR_FAIL;
                }
        for (size_t i = 0; i < items->cnt; i++) {
                const rw_outbox_item_t *e = &items->v[i];
                const char *key = NULL, *aid = "";
                char msg[256], why[512];
                rw_record_t rec;

                if (status[i] == RD_KAFKA_RESP_ERR_NO_ERROR)
                        continue;
                if (rw_codec_decode(codec, RW_REC_ALERT, e->buf, e->len, &rec, msg,
                                    sizeof(msg)) == RW_CODEC_OK) {
                        key = rec.u.alert.fingerprint;
                        aid = rec.u.alert.alert_id;
                }
                snprintf(why, sizeof(why), "the alerts topic refused the alert for good: %s",
                         rd_kafka_err2str(status[i]));
                if (rw_producer_send_dlq_alert(prod, key, key ? strlen(key) : 0, e->buf,
                                               e->len, aid, RW_OUTBOX_DLQ_REASON, why,
                                               errstr, errstr_size))
                        return RW_ERR_FAIL;
                rw_log_error("outbox %s: alert %s (%zu bytes) to the DLQ as %s: %s", slot,
                             *aid ? aid : "(undecodable)", e->len, RW_OUTBOX_DLQ_REASON, why);
                dead++;
        }
        if (dead && rw_producer_flush(prod, 30 * 1000, errstr, errstr_size))
                return RW_ERR_FAIL;
        return RW_OK;
}

/* One slot of a drain: its chunk in flight. */
typedef struct rw_drain_slot_s {
        const char *tag, *topic;
        char name[300];                 /* for the log: tag/topic */
        rw_outbox_items_t items;
        rd_kafka_resp_err_t *status;
        int done;
} rw_drain_slot_t;

static void rw_drain_slot_clear(rw_drain_slot_t *d) {
        free(d->status);
        d->status = NULL;
        rw_outbox_items_clear(&d->items);
}

/* A slot's chunk acknowledged (or dead-lettered): tell people, then trim,
 * keeping the slot's firing set in step (what Alertmanager is re-sent
 * from: rw_outbox_store_firing()). */
static rw_err_t rw_drain_slot_finish(rw_state_t *st, rw_drain_slot_t *d,
                                     rw_codec_t *codec, rw_outbox_emit_cb *emit,
                                     void *opaque, int64_t *deliveredp,
                                     char *errstr, size_t errstr_size) {
        size_t n = d->items.cnt, dead = 0, up_cnt = 0;
        rw_firing_update_t *ups;
        char **fps;
        rw_err_t err;

        if (!(ups = calloc(n, sizeof(*ups))) || !(fps = calloc(n, sizeof(*fps))))
                abort();
        for (size_t i = 0; i < n; i++) {
                rw_record_t rec;
                char msg[256];
                if (d->status[i] != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        dead++;
                        continue;
                }
                if (rw_codec_decode_own(codec, RW_REC_ALERT, d->items.v[i].buf,
                                        d->items.v[i].len, &rec, msg,
                                        sizeof(msg)) != RW_CODEC_OK)
                        continue;
                if (emit)
                        emit(opaque, &rec.u.alert);
                /* The decoded strings live in the codec until the next
                 * decode: the fingerprint is kept here. */
                if (!(fps[up_cnt] = strdup(rec.u.alert.fingerprint)))
                        abort();
                ups[up_cnt] = (rw_firing_update_t){
                        .fingerprint = fps[up_cnt],
                        .buf = rec.u.alert.status == RW_ALERT_FIRING ? d->items.v[i].buf : NULL,
                        .len = d->items.v[i].len,
                };
                up_cnt++;
        }
        if (deliveredp)
                *deliveredp += (int64_t)(n - dead);
        err = rw_outbox_store_trim(st, d->tag, d->topic, n, ups, up_cnt, errstr, errstr_size);
        for (size_t i = 0; i < up_cnt; i++)
                free(fps[i]);
        free(fps);
        free(ups);
        return err;
}

rw_err_t rw_outbox_drain_many(rw_state_t *st, const char *const *tags,
                              const char *const *topics, size_t cnt,
                              struct rw_producer_s *prod, rw_codec_t *codec,
                              rw_outbox_emit_cb *emit, void *opaque,
                              int64_t *deliveredp, char *errstr, size_t errstr_size) {
        rw_drain_slot_t *ds = calloc(cnt + 1, sizeof(*ds));
        rw_err_t err = RW_OK;
        size_t active = cnt;

        if (!ds)
                abort();
        for (size_t s = 0; s < cnt; s++) {
                ds[s].tag = tags[s];
                ds[s].topic = topics[s];
                snprintf(ds[s].name, sizeof(ds[s].name), "%s%s%.255s", tags[s],
                         topics[s] ? "/" : "", topics[s] ? topics[s] : "");
        }
        while (active && !err) {
                int any = 0;

                /* Every slot's next chunk read (nothing is produced if a read
                 * fails), produced in order, then one wait for the
                 * acknowledgements of them all. */
                for (size_t s = 0; s < cnt && !err; s++) {
                        rw_drain_slot_t *d = &ds[s];
                        if (d->done)
                                continue;
                        if ((err = rw_outbox_store_read(st, d->tag, d->topic, RW_OUTBOX_CHUNK,
                                                        &d->items, errstr, errstr_size)))
                                break;
                        if (!d->items.cnt) {
                                d->done = 1;
                                active--;
                                continue;
                        }
                        if (!(d->status = calloc(d->items.cnt, sizeof(*d->status))))
                                abort();
                        any = 1;
                }
                for (size_t s = 0; s < cnt && !err; s++) {
                        rw_drain_slot_t *d = &ds[s];
                        for (size_t i = 0; d->status && i < d->items.cnt && !err; i++) {
                                const rw_outbox_item_t *e = &d->items.v[i];
                                rw_record_t rec;
                                char msg[256];

                                /* Encoded by this code with the reader schema:
                                 * decoded with it, whatever id the frame carries
                                 * (no registry needed to deliver). */
                                if (rw_codec_decode_own(codec, RW_REC_ALERT, e->buf, e->len,
                                                        &rec, msg, sizeof(msg)) != RW_CODEC_OK) {
                                        /* Written by this code: cannot happen
                                         * unless the key was tampered with.
                                         * Deliver as is, keyed by nothing,
                                         * rather than lose it. */
                                        if (rw_producer_send_alert_raw(prod, NULL, 0, e->buf,
                                                                       e->len, &d->status[i],
                                                                       errstr, errstr_size))
                                                err = RW_ERR_FAIL;
                                        continue;
                                }
                                if (rw_producer_send_alert_raw(
                                            prod, rec.u.alert.fingerprint,
                                            strlen(rec.u.alert.fingerprint), e->buf, e->len,
                                            &d->status[i], errstr, errstr_size))
                                        err = RW_ERR_FAIL;
                        }
                }
                if (!err && any && rw_producer_flush(prod, 30 * 1000, errstr, errstr_size))
                        err = RW_ERR_FAIL;
                for (size_t s = 0; s < cnt && !err; s++)
                        if (ds[s].status && rw_outbox_dead_letter(prod, codec, &ds[s].items,
                                                                  ds[s].status, ds[s].name,
                                                                  errstr, errstr_size))
                                err = RW_ERR_FAIL;
                for (size_t s = 0; s < cnt && !err; s++) {
                        rw_drain_slot_t *d = &ds[s];
                        if (!d->status)
                                continue;
                        err = rw_drain_slot_finish(st, d, codec, emit, opaque, deliveredp,
                                                   errstr, errstr_size);
                        if (!err && d->items.cnt < RW_OUTBOX_CHUNK) {
                                d->done = 1;
                                active--;
                        }
                        rw_drain_slot_clear(d);
                }
        }
        for (size_t s = 0; s < cnt; s++)
                rw_drain_slot_clear(&ds[s]);
        free(ds);
        return err;
}

rw_err_t rw_outbox_drain(rw_state_t *st, const char *tag, const char *topic,
                         rw_producer_t *prod, rw_codec_t *codec,
                         rw_outbox_emit_cb *emit, void *opaque,
                         int64_t *deliveredp, char *errstr, size_t errstr_size) {
        return rw_outbox_drain_many(st, &tag, &topic, 1, prod, codec, emit, opaque,
                                    deliveredp, errstr, errstr_size);
}
