/* test_mock_faults.c - faults injected with librdkafka's mock cluster: broker
 * outages before and during consumption, and transient Produce errors on the
 * alert path. Redis is a private redis-server child; nothing is faked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include "common/conf.h"
#include "common/log.h"
#include "consumers/processor.h"
#include "gen/gen.h"
#include "producers/history.h"
#include "schemas/codec.h"
#include "state/redis_child.h"
#include "tests/capture.h"

#define RW_API_PRODUCE 0        /* Kafka protocol ApiKeys */
#define RW_API_INIT_PRODUCER_ID 22

typedef struct fx_s {
        rw_redis_child_t redis;
        rd_kafka_t *mrk;
        rd_kafka_mock_cluster_t *mcluster;
        rw_conf_t *conf;
        rw_codec_t *codec;
        int64_t produced;
        int64_t placed;         /* PLACED orders in the history */
} fx_t;

static void fx_gen_params(rw_gen_params_t *gp) {
        rw_gen_params_default(gp);
        gp->accounts = 60;
        gp->days = 150;
        gp->seed = 7;
}

static int fx_setup(void **state) {
        fx_t *fx = calloc(1, sizeof(*fx));
        char errstr[512], dir[1024];
        rd_kafka_conf_t *mconf = rd_kafka_conf_new();
        rw_gen_params_t gp;
        rw_gen_t *gen;
        rw_history_stats_t hstats;
        rw_record_t rec;
        static const char *topics[] = { "orders", "support", "risk-alerts", "riskwatch-dlq" };

        assert_non_null(fx);
        rw_log_set_level(RW_LOG_WARN);
        assert_int_equal(rw_redis_child_start(&fx->redis, errstr, sizeof(errstr)), RW_OK);
        rd_kafka_conf_set(mconf, "log_level", "4", NULL, 0);
        fx->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof(errstr));
        assert_non_null(fx->mrk);
        fx->mcluster = rd_kafka_mock_cluster_new(fx->mrk, 3);
        assert_non_null(fx->mcluster);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(rd_kafka_mock_topic_create(fx->mcluster, topics[i], 3, 3), 0);

        fx->conf = rw_conf_new();
        assert_int_equal(rw_conf_set(fx->conf, "kafka.bootstrap.servers",
                                     rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                                     "test", errstr, sizeof(errstr)), RW_OK);
        assert_int_equal(rw_conf_set(fx->conf, "redis.url", fx->redis.url, "test",
                                     errstr, sizeof(errstr)), RW_OK);
        /* Small batches: many round trips, so faults land mid-stream. */
        assert_int_equal(rw_conf_set(fx->conf, "batch.size", "25", "test", errstr,
                                     sizeof(errstr)), RW_OK);
        fx->codec = rw_codec_new(rw_schemas_dir(NULL, dir, sizeof(dir)), errstr,
                                 sizeof(errstr));
        assert_non_null(fx->codec);

        fx_gen_params(&gp);
        gen = rw_gen_new(&gp, errstr, sizeof(errstr));
        assert_non_null(gen);
        assert_int_equal(rw_history_produce(fx->conf, fx->codec, gen, NULL, &hstats,
                                            errstr, sizeof(errstr)), RW_OK);
        fx->produced = hstats.orders + hstats.support;
        rw_gen_destroy(gen);
        /* The same seed again, to know what the state must add up to. */
        gen = rw_gen_new(&gp, errstr, sizeof(errstr));
        while (rw_gen_next(gen, &rec) == 1)
                if (rec.type == RW_REC_ORDER && rec.u.order.kind == RW_ORDER_PLACED)
                        fx->placed++;
        rw_gen_destroy(gen);
        assert_true(fx->produced > 1000);
        *state = fx;
        return 0;
}

static int fx_teardown(void **state) {
        fx_t *fx = *state;
        rw_codec_destroy(fx->codec);
        rw_conf_destroy(fx->conf);
        rd_kafka_mock_cluster_destroy(fx->mcluster);
        rd_kafka_destroy(fx->mrk);
        rw_redis_child_stop(&fx->redis);
        free(fx);
        return 0;
}

