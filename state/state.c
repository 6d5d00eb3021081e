/* state.c - the Redis adapter: connection, script loading, batch apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>
#include "state/state.h"
#include "state/state_lua.h"   /* generated from state.lua: rw_state_lua[] */
#include "common/log.h"

struct rw_state_s {
        redisContext *rc;
        rw_redis_url_t url;
        int64_t timeout_ms;
        int64_t dedup_s;        /* dedup horizon, seconds (0 = off) */
        char ns[128];
        char sha[48];           /* SHA1 of the loaded batch script */
};

static void rw_state_disconnect(rw_state_t *st) {
        if (st->rc) {
                redisFree(st->rc);
                st->rc = NULL;
        }
}

/* Run a command that must not fail; fills errstr with Redis' reason. */
static redisReply *rw_state_cmd(rw_state_t *st, char *errstr, size_t errstr_size,
                                int argc, const char **argv, const size_t *lens) {
        redisReply *r = redisCommandArgv(st->rc, argc, argv, lens);
        if (!r) {
                snprintf(errstr, errstr_size, "redis: %s", st->rc->errstr);
                rw_state_disconnect(st);
                return NULL;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "redis: %s: %.*s", argv[0],
                         (int)r->len, r->str);
                freeReplyObject(r);
                return NULL;
        }
        return r;
}

void *rw_state_context(rw_state_t *st) {
        return st->rc;
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
                                 st->rc ? st->rc->errstr : "out of memory");
                else
                        snprintf(errstr, errstr_size, "redis: connect to %s:%d: %s",
                                 st->url.host, st->url.port,
                                 st->rc ? st->rc->errstr : "out of memory");
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
                        err = RW_ERR_CONFIG;
                        goto done;
                }
                freeReplyObject(r);
        }
        if (st->url.db) {
                const char *argv[] = { "SELECT", dbbuf };
                snprintf(dbbuf, sizeof(dbbuf), "%d", st->url.db);
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL))) {
                        err = RW_ERR_CONFIG;
                        goto done;
                }
                freeReplyObject(r);
        }
        {
                const char *argv[] = { "SCRIPT", "LOAD", rw_state_lua };
                if (!(r = rw_state_cmd(st, errstr, errstr_size, 3, argv, NULL)))
                        goto done;
                if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(st->sha)) {
                        snprintf(errstr, errstr_size, "redis: SCRIPT LOAD: unexpected reply");
                        freeReplyObject(r);
                        goto done;
                }
                memcpy(st->sha, r->str, r->len);
                st->sha[r->len] = '\0';
                freeReplyObject(r);
        }
        err = RW_OK;
done:
        if (err)
                rw_state_disconnect(st);
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
        st->dedup_s = rw_conf_get_int(conf, "dedup.horizon") / 1000;
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
        free(st);
}

static rw_err_t rw_state_ensure(rw_state_t *st, char *errstr, size_t errstr_size) {
        if (st->rc)
                return RW_OK;
        return rw_state_reconnect(st, errstr, errstr_size);
}

rw_err_t rw_state_get_position(rw_state_t *st, const char *topic,
                               int32_t partition, int64_t *offsetp,
                               int64_t *watermarkp,
                               char *errstr, size_t errstr_size) {
        char okey[512], wkey[512];
        const char *argv[3] = { "MGET", okey, wkey };
        redisReply *r;

        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        snprintf(okey, sizeof(okey), "%s:{%d}:off:%s", st->ns, (int)partition, topic);
        snprintf(wkey, sizeof(wkey), "%s:{%d}:wm:%s", st->ns, (int)partition, topic);
        if (!(r = rw_state_cmd(st, errstr, errstr_size, 3, argv, NULL)))
                return RW_ERR_IO;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                snprintf(errstr, errstr_size, "redis: MGET: unexpected reply");
                freeReplyObject(r);
                return RW_ERR_FAIL;
        }
        *offsetp = r->element[0]->type == REDIS_REPLY_STRING ?
                   strtoll(r->element[0]->str, NULL, 10) : -1;
        *watermarkp = r->element[1]->type == REDIS_REPLY_STRING ?
                      strtoll(r->element[1]->str, NULL, 10) : 0;
        freeReplyObject(r);
        return RW_OK;
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

