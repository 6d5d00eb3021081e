/* cmd_replay.c - `riskwatch replay`: the processor over a range of history,
 * warmed up before it, beside the live run and never touching it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include "app/cli.h"
#include "common/json.h"
#include "common/kafka.h"
#include "consumers/alert_diff.h"
#include "common/log.h"
#include "consumers/processor.h"
#include "rules/rules.h"
#include "state/state.h"

/* Exit status when history the warm-up needed was gone (retention). */
#define RW_EXIT_INCOMPLETE 3

static void rw_replay_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch replay --from TIME [--to TIME] [OPTIONS]\n"
                "\n"
                "Run the rules over the input topics' history from TIME, with state warmed\n"
                "up over the longest window any enabled rule reads before it, in a namespace,\n"
                "consumer group and alerts topic of its own: the live run is never touched.\n"
                "Transitions before --from are decided but not emitted; it stops at --to\n"
                "(records from then on are not read) or at the topics' ends as of its start.\n"
                "Alerts go to topics.alerts.replay (replay = true) and, as JSON lines, to\n"
                "stdout; dead letters are counted, not sent. A progress line goes to stderr.\n"
                "\n"
                "TIME: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or s@MS (ms since the epoch,\n"
                "as kcat's -o s@).\n"
                "\n"
                "Options:\n"
                "%s"
                "  --from TIME      first event time whose transitions are emitted (required)\n"
                "  --to TIME        stop before the records produced at TIME or later\n"
                "  --namespace NS   state namespace (default: <state.namespace>-replay-<from>);\n"
                "                   what it holds is deleted first\n"
                "  --dlq TOPIC      send dead letters to TOPIC rather than only count them\n"
                "  --dry-run        nothing is written to Kafka: the JSON lines only\n"
                "  --live           allow the live namespace, alerts or dead-letter topic\n"
                "  --delete         only delete the namespace these arguments name, and exit\n"
                "  -h, --help       this help\n"
                "\n"
                "Exit status: 0 ok; 1 runtime failure; 2 usage or configuration error; 3 the\n"
                "replay ran but history its warm-up needed was gone (the summary says where).\n",
                rw_cli_conf_help);
}

static int rw_replay_partitions(rd_kafka_t *rk, const char *topic, int64_t ts,
                                rd_kafka_topic_partition_list_t *list,
                                char *errstr, size_t errstr_size);

static void rw_backtest_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch backtest --from TIME [--to TIME] -X rules.KEY=VALUE... [OPTIONS]\n"
                "\n"
                "Replay the range with other settings (as `riskwatch replay`, warmed up, in a\n"
                "namespace of its own that is deleted afterwards, nothing written to Kafka),\n"
                "then compare its alert transitions with those that fired live in the same\n"
                "range, read back from topics.alerts: per rule and in total, alike (the same\n"
                "alert id), shifted (same fingerprint and status, other time or severity),\n"
                "only live and only in the backtest, with examples.\n"
                "\n"
                "Options:\n"
                "%s"
                "  --from TIME      first event time compared (required)\n"
                "  --to TIME        end of the range (default: the topics' ends)\n"
                "  --namespace NS   state namespace (default: <state.namespace>-backtest-<from>)\n"
                "  --keep           keep the namespace afterwards\n"
                "  --json           one JSON document on stdout instead of the table\n"
                "  -h, --help       this help\n", rw_cli_conf_help);
}

/* TIME as ms since the epoch: s@MS, or rw_time_parse()'s forms. */
static int rw_replay_time(const char *s, int64_t *msp) {
        if (!strncmp(s, "s@", 2)) {
                char *end;
                long long v;
                errno = 0;
                v = strtoll(s + 2, &end, 10);
                if (errno || end == s + 2 || *end || v < 0)
                        return -1;
                *msp = v;
                return 0;
        }
        return rw_time_parse(s, msp) ? 0 : -1;
}

/* An event time to whole seconds, as the alert lines print it. */
static const char *rw_replay_ts(char *buf, size_t size, int64_t ms) {
        return rw_fmt_time(buf, size, ms - ms % 1000);
}

typedef struct rw_replay_ctx_s {
        rw_processor_t *proc;
        rw_diff_list_t test;    /* a backtest's transitions */
        int oom;
        int64_t total;          /* records between the starts and the ends */
        int64_t t0, last_at;    /* mono ms */
        int64_t last_consumed;
        double rate;            /* records/s, smoothed */
        int tty;
        int drawn;
} rw_replay_ctx_t;

