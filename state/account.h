/* account.h - one account's rolling state in memory and the pure arithmetic
 * that applies an event to it: day buckets kept within a window of the
 * account's own latest day, the order meta, the lifecycle states, and the
 * ids of its recent events (de-duplication). What changed since the last
 * write is tracked, so a batch writes only that. */
#ifndef RW_ACCOUNT_H
#define RW_ACCOUNT_H

#include "common/rw.h"
#include "rules/rules.h"

/* One decoded event as the state store applies it. Strings are borrowed. */
typedef struct rw_state_event_s {
        char kind;              /* P C R (orders), O E X V S (support) */
        const char *event_id;
        const char *account;
        const char *vendor;     /* "" for support events */
        int64_t amount;         /* minor units, or ticket severity 0..3 */
        int64_t occurred_at;
        int64_t offset;         /* its input offset */
        double csat;            /* support: the answer, when has_csat */
        double sentiment;       /* support: rounded to 4 decimals, when
                                 * has_sentiment */
        unsigned char has_csat, has_sentiment;
} rw_state_event_t;

/* A remembered event id: a 128-bit hash of it and its event time. */
typedef struct rw_seen_id_s {
        uint64_t h1, h2;
        int64_t at;
} rw_seen_id_t;

/* Stored size of one remembered id (two 64-bit halves and the time, little
 * endian). */
#define RW_SEEN_ID_SIZE 24

/* An account's state in one input stream (orders or support). */
typedef struct rw_account_view_s {
        char *account;
        rw_day_bucket_t *buckets;
        size_t bucket_cnt, bucket_size;
        unsigned char *bucket_dirty;    /* per bucket: changed since written */
        int64_t orders_total, first_order, last_order;
        int64_t maxday;                 /* latest event day (-1: none) */
        int64_t last_at;                /* latest event time applied (0: none) */
        int64_t last_offset;            /* highest input offset applied (-1: none) */
        rw_fp_state_t fp[RW_RULE__CNT];
        int fp_dirty[RW_RULE__CNT];     /* changed since written */
        int64_t due;                    /* when its rules next change verdict (0: none) */
        int64_t due_stored;             /* as stored */
        /* The stored due time is kept although due moved: it is earlier
         * than due and still ahead of the partition's clock, so it serves as
         * what it is for (found by a reload, the account is evaluated early,
         * which changes nothing, and stored anew): rw_account_due_keep(). */
        int due_keep;
        int meta_dirty;                 /* m (maxday, offset, time), o (orders) */
        int meta_legacy;                /* stored as m:maxday ... m:last fields
                                         * (earlier versions): removed at the
                                         * next write */
        int64_t *gone;                  /* days dropped since written */
        size_t gone_cnt, gone_size;
        rw_seen_id_t *ids;              /* recent event ids, oldest first */
        size_t id_cnt, id_size;
        int ids_dirty;
        /* The stored form is appended to: it holds ids_stored records, the
         * retention rule not yet applied to the later ones
         * (rw_account_ids_settle()), the last ids_tail of them in the
         * account hash's field "i" (rw_account_ids_mode()). ids_fresh:
         * remembered since the last write, the last ones of ids, the
         * stored tail's just before them, unless ids_rewrite (one of
         * those was dropped again). */
        size_t ids_stored, ids_fresh, ids_tail;
        int ids_rewrite;
} rw_account_view_t;

/* Start loading a view a loop over many accounts is about to read (most of
 * a batch's accounts were last touched a batch ago, out of the CPU caches;
 * a few iterations ahead hides the memory's latency): the view itself, then,
 * once it has arrived, its latest day bucket and newest remembered id. */
static inline void rw_account_prefetch(const rw_account_view_t *av) {
        __builtin_prefetch(av);
        __builtin_prefetch((const char *)av + 64);
        __builtin_prefetch((const char *)av + 128);
        __builtin_prefetch(&av->due);
}

