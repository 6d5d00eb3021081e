/* boundary_store.c - the dependency decider's Redis commands: pipelined
 * reads of the {dep} slot and the partitions' buckets, the boundary script,
 * the lock. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/boundary_store.h"
#include "state/state_int.h"
#include "common/i64map.h"
#include "common/varint.h"
#include "state/boundary_lua.h"   /* generated from boundary.lua: rw_boundary_lua[] */

static const char *rw_fam[2] = { "a", "v" };

void rw_bstore_init(rw_bstore_t *bs, rw_state_t *st) {
        char pfx[sizeof(bs->pfx)];
        snprintf(pfx, sizeof(pfx), "%s:{dep}:", rw_state_ns(st));
        if (bs->st != st || strcmp(pfx, bs->pfx)) {
                bs->sha[0] = '\0';
                bs->tot_ok = 0;
                for (int32_t p = 0; p < bs->since_cnt; p++)
                        bs->since[p] = INT64_MIN;
        }
        bs->st = st;
        memcpy(bs->pfx, pfx, sizeof(pfx));
}

void rw_bstore_release(rw_bstore_t *bs) {
        for (int fam = 0; fam < 2; fam++) {
                rw_i64map_destroy(bs->tot[fam]);
                bs->tot[fam] = NULL;
        }
        bs->tot_ok = 0;
        free(bs->since);
        bs->since = NULL;
        bs->since_cnt = 0;
}

/*
 * An argument vector that owns its strings.
 */

typedef struct rw_args_s {
        char **v;
        size_t *len;
        size_t cnt, cap;
        int oom;                /* an add failed: the vector is unusable */
} rw_args_t;

static void rw_args_add(rw_args_t *a, const void *s, size_t len) {
        char *c;
        if (a->oom)
                return;
        if (a->cnt == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 64;
                char **v = realloc(a->v, cap * sizeof(*v));
                size_t *l;
                if (!v)
                        goto oom;
                a->v = v;
                if (!(l = realloc(a->len, cap * sizeof(*l))))
                        goto oom;
                a->len = l;
                a->cap = cap;
        }
        if (!(c = malloc(len + 1)))
                goto oom;
        memcpy(c, s, len);
        c[len] = '\0';
        a->v[a->cnt] = c;
        a->len[a->cnt++] = len;
        return;
oom:
        a->oom = 1;
}

static void rw_args_str(rw_args_t *a, const char *s) {
        rw_args_add(a, s, strlen(s));
}

static void rw_args_fmt(rw_args_t *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void rw_args_fmt(rw_args_t *a, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(buf))
                a->oom = 1;
        else
                rw_args_add(a, buf, (size_t)n);
}

static void rw_args_i64(rw_args_t *a, int64_t v) {
        char buf[24];   /* without printf: a run's totals are thousands */
        rw_args_add(a, buf, rw_i64_str(buf, v));
}

static void rw_args_free(rw_args_t *a) {
        for (size_t i = 0; i < a->cnt; i++)
                free(a->v[i]);
        free(a->v);
        free(a->len);
        memset(a, 0, sizeof(*a));
}

/*
 * Pipelines: commands appended to the context's buffer, then all replies
 * read in one round trip.
 */

static redisContext *rw_bs_conn(rw_bstore_t *bs, char *errstr, size_t errstr_size) {
        return rw_state_conn(bs->st, errstr, errstr_size);
}

static rw_err_t rw_bs_ioerr(redisContext *rc, char *errstr, size_t errstr_size) {
        snprintf(errstr, errstr_size, "redis: %s", rc->errstr[0] ? rw_redis_strerror(rc) :
                 "connection lost");
        return RW_ERR_IO;
}

/* A command larger than RW_RESP_FLUSH (the decider's script call over a
 * long history: megabytes of totals and fold copies) goes to the socket in
 * pieces as it is encoded (state/resp.h), not built whole and then copied
 * into hiredis' output buffer: two copies of it at the decider's peak. */
static rw_err_t rw_bs_send_direct(redisContext *rc, int argc, const char **argv,
                                  const size_t *len, char *errstr, size_t errstr_size) {
        rw_resp_t r = { .rc = rc };
        int done = 0;

        /* What the pipeline appended before goes first. */
        while (!done)
                if (redisBufferWrite(rc, &done) != REDIS_OK)
                        return rw_bs_ioerr(rc, errstr, errstr_size);
        rw_resp_cmd(&r, (size_t)argc);
        for (int i = 0; i < argc; i++)
                rw_resp_arg(&r, argv[i], len[i]);
        rw_resp_flush(&r);
        free(r.b);
        if (r.oom) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        return r.ioerr ? rw_bs_ioerr(rc, errstr, errstr_size) : RW_OK;
}

/* One command, in the protocol's encoding built here and handed to hiredis
 * whole (its per-argument formatting was most of what the decider's reads
 * and deletes cost it: hundreds of thousands of keys over a long history). */
static rw_err_t rw_bs_send(redisContext *rc, int argc, const char **argv,
                           const size_t *lens, char *errstr, size_t errstr_size) {
        size_t lstack[16], *len = lstack, need = 24, n = 0;
        char bstack[1024], *b = bstack;
        rw_err_t err = RW_OK;

        if ((size_t)argc > sizeof(lstack) / sizeof(lstack[0]) &&
            !(len = malloc((size_t)argc * sizeof(*len))))
                goto oom;
        for (int i = 0; i < argc; i++) {
                len[i] = lens ? lens[i] : strlen(argv[i]);
                need += len[i] + 24 + 2;
        }
        if (need > RW_RESP_FLUSH) {
                err = rw_bs_send_direct(rc, argc, argv, len, errstr, errstr_size);
                goto done;
        }
        if (need > sizeof(bstack) && !(b = malloc(need)))
                goto oom;
        n = rw_resp_head(b, '*', (size_t)argc);
        for (int i = 0; i < argc; i++) {
                n += rw_resp_head(b + n, '$', len[i]);
                memcpy(b + n, argv[i], len[i]);
                n += len[i];
                b[n++] = '\r';
                b[n++] = '\n';
        }
        if (redisAppendFormattedCommand(rc, b, n) != REDIS_OK)
                err = rw_bs_ioerr(rc, errstr, errstr_size);
        goto done;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        err = RW_ERR_NOMEM;
done:
        if (len != lstack)
                free(len);
        if (b != bstack)
                free(b);
        return err;
}

/* Read n replies (error replies included) into rs. RW_ERR_IO frees them. */
static rw_err_t rw_bs_collect(rw_bstore_t *bs, redisContext *rc, size_t n,
                              redisReply **rs, char *errstr, size_t errstr_size) {
        int64_t t0 = rw_state_rt_begin();
        bs->round_trips++;
        for (size_t i = 0; i < n; i++) {
                void *r = NULL;
                if (redisGetReply(rc, &r) != REDIS_OK || !r) {
                        for (size_t j = 0; j < i; j++)
                                freeReplyObject(rs[j]);
                        memset(rs, 0, n * sizeof(*rs));
                        return rw_bs_ioerr(rc, errstr, errstr_size);
                }
                rs[i] = r;
        }
        rw_state_rt_end(t0);
        return RW_OK;
}

/* Read and drop n replies, one at a time (no room to hold them: the
 * pipeline must still stay in step). RW_OK, or rw_bs_collect()'s error. */
static rw_err_t rw_bs_skip(rw_bstore_t *bs, redisContext *rc, size_t n, char *errstr,
                           size_t errstr_size) {
        rw_err_t err = RW_OK;
        for (size_t i = 0; i < n && !err; i++) {
                redisReply *r = NULL;
                if (!(err = rw_bs_collect(bs, rc, 1, &r, errstr, errstr_size)))
                        freeReplyObject(r);
        }
        return err;
}

/* RW_ERR_FAIL (errstr filled) when r is an error reply or not of `type`. */
static rw_err_t rw_bs_check(const redisReply *r, int type, const char *what,
                            char *errstr, size_t errstr_size) {
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "redis: %s: %.*s", what, (int)r->len, r->str);
                return rw_reply_transient(r) ? RW_ERR_IO : RW_ERR_FAIL;
        }
        if (type >= 0 && r->type != type) {
                snprintf(errstr, errstr_size, "redis: %s: unexpected reply", what);
                return RW_ERR_FAIL;
        }
        return RW_OK;
}

static void rw_bs_free(redisReply **rs, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (rs[i])
                        freeReplyObject(rs[i]);
}

/* One command, one round trip. */
static rw_err_t rw_bs_cmd(rw_bstore_t *bs, int argc, const char **argv,
                          const size_t *lens, redisReply **rp,
                          char *errstr, size_t errstr_size) {
        redisContext *rc;
        rw_err_t err;

        *rp = NULL;
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        if ((err = rw_bs_send(rc, argc, argv, lens, errstr, errstr_size)))
                return err;
        return rw_bs_collect(bs, rc, 1, rp, errstr, errstr_size);
}

