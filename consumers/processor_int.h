/* processor_int.h - what the consumer loop's parts share (consumers/
 * processor.c: the loop; partitions.c: assignment, positions, fencing;
 * route.c: decode, validate, route or dead-letter; batch.c: a batch's
 * accounts, replay and fenced write; follow.c: quiet partitions' clocks;
 * hold.c: a partition waiting at a gap of its own; registry_gate.c: riding
 * out a schema registry outage). Not an API. */
#ifndef RW_PROCESSOR_INT_H
#define RW_PROCESSOR_INT_H

#include <signal.h>
#include <librdkafka/rdkafka.h>
#include "consumers/processor.h"
#include "producers/producer.h"
#include "schemas/registry.h"
#include "state/state.h"
#include "state/outbox.h"
#include "state/cache.h"
#include "consumers/replay.h"
#include "consumers/boundary.h"
#include "consumers/decider.h"
#include "consumers/prefetch.h"
#include "rules/rules.h"
#include "common/repeat.h"
#include "common/arena.h"

/* One assigned input partition. */
typedef struct rw_part_s {
        char topic[256];
        int32_t partition;
        int64_t expected;       /* next offset as stored in Redis (-1: none) */
        int64_t watermark;      /* highest event time applied */
        rw_input_gaps_t gaps;   /* its input outages, as stored */
        int eof;
        int assigned;
        int64_t end;            /* opts.end_offsets': records from here on are not read (-1: none) */
        int64_t start_at_assign;        /* where reading starts when assigned: the stored
                                         * or start offset, else (-e) its earliest
                                         * offset, else RD_KAFKA_OFFSET_BEGINNING */
        int64_t hi_at_assign;           /* -e: its end when assigned (-1: not known) */
        int64_t end_since;      /* wall ms since when it is at its end (0: not) */
        int end_reported;       /* the last report said it is at its end */
        int64_t follow;         /* this batch: idle, its clock moves to this (0: not) */
        int64_t followed;       /* the clock its last follow moved it to */
        int fl_follow;          /* the write in flight is a follow (no records) */
        int64_t hold_need;      /* paused at a gap of its own until every other
                                 * orders partition passed this event time (0: not) */
        /* per batch */
        rw_state_event_t *evs;
        int64_t *ev_offsets;
        size_t ev_cnt, ev_size;
        int64_t last_offset;    /* highest offset in this batch (-1: none) */
        int64_t route_wm;       /* watermark over the records routed so far */
        int64_t retry_at;       /* stopped here by a registry outage (-1: not) */
        int drain;              /* its outbox may hold undelivered transitions */
        rw_account_view_t **accts;      /* the batch's accounts (in the cache) */
        size_t acct_cnt, acct_size;
        rw_state_write_t *w;            /* the batch's write, until executed */
        rw_due_query_t due;             /* the batch's accounts due by its end */
        struct rw_due_index_s *dues;    /* its accounts' due times (consumers/due_index.h) */
        int dues_loaded;                /* dues holds what Redis does (0: load it) */
        rw_isums_t *isums;              /* its latest intervals' hashes (state.h) */
        int64_t pb_first, pb_last;      /* its stored pb:first, pb:last (-1: none) */
        int64_t sent;                   /* the next offset of the last write sent */
        /* Assigned with no stored position: Redis holds none of its accounts
         * but those this process wrote, which stay cached while the cache's
         * evictions of its tag are still fresh_evicted: a miss is a new
         * account then, made without a read (rw_part_resolve()). */
        int fresh;
        uint64_t fresh_evicted;
        /* The open write (w): the batches gathered into it since the
         * previous one was sent, their accounts (written when it is sent;
         * repeats allowed), their counts. */
        rw_account_view_t **pend;
        size_t pend_cnt, pend_size;
        int64_t b_applied, b_duplicates, b_late;
        int b_records;                  /* some of them had records (not only a follow) */
        int64_t *vmax;                  /* per event: its vendor's latest stored day */
        size_t vmax_size;
        /* The write in flight (sent, outcome not read yet). */
        rw_state_write_t *fl_w;
        rw_account_view_t **fl_accts;   /* its accounts (kept cached until read) */
        size_t fl_acct_cnt, fl_acct_size;
        int64_t fl_next, fl_applied, fl_duplicates, fl_late;
        size_t fl_alerts;
        size_t b_alerts;
} rw_part_t;

