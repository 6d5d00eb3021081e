/* kafka.c - librdkafka client configuration built from riskwatch's conf. */
#include <stdio.h>
#include "common/kafka.h"
#include "common/log.h"

void rw_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf) {
        rw_log_level_t lvl = level <= 3 ? RW_LOG_ERROR :
                             level <= 4 ? RW_LOG_WARN :
                             level <= 6 ? RW_LOG_INFO : RW_LOG_DEBUG;
        rw_log(lvl, "kafka: %s: %s: %s", rk ? rd_kafka_name(rk) : "-", fac, buf);
}

rd_kafka_conf_t *rw_kafka_conf_new(const rw_conf_t *conf,
                                   const char *const *defaults,
                                   char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        char kerr[512];

        rd_kafka_conf_set_log_cb(kconf, rw_kafka_log_cb);
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
