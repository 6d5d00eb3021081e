/* state.c - the Redis adapter: connection, account loads, the fenced batch
 * write (WATCH/MULTI/EXEC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "state/state.h"
#include "state/state_int.h"
#include "common/log.h"
#include "common/arena.h"
#include "common/i64map.h"
#include "common/varint.h"
#include "state/boundary_store.h"

struct rw_state_s {
        redisContext *rc;
        rw_redis_url_t url;
        int64_t timeout_ms;
        char ns[128];
        rw_err_t conn_err;      /* of the last reconnect: RW_ERR_IO, or a refusal */
        /* A destroyed write's argument buffers, and the transaction's, kept
         * for the next: a batch's write neither grows them again nor
         * touches new pages. Writes are built on one thread. */
        char *spare_buf;
        size_t spare_buf_size, spare_args_size;
        uint32_t *spare_offs, *spare_lens;
        char *tx_b;
        size_t tx_size;
        /* Write tokens (rw_state_write_send()): random per process, then
         * counted. */
        uint64_t token_base, token_seq;
};

/* "NS:{PARTITION}:MID:SUBJECT" into key, cut to size like snprintf (the hot
 * path builds three per account; vfprintf was a tenth of it). */
static void rw_key(char *key, size_t size, const char *ns, int32_t partition,
                   const char *mid, const char *subject) {
        char num[24];
        const char *parts[7] = { ns, ":{", num, "}:", mid, ":", subject };
        size_t n = 0;

        num[rw_i64_str(num, partition)] = '\0';
        for (int i = 0; i < 7 && size; i++) {
                size_t l = strlen(parts[i]);
                if (n + l >= size)
                        l = size - 1 - n;
                memcpy(key + n, parts[i], l);
                n += l;
        }
        if (size)
                key[n] = '\0';
}

static void (*rw_state_rt_cb)(void *opaque, double seconds);
static void *rw_state_rt_opaque;

void rw_state_set_round_trip_cb(void (*cb)(void *opaque, double seconds), void *opaque) {
        rw_state_rt_cb = cb;
        rw_state_rt_opaque = opaque;
}

int64_t rw_state_rt_begin(void) {
        return rw_state_rt_cb ? rw_mono_us() : 0;
}

void rw_state_rt_end(int64_t t0) {
        if (rw_state_rt_cb && t0)
                rw_state_rt_cb(rw_state_rt_opaque, (double)(rw_mono_us() - t0) / 1e6);
}

static void rw_state_disconnect(rw_state_t *st) {
        if (st->rc) {
                redisFree(st->rc);
                st->rc = NULL;
        }
}

/* An error reply that says "not now" rather than "no": Redis is loading its
 * data after a restart, busy with a script, a replica without its master, a
 * failover or resharding in progress, or a transaction refused for one of
 * those. Retried like a connection failure (the connection is dropped, so
 * callers see RW_ERR_IO); any other error reply is a fault. */
int rw_reply_transient(const redisReply *r) {
        static const char *const codes[] = { "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN",
                                             "CLUSTERDOWN", "READONLY", "EXECABORT" };
        if (!r || r->type != REDIS_REPLY_ERROR)
                return 0;
        for (size_t i = 0; i < RW_ARRAY_SIZE(codes); i++) {
                size_t n = strlen(codes[i]);
                if (r->len >= n && !strncmp(r->str, codes[i], n) &&
                    (r->len == n || r->str[n] == ' '))
                        return 1;
        }
        return 0;
}

/* Run a command that must not fail; fills errstr with Redis' reason. */
static redisReply *rw_state_cmd(rw_state_t *st, char *errstr, size_t errstr_size,
                                int argc, const char **argv, const size_t *lens) {
        int64_t t0 = rw_state_rt_begin();
        redisReply *r = redisCommandArgv(st->rc, argc, argv, lens);
        rw_state_rt_end(t0);
        if (!r) {
                snprintf(errstr, errstr_size, "redis: %s", rw_redis_strerror(st->rc));
                rw_state_disconnect(st);
                return NULL;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "redis: %s: %.*s", argv[0],
                         (int)r->len, r->str);
                /* Replies that say "not now" are outages: drop the
                 * connection, so the caller sees an I/O error and retries.
                 * Any other error reply is a fault (see rw_state_cmd_err). */
                if (rw_reply_transient(r))
                        rw_state_disconnect(st);
                freeReplyObject(r);
                return NULL;
        }
        return r;
}

/* What a NULL from rw_state_cmd() was: the connection is dropped on an I/O
 * failure (retriable) and kept on an error reply (a fault: RW_ERR_FAIL). */
static rw_err_t rw_state_cmd_err(const rw_state_t *st) {
        return st->rc ? RW_ERR_FAIL : RW_ERR_IO;
}

redisContext *rw_state_conn(rw_state_t *st, char *errstr, size_t errstr_size) {
        if ((!st->rc || st->rc->err) && rw_state_reconnect(st, errstr, errstr_size))
                return NULL;
        return st->rc;
}

rw_err_t rw_state_conn_err(const rw_state_t *st) {
        return st->conn_err ? st->conn_err : RW_ERR_IO;
}

const char *rw_state_ns(const rw_state_t *st) {
        return st->ns;
}

rw_err_t rw_state_reconnect(rw_state_t *st, char *errstr, size_t errstr_size) {
        struct timeval tv = { .tv_sec = st->timeout_ms / 1000,
                              .tv_usec = (st->timeout_ms % 1000) * 1000 };
        redisReply *r = NULL;
        char dbbuf[16];
        rw_err_t err = RW_ERR_IO;

        rw_state_disconnect(st);
        if (st->url.is_unix)
                st->rc = redisConnectUnixWithTimeout(st->url.path, tv);
        else
                st->rc = redisConnectWithTimeout(st->url.host, st->url.port, tv);
        if (!st->rc || st->rc->err) {
                if (st->url.is_unix)
                        snprintf(errstr, errstr_size, "redis: connect to %s: %s",
                                 st->url.path,
                                 st->rc ? rw_redis_strerror(st->rc) : "out of memory");
                else
                        snprintf(errstr, errstr_size, "redis: connect to %s:%d: %s",
                                 st->url.host, st->url.port,
                                 st->rc ? rw_redis_strerror(st->rc) : "out of memory");
                goto done;
        }
        redisSetTimeout(st->rc, tv);

        if (st->url.password[0]) {
                if (st->url.user[0]) {
                        const char *argv[] = { "AUTH", st->url.user, st->url.password };
                        r = rw_state_cmd(st, errstr, errstr_size, 3, argv, NULL);
                } else {
                        const char *argv[] = { "AUTH", st->url.password };
                        r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL);
                }
                if (!r) {
                        err = st->rc ? RW_ERR_CONFIG : RW_ERR_IO;
                        goto done;
                }
                freeReplyObject(r);
        }
        if (st->url.db) {
                const char *argv[] = { "SELECT", dbbuf };
                snprintf(dbbuf, sizeof(dbbuf), "%d", st->url.db);
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL))) {
                        err = st->rc ? RW_ERR_CONFIG : RW_ERR_IO;
                        goto done;
                }
                freeReplyObject(r);
        }
        err = RW_OK;
done:
        if (err)
                rw_state_disconnect(st);
        st->conn_err = err;
        return err;
}

rw_state_t *rw_state_new(const rw_conf_t *conf, char *errstr, size_t errstr_size) {
        rw_state_t *st = calloc(1, sizeof(*st));

        if (!st) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (rw_redis_url_parse(rw_conf_get_str(conf, "redis.url"), &st->url,
                               errstr, errstr_size))
                goto fail;
        st->timeout_ms = rw_conf_get_int(conf, "redis.timeout");
        if (getrandom(&st->token_base, sizeof(st->token_base), 0) !=
            (ssize_t)sizeof(st->token_base))
                st->token_base = (uint64_t)rw_mono_us() * 0x9e3779b97f4a7c15ULL ^
                                 (uint64_t)getpid() << 32;
        snprintf(st->ns, sizeof(st->ns), "%s", rw_conf_get_str(conf, "state.namespace"));
        if (rw_state_reconnect(st, errstr, errstr_size))
                goto fail;
        return st;
fail:
        rw_state_destroy(st);
        return NULL;
}

void rw_state_destroy(rw_state_t *st) {
        if (!st)
                return;
        rw_state_disconnect(st);
        free(st->spare_buf);
        free(st->spare_offs);
        free(st->spare_lens);
        free(st->tx_b);
        free(st);
}

static rw_err_t rw_state_ensure(rw_state_t *st, char *errstr, size_t errstr_size) {
        if (st->rc)
                return RW_OK;
        return rw_state_reconnect(st, errstr, errstr_size);
}

rw_err_t rw_state_server(rw_state_t *st, rw_state_server_t *srv, char *errstr,
                         size_t errstr_size) {
        /* One name per call: Redis 6 takes no more. The ziplist names are
         * Redis 7's aliases of its listpack ones. */
        static const char *const names[] = { "maxmemory", "maxmemory-policy",
                                             "hash-max-ziplist-value",
                                             "hash-max-ziplist-entries" };
        rw_err_t err;

        memset(srv, 0, sizeof(*srv));
        srv->hash_value = srv->hash_entries = -1;
        if ((err = rw_state_ensure(st, errstr, errstr_size)))
                return err;
        for (size_t i = 0; i < RW_ARRAY_SIZE(names); i++) {
                const char *argv[3] = { "CONFIG", "GET", names[i] };
                redisReply *r = rw_state_cmd(st, errstr, errstr_size, 3, argv, NULL);
                const char *v;
                if (!r)
                        return rw_state_cmd_err(st);
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                    r->element[1]->type != REDIS_REPLY_STRING) {
                        freeReplyObject(r);
                        continue;       /* not known to this server */
                }
                v = r->element[1]->str;
                switch (i) {
                case 0: srv->maxmemory = strtoll(v, NULL, 10); break;
                case 1: snprintf(srv->policy, sizeof(srv->policy), "%s", v); break;
                case 2: srv->hash_value = strtoll(v, NULL, 10); break;
                default: srv->hash_entries = strtoll(v, NULL, 10); break;
                }
                freeReplyObject(r);
        }
        return RW_OK;
}

int rw_state_server_warning(const rw_state_server_t *srv, int i, char *buf, size_t size) {
        /* What the account hashes need to stay small: values up to 64 bytes
         * (a day's figures, the remembered ids' tail of 48) and up to 128
         * fields (the days of the state's window, its meta and tail). */
        enum { RW_HASH_VALUE = 64, RW_HASH_ENTRIES = 128 };
        int n = 0;

        if (srv->maxmemory > 0 && srv->policy[0] && strcmp(srv->policy, "noeviction") &&
            n++ == i) {
                snprintf(buf, size, "redis: maxmemory-policy is %s with maxmemory %lld"
                         " bytes: Redis may evict the state, which it alone holds (an evicted "
                         "account would count as new, an evicted lock or fence let another "
                         "process in); set maxmemory-policy noeviction, or no maxmemory",
                         srv->policy, (long long)srv->maxmemory);
                return 0;
        }
        const struct {
                int64_t v;
                int min;
                const char *name, *what;
        } hash[] = {
                { srv->hash_value, RW_HASH_VALUE, "value", "with a longer field" },
                { srv->hash_entries, RW_HASH_ENTRIES, "entries", "with more fields" },
        };
        for (size_t k = 0; k < RW_ARRAY_SIZE(hash); k++)
                if (hash[k].v >= 0 && hash[k].v < hash[k].min && n++ == i) {
                        snprintf(buf, size, "redis: hash-max-listpack-%s is %lld (default %d): "
                                 "account hashes %s are stored as hash tables, several times "
                                 "the memory; set it to at least %d",
                                 hash[k].name, (long long)hash[k].v, hash[k].min, hash[k].what,
                                 hash[k].min);
                        return 0;
                }
        return -1;
}

/* Two integer keys in one MGET: *ap and *bp, or their defaults when a key
 * is absent. */
static rw_err_t rw_state_get_ints(rw_state_t *st, const char *ka, int64_t def_a, int64_t *ap,
                                  const char *kb, int64_t def_b, int64_t *bp,
                                  char *errstr, size_t errstr_size) {
        const char *argv[3] = { "MGET", ka, kb };
        redisReply *r;
        rw_err_t err;

        if ((err = rw_state_ensure(st, errstr, errstr_size)))
                return err;
        if (!(r = rw_state_cmd(st, errstr, errstr_size, 3, argv, NULL)))
                return rw_state_cmd_err(st);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                snprintf(errstr, errstr_size, "redis: MGET: unexpected reply");
                freeReplyObject(r);
                return RW_ERR_FAIL;
        }
        *ap = r->element[0]->type == REDIS_REPLY_STRING ?
              strtoll(r->element[0]->str, NULL, 10) : def_a;
        *bp = r->element[1]->type == REDIS_REPLY_STRING ?
              strtoll(r->element[1]->str, NULL, 10) : def_b;
        freeReplyObject(r);
        return RW_OK;
}

rw_err_t rw_state_get_position(rw_state_t *st, const char *topic,
                               int32_t partition, int64_t *offsetp,
                               int64_t *watermarkp,
                               char *errstr, size_t errstr_size) {
        char okey[512], wkey[512];

        rw_key(okey, sizeof(okey), st->ns, partition, "off", topic);
        rw_key(wkey, sizeof(wkey), st->ns, partition, "wm", topic);
        return rw_state_get_ints(st, okey, -1, offsetp, wkey, 0, watermarkp, errstr,
                                 errstr_size);
}

rw_err_t rw_state_get_decided(rw_state_t *st, int64_t *lastp,
                              char *errstr, size_t errstr_size) {
        char key[512];
        const char *argv[3] = { "HGET", key, "last" };
        redisReply *r;

        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        snprintf(key, sizeof(key), "%s:{dep}:agg", st->ns);
        if (!(r = rw_state_cmd(st, errstr, errstr_size, 3, argv, NULL)))
                return RW_ERR_IO;
        if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL) {
                snprintf(errstr, errstr_size, "redis: HGET: unexpected reply");
                freeReplyObject(r);
                return RW_ERR_FAIL;
        }
        *lastp = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        freeReplyObject(r);
        return RW_OK;
}

