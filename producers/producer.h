/* producer.h - Kafka out: alerts (framed Avro) and the dead-letter queue. */
#ifndef RW_PRODUCER_H
#define RW_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include "common/conf.h"
#include "schemas/codec.h"

typedef struct rw_producer_s rw_producer_t;

/* An idempotent producer (acks=all) for conf's alerts and DLQ topics.
 * `codec` is borrowed and must outlive the producer. NULL + errstr on error. */
rw_producer_t *rw_producer_new(const rw_conf_t *conf, rw_codec_t *codec,
                               char *errstr, size_t errstr_size);
/* Flushes (bounded wait) and frees. NULL-safe. */
void rw_producer_destroy(rw_producer_t *prod);
/* What is produced: alerts (off: taken as delivered at once, nothing sent)
 * and dead letters (off: not sent; the caller counts them). Both on by
 * default; a replay's dry run turns both off. */
void rw_producer_set_sinks(rw_producer_t *prod, int alerts, int dlq);
/* Ask the cluster about the topics the producer's sinks write to (one
 * metadata round trip each, up to timeout_ms): this librdkafka (2.0) holds
 * the first message for a topic it knows nothing about until its once a
 * second topic scan, so the first delivery would wait up to a second.
 * Without answer, nothing changes: the first delivery waits as it would
 * have (logged at debug). */
void rw_producer_warm(rw_producer_t *prod, int timeout_ms);

/* Encode and enqueue one alert, keyed by its fingerprint. */
rw_err_t rw_producer_send_alert(rw_producer_t *prod, const rw_alert_t *alert,
                                char *errstr, size_t errstr_size);

/* Enqueue an already encoded alert (framed Avro) with its key. With
 * `statusp` (the caller's, valid until the next rw_producer_flush() has
 * returned): *statusp is RD_KAFKA_RESP_ERR__IN_PROGRESS until the broker
 * answers, then the outcome (RD_KAFKA_RESP_ERR_NO_ERROR when acknowledged);
 * a refusal of this record for what it is (rw_producer_err_permanent(),
 * e.g. too large) is stored there at once and returns RW_OK. */
rw_err_t rw_producer_send_alert_raw(rw_producer_t *prod, const void *key,
                                    size_t key_len, const void *value,
                                    size_t len, rd_kafka_resp_err_t *statusp,
                                    char *errstr, size_t errstr_size);

/* Whether err refuses one record for what it is (its size or its format),
 * so sending it again can never succeed; topic-wide errors (authorization,
 * unknown topic) and outages are not. */
int rw_producer_err_permanent(rd_kafka_resp_err_t err);

/* Enqueue an alert the alerts topic refused for good to the DLQ: its key
 * and framed value, headers rw.error.reason = `reason`, rw.error.message,
 * rw.source.topic (the alerts topic) and rw.alert.id. When the DLQ refuses
 * it for its size too, the record goes without key and value (the headers
 * still name it). Counted in rw_producer_alerts_dead(). */
rw_err_t rw_producer_send_dlq_alert(rw_producer_t *prod, const void *key, size_t key_len,
                                    const void *value, size_t len, const char *alert_id,
                                    const char *reason, const char *message,
                                    char *errstr, size_t errstr_size);

/* Alerts sent to the DLQ because the alerts topic refused them. */
int64_t rw_producer_alerts_dead(const rw_producer_t *prod);

/* Enqueue the original key and value of rkm to the DLQ, with the contract's
 * rw.error.* and rw.source.* headers. */
rw_err_t rw_producer_send_dlq(rw_producer_t *prod, const rd_kafka_message_t *rkm,
                              const char *reason, const char *message,
                              char *errstr, size_t errstr_size);

/* Wait until everything enqueued so far is acknowledged. RW_OK only if every
 * message since the previous flush was delivered; otherwise RW_ERR_IO with
 * the first delivery error. */
rw_err_t rw_producer_flush(rw_producer_t *prod, int timeout_ms,
                           char *errstr, size_t errstr_size);

/* Messages delivered in total, and how many failed. */
void rw_producer_stats(const rw_producer_t *prod, int64_t *deliveredp,
                       int64_t *failedp);

/* Serve delivery reports without blocking. */
void rw_producer_poll(rw_producer_t *prod);

#endif
