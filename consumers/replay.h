/* replay.h - the pure core of a batch: replays one partition's events, in
 * offset order, over its accounts as they were before the batch, evaluates
 * the churn rules at each event's watermark and at every due time event
 * time passes, and says which events were duplicates, which portfolio
 * interval each order counts in, and which alert transitions follow. No I/O:
 * the caller loads the accounts and writes what changed. */
#ifndef RW_REPLAY_H
#define RW_REPLAY_H

#include <sys/types.h>
#include "common/rw.h"
#include "rules/rules.h"
#include "schemas/codec.h"
#include "state/account.h"

typedef struct rw_replay_opts_s {
        const rw_rules_params_t *params;
        rw_rule_source_t src;           /* the partition's stream */
        const char *topic;              /* for the alerts' source fields */
        int32_t partition;
        int64_t lateness_ms;            /* allowed.lateness */
        int64_t interval_ms;            /* the dependency rules' boundaries */
        int64_t dep_decided;            /* the last boundary decided */
        rw_account_limits_t lim;
        int64_t watermark;              /* the partition's, before the batch */
        int64_t follow_from;            /* a follow (an idle partition's batch
                                         * without records, its clock moved to
                                         * watermark - lateness): the clock
                                         * before it (0: not a follow) */
        rw_input_gaps_t gaps;           /* its gaps and the group's outages, before the batch */
        /* The group's other orders partitions, read when the batch holds a
         * gap of this one (rw_replay_gap_ahead()): a gap needs them to have
         * passed its end. peer_cnt < 0: not read; 0: there are none. */
        const rw_input_peer_t *peers;
        ssize_t peer_cnt;
        int64_t wall_ms;                /* emitted_at of the alerts */
        int replay;                     /* the alerts' replay flag */
        int64_t emit_from;              /* transitions before it: stepped, not emitted */
} rw_replay_opts_t;

/* A batch's alert transitions, with storage for their strings: one
 * allocation per alert holds its fingerprint, alert id and summary, sized
 * for them (an id of any length is never cut). */
typedef struct rw_alerts_s {
        rw_alert_t *v;
        char **strs;
        size_t cnt, size;
} rw_alerts_t;

void rw_alerts_clear(rw_alerts_t *al);

typedef struct rw_replay_out_s {
        int64_t suppressed;             /* transitions before emit_from */
        char *flags;            /* per event: '1' applied, 'd' duplicate */
        int64_t *pbk;           /* per event: its portfolio interval (-1: none) */
        int64_t watermark;      /* after the batch */
        rw_input_gaps_t gaps;   /* the partition's gaps and outages after it */
        int gaps_changed;       /* gaps differ from the batch's opts */
        /* The first event not replayed (-1: none): it ends a gap of the
         * partition while not every other orders partition has passed its
         * time `need`. The events before it are replayed as if the batch
         * ended there; it and the rest wait (read again later). */
        ssize_t stop;
        int64_t need;
        int64_t max_at;         /* highest event time applied (0: none) */
        int64_t applied, duplicates, late;
        int64_t applied_late;           /* of applied: late ones (late counts duplicates too) */
        rw_alerts_t alerts;
} rw_replay_out_t;

void rw_replay_out_clear(rw_replay_out_t *out);

/* Whether one of the `cnt` events (a batch of an orders partition) ends a
 * gap of the partition (rw_input_gaps_note()): the batch then needs
 * o->peers. */
int rw_replay_gap_ahead(const rw_replay_opts_t *o, const rw_state_event_t *evs, size_t cnt);

/* The distinct views of avs[0, n), in the order they first appear, into out
 * (room for n): a batch's accounts, as rw_replay_batch() takes them.
 * Returns how many; aborts when out of memory. */
size_t rw_replay_distinct(rw_account_view_t *const *avs, size_t n, rw_account_view_t **out);

/* Replay `cnt` events (offsets[i] is event i's offset) of one partition.
 * avs[i] is event i's account view; `accts` lists every distinct account
 * of the batch and every account due by its end (each once). The views are
 * updated in place (buckets, meta, lifecycle states, due times, ids).
 * Returns -1 when out of memory. */
int rw_replay_batch(const rw_replay_opts_t *o, const rw_state_event_t *evs,
                    const int64_t *offsets, size_t cnt, rw_account_view_t *const *avs,
                    rw_account_view_t *const *accts, size_t acct_cnt,
                    rw_replay_out_t *out);

#endif
