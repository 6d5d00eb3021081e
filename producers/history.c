/* history.c - Kafka out: a generated event history onto the input topics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include "producers/history.h"
#include "common/kafka.h"

/* Counts deliveries; the first failure's reason is kept for the error. */
typedef struct rw_history_dr_s {
        rw_history_stats_t *st;
        rd_kafka_resp_err_t first;
} rw_history_dr_t;

static void rw_history_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                             void *opaque) {
        rw_history_dr_t *dr = opaque;
        (void)rk;
        if (!rkm->err)
                dr->st->delivered++;
        else if (!dr->st->failed++)
                dr->first = rkm->err;
}

/* Token bucket on the monotonic clock: `rate` tokens a second, at most
 * `burst` saved up, so a stall is not followed by an unbounded catch-up. */
typedef struct rw_history_bucket_s {
        double rate, burst, tokens;
        int64_t last_ms;
} rw_history_bucket_t;

/* Wait until a token is available and take it, serving delivery reports
 * meanwhile. Returns 0, or -1 if *stop became set while waiting. */
static int rw_history_take(rw_history_bucket_t *b, rd_kafka_t *rk,
                           const volatile sig_atomic_t *stop) {
        for (;;) {
                int64_t now = rw_mono_ms();
                double wait;

                b->tokens = fmin(b->burst, b->tokens + (double)(now - b->last_ms) *
                                                          b->rate / 1000.0);
                b->last_ms = now;
                if (b->tokens >= 1.0) {
                        b->tokens -= 1.0;
                        return 0;
                }
                if (stop && *stop)
                        return -1;
                wait = ceil((1.0 - b->tokens) * 1000.0 / b->rate);
                rd_kafka_poll(rk, (int)fmin(fmax(wait, 1.0), 100.0));
        }
}

/* The topics' metadata from the brokers, asked again until broker.timeout
 * (a broker that creates topics on first use answers "unknown" at first):
 * without it the producer would queue records for a broker or a topic that
 * is not there and give them up only at message.timeout.ms, minutes later.
 * RW_OK, RW_ERR_FAIL with the reason, or RW_OK at once when stopped. */
static rw_err_t rw_history_topics_known(rd_kafka_t *rk, const rw_conf_t *conf,
                                        const char *const *topics, size_t n,
                                        const volatile sig_atomic_t *stop,
                                        char *errstr, size_t errstr_size) {
        int64_t limit = rw_conf_get_int(conf, "broker.timeout"), t0 = rw_mono_ms();
        const char *boot = rw_conf_kafka_find(conf, "bootstrap.servers");

        for (size_t i = 0; i < n; i++) {
                for (;;) {
                        int64_t left = limit - (rw_mono_ms() - t0), asked = rw_mono_ms();
                        int32_t parts;
                        rd_kafka_resp_err_t terr, kerr = rw_kafka_topic_partitions(
                                rk, topics[i],
                                (int)(left < 1000 ? (left > 100 ? left : 100) : 1000),
                                &parts, &terr);

                        if (!kerr && !terr)
                                break;
                        if (stop && *stop)
                                return RW_OK;
                        if (rw_mono_ms() - t0 >= limit) {
                                if (kerr)
                                        rw_kafka_no_answer(errstr, errstr_size, boot,
                                                           limit, kerr);
                                else
                                        snprintf(errstr, errstr_size, "topic %s: %s "
                                                 "(kafka.bootstrap.servers %s, for %lld s); "
                                                 "create it first", topics[i],
                                                 rd_kafka_err2str(terr),
                                                 boot ? boot : "unset",
                                                 (long long)(limit / 1000));
                                return RW_ERR_FAIL;
                        }
                        if (rw_mono_ms() - asked < 200)
                                usleep(200 * 1000);     /* a quick refusal: do not spin */
                }
        }
        return RW_OK;
}

rw_err_t rw_history_produce(const rw_conf_t *conf, rw_codec_t *codec,
                            rw_gen_t *gen, const rw_history_opts_t *opts,
                            rw_history_stats_t *stats,
                            char *errstr, size_t errstr_size) {
        static const char *const defaults[] = { "linger.ms", "20",
                                                "enable.idempotence", "true",
                                                NULL };
        static const rw_history_opts_t no_opts = { 0 };
        rd_kafka_conf_t *kconf = rw_kafka_conf_new(conf, defaults, errstr, errstr_size);
        const char *t_orders = rw_conf_get_str(conf, "topics.orders");
        const char *t_support = rw_conf_get_str(conf, "topics.support");
        rw_history_dr_t dr = { .st = stats };
        rw_history_bucket_t bucket = { 0 };
        rd_kafka_t *rk;
        rw_record_t rec;
        rw_err_t err = RW_OK;
        int64_t t0, next_progress, progress_ms;
        int r = 0;

        memset(stats, 0, sizeof(*stats));
        if (!opts)
                opts = &no_opts;
        if (!kconf)
                return RW_ERR_CONFIG;
        rd_kafka_conf_set_dr_msg_cb(kconf, rw_history_dr_cb);
        rd_kafka_conf_set_opaque(kconf, &dr);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, errstr_size))) {
                rd_kafka_conf_destroy(kconf);
                return RW_ERR_FAIL;
        }
        t0 = rw_mono_ms();
        {
                const char *const topics[] = { t_orders, t_support };
                if ((err = rw_history_topics_known(rk, conf, topics, 2, opts->stop,
                                                   errstr, errstr_size)))
                        goto done;
        }
        t0 = rw_mono_ms();
        progress_ms = opts->progress_ms > 0 ? opts->progress_ms : 1000;
        next_progress = t0 + progress_ms;
        if (opts->rate > 0) {
                bucket.rate = opts->rate;
                bucket.burst = fmax(1.0, opts->rate / 10.0);
                bucket.tokens = 1.0;
                bucket.last_ms = t0;
        }
        while (!opts->max_cnt || stats->orders + stats->support < opts->max_cnt) {
                void *buf;
                size_t len;
                const char *key;
                int64_t ts;
                rd_kafka_resp_err_t kerr;

                if (opts->stop && *opts->stop)
                        break;
                if (opts->rate > 0 && rw_history_take(&bucket, rk, opts->stop))
                        break;
                if ((r = rw_gen_next(gen, &rec)) != 1)
                        break;
                key = rec.type == RW_REC_ORDER ? rec.u.order.account_id :
                                                 rec.u.support.account_id;
                ts = rec.type == RW_REC_ORDER ? rec.u.order.occurred_at :
                                                rec.u.support.occurred_at;
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
                if (rec.type == RW_REC_ORDER)
                        stats->orders++;
                else
                        stats->support++;
                rd_kafka_poll(rk, 0);
                if (opts->on_progress && rw_mono_ms() >= next_progress) {
                        stats->elapsed_ms = rw_mono_ms() - t0;
                        opts->on_progress(opts->opaque, stats);
                        next_progress += progress_ms;
                }
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
        } else if (stats->failed) {
                snprintf(errstr, errstr_size, "produce: %lld message(s) not delivered: %s",
                         (long long)stats->failed, rd_kafka_err2str(dr.first));
                err = RW_ERR_FAIL;
        }
done:
        rd_kafka_destroy(rk);
        stats->elapsed_ms = rw_mono_ms() - t0;
        return err;
}