static inline void rw_account_prefetch_data(const rw_account_view_t *av) {
        if (av->bucket_cnt) {
                __builtin_prefetch(&av->buckets[av->bucket_cnt - 1]);
                __builtin_prefetch(av->bucket_dirty);
        }
        if (av->id_cnt)
                __builtin_prefetch(&av->ids[av->id_cnt - 1]);
}

/* Limits the pure arithmetic works within. */
typedef struct rw_account_limits_s {
        int64_t window_days;    /* buckets kept: the days up to maxday (> 0) */
        int64_t dedup_ms;       /* ids kept: within this of the latest (0: off) */
        size_t dedup_max;       /* and at most this many */
} rw_account_limits_t;

/* Initialise an empty view for `account` (copied). -1 when out of memory. */
int rw_account_init(rw_account_view_t *av, const char *account);

/* The 128-bit hash an event id is remembered by. */
void rw_event_id_hash(const char *event_id, uint64_t *h1, uint64_t *h2);

/* 1 when the event is a re-delivery: its offset is not past the last one
 * the account applied (its partition was consumed again), or the account
 * remembers its id (the producer sent it twice). */
int rw_account_seen(const rw_account_view_t *av, const char *event_id, int64_t offset);
/* As rw_account_seen(), with the id's rw_event_id_hash() (computed once
 * for both calls of an event). */
int rw_account_seen_hashed(const rw_account_view_t *av, uint64_t h1, uint64_t h2,
                           int64_t offset);

/* Apply one event (pure): the bucket of its day, unless that day is behind
 * the window (the order meta still counts it); a new latest day drops the
 * buckets leaving the window; the id is remembered. Returns -1 on OOM. */
int rw_account_apply(rw_account_view_t *av, const rw_state_event_t *ev,
                     const rw_account_limits_t *lim);
int rw_account_apply_hashed(rw_account_view_t *av, const rw_state_event_t *ev,
                            uint64_t h1, uint64_t h2, const rw_account_limits_t *lim);

/* Parse a bucket as stored: "po,ps,co,ro,rs,tk,tu,cs,cn,ss,sn", where an
 * empty or missing field is 0. */
void rw_bucket_parse(int64_t day, const char *csv, rw_day_bucket_t *b);
/* Format a bucket as stored (the inverse of rw_bucket_parse): zeros as
 * empty fields, trailing ones left out. */
void rw_bucket_format(const rw_day_bucket_t *b, char *buf, size_t size);

/* The stored form of the remembered ids is a string (da:/ds:ACCOUNT)
 * followed by its tail, the account hash's field "i": RW_SEEN_ID_SIZE
 * bytes per id, in the order they arrived. The tail holds at most
 * RW_IDS_TAIL_MAX ids, under hash-max-listpack-value (64 bytes), so most
 * live writes store an account's new id in the account's own HSET rather
 * than in a command of its own. */
#define RW_IDS_TAIL_MAX 2

/* Load the remembered ids from their stored form (str: len bytes, tail:
 * tail_len; either may be empty); -1 when malformed or out of memory.
 * Then rw_account_ids_settle(). */
int rw_account_ids_load(rw_account_view_t *av, const void *str, size_t len, const void *tail,
                        size_t tail_len);
/* Apply the retention rule to the loaded ids one at a time, in the order
 * they arrived: the ids the view held when they were stored, whether the
 * stored form was appended to or written whole. A tail the rule dropped
 * from (read with other dedup settings than it was written with) makes
 * the next write of the ids rewrite them whole. */
void rw_account_ids_settle(rw_account_view_t *av, const rw_account_limits_t *lim);

/* How a write stores the ids remembered since the last one
 * (rw_account_ids_mode(); rw_account_clean() follows it):
 *   RW_IDS_TAIL    the tail and the new ids set as field "i";
 *   RW_IDS_APPEND  the tail and the new ids appended to the string, "i"
 *                  emptied;
 *   RW_IDS_WHOLE   all the ids kept set as the string, "i" emptied;
 *   RW_IDS_NONE    none kept: the string deleted, "i" emptied.
 * "i" is emptied only when it holds something (ids_tail). */
