/* cmd_demo.c - `riskwatch demo`: the real pipeline on an embedded default:
 * librdkafka's mock cluster in-process and a private redis-server child. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include "app/cli.h"
#include "consumers/processor.h"
#include "gen/gen.h"
#include "producers/history.h"
#include "rules/rules.h"
#include "schemas/codec.h"
#include "state/redis_child.h"
#include "common/kafka.h"
#include "common/log.h"

static void rw_demo_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch demo [OPTIONS]\n"
                "\n"
                "Start an in-process Kafka (librdkafka's mock cluster) and a private\n"
                "redis-server, produce a generated history (demo.accounts accounts over\n"
                "demo.days days, with fading, vanished, angry and refunding accounts, one\n"
                "dominant account and vendor, and a few undecodable records), run the\n"
                "processor on it as `riskwatch run` would, and summarise. Needs nothing\n"
                "running beforehand.\n"
                "\n"
                "Options:\n"
                "%s"
                "  -h, --help       this help\n", rw_cli_conf_help);
}

/* Alert tally by rule, status and severity; which rules fired for each
 * generated account (by index), for vendors and for the portfolio. */
typedef struct rw_demo_id_s { const char *id; int idx; } rw_demo_id_t;

typedef struct rw_demo_tally_s {
        int64_t n[RW_RULE__CNT][2][3];
        const rw_gen_t *gen;
        rw_demo_id_t *ids;              /* sorted by id */
        unsigned *fired;                /* per account: bit per rule */
        char vendors[512];              /* "vendor-01 (rule), ..." */
        unsigned portfolio;             /* bit per rule */
} rw_demo_tally_t;

static int rw_demo_id_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void rw_demo_tally_init(rw_demo_tally_t *t, const rw_gen_t *gen) {
        int n = rw_gen_account_cnt(gen);
        t->gen = gen;
        t->ids = calloc((size_t)n + 1, sizeof(*t->ids));
        t->fired = calloc((size_t)n + 1, sizeof(*t->fired));
        if (!t->ids || !t->fired)
                abort();
        for (int i = 0; i < n; i++) {
                rw_gen_account_info(gen, i, &t->ids[i].id, NULL, NULL);
                t->ids[i].idx = i;
        }
        qsort(t->ids, (size_t)n, sizeof(*t->ids), rw_demo_id_cmp);
}

static void rw_demo_on_alert(void *opaque, const rw_alert_t *a) {
        rw_demo_tally_t *t = opaque;
        int r;

        if ((r = (int)rw_rule_by_name(a->rule, strlen(a->rule))) == RW_RULE__CNT)
                return;
        t->n[r][a->status][a->severity]++;
        if (a->status != RW_ALERT_FIRING)
                return;
        if (a->subject_type == RW_SUBJ_ACCOUNT && t->ids) {
                const char *key = a->subject_id;
                const void *hit = bsearch(&key, t->ids, (size_t)rw_gen_account_cnt(t->gen),
                                          sizeof(*t->ids), rw_demo_id_cmp);
                if (hit)
                        t->fired[((const rw_demo_id_t *)hit)->idx] |= 1u << r;
        } else if (a->subject_type == RW_SUBJ_VENDOR) {
                size_t len = strlen(t->vendors);
                if (!strstr(t->vendors, a->subject_id))
                        snprintf(t->vendors + len, sizeof(t->vendors) - len, "%s%s",
                                 len ? ", " : "", a->subject_id);
        } else {
                t->portfolio |= 1u << r;
        }
}

