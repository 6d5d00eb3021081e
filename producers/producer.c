/* producer.c - Kafka out: alerts (framed Avro) and the dead-letter queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "producers/producer.h"
#include "common/kafka.h"
#include "common/log.h"

struct rw_producer_s {
        rd_kafka_t *rk;
        rw_codec_t *codec;              /* borrowed */
        char alerts_topic[256];
        char dlq_topic[256];
        int64_t delivered;
        int64_t failed;
        int64_t failed_since_flush;
        int64_t alerts_dead;
        char first_error[256];
        int no_alerts, no_dlq;          /* rw_producer_set_sinks() */
};

void rw_producer_set_sinks(rw_producer_t *prod, int alerts, int dlq) {
        prod->no_alerts = !alerts;
        prod->no_dlq = !dlq;
}

void rw_producer_warm(rw_producer_t *prod, int timeout_ms) {
        const char *topics[2] = { prod->no_alerts ? NULL : prod->alerts_topic,
                                  prod->no_dlq ? NULL : prod->dlq_topic };

        for (int i = 0; i < 2; i++)
                if (topics[i] && *topics[i] &&
                    !rw_kafka_partition_cnt_within(prod->rk, topics[i], timeout_ms))
                        rw_log_debug("producer: no metadata of %s within %d ms (its first "
                                     "delivery waits for the next topic scan)", topics[i],
                                     timeout_ms);
}

static void rw_producer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                              void *opaque) {
        rw_producer_t *prod = opaque;
        (void)rk;
        if (rkm->_private)      /* a tracked alert: its outcome for the outbox */
                *(rd_kafka_resp_err_t *)rkm->_private = rkm->err;
        if (rkm->err) {
                int first = 0;
                prod->failed++;
                /* Its sender says what failed: a tracked alert's outcome goes
                 * to the outbox's drain (to the DLQ, or the run stops naming
                 * it), the others' to the flush that waits for them ("N
                 * message(s) not delivered: " the first one). Said here once
                 * per flush, not per record: a topic that refuses everything
                 * would log every record it was sent. */
                if (!rkm->_private && !prod->failed_since_flush++) {
                        snprintf(prod->first_error, sizeof(prod->first_error),
                                 "%s: %s", rd_kafka_topic_name(rkm->rkt),
                                 rd_kafka_err2str(rkm->err));
                        first = 1;
                }
                rw_log(first ? RW_LOG_ERROR : RW_LOG_DEBUG, "delivery to %s failed: %s",
                       rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
        } else {
                prod->delivered++;
        }
}

rw_producer_t *rw_producer_new(const rw_conf_t *conf, rw_codec_t *codec,
                               char *errstr, size_t errstr_size) {
        static const char *const defaults[] = {
                "enable.idempotence", "true",
                "acks", "all",
                "linger.ms", "5",
                NULL
        };
        rw_producer_t *prod = calloc(1, sizeof(*prod));
        rd_kafka_conf_t *kconf;

        if (!prod) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        prod->codec = codec;
        snprintf(prod->alerts_topic, sizeof(prod->alerts_topic), "%s",
                 rw_conf_get_str(conf, "topics.alerts"));
        snprintf(prod->dlq_topic, sizeof(prod->dlq_topic), "%s",
                 rw_conf_get_str(conf, "topics.dlq"));
        if (!(kconf = rw_kafka_conf_new(conf, defaults, errstr, errstr_size)))
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(kconf, rw_producer_dr_cb);
        rd_kafka_conf_set_opaque(kconf, prod);
        if (!(prod->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr,
                                      errstr_size))) {
                rd_kafka_conf_destroy(kconf);
                goto fail;
        }
        kconf = NULL;   /* owned by rk now */
        return prod;
fail:
        free(prod);
        return NULL;
}

void rw_producer_destroy(rw_producer_t *prod) {
        if (!prod)
                return;
        if (prod->rk) {
                rd_kafka_flush(prod->rk, 10 * 1000);
                if (rd_kafka_outq_len(prod->rk) > 0)
                        rw_log_warn("producer: %d message(s) not delivered at exit",
                                    rd_kafka_outq_len(prod->rk));
                rd_kafka_destroy(prod->rk);
        }
        free(prod);
}