rw_err_t rw_state_interval(rw_state_t *st, int64_t interval_ms, int record,
                           int64_t *storedp, char *errstr, size_t errstr_size) {
        char key[512], val[32];
        const char *setnx[4] = { "HSETNX", key, "interval", val },
                   *get[3] = { "HGET", key, "interval" };
        int64_t last;
        redisReply *r;
        rw_err_t err;

        /* An earlier version's namespace, which did not record it: its
         * decided boundaries are multiples of the interval it was built
         * with. */
        if ((err = rw_state_get_decided(st, &last, errstr, errstr_size)))
                return err;
        snprintf(key, sizeof(key), "%s:{dep}:agg", st->ns);
        snprintf(val, sizeof(val), "%lld", (long long)interval_ms);
        if (!(r = rw_state_cmd(st, errstr, errstr_size, 3, get, NULL)))
                return rw_state_cmd_err(st);
        if (r->type == REDIS_REPLY_NIL && last > 0 && interval_ms > 0 &&
            last % interval_ms) {
                freeReplyObject(r);
                *storedp = 0;
                return RW_OK;
        }
        if (r->type == REDIS_REPLY_NIL && !record) {
                freeReplyObject(r);
                *storedp = interval_ms;
                return RW_OK;
        }
        if (r->type == REDIS_REPLY_NIL) {
                freeReplyObject(r);
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 4, setnx, NULL)))
                        return rw_state_cmd_err(st);
                freeReplyObject(r);
                /* Another process may have recorded its own meanwhile. */
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 3, get, NULL)))
                        return rw_state_cmd_err(st);
        }
        if (r->type != REDIS_REPLY_STRING) {
                snprintf(errstr, errstr_size, "redis: HGET %s interval: unexpected reply", key);
                freeReplyObject(r);
                return RW_ERR_FAIL;
        }
        *storedp = strtoll(r->str, NULL, 10);
        freeReplyObject(r);
        return RW_OK;
}

rw_err_t rw_state_layout(rw_state_t *st, int record, int64_t *storedp, char *errstr,
                         size_t errstr_size) {
        char key[512], val[32];
        const char *get[5] = { "HMGET", key, "layout", "interval", "last" },
                   *setnx[4] = { "HSETNX", key, "layout", val };
        redisReply *r;
        int recorded, older;

        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        snprintf(key, sizeof(key), "%s:{dep}:agg", st->ns);
        for (int round = 0;; round++) {
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 5, get, NULL)))
                        return rw_state_cmd_err(st);
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
                        snprintf(errstr, errstr_size, "redis: HMGET %s: unexpected reply", key);
                        freeReplyObject(r);
                        return RW_ERR_FAIL;
                }
                recorded = r->element[0]->type == REDIS_REPLY_STRING;
                /* None recorded: new, or older than the records (an
                 * interval recorded, or a boundary decided). */
                older = r->element[1]->type == REDIS_REPLY_STRING ||
                        (r->element[2]->type == REDIS_REPLY_STRING &&
                         strtoll(r->element[2]->str, NULL, 10) > 0);
                *storedp = recorded ? strtoll(r->element[0]->str, NULL, 10) :
                           older ? 1 : RW_STATE_LAYOUT;
                freeReplyObject(r);
                /* Recorded (after ours, maybe another process's: read
                 * again), or not to be. */
                if (recorded || !record || round)
                        return RW_OK;
                snprintf(val, sizeof(val), "%lld", (long long)*storedp);
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 4, setnx, NULL)))
                        return rw_state_cmd_err(st);
                freeReplyObject(r);
        }
}

static int64_t rw_reply_int(const redisReply *r) {
        if (r->type == REDIS_REPLY_INTEGER)
                return r->integer;
        if (r->type == REDIS_REPLY_STRING)
                return strtoll(r->str, NULL, 10);
        return 0;
}

/* Up to n integers "A,B,..." into out[] (a missing one left as it is);
 * how many were read. */
static int rw_csv_parse(const char *s, int64_t *out, int n) {
        char *end;

        for (int i = 0; i < n && *s; i++) {
                int64_t v = strtoll(s, &end, 10);
                if (end == s)
                        return i;
                out[i] = v;
                if (*end != ',')
                        return i + 1;
                s = end + 1;
        }
        return n;
}

/* An order time stored as its distance back from the account's latest
 * event time (TIME - T, in two's complement: exact for any pair), so that
 * the meta stays a short field. */
static int64_t rw_time_back(int64_t at, int64_t t) {
        return (int64_t)((uint64_t)at - (uint64_t)t);
}

/* A view's bucket arrays, sized for n stored buckets; -1 when out of
 * memory. */
static int rw_view_alloc(rw_account_view_t *av, size_t n) {
        av->bucket_size = n + 1;
        return (av->buckets = calloc(av->bucket_size, sizeof(*av->buckets))) &&
                               (av->bucket_dirty = calloc(av->bucket_size, 1)) ? 0 : -1;
}


/* Fill a view's buckets and order meta from an account hash's HGETALL
 * reply; 0 on success, -1 when out of memory. */
static int rw_view_fill(rw_account_view_t *av, const redisReply *all,
                        const redisReply **tailp) {
        int64_t m[6] = { 0 }, o[3] = { 0 };
        int m_cnt = 0, o_cnt = 0;

        if (tailp)
                *tailp = NULL;
        if (rw_view_alloc(av, all->elements / 2))
                return -1;
        for (size_t j = 0; j + 1 < all->elements; j += 2) {
                const char *f = all->element[j]->str, *vs = all->element[j + 1]->str;
                int64_t v = rw_reply_int(all->element[j + 1]);
                if (!strcmp(f, "i")) {
                        /* The remembered ids' tail (rw_account_ids_mode()). */
                        if (tailp)
                                *tailp = all->element[j + 1];
                } else if (!strcmp(f, "m")) {
                        m_cnt = rw_csv_parse(vs, m, 6);
                } else if (!strcmp(f, "o")) {
                        /* PLACED,FIRST,LAST as the version before the one
                         * field wrote it; rewritten into "m" at the next
                         * write. */
                        o_cnt = rw_csv_parse(vs, o, 3);
                        av->meta_legacy = 1;
                } else if (strncmp(f, "m:", 2))
                        rw_bucket_parse(strtoll(f, NULL, 10), vs,
                                        &av->buckets[av->bucket_cnt++]);
                else {  /* one field each, as earlier versions stored them */
                        av->meta_legacy = 1;
                        if (!strcmp(f, "m:n"))
                                av->orders_total = v;
                        else if (!strcmp(f, "m:first"))
                                av->first_order = v;
                        else if (!strcmp(f, "m:last"))
                                av->last_order = v;
                        else if (!strcmp(f, "m:maxday"))
                                av->maxday = v;
                        else if (!strcmp(f, "m:off"))
                                av->last_offset = v;
                        else if (!strcmp(f, "m:at"))
                                av->last_at = v;
                }
        }
        /* A value "m" or "o" does not hold leaves its figure as it is. */
        int64_t *mv[6] = { &av->maxday, &av->last_offset, &av->last_at,
                           &av->orders_total, &av->first_order, &av->last_order };
        for (int i = 0; i < m_cnt && i < 3; i++)
                *mv[i] = m[i];
        if (m_cnt == 6) {
                av->orders_total = m[3];
                av->first_order = rw_time_back(av->last_at, m[4]);
                av->last_order = rw_time_back(av->last_at, m[5]);
        } else {
                for (int i = 0; i < o_cnt; i++)
                        *mv[3 + i] = o[i];
        }
        return 0;
}

/* Fill a view's lifecycle states from an f: hash's HGETALL reply. */
static void rw_view_fill_fps(rw_account_view_t *av, const redisReply *fps) {
        for (size_t j = 0; j + 1 < fps->elements; j += 2) {
                rw_rule_id_t id = rw_rule_by_name(fps->element[j]->str,
                                                  fps->element[j]->len);
                if (id < RW_RULE__CNT)
                        rw_fp_state_parse(fps->element[j + 1]->str, &av->fp[id]);
        }
}

/* Fill view av from its four replies (HGETALL of the account, HGETALL of
 * its lifecycle states, ZSCORE of its due time, GET of its ids). RW_OK;
 * else RW_ERR_FAIL, RW_ERR_IO (a transient error reply) or RW_ERR_NOMEM,
 * with errstr filled. */
static rw_err_t rw_view_load(rw_state_t *st, int32_t partition, int orders,
                             rw_account_view_t *av, redisReply *const r[4],
                             char *errstr, size_t errstr_size) {
        const redisReply *all = r[0], *fps = r[1], *due = r[2], *ids = r[3], *tail;

        for (int k = 0; k < 4; k++)
                if (r[k]->type == REDIS_REPLY_ERROR) {
                        snprintf(errstr, errstr_size, "redis: loading accounts: %s", r[k]->str);
                        return rw_reply_transient(r[k]) ? RW_ERR_IO : RW_ERR_FAIL;
                }
        if (all->type != REDIS_REPLY_ARRAY || fps->type != REDIS_REPLY_ARRAY) {
                snprintf(errstr, errstr_size, "redis: loading accounts: unexpected reply");
                return RW_ERR_FAIL;
        }
        if (rw_view_fill(av, all, &tail)) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        rw_view_fill_fps(av, fps);
        av->due = due->type == REDIS_REPLY_STRING ? strtoll(due->str, NULL, 10) : 0;
        av->due_stored = av->due;
        av->due_keep = 0;
        if (tail && tail->type != REDIS_REPLY_STRING)
                tail = NULL;
        if (ids->type != REDIS_REPLY_STRING)
                ids = NULL;
        if ((ids || tail) && rw_account_ids_load(av, ids ? ids->str : "", ids ? ids->len : 0,
                                                 tail ? tail->str : "", tail ? tail->len : 0)) {
                snprintf(errstr, errstr_size, "redis: %s:{%d}:d%s:%s%s: malformed", st->ns,
                         (int)partition, orders ? "a" : "s", av->account,
                         tail && tail->len % RW_SEEN_ID_SIZE ? " (with the hash's field i)" : "");
                return RW_ERR_FAIL;
        }
        return RW_OK;
}