struct rw_processor_s {
        const rw_conf_t *conf;
        rw_processor_opts_t opts;
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue;        /* the consumer queue */
        rw_prefetch_mark_t prefetch;    /* when to wake the fetchers */
        rd_kafka_topic_t *inputs[2];    /* the input topics, known before the first assignment */
        rw_codec_t *codec;
        rw_producer_t *prod;
        rw_state_t *state;
        rw_state_t *wstate;             /* a second connection: batch writes */
        rw_state_txn_t *txn;            /* the batch write in flight (NULL: none) */
        rw_state_write_t **fl_ws;       /* its writes and their outcomes */
        rw_err_t *fl_errs;
        size_t fl_n, fl_size;
        rw_cache_t *cache;              /* the owned partitions' accounts */
        volatile sig_atomic_t *run_stop;        /* rw_processor_run()'s, while it runs */
        rw_account_limits_t lim;
        rw_rules_params_t params;
        char topic_orders[256], topic_support[256];
        char topic_alerts[256], topic_dlq[256];  /* what it produces to */
        int64_t lateness_ms;
        rw_validate_limits_t vlim;
        int64_t interval_ms;            /* dependency rules' boundaries */
        int64_t nudged;                 /* own orders low watermark at the last
                                         * rw_decider_nudge() */
        int64_t state_days;             /* the longest window an account rule reads */
        rw_decider_t *decider;          /* the dependency rules' decider (a thread) */
        int32_t alert_schema_id;        /* the registry's id for alerts (-1: none) */
        rw_boundary_t *boundary;        /* reads the group's low watermark (the decider has its own) */
        int32_t orders_partitions;      /* of topics.orders (0: not known yet) */
        int64_t tick_at;                /* mono ms of the next end-of-partition report */
        int64_t group_now;              /* the group's low watermark (INT64_MIN: none) */
        rw_repeat_t low_fault;          /* reading it failed: said once, not per tick */
        int64_t idle_timeout_ms;
        int64_t check_at;               /* mono ms of the next position check */
        int64_t lock_ttl_ms;            /* of the decider's lock */
        int batch_size, batch_timeout_ms;
        /* Gathering batches into the open writes while the previous write
         * is in flight: since when (mono ms; 0: none open), and the bounds
         * (write.max.delay, write.max.records). And after it landed, within
         * write.linger of when it went out (sent_at, mono ms). */
        int64_t open_since, open_events;
        int64_t gather_max_ms, gather_max_events;
        int64_t linger_ms, sent_at;
        int64_t due_ahead;      /* state.due.max.ahead (0: all in memory) */
        rw_part_t *parts;
        size_t part_cnt, part_size;
        rw_arena_t arena;               /* the batch's decoded strings (they die on
                                         * the next decode) */
        rw_processor_stats_t stats;
        /* Records older than the window: dead letters unless re-deliveries. */
        struct rw_late_s {
                rd_kafka_message_t *rkm;
                rw_part_t *p;
                const char *event_id;
                const char *account;
                const char *msg;
        } *late;
        size_t late_cnt, late_size;
        int64_t dlq_logged_at[RW_DLQ__CNT];     /* mono ms of the last DLQ log line */
        int64_t dlq_unlogged[RW_DLQ__CNT];      /* dead letters since then */
        int fatal;
        int fatal_config;       /* the fatal error is the configuration's */
        int interval_checked;   /* the namespace's evaluation.interval is ours */
        char fatal_err[1024];
        volatile sig_atomic_t *stop;    /* rw_processor_run()'s, for callbacks */
        int64_t broker_timeout_ms;      /* -e: longest wait for the brokers */
        char bootstrap[512];            /* kafka.bootstrap.servers, for messages */
        /* Schema registry: NULL without one. While it gives no answer for a
         * record's schema, that record's partition stops before it
         * (retry_at), the assignment is paused, and the record is decoded
         * again (a probe) with backoff until the registry answers. */
        rw_registry_t *registry;
        int alerts_registered;
        int reg_blocked;                /* partitions stopped in this batch */
        int reg_wait;                   /* paused, probing */
        int reg_backoff_ms;
        int64_t reg_probe_at;           /* mono ms */
        void *reg_probe;                /* the first stopped record's value */
        size_t reg_probe_len;
        rw_record_type_t reg_probe_type;
        char reg_why[512];
        /* Input topics the broker did not know (bit 0 orders, 1 support),
         * asked again at topics_check_at (mono ms; 0: not asked yet). */
        int topics_missing;
        /* The broker's first answer about every topic, kept by
         * rw_check_topics() for rw_check_outputs() (NULL once used). */
        const struct rd_kafka_metadata *start_md;
        int64_t topics_check_at;
};

/* The partition's tag in the account cache; its vendors (views holding
 * their latest stored day only) are kept under a tag of their own. */
#define RW_VENDOR_TAG_BASE (1 << 24)