/* Produce with back-pressure: on a full queue, serve reports and retry.
 * *kerrp (optional) gets the refusal's code. */
static rw_err_t rw_producer_produce(rw_producer_t *prod, rd_kafka_vu_t *vus,
                                    size_t cnt, rd_kafka_resp_err_t *kerrp,
                                    char *errstr, size_t errstr_size) {
        rd_kafka_error_t *error;

        for (;;) {
                error = rd_kafka_produceva(prod->rk, vus, cnt);
                if (!error)
                        return RW_OK;
                if (rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_error_destroy(error);
                rd_kafka_poll(prod->rk, 100);
        }
        if (kerrp)
                *kerrp = rd_kafka_error_code(error);
        snprintf(errstr, errstr_size, "produce: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return RW_ERR_FAIL;
}

int rw_producer_err_permanent(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        case RD_KAFKA_RESP_ERR__BAD_MSG:
                return 1;
        default:
                return 0;
        }
}

rw_err_t rw_producer_send_alert(rw_producer_t *prod, const rw_alert_t *alert,
                                char *errstr, size_t errstr_size) {
        rw_record_t rec = { .type = RW_REC_ALERT, .u.alert = *alert };
        void *buf = NULL;
        size_t len = 0;
        rw_err_t err;

        if (prod->no_alerts)
                return RW_OK;

        if ((err = rw_codec_encode(prod->codec, &rec, &buf, &len, errstr,
                                   errstr_size)))
                return err;
        rd_kafka_vu_t vus[] = {
                { .vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = prod->alerts_topic },
                { .vtype = RD_KAFKA_VTYPE_KEY,
                  .u.mem = { (void *)alert->fingerprint, strlen(alert->fingerprint) } },
                { .vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = { buf, len } },
                { .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_FREE },
        };
        err = rw_producer_produce(prod, vus, RW_ARRAY_SIZE(vus), NULL, errstr, errstr_size);
        if (err)
                free(buf);      /* not handed over on failure */
        return err;
}

rw_err_t rw_producer_send_alert_raw(rw_producer_t *prod, const void *key,
                                    size_t key_len, const void *value,
                                    size_t len, rd_kafka_resp_err_t *statusp,
                                    char *errstr, size_t errstr_size) {
        rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_vu_t vus[] = {
                { .vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = prod->alerts_topic },
                { .vtype = RD_KAFKA_VTYPE_KEY, .u.mem = { (void *)key, key_len } },
                { .vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = { (void *)value, len } },
                { .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY },
                { .vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = statusp },
        };
        rw_err_t err;

        if (prod->no_alerts) {          /* taken as delivered */
                if (statusp)
                        *statusp = RD_KAFKA_RESP_ERR_NO_ERROR;
                return RW_OK;
        }
        if (statusp)
                *statusp = RD_KAFKA_RESP_ERR__IN_PROGRESS;
        err = rw_producer_produce(prod, vus, RW_ARRAY_SIZE(vus), &kerr, errstr, errstr_size);
        if (err && statusp && rw_producer_err_permanent(kerr)) {
                *statusp = kerr;
                return RW_OK;
        }
        return err;
}

rw_err_t rw_producer_send_dlq_alert(rw_producer_t *prod, const void *key, size_t key_len,
                                    const void *value, size_t len, const char *alert_id,
                                    const char *reason, const char *message,
                                    char *errstr, size_t errstr_size) {
        rw_err_t err = RW_ERR_FAIL;

        if (prod->no_dlq) {
                prod->alerts_dead++;
                return RW_OK;
        }
        /* With its key and value; then, if those are what is too large,
         * without them. */
        for (int bare = 0; bare < 2 && err; bare++) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
                rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;

                rd_kafka_header_add(hdrs, "rw.error.reason", -1, reason, -1);
                rd_kafka_header_add(hdrs, "rw.error.message", -1, message, -1);
                rd_kafka_header_add(hdrs, "rw.source.topic", -1, prod->alerts_topic, -1);
                rd_kafka_header_add(hdrs, "rw.alert.id", -1, alert_id, -1);
                rd_kafka_vu_t vus[] = {
                        { .vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = prod->dlq_topic },
                        { .vtype = RD_KAFKA_VTYPE_KEY,
                          .u.mem = { bare ? NULL : (void *)key, bare ? 0 : key_len } },
                        { .vtype = RD_KAFKA_VTYPE_VALUE,
                          .u.mem = { bare ? NULL : (void *)value, bare ? 0 : len } },
                        { .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY },
                        { .vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs },
                };
                err = rw_producer_produce(prod, vus, RW_ARRAY_SIZE(vus), &kerr, errstr,
                                          errstr_size);
                if (err)
                        rd_kafka_headers_destroy(hdrs);   /* owned by rk only on success */
                if (err && !rw_producer_err_permanent(kerr))
                        break;
        }
        if (!err)
                prod->alerts_dead++;
        return err;
}

