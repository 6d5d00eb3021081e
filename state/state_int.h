/* state_int.h - internal to state/: the connection the Redis stores share.
 * Nothing outside state/ includes this: every Redis command is sent here. */
#ifndef RW_STATE_INT_H
#define RW_STATE_INT_H

#include <hiredis/hiredis.h>
#include "state/resp.h"
#include "state/state.h"

/* The live hiredis context, connected anew when there is none or it is in
 * error (a context in error is never reused). NULL with errstr filled when
 * Redis is unreachable. */
redisContext *rw_state_conn(rw_state_t *st, char *errstr, size_t errstr_size);

/* 1 when an error reply says "not now" rather than "no" (LOADING after a
 * restart, BUSY, TRYAGAIN, MASTERDOWN, EXECABORT): retried as RW_ERR_IO, not
 * reported as a fault. */
int rw_reply_transient(const redisReply *r);

/* Why rw_state_conn() returned NULL: RW_ERR_IO when Redis did not answer
 * (retriable), RW_ERR_CONFIG when it refused the credentials or database. */
rw_err_t rw_state_conn_err(const rw_state_t *st);

/* A Redis round trip's timing: t0 = rw_state_rt_begin() just before the
 * first reply is awaited (its commands written or appended), then
 * rw_state_rt_end(t0) once the last reply is in: reported to the callback
 * set by rw_state_set_round_trip_cb(). */
int64_t rw_state_rt_begin(void);
void rw_state_rt_end(int64_t t0);

/* Interval buckets opened in one chunk of RW_PB_CHUNK consecutive
 * intervals share a string, NS:{P}:pbc:F:C (C = floor(k / RW_PB_CHUNK)):
 * the sections of its intervals in ascending order, each the interval's
 * offset in the chunk and the length of its bucket (LEB128 varints), then
 * the bucket in the fold copies' encoding (rw_bstore_fold_encode()). A
 * write APPENDs the intervals it opens (a day's worth of hourly intervals
 * is one key, not 24), so a chunk holds each interval once, whatever the
 * batches. What later batches add to an interval goes to its hash,
 * NS:{P}:pb:F:K, which the sorted set NS:{P}:pbh:F lists (score and member
 * K). NS:{P}:pbc:since is the lowest interval ever stored in a chunk: below
 * it, an interval may still have the string an earlier version stored it
 * as, NS:{P}:pbs:F:K, and a hash the index does not list. */
#define RW_PB_CHUNK 24

/* The chunk of interval k (floor division). */
static inline int64_t rw_pb_chunk(int64_t k) {
        return k >= 0 ? k / RW_PB_CHUNK : -((-(k + 1)) / RW_PB_CHUNK) - 1;
}

/* What rw_state_interval_key() names. */
typedef enum {
        RW_PBK_HASH,    /* NS:{P}:pb:F:K, what later batches added */
        RW_PBK_STR,     /* NS:{P}:pbs:F:K, an earlier version's whole interval */
        RW_PBK_CHUNK,   /* NS:{P}:pbc:F:C, k being the chunk C */
} rw_pbk_t;

/* The key of partition `partition`'s interval bucket k of family fam ('a'
 * accounts, 'v' vendors), of kind `what`; cut to size like snprintf. Built
 * without printf: the write path and the decider name hundreds of
 * thousands. */
void rw_state_interval_key(char *key, size_t size, const char *ns, int32_t partition,
                           rw_pbk_t what, char fam, int64_t k);

#endif