/* Which rules each scenario's accounts fired: the labels against the alerts. */
static void rw_demo_by_scenario(const rw_demo_tally_t *t) {
        printf("\n%-10s %8s %8s  %s\n", "scenario", "accounts", "alerted",
               "accounts per rule fired");
        for (int s = 0; s < RW_GEN__SCENARIO_CNT; s++) {
                int cnt = 0, alerted = 0, per[RW_RULE__CNT] = { 0 }, first = 1;
                for (int i = 0; i < rw_gen_account_cnt(t->gen); i++) {
                        rw_gen_scenario_t sc;
                        rw_gen_account_info(t->gen, i, NULL, &sc, NULL);
                        if ((int)sc != s)
                                continue;
                        cnt++;
                        alerted += t->fired[i] != 0;
                        for (int r = 0; r < RW_RULE__CNT; r++)
                                per[r] += (t->fired[i] >> r) & 1;
                }
                printf("%-10s %8d %8d  ", rw_gen_scenario_name((rw_gen_scenario_t)s),
                       cnt, alerted);
                for (int r = 0; r < RW_RULE__CNT; r++) {
                        if (!per[r])
                                continue;
                        printf("%s%s %d", first ? "" : ", ", rw_rule_name((rw_rule_id_t)r),
                               per[r]);
                        first = 0;
                }
                printf("%s\n", first ? "-" : "");
        }
        printf("%-10s %8s %8s  %s\n", "vendors", "", "", t->vendors[0] ? t->vendors : "-");
        printf("%-10s %8s %8s  ", "portfolio", "", "");
        if (!t->portfolio)
                printf("-");
        for (int r = 0, first = 1; r < RW_RULE__CNT; r++)
                if ((t->portfolio >> r) & 1) {
                        printf("%s%s", first ? "" : ", ", rw_rule_name((rw_rule_id_t)r));
                        first = 0;
                }
        printf("\n");
}

/* A few undecodable records, to show where they go. */
static rw_err_t rw_demo_poison(const rw_conf_t *conf, char *errstr, size_t errstr_size) {
        static const struct { const char *bytes; size_t len; } poison[] = {
                { "\x01\x00\x00\x00\x01\x02", 6 },   /* bad magic byte */
                { "\x00\x00", 2 },                     /* too short */
                { "\x00\x00\x00\x03\xe7\x02", 6 },   /* unknown schema id 999 */
        };
        rd_kafka_conf_t *kconf = rw_kafka_conf_new(conf, NULL, errstr, errstr_size);
        rd_kafka_t *rk;
        rw_err_t err = RW_OK;

        if (!kconf)
                return RW_ERR_CONFIG;
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, errstr_size))) {
                rd_kafka_conf_destroy(kconf);
                return RW_ERR_FAIL;
        }
        for (size_t i = 0; i < RW_ARRAY_SIZE(poison); i++)
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(rw_conf_get_str(conf, "topics.orders")),
                                  RD_KAFKA_V_KEY("poison", 6),
                                  RD_KAFKA_V_VALUE((void *)poison[i].bytes, poison[i].len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END);
        if (rd_kafka_flush(rk, 30 * 1000)) {
                snprintf(errstr, errstr_size, "produce: %d message(s) not delivered",
                         rd_kafka_outq_len(rk));
                err = RW_ERR_FAIL;
        }
        rd_kafka_destroy(rk);
        return err;
}

static void rw_demo_population(const rw_gen_t *gen) {
        int cnt[RW_GEN__SCENARIO_CNT] = { 0 };
        printf("population: %d accounts:", rw_gen_account_cnt(gen));
        for (int i = 0; i < rw_gen_account_cnt(gen); i++) {
                rw_gen_scenario_t s;
                rw_gen_account_info(gen, i, NULL, &s, NULL);
                cnt[s]++;
        }
        for (int s = 0; s < RW_GEN__SCENARIO_CNT; s++)
                printf(" %d %s%s", cnt[s], rw_gen_scenario_name((rw_gen_scenario_t)s),
                       s + 1 < RW_GEN__SCENARIO_CNT ? "," : "\n");
        for (int s = RW_GEN_FADING; s < RW_GEN__SCENARIO_CNT; s++) {
                int shown = 0;
                printf("  %-10s", rw_gen_scenario_name((rw_gen_scenario_t)s));
                for (int i = 0; i < rw_gen_account_cnt(gen) && shown < 8; i++) {
                        rw_gen_scenario_t sc;
                        const char *id;
                        rw_gen_account_info(gen, i, &id, &sc, NULL);
                        if (sc == (rw_gen_scenario_t)s) {
                                printf(" %s", id);
                                shown++;
                        }
                }
                printf("%s\n", cnt[s] > shown ? " ..." : "");
        }
}

