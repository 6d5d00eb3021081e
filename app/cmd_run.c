/* cmd_run.c - `riskwatch run`: the long-running processor. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <getopt.h>
#include "app/cli.h"
#include "consumers/processor.h"
#include "producers/alertmanager.h"
#include "state/state.h"
#include "common/log.h"

static void rw_run_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch run [OPTIONS]\n"
                "\n"
                "Join group.id, consume topics.orders and topics.support, keep per-account\n"
                "state in Redis and emit alert transitions to topics.alerts (Avro) and to\n"
                "stdout (one JSON line each). SIGINT/SIGTERM finish the batch and exit.\n"
                "\n"
                "Options:\n"
                "%s"
                "  -e               exit once every assigned partition is at its end (an\n"
                "                   input topic that does not exist is then an error)\n"
                "  -h, --help       this help\n", rw_cli_conf_help);
}

/* Every transition delivered goes to Alertmanager too, when configured. */
static void rw_run_on_alert(void *opaque, const rw_alert_t *a) {
        rw_am_notify(opaque, a);
}

/* Alertmanager re-sends the firing alerts of the partitions owned. */
static void rw_run_on_partition(void *opaque, const char *topic, int32_t partition,
                                int assigned) {
        rw_am_partition(opaque, topic, partition, assigned);
}