int64_t rw_producer_alerts_dead(const rw_producer_t *prod) {
        return prod->alerts_dead;
}

rw_err_t rw_producer_send_dlq(rw_producer_t *prod, const rd_kafka_message_t *rkm,
                              const char *reason, const char *message,
                              char *errstr, size_t errstr_size) {
        rd_kafka_headers_t *hdrs;
        char part[16], off[24];
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        rw_err_t err;

        if (prod->no_dlq)
                return RW_OK;           /* counted by the caller */
        hdrs = rd_kafka_headers_new(5);
        snprintf(part, sizeof(part), "%d", (int)rkm->partition);
        snprintf(off, sizeof(off), "%lld", (long long)rkm->offset);
        rd_kafka_header_add(hdrs, "rw.error.reason", -1, reason, -1);
        rd_kafka_header_add(hdrs, "rw.error.message", -1, message, -1);
        rd_kafka_header_add(hdrs, "rw.source.topic", -1, topic, -1);
        rd_kafka_header_add(hdrs, "rw.source.partition", -1, part, -1);
        rd_kafka_header_add(hdrs, "rw.source.offset", -1, off, -1);
        rd_kafka_vu_t vus[] = {
                { .vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = prod->dlq_topic },
                { .vtype = RD_KAFKA_VTYPE_KEY, .u.mem = { rkm->key, rkm->key_len } },
                { .vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = { rkm->payload, rkm->len } },
                { .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY },
                { .vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs },
        };
        err = rw_producer_produce(prod, vus, RW_ARRAY_SIZE(vus), NULL, errstr, errstr_size);
        if (err)
                rd_kafka_headers_destroy(hdrs);   /* owned by rk only on success */
        return err;
}

rw_err_t rw_producer_flush(rw_producer_t *prod, int timeout_ms,
                           char *errstr, size_t errstr_size) {
        rd_kafka_resp_err_t kerr = rd_kafka_flush(prod->rk, timeout_ms);
        rw_err_t err = RW_OK;

        if (kerr) {
                snprintf(errstr, errstr_size, "flush: %d message(s) still queued: %s",
                         rd_kafka_outq_len(prod->rk), rd_kafka_err2str(kerr));
                return RW_ERR_IO;
        }
        if (prod->failed_since_flush) {
                snprintf(errstr, errstr_size, "%lld message(s) not delivered: %s",
                         (long long)prod->failed_since_flush, prod->first_error);
                err = RW_ERR_IO;
        }
        prod->failed_since_flush = 0;
        return err;
}

void rw_producer_stats(const rw_producer_t *prod, int64_t *deliveredp,
                       int64_t *failedp) {
        *deliveredp = prod->delivered;
        *failedp = prod->failed;
}

void rw_producer_poll(rw_producer_t *prod) {
        rd_kafka_poll(prod->rk, 0);
}