static void rw_demo_summary(const rw_demo_tally_t *t, const rw_processor_stats_t *st,
                            int64_t produced, double produce_s, double process_s) {
        static const char *sev[] = { "INFO", "WARNING", "CRITICAL" };
        int64_t total = 0;

        printf("\n== summary ==\n");
        printf("produced   %lld events in %.2f s\n", (long long)produced, produce_s);
        char dlqstr[256];

        rw_processor_stats_dlq_str(st, dlqstr, sizeof(dlqstr));
        printf("processed  %lld records in %.2f s (%.0f/s): %lld applied, "
               "%lld duplicate(s), %s\n",
               (long long)st->consumed, process_s,
               process_s > 0 ? (double)st->consumed / process_s : 0.0,
               (long long)st->applied, (long long)st->duplicates, dlqstr);
        printf("redis      %lld batch round trip(s) for %lld batch(es) "
               "(%.1f per 1000 records)\n",
               (long long)st->redis_calls, (long long)st->batches,
               st->consumed ? 1000.0 * (double)st->redis_calls / (double)st->consumed : 0.0);
        printf("\n%-26s %-9s %8s %8s\n", "rule", "severity", "FIRING", "RESOLVED");
        for (int r = 0; r < RW_RULE__CNT; r++)
                for (int s = 0; s < 3; s++) {
                        if (!t->n[r][0][s] && !t->n[r][1][s])
                                continue;
                        printf("%-26s %-9s %8lld %8lld\n", rw_rule_name((rw_rule_id_t)r),
                               sev[s], (long long)t->n[r][0][s], (long long)t->n[r][1][s]);
                        total += t->n[r][0][s] + t->n[r][1][s];
                }
        printf("%-26s %-9s %17lld\n", "total", "", (long long)total);
}

