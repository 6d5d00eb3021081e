/* kafka.h - librdkafka client configuration built from riskwatch's conf. */
#ifndef RW_KAFKA_H
#define RW_KAFKA_H

#include <librdkafka/rdkafka.h>
#include "common/conf.h"

/* A new rd_kafka_conf_t with every kafka.* pass-through property applied
 * (after `defaults`, a NULL-terminated key,value list riskwatch sets for this
 * client, which kafka.* may override). Returns NULL and fills errstr with
 * librdkafka's reason. Caller owns the result (rd_kafka_conf_destroy). */
rd_kafka_conf_t *rw_kafka_conf_new(const rw_conf_t *conf,
                                   const char *const *defaults,
                                   char *errstr, size_t errstr_size);

/* Route librdkafka's own logs through rw_log. */
void rw_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

#endif