/* The progress line: on a terminal redrawn twice a second, otherwise one
 * line every 5 s. */
static void rw_replay_progress(void *opaque) {
        rw_replay_ctx_t *c = opaque;
        rw_processor_stats_t st;
        int64_t now = rw_mono_ms(), left;
        char wm[32] = "-", eta[32] = "-", line[256];

        if (now - c->last_at < (c->tty ? 500 : 5000))
                return;
        rw_processor_stats(c->proc, &st);
        if (now > c->last_at && c->last_at) {
                double r = (double)(st.consumed - c->last_consumed) * 1000.0 /
                           (double)(now - c->last_at);
                c->rate = c->rate > 0 ? 0.7 * c->rate + 0.3 * r : r;
        }
        c->last_at = now;
        c->last_consumed = st.consumed;
        if (st.watermark_min > 0)
                rw_replay_ts(wm, sizeof(wm), st.watermark_min);
        left = c->total - st.consumed;
        if (c->rate > 1 && left > 0)
                rw_fmt_duration(eta, sizeof(eta),
                                (int64_t)((double)left / c->rate * 1000.0));
        snprintf(line, sizeof(line),
                 "replay: event time %s, %" PRId64 " of %" PRId64 " records (%d%%), "
                 "%.0f records/s, ETA %s",
                 wm, st.consumed, c->total,
                 c->total > 0 ? (int)(100 * st.consumed / c->total) : 100, c->rate, eta);
        if (c->tty) {
                fprintf(stderr, "\r\033[K%s", line);
                c->drawn = 1;
        } else {
                fprintf(stderr, "%s\n", line);
        }
}

static void rw_backtest_collect(void *opaque, const rw_alert_t *a) {
        rw_replay_ctx_t *c = opaque;
        if (rw_diff_list_add(&c->test, a))
                c->oom = 1;
}

/* The live run's transitions with event time in [from, to) from the alerts
 * topic, read whole (its record timestamps are delivery times, not event
 * times). 0, or -1 and errstr. */
static int rw_backtest_live(const rw_conf_t *conf, const char *topic, int64_t from,
                            int64_t to, rw_diff_list_t *out, int64_t *readp,
                            char *errstr, size_t errstr_size) {
        static const char *const defaults[] = { "enable.auto.commit", "false", NULL };
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
        const char *dir = rw_conf_get_str(conf, "schemas.dir");
        char dirbuf[1024];
        rd_kafka_conf_t *kconf = NULL;
        rd_kafka_t *rk = NULL;
        rw_codec_t *codec = NULL;
        int rc = -1;

        *readp = 0;
        dir = rw_schemas_dir(dir, dirbuf, sizeof(dirbuf));
        if (!(codec = rw_codec_new(dir, errstr, errstr_size)) ||
            !(kconf = rw_kafka_conf_new(conf, defaults, errstr, errstr_size)) ||
            !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, errstr_size)))
                goto done;
        kconf = NULL;
        if (rw_replay_partitions(rk, topic, 0, parts, errstr, errstr_size))
                goto done;
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                rd_kafka_topic_t *rkt;
                int64_t lo, hi, next;
                rd_kafka_resp_err_t err;

                if ((err = rd_kafka_query_watermark_offsets(rk, topic, tp->partition, &lo,
                                                            &hi, 15000))) {
                        snprintf(errstr, errstr_size, "watermarks of %s [%d]: %s", topic,
                                 (int)tp->partition, rd_kafka_err2str(err));
                        goto done;
                }
                if (lo >= hi)
                        continue;
                if (!(rkt = rd_kafka_topic_new(rk, topic, NULL)) ||
                    rd_kafka_consume_start(rkt, tp->partition, lo)) {
                        snprintf(errstr, errstr_size, "reading %s [%d]: %s", topic,
                                 (int)tp->partition, rd_kafka_err2str(rd_kafka_last_error()));
                        if (rkt)
                                rd_kafka_topic_destroy(rkt);
                        goto done;
                }
                for (next = lo; next < hi;) {
                        rd_kafka_message_t *m = rd_kafka_consume(rkt, tp->partition, 10000);
                        rw_record_t rec;
                        char msg[256];
                        if (!m) {
                                snprintf(errstr, errstr_size, "reading %s [%d]: no record "
                                         "at offset %lld within 10 s", topic,
                                         (int)tp->partition, (long long)next);
                                rd_kafka_consume_stop(rkt, tp->partition);
                                rd_kafka_topic_destroy(rkt);
                                goto done;
                        }
                        if (!m->err) {
                                next = m->offset + 1;
                                (*readp)++;
                                if (rw_codec_decode_own(codec, RW_REC_ALERT, m->payload,
                                                        m->len, &rec, msg,
                                                        sizeof(msg)) == RW_CODEC_OK &&
                                    !rec.u.alert.replay && rec.u.alert.event_time >= from &&
                                    (to <= 0 || rec.u.alert.event_time < to) &&
                                    rw_diff_list_add(out, &rec.u.alert)) {
                                        rd_kafka_message_destroy(m);
                                        snprintf(errstr, errstr_size, "out of memory");
                                        rd_kafka_consume_stop(rkt, tp->partition);
                                        rd_kafka_topic_destroy(rkt);
                                        goto done;
                                }
                        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                next = hi;
                        }
                        rd_kafka_message_destroy(m);
                }
                rd_kafka_consume_stop(rkt, tp->partition);
                rd_kafka_topic_destroy(rkt);
        }
        rc = 0;
