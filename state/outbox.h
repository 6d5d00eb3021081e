/* outbox.h - alert transitions waiting in Redis for delivery to Kafka.
 *
 * A transition is decided and written to Redis in the same atomic step as
 * the state that caused it (the batch script for churn rules, the boundary
 * script for dependency rules): RPUSH onto the list
 *
 *     <ns>:{<tag>}:outbox       tag = the partition number, or "dep"
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

/* Deliver everything in the outbox of slot `tag`: produce, flush, then trim
 * what was acknowledged. *deliveredp (optional) counts the transitions.
 * RW_ERR_IO on Redis or delivery trouble (nothing trimmed that was not
 * acknowledged: call again). */
rw_err_t rw_outbox_drain(rw_state_t *st, const char *tag,
                         struct rw_producer_s *prod, rw_codec_t *codec,
                         rw_outbox_emit_cb *emit, void *opaque,
                         int64_t *deliveredp, char *errstr, size_t errstr_size);

#endif