static int64_t rw_reply_i64(const redisReply *r) {
        if (!r)
                return 0;
        if (r->type == REDIS_REPLY_INTEGER)
                return r->integer;
        if (r->type == REDIS_REPLY_STRING)
                return strtoll(r->str, NULL, 10);
        return 0;
}

/* An HGETALL reply of subject -> integer appended to h, but for the field
 * "\0" (rw_pb_hashtable_mark). -1 when out of memory (h cleared). */
static int rw_bs_hash_add(const redisReply *r, rw_bstore_hash_t *h) {
        size_t n = r->elements / 2;
        rw_bstore_pair_t *nv;

        if (!n)
                return 0;
        if (!(nv = realloc(h->v, (h->cnt + n) * sizeof(*nv)))) {
                rw_bstore_hash_clear(h);
                return -1;
        }
        h->v = nv;
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
                rw_bstore_pair_t *p = &h->v[h->cnt];
                if (r->element[j]->len == 1 && !r->element[j]->str[0])
                        continue;       /* rw_pb_hashtable_mark's field */
                if (!(p->subject = strndup(r->element[j]->str, r->element[j]->len))) {
                        rw_bstore_hash_clear(h);
                        return -1;
                }
                p->len = r->element[j]->len;
                p->value = rw_reply_i64(r->element[j + 1]);
                h->cnt++;
        }
        return 0;
}

/* An HGETALL reply of subject -> integer into h. -1 when out of memory. */
static int rw_bs_hash(const redisReply *r, rw_bstore_hash_t *h) {
        memset(h, 0, sizeof(*h));
        return rw_bs_hash_add(r, h);
}

void rw_bstore_hash_clear(rw_bstore_hash_t *h) {
        for (size_t i = h->names_cnt; i < h->cnt; i++)
                free(h->v[i].subject);
        free(h->names);
        free(h->v);
        memset(h, 0, sizeof(*h));
}

static int rw_bs_pair_cmp(const void *a, const void *b) {
        const rw_bstore_pair_t *x = *(const rw_bstore_pair_t *const *)a,
                               *y = *(const rw_bstore_pair_t *const *)b;
        int c = memcmp(x->subject, y->subject, x->len < y->len ? x->len : y->len);
        return c ? c : (x->len > y->len) - (x->len < y->len);
}

int rw_bstore_fold_encode(const rw_bstore_hash_t *h, char **bufp, size_t *lenp) {
        const rw_bstore_pair_t **ord;
        size_t size = 0, n = 0;
        unsigned char *b;

        *bufp = NULL;
        *lenp = 0;
        if (!h->cnt)
                return 0;
        if (!(ord = malloc(h->cnt * sizeof(*ord))))
                return -1;
        for (size_t i = 0; i < h->cnt; i++) {
                ord[i] = &h->v[i];
                size += h->v[i].len + 2 * RW_VARINT_MAX;
        }
        qsort(ord, h->cnt, sizeof(*ord), rw_bs_pair_cmp);
        if (!(b = malloc(size))) {
                free(ord);
                return -1;
        }
        for (size_t i = 0; i < h->cnt; i++) {
                n += rw_uvarint_put(b + n, ord[i]->len);
                memcpy(b + n, ord[i]->subject, ord[i]->len);
                n += ord[i]->len;
                n += rw_svarint_put(b + n, ord[i]->value);
        }
        free(ord);
        *bufp = (char *)b;
        *lenp = n;
        return 0;
}

/* The number of entries of a stored fold copy; -1 when it is not one. */
static ssize_t rw_bs_fold_count(const unsigned char *p, const unsigned char *end) {
        ssize_t n = 0;
        while (p < end) {
                uint64_t sl, z;
                if (rw_uvarint_get(&p, end, &sl) || sl >= (uint64_t)(end - p))
                        return -1;
                p += sl;
                if (rw_uvarint_get(&p, end, &z))
                        return -1;
                n++;
        }
        return n;
}

int rw_bstore_fold_decode(const char *s, size_t len, rw_bstore_hash_t *h) {
        const unsigned char *p = (const unsigned char *)s, *end = p + len;
        ssize_t n = rw_bs_fold_count(p, end);

        memset(h, 0, sizeof(*h));
        if (n < 0)
                return -2;
        if (!n)
                return 0;
        /* Exactly as many as it holds: a decider's pass holds thousands.
         * The subjects go into one block: each entry takes at least two
         * bytes besides its subject's, so len bytes hold them and their
         * terminators. */
        if (!(h->v = malloc((size_t)n * sizeof(*h->v))) || !(h->names = malloc(len))) {
                rw_bstore_hash_clear(h);
                return -1;
        }
        {
                char *at = h->names;
                while (p < end) {
                        uint64_t sl = 0;
                        rw_bstore_pair_t *e = &h->v[h->cnt];
                        (void)rw_uvarint_get(&p, end, &sl);  /* counted: it parses */
                        e->subject = at;
                        memcpy(at, p, (size_t)sl);
                        at[sl] = '\0';
                        at += sl + 1;
                        e->len = (size_t)sl;
                        h->cnt++;
                        p += sl;
                        (void)rw_svarint_get(&p, end, &e->value);
                }
        }
        h->names_cnt = h->cnt;
        return 0;
}

static void rw_bs_scored_clear(rw_bstore_scored_t **vp, size_t *cntp) {
        for (size_t i = 0; i < *cntp; i++)
                free((*vp)[i].subject);
        free(*vp);
        *vp = NULL;
        *cntp = 0;
}

/*
 * Reads.
 */

static void rw_bs_parse_prog(const redisReply *r, rw_bstore_head_t *h) {
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
                const char *f = r->element[j]->str, *v = r->element[j + 1]->str;
                rw_bstore_prog_t *p;
                char *end, name[16];
                long part;
                long long wm = 0, wall = 0, since = 0;
                int got;

                if (!strcmp(f, "start")) {
                        h->start = strtoll(v, NULL, 10);
                        h->have_start = 1;
                        continue;
                }
                part = strtol(f, &end, 10);
                if (*end || part < 0 || part > INT32_MAX)
                        continue;
                snprintf(name, sizeof(name), "%ld", part);
                if (strcmp(name, f))
                        continue;
                p = &h->prog[h->prog_cnt++];
                p->partition = (int32_t)part;
                got = sscanf(v, "%lld,%lld,%lld", &wm, &wall, &since);
                p->ok = got >= 2;
                p->watermark = (int64_t)wm;
                p->wall_ms = (int64_t)wall;
                p->end_since = got == 3 && since > 0 ? (int64_t)since : 0;
        }
}

static void rw_bs_parse_agg(const redisReply *r, rw_bstore_head_t *h) {
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
                const char *f = r->element[j]->str, *v = r->element[j + 1]->str;
                if (!strcmp(f, "last"))
                        h->last = strtoll(v, NULL, 10), h->have_last = 1;
                else if (!strcmp(f, "first"))
                        h->first = strtoll(v, NULL, 10);
                else if (!strcmp(f, "a:sum"))
                        h->sum[0] = strtoll(v, NULL, 10);
                else if (!strcmp(f, "v:sum"))
                        h->sum[1] = strtoll(v, NULL, 10);
                else if (!strcmp(f, "a:sq"))
                        h->sq[0] = rw_u128_parse(v);
                else if (!strcmp(f, "v:sq"))
                        h->sq[1] = rw_u128_parse(v);
                else if (!strcmp(f, "a:n"))
                        h->cnt[0] = strtoll(v, NULL, 10);
                else if (!strcmp(f, "v:n"))
                        h->cnt[1] = strtoll(v, NULL, 10);
                else if (!strcmp(f, "orders"))
                        h->orders = strtoll(v, NULL, 10), h->have_counts = 1;
                else if (!strcmp(f, "orders_since"))
                        h->orders_since = strtoll(v, NULL, 10);
        }
}

