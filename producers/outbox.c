/* outbox.c - deliver the transitions waiting in a Redis outbox (see
 * state/outbox.h): produce in order, wait for the acknowledgements, then
 * trim what was delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/outbox.h"
#include "state/outbox_store.h"
#include "producers/producer.h"

#define RW_OUTBOX_CHUNK 500

rw_err_t rw_outbox_drain(rw_state_t *st, const char *tag, const char *topic,
                         rw_producer_t *prod, rw_codec_t *codec,
                         rw_outbox_emit_cb *emit, void *opaque,
                         int64_t *deliveredp, char *errstr, size_t errstr_size) {
        for (;;) {
                rw_outbox_items_t items;
                rw_err_t err;
                size_t n;

                if ((err = rw_outbox_store_read(st, tag, topic, RW_OUTBOX_CHUNK, &items,
                                                errstr, errstr_size)))
                        return err;
                if (!(n = items.cnt))
                        return RW_OK;
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
                                                                 e->len, errstr,
                                                                 errstr_size);
                                continue;
                        }
                        err = rw_producer_send_alert_raw(
                                prod, rec.u.alert.fingerprint,
                                strlen(rec.u.alert.fingerprint), e->buf, e->len,
                                errstr, errstr_size);
                }
                if (!err)
                        err = rw_producer_flush(prod, 30 * 1000, errstr, errstr_size);
                if (err) {
                        rw_outbox_items_clear(&items);
                        return RW_ERR_FAIL;
                }
                /* Acknowledged: tell people, then trim. */
                for (size_t i = 0; emit && i < n; i++) {
                        rw_record_t rec;
                        char msg[256];
                        if (rw_codec_decode_own(codec, RW_REC_ALERT, items.v[i].buf,
                                                items.v[i].len, &rec, msg,
                                                sizeof(msg)) == RW_CODEC_OK)
                                emit(opaque, &rec.u.alert);
                }
                if (deliveredp)
                        *deliveredp += (int64_t)n;
                rw_outbox_items_clear(&items);
                if ((err = rw_outbox_store_trim(st, tag, topic, n, errstr, errstr_size)))
                        return err;
                if (n < RW_OUTBOX_CHUNK)
                        return RW_OK;
        }
}