done:
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        if (rk)
                rd_kafka_destroy(rk);
        rw_codec_destroy(codec);
        rd_kafka_topic_partition_list_destroy(parts);
        return rc;
}

static void rw_backtest_example(FILE *fp, const rw_diff_alert_t *a) {
        char at[32];
        rw_replay_ts(at, sizeof(at), a->event_time);
        fprintf(fp, "%s %s %s", rw_alert_status_name(a->status),
                rw_alert_severity_name(a->severity), at);
}

static void rw_backtest_print(FILE *fp, const rw_diff_t *d, const rw_diff_list_t *live,
                              const rw_diff_list_t *test) {
        fprintf(fp, "%-28s %8s %8s %10s %14s\n", "rule", "alike", "shifted", "only live",
                "only backtest");
        for (size_t i = 0; i < d->cnt; i++) {
                const rw_diff_row_t *r = &d->rows[i];
                fprintf(fp, "%-28s %8" PRId64 " %8" PRId64 " %10" PRId64 " %14" PRId64 "\n",
                        r->rule ? r->rule : "total", r->n[RW_DIFF_ALIKE],
                        r->n[RW_DIFF_SHIFTED], r->n[RW_DIFF_LIVE_ONLY], r->n[RW_DIFF_TEST_ONLY]);
        }
        if (!d->cnt)
                return;
        for (int k = RW_DIFF_SHIFTED; k < RW_DIFF__CNT; k++) {
                const rw_diff_row_t *t = &d->rows[d->cnt - 1];
                for (size_t e = 0; e < t->ex_cnt[k]; e++) {
                        ssize_t li = t->ex[k][e].live, ti = t->ex[k][e].test;
                        const rw_diff_alert_t *a = li >= 0 ? &live->v[li] : &test->v[ti];
                        fprintf(fp, "%s %s: ", e ? "   " : rw_diff_kind_name((rw_diff_kind_t)k),
                                a->fingerprint);
                        if (li >= 0) {
                                fprintf(fp, "live ");
                                rw_backtest_example(fp, &live->v[li]);
                        }
                        if (ti >= 0) {
                                fprintf(fp, "%sbacktest ", li >= 0 ? ", " : "");
                                rw_backtest_example(fp, &test->v[ti]);
                        }
                        fputc('\n', fp);
                }
        }
}

static void rw_backtest_json_alert(FILE *fp, const rw_diff_alert_t *a) {
        char at[32];
        rw_replay_ts(at, sizeof(at), a->event_time);
        fprintf(fp, "{\"status\":\"%s\",\"severity\":\"%s\",\"event_time\":\"%s\","
                "\"alert_id\":", rw_alert_status_name(a->status),
                rw_alert_severity_name(a->severity), at);
        rw_json_write_str(fp, a->alert_id);
        fputc('}', fp);
}