int rw_cmd_run(int argc, char **argv) {
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        rw_processor_opts_t opts = { 0 };
        rw_processor_stats_t stats;
        rw_processor_t *proc;
        rw_am_t *am = NULL;
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf;
        char errstr[1024], dlqstr[256];
        int opt, rc = RW_EXIT_OK;
        rw_err_t err;

        while ((opt = getopt_long(argc, argv, "c:X:eh", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 'e': opts.exit_at_eof = 1; break;
                case 'h': rw_run_usage(stdout); return RW_EXIT_OK;
                default: rw_run_usage(stderr); return RW_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch run: unexpected argument '%s'\n", argv[optind]);
                return RW_EXIT_USAGE;
        }
        if (!(conf = rw_cli_conf_build(&cc, "run")))
                return RW_EXIT_USAGE;
        rw_cli_signals();
        if (*rw_conf_get_str(conf, "log.file")) {
                const char *path = rw_conf_get_str(conf, "log.file");
                if (!(opts.alert_fp = fopen(path, "a"))) {
                        rw_log_error("run: log.file %s: %s", path, strerror(errno));
                        rw_conf_destroy(conf);
                        return RW_EXIT_RUNTIME;
                }
        }
        if (!(opts.ops = rw_ops_new(conf, &err, errstr, sizeof(errstr)))) {
                rw_log_error("run: %s", errstr);
                if (opts.alert_fp)
                        fclose(opts.alert_fp);
                rw_conf_destroy(conf);
                return err == RW_ERR_CONFIG ? RW_EXIT_USAGE : RW_EXIT_RUNTIME;
        }
        if (!(am = rw_am_new(conf, opts.ops, errstr, sizeof(errstr))) && *errstr) {
                rw_log_error("run: %s", errstr);
                rw_ops_destroy(opts.ops);
                if (opts.alert_fp)
                        fclose(opts.alert_fp);
                rw_conf_destroy(conf);
                return RW_EXIT_USAGE;
        }
        /* Every Redis round trip into the latency histogram. */
        rw_state_set_round_trip_cb(rw_ops_redis_round_trip, opts.ops);
        if (am) {
                opts.on_alert = rw_run_on_alert;
                opts.on_partition = rw_run_on_partition;
                opts.opaque = am;
        }
        if (!(proc = rw_processor_new(conf, &opts, errstr, sizeof(errstr)))) {
                rw_log_error("run: %s", errstr);
                rw_am_destroy(am);
                rw_state_set_round_trip_cb(NULL, NULL);
                rw_ops_destroy(opts.ops);
                if (opts.alert_fp)
                        fclose(opts.alert_fp);
                rw_conf_destroy(conf);
                return RW_EXIT_RUNTIME;
        }
        rw_log_info("run: consuming %s, %s as group %s",
                    rw_conf_get_str(conf, "topics.orders"),
                    rw_conf_get_str(conf, "topics.support"),
                    rw_conf_get_str(conf, "group.id"));
        err = rw_processor_run(proc, &rw_cli_stop, errstr, sizeof(errstr));
        rw_processor_stats(proc, &stats);
        if (err) {
                rw_log_error("run: %s", errstr);
                rc = err == RW_ERR_CONFIG ? RW_EXIT_USAGE : RW_EXIT_RUNTIME;
        }
        rw_processor_stats_dlq_str(&stats, dlqstr, sizeof(dlqstr));
        rw_log_info("run: %lld consumed, %lld applied (%lld late), %lld duplicate(s), "
                    "%s, %lld alert(s) (%lld undeliverable, to the DLQ), %lld batch(es) (%lld "
                    "gathered into the next write), "
                    "%lld redis round trip(s), %lld fenced, %lld landed with the reply lost; account cache: %lld read(s) from "
                    "Redis, %lld new (no state stored: not read), %lld eviction(s); "
                    "due times read from Redis %lld time(s)",
                    (long long)stats.consumed, (long long)stats.applied,
                    (long long)stats.late, (long long)stats.duplicates, dlqstr,
                    (long long)stats.alerts, (long long)stats.alerts_dead,
                    (long long)stats.batches, (long long)stats.gathered,
                    (long long)stats.redis_calls, (long long)stats.fenced,
                    (long long)stats.unacked, (long long)stats.cache_misses, (long long)stats.cache_new,
                    (long long)stats.cache_evictions,
                    (long long)stats.due_loads);
        rw_log_debug("run: loop time: waiting for records %.3f s, decoding %.3f s, due "
                     "accounts %.3f s, reads+replay+encoding %.3f s, waiting for writes "
                     "%.3f s, sending writes %.3f s, dependency decider %.3f s (%.3f s of CPU); idle polls %.3f s; first record after %.3f s; "
                     "fetchers woken %lld time(s); account cache: %zu entries (%zu packed) in %.1f MiB, "
                     "%lld packed one(s) used again",
                     stats.us_wait / 1e6, stats.us_route / 1e6, stats.us_due / 1e6,
                     stats.us_prepare / 1e6, stats.us_finish / 1e6, stats.us_start / 1e6,
                     stats.us_decide / 1e6, stats.us_decide_cpu / 1e6, stats.us_idle / 1e6, stats.us_setup / 1e6,
                     (long long)stats.prefetch_wakeups, stats.cache_entries, stats.cache_packed,
                     (double)stats.cache_bytes / (1024.0 * 1024.0), (long long)stats.cache_unpacks);
        if (stats.lost)
                rw_log_warn("run: %lld partition(s) found behind what was written (Redis lost "
                            "writes): rebuilt from what it held", (long long)stats.lost);
        /* Duplicates are re-deliveries; when they are half of what was
         * read, the input most likely holds the same history twice. */
        if (stats.consumed > 0 && stats.duplicates > 0 &&
            2 * stats.duplicates >= stats.consumed) {
                char dup[32], all[32];
                rw_log_warn("run: %s of %s events (%d%%) were duplicates of events "
                            "already applied: was the same history produced twice?",
                            rw_fmt_count(dup, sizeof(dup), stats.duplicates),
                            rw_fmt_count(all, sizeof(all), stats.consumed),
                            (int)(100 * stats.duplicates / stats.consumed));
        }
        rw_processor_destroy(proc);
        rw_am_destroy(am);      /* a last attempt for what was not sent */
        rw_state_set_round_trip_cb(NULL, NULL);
        rw_ops_destroy(opts.ops);
        if (opts.alert_fp)
                fclose(opts.alert_fp);
        rw_conf_destroy(conf);
        return rc;
}