rw_err_t rw_bstore_head(rw_bstore_t *bs, int with_fps, rw_bstore_head_t *out,
                        char *errstr, size_t errstr_size) {
        char prog[256], agg[256], f[256];
        const char *a1[2] = { "HGETALL", prog }, *a2[2] = { "HGETALL", agg },
                   *a3[2] = { "HGETALL", f };
        redisReply *rs[3] = { NULL, NULL, NULL };
        size_t n = with_fps ? 3 : 2;
        redisContext *rc;
        rw_err_t err;

        memset(out, 0, sizeof(*out));
        snprintf(prog, sizeof(prog), "%sprog", bs->pfx);
        snprintf(agg, sizeof(agg), "%sagg", bs->pfx);
        snprintf(f, sizeof(f), "%sf", bs->pfx);
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        if ((err = rw_bs_send(rc, 2, a1, NULL, errstr, errstr_size)) ||
            (err = rw_bs_send(rc, 2, a2, NULL, errstr, errstr_size)) ||
            (with_fps && (err = rw_bs_send(rc, 2, a3, NULL, errstr, errstr_size))) ||
            (err = rw_bs_collect(bs, rc, n, rs, errstr, errstr_size)))
                return err;
        for (size_t i = 0; i < n && !err; i++)
                err = rw_bs_check(rs[i], REDIS_REPLY_ARRAY, "HGETALL", errstr, errstr_size);
        if (err)
                goto done;
        if (rs[0]->elements &&
            !(out->prog = calloc(rs[0]->elements / 2 + 1, sizeof(*out->prog)))) {
                err = RW_ERR_NOMEM;
                goto done;
        }
        rw_bs_parse_prog(rs[0], out);
        rw_bs_parse_agg(rs[1], out);
        if (bs->tot_ok && bs->tot_last != (out->have_last ? out->last : INT64_MIN))
                bs->tot_ok = 0;         /* decided elsewhere, or Redis lost writes */
        if (with_fps && rs[2]->elements) {
                if (!(out->fps = calloc(rs[2]->elements / 2, sizeof(*out->fps)))) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                for (size_t j = 0; j + 1 < rs[2]->elements; j += 2) {
                        rw_bstore_fp_t *e = &out->fps[out->fp_cnt];
                        if (!(e->fingerprint = strdup(rs[2]->element[j]->str))) {
                                err = RW_ERR_NOMEM;
                                goto done;
                        }
                        rw_fp_state_parse(rs[2]->element[j + 1]->str, &e->fp);
                        out->fp_cnt++;
                }
        }
done:
        if (err == RW_ERR_NOMEM)
                snprintf(errstr, errstr_size, "out of memory");
        if (err)
                rw_bstore_head_clear(out);
        rw_bs_free(rs, n);
        return err;
}

rw_err_t rw_bstore_report(rw_bstore_t *bs, const char *topic, const rw_bstore_prog_t *v,
                          const int64_t *expected, size_t n,
                          char *errstr, size_t errstr_size) {
        rw_args_t a = { 0 };
        redisReply *r = NULL, **rs = NULL;
        redisContext *rc;
        size_t held = 0;
        rw_err_t err = RW_OK;

        if (!n)
                return RW_OK;
        /* The stored offsets, one GET each (each in its partition's slot). */
        if (!(rs = calloc(n, sizeof(*rs)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size))) {
                free(rs);
                return rw_state_conn_err(bs->st);
        }
        for (size_t i = 0; i < n && !err; i++) {
                char key[600];
                const char *get[2] = { "GET", key };
                snprintf(key, sizeof(key), "%s:{%d}:off:%s", rw_state_ns(bs->st),
                         (int)v[i].partition, topic);
                err = rw_bs_send(rc, 2, get, NULL, errstr, errstr_size);
        }
        if (err || (err = rw_bs_collect(bs, rc, n, rs, errstr, errstr_size)))
                goto done;
        rw_args_str(&a, "HSET");
        rw_args_fmt(&a, "%sprog", bs->pfx);
        for (size_t i = 0; i < n; i++) {
                /* Nothing stored yet (an empty partition) is held too. */
                if (rs[i]->type == REDIS_REPLY_NIL ? expected[i] >= 0 :
                    rs[i]->type != REDIS_REPLY_STRING ||
                    strtoll(rs[i]->str, NULL, 10) != expected[i])
                        continue;
                held++;
                rw_args_fmt(&a, "%d", (int)v[i].partition);
                rw_args_fmt(&a, "%" PRId64 ",%" PRId64 ",%" PRId64, v[i].watermark,
                            v[i].wall_ms, v[i].end_since);
        }
        if (a.oom) {
                snprintf(errstr, errstr_size, "out of memory");
                err = RW_ERR_NOMEM;
                goto done;
        }
        if (held && !(err = rw_bs_cmd(bs, (int)a.cnt, (const char **)a.v, a.len, &r, errstr,
                                      errstr_size)))
                err = rw_bs_check(r, REDIS_REPLY_INTEGER, "HSET prog", errstr, errstr_size);
done:
        if (r)
                freeReplyObject(r);
        rw_bs_free(rs, n);
        free(rs);
        rw_args_free(&a);
        return err;
}

void rw_bstore_head_clear(rw_bstore_head_t *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->fp_cnt; i++)
                free(h->fps[i].fingerprint);
        free(h->fps);
        free(h->prog);
        memset(h, 0, sizeof(*h));
}

static void rw_bs_pkey(const rw_bstore_t *bs, char *buf, size_t size, int32_t p,
                       const char *what) {
        snprintf(buf, size, "%s:{%d}:%s", rw_state_ns(bs->st), (int)p, what);
}

/* The key of partition p's interval bucket k of family fam: its hash
 * (pb:F:K), an earlier version's string (pbs:F:K) or its chunk's (k being
 * the chunk: pbc:F:C). */
static void rw_bs_bucket_key(const rw_bstore_t *bs, char *buf, size_t size, int32_t p,
                             rw_pbk_t what, int fam, int64_t k) {
        rw_state_interval_key(buf, size, rw_state_ns(bs->st), p, what, rw_fam[fam][0], k);
}

/* Queue the reads of interval k's fold copy of family fam: its string
 * fc:F:<k>, then the hash fold:F:<k> earlier versions stored (two replies,
 * for rw_bs_fold_copy()). */
static rw_err_t rw_bs_send_fold_copy(const rw_bstore_t *bs, redisContext *rc, int fam,
                                     int64_t k, char *errstr, size_t errstr_size) {
        char key[256], old[256];
        const char *get[2] = { "GET", key }, *hga[2] = { "HGETALL", old };
        rw_err_t err;

        snprintf(key, sizeof(key), "%sfc:%s:%" PRId64, bs->pfx, rw_fam[fam], k);
        snprintf(old, sizeof(old), "%sfold:%s:%" PRId64, bs->pfx, rw_fam[fam], k);
        if (!(err = rw_bs_send(rc, 2, get, NULL, errstr, errstr_size)))
                err = rw_bs_send(rc, 2, hga, NULL, errstr, errstr_size);
        return err;
}

/* Interval k's fold copy of family fam into h, from the two replies of
 * rw_bs_send_fold_copy() (checked by the caller): the string when there is
 * one, else the hash. RW_ERR_NOMEM, or RW_ERR_FAIL (errstr) for a string
 * that is not a fold copy. */
static rw_err_t rw_bs_fold_copy(const rw_bstore_t *bs, const redisReply *str,
                                const redisReply *hash, int fam, int64_t k,
                                rw_bstore_hash_t *h, char *errstr, size_t errstr_size) {
        int rc;

        if (str->type != REDIS_REPLY_STRING)
                return rw_bs_hash(hash, h) ? RW_ERR_NOMEM : RW_OK;
        if ((rc = rw_bstore_fold_decode(str->str, str->len, h)) == -1)
                return RW_ERR_NOMEM;
        if (rc) {
                snprintf(errstr, errstr_size, "redis: %sfc:%s:%" PRId64 ": not a fold copy",
                         bs->pfx, rw_fam[fam], k);
                return RW_ERR_FAIL;
        }
        return RW_OK;
}

static rw_err_t rw_bs_load_totals(rw_bstore_t *bs, char *errstr, size_t errstr_size);

rw_err_t rw_bstore_subjects(rw_bstore_t *bs, int64_t cnt[2], char *errstr,
                            size_t errstr_size) {
        rw_err_t err;

        if (!bs->tot_ok && (err = rw_bs_load_totals(bs, errstr, errstr_size)))
                return err;
        for (int fam = 0; fam < 2; fam++)
                cnt[fam] = (int64_t)rw_i64map_cnt(bs->tot[fam]);
        return RW_OK;
}