typedef enum { RW_IDS_TAIL, RW_IDS_APPEND, RW_IDS_WHOLE, RW_IDS_NONE } rw_ids_mode_t;
rw_ids_mode_t rw_account_ids_mode(const rw_account_view_t *av);
/* The first of ids a write in mode m stores: the records of
 * ids[from..id_cnt). */
size_t rw_account_ids_from(const rw_account_view_t *av, rw_ids_mode_t m);
/* Their stored form: the records of ids[from..id_cnt), (id_cnt - from) *
 * RW_SEEN_ID_SIZE bytes, to buf. */
void rw_account_ids_store(const rw_account_view_t *av, size_t from, unsigned char *buf);

/* How much earlier than the account's due time a stored one may be and
 * stay (rw_account_due_keep()). */
#define RW_DUE_KEEP_MS (3600 * 1000)

/* Whether the stored due time may stay as it is, decided once the account's
 * due time is final for a batch whose clock is `now`: when it is still ahead
 * of now, earlier than the due time and at most RW_DUE_KEEP_MS earlier. A
 * due time stored earlier than the account's is a lower bound: whoever
 * reads it (a reload of the due index, a restart) evaluates the account
 * then, finds nothing due (nothing changes verdict before the real one) and
 * stores the due time anew. So a live account whose due time moves with
 * every event (inactivity's limit counts from its last order) rewrites it
 * about once an hour, not at every write; a replay, whose accounts' due
 * times move by days, writes them as before, and reads no account back
 * early for a stale one. */
void rw_account_due_keep(rw_account_view_t *av, int64_t now);
/* 1 when the stored due time must be written (moved, and not kept). */
int rw_account_due_dirty(const rw_account_view_t *av);
/* 1 when anything changed since the view was last written. */
int rw_account_dirty(const rw_account_view_t *av);
/* Forget what changed (after it was written). */
void rw_account_clean(rw_account_view_t *av);

/* What the allocator takes for a block of n bytes (glibc: n and an 8-byte
 * header, in 16-byte steps, at least 32; 0 for no block). */
size_t rw_heap_block(size_t n);

/* Bytes the view holds on the heap, as the allocator counts them (its
 * blocks with their headers; for a cache's bound). */
size_t rw_account_footprint(const rw_account_view_t *av);

/* The packed form of a clean view (rw_account_dirty() 0): what a cache
 * keeps of an account it does not use at the moment, in a fraction of the
 * view's memory (the view holds every day's counts in 64 bytes and its
 * arrays with room to grow). It starts with the account's name and its NUL,
 * so (const char *)buf is the name. Variable-length integers, the days as
 * steps from the one before, only the non-zero fields of a bucket. *bufp is
 * malloc'ed; -1 when out of memory or the view is not clean. */
int rw_account_pack(const rw_account_view_t *av, unsigned char **bufp, size_t *lenp);
/* The same, into b (at least rw_account_pack_bound() bytes; the view must
 * be clean): its length. */
size_t rw_account_pack_bound(const rw_account_view_t *av);
size_t rw_account_pack_into(const rw_account_view_t *av, unsigned char *b);
/* The view a packed form holds, clean, into *av (initialised here). -1 when
 * out of memory or buf is not a packed view (nothing left in *av). */
int rw_account_unpack(const unsigned char *buf, size_t len, rw_account_view_t *av);
/* The same into a view whose blocks are reused (a view no longer needed:
 * what it held is overwritten; its blocks are grown where too small). -1 as
 * above, with av cleared (its blocks freed). */
int rw_account_unpack_reuse(const unsigned char *buf, size_t len, rw_account_view_t *av);

/* Free what a view holds (not the view itself). */
void rw_account_view_clear(rw_account_view_t *av);

#endif
