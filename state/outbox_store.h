/* outbox_store.h - the Redis side of an outbox (see state/outbox.h): read
 * the oldest transitions waiting, trim what was delivered, and the slot's
 * firing set: the alerts whose last delivered transition was FIRING. */
#ifndef RW_OUTBOX_STORE_H
#define RW_OUTBOX_STORE_H

#include "common/rw.h"
#include "state/state.h"

/* One transition as stored: a framed RiskAlert. */
typedef struct rw_outbox_item_s {
        char *buf;
        size_t len;
} rw_outbox_item_t;

typedef struct rw_outbox_items_s {
        rw_outbox_item_t *v;
        size_t cnt;
} rw_outbox_items_t;

/* The outbox of slot `tag` ("dep", or a partition number with its input
 * `topic`; topic NULL for "dep"): up to `max` of its oldest transitions, in
 * order, into *out (caller clears with rw_outbox_items_clear()). RW_ERR_IO
 * on connection trouble (reconnect, call again), RW_ERR_FAIL when Redis
 * refused (errstr says why). */
rw_err_t rw_outbox_store_read(rw_state_t *st, const char *tag, const char *topic,
                              size_t max, rw_outbox_items_t *out,
                              char *errstr, size_t errstr_size);

/* What a delivered transition does to its slot's firing set: a FIRING one
 * (buf: the framed RiskAlert) is stored under its fingerprint, replacing
 * the one before (an escalation); a RESOLVED one (buf NULL) removes it. */
typedef struct rw_firing_update_s {
        const char *fingerprint;
        const void *buf;
        size_t len;
} rw_firing_update_t;

/* Remove the `cnt` oldest transitions of that outbox (delivered) and apply
 * `ups` (in order) to the slot's firing set, in one transaction:
 *
 *     <ns>:{<P>}:firing:<topic>   hash fingerprint -> framed RiskAlert
 *     <ns>:{dep}:firing
 *
 * so the set holds what Kafka acknowledged, whoever delivered it. */
rw_err_t rw_outbox_store_trim(rw_state_t *st, const char *tag, const char *topic,
                              size_t cnt, const rw_firing_update_t *ups, size_t up_cnt,
                              char *errstr, size_t errstr_size);

/* The firing set of slot `tag` (see rw_outbox_store_trim()): one item per
 * firing alert, its framed RiskAlert, in no particular order (caller clears
 * with rw_outbox_items_clear()). Errors as rw_outbox_store_read(). */
rw_err_t rw_outbox_store_firing(rw_state_t *st, const char *tag, const char *topic,
                                rw_outbox_items_t *out, char *errstr, size_t errstr_size);

/* How many transitions wait in the outboxes of `cnt` slots (tags[i] with
 * topics[i], as rw_outbox_store_read() names them), summed: one pipelined
 * round trip of LLEN. Errors as rw_outbox_store_read(). */
rw_err_t rw_outbox_store_depth(rw_state_t *st, const char *const *tags,
                               const char *const *topics, size_t cnt, int64_t *depthp,
                               char *errstr, size_t errstr_size);

/* NULL-safe; leaves *items empty. */
void rw_outbox_items_clear(rw_outbox_items_t *items);

#endif