rw_err_t rw_state_load(rw_state_t *st, const char *topic, int32_t partition,
                       int orders, const char *const *accounts, size_t cnt,
                       rw_account_view_t *views, char *errstr, size_t errstr_size) {
        rw_err_t err = RW_OK;
        int64_t t0;
        size_t i;

        for (i = 0; i < cnt; i++)
                if (rw_account_init(&views[i], accounts[i])) {
                        err = RW_ERR_NOMEM;
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
        if (!cnt)
                return RW_OK;
        if ((err = rw_state_ensure(st, errstr, errstr_size)))
                goto done;
        for (i = 0; i < cnt; i++) {
                char k1[1024], k2[1024], k3[1024], k4[1024];
                const char *hg1[] = { "HGETALL", k1 }, *hg2[] = { "HGETALL", k2 };
                const char *zs[] = { "ZSCORE", k3, accounts[i] }, *g[] = { "GET", k4 };

                rw_key(k1, sizeof(k1), st->ns, partition, orders ? "a" : "s", accounts[i]);
                rw_key(k2, sizeof(k2), st->ns, partition, "f", accounts[i]);
                rw_key(k3, sizeof(k3), st->ns, partition, "due", topic);
                rw_key(k4, sizeof(k4), st->ns, partition, orders ? "da" : "ds", accounts[i]);
                if (redisAppendCommandArgv(st->rc, 2, hg1, NULL) != REDIS_OK ||
                    redisAppendCommandArgv(st->rc, 2, hg2, NULL) != REDIS_OK ||
                    redisAppendCommandArgv(st->rc, 3, zs, NULL) != REDIS_OK ||
                    redisAppendCommandArgv(st->rc, 2, g, NULL) != REDIS_OK) {
                        snprintf(errstr, errstr_size, "redis: %s", rw_redis_strerror(st->rc));
                        rw_state_disconnect(st);
                        err = RW_ERR_IO;
                        goto done;
                }
        }
        /* One account's replies at a time, each freed once its view is
         * filled: a batch's misses held all at once were the largest of a
         * run's transient allocations (hiredis makes an object per field).
         * After a failure the rest are still read, so the connection stays
         * in step. */
        t0 = rw_state_rt_begin();
        for (i = 0; i < cnt; i++) {
                redisReply *r[4] = { NULL, NULL, NULL, NULL };

                for (int k = 0; k < 4; k++)
                        if (redisGetReply(st->rc, (void **)&r[k]) != REDIS_OK) {
                                snprintf(errstr, errstr_size, "redis: %s", rw_redis_strerror(st->rc));
                                rw_state_disconnect(st);
                                for (int j = 0; j < k; j++)
                                        freeReplyObject(r[j]);
                                err = RW_ERR_IO;
                                goto done;
                        }
                /* The first failure's reason is kept. */
                if (!err)
                        err = rw_view_load(st, partition, orders, &views[i], r, errstr,
                                           errstr_size);
                for (int k = 0; k < 4; k++)
                        freeReplyObject(r[k]);
        }
        rw_state_rt_end(t0);
        if (err == RW_ERR_IO)   /* a transient error reply (LOADING, ...) */
                rw_state_disconnect(st);
done:
        if (err)
                for (i = 0; i < cnt; i++)
                        rw_account_view_clear(&views[i]);
        return err;
}

rw_err_t rw_state_load_absent(const char *const *accounts, size_t cnt,
                              rw_account_view_t *views) {
        for (size_t i = 0; i < cnt; i++)
                if (rw_account_init(&views[i], accounts[i]) || rw_view_alloc(&views[i], 0)) {
                        for (size_t j = 0; j <= i; j++)
                                rw_account_view_clear(&views[j]);
                        return RW_ERR_NOMEM;
                }
        return RW_OK;
}

rw_err_t rw_state_vendor_maxdays(rw_state_t *st, int32_t partition,
                                 const char *const *vendors, size_t cnt, int64_t *maxdays,
                                 char *errstr, size_t errstr_size) {
        rw_err_t err = RW_OK;
        size_t i;

        if (rw_state_ensure(st, errstr, errstr_size))
                return rw_state_conn_err(st);
        for (i = 0; i < cnt; i++) {
                char key[1024];
                const char *argv[] = { "HGET", key, "m:maxday" };
                rw_key(key, sizeof(key), st->ns, partition, "v", vendors[i]);
                if (redisAppendCommandArgv(st->rc, 3, argv, NULL) != REDIS_OK)
                        goto io;
        }
        int64_t t0 = rw_state_rt_begin();
        for (i = 0; i < cnt; i++) {
                redisReply *r = NULL;
                if (redisGetReply(st->rc, (void **)&r) != REDIS_OK)
                        goto io;
                if (i == 0)
                        rw_state_rt_end(t0);
                if (r->type == REDIS_REPLY_ERROR && !err) {
                        snprintf(errstr, errstr_size, "redis: HGET %s:{%d}:v:...: %s", st->ns,
                                 (int)partition, r->str);
                        err = rw_reply_transient(r) ? RW_ERR_IO : RW_ERR_FAIL;
                }
                maxdays[i] = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
                freeReplyObject(r);
        }
        if (err == RW_ERR_IO)
                rw_state_disconnect(st);
        return err;
io:
        snprintf(errstr, errstr_size, "redis: %s", rw_redis_strerror(st->rc));
        rw_state_disconnect(st);
        return RW_ERR_IO;
}

rw_err_t rw_state_get_bounds(rw_state_t *st, int32_t partition, int64_t *firstp,
                             int64_t *lastp, char *errstr, size_t errstr_size) {
        char k1[300], k2[300];

        rw_key(k1, sizeof(k1), st->ns, partition, "pb", "first");
        rw_key(k2, sizeof(k2), st->ns, partition, "pb", "last");
        return rw_state_get_ints(st, k1, -1, firstp, k2, -1, lastp, errstr, errstr_size);
}

void rw_due_query_clear(rw_due_query_t *q) {
        for (size_t i = 0; i < q->cnt; i++)
                free(q->accounts[i]);
        free(q->accounts);
        free(q->dues);
        q->accounts = NULL;
        q->dues = NULL;
        q->cnt = 0;
}

/* Whether a due query asks for the due times after `until` too. */
static int rw_due_ahead(const rw_due_query_t *q) {
        return q->ahead > 0 && q->until < INT64_MAX;
}

/* Append the first `upto_n` members of a ZRANGEBYSCORE ... WITHSCORES reply
 * to q. */
static void rw_due_take(rw_due_query_t *q, const redisReply *r, size_t upto_n) {
        size_t n = r->elements / 2, at = q->cnt;

        if (upto_n < n)
                n = upto_n;
        if (!n)
                return;
        if (!(q->accounts = realloc(q->accounts, (at + n) * sizeof(*q->accounts))) ||
            !(q->dues = realloc(q->dues, (at + n) * sizeof(*q->dues))))
                abort();
        for (size_t j = 0; j < n; j++) {
                if (!(q->accounts[at + j] = strndup(r->element[2 * j]->str,
                                                    r->element[2 * j]->len)))
                        abort();
                q->dues[at + j] = strtoll(r->element[2 * j + 1]->str, NULL, 10);
        }
        q->cnt = at + n;
}

rw_err_t rw_state_due(rw_state_t *st, rw_due_query_t *qs, size_t cnt,
                      char *errstr, size_t errstr_size) {
        rw_err_t err = RW_OK;
        size_t i;

        if (rw_state_ensure(st, errstr, errstr_size))
                return rw_state_conn_err(st);
        for (i = 0; i < cnt; i++) {
                char key[1024], lim[24], from[24], ahead[24];
                const char *argv[] = { "ZRANGEBYSCORE", key, "-inf", lim, "WITHSCORES" };
                const char *next[] = { "ZRANGEBYSCORE", key, from, "+inf", "WITHSCORES",
                                       "LIMIT", "0", ahead };
                rw_key(key, sizeof(key), st->ns, qs[i].partition, "due", qs[i].topic);
                snprintf(lim, sizeof(lim), "%lld", (long long)qs[i].until);
                if (redisAppendCommandArgv(st->rc, 5, argv, NULL) != REDIS_OK)
                        goto io;
                if (!rw_due_ahead(&qs[i]))
                        continue;
                snprintf(from, sizeof(from), "(%lld", (long long)qs[i].until);
                snprintf(ahead, sizeof(ahead), "%zu", qs[i].ahead);
                if (redisAppendCommandArgv(st->rc, 8, next, NULL) != REDIS_OK)
                        goto io;
        }
        int64_t t0 = rw_state_rt_begin();
        for (i = 0; i < cnt; i++) {
                rw_due_query_t *q = &qs[i];
                int parts = rw_due_ahead(q) ? 2 : 1;

                q->horizon = q->until;
                for (int part = 0; part < parts; part++) {
                        redisReply *r = NULL;
                        size_t n, take;

                        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK)
                                goto io;
                        if (i == 0 && part == 0)
                                rw_state_rt_end(t0);
                        if (r->type != REDIS_REPLY_ARRAY) {
                                snprintf(errstr, errstr_size, "redis: ZRANGEBYSCORE: %s",
                                         r->type == REDIS_REPLY_ERROR ? r->str :
                                                                        "unexpected reply");
                                if (rw_reply_transient(r) && err != RW_ERR_FAIL)
                                        err = RW_ERR_IO;
                                else
                                        err = RW_ERR_FAIL;
                                freeReplyObject(r);
                                continue;
                        }
                        n = take = r->elements / 2;
                        if (part == 1) {
                                if (n < q->ahead) {
                                        q->horizon = INT64_MAX;         /* all of them */
                                } else {
                                        /* The last one's ties may go on past
                                         * the limit: whole short of it. */
                                        int64_t last = strtoll(r->element[2 * n - 1]->str,
                                                               NULL, 10);
                                        q->horizon = last - 1;
                                        while (take > 0 &&
                                               strtoll(r->element[2 * take - 1]->str,
                                                       NULL, 10) == last)
                                                take--;
                                }
                        }
                        rw_due_take(q, r, take);
                        freeReplyObject(r);
                }
        }
        if (err == RW_ERR_IO) {         /* transient: all again */
                rw_state_disconnect(st);
                for (i = 0; i < cnt; i++)
                        rw_due_query_clear(&qs[i]);
        }
        return err;
io:
        snprintf(errstr, errstr_size, "redis: %s", rw_redis_strerror(st->rc));
        rw_state_disconnect(st);
        for (i = 0; i < cnt; i++)
                rw_due_query_clear(&qs[i]);
        return RW_ERR_IO;
}

/* One coalesced increment of a write. */
typedef struct rw_delta_s {
        char kind;              /* 'a' / 'v' portfolio, 'd' vendor day */
        uint32_t hash;          /* of (kind, k, subject): compared before the
                                 * subject */
        int64_t k;              /* interval or day */
        const char *subject;    /* points into the write's strings */
        int64_t delta;
        int64_t base;           /* vendor days: its latest day as stored */
} rw_delta_t;

struct rw_state_write_s {
        rw_state_t *st;         /* gets the buffers back */
        const char *ns;
        char topic[256];
        int32_t partition;
        int64_t expected, next_offset, max_at;
        int sent;               /* in a transaction sent (its outcome may be unknown) */
        int landed_unacked;     /* found stored when sent again (rw_state_write_landed_unacked()) */
        uint64_t token;         /* a write that leaves the offset where it was:
                                 * what it stores at NS:{P}:wt:TOPIC, to be told
                                 * landed when its reply was lost (0: none) */
        int64_t vendor_window;
        int64_t first, last;    /* pb:first, pb:last as stored (-1: none), then as written */
        /* The script's arguments after the fixed ones: argc of them, each at
         * offs[i] in one buffer (so building a write costs no malloc per
         * argument). */
        char *buf;
        size_t buf_len, buf_size;
        uint32_t *offs, *lens;  /* 32 bits: a write's buffer stays under 4 GiB */
        size_t argc, args_size;
        size_t nops;
        rw_delta_t *deltas;
        size_t delta_cnt, delta_size;
        /* The deltas by kind, key and subject (open addressing: index + 1,
         * 0 empty): each is coalesced as it comes. */
        uint32_t *dix;
        size_t dix_size;
        rw_arena_t strs;        /* subjects of deltas */
        int progress;
        int64_t prog_wm, prog_wall;
        int have_gaps;
        char gaps[RW_INPUT_GAPS_CSV_SIZE];
        char range_err[640];    /* why rw_write_deltas() refused */
        const rw_isums_t *isums;        /* built on (rw_state_write_isums()) */
        int64_t isum_open[2];           /* interval opened per family (-1: none) */
        struct rw_isum_upd { int fam; int64_t k; const char *subject; int64_t v; } *isum_upd;
        size_t isum_cnt, isum_size;
};

struct rw_isums_s {
        int64_t k[2];                   /* per family ('a', 'v'): -1 none */
        rw_i64map_t *m[2];              /* subject -> what the hash holds */
};

static int rw_isum_fam(char kind) {
        return kind == 'v';
}

rw_isums_t *rw_isums_new(void) {
        rw_isums_t *is = calloc(1, sizeof(*is));

        if (!is || !(is->m[0] = rw_i64map_new()) || !(is->m[1] = rw_i64map_new())) {
                rw_isums_destroy(is);
                return NULL;
        }
        is->k[0] = is->k[1] = -1;
        return is;
}

void rw_isums_destroy(rw_isums_t *is) {
        if (!is)
                return;
        rw_i64map_destroy(is->m[0]);
        rw_i64map_destroy(is->m[1]);
        free(is);
}

void rw_isums_reset(rw_isums_t *is) {
        for (int f = 0; f < 2; f++) {
                is->k[f] = -1;
                rw_i64map_clear(is->m[f]);
        }
}

void rw_state_write_isums(rw_state_write_t *w, const rw_isums_t *is) {
        w->isums = is;
}

int rw_isums_commit(rw_isums_t *is, const rw_state_write_t *w) {
        if (w->isums != is)
                return 0;       /* not built on it: nothing it knows changed */
        for (size_t i = 0; i < w->isum_cnt; i++) {
                const struct rw_isum_upd *u = &w->isum_upd[i];
                if (is->k[u->fam] != u->k)
                        continue;       /* reset meanwhile (the partition taken again) */
                if (rw_i64map_set(is->m[u->fam], u->subject, strlen(u->subject), u->v)) {
                        rw_isums_reset(is);
                        return -1;
                }
        }
        for (int f = 0; f < 2; f++)
                if (w->isum_open[f] >= 0) {
                        rw_i64map_clear(is->m[f]);
                        is->k[f] = w->isum_open[f];
                }
        return 0;
}

rw_state_write_t *rw_state_write_new(rw_state_t *st, const char *topic,
                                     int32_t partition, int64_t expected,
                                     int64_t next_offset, int64_t max_at) {
        rw_state_write_t *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->st = st;
        w->isum_open[0] = w->isum_open[1] = -1;
        w->strs.block = 16384;
        w->buf = st->spare_buf;
        w->buf_size = st->spare_buf_size;
        w->offs = st->spare_offs;
        w->lens = st->spare_lens;
        w->args_size = st->spare_args_size;
        st->spare_buf = NULL;
        st->spare_offs = st->spare_lens = NULL;
        st->spare_buf_size = st->spare_args_size = 0;
        w->ns = st->ns;
        snprintf(w->topic, sizeof(w->topic), "%s", topic);
        w->partition = partition;
        w->expected = expected;
        w->next_offset = next_offset;
        w->max_at = max_at;
        w->first = w->last = -1;
        return w;
}

void rw_state_write_next(rw_state_write_t *w, int64_t next_offset, int64_t max_at) {
        w->next_offset = next_offset;
        if (max_at > w->max_at)
                w->max_at = max_at;
}

void rw_state_write_destroy(rw_state_write_t *w) {
        rw_state_t *st;

        if (!w)
                return;
        rw_arena_free(&w->strs);
        st = w->st;
        if (w->buf_size > st->spare_buf_size) {
                free(st->spare_buf);
                st->spare_buf = w->buf;
                st->spare_buf_size = w->buf_size;
                w->buf = NULL;
        }
        if (w->args_size > st->spare_args_size) {
                free(st->spare_offs);
                free(st->spare_lens);
                st->spare_offs = w->offs;
                st->spare_lens = w->lens;
                st->spare_args_size = w->args_size;
                w->offs = w->lens = NULL;
        }
        free(w->buf);
        free(w->offs);
        free(w->lens);
        free(w->deltas);
        free(w->dix);
        free(w->isum_upd);
        free(w);
}


static int rw_write_arg(rw_state_write_t *w, const void *buf, size_t len) {
        size_t no = w->args_size, nl = w->args_size;

        /* Two arrays of one capacity, and the bytes. */
        if (rw_grow(&w->offs, &no, w->argc + 1, sizeof(*w->offs), 64) ||
            rw_grow(&w->lens, &nl, w->argc + 1, sizeof(*w->lens), 64))
                return -1;
        w->args_size = no;
        if (len >= UINT32_MAX - w->buf_len ||
            rw_grow(&w->buf, &w->buf_size, w->buf_len + len + 1, 1, 4096))
                return -1;
        memcpy(w->buf + w->buf_len, buf, len);
        w->buf[w->buf_len + len] = '\0';
        w->offs[w->argc] = (uint32_t)w->buf_len;
        w->lens[w->argc++] = (uint32_t)len;
        w->buf_len += len + 1;
        return 0;
}

static int rw_write_str(rw_state_write_t *w, const char *s) {
        return rw_write_arg(w, s, strlen(s));
}

static int rw_write_int(rw_state_write_t *w, int64_t v) {
        char buf[24];
        return rw_write_arg(w, buf, rw_i64_str(buf, v));
}

/* Start an op: code, key, and a placeholder for its argument count, which
 * rw_write_op_end() fills. Returns the placeholder's index, or -1. */