static void rw_backtest_json(FILE *fp, const rw_diff_t *d, const rw_diff_list_t *live,
                             const rw_diff_list_t *test, const char *from, const char *to) {
        fprintf(fp, "{\"from\":\"%s\",\"to\":", from);
        if (to)
                fprintf(fp, "\"%s\"", to);
        else
                fputs("null", fp);
        fprintf(fp, ",\"live_alerts\":%zu,\"backtest_alerts\":%zu,\"rules\":[",
                live->cnt, test->cnt);
        for (size_t i = 0; i < d->cnt; i++) {
                const rw_diff_row_t *r = &d->rows[i];
                if (!r->rule)
                        fputs("],\"total\":", fp);
                else if (i)
                        fputc(',', fp);
                fputc('{', fp);
                if (r->rule) {
                        fputs("\"rule\":", fp);
                        rw_json_write_str(fp, r->rule);
                        fputc(',', fp);
                }
                for (int k = 0; k < RW_DIFF__CNT; k++)
                        fprintf(fp, "\"%s\":%" PRId64 ",", rw_diff_kind_name((rw_diff_kind_t)k),
                                r->n[k]);
                fputs("\"examples\":{", fp);
                for (int k = 0; k < RW_DIFF__CNT; k++) {
                        fprintf(fp, "%s\"%s\":[", k ? "," : "",
                                rw_diff_kind_name((rw_diff_kind_t)k));
                        for (size_t e = 0; e < r->ex_cnt[k]; e++) {
                                ssize_t li = r->ex[k][e].live, ti = r->ex[k][e].test;
                                const rw_diff_alert_t *a = li >= 0 ? &live->v[li] :
                                                                     &test->v[ti];
                                fprintf(fp, "%s{\"fingerprint\":", e ? "," : "");
                                rw_json_write_str(fp, a->fingerprint);
                                fputs(",\"live\":", fp);
                                if (li >= 0)
                                        rw_backtest_json_alert(fp, &live->v[li]);
                                else
                                        fputs("null", fp);
                                fputs(",\"backtest\":", fp);
                                if (ti >= 0)
                                        rw_backtest_json_alert(fp, &test->v[ti]);
                                else
                                        fputs("null", fp);
                                fputc('}', fp);
                        }
                        fputc(']', fp);
                }
                fputs("}}", fp);
        }
        if (!d->cnt)
                fputs("],\"total\":null", fp);
        fputs("}\n", fp);
}

/* The partitions of `topic` into list, with offset = ts (for
 * rd_kafka_offsets_for_times()). 0, or -1 and errstr. */
static int rw_replay_partitions(rd_kafka_t *rk, const char *topic, int64_t ts,
                                rd_kafka_topic_partition_list_t *list,
                                char *errstr, size_t errstr_size) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t err;

        if (!rkt) {
                snprintf(errstr, errstr_size, "%s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        rd_kafka_topic_destroy(rkt);
        if (err || md->topic_cnt != 1 || md->topics[0].err) {
                snprintf(errstr, errstr_size, "%s: %s", topic,
                         rd_kafka_err2str(err ? err : md->topics[0].err));
                if (md)
                        rd_kafka_metadata_destroy(md);
                return -1;
        }
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(list, topic,
                                                  md->topics[0].partitions[i].id)->offset = ts;
        rd_kafka_metadata_destroy(md);
        return 0;
}

/* Offsets at ts (the first record produced at ts or later; the high
 * watermark when there is none), in place. 0, or -1 and errstr. */
static int rw_replay_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list,
                             char *errstr, size_t errstr_size) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, 15000);

        if (err) {
                snprintf(errstr, errstr_size, "offsets for times: %s", rd_kafka_err2str(err));
                return -1;
        }
        for (int i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];
                int64_t lo, hi;
                if (tp->err) {
                        snprintf(errstr, errstr_size, "offsets for times: %s [%d]: %s",
                                 tp->topic, (int)tp->partition, rd_kafka_err2str(tp->err));
                        return -1;
                }
                if (tp->offset >= 0)
                        continue;
                if ((err = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition,
                                                            &lo, &hi, 15000))) {
                        snprintf(errstr, errstr_size, "watermarks of %s [%d]: %s", tp->topic,
                                 (int)tp->partition, rd_kafka_err2str(err));
                        return -1;
                }
                tp->offset = hi;
        }
        return 0;
}

/* Where retention cut into the warm-up: a partition whose start is its low
 * watermark (> 0: records were deleted) and whose first retained record is
 * later than the warm-up's start. Fills *gapsp (days missing, per
 * partition, 0 when none) and prints one line per gap. Returns how many. */
