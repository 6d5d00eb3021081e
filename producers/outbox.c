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

rw_err_t rw_outbox_drain(rw_state_t *st, const char *tag, const char *topic,
                         rw_producer_t *prod, rw_codec_t *codec,
                         rw_outbox_emit_cb *emit, void *opaque,
                         int64_t *deliveredp, char *errstr, size_t errstr_size) {
        char slot[300];

        snprintf(slot, sizeof(slot), "%s%s%.255s", tag, topic ? "/" : "", topic ? topic : "");
        for (;;) {
                rw_outbox_items_t items;
                rd_kafka_resp_err_t *status;
                rw_firing_update_t *ups;
                char *fps[RW_OUTBOX_CHUNK];
                rw_err_t err;
                size_t n, dead = 0, up_cnt = 0;

                if ((err = rw_outbox_store_read(st, tag, topic, RW_OUTBOX_CHUNK, &items,
                                                errstr, errstr_size)))
                        return err;
                if (!(n = items.cnt))
                        return RW_OK;
                if (!(status = calloc(n, sizeof(*status))))
                        abort();
                for (size_t i = 0; i < n && !err; i++) {
                        const rw_outbox_item_t *e = &items.v[i];
                        rw_record_t rec;
                        char msg[256];

                        /* Encoded by this code with the reader schema: decoded
                         * with it, whatever id the frame carries (no registry
                         * needed to deliver). */
                        if (rw_codec_decode_own(codec, RW_REC_ALERT, e->buf, e->len, &rec,
                                                msg, sizeof(msg)) != RW_CODEC_OK) {
                                /* Written by this code: cannot happen unless
                                 * the key was tampered with. Deliver as is,
                                 * keyed by nothing, rather than lose it. */
                                err = rw_producer_send_alert_raw(prod, NULL, 0, e->buf,
                                                                 e->len, &status[i], errstr,
                                                                 errstr_size);
                                continue;
                        }
                        err = rw_producer_send_alert_raw(
                                prod, rec.u.alert.fingerprint,
                                strlen(rec.u.alert.fingerprint), e->buf, e->len,
                                &status[i], errstr, errstr_size);
                }
                if (!err)
                        err = rw_producer_flush(prod, 30 * 1000, errstr, errstr_size);
                if (!err)
                        err = rw_outbox_dead_letter(prod, codec, &items, status, slot,
                                                    errstr, errstr_size);
                if (err) {
                        free(status);
                        rw_outbox_items_clear(&items);
                        return RW_ERR_FAIL;
                }
                /* Acknowledged (or dead-lettered): tell people, then trim,
                 * keeping the slot's firing set in step (what Alertmanager
                 * is re-sent from: rw_outbox_store_firing()). */
                if (!(ups = calloc(n, sizeof(*ups))))
                        abort();
                for (size_t i = 0; i < n; i++) {
                        rw_record_t rec;
                        char msg[256];
                        if (status[i] != RD_KAFKA_RESP_ERR_NO_ERROR) {
                                dead++;
                                continue;
                        }
                        if (rw_codec_decode_own(codec, RW_REC_ALERT, items.v[i].buf,
                                                items.v[i].len, &rec, msg,
                                                sizeof(msg)) != RW_CODEC_OK)
                                continue;
                        if (emit)
                                emit(opaque, &rec.u.alert);
                        /* The decoded strings live in the codec until the
                         * next decode: the fingerprint is kept here. */
                        if (!(fps[up_cnt] = strdup(rec.u.alert.fingerprint)))
                                abort();
                        ups[up_cnt] = (rw_firing_update_t){
                                .fingerprint = fps[up_cnt],
                                .buf = rec.u.alert.status == RW_ALERT_FIRING ?
                                       items.v[i].buf : NULL,
                                .len = items.v[i].len,
                        };
                        up_cnt++;
                }
                free(status);
                if (deliveredp)
                        *deliveredp += (int64_t)(n - dead);
                err = rw_outbox_store_trim(st, tag, topic, n, ups, up_cnt, errstr,
                                           errstr_size);
                for (size_t i = 0; i < up_cnt; i++)
                        free(fps[i]);
                free(ups);
                rw_outbox_items_clear(&items);
                if (err)
                        return err;
                if (n < RW_OUTBOX_CHUNK)
                        return RW_OK;
        }
}