static ssize_t rw_write_op(rw_state_write_t *w, const char *code, const char *key) {
        /* Room for the count, filled in by rw_write_op_end(). */
        if (rw_write_str(w, code) || rw_write_str(w, key) ||
            rw_write_str(w, "                       "))
                return -1;
        w->nops++;
        return (ssize_t)w->argc - 1;
}

/* Take back the op started at `at` (its placeholder), which got no
 * argument: Redis refuses an HSET without a field. */
static void rw_write_op_drop(rw_state_write_t *w, ssize_t at) {
        w->argc = (size_t)at - 2;
        w->buf_len = w->offs[w->argc];
        w->nops--;
}

static int rw_write_op_end(rw_state_write_t *w, ssize_t at) {
        char *slot = w->buf + w->offs[at];
        w->lens[at] = (uint32_t)rw_i64_str(slot, (int64_t)(w->argc - (size_t)at - 1));
        return 0;
}

/* Ops with many arguments are split: Lua's unpack() has a limit. */
#define RW_OP_MAX_ARGS 400

static int rw_write_delta(rw_state_write_t *w, char kind, int64_t k, const char *subject,
                          int64_t delta, int64_t base);


void rw_state_interval_key(char *key, size_t size, const char *ns, int32_t partition,
                           rw_pbk_t what, char fam, int64_t k) {
        static const char *mids[] = { "pb:", "pbs:", "pbc:" };
        char mid[8], kn[24];
        size_t n = strlen(mids[what]);

        memcpy(mid, mids[what], n);
        mid[n] = fam;
        mid[n + 1] = '\0';
        kn[rw_i64_str(kn, k)] = '\0';
        rw_key(key, size, ns, partition, mid, kn);
}

/* "A,B,C" into buf (at least 3 * 21 bytes), without printf. */
static void rw_csv3(char *buf, int64_t a, int64_t b, int64_t c) {
        size_t n = rw_i64_str(buf, a);
        buf[n++] = ',';
        n += rw_i64_str(buf + n, b);
        buf[n++] = ',';
        n += rw_i64_str(buf + n, c);
        buf[n] = '\0';
}

int rw_state_write_account(rw_state_write_t *w, int orders, const rw_account_view_t *av) {
        const char *s = orders ? "a" : "s";
        char key[1024], num[24], csv[256];
        rw_ids_mode_t ids_mode = RW_IDS_WHOLE;
        ssize_t at = -1;
        size_t i;

        rw_key(key, sizeof(key), w->ns, w->partition, s, av->account);
        for (i = 0; i < av->bucket_cnt; i++) {
                if (!av->bucket_dirty[i])
                        continue;
                if (at >= 0 && w->argc - (size_t)at > RW_OP_MAX_ARGS) {
                        if (rw_write_op_end(w, at))
                                return -1;
                        at = -1;
                }
                if (at < 0 && (at = rw_write_op(w, "H", key)) < 0)
                        return -1;
                rw_i64_str(num, av->buckets[i].day);
                rw_bucket_format(&av->buckets[i], csv, sizeof(csv));
                if (rw_write_str(w, num) || rw_write_str(w, csv))
                        return -1;
        }
        /* The meta in one field (each field costs Redis' HSET a lookup and
         * a rewrite of the compact hash, and its AOF and parsing): MAXDAY,
         * OFFSET,TIME, and for an account with orders PLACED and the first
         * and last order time as distances back from TIME, which keep it
         * under hash-max-listpack-value (64 bytes) for usual figures. */
        if (av->meta_dirty || av->meta_legacy) {
                size_t n;
                if (at < 0 && (at = rw_write_op(w, "H", key)) < 0)
                        return -1;
                rw_csv3(csv, av->maxday, av->last_offset, av->last_at);
                if (orders && av->orders_total) {
                        n = strlen(csv);
                        csv[n++] = ',';
                        rw_csv3(csv + n, av->orders_total,
                                rw_time_back(av->last_at, av->first_order),
                                rw_time_back(av->last_at, av->last_order));
                }
                if (rw_write_str(w, "m") || rw_write_str(w, csv))
                        return -1;
        }
        /* The ids' tail, in the same HSET: most live writes store an
         * account's new id there, not in a command of their own (an APPEND
         * per event was a third of Redis' command time at 20 000/s). */
        if (av->ids_dirty) {
                ids_mode = rw_account_ids_mode(av);
                if (ids_mode == RW_IDS_TAIL || av->ids_tail) {
                        unsigned char tail[RW_IDS_TAIL_MAX * RW_SEEN_ID_SIZE];
                        size_t from = rw_account_ids_from(av, ids_mode);
                        size_t len = ids_mode == RW_IDS_TAIL ?
                                     (av->id_cnt - from) * RW_SEEN_ID_SIZE : 0;
                        if (ids_mode == RW_IDS_TAIL)
                                rw_account_ids_store(av, from, tail);
                        if (at < 0 && (at = rw_write_op(w, "H", key)) < 0)
                                return -1;
                        if (rw_write_str(w, "i") || rw_write_arg(w, tail, len))
                                return -1;
                }
        }
        if (at >= 0 && rw_write_op_end(w, at))
                return -1;
        at = -1;
        if (av->meta_legacy) {
                static const char *const legacy[] = { "m:maxday", "m:off", "m:at",
                                                      "m:n", "m:first", "m:last", "o" };
                if ((at = rw_write_op(w, "D", key)) < 0)
                        return -1;
                for (size_t j = 0; j < RW_ARRAY_SIZE(legacy); j++)
                        if (rw_write_str(w, legacy[j]))
                                return -1;
                if (rw_write_op_end(w, at))
                        return -1;
                at = -1;
        }
        for (i = 0; i < av->gone_cnt; i++) {
                if (at >= 0 && w->argc - (size_t)at > RW_OP_MAX_ARGS) {
                        if (rw_write_op_end(w, at))
                                return -1;
                        at = -1;
                }
                if (at < 0 && (at = rw_write_op(w, "D", key)) < 0)
                        return -1;
                if (rw_write_int(w, av->gone[i]))
                        return -1;
        }
        if (at >= 0 && rw_write_op_end(w, at))
                return -1;
        at = -1;
        rw_key(key, sizeof(key), w->ns, w->partition, "f", av->account);
        for (int r = 0; r < RW_RULE__CNT; r++) {
                if (!av->fp_dirty[r])
                        continue;
                if (at < 0 && (at = rw_write_op(w, "H", key)) < 0)
                        return -1;
                rw_fp_state_format(&av->fp[r], csv, sizeof(csv));
                if (rw_write_str(w, rw_rule_name((rw_rule_id_t)r)) || rw_write_str(w, csv))
                        return -1;
        }
        if (at >= 0 && rw_write_op_end(w, at))
                return -1;
        /* Due times: one ZADD and one ZREM per batch (rw_write_deltas()). */
        if (rw_account_due_dirty(av) &&
            rw_write_delta(w, av->due > 0 ? 'z' : 'r', av->due, av->account, 0, 0))
                return -1;
        if (av->ids_dirty && ids_mode != RW_IDS_TAIL) {
                rw_key(key, sizeof(key), w->ns, w->partition, orders ? "da" : "ds",
                       av->account);
                /* 'Y'/'M': gathered into one DEL and one MSET per write
                 * (rw_write_append()); nothing else in a write touches an
                 * ids key, and a write holds an account once. 'A': the
                 * tail and the ids since the last write APPENDed (the
                 * whole list, up to dedup.max.ids records, at every write
                 * made the ids most of a live stream's bytes to Redis). */
                if (ids_mode == RW_IDS_NONE) {
                        if ((at = rw_write_op(w, "Y", key)) < 0 || rw_write_op_end(w, at))
                                return -1;
                } else {
                        int append = ids_mode == RW_IDS_APPEND;
                        size_t from = rw_account_ids_from(av, ids_mode);
                        size_t len = (av->id_cnt - from) * RW_SEEN_ID_SIZE;
                        unsigned char *buf = malloc(len ? len : 1);
                        int fail;
                        if (!buf)
                                return -1;
                        rw_account_ids_store(av, from, buf);
                        fail = (at = rw_write_op(w, append ? "A" : "M", key)) < 0 ||
                               rw_write_arg(w, buf, len) || rw_write_op_end(w, at);
                        free(buf);
                        if (fail)
                                return -1;
                }
        }
        return 0;
}

static uint32_t rw_delta_hash(char kind, int64_t k, const char *s) {
        uint64_t h = (1469598103934665603ULL ^ (unsigned char)kind) * 1099511628211ULL;
        h = (h ^ (uint64_t)k) * 1099511628211ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return (uint32_t)(h ^ (h >> 29) ^ (h >> 32));
}

static int rw_write_range(rw_state_write_t *w, char kind, const char *subject, int64_t k);

/* Add `delta` to the write's (kind, k, subject): a new entry, or the sum of
 * one there already (a vendor day keeps the lowest `base`: what Redis holds
 * before the write). -1 when out of memory. A sum out of the 64-bit range
 * makes rw_write_deltas() refuse the write (rw_write_range()). */
static int rw_write_delta(rw_state_write_t *w, char kind, int64_t k, const char *subject,
                          int64_t delta, int64_t base) {
        size_t mask, i;
        uint32_t h;
        rw_delta_t *d;
        char *s;

        if ((w->delta_cnt + 1) * 2 > w->dix_size) {
                size_t n = w->dix_size ? w->dix_size * 2 : 256;
                uint32_t *t = calloc(n, sizeof(*t));
                if (!t)
                        return -1;
                free(w->dix);
                w->dix = t;
                w->dix_size = n;
                for (size_t j = 0; j < w->delta_cnt; j++) {
                        const rw_delta_t *e = &w->deltas[j];
                        for (i = e->hash & (n - 1); t[i];
                             i = (i + 1) & (n - 1))
                                ;
                        t[i] = (uint32_t)j + 1;
                }
        }
        mask = w->dix_size - 1;
        h = rw_delta_hash(kind, k, subject);
        for (i = h & mask; w->dix[i]; i = (i + 1) & mask) {
                d = &w->deltas[w->dix[i] - 1];
                if (d->hash != h || d->kind != kind || d->k != k ||
                    strcmp(d->subject, subject))
                        continue;
                if (__builtin_add_overflow(d->delta, delta, &d->delta) && !w->range_err[0])
                        (void)rw_write_range(w, kind, subject, k);
                if (base < d->base)
                        d->base = base;
                return 0;
        }
        if (rw_grow(&w->deltas, &w->delta_size, w->delta_cnt + 1, sizeof(*w->deltas), 64))
                return -1;
        if (!(s = rw_arena_strdup(&w->strs, subject)))
                return -1;
        d = &w->deltas[w->delta_cnt++];
        *d = (rw_delta_t){ .kind = kind, .hash = h, .k = k, .subject = s,
                           .delta = delta, .base = base };
        w->dix[i] = (uint32_t)w->delta_cnt;
        return 0;
}

int rw_state_write_vendor(rw_state_write_t *w, const char *vendor, int64_t maxday,
                          int64_t day, int64_t delta, int64_t window_days) {
        w->vendor_window = window_days;
        return rw_write_delta(w, 'd', day, vendor, delta, maxday);
}

void rw_state_write_bounds(rw_state_write_t *w, int64_t first, int64_t last) {
        w->first = first;
        w->last = last;
}

int rw_state_write_landed_unacked(const rw_state_write_t *w) {
        return w->landed_unacked;
}

void rw_state_write_bounds_after(const rw_state_write_t *w, int64_t *firstp,
                                 int64_t *lastp) {
        *firstp = w->first;
        *lastp = w->last;
}

int rw_state_write_portfolio(rw_state_write_t *w, char kind, int64_t interval,
                             const char *subject, int64_t delta) {
        if (interval < 0 || !delta)
                return 0;
        return rw_write_delta(w, kind, interval, subject, delta, 0);
}

int rw_state_write_outbox(rw_state_write_t *w, const void *buf, size_t len) {
        char key[1024];
        ssize_t at;

        rw_key(key, sizeof(key), w->ns, w->partition, "outbox", w->topic);
        if ((at = rw_write_op(w, "L", key)) < 0 || rw_write_arg(w, buf, len) ||
            rw_write_op_end(w, at))
                return -1;
        return 0;
}

void rw_state_write_gaps(rw_state_write_t *w, const rw_input_gaps_t *gaps) {
        w->have_gaps = 1;
        rw_input_gaps_format(gaps, w->gaps, sizeof(w->gaps));
}

rw_err_t rw_state_get_gaps(rw_state_t *st, const char *topic, int32_t partition,
                           rw_input_gaps_t *gaps, char *errstr, size_t errstr_size) {
        char key[512];
        const char *argv[2] = { "GET", key };
        redisReply *r;

        memset(gaps, 0, sizeof(*gaps));
        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        rw_key(key, sizeof(key), st->ns, partition, "gaps", topic);
        if (!(r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL)))
                return RW_ERR_IO;
        if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL) {
                snprintf(errstr, errstr_size, "redis: GET: unexpected reply");
                freeReplyObject(r);
                return RW_ERR_FAIL;
        }
        if (r->type == REDIS_REPLY_STRING)
                rw_input_gaps_parse(r->str, gaps);
        freeReplyObject(r);
        return RW_OK;
}

void rw_state_write_progress(rw_state_write_t *w, int64_t watermark, int64_t wall_ms) {
        w->progress = 1;
        w->prog_wm = watermark;
        w->prog_wall = wall_ms;
}

/* Vendor days by vendor (a run per vendor), then day. */
static int rw_delta_cmp(const void *a, const void *b) {
        const rw_delta_t *x = a, *y = b;
        int c = strcmp(x->subject, y->subject);

        if (c)
                return c;
        return x->k < y->k ? -1 : x->k > y->k;
}

/* A group of deltas rw_write_deltas_chunked() takes together. */
typedef struct rw_delta_grp_s {
        char kind;
        int64_t k;              /* the interval ('a', 'v'); 0 for the others */
        size_t cnt, at;
} rw_delta_grp_t;