const char *rw_dlq_reason_name(rw_dlq_reason_t r);
void rw_route(rw_processor_t *proc, rd_kafka_message_t *rkm, int *dlq_sent);
void rw_settle_late(rw_processor_t *proc, int *dlq_sent,
                           volatile sig_atomic_t *stop);
void rw_registry_pause(rw_processor_t *proc);
void rw_registry_probe(rw_processor_t *proc);
void rw_registry_register_alerts(rw_processor_t *proc,
                                        volatile sig_atomic_t *stop);
rw_part_t *rw_part_find(rw_processor_t *proc, const char *topic,
                               int32_t partition, int create);
int rw_part_tag(const rw_processor_t *proc, const rw_part_t *p);
void rw_part_forget(rw_processor_t *proc, rw_part_t *p);
void rw_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque);
void rw_fenced(rw_processor_t *proc, rw_part_t *p, const char *why);
int rw_check_positions(rw_processor_t *proc);
int rw_all_eof(rw_processor_t *proc);
int rw_follow_due(const rw_processor_t *proc);
void rw_follow_mark(rw_processor_t *proc);
void rw_loop_tick(rw_processor_t *proc);
void rw_emit_out(void *opaque, const rw_alert_t *a);
void rw_parts_drain(rw_processor_t *proc, volatile sig_atomic_t *stop);
int rw_part_resolve(rw_processor_t *proc, rw_part_t *p, const char **names,
                           size_t cnt, rw_account_view_t **views,
                           volatile sig_atomic_t *stop);
void rw_write_finish(rw_processor_t *proc, volatile sig_atomic_t *stop);
/* The write in flight settles, then the open writes (batches gathered while
 * it was in flight) go out. */
void rw_write_commit(rw_processor_t *proc, volatile sig_atomic_t *stop);
/* Whether some partition has an open write (not sent yet). */
int rw_write_open(const rw_processor_t *proc);
/* Whether the open writes wait for more batches once nothing is in flight:
 * within write.linger of the previous write's start and write.max.delay of
 * their first batch, holding fewer records than batch.size and
 * write.max.records, with the account cache within its bound, and (-e) not
 * every partition at its end. */
int rw_write_lingers(rw_processor_t *proc);
/* The write in flight settles; the open writes go out unless they linger
 * (rw_write_lingers()). What the loop calls between batches; a rebalance or
 * a stop calls rw_write_commit(). */
void rw_write_tick(rw_processor_t *proc, volatile sig_atomic_t *stop);
void rw_process_batch(rw_processor_t *proc, rd_kafka_message_t **msgs,
                             size_t cnt, volatile sig_atomic_t *stop);
void rw_fatal(rw_processor_t *proc, const char *fmt, const char *what);
void rw_ops_feed(rw_processor_t *proc);

/* hold.c: an orders partition waiting at a gap of its own. */
/* The other orders partitions as a gap of p needs them, into *peersp (the
 * caller frees it); -1 when they cannot be read now. */
ssize_t rw_hold_peers(rw_processor_t *proc, const rw_part_t *p, rw_input_peer_t **peersp);
/* The batch stopped at the record at `offset`: it ends a gap of the
 * partition whose outages of the group's input are not known until every
 * other orders partition passed `need`. The batch is written up to it; the
 * partition pauses, and reads it and the `left` records after it again once
 * they did (rw_hold_release()). */
void rw_hold_start(rw_processor_t *proc, rw_part_t *p, int64_t offset, int64_t need,
                   size_t left);
/* Resume a waiting partition; with `seek`, at its first unapplied record. */
void rw_hold_end(rw_processor_t *proc, rw_part_t *p, int seek);
/* Resume the waiting partitions whose peers passed what they wait for.
 * *hopeless counts those that cannot go on in a run that stops at the end:
 * every peer short of it is at its end or waits at a gap itself. Returns
 * how many resumed. */
int rw_hold_release(rw_processor_t *proc, int *hopeless);
/* How many assigned partitions wait; a warning for each (at the end of a run). */
int rw_hold_cnt(const rw_processor_t *proc);
void rw_hold_report(const rw_processor_t *proc);

/* topics.c: the input topics exist (first call: asked before the first
 * poll, -e fails naming the missing ones; then asked again every 2 s while
 * one is missing), and the output topics before anything is consumed. 0,
 * or -1 and errstr. */
int rw_check_topics(rw_processor_t *proc, volatile sig_atomic_t *stop,
                    char *errstr, size_t errstr_size);
int rw_check_outputs(rw_processor_t *proc, volatile sig_atomic_t *stop,
                     char *errstr, size_t errstr_size);

#endif /* RW_PROCESSOR_INT_H */
