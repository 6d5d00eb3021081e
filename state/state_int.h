/* state_int.h - internal to state/: the connection the Redis stores share.
 * Nothing outside state/ includes this: every Redis command is sent here. */
#ifndef RW_STATE_INT_H
#define RW_STATE_INT_H

#include <hiredis/hiredis.h>
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

/* The key of partition `partition`'s interval bucket k of family fam ('a'
 * accounts, 'v' vendors): its hash NS:{P}:pb:F:K or, with str, its string
 * NS:{P}:pbs:F:K; cut to size like snprintf. Built without printf: the
 * write path and the decider name hundreds of thousands. */
void rw_state_interval_key(char *key, size_t size, const char *ns, int32_t partition,
                           int str, char fam, int64_t k);

/* "<tag><n>\r\n" at b (room for 23 bytes), the protocol's header of an
 * array (tag '*') or a bulk string ('$'); its length. */
size_t rw_resp_head(char *b, char tag, size_t n);

#endif