static int rw_delta_grp_cmp(const void *a, const void *b) {
        const rw_delta_grp_t *x = a, *y = b;

        if (x->kind != y->kind)
                return x->kind < y->kind ? -1 : 1;
        return x->k < y->k ? -1 : x->k > y->k;
}

/* Order the deltas for rw_write_deltas_chunked(): the kinds apart, in their
 * order; portfolio entries by interval, and within one in the order they
 * came (the fold copies sort their own, a hash's fields are a set); due
 * times in the order they came (a set too); the vendor days by vendor, then
 * day (rw_delta_cmp(): a run per vendor). A sort of the groups, not of the
 * entries: a write holds thousands of entries in a few hundred intervals
 * (the entries' sort was a twentieth of the process' CPU). -1 when out of
 * memory. */
static int rw_deltas_group(rw_state_write_t *w) {
        size_t n = w->delta_cnt, gcnt = 0, gcap = 0, tsize = 64, last = SIZE_MAX, at = 0;
        rw_delta_grp_t *gs = NULL;
        uint32_t *tab = NULL, *of = NULL;
        int rc = -1;

        while (tsize < 2 * n)
                tsize *= 2;
        if (!(tab = calloc(tsize, sizeof(*tab))) || !(of = malloc(n * sizeof(*of))))
                goto done;
        for (size_t j = 0; j < n; j++) {
                const rw_delta_t *d = &w->deltas[j];
                int64_t k = d->kind == 'a' || d->kind == 'v' ? d->k : 0;
                size_t i;

                if (last != SIZE_MAX && gs[last].kind == d->kind && gs[last].k == k) {
                        gs[last].cnt++;
                        of[j] = (uint32_t)last;
                        continue;
                }
                for (i = (size_t)((((uint64_t)k << 8) ^ (unsigned char)d->kind) *
                                  0x9e3779b97f4a7c15ULL >> 20) & (tsize - 1);
                     tab[i] && (gs[tab[i] - 1].kind != d->kind || gs[tab[i] - 1].k != k);
                     i = (i + 1) & (tsize - 1))
                        ;
                if (!tab[i]) {
                        if (rw_grow(&gs, &gcap, gcnt + 1, sizeof(*gs), 64))
                                goto done;
                        gs[gcnt] = (rw_delta_grp_t){ .kind = d->kind, .k = k };
                        tab[i] = (uint32_t)++gcnt;
                }
                last = tab[i] - 1;
                gs[last].cnt++;
                of[j] = (uint32_t)last;
        }
        /* The groups in order; each entry then goes to its group's next
         * place (tab: a group's rank, reused). */
        {
                rw_delta_grp_t *sorted = malloc((gcnt + 1) * sizeof(*sorted));
                if (!sorted)
                        goto done;
                for (size_t g = 0; g < gcnt; g++) {
                        sorted[g] = gs[g];
                        sorted[g].at = g;       /* its index before the sort */
                }
                qsort(sorted, gcnt, sizeof(*sorted), rw_delta_grp_cmp);
                for (size_t g = 0; g < gcnt; g++) {
                        gs[sorted[g].at].at = at;
                        at += sorted[g].cnt;
                }
                free(sorted);
        }
        /* Each entry's place (of[] reused), then the entries moved there
         * in place, a cycle at a time. */
        for (size_t j = 0; j < n; j++)
                of[j] = (uint32_t)gs[of[j]].at++;
        for (size_t j = 0; j < n; j++)
                while (of[j] != j) {
                        size_t t = of[j];
                        rw_delta_t d = w->deltas[t];
                        uint32_t o = of[t];
                        w->deltas[t] = w->deltas[j];
                        of[t] = (uint32_t)t;
                        w->deltas[j] = d;
                        of[j] = o;
                }
        /* The vendor days, few: by vendor, then day. */
        for (size_t g = 0; g < gcnt; g++)
                if (gs[g].kind == 'd')
                        qsort(w->deltas + gs[g].at - gs[g].cnt, gs[g].cnt, sizeof(*w->deltas),
                              rw_delta_cmp);
        rc = 0;
done:
        free(tab);
        free(of);
        free(gs);
        return rc;
}

/* A coalesced sum does not fit in 64 bits. Impossible while amounts are
 * validated (validate.amount.max: one sum would need 2^63 / that many orders
 * of one subject in one batch); checked all the same, so that no value this
 * code computes can make Redis refuse one command of a transaction and apply
 * the rest. Returns -2; rw_state_write_exec() writes nothing of the write. */
static int rw_write_range(rw_state_write_t *w, char kind, const char *subject, int64_t k) {
        /* 'a': an account's interval sum; 'v', 'd': a vendor's interval or day. */
        const char *what = kind == 'a' ? "account" : "vendor";

        snprintf(w->range_err, sizeof(w->range_err), "%.255s [%d]: the batch's sum for %s "
                 "%.64s%s at %lld is out of the 64-bit range; nothing of the partition's "
                 "batch was written", w->topic, (int)w->partition, what, subject,
                 strlen(subject) > 64 ? "..." : "", (long long)k);
        return -2;
}

/* The sum of the deltas from *jp on that share its kind, interval and
 * subject, *jp moved past them. -2 when it is out of the 64-bit range
 * (rw_write_range()). */
static int rw_delta_run(rw_state_write_t *w, size_t *jp, int64_t *sump) {
        const rw_delta_t *d = &w->deltas[*jp];
        size_t j = *jp;
        int64_t sum = 0;

        while (j < w->delta_cnt && w->deltas[j].kind == d->kind && w->deltas[j].k == d->k &&
               w->deltas[j].hash == d->hash && !strcmp(w->deltas[j].subject, d->subject))
                if (__builtin_add_overflow(sum, w->deltas[j++].delta, &sum))
                        return rw_write_range(w, d->kind, d->subject, d->k);
        *jp = j;
        *sump = sum;
        return 0;
}

/* The deltas from i on of one new interval (kind, k), coalesced by subject,
 * in the fold copies' encoding (rw_bstore_fold_encode()) at *blobp (*lenp
 * bytes, NULL and 0 when every sum is 0; the caller frees it). Returns the
 * index past them, 0 when out of memory or a sum is out of range
 * (range_err set). */
static size_t rw_write_interval(rw_state_write_t *w, size_t i, char **blobp, size_t *lenp) {
        const rw_delta_t *d = &w->deltas[i];
        rw_bstore_hash_t h = { 0 };
        size_t j = i, cap = 0;
        int fail;

        *blobp = NULL;
        *lenp = 0;
        while (j < w->delta_cnt && w->deltas[j].kind == d->kind && w->deltas[j].k == d->k) {
                const char *subj = w->deltas[j].subject;
                int64_t sum;
                if (rw_delta_run(w, &j, &sum)) {
                        free(h.v);
                        return 0;
                }
                if (!sum)
                        continue;
                if (rw_grow(&h.v, &cap, h.cnt + 1, sizeof(*h.v), 64)) {
                        free(h.v);
                        return 0;
                }
                /* Borrowed: the encoder only reads them. */
                h.v[h.cnt++] = (rw_bstore_pair_t){ .subject = (char *)subj,
                                                   .len = strlen(subj), .value = sum };
        }
        fail = rw_bstore_fold_encode(&h, blobp, lenp);
        free(h.v);
        if (fail)
                return 0;
        w->isum_open[rw_isum_fam(d->kind)] = d->k;     /* its hash starts empty */
        return j;
}

/* The sections of the new intervals of one chunk (RW_PB_CHUNK), gathered
 * for one APPEND. */
typedef struct rw_chunk_s {
        char kind;              /* 0: none gathered */
        int64_t c;
        char *b;
        size_t len, size;
} rw_chunk_t;

/* APPEND what `ch` gathered to its chunk's string. -1 when out of memory. */
static int rw_chunk_flush(rw_state_write_t *w, rw_chunk_t *ch) {
        char key[1024];
        ssize_t at;

        if (!ch->kind)
                return 0;
        rw_state_interval_key(key, sizeof(key), w->ns, w->partition, RW_PBK_CHUNK, ch->kind,
                              ch->c);
        ch->kind = 0;
        if ((at = rw_write_op(w, "A", key)) < 0 || rw_write_arg(w, ch->b, ch->len) ||
            rw_write_op_end(w, at))
                return -1;
        ch->len = 0;
        return 0;
}

/* Add interval k's bucket (blob, len bytes) to the chunk gathered, after
 * APPENDing the one before when it is another. -1 when out of memory. */
static int rw_chunk_add(rw_state_write_t *w, rw_chunk_t *ch, char kind, int64_t k,
                        const char *blob, size_t len) {
        int64_t c = rw_pb_chunk(k);

        if (ch->kind && (ch->kind != kind || ch->c != c) && rw_chunk_flush(w, ch))
                return -1;
        if (rw_grow(&ch->b, &ch->size, ch->len + len + 2 * RW_VARINT_MAX, 1, 4096))
                return -1;
        ch->kind = kind;
        ch->c = c;
        ch->len += rw_uvarint_put((unsigned char *)ch->b + ch->len,
                                  (uint64_t)(k - c * RW_PB_CHUNK));
        ch->len += rw_uvarint_put((unsigned char *)ch->b + ch->len, len);
        memcpy(ch->b + ch->len, blob, len);
        ch->len += len;
        return 0;
}

/* rw_write_deltas(), gathering new intervals' sections in ch. */
static int rw_write_deltas_chunked(rw_state_write_t *w, rw_chunk_t *ch) {
        const char *code;
        char key[1024];
        int64_t lowest = -1, highest = -1, opened = -1;
        size_t i = 0, j;
        int any;
        size_t nfields;

        if (w->range_err[0])
                return -2;      /* a sum out of range (rw_write_delta()) */
        if (!w->delta_cnt)
                return 0;
        if (rw_deltas_group(w))
                return -1;
        while (i < w->delta_cnt) {
                rw_delta_t *d = &w->deltas[i];
                ssize_t at;

                if (d->kind == 'r' || d->kind == 'z') {
                        rw_key(key, sizeof(key), w->ns, w->partition, "due", w->topic);
                        at = -1;
                        for (j = i; j < w->delta_cnt && w->deltas[j].kind == d->kind; j++) {
                                if (at >= 0 && w->argc - (size_t)at > RW_OP_MAX_ARGS) {
                                        if (rw_write_op_end(w, at))
                                                return -1;
                                        at = -1;
                                }
                                if (at < 0 && (at = rw_write_op(w, d->kind == 'z' ? "Z" : "R",
                                                                key)) < 0)
                                        return -1;
                                if ((d->kind == 'z' && rw_write_int(w, w->deltas[j].k)) ||
                                    rw_write_str(w, w->deltas[j].subject))
                                        return -1;
                        }
                        if (at >= 0 && rw_write_op_end(w, at))
                                return -1;
                        i = j;
                        continue;
                }
                if (d->kind == 'd') {
                        /* The hash keeps the window's days up to its latest:
                         * days behind it are not written; a new latest day
                         * drops the days that leave (they can only lie in
                         * the old window). */
                        int64_t old = d->base, last = d->k, top, win = w->vendor_window;
                        /* A write that gathered several batches: the
                         * lowest base is what Redis holds. */
                        for (j = i; j < w->delta_cnt && w->deltas[j].kind == 'd' &&
                                    !strcmp(w->deltas[j].subject, d->subject); j++) {
                                if (w->deltas[j].k > last)
                                        last = w->deltas[j].k;
                                if (w->deltas[j].base < old)
                                        old = w->deltas[j].base;
                        }
                        top = last > old ? last : old;
                        rw_key(key, sizeof(key), w->ns, w->partition, "v", d->subject);
                        at = -1;
                        while (i < j) {
                                int64_t day = w->deltas[i].k, sum = 0;
                                while (i < j && w->deltas[i].k == day)
                                        if (__builtin_add_overflow(sum, w->deltas[i++].delta,
                                                                   &sum))
                                                return rw_write_range(w, d->kind,
                                                                      d->subject, day);
                                if (day <= top - win || !sum)
                                        continue;
                                if (at >= 0 && w->argc - (size_t)at > RW_OP_MAX_ARGS) {
                                        if (rw_write_op_end(w, at))
                                                return -1;
                                        at = -1;
                                }
                                if ((at < 0 && (at = rw_write_op(w, "I", key)) < 0) ||
                                    rw_write_int(w, day) || rw_write_int(w, sum))
                                        return -1;
                        }
                        if (at >= 0 && rw_write_op_end(w, at))
                                return -1;
                        if (top > old) {
                                if ((at = rw_write_op(w, "H", key)) < 0 ||
                                    rw_write_str(w, "m:maxday") || rw_write_int(w, top) ||
                                    rw_write_op_end(w, at))
                                        return -1;
                                at = -1;
                                for (int64_t day = old - win + 1;
                                     old >= 0 && day <= old && day <= top - win; day++) {
                                        if (at >= 0 && w->argc - (size_t)at > RW_OP_MAX_ARGS) {
                                                if (rw_write_op_end(w, at))
                                                        return -1;
                                                at = -1;
                                        }
                                        if ((at < 0 && (at = rw_write_op(w, "D", key)) < 0) ||
                                            rw_write_int(w, day))
                                                return -1;
                                }
                                if (at >= 0 && rw_write_op_end(w, at))
                                        return -1;
                        }
                        continue;
                }
                if (lowest < 0 || d->k < lowest)
                        lowest = d->k;
                if (d->k > highest)
                        highest = d->k;
                /* An interval past the last one ever written holds nothing
                 * yet: its values are set whole, in one string (pbs:); others
                 * are added to, field by field (pb:). */
                if (d->k > w->last) {
                        char *blob;
                        size_t len;
                        int fail = 0;
                        if ((j = rw_write_interval(w, i, &blob, &len)) == 0)
                                return w->range_err[0] ? -2 : -1;
                        if (len) {
                                fail = rw_chunk_add(w, ch, d->kind, d->k, blob, len);
                                if (opened < 0 || d->k < opened)
                                        opened = d->k;
                        }
                        free(blob);
                        if (fail)
                                return -1;
                        i = j;
                        continue;
                }
                rw_state_interval_key(key, sizeof(key), w->ns, w->partition, RW_PBK_HASH,
                                      d->kind, d->k);
                /* The owner's latest interval: its hash holds what the
                 * owner wrote, so the new totals are set, all in one HSET. */
                int fam = rw_isum_fam(d->kind);
                const rw_i64map_t *known = w->isums && w->isums->k[fam] == d->k ?
                                           w->isums->m[fam] : NULL;
                code = known ? "H" : "I";
                if ((at = rw_write_op(w, code, key)) < 0)
                        return -1;
                any = 0;
                nfields = 0;
                for (j = i; j < w->delta_cnt && w->deltas[j].kind == d->kind &&
                            w->deltas[j].k == d->k; ) {
                        const char *subj = w->deltas[j].subject;
                        int64_t sum, had = 0;
                        if (rw_delta_run(w, &j, &sum))
                                return -2;
                        if (!sum)
                                continue;
                        if (known) {
                                (void)rw_i64map_get(known, subj, strlen(subj), &had);
                                if (__builtin_add_overflow(had, sum, &sum))
                                        return rw_write_range(w, d->kind, subj, d->k);
                                if (rw_grow(&w->isum_upd, &w->isum_size, w->isum_cnt + 1,
                                            sizeof(*w->isum_upd), 64))
                                        return -1;
                                w->isum_upd[w->isum_cnt++] = (struct rw_isum_upd){
                                        .fam = fam, .k = d->k, .subject = subj, .v = sum };
                        }
                        if (w->argc - (size_t)at > RW_OP_MAX_ARGS) {
                                if (rw_write_op_end(w, at) ||
                                    (at = rw_write_op(w, code, key)) < 0)
                                        return -1;
                        }
                        if (rw_write_str(w, subj) || rw_write_int(w, sum))
                                return -1;
                        any = 1;
                        nfields++;
                }
                if (!any) {
                        rw_write_op_drop(w, at);        /* every sum was 0 */
                } else {
                        /* The partition's intervals with a hash: the decider
                         * reads those hashes only, not one per interval. */
                        char hkey[1024];
                        rw_key(hkey, sizeof(hkey), w->ns, w->partition, "pbh",
                               d->kind == 'v' ? "v" : "a");
                        if (rw_write_op_end(w, at) || (at = rw_write_op(w, "Z", hkey)) < 0 ||
                            rw_write_int(w, d->k) || rw_write_int(w, d->k) ||
                            rw_write_op_end(w, at))
                                return -1;
                        if ((known ? rw_i64map_cnt(known) : 0) + nfields >= RW_PB_HASHTABLE_MIN &&
                            ((at = rw_write_op(w, "H", key)) < 0 ||
                             rw_write_arg(w, "\0", 1) || rw_write_str(w, rw_pb_hashtable_mark) ||
                             rw_write_op_end(w, at)))
                                return -1;
                }
                i = j;
        }
        if (lowest >= 0 && (w->first < 0 || lowest < w->first)) {
                ssize_t at;
                rw_key(key, sizeof(key), w->ns, w->partition, "pb", "first");
                if ((at = rw_write_op(w, "S", key)) < 0 || rw_write_int(w, lowest) ||
                    rw_write_op_end(w, at))
                        return -1;
                w->first = lowest;
        }
        if (opened >= 0) {
                /* Set by the first write that stores chunks; NX: later
                 * ones find it. */
                ssize_t at;
                rw_key(key, sizeof(key), w->ns, w->partition, "pbc", "since");
                if ((at = rw_write_op(w, "S", key)) < 0 || rw_write_int(w, opened) ||
                    rw_write_str(w, "NX") || rw_write_op_end(w, at))
                        return -1;
        }
        if (highest > w->last) {
                ssize_t at;
                rw_key(key, sizeof(key), w->ns, w->partition, "pb", "last");
                if ((at = rw_write_op(w, "S", key)) < 0 || rw_write_int(w, highest) ||
                    rw_write_op_end(w, at))
                        return -1;
                w->last = highest;
        }
        w->delta_cnt = 0;
        if (w->dix)             /* the sort moved them: start over */
                memset(w->dix, 0, w->dix_size * sizeof(*w->dix));
        return 0;
}

