/* outbox.h - alert transitions waiting in Redis for delivery to Kafka.
 *
 * A transition is decided and written to Redis in the same atomic step as
 * the state that caused it (the batch transaction for churn rules, the
 * boundary script for dependency rules): RPUSH onto the list
 *
 *     <ns>:{<P>}:outbox:<topic>   transitions of partition P of an input topic
 *     <ns>:{dep}:outbox           transitions of the dependency rules
 *
 * of one element per transition: the RiskAlert as it goes to Kafka (framed
 * Avro, the writer id included). The owner of the slot then produces the
 * elements in order, waits for the broker's acknowledgement, and only then
 * trims them off the list. A crash in between delivers them again on the next
 * drain, with the same alert ids (at-least-once, consumers dedupe on
 * alert_id); a transition is never lost and never decided twice. */
#ifndef RW_OUTBOX_H
#define RW_OUTBOX_H

#include "common/rw.h"
#include "schemas/codec.h"

typedef struct rw_state_s rw_state_t;
struct rw_producer_s;

/* Called for every delivered transition (decoded for people): print it. */
typedef void (rw_outbox_emit_cb)(void *opaque, const rw_alert_t *alert);

/* Deliver everything in the outbox of slot `tag` ("dep", or a partition
 * number with its input `topic`; topic NULL for "dep"): produce, flush, trim
 * what was acknowledged. *deliveredp (optional) counts the transitions.
 * RW_ERR_IO on Redis trouble (reconnect, call again), RW_ERR_FAIL when the
 * broker did not acknowledge (errstr says why). Nothing is trimmed that was
 * not acknowledged, except a transition the alerts topic refuses for what it
 * is (too large, malformed: rw_producer_err_permanent()): that one goes to
 * the DLQ as `alert_undeliverable` with the broker's reason, is logged and
 * counted (rw_producer_alerts_dead()), and the outbox moves on. */
rw_err_t rw_outbox_drain(rw_state_t *st, const char *tag, const char *topic,
                         struct rw_producer_s *prod, rw_codec_t *codec,
                         rw_outbox_emit_cb *emit, void *opaque,
                         int64_t *deliveredp, char *errstr, size_t errstr_size);

/* rw_outbox_drain() of `cnt` slots (tags[i] with topics[i]) at once: each
 * slot's transitions in order, and one wait for the broker's
 * acknowledgements of every slot's chunk instead of one per slot. */
rw_err_t rw_outbox_drain_many(rw_state_t *st, const char *const *tags,
                              const char *const *topics, size_t cnt,
                              struct rw_producer_s *prod, rw_codec_t *codec,
                              rw_outbox_emit_cb *emit, void *opaque,
                              int64_t *deliveredp, char *errstr, size_t errstr_size);

#endif