int rw_cmd_demo(int argc, char **argv) {
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        static const char *topics[] = { "topics.orders", "topics.support",
                                        "topics.alerts", "topics.dlq" };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf = NULL;
        rw_redis_child_t redis = { 0 };
        rd_kafka_t *mrk = NULL;
        rd_kafka_mock_cluster_t *mcluster = NULL;
        rw_codec_t *codec = NULL;
        rw_gen_t *gen = NULL;
        rw_processor_t *proc = NULL;
        rw_demo_tally_t tally = { 0 };
        rw_processor_opts_t opts = { .exit_at_eof = 1, .on_alert = rw_demo_on_alert,
                                     .opaque = &tally };
        rw_processor_stats_t stats;
        rw_gen_params_t gp;
        rw_history_stats_t hstats;
        rw_err_t err;
        char errstr[1024], dirbuf[1024];
        int opt, rc = RW_EXIT_RUNTIME;
        int64_t produced = 0, t0, t1, t2;

        while ((opt = getopt_long(argc, argv, "c:X:h", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 'h': rw_demo_usage(stdout); return RW_EXIT_OK;
                default: rw_demo_usage(stderr); return RW_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch demo: unexpected argument '%s'\n", argv[optind]);
                return RW_EXIT_USAGE;
        }
        if (!(conf = rw_cli_conf_build(&cc, "demo")))
                return RW_EXIT_USAGE;
        rw_cli_signals();
        setvbuf(stdout, NULL, _IOLBF, 0);

        /* Embedded Redis. */
        if (rw_redis_child_start(&redis, errstr, sizeof(errstr))) {
                rw_log_error("demo: redis: %s", errstr);
                goto done;
        }
        printf("redis      private redis-server (pid %d) at %s\n", (int)redis.pid, redis.url);

        /* Embedded Kafka: librdkafka's mock cluster, 3 brokers. */
        {
                rd_kafka_conf_t *mconf = rd_kafka_conf_new();
                rd_kafka_conf_set_log_cb(mconf, rw_kafka_log_cb);
                /* This handle only hosts the cluster: it never connects. */
                rd_kafka_conf_set(mconf, "log_level", "4", NULL, 0);
                if (!(mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof(errstr)))) {
                        rd_kafka_conf_destroy(mconf);
                        rw_log_error("demo: kafka: %s", errstr);
                        goto done;
                }
        }
        if (!(mcluster = rd_kafka_mock_cluster_new(mrk, 3))) {
                rw_log_error("demo: cannot create the mock cluster");
                goto done;
        }
        for (size_t i = 0; i < RW_ARRAY_SIZE(topics); i++)
                rd_kafka_mock_topic_create(mcluster, rw_conf_get_str(conf, topics[i]), 3, 3);
        printf("kafka      in-process mock cluster, 3 brokers at %s\n",
               rd_kafka_mock_cluster_bootstraps(mcluster));
        if (rw_conf_set(conf, "kafka.bootstrap.servers",
                        rd_kafka_mock_cluster_bootstraps(mcluster), "demo", errstr,
                        sizeof(errstr)) ||
            rw_conf_set(conf, "redis.url", redis.url, "demo", errstr, sizeof(errstr))) {
                rw_log_error("demo: %s", errstr);
                goto done;
        }

        if (!(codec = rw_codec_new(rw_schemas_dir(rw_conf_get_str(conf, "schemas.dir"),
                                                  dirbuf, sizeof(dirbuf)),
                                   errstr, sizeof(errstr)))) {
                rw_log_error("demo: %s", errstr);
                goto done;
        }
        rw_gen_params_default(&gp);
        gp.accounts = (int)rw_conf_get_int(conf, "demo.accounts");
        gp.days = (int)rw_conf_get_int(conf, "demo.days");
        gp.seed = (uint64_t)rw_conf_get_int(conf, "demo.seed");
        if (!(gen = rw_gen_new(&gp, errstr, sizeof(errstr)))) {
                rw_log_error("demo: generator: %s", errstr);
                rc = RW_EXIT_USAGE;
                goto done;
        }
        rw_demo_tally_init(&tally, gen);
        rw_demo_population(gen);

        t0 = rw_mono_ms();
        err = rw_history_produce(conf, codec, gen, NULL, &hstats, errstr, sizeof(errstr));
        produced = hstats.orders + hstats.support;
        if (err || rw_demo_poison(conf, errstr, sizeof(errstr))) {
                rw_log_error("demo: %s", errstr);
                goto done;
        }
        t1 = rw_mono_ms();
        printf("produced   %lld events over %d days (+3 undecodable records) in %.2f s\n\n",
               (long long)produced, gp.days, (double)(t1 - t0) / 1000.0);

        if (!(proc = rw_processor_new(conf, &opts, errstr, sizeof(errstr)))) {
                rw_log_error("demo: %s", errstr);
                goto done;
        }
        if (rw_processor_run(proc, &rw_cli_stop, errstr, sizeof(errstr))) {
                rw_log_error("demo: %s", errstr);
                goto done;
        }
        t2 = rw_mono_ms();
        rw_processor_stats(proc, &stats);
        if (rw_cli_stop)
                printf("\ninterrupted\n");
        rw_demo_summary(&tally, &stats, produced, (double)(t1 - t0) / 1000.0,
                        (double)(t2 - t1) / 1000.0);
        rw_demo_by_scenario(&tally);
        rc = rw_cli_stop ? RW_EXIT_RUNTIME : RW_EXIT_OK;
done:
        rw_processor_destroy(proc);
        free(tally.ids);
        free(tally.fired);
        rw_gen_destroy(gen);
        rw_codec_destroy(codec);
        if (mcluster)
                rd_kafka_mock_cluster_destroy(mcluster);
        if (mrk)
                rd_kafka_destroy(mrk);
        rw_redis_child_stop(&redis);
        rw_conf_destroy(conf);
        return rc;
}