rw_err_t rw_bstore_gaps(rw_bstore_t *bs, const char *topic, int32_t parts,
                        rw_input_gaps_t *gaps, char *errstr, size_t errstr_size) {
        redisReply **rs;
        redisContext *rc;
        rw_err_t err = RW_OK;

        if (parts <= 0)
                return RW_OK;
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        if (!(rs = calloc((size_t)parts, sizeof(*rs)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        for (int32_t p = 0; p < parts && !err; p++) {
                char key[512], what[300];
                const char *argv[2] = { "GET", key };
                snprintf(what, sizeof(what), "gaps:%s", topic);
                rw_bs_pkey(bs, key, sizeof(key), p, what);
                err = rw_bs_send(rc, 2, argv, NULL, errstr, errstr_size);
        }
        if (err || (err = rw_bs_collect(bs, rc, (size_t)parts, rs, errstr, errstr_size)))
                goto done;
        for (int32_t p = 0; p < parts && !err; p++) {
                if ((err = rw_bs_check(rs[p], -1, "GET gaps", errstr, errstr_size)))
                        break;
                rw_input_gaps_parse(rs[p]->type == REDIS_REPLY_STRING ? rs[p]->str : "",
                                    &gaps[p]);
        }
done:
        rw_bs_free(rs, (size_t)parts);
        free(rs);
        return err;
}

rw_err_t rw_bstore_first(rw_bstore_t *bs, int32_t parts, int64_t *kminp, int *foundp,
                         char *errstr, size_t errstr_size) {
        redisReply **rs;
        redisContext *rc;
        rw_err_t err = RW_OK;

        *foundp = 0;
        *kminp = INT64_MAX;
        if (parts <= 0)
                return RW_OK;
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        if (!(rs = calloc((size_t)parts, sizeof(*rs)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        for (int32_t p = 0; p < parts && !err; p++) {
                char key[256];
                const char *argv[2] = { "GET", key };
                rw_bs_pkey(bs, key, sizeof(key), p, "pb:first");
                err = rw_bs_send(rc, 2, argv, NULL, errstr, errstr_size);
        }
        if (err || (err = rw_bs_collect(bs, rc, (size_t)parts, rs, errstr, errstr_size)))
                goto done;
        for (int32_t p = 0; p < parts && !err; p++) {
                if ((err = rw_bs_check(rs[p], -1, "GET pb:first", errstr, errstr_size)))
                        break;
                if (rs[p]->type == REDIS_REPLY_STRING && rw_reply_i64(rs[p]) < *kminp) {
                        *kminp = rw_reply_i64(rs[p]);
                        *foundp = 1;
                }
        }
done:
        rw_bs_free(rs, (size_t)parts);
        free(rs);
        return err;
}

/* Whether interval k of partition p may have a string an earlier version
 * stored (pbs:F:K): below the partition's pbc:since, or when that is not
 * known. */
static int rw_bs_old_str(const rw_bstore_t *bs, int32_t p, int64_t k) {
        return p >= bs->since_cnt || bs->since[p] == INT64_MIN || k < bs->since[p];
}

/* Queue the DELs of the folded buckets del_k0.. of every partition: one per
 * partition (its keys share a hash slot); *np counts them. Each interval's
 * hash and (where one may be) its old string; each chunk whose last
 * interval is among them, and the one before (a DEL cut short by an outage
 * is not tried again). */
static rw_err_t rw_bs_send_dels(rw_bstore_t *bs, redisContext *rc, int32_t parts,
                                int64_t del_k0, size_t del_cnt, size_t *np,
                                char *errstr, size_t errstr_size) {
        int64_t c0 = rw_pb_chunk(del_k0) - 1,
                c1 = rw_pb_chunk(del_k0 + (int64_t)del_cnt) - 1;
        size_t n = del_cnt * 4 + (c1 >= c0 ? (size_t)(c1 - c0 + 1) * 2 : 0);
        const char **argv;
        char (*keys)[256];
        rw_err_t err = RW_OK;

        if (!del_cnt)
                return RW_OK;
        if (!(argv = calloc(n + 1, sizeof(*argv))) || !(keys = calloc(n, sizeof(*keys)))) {
                free(argv);
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        argv[0] = "DEL";
        for (int32_t p = 0; p < parts && !err; p++) {
                size_t argc = 1;
                for (size_t i = 0; i < del_cnt; i++)
                        for (int fam = 0; fam < 4; fam++) {
                                int64_t k = del_k0 + (int64_t)i;
                                if (!rw_bs_old_str(bs, p, k))
                                        continue;       /* chunked, hash indexed */
                                rw_bs_bucket_key(bs, keys[argc - 1], sizeof(keys[0]), p,
                                                 fam >= 2 ? RW_PBK_STR : RW_PBK_HASH, fam % 2,
                                                 k);
                                argv[argc] = keys[argc - 1];
                                argc++;
                        }
                for (int64_t c = c0; c <= c1; c++)
                        for (int fam = 0; fam < 2; fam++, argc++) {
                                rw_bs_bucket_key(bs, keys[argc - 1], sizeof(keys[0]), p,
                                                 RW_PBK_CHUNK, fam, c);
                                argv[argc] = keys[argc - 1];
                        }
                err = rw_bs_send(rc, (int)argc, argv, NULL, errstr, errstr_size);
                (*np)++;
        }
        free(argv);
        free(keys);
        return err;
}

/* Decode the sections of chunk c's string (s, len) of partition p, family
 * fam, into the buckets of the run's intervals k0 .. k0+cnt-1 (out's
 * layout). 0, -1 when out of memory, -2 when it is not a chunk or holds an
 * interval twice. */
static int rw_bs_chunk(const char *s, size_t len, int64_t c, int32_t p, int fam,
                       int64_t k0, rw_bstore_buckets_t *out) {
        const unsigned char *q = (const unsigned char *)s, *end = q + len;

        while (q < end) {
                uint64_t off, bl;
                int64_t k;
                size_t i;
                rw_bstore_hash_t *h;
                int rc;

                if (rw_uvarint_get(&q, end, &off) || off >= RW_PB_CHUNK ||
                    rw_uvarint_get(&q, end, &bl) || bl > (uint64_t)(end - q))
                        return -2;
                k = c * RW_PB_CHUNK + (int64_t)off;
                if (k < k0 || k >= k0 + (int64_t)out->cnt) {
                        q += bl;
                        continue;       /* decided already, or a later run's */
                }
                i = ((size_t)(k - k0) * (size_t)out->parts + (size_t)p) * 2 + (size_t)fam;
                h = &out->bucket[i];
                if (h->cnt || h->names)
                        return -2;
                if ((rc = rw_bstore_fold_decode((const char *)q, (size_t)bl, h)))
                        return rc;
                if (!h->names)  /* empty: marked as seen all the same */
                        h->names = malloc(1);
                if (!h->names)
                        return -1;
                q += bl;
        }
        return 0;
}

/* The second round trip of a run's read: HGETALL of the hashes the
 * index (pbh:F, replies rs[zix[p * 2 + fam]]) lists in the run (*h2p[b]:
 * the reply of bucket b's, SIZE_MAX for none), DEL and ZREM of those it
 * lists below it (folded; best effort). *rs2p holds *n2p replies. */
static rw_err_t rw_bs_read_indexed(rw_bstore_t *bs, redisContext *rc, int32_t parts,
                                   int64_t k0, size_t cnt, redisReply **rs,
                                   const size_t *zix, redisReply ***rs2p, size_t *n2p,
                                   size_t **h2p, char *errstr, size_t errstr_size) {
        size_t nb = cnt * (size_t)parts * 2, n = 0, *h2;
        rw_err_t err = RW_OK;

        if (!(h2 = malloc((nb + 1) * sizeof(*h2)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        *h2p = h2;
        for (size_t b = 0; b < nb; b++)
                h2[b] = SIZE_MAX;
        for (int32_t p = 0; p < parts && !err; p++)
                for (int fam = 0; fam < 2 && !err; fam++) {
                        const redisReply *z = zix[p * 2 + fam] != SIZE_MAX ?
                                              rs[zix[p * 2 + fam]] : NULL;
                        char hkey[256];
                        rw_bs_pkey(bs, hkey, sizeof(hkey), p, fam ? "pbh:v" : "pbh:a");
                        for (size_t e = 0; z && e < z->elements && !err; e++) {
                                int64_t k = rw_reply_i64(z->element[e]);
                                char key[256];
                                const char *hga[2] = { "HGETALL", key };
                                const char *del[2] = { "DEL", key };
                                const char *zrem[3] = { "ZREM", hkey, z->element[e]->str };
                                size_t b;
                                if (z->element[e]->type != REDIS_REPLY_STRING ||
                                    k >= k0 + (int64_t)cnt ||
                                    (k >= k0 && rw_bs_old_str(bs, p, k)))
                                        continue;       /* a later run's; read blind */
                                rw_bs_bucket_key(bs, key, sizeof(key), p, RW_PBK_HASH, fam, k);
                                if (k >= k0) {
                                        b = ((size_t)(k - k0) * (size_t)parts + (size_t)p) * 2 +
                                            (size_t)fam;
                                        err = rw_bs_send(rc, 2, hga, NULL, errstr, errstr_size);
                                        h2[b] = n++;
                                        continue;
                                }
                                err = rw_bs_send(rc, 2, del, NULL, errstr, errstr_size);
                                if (!err)
                                        err = rw_bs_send(rc, 3, zrem, NULL, errstr,
                                                         errstr_size);
                                n += 2;
                        }
                }
        if (err || !n)
                return err;
        if (!(*rs2p = calloc(n, sizeof(**rs2p)))) {
                if (!(err = rw_bs_skip(bs, rc, n, errstr, errstr_size)))
                        snprintf(errstr, errstr_size, "out of memory");
                return err ? err : RW_ERR_NOMEM;
        }
        if ((err = rw_bs_collect(bs, rc, n, *rs2p, errstr, errstr_size)))
                return err;
        *n2p = n;
        for (size_t b = 0; b < nb && !err; b++)
                if (h2[b] != SIZE_MAX)
                        err = rw_bs_check((*rs2p)[h2[b]], REDIS_REPLY_ARRAY, "HGETALL", errstr,
                                          errstr_size);
        return err;
}

rw_err_t rw_bstore_read_buckets(rw_bstore_t *bs, int32_t parts, int64_t k0, size_t cnt,
                                int64_t leave0, int64_t leave_min,
                                int64_t del_k0, size_t del_cnt,
                                rw_bstore_buckets_t *out,
                                char *errstr, size_t errstr_size) {
        size_t nd = 0, nb = cnt * (size_t)parts * 2, nl = cnt * 2, n = 0, l0;
        /* Per partition: GET of its pbc:since while it is not known. Each
         * bucket: HGETALL of its hash (pb:), and GET of an earlier
         * version's string (pbs:) where one may be. Each chunk of the run's
         * intervals, per partition and family: GET of its string (pbc:).
         * Each leaving copy: GET of its string, HGETALL of the hash an
         * earlier version stored it as (empty unless it did). Nothing
         * leaves below the start of the history (leave_min): no copy is
         * read there, the first l0 of the nl stand empty. */
        const int64_t c0 = rw_pb_chunk(k0), c1 = rw_pb_chunk(k0 + (int64_t)cnt - 1);
        const size_t nc = cnt ? (size_t)(c1 - c0 + 1) : 0;
        size_t *hix = NULL, *six = NULL, *pix = NULL, *zix = NULL, cix = 0, lix = 0;
        redisReply **rs2 = NULL;
        size_t n2 = 0, *h2 = NULL;
        redisReply **rs = NULL;
        redisContext *rc;
        rw_err_t err = RW_OK;

        memset(out, 0, sizeof(*out));
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        out->cnt = cnt;
        out->parts = parts;
        if (parts > bs->since_cnt) {
                int64_t *ns = realloc(bs->since, (size_t)parts * sizeof(*ns));
                if (!ns) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return RW_ERR_NOMEM;
                }
                for (int32_t p = bs->since_cnt; p < parts; p++)
                        ns[p] = INT64_MIN;
                bs->since = ns;
                bs->since_cnt = parts;
        }
        if ((err = rw_bs_send_dels(bs, rc, parts, del_k0, del_cnt, &nd, errstr, errstr_size)))
                return err;
        n = nd;
        l0 = leave_min <= leave0 ? 0
             : leave_min - leave0 >= (int64_t)cnt ? nl : (size_t)(leave_min - leave0) * 2;
        if (!(hix = calloc(nb + 1, sizeof(*hix))) || !(six = calloc(nb + 1, sizeof(*six))) ||
            !(pix = calloc((size_t)parts + 1, sizeof(*pix))) ||
            !(zix = calloc((size_t)parts * 2 + 1, sizeof(*zix))) ||
            !(out->bucket = calloc(nb + 1, sizeof(*out->bucket))) ||
            !(out->leaving = calloc(nl + 1, sizeof(*out->leaving)))) {
                err = RW_ERR_NOMEM;
                goto done;
        }
        for (int32_t p = 0; p < parts && !err; p++) {
                char key[256];
                const char *get[2] = { "GET", key };
                pix[p] = SIZE_MAX;
                if (bs->since[p] != INT64_MIN)
                        continue;
                rw_bs_pkey(bs, key, sizeof(key), p, "pbc:since");
                err = rw_bs_send(rc, 2, get, NULL, errstr, errstr_size);
                pix[p] = n++;
        }
        for (size_t i = 0; i < cnt && !err; i++)
                for (int32_t p = 0; p < parts && !err; p++)
                        for (int fam = 0; fam < 2 && !err; fam++) {
                                size_t b = (i * (size_t)parts + (size_t)p) * 2 + (size_t)fam;
                                int64_t k = k0 + (int64_t)i;
                                char key[256], skey[256];
                                const char *argv[2] = { "HGETALL", key };
                                const char *get[2] = { "GET", skey };
                                hix[b] = six[b] = SIZE_MAX;
                                if (!rw_bs_old_str(bs, p, k))
                                        continue;       /* its hash is indexed (pbh:) */
                                rw_bs_bucket_key(bs, key, sizeof(key), p, RW_PBK_HASH, fam, k);
                                err = rw_bs_send(rc, 2, argv, NULL, errstr, errstr_size);
                                hix[b] = n++;
                                if (err)
                                        continue;
                                rw_bs_bucket_key(bs, skey, sizeof(skey), p, RW_PBK_STR, fam, k);
                                err = rw_bs_send(rc, 2, get, NULL, errstr, errstr_size);
                                six[b] = n++;
                        }
        cix = n;
        for (int32_t p = 0; p < parts && !err; p++)
                for (int fam = 0; fam < 2 && !err; fam++)
                        for (size_t c = 0; c < nc && !err; c++) {
                                char key[256];
                                const char *get[2] = { "GET", key };
                                rw_bs_bucket_key(bs, key, sizeof(key), p, RW_PBK_CHUNK, fam,
                                                 c0 + (int64_t)c);
                                err = rw_bs_send(rc, 2, get, NULL, errstr, errstr_size);
                                n++;
                        }
        /* The intervals with a hash, up to the run's last: the run's to
         * read, those below it folded already (left by a DEL cut short or
         * by the deletes at the end of a pass, which do not read the
         * index), to delete. */
        for (int32_t p = 0; p < parts && !err; p++)
                for (int fam = 0; fam < 2 && !err; fam++) {
                        char key[256], hi[24];
                        const char *zr[4] = { "ZRANGEBYSCORE", key, "-inf", hi };
                        zix[p * 2 + fam] = SIZE_MAX;
                        if (bs->since[p] == INT64_MIN)
                                continue;
                        rw_bs_pkey(bs, key, sizeof(key), p, fam ? "pbh:v" : "pbh:a");
                        snprintf(hi, sizeof(hi), "%" PRId64, k0 + (int64_t)cnt - 1);
                        err = rw_bs_send(rc, 4, zr, NULL, errstr, errstr_size);
                        zix[p * 2 + fam] = n++;
                }
        lix = n;
        for (size_t i = l0 / 2; i < cnt && !err; i++)
                for (int fam = 0; fam < 2 && !err; fam++) {
                        err = rw_bs_send_fold_copy(bs, rc, fam, leave0 + (int64_t)i, errstr,
                                                   errstr_size);
                        n += 2;
                }
        if (err)
                goto done;
        if (!(rs = calloc(n + 1, sizeof(*rs)))) {
                if (!(err = rw_bs_skip(bs, rc, n, errstr, errstr_size)))
                        err = RW_ERR_NOMEM;
                goto done;
        }
        if ((err = rw_bs_collect(bs, rc, n, rs, errstr, errstr_size)))
                goto done;
        /* The DELs are best effort; the reads are not. */
        for (int32_t p = 0; p < parts && !err; p++)
                if (pix[p] != SIZE_MAX &&
                    !(err = rw_bs_check(rs[pix[p]], -1, "GET pbc:since", errstr,
                                        errstr_size)) &&
                    rs[pix[p]]->type == REDIS_REPLY_STRING)
                        bs->since[p] = rw_reply_i64(rs[pix[p]]);
        for (size_t i = 0; i < nb && !err; i++)
                if ((hix[i] == SIZE_MAX ||
                     !(err = rw_bs_check(rs[hix[i]], REDIS_REPLY_ARRAY, "HGETALL", errstr,
                                         errstr_size))) && six[i] != SIZE_MAX)
                        err = rw_bs_check(rs[six[i]], -1, "GET", errstr, errstr_size);
        for (size_t z = 0; z < (size_t)parts * 2 && !err; z++)
                if (zix[z] != SIZE_MAX)
                        err = rw_bs_check(rs[zix[z]], REDIS_REPLY_ARRAY, "ZRANGEBYSCORE pbh",
                                          errstr, errstr_size);
        if (!err)
                err = rw_bs_read_indexed(bs, rc, parts, k0, cnt, rs, zix, &rs2, &n2, &h2,
                                         errstr, errstr_size);
        for (size_t i = cix; i < lix && !err; i++)
                err = rw_bs_check(rs[i], -1, "GET", errstr, errstr_size);
        for (size_t i = l0; i < nl && !err; i++)
                if (!(err = rw_bs_check(rs[lix + 2 * (i - l0)], -1, "GET fold copy",
                                        errstr, errstr_size)))
                        err = rw_bs_check(rs[lix + 2 * (i - l0) + 1], REDIS_REPLY_ARRAY,
                                          "HGETALL fold copy", errstr, errstr_size);
        /* The chunks first, then the strings of earlier versions, then what
         * later batches added (the hashes). */
        for (size_t x = cix; x < lix && !err; x++) {
                size_t y = x - cix;
                int32_t p = (int32_t)(y / (2 * nc));
                int fam = (int)(y / nc % 2);
                int64_t c = c0 + (int64_t)(y % nc);
                int rc2;
                if (rs[x]->type != REDIS_REPLY_STRING)
                        continue;
                if ((rc2 = rw_bs_chunk(rs[x]->str, rs[x]->len, c, p, fam, k0, out)) == -1) {
                        err = RW_ERR_NOMEM;
                } else if (rc2) {
                        char key[256];
                        rw_bs_bucket_key(bs, key, sizeof(key), p, RW_PBK_CHUNK, fam, c);
                        snprintf(errstr, errstr_size, "redis: %s: not a chunk of interval "
                                 "buckets", key);
                        err = RW_ERR_FAIL;
                }
        }
        for (size_t i = 0; i < nb && !err; i++) {
                rw_bstore_hash_t *h = &out->bucket[i];
                const redisReply *str = six[i] != SIZE_MAX ? rs[six[i]] : NULL;
                int rc2 = 0;
                if (str && str->type == REDIS_REPLY_STRING) {
                        if (h->cnt || h->names)
                                rc2 = -3;       /* in a chunk too */
                        else
                                rc2 = rw_bstore_fold_decode(str->str, str->len, h);
                }
                if (!rc2 && hix[i] != SIZE_MAX && rw_bs_hash_add(rs[hix[i]], h))
                        rc2 = -1;
                if (!rc2 && h2[i] != SIZE_MAX && rw_bs_hash_add(rs2[h2[i]], h))
                        rc2 = -1;
                if (rc2 == -1) {
                        err = RW_ERR_NOMEM;
                } else if (rc2) {
                        /* bucket[(k * parts + p) * 2 + fam] */
                        size_t kp = i / 2;
                        char key[256];
                        rw_bs_bucket_key(bs, key, sizeof(key), (int32_t)(kp % (size_t)parts),
                                         RW_PBK_STR, (int)(i % 2),
                                         k0 + (int64_t)(kp / (size_t)parts));
                        snprintf(errstr, errstr_size, "redis: %s: %s", key, rc2 == -3 ?
                                 "an interval its chunk holds too" : "not an interval bucket");
                        err = RW_ERR_FAIL;
                }
        }
        for (size_t i = l0; i < nl && !err; i++)
                err = rw_bs_fold_copy(bs, rs[lix + 2 * (i - l0)], rs[lix + 2 * (i - l0) + 1],
                                      (int)(i % 2), leave0 + (int64_t)(i / 2),
                                      &out->leaving[i], errstr, errstr_size);
done:
        if (err == RW_ERR_NOMEM)
                snprintf(errstr, errstr_size, "out of memory");
        if (err)
                rw_bstore_buckets_clear(out);
        if (rs)
                rw_bs_free(rs, n);
        free(rs);
        if (rs2)
                rw_bs_free(rs2, n2);
        free(rs2);
        free(h2);
        free(hix);
        free(six);
        free(pix);
        free(zix);
        return err;
}

void rw_bstore_buckets_clear(rw_bstore_buckets_t *b) {
        if (!b)
                return;
        for (size_t i = 0; b->bucket && i < b->cnt * (size_t)b->parts * 2; i++)
                rw_bstore_hash_clear(&b->bucket[i]);
        for (size_t i = 0; b->leaving && i < b->cnt * 2; i++)
                rw_bstore_hash_clear(&b->leaving[i]);
        free(b->bucket);
        free(b->leaving);
        memset(b, 0, sizeof(*b));
}

rw_err_t rw_bstore_delete_buckets(rw_bstore_t *bs, int32_t parts, int64_t del_k0,
                                  size_t del_cnt, char *errstr, size_t errstr_size) {
        redisReply **rs;
        redisContext *rc;
        size_t n = 0;
        rw_err_t err;

        if (!del_cnt || parts <= 0)
                return RW_OK;
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        if ((err = rw_bs_send_dels(bs, rc, parts, del_k0, del_cnt, &n, errstr, errstr_size)))
                return err;
        if (!(rs = calloc(n, sizeof(*rs))))
                return rw_bs_skip(bs, rc, n, errstr, errstr_size);
        err = rw_bs_collect(bs, rc, n, rs, errstr, errstr_size);
        rw_bs_free(rs, n);
        free(rs);
        return err;
}

/* Add the fold copy h (the empty subject, the orders count, aside) to the
 * totals m. -1 when out of memory. */
static int rw_bs_totals_add(rw_i64map_t *m, const rw_bstore_hash_t *h) {
        for (size_t j = 0; j < h->cnt; j++) {
                const rw_bstore_pair_t *e = &h->v[j];
                int64_t v = 0;
                if (!e->len || !e->value)
                        continue;
                (void)rw_i64map_get(m, e->subject, e->len, &v);
                v += e->value;
                if (!v)
                        rw_i64map_del(m, e->subject, e->len);
                else if (rw_i64map_set(m, e->subject, e->len, v))
                        return -1;
        }
        return 0;
}

/* The window's totals as of agg.last, into bs's copy: the sum of the fold
 * copies of the intervals the window holds after last (last/I - nwin ..
 * last/I - 1), each a string fc:F:<k> or an earlier version's hash
 * fold:F:<k>. They are not stored beside the copies: the copies are what
 * leaves the window, so a stored total is only ever their sum, and writing
 * it again per boundary cost Redis more than everything else the decider
 * stores. last decides which copies to read, so it is read first, then
 * again in the same MULTI as the copies: a different answer (another
 * decider moved on meanwhile) reads again. */
#define RW_BS_LOAD_TRIES 8
static rw_err_t rw_bs_load_totals(rw_bstore_t *bs, char *errstr, size_t errstr_size) {
        char agg[256];
        const char *multi[1] = { "MULTI" }, *exec[1] = { "EXEC" },
                   *hlast[3] = { "HGET", agg, "last" };
        redisReply **rs = NULL, *x;
        redisContext *rc;
        size_t n = 0;
        int have = 0;
        int64_t last = 0;
        rw_err_t err = RW_OK;

        bs->tot_ok = 0;
        if (bs->interval_ms <= 0 || bs->nwin <= 0) {
                snprintf(errstr, errstr_size, "boundary: the totals' window is not set");
                return RW_ERR_FAIL;
        }
        for (int fam = 0; fam < 2; fam++) {
                if (!bs->tot[fam] && !(bs->tot[fam] = rw_i64map_new()))
                        goto nomem;
                rw_i64map_clear(bs->tot[fam]);
        }
        snprintf(agg, sizeof(agg), "%sagg", bs->pfx);
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        if ((err = rw_bs_send(rc, 3, hlast, NULL, errstr, errstr_size)) ||
            (err = rw_bs_collect(bs, rc, 1, &x, errstr, errstr_size)))
                return err;
        if (!(err = rw_bs_check(x, -1, "HGET agg last", errstr, errstr_size)) &&
            (have = x->type == REDIS_REPLY_STRING))
                last = strtoll(x->str, NULL, 10);
        freeReplyObject(x);
        if (err)
                return err;
        for (int tries = 0;; tries++) {
                /* Intervals of the window: (k1 - nwin, k1]. */
                int64_t k1 = have ? last / bs->interval_ms - 1 : 0;
                size_t nk = have ? (size_t)bs->nwin : 0, got;
                int64_t now_last = 0;
                int now_have;

                n = 3 + nk * 4;
                if (!(rs = calloc(n, sizeof(*rs))))
                        goto nomem;
                if (bs->load_hook)
                        bs->load_hook(bs->load_opaque);
                if ((err = rw_bs_send(rc, 1, multi, NULL, errstr, errstr_size)) ||
                    (err = rw_bs_send(rc, 3, hlast, NULL, errstr, errstr_size)))
                        goto done;
                for (size_t i = 0; i < nk && !err; i++)
                        for (int fam = 0; fam < 2 && !err; fam++)
                                err = rw_bs_send_fold_copy(bs, rc, fam, k1 - (int64_t)i, errstr,
                                                           errstr_size);
                if (err || (err = rw_bs_send(rc, 1, exec, NULL, errstr, errstr_size)) ||
                    (err = rw_bs_collect(bs, rc, n, rs, errstr, errstr_size)))
                        goto done;
                x = rs[n - 1];
                if ((err = rw_bs_check(x, REDIS_REPLY_ARRAY, "reading the fold copies",
                                       errstr, errstr_size)))
                        goto done;
                got = x->elements;
                if (got != 1 + nk * 4 || (x->element[0]->type != REDIS_REPLY_STRING &&
                                          x->element[0]->type != REDIS_REPLY_NIL)) {
                        snprintf(errstr, errstr_size,
                                 "redis: reading the fold copies: unexpected reply");
                        err = RW_ERR_FAIL;
                        goto done;
                }
                now_have = x->element[0]->type == REDIS_REPLY_STRING;
                if (now_have)
                        now_last = strtoll(x->element[0]->str, NULL, 10);
                if (now_have != have || now_last != last) {
                        /* Decided on meanwhile: the window moved. */
                        have = now_have;
                        last = now_last;
                        rw_bs_free(rs, n);
                        free(rs);
                        rs = NULL;
                        if (tries + 1 < RW_BS_LOAD_TRIES)
                                continue;
                        snprintf(errstr, errstr_size, "boundary: the decided boundary "
                                 "moved on at each of %d reads of the totals",
                                 RW_BS_LOAD_TRIES);
                        return RW_ERR_IO;
                }
                for (size_t i = 0; i < nk * 2 && !err; i++) {
                        const redisReply *str = x->element[1 + i * 2],
                                         *hash = x->element[2 + i * 2];
                        rw_bstore_hash_t h = { 0 };
                        int fam = (int)(i % 2);
                        if ((err = rw_bs_check(str, -1, "GET fold copy", errstr,
                                               errstr_size)) ||
                            (err = rw_bs_check(hash, REDIS_REPLY_ARRAY, "HGETALL fold copy",
                                               errstr, errstr_size)))
                                break;
                        if (!(err = rw_bs_fold_copy(bs, str, hash, fam, k1 - (int64_t)(i / 2),
                                                    &h, errstr, errstr_size)) &&
                            rw_bs_totals_add(bs->tot[fam], &h))
                                err = RW_ERR_NOMEM;
                        rw_bstore_hash_clear(&h);
                        if (err == RW_ERR_NOMEM)
                                goto nomem;
                }
                if (!err) {
                        bs->tot_last = have ? last : INT64_MIN;
                        bs->tot_ok = 1;
                }
                goto done;
        }
nomem:
        snprintf(errstr, errstr_size, "out of memory");
        err = RW_ERR_NOMEM;
done:
        if (rs) {
                rw_bs_free(rs, n);
                free(rs);
        }
        return err;
}

/* ZRANGEBYSCORE's order: score, then the subject's bytes. */
static int rw_bs_scored_cmp(const void *a, const void *b) {
        const rw_bstore_scored_t *x = a, *y = b;
        int c;
        if (x->score != y->score)
                return x->score < y->score ? -1 : 1;
        c = memcmp(x->subject, y->subject, x->len < y->len ? x->len : y->len);
        return c ? c : x->len < y->len ? -1 : x->len > y->len;
}

rw_err_t rw_bstore_read_totals(rw_bstore_t *bs, rw_bstore_totals_t q[2],
                               char *errstr, size_t errstr_size) {
        rw_err_t err;

        for (int fam = 0; fam < 2; fam++) {
                q[fam].range = NULL;
                q[fam].range_cnt = 0;
        }
        if (!bs->tot_ok && (err = rw_bs_load_totals(bs, errstr, errstr_size)))
                return err;
        for (int fam = 0; fam < 2; fam++) {
                const rw_i64map_t *m = bs->tot[fam];
                for (size_t e = 0; e < q[fam].cnt; e++) {
                        int64_t v;
                        q[fam].values[e] = rw_i64map_get(m, q[fam].subjects[e],
                                                         strlen(q[fam].subjects[e]), &v) ? v : 0;
                }
                if (q[fam].want_range) {
                        /* As the sorted set answered it: scores as doubles, the
                         * bound rounded to an integer, inclusive. */
                        char num[48];
                        const char *key;
                        size_t it = 0, len, n = 0;
                        double lo;
                        int64_t v;
                        snprintf(num, sizeof(num), "%.0f", q[fam].lo);
                        lo = strtod(num, NULL);
                        while (rw_i64map_next(m, &it, &key, &len, &v))
                                n += (double)v >= lo;
                        if (n && !(q[fam].range = calloc(n, sizeof(*q[fam].range))))
                                goto nomem;
                        for (it = 0; rw_i64map_next(m, &it, &key, &len, &v); ) {
                                rw_bstore_scored_t *z;
                                if ((double)v < lo)
                                        continue;
                                z = &q[fam].range[q[fam].range_cnt];
                                if (!(z->subject = strndup(key, len)))
                                        goto nomem;
                                z->len = len;
                                z->score = (double)v;
                                q[fam].range_cnt++;
                        }
                        if (q[fam].range_cnt)
                                qsort(q[fam].range, q[fam].range_cnt,
                                      sizeof(*q[fam].range), rw_bs_scored_cmp);
                }
        }
        return RW_OK;
nomem:
        rw_bstore_totals_clear(q);
        snprintf(errstr, errstr_size, "out of memory");
        return RW_ERR_NOMEM;
}

void rw_bstore_totals_clear(rw_bstore_totals_t q[2]) {
        for (int fam = 0; fam < 2; fam++)
                rw_bs_scored_clear(&q[fam].range, &q[fam].range_cnt);
}

/*
 * The boundary script.
 */

/* The script's arguments (layout in state/boundary.lua); NULL sha slot at
 * v[1], filled in by the caller. */
static void rw_bs_decision_args(const rw_bstore_t *bs, const rw_bstore_decision_t *d,
                                rw_args_t *a) {
        char num[64];

        rw_args_str(a, "EVALSHA");
        rw_args_str(a, "");
        rw_args_str(a, "1");
        rw_args_fmt(a, "%sagg", bs->pfx);
        rw_args_str(a, bs->pfx);
        if (d->have_expected)
                rw_args_i64(a, d->expected);
        else
                rw_args_str(a, "");
        rw_args_i64(a, d->last);
        rw_args_str(a, d->token);
        rw_args_i64(a, d->lock_ttl_ms);
        rw_args_i64(a, d->k0);
        rw_args_fmt(a, "%zu", d->kcnt);
        if (d->leave_lo <= d->leave_hi) {
                rw_args_i64(a, d->leave_lo);
                rw_args_i64(a, d->leave_hi);
        } else {
                rw_args_str(a, "");
                rw_args_str(a, "");
        }
        rw_args_str(a, "9");
        rw_args_str(a, "orders_since");
        rw_args_i64(a, d->orders_since);
        rw_args_str(a, "a:n");
        rw_args_i64(a, d->cnt[0]);
        rw_args_str(a, "v:n");
        rw_args_i64(a, d->cnt[1]);
        rw_args_str(a, "orders");
        rw_args_i64(a, d->orders);
        rw_args_str(a, "first");
        rw_args_i64(a, d->first);
        rw_args_str(a, "a:sum");
        rw_args_i64(a, d->sum[0]);
        rw_args_str(a, "v:sum");
        rw_args_i64(a, d->sum[1]);
        rw_u128_fmt(d->sq[0], num, sizeof(num));
        rw_args_str(a, "a:sq");
        rw_args_str(a, num);
        rw_u128_fmt(d->sq[1], num, sizeof(num));
        rw_args_str(a, "v:sq");
        rw_args_str(a, num);
        for (size_t i = 0; i < d->kcnt * 2; i++) {
                char *buf;
                size_t len;
                if (rw_bstore_fold_encode(&d->fold[i], &buf, &len)) {
                        a->oom = 1;
                        return;
                }
                rw_args_add(a, buf ? buf : "", len);
                free(buf);
        }
        rw_args_fmt(a, "%zu", d->fp_cnt);
        for (size_t e = 0; e < d->fp_cnt; e++) {
                rw_args_str(a, d->fps[e].fingerprint);
                if (!d->fps[e].fp) {
                        rw_args_str(a, "");
                } else {
                        char csv[RW_FP_CSV_SIZE];
                        rw_fp_state_format(d->fps[e].fp, csv, sizeof(csv));
                        rw_args_str(a, csv);
                }
        }
        rw_args_fmt(a, "%zu", d->alert_cnt);
        for (size_t e = 0; e < d->alert_cnt; e++)
                rw_args_add(a, d->alerts[e].buf, d->alerts[e].len);
}

rw_err_t rw_bstore_decide(rw_bstore_t *bs, const rw_bstore_decision_t *d,
                          char *errstr, size_t errstr_size) {
        rw_args_t a = { 0 };
        redisReply *r = NULL;
        rw_err_t err;

        rw_bs_decision_args(bs, d, &a);
        if (a.oom) {
                err = RW_ERR_NOMEM;
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (int attempt = 0;; attempt++) {
                if (!bs->sha[0]) {
                        const char *argv[3] = { "SCRIPT", "LOAD", rw_boundary_lua };
                        if ((err = rw_bs_cmd(bs, 3, argv, NULL, &r, errstr, errstr_size)))
                                goto done;
                        if ((err = rw_bs_check(r, REDIS_REPLY_STRING, "SCRIPT LOAD", errstr,
                                               errstr_size)))
                                goto done;
                        if (r->len >= sizeof(bs->sha)) {
                                snprintf(errstr, errstr_size,
                                         "redis: SCRIPT LOAD: unexpected reply");
                                err = RW_ERR_FAIL;
                                goto done;
                        }
                        memcpy(bs->sha, r->str, r->len);
                        bs->sha[r->len] = '\0';
                        freeReplyObject(r);
                        r = NULL;
                }
                free(a.v[1]);
                if (!(a.v[1] = strdup(bs->sha))) {
                        err = RW_ERR_NOMEM;
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
                a.len[1] = strlen(bs->sha);
                if ((err = rw_bs_cmd(bs, (int)a.cnt, (const char **)a.v, a.len, &r, errstr,
                                     errstr_size)))
                        goto done;
                if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8) &&
                    attempt == 0) {
                        freeReplyObject(r);
                        r = NULL;
                        bs->sha[0] = '\0';
                        continue;
                }
                break;
        }
        if ((err = rw_bs_check(r, REDIS_REPLY_ARRAY, "boundary script", errstr, errstr_size)))
                goto done;
        if (!r->elements || r->element[0]->type != REDIS_REPLY_STRING) {
                snprintf(errstr, errstr_size, "redis: boundary script: unexpected reply");
                err = RW_ERR_FAIL;
        } else if (!strcmp(r->element[0]->str, "STALE")) {
                snprintf(errstr, errstr_size, "boundary: decided elsewhere (last is %s)",
                         r->elements > 1 && r->element[1]->type == REDIS_REPLY_STRING ?
                         r->element[1]->str : "?");
                err = RW_ERR_FENCED;
        } else if (bs->tot_ok) {
                /* Stored: the copy follows (0 removes, as in the script). */
                for (int fam = 0; fam < 2 && !err; fam++)
                        for (size_t e = 0; e < d->tot_cnt[fam]; e++) {
                                const rw_bstore_pair_t *t = &d->tot[fam][e];
                                if (!t->value)
                                        rw_i64map_del(bs->tot[fam], t->subject, t->len);
                                else if (rw_i64map_set(bs->tot[fam], t->subject, t->len,
                                                       t->value))
                                        bs->tot_ok = 0;
                        }
                bs->tot_last = d->last;
        }
done:
        if (err)
                bs->tot_ok = 0;         /* stored or not, another's or lost: read again */
        if (r)
                freeReplyObject(r);
        rw_args_free(&a);
        return err;
}

/*
 * The lock.
 */

rw_err_t rw_bstore_lock(rw_bstore_t *bs, const char *token, int64_t ttl_ms, int *heldp,
                        char *errstr, size_t errstr_size) {
        char key[256], ttl[32];
        const char *set[6] = { "SET", key, token, "NX", "PX", ttl };
        const char *get[2] = { "GET", key };
        const char *pexp[3] = { "PEXPIRE", key, ttl };
        redisReply *r = NULL;
        rw_err_t err;

        *heldp = 0;
        snprintf(key, sizeof(key), "%slock", bs->pfx);
        snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
        if ((err = rw_bs_cmd(bs, 6, set, NULL, &r, errstr, errstr_size)) ||
            (err = rw_bs_check(r, -1, "SET lock", errstr, errstr_size)))
                goto done;
        *heldp = r->type == REDIS_REPLY_STATUS;
        if (*heldp)
                goto done;
        freeReplyObject(r);
        if ((err = rw_bs_cmd(bs, 2, get, NULL, &r, errstr, errstr_size)) ||
            (err = rw_bs_check(r, -1, "GET lock", errstr, errstr_size)))
                goto done;
        *heldp = r->type == REDIS_REPLY_STRING && !strcmp(r->str, token);
        if (!*heldp)
                goto done;
        freeReplyObject(r);
        if ((err = rw_bs_cmd(bs, 3, pexp, NULL, &r, errstr, errstr_size)) ||
            (err = rw_bs_check(r, -1, "PEXPIRE lock", errstr, errstr_size)))
                *heldp = 0;
done:
        if (r)
                freeReplyObject(r);
        return err;
}

rw_err_t rw_bstore_unlock(rw_bstore_t *bs, const char *token,
                          char *errstr, size_t errstr_size) {
        static const char cad[] =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0";
        char key[256];
        const char *argv[5] = { "EVAL", cad, "1", key, token };
        redisReply *r = NULL;
        rw_err_t err;

        snprintf(key, sizeof(key), "%slock", bs->pfx);
        if (!(err = rw_bs_cmd(bs, 5, argv, NULL, &r, errstr, errstr_size)))
                err = rw_bs_check(r, -1, "unlock", errstr, errstr_size);
        if (r)
                freeReplyObject(r);
        return err;
}

/*
 * For people.
 */

/* Largest total first, ties by the subject's bytes, largest first (as ZRANGE
 * ... REV orders a sorted set). */
static int rw_bs_scored_rcmp(const void *a, const void *b) {
        return rw_bs_scored_cmp(b, a);
}

rw_err_t rw_bstore_top(rw_bstore_t *bs, size_t top, rw_bstore_top_t *out,
                       char *errstr, size_t errstr_size) {
        redisReply *rs[2] = { NULL, NULL };
        char f[256], ob[256];
        const char *rf[2] = { "HVALS", f };
        const char *rl[2] = { "LLEN", ob };
        redisContext *rc;
        rw_err_t err;

        memset(out, 0, sizeof(*out));
        if (!top)
                top = 1;
        if (!bs->tot_ok && (err = rw_bs_load_totals(bs, errstr, errstr_size)))
                return err;
        if (!(rc = rw_bs_conn(bs, errstr, errstr_size)))
                return rw_state_conn_err(bs->st);
        snprintf(f, sizeof(f), "%sf", bs->pfx);
        snprintf(ob, sizeof(ob), "%soutbox", bs->pfx);
        if ((err = rw_bs_send(rc, 2, rf, NULL, errstr, errstr_size)) ||
            (err = rw_bs_send(rc, 2, rl, NULL, errstr, errstr_size)) ||
            (err = rw_bs_collect(bs, rc, 2, rs, errstr, errstr_size)))
                return err;
        if ((err = rw_bs_check(rs[0], REDIS_REPLY_ARRAY, "HVALS", errstr, errstr_size)) ||
            (err = rw_bs_check(rs[1], REDIS_REPLY_INTEGER, "LLEN", errstr, errstr_size)))
                goto done;
        for (int fam = 0; fam < 2 && !err; fam++) {
                const rw_i64map_t *m = bs->tot[fam];
                size_t it = 0, n = rw_i64map_cnt(m), len;
                const char *key;
                int64_t v;
                if (!n)
                        continue;
                if (!(out->v[fam] = calloc(n, sizeof(*out->v[fam]))))
                        goto nomem;
                while (rw_i64map_next(m, &it, &key, &len, &v)) {
                        rw_bstore_scored_t *z = &out->v[fam][out->cnt[fam]];
                        if (!(z->subject = strndup(key, len)))
                                goto nomem;
                        z->len = len;
                        z->score = (double)v;
                        out->cnt[fam]++;
                }
                qsort(out->v[fam], out->cnt[fam], sizeof(*out->v[fam]), rw_bs_scored_rcmp);
                while (out->cnt[fam] > top)
                        free(out->v[fam][--out->cnt[fam]].subject);
        }
        for (size_t j = 0; j < rs[0]->elements; j++)
                out->firing += rs[0]->element[j]->type == REDIS_REPLY_STRING &&
                               rs[0]->element[j]->str[0] == '1';
        out->outbox = rs[1]->integer;
        goto done;
nomem:
        snprintf(errstr, errstr_size, "out of memory");
        err = RW_ERR_NOMEM;
done:
        if (err)
                rw_bstore_top_clear(out);
        rw_bs_free(rs, 2);
        return err;
}

void rw_bstore_top_clear(rw_bstore_top_t *t) {
        if (!t)
                return;
        for (int fam = 0; fam < 2; fam++)
                rw_bs_scored_clear(&t->v[fam], &t->cnt[fam]);
        t->firing = 0;
        t->outbox = 0;
}