/* PLACED orders counted in Redis over every account of namespace "rw". */
static int64_t fx_redis_placed(fx_t *fx) {
        redisContext *c = redisConnectUnix(fx->redis.sock);
        char cursor[32] = "0";
        int64_t sum = 0;

        assert_non_null(c);
        assert_int_equal(c->err, 0);
        do {
                redisReply *r = redisCommand(c, "SCAN %s MATCH rw:*:a:* COUNT 1000", cursor);
                assert_non_null(r);
                snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
                for (size_t i = 0; i < r->element[1]->elements; i++) {
                        /* m = MAXDAY,OFFSET,TIME,PLACED,... */
                        redisReply *n = redisCommand(c, "HGET %s m",
                                                     r->element[1]->element[i]->str);
                        const char *p = n->type == REDIS_REPLY_STRING ? n->str : NULL;
                        for (int f = 0; p && f < 3; f++)
                                p = (p = strchr(p, ',')) ? p + 1 : NULL;
                        if (p)
                                sum += strtoll(p, NULL, 10);
                        freeReplyObject(n);
                }
                freeReplyObject(r);
        } while (strcmp(cursor, "0"));
        redisFree(c);
        return sum;
}

typedef struct outage_s {
        fx_t *fx;
        volatile int processor_done;
        int mid_stream;         /* the second outage began before the end */
} outage_t;

static void outage_set(fx_t *fx, int down) {
        for (int b = 1; b <= 3; b++) {
                if (down)
                        rd_kafka_mock_broker_set_down(fx->mcluster, b);
                else
                        rd_kafka_mock_broker_set_up(fx->mcluster, b);
        }
}

/* Brokers come up after 1.5 s, go down again once state has been written,
 * and come back 1.5 s later. */
static void *outage_thread(void *arg) {
        outage_t *o = arg;
        redisContext *c = redisConnectUnix(o->fx->redis.sock);

        usleep(1500 * 1000);
        outage_set(o->fx, 0);
        for (int i = 0; i < 3000; i++) {
                redisReply *r = redisCommand(c, "EXISTS rw:{0}:off:orders");
                int found = r && r->integer == 1;
                if (r)
                        freeReplyObject(r);
                if (found)
                        break;
                usleep(5 * 1000);
        }
        redisFree(c);
        o->mid_stream = !o->processor_done;
        outage_set(o->fx, 1);
        usleep(1500 * 1000);
        outage_set(o->fx, 0);
        return NULL;
}

/* Kafka broker loss: librdkafka retries, the process stays up, and every
 * event is counted exactly once. */
static void test_broker_outage(void **state) {
        fx_t *fx = *state;
        rw_processor_opts_t opts = { .exit_at_eof = 1, .alert_fp = NULL };
        volatile sig_atomic_t stop = 0;
        rw_processor_stats_t st;
        rw_processor_t *proc;
        outage_t o = { .fx = fx };
        pthread_t thr;
        char errstr[512];
        FILE *devnull = fopen("/dev/null", "w");

        opts.alert_fp = devnull;
        outage_set(fx, 1);      /* all brokers down before we start */
        proc = rw_processor_new(fx->conf, &opts, errstr, sizeof(errstr));
        assert_non_null(proc);
        assert_int_equal(pthread_create(&thr, NULL, outage_thread, &o), 0);
        assert_int_equal(rw_processor_run(proc, &stop, errstr, sizeof(errstr)), RW_OK);
        o.processor_done = 1;
        pthread_join(thr, NULL);
        rw_processor_stats(proc, &st);
        rw_processor_destroy(proc);
        fclose(devnull);

        assert_true(o.mid_stream);
        assert_int_equal(st.consumed, fx->produced);
        assert_int_equal(st.applied, fx->produced);
        assert_int_equal(st.duplicates, 0);
        assert_int_equal(st.dlq, 0);
        assert_int_equal(fx_redis_placed(fx), fx->placed);
}

/* Transient Produce errors on the alert path are retried by the idempotent
 * producer: every transition reaches the topic exactly once. */
