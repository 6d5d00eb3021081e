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

/* Whether any client of this process hit a librdkafka fatal error; if so,
 * its reason (rd_kafka_fatal_error()) is written into reason. Every client
 * made with rw_kafka_conf_new() reports here through its error callback. */
int rw_kafka_fatal(char *reason, size_t size);

/* The number of partitions of `topic` as the brokers say within 5 s (0
 * when they do not say yet, or the topic does not exist). */
int32_t rw_kafka_partition_cnt(rd_kafka_t *rk, const char *topic);
/* The same, waiting up to timeout_ms for the answer (it also tells rk
 * about the topic: its metadata is cached from then on). */
int32_t rw_kafka_partition_cnt_within(rd_kafka_t *rk, const char *topic, int timeout_ms);
/* The same, saying why there is none: returns the request's error (no
 * answer from the brokers); *topic_err is the brokers' for the topic (it
 * does not exist, or has no partitions) when they answered. *cnt is 0
 * unless both are 0. */
rd_kafka_resp_err_t rw_kafka_topic_partitions(rd_kafka_t *rk, const char *topic,
                                              int timeout_ms, int32_t *cnt,
                                              rd_kafka_resp_err_t *topic_err);

/* The earliest (which = RD_KAFKA_OFFSET_BEGINNING) or the end offset
 * (RD_KAFKA_OFFSET_END: the high watermark) of each partition in `parts`,
 * into a copy of it: one ListOffsets request per leader (what
 * rd_kafka_query_watermark_offsets() asks per partition). The copy's offset
 * is -1 where a partition's own error says there is none. Returns the
 * request's error (no answer within timeout_ms); NULL *out then. */
rd_kafka_resp_err_t rw_kafka_list_offsets(rd_kafka_t *rk,
                                          const rd_kafka_topic_partition_list_t *parts,
                                          int64_t which, int timeout_ms,
                                          rd_kafka_topic_partition_list_t **out);

/* Into errstr: "no answer from the brokers (kafka.bootstrap.servers B) in
 * N s: ERR; giving up (broker.timeout)", for a wait of waited_ms that
 * broker.timeout ended. B is "unset" when bootstrap is NULL or empty. */
void rw_kafka_no_answer(char *errstr, size_t errstr_size, const char *bootstrap,
                        int64_t waited_ms, rd_kafka_resp_err_t err);

/* The time a record's occurred_at is checked against (future.margin): the
 * record's Kafka timestamp (when it was produced, or appended to the log),
 * so that the verdict is the record's own and a replay or a later run gives
 * the same one; the wall clock `now_ms` when the record has no timestamp, or
 * one ahead of the wall clock (a producer that stamps records with their
 * event time, say). *what names it for a message: "its timestamp" or "now". */
int64_t rw_kafka_record_now(const rd_kafka_message_t *rkm, int64_t now_ms, const char **what);

/* Route librdkafka's own logs through rw_log. */
void rw_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

#endif
