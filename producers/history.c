/* history.c - Kafka out: a generated event history onto the input topics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include "producers/history.h"
#include "common/kafka.h"

/* Counts failed deliveries; the first reason is kept for the error. */
typedef struct rw_history_dr_s {
        int64_t failed;
        rd_kafka_resp_err_t first;
} rw_history_dr_t;

static void rw_history_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                             void *opaque) {
        rw_history_dr_t *dr = opaque;
        (void)rk;
        if (rkm->err && !dr->failed++)
                dr->first = rkm->err;
}

rw_err_t rw_history_produce(const rw_conf_t *conf, rw_codec_t *codec,
                            rw_gen_t *gen, int64_t *cntp,
                            char *errstr, size_t errstr_size) {
        static const char *const defaults[] = { "linger.ms", "20",
                                                "enable.idempotence", "true",
                                                NULL };
        rd_kafka_conf_t *kconf = rw_kafka_conf_new(conf, defaults, errstr, errstr_size);
        const char *t_orders = rw_conf_get_str(conf, "topics.orders");
        const char *t_support = rw_conf_get_str(conf, "topics.support");
        rw_history_dr_t dr = { 0 };
        rd_kafka_t *rk;
        rw_record_t rec;
        rw_err_t err = RW_OK;
        int r;

        *cntp = 0;
        if (!kconf)
                return RW_ERR_CONFIG;
        rd_kafka_conf_set_dr_msg_cb(kconf, rw_history_dr_cb);
        rd_kafka_conf_set_opaque(kconf, &dr);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, errstr_size))) {
                rd_kafka_conf_destroy(kconf);
                return RW_ERR_FAIL;
        }
        while ((r = rw_gen_next(gen, &rec)) == 1) {
                void *buf;
                size_t len;
                const char *key = rec.type == RW_REC_ORDER ? rec.u.order.account_id :
                                                             rec.u.support.account_id;
                int64_t ts = rec.type == RW_REC_ORDER ? rec.u.order.occurred_at :
                                                        rec.u.support.occurred_at;
                rd_kafka_resp_err_t kerr;

                if ((err = rw_codec_encode(codec, &rec, &buf, &len, errstr, errstr_size)))
                        goto done;
                do {
                        kerr = rd_kafka_producev(
                                rk,
                                RD_KAFKA_V_TOPIC(rec.type == RW_REC_ORDER ? t_orders : t_support),
                                RD_KAFKA_V_KEY(key, strlen(key)),
                                RD_KAFKA_V_VALUE(buf, len),
                                RD_KAFKA_V_TIMESTAMP(ts),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                RD_KAFKA_V_END);
                        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(rk, 50);
                } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (kerr) {
                        free(buf);
                        snprintf(errstr, errstr_size, "produce: %s", rd_kafka_err2str(kerr));
                        err = RW_ERR_FAIL;
                        goto done;
                }
                (*cntp)++;
                rd_kafka_poll(rk, 0);
        }
        if (r < 0) {
                snprintf(errstr, errstr_size, "generator: out of memory");
                err = RW_ERR_NOMEM;
                goto done;
        }
        if (rd_kafka_flush(rk, 60 * 1000)) {
                snprintf(errstr, errstr_size, "produce: %d message(s) not delivered",
                         rd_kafka_outq_len(rk));
                err = RW_ERR_FAIL;
        } else if (dr.failed) {
                snprintf(errstr, errstr_size, "produce: %lld message(s) not delivered: %s",
                         (long long)dr.failed, rd_kafka_err2str(dr.first));
                err = RW_ERR_FAIL;
        }
done:
        rd_kafka_destroy(rk);
        return err;
}