static void test_alert_produce_errors(void **state) {
        fx_t *fx = *state;
        rw_processor_opts_t opts = { .exit_at_eof = 1 };
        volatile sig_atomic_t stop = 0;
        rw_processor_stats_t st;
        rw_processor_t *proc;
        rd_kafka_conf_t *kconf;
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *parts;
        char errstr[512], **ids = NULL;
        size_t id_cnt = 0;
        int eofs = 0;
        FILE *devnull = fopen("/dev/null", "w");

        opts.alert_fp = devnull;
        rd_kafka_mock_push_request_errors(fx->mcluster, RW_API_PRODUCE, 6,
                                          RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                          RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                          RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                          RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
        proc = rw_processor_new(fx->conf, &opts, errstr, sizeof(errstr));
        assert_non_null(proc);
        assert_int_equal(rw_processor_run(proc, &stop, errstr, sizeof(errstr)), RW_OK);
        rw_processor_stats(proc, &st);
        rw_processor_destroy(proc);
        fclose(devnull);
        assert_int_equal(st.applied, fx->produced);
        assert_true(st.alerts > 0);

        /* Read the alerts topic back. */
        kconf = rd_kafka_conf_new();
        rd_kafka_conf_set(kconf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(fx->mcluster), NULL, 0);
        rd_kafka_conf_set(kconf, "group.id", "alert-reader", NULL, 0);
        rd_kafka_conf_set(kconf, "enable.partition.eof", "true", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, sizeof(errstr));
        assert_non_null(rk);
        parts = rd_kafka_topic_partition_list_new(3);
        for (int p = 0; p < 3; p++)
                rd_kafka_topic_partition_list_add(parts, "risk-alerts", p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        assert_int_equal(rd_kafka_assign(rk, parts), 0);
        rd_kafka_topic_partition_list_destroy(parts);
        while (eofs < 3) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 5000);
                rw_record_t rec;
                assert_non_null(rkm);   /* no 5 s silence before the end */
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        eofs++;
                } else {
                        assert_int_equal(rkm->err, 0);
                        assert_int_equal(rw_codec_decode(fx->codec, RW_REC_ALERT,
                                                         rkm->payload, rkm->len, &rec,
                                                         errstr, sizeof(errstr)),
                                         RW_CODEC_OK);
                        for (size_t i = 0; i < id_cnt; i++)
                                assert_string_not_equal(ids[i], rec.u.alert.alert_id);
                        ids = realloc(ids, (id_cnt + 1) * sizeof(*ids));
                        ids[id_cnt++] = strdup(rec.u.alert.alert_id);
                }
                rd_kafka_message_destroy(rkm);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        assert_int_equal((int64_t)id_cnt, st.alerts);
        for (size_t i = 0; i < id_cnt; i++)
                free(ids[i]);
        free(ids);
}

/* Produce raw values to topic partition 0. */
static void fx_produce_raw(fx_t *fx, const char *topic, const void *const *vals,
                           const size_t *lens, size_t cnt) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_t *rk;

        rd_kafka_conf_set(kconf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(fx->mcluster), NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr));
        assert_non_null(rk);
        for (size_t i = 0; i < cnt; i++)
                assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                                   RD_KAFKA_V_PARTITION(0),
                                                   RD_KAFKA_V_KEY("k", 1),
                                                   RD_KAFKA_V_VALUE((void *)vals[i], lens[i]),
                                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                   RD_KAFKA_V_END), 0);
        assert_int_equal(rd_kafka_flush(rk, 10000), 0);
        rd_kafka_destroy(rk);
}

static int64_t fx_redis_offset(fx_t *fx, const char *topic, int partition) {
        redisContext *c = redisConnectUnix(fx->redis.sock);
        redisReply *r = redisCommand(c, "GET rw:{%d}:off:%s", partition, topic);
        int64_t off = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        freeReplyObject(r);
        redisFree(c);
        return off;
}

