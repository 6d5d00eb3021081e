/* prefetch.h - waking librdkafka's fetchers once the consumer queue drained.
 *
 * librdkafka 2.0 stops fetching a partition while the consumer queue holds
 * `queued.min.messages` (or `queued.max.messages.kbytes`): the limit applies
 * to the one queue all partitions share. A fetcher stopped that way is only
 * woken by its broker thread's next timer, up to a second later, however
 * quickly the queue drains. The mark says when the queue went from full (in
 * records, or in bytes as estimated from the records taken) to half full;
 * the wake-up then asks the leaders for an offset (ListOffsets), which
 * wakes their broker threads, and those fetch at once. */
#ifndef RW_PREFETCH_H
#define RW_PREFETCH_H

#include <stdint.h>
#include <librdkafka/rdkafka.h>

typedef struct rw_prefetch_mark_s {
        int64_t full;           /* queued.min.messages: fetching stops here */
        int64_t full_bytes;     /* queued.max.messages.kbytes, in bytes */
        int64_t seen;           /* records taken, */
        int64_t seen_bytes;     /* and their bytes: the average record */
        int was_full;           /* reached since the last wake-up */
} rw_prefetch_mark_t;

/* A mark for a queue that stops fetching at `full` records or `full_bytes`
 * bytes (0: no such limit). */
void rw_prefetch_mark_init(rw_prefetch_mark_t *m, int64_t full, int64_t full_bytes);

/* Counts records taken from the queue and their bytes (key and value), from
 * which the mark estimates what the queue's bytes are. */
void rw_prefetch_seen(rw_prefetch_mark_t *m, int64_t cnt, int64_t bytes);

/* The queue's limit in records: `full`, or fewer when the bytes of that
 * many average records would reach `full_bytes` first. */
int64_t rw_prefetch_limit(const rw_prefetch_mark_t *m);

/* Feeds the queue's length; 1 when it drained to half its limit after it
 * was full (once per fill), 0 otherwise. */
int rw_prefetch_mark(rw_prefetch_mark_t *m, int64_t qlen);

/* After the loop took `cnt` records of `bytes` bytes and the queue holds
 * `qlen` more: counts them (rw_prefetch_seen()) and feeds the mark the
 * length with and without the batch just taken, so that a fill the queue
 * overshot by less than a batch is not missed. 1 when the fetchers are to
 * be woken. */
int rw_prefetch_taken(rw_prefetch_mark_t *m, int64_t cnt, int64_t bytes, int64_t qlen);

/* A mark for the consumer's queue: its queued.min.messages and
 * queued.max.messages.kbytes. */
void rw_prefetch_mark_conf(rw_prefetch_mark_t *m, rd_kafka_t *rk);

/* Wakes the fetchers of the consumer's assignment: one ListOffsets per
 * leader, waited for at most `timeout_ms`. 0, or -1 (no assignment, or the
 * request failed: the fetchers wake on their own then). */
int rw_prefetch_wake(rd_kafka_t *rk, int timeout_ms);

#endif
