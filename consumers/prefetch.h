/* prefetch.h - waking librdkafka's fetchers once the consumer queue drained.
 *
 * librdkafka 2.0 stops fetching a partition while the consumer queue holds
 * `queued.min.messages` (or `queued.max.messages.kbytes`): the limit applies
 * to the one queue all partitions share. A fetcher stopped that way is only
 * woken by its broker thread's next timer, up to a second later, however
 * quickly the queue drains. The mark says when the queue went from full to
 * half full; the wake-up then asks the leaders for an offset (ListOffsets),
 * which wakes their broker threads, and those fetch at once. */
#ifndef RW_PREFETCH_H
#define RW_PREFETCH_H

#include <stdint.h>
#include <librdkafka/rdkafka.h>

typedef struct rw_prefetch_mark_s {
        int64_t full;           /* queued.min.messages: fetching stops here */
        int was_full;           /* reached since the last wake-up */
} rw_prefetch_mark_t;

/* A mark for a queue that stops fetching at `full` messages (0: never). */
void rw_prefetch_mark_init(rw_prefetch_mark_t *m, int64_t full);

/* Feeds the queue's length; 1 when it drained to half after it was full
 * (once per fill), 0 otherwise. */
int rw_prefetch_mark(rw_prefetch_mark_t *m, int64_t qlen);

/* The consumer's queued.min.messages (0 if unreadable). */
int64_t rw_prefetch_full(rd_kafka_t *rk);

/* Wakes the fetchers of the consumer's assignment: one ListOffsets per
 * leader, waited for at most `timeout_ms`. 0, or -1 (no assignment, or the
 * request failed: the fetchers wake on their own then). */
int rw_prefetch_wake(rd_kafka_t *rk, int timeout_ms);

#endif