void rw_apply_result_clear(rw_apply_result_t *res) {
        if (!res)
                return;
        for (size_t i = 0; i < res->account_cnt; i++)
                rw_account_view_clear(&res->accounts[i]);
        free(res->accounts);
        free(res->flags);
        memset(res, 0, sizeof(*res));
}

static int rw_account_cmp(const void *a, const void *b) {
        return strcmp(((const rw_account_view_t *)a)->account,
                      ((const rw_account_view_t *)b)->account);
}

rw_account_view_t *rw_apply_result_account(const rw_apply_result_t *res,
                                           const char *account) {
        rw_account_view_t key = { .account = (char *)account };
        if (!res->account_cnt)
                return NULL;
        return bsearch(&key, res->accounts, res->account_cnt,
                       sizeof(*res->accounts), rw_account_cmp);
}

static int64_t rw_reply_int(const redisReply *r) {
        if (r->type == REDIS_REPLY_INTEGER)
                return r->integer;
        if (r->type == REDIS_REPLY_STRING)
                return strtoll(r->str, NULL, 10);
        return 0;
}

/* Fill a view's buckets and order meta from an account hash's HGETALL
 * reply; 0 on success, -1 when out of memory. */
static int rw_view_fill(rw_account_view_t *av, const redisReply *all) {
        av->bucket_size = all->elements / 2 + 1;
        if (!(av->buckets = calloc(av->bucket_size, sizeof(*av->buckets))))
                return -1;
        for (size_t j = 0; j + 1 < all->elements; j += 2) {
                const char *f = all->element[j]->str;
                int64_t v = rw_reply_int(all->element[j + 1]);
                if (!strcmp(f, "m:n"))
                        av->orders_total = v;
                else if (!strcmp(f, "m:first"))
                        av->first_order = v;
                else if (!strcmp(f, "m:last"))
                        av->last_order = v;
                else if (strncmp(f, "m:", 2))   /* other meta: m:maxday */
                        rw_bucket_parse(strtoll(f, NULL, 10), all->element[j + 1]->str,
                                        &av->buckets[av->bucket_cnt++]);
        }
        return 0;
}

/* Parse prepare's reply into res; 0 on success. */
static int rw_prepare_parse(const redisReply *r, size_t ev_cnt, rw_apply_result_t *res) {
        size_t i, n;

        if (r->elements < 3 || r->element[2]->type != REDIS_REPLY_STRING ||
            r->element[2]->len != ev_cnt)
                return -1;
        res->watermark = rw_reply_int(r->element[1]);
        if (!(res->flags = strndup(r->element[2]->str, r->element[2]->len)))
                return -1;
        for (i = 0; i < ev_cnt; i++) {
                if (res->flags[i] == '1')
                        res->applied++;
                else
                        res->duplicates++;
        }
        n = (r->elements - 3) / 4;
        if (!n)
                return 0;
        res->accounts = calloc(n, sizeof(*res->accounts));
        if (!res->accounts)
                return -1;
        for (i = 0; i < n; i++) {
                const redisReply *acct = r->element[3 + i * 4];
                const redisReply *all = r->element[4 + i * 4];
                const redisReply *fps = r->element[5 + i * 4];
                const redisReply *due = r->element[6 + i * 4];
                rw_account_view_t *av = &res->accounts[i];

                res->account_cnt++;
                if (acct->type != REDIS_REPLY_STRING ||
                    all->type != REDIS_REPLY_ARRAY ||
                    fps->type != REDIS_REPLY_ARRAY ||
                    due->type != REDIS_REPLY_STRING)
                        return -1;
                if (!(av->account = strndup(acct->str, acct->len)) ||
                    rw_view_fill(av, all))
                        return -1;
                for (size_t j = 0; j + 1 < fps->elements; j += 2) {
                        rw_rule_id_t id = rw_rule_by_name(fps->element[j]->str,
                                                          fps->element[j]->len);
                        if (id < RW_RULE__CNT)
                                rw_fp_state_parse(fps->element[j + 1]->str, &av->fp[id]);
                }
                av->due = due->len ? strtoll(due->str, NULL, 10) : 0;
                av->due_stored = av->due;
        }
        qsort(res->accounts, res->account_cnt, sizeof(*res->accounts), rw_account_cmp);
        return 0;
}