/* Turn the deltas into ops, coalesced: one V op per vendor, one APPEND per
 * chunk of new portfolio intervals or one I op per interval written before,
 * and the interval floor. -1 when out of memory, -2 when a sum is out of
 * range (rw_write_range()). */
static int rw_write_deltas(rw_state_write_t *w) {
        rw_chunk_t ch = { 0 };
        int rc = rw_write_deltas_chunked(w, &ch);

        if (!rc && rw_chunk_flush(w, &ch))
                rc = -1;
        free(ch.b);
        return rc;
}

/* Append the keys (and, for 'M', the values) of a write's ops of `code`. */
static void rw_write_append_ids(const rw_state_write_t *w, char code, rw_resp_t *r) {
        for (size_t x = 0; x < w->argc; ) {
                size_t n = strtoul(w->buf + w->offs[x + 2], NULL, 10), a = x + 3;
                if (w->buf[w->offs[x]] == code) {
                        rw_resp_arg(r, w->buf + w->offs[x + 1], w->lens[x + 1]);
                        for (size_t j = a; j < a + n; j++)
                                rw_resp_arg(r, w->buf + w->offs[j], w->lens[j]);
                }
                x = a + n;
        }
}

/* A write token as stored: the process' random base and the write's
 * number, in hex. Returns its length (buf: 40 bytes). */
static size_t rw_state_token_str(uint64_t token, uint64_t base, char *buf) {
        return (size_t)snprintf(buf, 40, "%016llx-%llx", (unsigned long long)base,
                                (unsigned long long)token);
}

/* Append one write's commands (inside MULTI) to `r`: its ops as native
 * commands, then the offset, the watermark and the progress report.
 * Returns how many commands. */
static size_t rw_write_append(rw_state_t *st, const rw_state_write_t *w, rw_resp_t *rp) {
        static const struct { char code; const char *cmd; } cmds[] = {
                { 'H', "HSET" }, { 'D', "HDEL" }, { 'S', "SET" }, { 'X', "DEL" },
                { 'Z', "ZADD" }, { 'R', "ZREM" }, { 'L', "RPUSH" }, { 'A', "APPEND" },
        };
        rw_resp_t r = *rp;
        size_t x = 0, sent = 0, msets = 0, dels = 0;
        char key[1024], num[24];

        while (x < w->argc) {
                const char *code = w->buf + w->offs[x], *k = w->buf + w->offs[x + 1];
                size_t kl = w->lens[x + 1], n = strtoul(w->buf + w->offs[x + 2], NULL, 10);
                size_t a = x + 3, c;

                x = a + n;
                if (*code == 'M' || *code == 'Y') {     /* below, all in one */
                        *code == 'M' ? msets++ : dels++;
                        continue;
                }
                if (*code == 'I') {     /* HINCRBY per field */
                        for (size_t j = a; j + 1 < a + n; j += 2) {
                                rw_resp_cmd(&r, 4);
                                rw_resp_arg(&r, "HINCRBY", 7);
                                rw_resp_arg(&r, k, kl);
                                rw_resp_arg(&r, w->buf + w->offs[j], w->lens[j]);
                                rw_resp_arg(&r, w->buf + w->offs[j + 1], w->lens[j + 1]);
                                sent++;
                        }
                        continue;
                }
                for (c = 0; c < RW_ARRAY_SIZE(cmds) && cmds[c].code != *code; c++)
                        ;
                if (c == RW_ARRAY_SIZE(cmds))
                        abort();        /* impossible: only the codes above are built */
                rw_resp_cmd(&r, n + 2);
                rw_resp_str(&r, cmds[c].cmd);
                rw_resp_arg(&r, k, kl);
                for (size_t j = a; j < a + n; j++)
                        rw_resp_arg(&r, w->buf + w->offs[j], w->lens[j]);
                sent++;
        }
        /* The remembered ids: one DEL and one MSET for all accounts (a
         * command per account was a third of a batch's commands). */
        if (dels) {
                rw_resp_cmd(&r, dels + 1);
                rw_resp_arg(&r, "DEL", 3);
                rw_write_append_ids(w, 'Y', &r);
                sent++;
        }
        if (msets) {
                rw_resp_cmd(&r, 2 * msets + 1);
                rw_resp_arg(&r, "MSET", 4);
                rw_write_append_ids(w, 'M', &r);
                sent++;
        }
        rw_key(key, sizeof(key), st->ns, w->partition, "off", w->topic);
        rw_resp_cmd(&r, 3);
        rw_resp_arg(&r, "SET", 3);
        rw_resp_str(&r, key);
        rw_resp_arg(&r, num, rw_i64_str(num, w->next_offset));
        sent++;
        if (w->token) {
                char tok[40];
                rw_key(key, sizeof(key), st->ns, w->partition, "wt", w->topic);
                rw_resp_cmd(&r, 3);
                rw_resp_arg(&r, "SET", 3);
                rw_resp_str(&r, key);
                rw_resp_arg(&r, tok, rw_state_token_str(w->token, st->token_base, tok));
                sent++;
        }
        if (w->max_at > 0) {    /* the caller passes it only when higher */
                rw_key(key, sizeof(key), st->ns, w->partition, "wm", w->topic);
                rw_resp_cmd(&r, 3);
                rw_resp_arg(&r, "SET", 3);
                rw_resp_str(&r, key);
                rw_resp_arg(&r, num, rw_i64_str(num, w->max_at));
                sent++;
        }
        if (w->have_gaps) {
                rw_key(key, sizeof(key), st->ns, w->partition, "gaps", w->topic);
                rw_resp_cmd(&r, 3);
                rw_resp_arg(&r, "SET", 3);
                rw_resp_str(&r, key);
                rw_resp_str(&r, w->gaps);
                sent++;
        }
        if (w->progress) {
                char val[64];
                snprintf(key, sizeof(key), "%s:{dep}:prog", st->ns);
                snprintf(val, sizeof(val), "%lld,%lld", (long long)w->prog_wm,
                         (long long)w->prog_wall);
                rw_resp_cmd(&r, 4);
                rw_resp_arg(&r, "HSET", 4);
                rw_resp_str(&r, key);
                rw_resp_arg(&r, num, rw_i64_str(num, w->partition));
                rw_resp_str(&r, val);
                rw_resp_cmd(&r, 4);
                rw_resp_arg(&r, "HSETNX", 6);
                rw_resp_str(&r, key);
                rw_resp_arg(&r, "start", 5);
                rw_resp_arg(&r, num, rw_i64_str(num, w->prog_wall));
                sent += 2;
        }
        if (r.oom)
                abort();
        *rp = r;
        return sent;
}

/* A transaction sent and not yet read. */
struct rw_state_txn_s {
        size_t cnt;
        rw_state_write_t *const *ws;
        rw_err_t *errs;
        size_t *queued;         /* commands queued per write (0: not in it) */
        size_t replies;         /* +OK/QUEUED replies before EXEC's */
        size_t got;             /* of those, read already (rw_state_write_ready()) */
        redisReply *exec;       /* EXEC's, when read already */
        char qerr[512];         /* an error reply among those read already */
};

void rw_state_txn_destroy(rw_state_txn_t *txn) {
        if (!txn)
                return;
        if (txn->exec)
                freeReplyObject(txn->exec);
        free(txn->queued);
        free(txn);
}

int rw_state_write_ready(rw_state_t *st, rw_state_txn_t *txn) {
        struct pollfd pfd;

        if (!st->rc || st->rc->err)
                return 1;
        pfd = (struct pollfd){ .fd = st->rc->fd, .events = POLLIN };
        while (!txn->exec) {
                redisReply *r = NULL;
                if (redisReaderGetReply(st->rc->reader, (void **)&r) != REDIS_OK)
                        return 1;       /* rw_state_write_recv() reports it */
                if (!r) {
                        /* Only what has arrived: never wait here. */
                        if (poll(&pfd, 1, 0) != 1)
                                return 0;
                        if (redisBufferRead(st->rc) != REDIS_OK)
                                return 1;
                        continue;
                }
                if (txn->got < txn->replies) {
                        if (r->type == REDIS_REPLY_ERROR && !txn->qerr[0])
                                snprintf(txn->qerr, sizeof(txn->qerr),
                                         "redis: batch write: %s", r->str);
                        txn->got++;
                        freeReplyObject(r);
                } else {
                        txn->exec = r;
                }
        }
        return 1;
}

