/* kafka.c - librdkafka client configuration built from riskwatch's conf. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "common/kafka.h"
#include "common/log.h"
#include "common/rw.h"

/* The broker failures librdkafka logged lately (FAIL), per client: the
 * error event it raises for the same failure (_TRANSPORT, with the same
 * text, served at the client's next poll, after the logs of other brokers'
 * failures) is then said at debug level, not a second time. Logs come from
 * librdkafka's threads, error events from the client's poll. */
#define RW_KAFKA_FAILS 64
static pthread_mutex_t rw_kafka_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rw_kafka_fail_s {
        char client[64];
        char text[448];
        int64_t at;             /* mono ms it was logged (0: free, or matched) */
} rw_kafka_fails[RW_KAFKA_FAILS];
static unsigned rw_kafka_fail_next;

static void rw_kafka_fail_logged(const char *client, const char *buf) {
        const char *text = strstr(buf, "]: ");
        struct rw_kafka_fail_s *f;

        text = text ? text + 3 : buf;
        pthread_mutex_lock(&rw_kafka_fail_lock);
        f = &rw_kafka_fails[rw_kafka_fail_next++ % RW_KAFKA_FAILS];
        snprintf(f->client, sizeof(f->client), "%s", client);
        snprintf(f->text, sizeof(f->text), "%s", text);
        f->at = rw_mono_ms();
        pthread_mutex_unlock(&rw_kafka_fail_lock);
}

/* Whether client logged `reason` as a failure within the last 10 s (once:
 * the entry is used up). */
static int rw_kafka_fail_said(const char *client, const char *reason) {
        int64_t now = rw_mono_ms();
        int said = 0;

        pthread_mutex_lock(&rw_kafka_fail_lock);
        for (int i = 0; i < RW_KAFKA_FAILS && !said; i++) {
                struct rw_kafka_fail_s *f = &rw_kafka_fails[i];
                if (f->at && now - f->at < 10000 && !strcmp(f->client, client) &&
                    !strcmp(f->text, reason)) {
                        f->at = 0;
                        said = 1;
                }
        }
        pthread_mutex_unlock(&rw_kafka_fail_lock);
        return said;
}

void rw_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf) {
        rw_log_level_t lvl = level <= 3 ? RW_LOG_ERROR :
                             level <= 4 ? RW_LOG_WARN :
                             level <= 6 ? RW_LOG_INFO : RW_LOG_DEBUG;
        const char *client = rk ? rd_kafka_name(rk) : "-";

        if (!strcmp(fac, "FAIL") && lvl <= RW_LOG_WARN)
                rw_kafka_fail_logged(client, buf);
        rw_log(lvl, "kafka: %s: %s: %s", client, fac, buf);
}

static pthread_mutex_t rw_kafka_fatal_lock = PTHREAD_MUTEX_INITIALIZER;
static int rw_kafka_fatal_seen;
static char rw_kafka_fatal_reason[512];

/* librdkafka's error events: logged; a fatal one is remembered with its
 * real reason for the owner to stop on. */