/* EVALSHA the batch script with argv[4..] (and lens[4..] unless lens is
 * NULL) already filled (argv[0..3] are set here), reloading it once if Redis
 * lost it. Returns the reply, or NULL
 * with *errp set: RW_ERR_FENCED (errstr says where the offset is), RW_ERR_IO
 * (reconnect and retry), RW_ERR_FAIL. */
static redisReply *rw_state_eval(rw_state_t *st, const char *topic,
                                 int32_t partition, int64_t expected,
                                 const char **argv, size_t *lens, size_t argc,
                                 char *key,
                                 size_t key_size, rw_err_t *errp,
                                 char *errstr, size_t errstr_size) {
        redisReply *r;

        *errp = RW_ERR_IO;
        if (rw_state_ensure(st, errstr, errstr_size))
                return NULL;
        snprintf(key, key_size, "%s:{%d}:off:%s", st->ns, (int)partition, topic);
        argv[0] = "EVALSHA";
        argv[1] = st->sha;
        argv[2] = "1";
        argv[3] = key;
        for (int attempt = 0; ; attempt++) {
                if (lens)
                        for (int i = 0; i < 4; i++)
                                lens[i] = strlen(argv[i]);
                r = redisCommandArgv(st->rc, (int)argc, argv, lens);
                if (!r) {
                        snprintf(errstr, errstr_size, "redis: %s", st->rc->errstr);
                        rw_state_disconnect(st);
                        return NULL;
                }
                if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8) &&
                    attempt == 0) {
                        /* Redis restarted or flushed scripts: reload, retry. */
                        freeReplyObject(r);
                        if (rw_state_reconnect(st, errstr, errstr_size))
                                return NULL;
                        argv[1] = st->sha;
                        continue;
                }
                break;
        }
        *errp = RW_ERR_FAIL;
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "redis: batch script: %.*s",
                         (int)r->len, r->str);
                goto fail;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
                snprintf(errstr, errstr_size, "redis: batch script: unexpected reply");
                goto fail;
        }
        if (!strcmp(r->element[0]->str, "FENCED")) {
                snprintf(errstr, errstr_size,
                         "%s [%d]: stored offset is %s, expected %lld: "
                         "partition owned elsewhere",
                         topic, (int)partition, r->element[1]->str,
                         (long long)expected);
                *errp = RW_ERR_FENCED;
                goto fail;
        }
        *errp = RW_OK;
        return r;
fail:
        freeReplyObject(r);
        return NULL;
}

static const char *rw_kind_str(char kind) {
        static const char *kinds[] = { "P", "C", "R", "O", "E", "X", "V", "S" };
        for (size_t j = 0; j < RW_ARRAY_SIZE(kinds); j++)
                if (kinds[j][0] == kind)
                        return kinds[j];
        return "P";
}

static int rw_is_orders_kind(char kind) {
        return kind == 'P' || kind == 'C' || kind == 'R';
}