/* The DLQ cannot be written: the processor stops without storing the poison
 * records' offsets, saying once (not once per record) that delivery failed
 * and how many the flush found; once the DLQ works again, a new run
 * dead-letters them and applies the rest. Nothing is lost. */
static void test_dlq_failure_loses_nothing(void **state) {
        fx_t *fx = *state;
        rw_processor_opts_t opts = { .exit_at_eof = 1 };
        volatile sig_atomic_t stop = 0;
        rw_processor_stats_t st;
        rw_processor_t *proc;
        /* A group per run: positions live in Redis, and the mock cluster
         * keeps a closed member until its session times out. */
        static const char *groups[] = { "dlqf-drain", "dlqf-fail", "dlqf-retry" };
        rw_record_t rec = { .type = RW_REC_ORDER, .u.order = {
                .event_id = "dlqf-1", .account_id = "acct-dlqf", .vendor_id = "v",
                .kind = RW_ORDER_PLACED, .amount_minor = 100, .currency = "EUR",
                .occurred_at = 1772344800000LL } };
        void *good;
        size_t good_len;
        enum { POISON = 12 };
        const void *vals[POISON + 1];
        size_t lens[POISON + 1];
        char errstr[512], *log;
        FILE *devnull = fopen("/dev/null", "w");
        rd_kafka_resp_err_t denied[50];
        rw_capture_t cap;
        int64_t before;
        int said = 0;

        opts.alert_fp = devnull;
        /* Drain the fixture's history first, so the poison is what follows. */
        assert_int_equal(rw_conf_set(fx->conf, "group.id", groups[0], "test", errstr,
                                     sizeof(errstr)), RW_OK);
        proc = rw_processor_new(fx->conf, &opts, errstr, sizeof(errstr));
        assert_non_null(proc);
        assert_int_equal(rw_processor_run(proc, &stop, errstr, sizeof(errstr)), RW_OK);
        rw_processor_destroy(proc);
        before = fx_redis_offset(fx, "orders", 0);
        assert_true(before > 0);

        assert_int_equal(rw_codec_encode(fx->codec, &rec, &good, &good_len, errstr,
                                         sizeof(errstr)), RW_OK);
        for (int i = 0; i < POISON; i++) {
                vals[i] = "\x07poison";
                lens[i] = 7;
        }
        vals[POISON] = good;
        lens[POISON] = good_len;
        fx_produce_raw(fx, "orders", vals, lens, POISON + 1);
        free(good);

        /* Every Produce request fails, non-retriably. */
        for (size_t i = 0; i < RW_ARRAY_SIZE(denied); i++)
                denied[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
        rd_kafka_mock_push_request_errors_array(fx->mcluster, RW_API_PRODUCE,
                                                RW_ARRAY_SIZE(denied), denied);
        assert_int_equal(rw_conf_set(fx->conf, "group.id", groups[1], "test", errstr,
                                     sizeof(errstr)), RW_OK);
        proc = rw_processor_new(fx->conf, &opts, errstr, sizeof(errstr));
        assert_non_null(proc);
        /* The run's log in a file: the refused dead letters are said once,
         * with how many the flush found, not once per record. */
        rw_capture_begin(&cap);
        assert_int_not_equal(rw_processor_run(proc, &stop, errstr, sizeof(errstr)), RW_OK);
        log = rw_capture_end(&cap);
        assert_non_null(strstr(errstr, "dead-letter queue"));
        assert_non_null(strstr(errstr, "12 message(s) not delivered: riskwatch-dlq: "));
        rw_processor_destroy(proc);
        for (const char *p = log; (p = strstr(p, "delivery to riskwatch-dlq failed")); p++)
                said++;
        free(log);
        assert_int_equal(said, 1);
        /* Neither the poison nor the valid record after it was stored. */
        assert_int_equal(fx_redis_offset(fx, "orders", 0), before);

        rd_kafka_mock_clear_request_errors(fx->mcluster, RW_API_PRODUCE);
        assert_int_equal(rw_conf_set(fx->conf, "group.id", groups[2], "test", errstr,
                                     sizeof(errstr)), RW_OK);
        proc = rw_processor_new(fx->conf, &opts, errstr, sizeof(errstr));
        assert_non_null(proc);
        assert_int_equal(rw_processor_run(proc, &stop, errstr, sizeof(errstr)), RW_OK);
        rw_processor_stats(proc, &st);
        rw_processor_destroy(proc);
        fclose(devnull);
        assert_int_equal(st.dlq, POISON);
        assert_int_equal(st.dlq_by_reason[RW_DLQ_BAD_MAGIC], POISON);
        assert_int_equal(st.applied, 1);
        assert_int_equal(fx_redis_offset(fx, "orders", 0), before + POISON + 1);
}

/* A librdkafka fatal error (the idempotent producer is refused its producer
 * id) ends the run with librdkafka's reason instead of hanging or retrying. */
static void test_fatal_error_stops(void **state) {
        fx_t *fx = *state;
        rw_processor_opts_t opts = { .exit_at_eof = 1 };
        volatile sig_atomic_t stop = 0;
        rw_processor_t *proc;
        rd_kafka_resp_err_t denied[20];
        char errstr[1024];
        FILE *devnull = fopen("/dev/null", "w");
        int64_t t0;

        opts.alert_fp = devnull;
        for (size_t i = 0; i < RW_ARRAY_SIZE(denied); i++)
                denied[i] = RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
        rd_kafka_mock_push_request_errors_array(fx->mcluster, RW_API_INIT_PRODUCER_ID,
                                                RW_ARRAY_SIZE(denied), denied);
        assert_int_equal(rw_conf_set(fx->conf, "group.id", "fatal", "test", errstr,
                                     sizeof(errstr)), RW_OK);
        proc = rw_processor_new(fx->conf, &opts, errstr, sizeof(errstr));
        assert_non_null(proc);
        t0 = rw_mono_ms();
        assert_int_not_equal(rw_processor_run(proc, &stop, errstr, sizeof(errstr)), RW_OK);
        print_message("stopped after %lld ms: %s\n", (long long)(rw_mono_ms() - t0), errstr);
        assert_non_null(strstr(errstr, "fatal"));
        assert_non_null(strstr(errstr, "uthoriz"));   /* librdkafka's real reason */
        rw_processor_destroy(proc);
        fclose(devnull);
}

/* Redis refusal and stop, while a partition's stored position is read in the
 * rebalance callback. stderr goes to a file meanwhile, so a watcher thread
 * knows when the processor is waiting there. */
typedef struct posload_s {
        fx_t *fx;
        char log[64];
        volatile sig_atomic_t *stop;
        volatile int done;
        int64_t stop_at;        /* mono ms at which stop was set (0: never) */
        int saw_wait;           /* the retry was logged before stopping */
        int refuse;             /* the ACL test: give mget back at the end */
} posload_t;

static int posload_logged(posload_t *pl, const char *what) {
        char buf[65536];
        int fd = open(pl->log, O_RDONLY);
        ssize_t n;

        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return strstr(buf, what) != NULL;
}

static void *posload_thread(void *arg) {
        posload_t *pl = arg;

        for (int i = 0; i < 600 && !pl->done; i++) {
                if (!pl->refuse &&
                    posload_logged(pl, "cannot read the stored position")) {
                        pl->saw_wait = 1;
                        break;
                }
                usleep(50 * 1000);
        }
        if (!pl->refuse && !pl->done) {
                usleep(300 * 1000);     /* well inside the retry loop */
                pl->stop_at = rw_mono_ms();
                *pl->stop = 1;
        }
        /* Whatever happens, the run must end: Redis back, then stop. */
        for (int i = 0; i < 200 && !pl->done; i++)
                usleep(50 * 1000);
        kill(pl->fx->redis.pid, SIGCONT);
        if (pl->refuse && !pl->done) {
                redisContext *c = redisConnectUnix(pl->fx->redis.sock);
                freeReplyObject(redisCommand(c, "ACL SETUSER default +mget"));
                redisFree(c);
        }
        *pl->stop = 1;
        return NULL;
}

/* Run a fresh processor of group `group` with stderr in pl->log. */
static rw_err_t posload_run(fx_t *fx, posload_t *pl, const char *group,
                            void (*before_run)(fx_t *), char *errstr, size_t errstr_size) {
        rw_processor_opts_t opts = { .exit_at_eof = 1 };
        volatile sig_atomic_t stop = 0;
        rw_processor_t *proc;
        pthread_t thr;
        FILE *devnull = fopen("/dev/null", "w");
        int saved = dup(STDERR_FILENO), fd;
        rw_err_t err;

        opts.alert_fp = devnull;
        snprintf(pl->log, sizeof(pl->log), "/tmp/rw-posload-%d.log", (int)getpid());
        assert_int_equal(rw_conf_set(fx->conf, "group.id", group, "test", errstr,
                                     errstr_size), RW_OK);
        assert_int_equal(rw_conf_set(fx->conf, "redis.timeout", "200ms", "test", errstr,
                                     errstr_size), RW_OK);
        proc = rw_processor_new(fx->conf, &opts, errstr, errstr_size);
        assert_non_null(proc);
        before_run(fx);
        pl->fx = fx;
        pl->stop = &stop;
        fd = open(pl->log, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        assert_true(fd >= 0);
        dup2(fd, STDERR_FILENO);
        close(fd);
        assert_int_equal(pthread_create(&thr, NULL, posload_thread, pl), 0);
        err = rw_processor_run(proc, &stop, errstr, errstr_size);
        pl->done = 1;
        dup2(saved, STDERR_FILENO);
        close(saved);
        pthread_join(thr, NULL);
        rw_processor_destroy(proc);
        fclose(devnull);
        unlink(pl->log);
        return err;
}

static void posload_redis_stop(fx_t *fx) {
        kill(fx->redis.pid, SIGSTOP);
}

static void posload_refuse_mget(fx_t *fx) {
        redisContext *c = redisConnectUnix(fx->redis.sock);
        redisReply *r = redisCommand(c, "ACL SETUSER default -mget");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
        redisFree(c);
}

/* Redis does not answer while a partition is assigned: the position load
 * retries, and a stop request ends it within a second or two. */
static void test_stop_while_position_waits(void **state) {
        fx_t *fx = *state;
        posload_t pl = { 0 };
        char errstr[1024];
        rw_err_t err;
        int64_t took;

        err = posload_run(fx, &pl, "posload-stop", posload_redis_stop, errstr,
                          sizeof(errstr));
        took = rw_mono_ms() - pl.stop_at;
        print_message("stopped %lld ms after the request\n", (long long)took);
        assert_true(pl.saw_wait);
        assert_true(pl.stop_at > 0);
        assert_int_equal(err, RW_OK);
        assert_true(took < 2500);
}

/* Redis answers the position load with an error reply (here an ACL that
 * denies MGET): a fault, not an outage. The run ends at once with Redis'
 * reason instead of retrying for ever. */
static void test_redis_refusal_is_fatal(void **state) {
        fx_t *fx = *state;
        posload_t pl = { .refuse = 1 };
        char errstr[1024];
        rw_err_t err;
        int64_t t0 = rw_mono_ms(), took;

        err = posload_run(fx, &pl, "posload-refuse", posload_refuse_mget, errstr,
                          sizeof(errstr));
        took = rw_mono_ms() - t0;
        print_message("ended after %lld ms: %s\n", (long long)took, errstr);
        assert_int_not_equal(err, RW_OK);
        assert_non_null(strstr(errstr, "NOPERM"));
        assert_true(took < 9000);       /* before the watcher gives mget back */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_broker_outage, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_alert_produce_errors, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_dlq_failure_loses_nothing, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_stop_while_position_waits, fx_setup,
                                                fx_teardown),
                cmocka_unit_test_setup_teardown(test_redis_refusal_is_fatal, fx_setup,
                                                fx_teardown),
                /* Last: librdkafka's fatal error is remembered process-wide. */
                cmocka_unit_test_setup_teardown(test_fatal_error_stops, fx_setup, fx_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