static void rw_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
                              void *opaque) {
        char fatal[400];
        (void)opaque;
        if (err != RD_KAFKA_RESP_ERR__FATAL) {
                rw_log(err == RD_KAFKA_RESP_ERR__TRANSPORT &&
                       rw_kafka_fail_said(rd_kafka_name(rk), reason) ?
                       RW_LOG_DEBUG : RW_LOG_WARN, "kafka: %s: %s: %s", rd_kafka_name(rk),
                       rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
                return;
        }
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        pthread_mutex_lock(&rw_kafka_fatal_lock);
        if (!rw_kafka_fatal_seen++)
                snprintf(rw_kafka_fatal_reason, sizeof(rw_kafka_fatal_reason),
                         "%s: %s", rd_kafka_name(rk), fatal);
        pthread_mutex_unlock(&rw_kafka_fatal_lock);
        rw_log_error("kafka: fatal error: %s: %s", rd_kafka_name(rk), fatal);
}

int rw_kafka_fatal(char *reason, size_t size) {
        int seen;
        pthread_mutex_lock(&rw_kafka_fatal_lock);
        seen = rw_kafka_fatal_seen;
        if (seen && reason)
                snprintf(reason, size, "%s", rw_kafka_fatal_reason);
        pthread_mutex_unlock(&rw_kafka_fatal_lock);
        return seen;
}

rd_kafka_conf_t *rw_kafka_conf_new(const rw_conf_t *conf,
                                   const char *const *defaults,
                                   char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        char kerr[512];

        rd_kafka_conf_set_log_cb(kconf, rw_kafka_log_cb);
        rd_kafka_conf_set_error_cb(kconf, rw_kafka_error_cb);
        if (rd_kafka_conf_set(kconf, "client.id", rw_conf_get_str(conf, "client.id"),
                              kerr, sizeof(kerr)) != RD_KAFKA_CONF_OK)
                goto fail_set;
        for (; defaults && defaults[0]; defaults += 2) {
                if (rd_kafka_conf_set(kconf, defaults[0], defaults[1], kerr,
                                      sizeof(kerr)) != RD_KAFKA_CONF_OK)
                        goto fail_set;
        }
        for (size_t i = 0; i < rw_conf_kafka_cnt(conf); i++) {
                const char *k, *v;
                rw_conf_kafka_get(conf, i, &k, &v);
                if (rd_kafka_conf_set(kconf, k, v, kerr, sizeof(kerr)) !=
                    RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errstr_size, "kafka.%s: %s", k, kerr);
                        rd_kafka_conf_destroy(kconf);
                        return NULL;
                }
        }
        return kconf;
fail_set:
        snprintf(errstr, errstr_size, "%s", kerr);
        rd_kafka_conf_destroy(kconf);
        return NULL;
}

int32_t rw_kafka_partition_cnt(rd_kafka_t *rk, const char *topic) {
        return rw_kafka_partition_cnt_within(rk, topic, 5000);
}

int64_t rw_kafka_record_now(const rd_kafka_message_t *rkm, int64_t now_ms, const char **what) {
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(rkm, &type);
        int wall = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 || ts > now_ms;

        *what = wall ? "now" : "its timestamp";
        return wall ? now_ms : ts;
}

int32_t rw_kafka_partition_cnt_within(rd_kafka_t *rk, const char *topic, int timeout_ms) {
        rd_kafka_resp_err_t terr;
        int32_t n;

        return rw_kafka_topic_partitions(rk, topic, timeout_ms, &n, &terr) || terr ? 0 : n;
}

rd_kafka_resp_err_t rw_kafka_topic_partitions(rd_kafka_t *rk, const char *topic,
                                              int timeout_ms, int32_t *cnt,
                                              rd_kafka_resp_err_t *topic_err) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t err;

        *cnt = 0;
        *topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!rkt) {     /* the topic's own error: its name, or memory */
                *topic_err = rd_kafka_last_error() ? rd_kafka_last_error() :
                                                     RD_KAFKA_RESP_ERR__INVALID_ARG;
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        if (!(err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms))) {
                if (md->topic_cnt != 1)
                        *topic_err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
                else if (!(*topic_err = md->topics[0].err) &&
                         md->topics[0].partition_cnt < 1)
                        *topic_err = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
                else if (!*topic_err)
                        *cnt = md->topics[0].partition_cnt;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return err;
}

rd_kafka_resp_err_t rw_kafka_list_offsets(rd_kafka_t *rk,
                                          const rd_kafka_topic_partition_list_t *parts,
                                          int64_t which, int timeout_ms,
                                          rd_kafka_topic_partition_list_t **out) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t err;

        /* ListOffsets takes a timestamp: -2 asks for the earliest offset,
         * -1 for the end, as in Kafka's protocol. */
        for (int i = 0; i < l->cnt; i++)
                l->elems[i].offset = which;
        if ((err = rd_kafka_offsets_for_times(rk, l, timeout_ms))) {
                rd_kafka_topic_partition_list_destroy(l);
                *out = NULL;
                return err;
        }
        for (int i = 0; i < l->cnt; i++)
                if (l->elems[i].err || l->elems[i].offset < 0)
                        l->elems[i].offset = -1;
        *out = l;
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void rw_kafka_no_answer(char *errstr, size_t errstr_size, const char *bootstrap,
                        int64_t waited_ms, rd_kafka_resp_err_t err) {
        snprintf(errstr, errstr_size, "no answer from the brokers (kafka.bootstrap.servers %s) "
                 "in %lld s: %s; giving up (broker.timeout)",
                 bootstrap && *bootstrap ? bootstrap : "unset", (long long)(waited_ms / 1000),
                 rd_kafka_err2str(err));
}