rw_err_t rw_state_prepare(rw_state_t *st, const char *topic, int32_t partition,
                          int64_t expected, int orders, int64_t due_until,
                          const rw_state_event_t *evs, size_t cnt,
                          rw_apply_result_t *res,
                          char *errstr, size_t errstr_size) {
        size_t argc = 11 + cnt * 3, i, a = 4;
        const char **argv;
        char key[512], prefix[256], nums[4][24];
        redisReply *r;
        rw_err_t err;

        memset(res, 0, sizeof(*res));
        if (!(argv = malloc(argc * sizeof(*argv)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return RW_ERR_NOMEM;
        }
        snprintf(prefix, sizeof(prefix), "%s:{%d}:", st->ns, (int)partition);
        snprintf(nums[0], sizeof(nums[0]), "%lld", (long long)expected);
        snprintf(nums[1], sizeof(nums[1]), "%lld", (long long)st->dedup_s);
        snprintf(nums[2], sizeof(nums[2]), "%lld", (long long)due_until);
        snprintf(nums[3], sizeof(nums[3]), "%zu", cnt);
        argv[a++] = "prepare";
        argv[a++] = prefix;
        argv[a++] = nums[0];
        argv[a++] = nums[1];
        argv[a++] = orders ? "a" : "s";
        argv[a++] = nums[2];
        argv[a++] = nums[3];
        for (i = 0; i < cnt; i++) {
                argv[a++] = rw_kind_str(evs[i].kind);
                argv[a++] = evs[i].event_id;
                argv[a++] = evs[i].account;
        }
        r = rw_state_eval(st, topic, partition, expected, argv, NULL, a, key, sizeof(key),
                          &err, errstr, errstr_size);
        free(argv);
        if (!r)
                return err;
        if (rw_prepare_parse(r, cnt, res)) {
                snprintf(errstr, errstr_size, "redis: batch script: malformed reply");
                rw_apply_result_clear(res);
                err = RW_ERR_FAIL;
        }
        freeReplyObject(r);
        return err;
}

rw_err_t rw_state_commit(rw_state_t *st, const char *topic, int32_t partition,
                         int64_t expected, int64_t next_offset, int64_t window_days,
                         const rw_state_event_t *evs, size_t cnt, const char *flags,
                         const int64_t *pbk, const rw_commit_extra_t *x,
                         char *errstr, size_t errstr_size) {
        size_t argc, i, a = 4, numi = 0;
        size_t nfp = x ? x->fp_cnt : 0, ndue = x ? x->due_cnt : 0,
               nout = x ? x->outbox_cnt : 0;
        int64_t max_at = 0;
        const char **argv = NULL;
        size_t *lens = NULL;
        char *nums = NULL;      /* one 24-byte slot per numeric argument */
        char key[512], prefix[256];
        redisReply *r = NULL;
        rw_err_t err = RW_ERR_NOMEM;

        argc = 16 + cnt * 9 + nfp * 3 + ndue * 2 + nout;  /* 4 + 9 fixed, 3 counts */
        for (i = 0; i < cnt; i++)
                if (flags[i] == '1' && evs[i].occurred_at > max_at)
                        max_at = evs[i].occurred_at;
        argv = malloc(argc * sizeof(*argv));
        lens = malloc(argc * sizeof(*lens));
        nums = malloc((10 + cnt * 4 + ndue) * 24);
        if (!argv || !lens || !nums) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
#define RW_NUM(v) (snprintf(nums + numi * 24, 24, "%lld", (long long)(v)), \
                   nums + (numi++) * 24)
        snprintf(prefix, sizeof(prefix), "%s:{%d}:", st->ns, (int)partition);
        argv[a++] = "commit";
        argv[a++] = prefix;
        argv[a++] = RW_NUM(expected);
        argv[a++] = RW_NUM(next_offset);
        argv[a++] = RW_NUM(window_days);
        argv[a++] = RW_NUM(st->dedup_s);
        argv[a++] = RW_NUM(max_at);
        argv[a++] = flags;
        argv[a++] = RW_NUM(cnt);
        for (i = 0; i < cnt; i++) {
                const rw_state_event_t *ev = &evs[i];
                argv[a++] = rw_kind_str(ev->kind);
                argv[a++] = ev->event_id;
                argv[a++] = ev->account;
                argv[a++] = ev->vendor;
                argv[a++] = RW_NUM(ev->occurred_at / RW_DAY_MS);
                argv[a++] = RW_NUM(ev->amount);
                argv[a++] = RW_NUM(ev->occurred_at);
                argv[a++] = ev->extra;
                argv[a++] = RW_NUM(pbk && rw_is_orders_kind(ev->kind) ? pbk[i] : -1);
        }
        argv[a++] = RW_NUM(nfp);
        for (i = 0; i < nfp; i++) {
                argv[a++] = x->fps[i].account;
                argv[a++] = rw_rule_name(x->fps[i].rule);
                argv[a++] = x->fps[i].csv;
        }
        argv[a++] = RW_NUM(ndue);
        for (i = 0; i < ndue; i++) {
                argv[a++] = x->dues[i].account;
                argv[a++] = RW_NUM(x->dues[i].due);
        }
        argv[a++] = RW_NUM(nout);
        for (i = 4; i < a; i++)
                lens[i] = strlen(argv[i]);
        for (i = 0; i < nout; i++) {
                lens[a] = x->outbox[i].len;
                argv[a++] = x->outbox[i].buf;
        }
#undef RW_NUM
        if (!(r = rw_state_eval(st, topic, partition, expected, argv, lens, a,
                                key, sizeof(key), &err, errstr, errstr_size)))
                goto done;
        err = RW_ERR_FAIL;
        if (r->elements < 4) {
                snprintf(errstr, errstr_size, "redis: batch script: malformed reply");
                goto done;
        }
        err = RW_OK;
done:
        if (r)
                freeReplyObject(r);
        free(argv);
        free(lens);
        free(nums);
        return err;
}

rw_err_t rw_state_apply(rw_state_t *st, const char *topic, int32_t partition,
                        int64_t expected, int64_t next_offset, int64_t window_days,
                        const rw_state_event_t *evs, size_t cnt,
                        rw_apply_result_t *res,
                        char *errstr, size_t errstr_size) {
        rw_err_t err;

        if ((err = rw_state_prepare(st, topic, partition, expected,
                                    cnt && rw_is_orders_kind(evs[0].kind), 0,
                                    evs, cnt, res, errstr, errstr_size)))
                return err;
        err = rw_state_commit(st, topic, partition, expected, next_offset,
                              window_days, evs, cnt, res->flags, NULL, NULL,
                              errstr, errstr_size);
        if (err)
                rw_apply_result_clear(res);
        return err;
}

rw_err_t rw_state_seen(rw_state_t *st, int32_t partition,
                       const char *const *event_ids, size_t cnt, int *seen,
                       char *errstr, size_t errstr_size) {
        size_t i, sent = 0;

        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        for (i = 0; i < cnt; i++) {
                char key[512];
                const char *argv[2] = { "EXISTS", key };
                snprintf(key, sizeof(key), "%s:{%d}:e:%s", st->ns, (int)partition,
                         event_ids[i]);
                if (redisAppendCommandArgv(st->rc, 2, argv, NULL) != REDIS_OK)
                        break;
                sent++;
        }
        for (i = 0; i < sent; i++) {
                redisReply *r = NULL;
                if (redisGetReply(st->rc, (void **)&r) != REDIS_OK) {
                        snprintf(errstr, errstr_size, "redis: %s", st->rc->errstr);
                        rw_state_disconnect(st);
                        return RW_ERR_IO;
                }
                seen[i] = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
                freeReplyObject(r);
        }
        if (sent < cnt) {
                snprintf(errstr, errstr_size, "redis: %s", st->rc->errstr);
                rw_state_disconnect(st);
                return RW_ERR_IO;
        }
        return RW_OK;
}

rw_err_t rw_state_progress(rw_state_t *st, int32_t partition, int64_t watermark,
                           int64_t wall_ms, char *errstr, size_t errstr_size) {
        char key[300], field[16], val[64], now[24];
        const char *hset[] = { "HSET", key, field, val };
        const char *hsetnx[] = { "HSETNX", key, "start", now };
        redisReply *r;
        rw_err_t err = RW_OK;

        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        snprintf(key, sizeof(key), "%s:{dep}:prog", st->ns);
        snprintf(field, sizeof(field), "%d", (int)partition);
        snprintf(val, sizeof(val), "%lld,%lld", (long long)watermark, (long long)wall_ms);
        snprintf(now, sizeof(now), "%lld", (long long)wall_ms);
        if (redisAppendCommandArgv(st->rc, 4, hset, NULL) != REDIS_OK ||
            redisAppendCommandArgv(st->rc, 4, hsetnx, NULL) != REDIS_OK)
                goto io;
        for (int i = 0; i < 2; i++) {
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
        snprintf(errstr, errstr_size, "redis: %s", st->rc->errstr);
        rw_state_disconnect(st);
        return RW_ERR_IO;
}

static rw_err_t rw_state_scan_one(rw_state_t *st, const char *pattern,
                                  char *key, size_t key_size,
                                  char *errstr, size_t errstr_size) {
        char cursor[32] = "0";

        do {
                const char *argv[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
                redisReply *r = rw_state_cmd(st, errstr, errstr_size, 6, argv, NULL);
                if (!r)
                        return RW_ERR_IO;
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                        freeReplyObject(r);
                        snprintf(errstr, errstr_size, "redis: SCAN: unexpected reply");
                        return RW_ERR_FAIL;
                }
                snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
                if (r->element[1]->elements > 0) {
                        snprintf(key, key_size, "%s", r->element[1]->element[0]->str);
                        freeReplyObject(r);
                        return RW_OK;
                }
                freeReplyObject(r);
        } while (strcmp(cursor, "0"));
        return RW_ERR_FAIL;
}

/* HGETALL of key into a view (buckets and meta fields). */
static rw_err_t rw_state_load_view(rw_state_t *st, const char *key,
                                   rw_account_view_t *av,
                                   char *errstr, size_t errstr_size) {
        const char *argv[2] = { "HGETALL", key };
        redisReply *r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL);

        rw_err_t err;

        if (!r)
                return RW_ERR_IO;
        err = rw_view_fill(av, r) ? RW_ERR_NOMEM : RW_OK;
        freeReplyObject(r);
        return err;
}

/* The partition slot holding `what` `id` (a key NS:{P}:<kinds>:<id>, kinds a
 * glob class such as "[as]"). RW_ERR_FAIL with "what id: not in namespace"
 * when none does. */
static rw_err_t rw_state_locate(rw_state_t *st, const char *kinds, const char *what,
                                const char *id, int32_t *partitionp,
                                char *errstr, size_t errstr_size) {
        char pattern[512], key[512];
        rw_err_t err;

        if (rw_state_ensure(st, errstr, errstr_size))
                return RW_ERR_IO;
        snprintf(pattern, sizeof(pattern), "%s:{*}:%s:%s", st->ns, kinds, id);
        if ((err = rw_state_scan_one(st, pattern, key, sizeof(key), errstr, errstr_size))) {
                if (err == RW_ERR_FAIL)
                        snprintf(errstr, errstr_size, "%s %s: not in namespace %s",
                                 what, id, st->ns);
                return err;
        }
        *partitionp = (int32_t)strtol(key + strlen(st->ns) + 2, NULL, 10);
        return RW_OK;
}

rw_err_t rw_state_inspect(rw_state_t *st, const char *account,
                          const char *orders_topic, const char *support_topic,
                          rw_inspect_t *out, char *errstr, size_t errstr_size) {
        char key[512];
        rw_err_t err;
        int64_t off;

        memset(out, 0, sizeof(*out));
        /* Either stream's hash places the account in its partition's slot. */
        if ((err = rw_state_locate(st, "[as]", "account", account, &out->partition,
                                   errstr, errstr_size)))
                return err;
        if (!(out->orders.account = strdup(account)) ||
            !(out->support.account = strdup(account)))
                return RW_ERR_NOMEM;
        snprintf(key, sizeof(key), "%s:{%d}:a:%s", st->ns, (int)out->partition, account);
        if ((err = rw_state_load_view(st, key, &out->orders, errstr, errstr_size)))
                return err;
        snprintf(key, sizeof(key), "%s:{%d}:s:%s", st->ns, (int)out->partition, account);
        if ((err = rw_state_load_view(st, key, &out->support, errstr, errstr_size)))
                return err;
        snprintf(key, sizeof(key), "%s:{%d}:f:%s", st->ns, (int)out->partition, account);
        {
                const char *argv[2] = { "HGETALL", key };
                redisReply *r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL);
                if (!r)
                        return RW_ERR_IO;
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
}

void rw_inspect_clear(rw_inspect_t *in) {
        rw_account_view_clear(&in->orders);
        rw_account_view_clear(&in->support);
}

rw_err_t rw_state_inspect_vendor(rw_state_t *st, const char *vendor,
                                 int32_t *partitionp, int64_t **daysp,
                                 int64_t **valuesp, size_t *cntp,
                                 char *errstr, size_t errstr_size) {
        char key[512];
        const char *argv[2] = { "HGETALL", key };
        redisReply *r;
        rw_err_t err;
        size_t n = 0;

        *daysp = NULL;
        *valuesp = NULL;
        *cntp = 0;
        if ((err = rw_state_locate(st, "v", "vendor", vendor, partitionp, errstr,
                                   errstr_size)))
                return err;
        snprintf(key, sizeof(key), "%s:{%d}:v:%s", st->ns, (int)*partitionp, vendor);
        if (!(r = rw_state_cmd(st, errstr, errstr_size, 2, argv, NULL)))
                return RW_ERR_IO;
        *daysp = calloc(r->elements / 2 + 1, sizeof(**daysp));
        *valuesp = calloc(r->elements / 2 + 1, sizeof(**valuesp));
        if (!*daysp || !*valuesp) {
                freeReplyObject(r);
                return RW_ERR_NOMEM;
        }
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
                if (!strncmp(r->element[j]->str, "m:", 2))
                        continue;
                (*daysp)[n] = strtoll(r->element[j]->str, NULL, 10);
                (*valuesp)[n++] = rw_reply_int(r->element[j + 1]);
        }
        *cntp = n;
        freeReplyObject(r);
        return RW_OK;
}