static int rw_replay_gaps(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *starts,
                          int64_t warm_from, char *report, size_t report_size) {
        size_t of = 0;
        int gaps = 0;

        report[0] = '\0';
        for (int i = 0; i < starts->cnt; i++) {
                const rd_kafka_topic_partition_t *tp = &starts->elems[i];
                rd_kafka_topic_t *rkt;
                rd_kafka_message_t *m;
                int64_t lo, hi, first_ts = -1;

                if (rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi,
                                                     15000) ||
                    lo == 0 || tp->offset != lo || lo >= hi)
                        continue;
                /* Records before lo are gone: when was the first one left? */
                if ((rkt = rd_kafka_topic_new(rk, tp->topic, NULL)) &&
                    !rd_kafka_consume_start(rkt, tp->partition, lo)) {
                        for (int tries = 0; tries < 50 && first_ts < 0; tries++) {
                                if (!(m = rd_kafka_consume(rkt, tp->partition, 200)))
                                        continue;
                                if (!m->err)
                                        first_ts = rd_kafka_message_timestamp(m, NULL);
                                rd_kafka_message_destroy(m);
                        }
                        rd_kafka_consume_stop(rkt, tp->partition);
                }
                if (rkt)
                        rd_kafka_topic_destroy(rkt);
                if (first_ts > warm_from) {
                        char at[32];
                        double days = (double)(first_ts - warm_from) / 86400000.0;
                        rw_replay_ts(at, sizeof(at), first_ts);
                        if (of < report_size)
                                of += (size_t)snprintf(report + of, report_size - of,
                                                       "%s%s [%d]: %.1f days missing (first "
                                                       "retained record %s)",
                                                       gaps ? "; " : "", tp->topic,
                                                       (int)tp->partition, days, at);
                        gaps++;
                }
        }
        return gaps;
}

/* Delete every key of conf's state.namespace (its own connection). */
static int rw_replay_purge(const rw_conf_t *conf, int64_t *purgedp, char *errstr,
                           size_t errstr_size) {
        rw_state_t *st = rw_state_new(conf, errstr, errstr_size);
        int rc = !st || rw_state_purge(st, purgedp, errstr, errstr_size) ? -1 : 0;

        rw_state_destroy(st);
        return rc;
}

