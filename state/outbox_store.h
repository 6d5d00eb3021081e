/* outbox_store.h - the Redis side of an outbox (see state/outbox.h): read
 * the oldest transitions waiting, trim what was delivered. */
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

/* Remove the `cnt` oldest transitions of that outbox (delivered). */
rw_err_t rw_outbox_store_trim(rw_state_t *st, const char *tag, const char *topic,
                              size_t cnt, char *errstr, size_t errstr_size);

/* NULL-safe; leaves *items empty. */
void rw_outbox_items_clear(rw_outbox_items_t *items);

#endif