rw_err_t rw_state_write_send(rw_state_t *st, rw_state_write_t *const *ws, size_t cnt,
                             rw_err_t *errs, rw_state_txn_t **txnp,
                             char *errstr, size_t errstr_size) {
        /* WATCH's and MGET's arguments: every partition's offset key, then
         * (MGET only) the token keys of the writes sent before that leave
         * their offset where it was. */
        const char **keys = calloc(2 * cnt + 2, sizeof(*keys));
        char (*kbuf)[1024] = calloc(2 * cnt + 1, sizeof(*kbuf));
        size_t *tk = calloc(cnt + 1, sizeof(*tk));     /* index in MGET's reply, 0: none */
        size_t tk_cnt = 0;
        rw_state_txn_t *txn = calloc(1, sizeof(*txn));
        redisReply *r = NULL, *r2 = NULL;
        rw_err_t err = RW_ERR_IO;
        size_t i, live = 0;

        *txnp = NULL;
        if (!keys || !kbuf || !tk || !txn || !(txn->queued = calloc(cnt + 1, sizeof(*txn->queued))))
                abort();
        txn->cnt = cnt;
        txn->ws = ws;
        txn->errs = errs;
        for (i = 0; i < cnt; i++) {
                int rc;

                if (errs[i] != RW_ERR_IO)
                        continue;       /* decided already */
                if ((rc = rw_write_deltas(ws[i])) == -2) {
                        /* Not sent at all: the write applies whole or not. */
                        snprintf(errstr, errstr_size, "%s", ws[i]->range_err);
                        errs[i] = RW_ERR_FAIL;
                } else if (rc) {
                        snprintf(errstr, errstr_size, "out of memory");
                        err = RW_ERR_NOMEM;
                        goto done;
                }
        }
        for (i = 0; i < cnt; i++) {
                rw_key(kbuf[i], sizeof(kbuf[i]), st->ns, ws[i]->partition, "off", ws[i]->topic);
                keys[i + 1] = kbuf[i];
        }
        for (i = 0; i < cnt; i++) {
                if (errs[i] != RW_ERR_IO || !ws[i]->sent || !ws[i]->token)
                        continue;
                rw_key(kbuf[cnt + tk_cnt], sizeof(kbuf[0]), st->ns, ws[i]->partition, "wt",
                       ws[i]->topic);
                keys[cnt + 1 + tk_cnt] = kbuf[cnt + tk_cnt];
                tk[i] = cnt + tk_cnt++;
        }
        if (!cnt) {
                err = RW_OK;
                goto done;
        }
        if ((err = rw_state_ensure(st, errstr, errstr_size)))
                goto done;
        /* The fence, optimistic: watch every partition's stored offset,
         * check each is still what its owner read, and write in MULTI/EXEC,
         * which Redis refuses whole if any watched offset changed since. */
        keys[0] = "WATCH";
        if (redisAppendCommandArgv(st->rc, (int)cnt + 1, keys, NULL) != REDIS_OK)
                goto io;
        keys[0] = "MGET";
        if (redisAppendCommandArgv(st->rc, (int)(cnt + tk_cnt) + 1, keys, NULL) != REDIS_OK)
                goto io;
        int64_t t0 = rw_state_rt_begin();
        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK ||
            redisGetReply(st->rc, (void **)&r2) != REDIS_OK)
                goto io;
        rw_state_rt_end(t0);
        if (r->type == REDIS_REPLY_ERROR || r2->type != REDIS_REPLY_ARRAY ||
            r2->elements != cnt + tk_cnt) {
                snprintf(errstr, errstr_size, "redis: WATCH/MGET: %s",
                         r->type == REDIS_REPLY_ERROR ? r->str :
                         r2->type == REDIS_REPLY_ERROR ? r2->str : "unexpected reply");
                if (rw_reply_transient(r) || rw_reply_transient(r2)) {
                        rw_state_disconnect(st);        /* errs stay RW_ERR_IO */
                        err = RW_ERR_IO;
                        goto done;
                }
                for (i = 0; i < cnt; i++)
                        if (errs[i] == RW_ERR_IO)
                                errs[i] = RW_ERR_FAIL;
                err = RW_OK;
                goto done;
        }
        for (i = 0; i < cnt; i++) {
                const redisReply *e = r2->element[i];
                long long stored = e->type == REDIS_REPLY_STRING ?
                                   strtoll(e->str, NULL, 10) : -1;
                if (errs[i] != RW_ERR_IO)
                        continue;
                if (stored != ws[i]->expected && ws[i]->sent &&
                    ws[i]->next_offset != ws[i]->expected && stored == ws[i]->next_offset) {
                        /* Sent before, its reply lost (a timeout, a broken
                         * connection): the stored offset is the one it
                         * writes, it landed. Not fenced: another owner
                         * would have moved it on from where this one
                         * started, past it or not to it. */
                        ws[i]->landed_unacked = 1;
                        errs[i] = RW_OK;
                        continue;
                }
                if (stored == ws[i]->expected && tk[i]) {
                        /* One that leaves the offset where it was: landed
                         * if the token it stores is there. */
                        const redisReply *t = r2->element[tk[i]];
                        char tok[40];
                        size_t tl = rw_state_token_str(ws[i]->token, st->token_base, tok);
                        if (t->type == REDIS_REPLY_STRING && t->len == tl &&
                            !memcmp(t->str, tok, tl)) {
                                ws[i]->landed_unacked = 1;
                                errs[i] = RW_OK;
                                continue;
                        }
                }
                if (stored != ws[i]->expected) {
                        snprintf(errstr, errstr_size,
                                 "%s [%d]: stored offset is %lld, expected %lld",
                                 ws[i]->topic, (int)ws[i]->partition, stored,
                                 (long long)ws[i]->expected);
                        errs[i] = RW_ERR_FENCED;
                        continue;
                }
                live++;
        }
        if (!live) {
                const char *uw[] = { "UNWATCH" };
                freeReplyObject(r);
                if (!(r = redisCommandArgv(st->rc, 1, uw, NULL)))
                        goto io;
                err = RW_OK;
                goto done;
        }
        {
                rw_resp_t tx = { .b = st->tx_b, .size = st->tx_size, .rc = st->rc };
                txn->replies = 1;
                rw_resp_cmd(&tx, 1);
                rw_resp_arg(&tx, "MULTI", 5);
                for (i = 0; i < cnt; i++) {
                        if (errs[i] != RW_ERR_IO)
                                continue;
                        if (!ws[i]->token && ws[i]->next_offset == ws[i]->expected)
                                ws[i]->token = ++st->token_seq;
                        txn->queued[i] = rw_write_append(st, ws[i], &tx);
                        ws[i]->sent = 1;
                        txn->replies += txn->queued[i];
                }
                rw_resp_cmd(&tx, 1);
                rw_resp_arg(&tx, "EXEC", 4);
                if (tx.oom)
                        abort();
                /* Sent, not read: Redis works on it while the caller goes on. */
                rw_resp_flush(&tx);
                st->tx_b = tx.b;        /* kept for the next */
                st->tx_size = tx.size;
                if (tx.ioerr)
                        goto io;
        }
        *txnp = txn;
        txn = NULL;
        err = RW_OK;
        goto done;
io:
        snprintf(errstr, errstr_size, "redis: %s", st->rc ? rw_redis_strerror(st->rc) : "disconnected");
        rw_state_disconnect(st);
        err = RW_ERR_IO;        /* not what rw_state_ensure() left */
done:
        if (r)
                freeReplyObject(r);
        if (r2)
                freeReplyObject(r2);
        rw_state_txn_destroy(txn);
        free(keys);
        free(kbuf);
        free(tk);
        return err;
}

rw_err_t rw_state_write_recv(rw_state_t *st, rw_state_txn_t *txn,
                             char *errstr, size_t errstr_size) {
        rw_err_t *errs = txn->errs;
        redisReply *r = NULL;
        size_t i;

        if (!st->rc)
                goto io;
        /* +OK, QUEUED per command (or an error: the command is malformed
         * and EXEC refuses the whole). */
        int64_t t0 = rw_state_rt_begin();
        if (txn->qerr[0])
                snprintf(errstr, errstr_size, "%s", txn->qerr);
        for (; txn->got < txn->replies; txn->got++) {
                if (redisGetReply(st->rc, (void **)&r) != REDIS_OK)
                        goto io;
                if (r->type == REDIS_REPLY_ERROR)
                        snprintf(errstr, errstr_size, "redis: batch write: %s", r->str);
                freeReplyObject(r);
                r = NULL;
        }
        if (txn->exec) {
                r = txn->exec;
                txn->exec = NULL;
        } else if (redisGetReply(st->rc, (void **)&r) != REDIS_OK) {
                goto io;
        }
        rw_state_rt_end(t0);
        if (r->type == REDIS_REPLY_NIL) {
                /* A watched offset moved meanwhile: nothing was written;
                 * errs[] stays RW_ERR_IO for those (send them again). */
                freeReplyObject(r);
                return RW_OK;
        }
        if (r->type != REDIS_REPLY_ARRAY) {
                int transient = rw_reply_transient(r);
                if (r->type == REDIS_REPLY_ERROR)
                        snprintf(errstr, errstr_size, "redis: batch write: %s", r->str);
                freeReplyObject(r);
                r = NULL;
                if (transient) {        /* nothing applied: errs stay RW_ERR_IO */
                        rw_state_disconnect(st);
                        return RW_ERR_IO;
                }
                for (i = 0; i < txn->cnt; i++)
                        if (txn->queued[i])
                                errs[i] = RW_ERR_FAIL;
                return RW_OK;
        }
        /* Applied. A command that failed inside (a value out of range) is
         * reported; the rest of EXEC was applied. */
        for (size_t k = 0, w = 0; w < txn->cnt; w++) {
                if (!txn->queued[w])
                        continue;
                errs[w] = RW_OK;
                for (size_t q = 0; q < txn->queued[w]; q++, k++)
                        if (k < r->elements && r->element[k]->type == REDIS_REPLY_ERROR) {
                                snprintf(errstr, errstr_size,
                                         "redis refused a command of the batch "
                                         "write of %s [%d] inside the "
                                         "transaction and applied the rest: %s",
                                         txn->ws[w]->topic, (int)txn->ws[w]->partition,
                                         r->element[k]->str);
                                errs[w] = RW_ERR_FAIL;
                        }
        }
        freeReplyObject(r);
        return RW_OK;
io:
        if (r)
                freeReplyObject(r);
        snprintf(errstr, errstr_size, "redis: %s", st->rc ? rw_redis_strerror(st->rc) : "disconnected");
        rw_state_disconnect(st);
        return RW_ERR_IO;
}

rw_err_t rw_state_write_exec(rw_state_t *st, rw_state_write_t *const *ws, size_t cnt,
                             rw_err_t *errs, char *errstr, size_t errstr_size) {
        rw_err_t err = RW_OK;
        size_t i;

        for (i = 0; i < cnt; i++)
                errs[i] = RW_ERR_IO;
        for (int attempt = 0; attempt < 3; attempt++) {
                rw_state_txn_t *txn = NULL;
                int again = 0;

                if ((err = rw_state_write_send(st, ws, cnt, errs, &txn, errstr, errstr_size)))
                        return err;
                if (!txn)
                        return RW_OK;   /* nothing left to write */
                err = rw_state_write_recv(st, txn, errstr, errstr_size);
                rw_state_txn_destroy(txn);
                if (err)
                        return err;
                for (i = 0; i < cnt; i++)
                        again |= errs[i] == RW_ERR_IO;
                if (!again)
                        return RW_OK;
        }
        /* Three times in a row someone wrote a watched offset: report those
         * still pending as fenced (their owner re-reads its position). */
        for (i = 0; i < cnt; i++)
                if (errs[i] == RW_ERR_IO) {
                        errs[i] = RW_ERR_FENCED;
                        snprintf(errstr, errstr_size, "%s [%d]: the stored offset keeps moving",
                                 ws[i]->topic, (int)ws[i]->partition);
                }
        return RW_OK;
}

rw_err_t rw_state_apply(rw_state_t *st, const char *topic, int32_t partition,
                        int64_t expected, int64_t next_offset,
                        const rw_account_limits_t *lim,
                        const rw_state_event_t *evs, size_t cnt,
                        int64_t *appliedp, int64_t *dupsp,
                        char *errstr, size_t errstr_size) {
        int orders = cnt && (evs[0].kind == 'P' || evs[0].kind == 'C' || evs[0].kind == 'R');
        const char **names = calloc(cnt + 1, sizeof(*names));
        rw_account_view_t *views = calloc(cnt + 1, sizeof(*views));
        rw_state_write_t *w = NULL;
        size_t n = 0, i, j;
        int64_t max_at = 0;
        rw_err_t err = RW_ERR_NOMEM, werr;

        *appliedp = *dupsp = 0;
        if (!names || !views)
                goto done;
        for (i = 0; i < cnt; i++) {
                for (j = 0; j < n && strcmp(names[j], evs[i].account); j++)
                        ;
                if (j == n)
                        names[n++] = evs[i].account;
        }
        if ((err = rw_state_load(st, topic, partition, orders, names, n, views, errstr,
                                 errstr_size)))
                goto done;
        for (j = 0; j < n; j++)
                rw_account_ids_settle(&views[j], lim);  /* as the loop does */
        for (i = 0; i < cnt; i++) {
                for (j = 0; strcmp(names[j], evs[i].account); j++)
                        ;
                rw_state_event_t ev = evs[i];
                ev.offset = next_offset - (int64_t)cnt + (int64_t)i;
                if (rw_account_seen(&views[j], ev.event_id, ev.offset)) {
                        (*dupsp)++;
                        continue;
                }
                if (rw_account_apply(&views[j], &ev, lim)) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                (*appliedp)++;
                if (evs[i].occurred_at > max_at)
                        max_at = evs[i].occurred_at;
                if (orders && evs[i].kind == 'P') {
                        int64_t maxday;
                        if ((err = rw_state_vendor_maxdays(st, partition, &evs[i].vendor, 1,
                                                           &maxday, errstr, errstr_size)))
                                goto done;
                        err = RW_ERR_NOMEM;
                        /* The stored latest day: the base of the batch's
                         * deltas of this vendor. */
                        if (!w && !(w = rw_state_write_new(st, topic, partition, expected,
                                                           next_offset, 0)))
                                goto done;
                        if (rw_state_write_vendor(w, evs[i].vendor, maxday,
                                                  evs[i].occurred_at / RW_DAY_MS,
                                                  evs[i].amount, lim->window_days))
                                goto done;
                }
        }
        if (!w && !(w = rw_state_write_new(st, topic, partition, expected, next_offset, 0)))
                goto done;
        {
                int64_t off, wm;
                if ((err = rw_state_get_position(st, topic, partition, &off, &wm, errstr,
                                                 errstr_size)))
                        goto done;
                err = RW_ERR_NOMEM;
                w->max_at = max_at > wm ? max_at : 0;   /* kept if higher */
        }
        for (j = 0; j < n; j++)
                if (rw_state_write_account(w, orders, &views[j])) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
        if ((err = rw_state_write_exec(st, &w, 1, &werr, errstr, errstr_size)))
                goto done;
        err = werr;
done:
        if (views)
                for (j = 0; j < n; j++)
                        rw_account_view_clear(&views[j]);
        free(views);
        free(names);
        rw_state_write_destroy(w);
        return err;
}