static int rw_replay_main(int argc, char **argv, int backtest) {
        enum { O_FROM = 256, O_TO, O_NS, O_DLQ, O_DRY, O_LIVE, O_KEEP, O_JSON, O_DELETE };
        static const struct option replay_opts[] = {
                { "from", required_argument, NULL, O_FROM },
                { "to", required_argument, NULL, O_TO },
                { "namespace", required_argument, NULL, O_NS },
                { "dlq", required_argument, NULL, O_DLQ },
                { "dry-run", no_argument, NULL, O_DRY },
                { "live", no_argument, NULL, O_LIVE },
                { "delete", no_argument, NULL, O_DELETE },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 }
        }, backtest_opts[] = {
                { "from", required_argument, NULL, O_FROM },
                { "to", required_argument, NULL, O_TO },
                { "namespace", required_argument, NULL, O_NS },
                { "keep", no_argument, NULL, O_KEEP },
                { "json", no_argument, NULL, O_JSON },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        const char *cmd = backtest ? "backtest" : "replay";
        int keep = 0, json = 0, delete_only = 0;
        char live_alerts[256];
        rw_diff_list_t live_list = { 0 };
        rw_diff_t diff = { 0 };
        int64_t live_read = 0;
        const char *from_s = NULL, *to_s = NULL, *ns_arg = NULL, *dlq = NULL;
        int dry = 0, live = 0, opt, rc = RW_EXIT_OK, gaps = 0;
        int64_t from = 0, to = 0, warm, purged = 0, t0;
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf;
        rw_rules_params_t params;
        char errstr[1024], ns[128], group[200], from_txt[32], to_txt[32], warm_txt[32];
        char gap_report[2048], dlqstr[256], took[32], alerts_buf[256];
        char live_buf[128];
        const char *live_ns, *alerts, *topics[2];
        rd_kafka_topic_partition_list_t *starts = NULL, *ends = NULL;
        rd_kafka_conf_t *kconf;
        rd_kafka_t *rk = NULL;
        rw_processor_opts_t opts = { 0 };
        rw_processor_stats_t stats;
        rw_processor_t *proc = NULL;
        rw_replay_ctx_t ctx = { 0 };
        rw_err_t err;

        while ((opt = getopt_long(argc, argv, "c:X:h", backtest ? backtest_opts : replay_opts,
                                  NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case O_FROM: from_s = optarg; break;
                case O_TO: to_s = optarg; break;
                case O_NS: ns_arg = optarg; break;
                case O_DLQ: dlq = optarg; break;
                case O_DRY: dry = 1; break;
                case O_LIVE: live = 1; break;
                case O_DELETE: delete_only = 1; break;
                case O_KEEP: keep = 1; break;
                case O_JSON: json = 1; break;
                case 'h':
                        (backtest ? rw_backtest_usage : rw_replay_usage)(stdout);
                        return RW_EXIT_OK;
                default:
                        (backtest ? rw_backtest_usage : rw_replay_usage)(stderr);
                        return RW_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch %s: unexpected argument '%s'\n", cmd, argv[optind]);
                return RW_EXIT_USAGE;
        }
        if (!from_s) {
                fprintf(stderr, "riskwatch %s: --from TIME is required\n", cmd);
                return RW_EXIT_USAGE;
        }
        {
                int bad_from = rw_replay_time(from_s, &from) != 0;
                if (bad_from || (to_s && rw_replay_time(to_s, &to))) {
                        fprintf(stderr, "riskwatch %s: --%s: expected YYYY-MM-DD, "
                                "YYYY-MM-DDTHH:MM:SSZ or s@MS, got \"%s\"\n", cmd,
                                bad_from ? "from" : "to", bad_from ? from_s : to_s);
                        return RW_EXIT_USAGE;
                }
        }
        if (to_s && to <= from) {
                fprintf(stderr, "riskwatch %s: --to must be later than --from\n", cmd);
                return RW_EXIT_USAGE;
        }
        if (backtest)
                dry = 1;        /* nothing to Kafka, dead letters counted */
        if (!(conf = rw_cli_conf_build(&cc, cmd)))
                return RW_EXIT_USAGE;
        if (rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr))) {
                rw_conf_destroy(conf);
                return RW_EXIT_USAGE;
        }
        /* Warm-up: the longest window any enabled rule reads. */
        warm = 2 * rw_rules_state_days(&params) * 86400000LL;
        if (params.dep_window_ms > warm)
                warm = params.dep_window_ms;
        rw_replay_ts(from_txt, sizeof(from_txt), from);
        rw_replay_ts(warm_txt, sizeof(warm_txt), from - warm);
        if (to_s)
                rw_replay_ts(to_txt, sizeof(to_txt), to);
        else
                snprintf(to_txt, sizeof(to_txt), "the end");

        /* Its own namespace, group, alerts topic; no dead letters. */
        snprintf(live_buf, sizeof(live_buf), "%s", rw_conf_get_str(conf, "state.namespace"));
        live_ns = live_buf;
        if (ns_arg) {
                snprintf(ns, sizeof(ns), "%s", ns_arg);
        } else {
                char compact[32];
                size_t o = 0;
                for (const char *c = from_txt; *c && o + 1 < sizeof(compact); c++)
                        if (*c != '-' && *c != ':')
                                compact[o++] = *c;
                compact[o] = '\0';
                snprintf(ns, sizeof(ns), "%.40s-%s-%s", live_ns, cmd, compact);
        }
        snprintf(live_alerts, sizeof(live_alerts), "%s", rw_conf_get_str(conf, "topics.alerts"));
        alerts = rw_conf_get_str(conf, "topics.alerts.replay");
        if (!live && (!strcmp(ns, live_ns) || !strcmp(alerts, rw_conf_get_str(conf, "topics.alerts")) ||
                      (dlq && !strcmp(dlq, rw_conf_get_str(conf, "topics.dlq"))))) {
                fprintf(stderr, "riskwatch %s: refusing to write to the live run's %s "
                        "(%s); pass --live to do it anyway\n", cmd,
                        !strcmp(ns, live_ns) ? "namespace" :
                        !strcmp(alerts, rw_conf_get_str(conf, "topics.alerts")) ?
                        "alerts topic" : "dead-letter topic",
                        !strcmp(ns, live_ns) ? ns :
                        !strcmp(alerts, rw_conf_get_str(conf, "topics.alerts")) ? alerts : dlq);
                rw_conf_destroy(conf);
                return RW_EXIT_USAGE;
        }
        snprintf(group, sizeof(group), "riskwatch-%s-%s", cmd, ns);
        snprintf(alerts_buf, sizeof(alerts_buf), "%s", alerts);
        alerts = alerts_buf;
        if (rw_conf_override(conf, "state.namespace", ns, "--namespace", errstr,
                             sizeof(errstr)) ||
            rw_conf_override(conf, "group.id", group, "replay", errstr, sizeof(errstr)) ||
            rw_conf_override(conf, "topics.alerts", alerts, "topics.alerts.replay", errstr,
                             sizeof(errstr)) ||
            (dlq && rw_conf_override(conf, "topics.dlq", dlq, "--dlq", errstr,
                                     sizeof(errstr)))) {
                fprintf(stderr, "riskwatch %s: %s\n", cmd, errstr);
                rw_conf_destroy(conf);
                return RW_EXIT_USAGE;
        }
        /* Never the live run's: checked on what the processor will read. */
        if (strcmp(rw_conf_get_str(conf, "state.namespace"), ns) ||
            strcmp(rw_conf_get_str(conf, "topics.alerts"), alerts) ||
            strcmp(rw_conf_get_str(conf, "group.id"), group))
                abort();
        rw_cli_signals();

        /* A replay starts from nothing. */
        if (rw_replay_purge(conf, &purged, errstr, sizeof(errstr))) {
                rw_log_error("replay: %s", errstr);
                rw_conf_destroy(conf);
                return RW_EXIT_RUNTIME;
        }
        if (delete_only) {
                rw_log_info("replay: namespace %s deleted (%" PRId64 " key(s))", ns, purged);
                rw_conf_destroy(conf);
                return RW_EXIT_OK;
        }
        if (purged)
                rw_log_info("replay: namespace %s held %" PRId64 " key(s) of an earlier "
                            "replay: deleted", ns, purged);

        /* Where each partition starts (the warm-up) and ends. */
        {
                static const char *const defaults[] = { "enable.auto.commit", "false", NULL };
                if (!(kconf = rw_kafka_conf_new(conf, defaults, errstr, sizeof(errstr))) ||
                    !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, sizeof(errstr)))) {
                        if (kconf)
                                rd_kafka_conf_destroy(kconf);
                        rw_log_error("replay: %s", errstr);
                        rw_conf_destroy(conf);
                        return RW_EXIT_RUNTIME;
                }
        }
        topics[0] = rw_conf_get_str(conf, "topics.orders");
        topics[1] = rw_conf_get_str(conf, "topics.support");
        starts = rd_kafka_topic_partition_list_new(16);
        ends = rd_kafka_topic_partition_list_new(16);
        for (int t = 0; t < 2; t++)
                if (rw_replay_partitions(rk, topics[t], from - warm, starts, errstr,
                                         sizeof(errstr)) ||
                    rw_replay_partitions(rk, topics[t], to_s ? to : -1, ends, errstr,
                                         sizeof(errstr)))
                        goto fail;
        if (rw_replay_offsets(rk, starts, errstr, sizeof(errstr)) ||
            rw_replay_offsets(rk, ends, errstr, sizeof(errstr)))
                goto fail;
        for (int i = 0; i < starts->cnt; i++) {
                int64_t n = ends->elems[i].offset - starts->elems[i].offset;
                ctx.total += n > 0 ? n : 0;
        }
        gaps = rw_replay_gaps(rk, starts, from - warm, gap_report, sizeof(gap_report));
        rd_kafka_destroy(rk);
        rk = NULL;
        rw_log_info("replay: %s .. %s, warmed up from %s; %" PRId64 " record(s); namespace "
                    "%s, alerts to %s%s", from_txt, to_txt, warm_txt, ctx.total, ns,
                    dry ? "nowhere (dry run)" : alerts,
                    dlq && !dry ? "" : ", dead letters counted only");
        if (gaps)
                rw_log_warn("replay: history the warm-up needs is gone: %s; alerts within the "
                            "longest rule window after --from may differ from the live run's",
                            gap_report);

        opts = (rw_processor_opts_t){
                .exit_at_eof = 1, .replay = 1, .emit_from = from,
                .start_offsets = starts, .end_offsets = ends,
                .no_alerts = dry, .no_dlq = dry || !dlq,
                .on_tick = rw_replay_progress, .opaque = &ctx,
                .on_alert = backtest ? rw_backtest_collect : NULL,
        };
        if (backtest && !(opts.alert_fp = fopen("/dev/null", "w"))) {
                rw_log_error("backtest: /dev/null: %s", strerror(errno));
                goto fail_quiet;
        }
        if (!backtest && *rw_conf_get_str(conf, "log.file") &&
            !(opts.alert_fp = fopen(rw_conf_get_str(conf, "log.file"), "a"))) {
                rw_log_error("replay: log.file %s: %s", rw_conf_get_str(conf, "log.file"),
                             strerror(errno));
                goto fail_quiet;
        }
        if (!(proc = rw_processor_new(conf, &opts, errstr, sizeof(errstr))))
                goto fail;
        ctx.proc = proc;
        ctx.tty = isatty(2);
        t0 = rw_mono_ms();
        err = rw_processor_run(proc, &rw_cli_stop, errstr, sizeof(errstr));
        if (ctx.drawn)
                fputc('\n', stderr);
        rw_processor_stats(proc, &stats);
        if (err) {
                rw_log_error("replay: %s", errstr);
                rc = RW_EXIT_RUNTIME;
        }
        rw_processor_stats_dlq_str(&stats, dlqstr, sizeof(dlqstr));
        rw_fmt_duration(took, sizeof(took), rw_mono_ms() - t0);
        rw_log_info("replay: %s .. %s: %" PRId64 " record(s) in %s (%.0f/s), %" PRId64
                    " applied, %" PRId64 " alert(s) emitted%s%s, %" PRId64 " transition(s) "
                    "before --from not emitted, %s%s; namespace %s",
                    from_txt, to_txt, stats.consumed, took,
                    (double)stats.consumed * 1000.0 / (double)(rw_mono_ms() - t0 + 1),
                    stats.applied, stats.alerts, dry ? "" : " to ", dry ? "" : alerts,
                    stats.suppressed, dlqstr, dlq && !dry ? "" : " (counted, not sent)", ns);
        if (gaps && !rc) {
                rw_log_warn("replay: incomplete warm-up: %s", gap_report);
                rc = RW_EXIT_INCOMPLETE;
        }
        rw_processor_destroy(proc);
        proc = NULL;
        if (backtest && (!rc || rc == RW_EXIT_INCOMPLETE)) {
                if (ctx.oom || rw_backtest_live(conf, live_alerts, from, to_s ? to : 0,
                                                &live_list, &live_read, errstr,
                                                sizeof(errstr)) ||
                    rw_diff_compute(&live_list, &ctx.test, &diff)) {
                        rw_log_error("backtest: reading what fired live from %s: %s",
                                     live_alerts, ctx.oom ? "out of memory" : errstr);
                        rc = RW_EXIT_RUNTIME;
                } else {
                        rw_log_info("backtest: %zu live transition(s) in the range (of %" PRId64
                                    " read from %s), %zu in the backtest", live_list.cnt,
                                    live_read, live_alerts, ctx.test.cnt);
                        if (json)
                                rw_backtest_json(stdout, &diff, &live_list, &ctx.test,
                                                 from_txt, to_s ? to_txt : NULL);
                        else
                                rw_backtest_print(stdout, &diff, &live_list, &ctx.test);
                }
                rw_diff_clear(&diff);
                rw_diff_list_clear(&live_list);
                if (!keep) {
                        if (rw_replay_purge(conf, &purged, errstr, sizeof(errstr)))
                                rw_log_warn("backtest: namespace %s not deleted: %s", ns,
                                            errstr);
                        else
                                rw_log_info("backtest: namespace %s deleted (%" PRId64
                                            " keys)", ns, purged);
                }
        }
        rw_diff_list_clear(&ctx.test);
        if (opts.alert_fp)
                fclose(opts.alert_fp);
        rd_kafka_topic_partition_list_destroy(starts);
        rd_kafka_topic_partition_list_destroy(ends);
        rw_conf_destroy(conf);
        return rc;
fail:
        rw_log_error("%s: %s", cmd, errstr);
fail_quiet:
        rw_diff_list_clear(&ctx.test);
        if (rk)
                rd_kafka_destroy(rk);
        rw_processor_destroy(proc);
        if (opts.alert_fp)
                fclose(opts.alert_fp);
        if (starts)
                rd_kafka_topic_partition_list_destroy(starts);
        if (ends)
                rd_kafka_topic_partition_list_destroy(ends);
        rw_conf_destroy(conf);
        return RW_EXIT_RUNTIME;
}

int rw_cmd_replay(int argc, char **argv) {
        return rw_replay_main(argc, argv, 0);
}

int rw_cmd_backtest(int argc, char **argv) {
        return rw_replay_main(argc, argv, 1);
}