rw_err_t rw_state_progress(rw_state_t *st, int32_t partition, int64_t watermark,
                           int64_t wall_ms, char *errstr, size_t errstr_size) {
        char key[300], field[16], val[64], now[24];
        const char *hset[] = { "HSET", key, field, val };
        const char *hsetnx[] = { "HSETNX", key, "start", now };
        redisReply *r;
        rw_err_t err = RW_OK;

        if (rw_state_ensure(st, errstr, errstr_size))
                return rw_state_conn_err(st);
        snprintf(key, sizeof(key), "%s:{dep}:prog", st->ns);
        snprintf(field, sizeof(field), "%d", (int)partition);
        snprintf(val, sizeof(val), "%lld,%lld", (long long)watermark, (long long)wall_ms);
        snprintf(now, sizeof(now), "%lld", (long long)wall_ms);
        if (redisAppendCommandArgv(st->rc, 4, hset, NULL) != REDIS_OK ||
            redisAppendCommandArgv(st->rc, 4, hsetnx, NULL) != REDIS_OK)
                goto io;
        int64_t t0 = rw_state_rt_begin();
        for (int i = 0; i < 2; i++) {
                if (i == 1)
                        rw_state_rt_end(t0);
                if (redisGetReply(st->rc, (void **)&r) != REDIS_OK)
                        goto io;
                if (r->type == REDIS_REPLY_ERROR && !err) {
                        snprintf(errstr, errstr_size, "redis: progress: %s", r->str);
                        err = RW_ERR_FAIL;
                }
                freeReplyObject(r);
        }
        return err;
io:
        snprintf(errstr, errstr_size, "redis: %s", rw_redis_strerror(st->rc));
        rw_state_disconnect(st);
        return RW_ERR_IO;
}

/* One page of SCAN MATCH pattern from cursor (updated in place): the reply,
 * whose element[1] holds the page's keys, or NULL with *errp and errstr. */
static redisReply *rw_state_scan_page(rw_state_t *st, char *cursor, size_t cursor_size,
                                      const char *pattern, rw_err_t *errp,
                                      char *errstr, size_t errstr_size) {
        const char *argv[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
        redisReply *r = rw_state_cmd(st, errstr, errstr_size, 6, argv, NULL);

        if (!r) {
                *errp = rw_state_cmd_err(st);
                return NULL;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                freeReplyObject(r);
                snprintf(errstr, errstr_size, "redis: SCAN: unexpected reply");
                *errp = RW_ERR_FAIL;
                return NULL;
        }
        snprintf(cursor, cursor_size, "%s", r->element[0]->str);
        return r;
}

/* The first key matching pattern into key (truncated to key_size), or ""
 * when none does. */
static rw_err_t rw_state_scan_one(rw_state_t *st, const char *pattern,
                                  char *key, size_t key_size,
                                  char *errstr, size_t errstr_size) {
        char cursor[32] = "0";
        rw_err_t err;

        key[0] = '\0';
        do {
                redisReply *r = rw_state_scan_page(st, cursor, sizeof(cursor), pattern, &err,
                                                   errstr, errstr_size);
                if (!r)
                        return err;
                if (r->element[1]->elements > 0) {
                        snprintf(key, key_size, "%s", r->element[1]->element[0]->str);
                        freeReplyObject(r);
                        return RW_OK;
                }
                freeReplyObject(r);
        } while (strcmp(cursor, "0"));
        return RW_OK;
}

/* UNLINK the n keys argv[1..n] (lengths lens[1..n]; slot 0 is the
 * command's), adding how many went to *deletedp. */
static rw_err_t rw_state_unlink(rw_state_t *st, const char **argv, size_t *lens, size_t n,
                                int64_t *deletedp, char *errstr, size_t errstr_size) {
        redisReply *u;

        argv[0] = "UNLINK";
        lens[0] = 6;
        if (!(u = rw_state_cmd(st, errstr, errstr_size, (int)n + 1, argv, lens)))
                return rw_state_cmd_err(st);
        if (u->type == REDIS_REPLY_INTEGER)
                *deletedp += u->integer;
        freeReplyObject(u);
        return RW_OK;
}

/* A partition's stored position (offset or watermark key). */
static int rw_position_key(const char *k) {
        return strstr(k, "}:off:") || strstr(k, "}:wm:");
}

rw_err_t rw_state_purge(rw_state_t *st, int64_t *deletedp, char *errstr,
                        size_t errstr_size) {
        char cursor[32] = "0", pattern[160];
        char **pos = NULL;      /* the positions, deleted last */
        size_t pos_cnt = 0, pos_size = 0, i;
        rw_err_t err = RW_OK;

        /* The namespace's characters are not glob syntax (checked). */
        snprintf(pattern, sizeof(pattern), "%s:*", st->ns);
        *deletedp = 0;
        do {
                redisReply *r = rw_state_scan_page(st, cursor, sizeof(cursor), pattern, &err,
                                                   errstr, errstr_size);
                size_t n = 0, m = r ? r->element[1]->elements : 0;
                const char **keys = calloc(m + 1, sizeof(*keys));
                size_t *lens = calloc(m + 1, sizeof(*lens));

                if (!keys || !lens)
                        abort();
                for (i = 0; i < m; i++) {
                        const redisReply *k = r->element[1]->element[i];
                        if (!rw_position_key(k->str)) {
                                keys[++n] = k->str;
                                lens[n] = k->len;
                        } else if (rw_grow(&pos, &pos_size, pos_cnt + 1, sizeof(*pos), 16) ||
                                   !(pos[pos_cnt++] = strdup(k->str))) {
                                abort();
                        }
                }
                if (n)
                        err = rw_state_unlink(st, keys, lens, n, deletedp, errstr, errstr_size);
                free(keys);
                free(lens);
                if (r)
                        freeReplyObject(r);
                else
                        goto done;      /* err set by the scan */
                if (err)
                        goto done;
        } while (strcmp(cursor, "0"));
        /* A partition with no stored position is taken for one without
         * state (its accounts are not read): its positions go after every
         * other key, so a purge cut short leaves them. */
        for (i = 0; i < pos_cnt && !err; i += 256) {
                size_t n = pos_cnt - i < 256 ? pos_cnt - i : 256;
                const char *keys[257];
                size_t lens[257];
                for (size_t j = 0; j < n; j++) {
                        keys[j + 1] = pos[i + j];
                        lens[j + 1] = strlen(pos[i + j]);
                }
                err = rw_state_unlink(st, keys, lens, n, deletedp, errstr, errstr_size);
        }
done:
        for (i = 0; i < pos_cnt; i++)
                free(pos[i]);
        free(pos);
        return err;
}

/* HGETALL of key into a view (buckets and meta fields). */
static rw_err_t rw_state_load_view(rw_state_t *st, const char *key,
                                   rw_account_view_t *av,
                                   char *errstr, size_t errstr_size) {
        const char *argv[2] = { "HGETALL", key };
        redisReply *r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL);

        rw_err_t err;

        if (!r)
                return rw_state_cmd_err(st);
        err = rw_view_fill(av, r, NULL) ? RW_ERR_NOMEM : RW_OK;
        freeReplyObject(r);
        return err;
}

/* id as a glob pattern matching only itself: SCAN MATCH reads `*`, `?`,
 * `[`, `]` and `\` as pattern syntax. Caller must free. */
static char *rw_glob_escape(const char *id) {
        size_t n = strlen(id), o = 0;
        char *out = malloc(2 * n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (strchr("*?[]\\", id[i]))
                        out[o++] = '\\';
                out[o++] = id[i];
        }
        out[o] = '\0';
        return out;
}

/* The partition slot holding `what` `id` (a key NS:{P}:<kinds>:<id>, kinds a
 * glob class such as "[as]"). RW_ERR_FAIL with "what id: not in namespace"
 * when none does. */
static rw_err_t rw_state_locate(rw_state_t *st, const char *kinds, const char *what,
                                const char *id, int32_t *partitionp,
                                char *errstr, size_t errstr_size) {
        char key[512], shown[256];
        char *eid = NULL, *pattern = NULL;
        rw_err_t err;

        if ((err = rw_state_ensure(st, errstr, errstr_size)))
                return err;
        if (!(eid = rw_glob_escape(id)) ||
            asprintf(&pattern, "%s:{*}:%s:%s", st->ns, kinds, eid) < 0) {
                pattern = NULL;
                snprintf(errstr, errstr_size, "out of memory");
                err = RW_ERR_NOMEM;
                goto done;
        }
        if ((err = rw_state_scan_one(st, pattern, key, sizeof(key), errstr, errstr_size)))
                goto done;
        if (!key[0]) {
                snprintf(errstr, errstr_size, "%s \"%s\": not in namespace %s",
                         what, rw_log_escape_str(shown, sizeof(shown), id), st->ns);
                err = RW_ERR_FAIL;
                goto done;
        }
        *partitionp = (int32_t)strtol(key + strlen(st->ns) + 2, NULL, 10);
done:
        free(pattern);
        free(eid);
        return err;
}

rw_err_t rw_state_inspect(rw_state_t *st, const char *account,
                          const char *orders_topic, const char *support_topic,
                          rw_inspect_t *out, char *errstr, size_t errstr_size) {
        static const char kinds[3] = { 'a', 's', 'f' };
        char *key = NULL;
        rw_err_t err;
        int64_t off;

        memset(out, 0, sizeof(*out));
        /* Either stream's hash places the account in its partition's slot. */
        if ((err = rw_state_locate(st, "[as]", "account", account, &out->partition,
                                   errstr, errstr_size)))
                return err;
        if (!(out->orders.account = strdup(account)) ||
            !(out->support.account = strdup(account)))
                goto nomem;
        for (int k = 0; k < 3; k++) {
                const char *argv[2];
                redisReply *r;

                if (asprintf(&key, "%s:{%d}:%c:%s", st->ns, (int)out->partition, kinds[k],
                             account) < 0) {
                        key = NULL;
                        goto nomem;
                }
                if (k < 2) {
                        err = rw_state_load_view(st, key, k ? &out->support : &out->orders,
                                                 errstr, errstr_size);
                        free(key);
                        key = NULL;
                        if (err)
                                return err;
                        continue;
                }
                argv[0] = "HGETALL";
                argv[1] = key;
                r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL);
                free(key);
                key = NULL;
                if (!r)
                        return rw_state_cmd_err(st);
                for (size_t j = 0; j + 1 < r->elements; j += 2) {
                        rw_rule_id_t id = rw_rule_by_name(r->element[j]->str,
                                                          r->element[j]->len);
                        if (id < RW_RULE__CNT) {
                                rw_fp_state_parse(r->element[j + 1]->str,
                                                  &out->orders.fp[id]);
                                out->support.fp[id] = out->orders.fp[id];
                        }
                }
                freeReplyObject(r);
        }
        if ((err = rw_state_get_position(st, orders_topic, out->partition, &off,
                                         &out->wm_orders, errstr, errstr_size)) ||
            (err = rw_state_get_position(st, support_topic, out->partition, &off,
                                         &out->wm_support, errstr, errstr_size)))
                return err;
        return RW_OK;
nomem:
        snprintf(errstr, errstr_size, "out of memory");
        return RW_ERR_NOMEM;
}

void rw_inspect_clear(rw_inspect_t *in) {
        rw_account_view_clear(&in->orders);
        rw_account_view_clear(&in->support);
}

rw_err_t rw_state_inspect_vendor(rw_state_t *st, const char *vendor,
                                 int32_t *partsp, int64_t **daysp,
                                 int64_t **valuesp, size_t *cntp,
                                 char *errstr, size_t errstr_size) {
        char cursor[32] = "0", *eid = NULL, *pattern = NULL, shown[256];
        size_t n = 0, size = 0, vsize = 0;
        rw_err_t err;

        *partsp = 0;
        *daysp = NULL;
        *valuesp = NULL;
        *cntp = 0;
        if ((err = rw_state_ensure(st, errstr, errstr_size)))
                return err;
        if (!(eid = rw_glob_escape(vendor)) ||
            asprintf(&pattern, "%s:{*}:v:%s", st->ns, eid) < 0) {
                pattern = NULL;
                err = RW_ERR_NOMEM;
                goto done;
        }
        /* Each orders partition keeps the days of the vendor's orders it
         * applied: the vendor's figure is their sum, day by day. */
        do {
                redisReply *r = rw_state_scan_page(st, cursor, sizeof(cursor), pattern, &err,
                                                   errstr, errstr_size);
                if (!r)
                        goto done;
                for (size_t k = 0; k < r->element[1]->elements; k++) {
                        const char *hv[2] = { "HGETALL", r->element[1]->element[k]->str };
                        redisReply *h = rw_state_cmd(st, errstr, errstr_size, 2, hv, NULL);
                        if (!h) {
                                freeReplyObject(r);
                                err = rw_state_cmd_err(st);
                                goto done;
                        }
                        (*partsp)++;
                        for (size_t j = 0; j + 1 < h->elements; j += 2) {
                                int64_t day;
                                size_t i;
                                if (!strncmp(h->element[j]->str, "m:", 2))
                                        continue;
                                day = strtoll(h->element[j]->str, NULL, 10);
                                for (i = 0; i < n && (*daysp)[i] != day; i++)
                                        ;
                                if (i == n) {
                                        if (rw_grow(daysp, &size, n + 1, sizeof(**daysp), 128) ||
                                            rw_grow(valuesp, &vsize, n + 1, sizeof(**valuesp), 128)) {
                                                freeReplyObject(h);
                                                freeReplyObject(r);
                                                err = RW_ERR_NOMEM;
                                                goto done;
                                        }
                                        (*daysp)[n] = day;
                                        (*valuesp)[n++] = 0;
                                }
                                (*valuesp)[i] += rw_reply_int(h->element[j + 1]);
                        }
                        freeReplyObject(h);
                }
                freeReplyObject(r);
        } while (strcmp(cursor, "0"));
        if (!*partsp) {
                snprintf(errstr, errstr_size, "vendor \"%s\": not in namespace %s",
                         rw_log_escape_str(shown, sizeof(shown), vendor), st->ns);
                err = RW_ERR_FAIL;
        }
        *cntp = n;
done:
        if (err == RW_ERR_NOMEM)
                snprintf(errstr, errstr_size, "out of memory");
        free(pattern);
        free(eid);
        return err;
}

