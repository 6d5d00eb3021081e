/* cmd_tail.c - `riskwatch tail`: follow the alerts topic and print one
 * readable line per alert transition (or one JSON line), filtered. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include "app/cli.h"
#include "app/reader.h"
#include "common/log.h"
#include "rules/rules.h"
#include "schemas/codec.h"
#include "schemas/registry.h"

enum {
        RW_TAIL_OPT_RULE = 256, RW_TAIL_OPT_SUBJECT, RW_TAIL_OPT_SEVERITY, RW_TAIL_OPT_STATUS,
        RW_TAIL_OPT_JSON, RW_TAIL_OPT_COLOR,
};

static void rw_tail_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch tail [OPTIONS]\n"
                "\n"
                "Follow topics.alerts and print one line per alert transition:\n"
                "  TIME STATUS SEVERITY RULE SUBJECT_TYPE/SUBJECT_ID SUMMARY\n"
                "TIME is the alert's event time (RFC 3339). Every partition is read, as\n"
                "kcat -C reads it (no consumer group, nothing committed). On a terminal,\n"
                "lines are coloured by severity (not when NO_COLOR is set). A record that\n"
                "is not a RiskAlert is reported on stderr, and tail goes on. With\n"
                "schema.registry.url, schema ids resolve through the registry.\n"
                "\n"
                "Filters (a transition is shown when it passes every filter given; a\n"
                "filter's values are a comma-separated list, or the option repeated):\n"
                "      --rule RULE         rule name or glob pattern: churn.order_drop,\n"
                "                          'churn.*'\n"
                "      --subject ID        subject id, or TYPE:ID (account:a-17, vendor:v-3,\n"
                "                          portfolio:accounts)\n"
                "      --severity SEV      info, warning, critical; SEV+ for that severity\n"
                "                          and above (warning+)\n"
                "      --status STATUS     firing or resolved\n"
                "\n"
                "Options:\n"
                "  -o, --offset OFFSET     where to start in each partition: end (default),\n"
                "                          beginning, -N (the last N records), TIME or s@TIME\n"
                "                          (the first record at or after TIME: RFC 3339 UTC,\n"
                "                          YYYY-MM-DD[THH:MM:SS[.mmm]Z], or milliseconds since\n"
                "                          the epoch after s@)\n"
                "  -n, --count COUNT       exit after COUNT lines\n"
                "  -e, --exit              exit once every partition is at its end\n"
                "      --json              one JSON object per line, as 'riskwatch decode'\n"
                "                          prints a record (times RFC 3339)\n"
                "      --color WHEN        auto (default: on a terminal, without NO_COLOR),\n"
                "                          always, never\n"
                "%s"
                "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 ok, 1 Kafka error (e.g. unknown topic), 2 usage error.\n",
                rw_cli_conf_help);
}

/* What a transition must match; an empty list matches everything. */
typedef struct rw_tail_filter_s {
        char **rules;           /* fnmatch(3) patterns */
        size_t rule_cnt, rule_size;
        struct rw_tail_subject_s {
                int type;       /* rw_subject_type_t, -1: any */
                char *id;
        } *subjects;
        size_t subject_cnt, subject_size;
        unsigned severities;    /* bit per rw_alert_severity_t; 0: any */
        unsigned statuses;      /* bit per rw_alert_status_t; 0: any */
} rw_tail_filter_t;

static void rw_tail_filter_clear(rw_tail_filter_t *f) {
        for (size_t i = 0; i < f->rule_cnt; i++)
                free(f->rules[i]);
        free(f->rules);
        for (size_t i = 0; i < f->subject_cnt; i++)
                free(f->subjects[i].id);
        free(f->subjects);
}

/* The symbol of `names` (cnt of them) that s names, case-insensitively, or -1. */
static int rw_tail_symbol(const char *s, size_t len, const char *(*name)(int), int cnt) {
        for (int i = 0; i < cnt; i++)
                if (strlen(name(i)) == len && !strncasecmp(s, name(i), len))
                        return i;
        return -1;
}

static const char *rw_tail_sev_name(int i) {
        return rw_alert_severity_name((rw_alert_severity_t)i);
}
static const char *rw_tail_status_name(int i) {
        return rw_alert_status_name((rw_alert_status_t)i);
}
static const char *rw_tail_subject_name(int i) {
        return rw_subject_type_name((rw_subject_type_t)i);
}

/* 1 if the glob pattern matches some rule riskwatch has. */
static int rw_tail_rule_known(const char *pattern) {
        for (int r = 0; r < RW_RULE__CNT; r++)
                if (!fnmatch(pattern, rw_rule_name((rw_rule_id_t)r), 0))
                        return 1;
        return 0;
}

/* Add one filter option's comma-separated values. RW_OK, or RW_ERR_CONFIG
 * with errstr naming the bad value. */
static rw_err_t rw_tail_filter_add(rw_tail_filter_t *f, int opt, const char *list,
                                   char *errstr, size_t errstr_size) {
        const char *p = list;

        do {
                size_t len = strcspn(p, ",");
                char *v = strndup(p, len);
                const char *colon;
                int k;

                if (!v)
                        abort();
                if (!len) {
                        snprintf(errstr, errstr_size, "an empty value in '%s'", list);
                        free(v);
                        return RW_ERR_CONFIG;
                }
                switch (opt) {
                case RW_TAIL_OPT_RULE:
                        if (!rw_tail_rule_known(v)) {
                                char names[1024] = "";

                                for (int r = 0; r < RW_RULE__CNT; r++)
                                        snprintf(names + strlen(names),
                                                 sizeof(names) - strlen(names), "%s%s",
                                                 r ? ", " : "", rw_rule_name((rw_rule_id_t)r));
                                snprintf(errstr, errstr_size, "--rule %s: matches no rule "
                                         "(%s)", v, names);
                                free(v);
                                return RW_ERR_CONFIG;
                        }
                        if (rw_grow(&f->rules, &f->rule_size, f->rule_cnt + 1,
                                    sizeof(*f->rules), 4))
                                abort();
                        f->rules[f->rule_cnt++] = v;
                        continue;
                case RW_TAIL_OPT_SUBJECT:
                        if (rw_grow(&f->subjects, &f->subject_size, f->subject_cnt + 1,
                                    sizeof(*f->subjects), 4))
                                abort();
                        k = -1;
                        if ((colon = strchr(v, ':')) &&
                            (k = rw_tail_symbol(v, (size_t)(colon - v), rw_tail_subject_name,
                                                RW_SUBJ_PORTFOLIO + 1)) >= 0)
                                memmove(v, colon + 1, strlen(colon + 1) + 1);
                        if (!*v) {
                                snprintf(errstr, errstr_size, "--subject %s: no id",
                                         list);
                                free(v);
                                return RW_ERR_CONFIG;
                        }
                        f->subjects[f->subject_cnt].type = k;
                        f->subjects[f->subject_cnt++].id = v;
                        continue;
                case RW_TAIL_OPT_SEVERITY: {
                        int plus = len > 1 && v[len - 1] == '+';

                        if ((k = rw_tail_symbol(v, len - (size_t)plus, rw_tail_sev_name,
                                                RW_SEV_CRITICAL + 1)) < 0) {
                                snprintf(errstr, errstr_size, "--severity %s: expected info, "
                                         "warning or critical (SEV+: and above)", v);
                                free(v);
                                return RW_ERR_CONFIG;
                        }
                        f->severities |= plus ? (1u << (RW_SEV_CRITICAL + 1)) - (1u << k) :
                                                1u << k;
                        break;
                }
                case RW_TAIL_OPT_STATUS:
                        if ((k = rw_tail_symbol(v, len, rw_tail_status_name,
                                                RW_ALERT_RESOLVED + 1)) < 0) {
                                snprintf(errstr, errstr_size, "--status %s: expected firing "
                                         "or resolved", v);
                                free(v);
                                return RW_ERR_CONFIG;
                        }
                        f->statuses |= 1u << k;
                        break;
                }
                free(v);
        } while (p += strcspn(p, ","), *p++ == ',');
        return RW_OK;
}

static int rw_tail_match(const rw_tail_filter_t *f, const rw_alert_t *a) {
        size_t i;

        if (f->severities && !(f->severities & 1u << a->severity))
                return 0;
        if (f->statuses && !(f->statuses & 1u << a->status))
                return 0;
        for (i = 0; i < f->rule_cnt; i++)
                if (!fnmatch(f->rules[i], a->rule, 0))
                        break;
        if (f->rule_cnt && i == f->rule_cnt)
                return 0;
        for (i = 0; i < f->subject_cnt; i++)
                if ((f->subjects[i].type < 0 || f->subjects[i].type == (int)a->subject_type) &&
                    !strcmp(f->subjects[i].id, a->subject_id))
                        break;
        return !f->subject_cnt || i < f->subject_cnt;
}

/* s with control characters shown as '?', so a line stays one line and a
 * record cannot drive the terminal. */
static void rw_tail_put_text(FILE *fp, const char *s) {
        for (; *s; s++)
                putc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
}

/* One transition for people. */
static void rw_tail_print_line(FILE *fp, const rw_alert_t *a, int color) {
        static const char *const sgr[] = { "\033[36m", "\033[33m", "\033[1;31m" };
        char tbuf[48];

        if (color && a->severity <= RW_SEV_CRITICAL)
                fputs(sgr[a->severity], fp);
        /* Columns as wide as their longest usual value: a time with
         * milliseconds, RESOLVED, CRITICAL, dependency.account_share. */
        fprintf(fp, "%-24s %-8s %-8s ", rw_fmt_time(tbuf, sizeof(tbuf), a->event_time),
                rw_alert_status_name(a->status), rw_alert_severity_name(a->severity));
        rw_tail_put_text(fp, a->rule);
        fprintf(fp, "%*s %s/", strlen(a->rule) < 24 ? (int)(24 - strlen(a->rule)) : 0, "",
                rw_subject_type_name(a->subject_type));
        rw_tail_put_text(fp, a->subject_id);
        putc(' ', fp);
        rw_tail_put_text(fp, a->summary);
        if (a->replay)
                fputs(" (replay)", fp);
        if (color)
                fputs("\033[0m", fp);
        putc('\n', fp);
}

int rw_cmd_tail(int argc, char **argv) {
        static const struct option longopts[] = {
                { "rule",     required_argument, NULL, RW_TAIL_OPT_RULE },
                { "subject",  required_argument, NULL, RW_TAIL_OPT_SUBJECT },
                { "severity", required_argument, NULL, RW_TAIL_OPT_SEVERITY },
                { "status",   required_argument, NULL, RW_TAIL_OPT_STATUS },
                { "offset",   required_argument, NULL, 'o' },
                { "count",    required_argument, NULL, 'n' },
                { "exit",     no_argument,       NULL, 'e' },
                { "json",     no_argument,       NULL, RW_TAIL_OPT_JSON },
                { "color",    required_argument, NULL, RW_TAIL_OPT_COLOR },
                { "help",     no_argument,       NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf = NULL;
        rw_codec_t *codec = NULL;
        rw_registry_t *reg = NULL;
        rw_reader_t *reader = NULL;
        rw_reader_opts_t ro = RW_READER_OPTS_INIT(RD_KAFKA_OFFSET_END);
        rw_tail_filter_t filter = { 0 };
        const char *topic, *no_color;
        int64_t max_cnt = 0, printed = 0, bad = 0;
        int opt, json = 0, color = -1;          /* -1: auto */
        int rc = RW_EXIT_USAGE;                 /* until the options and configuration are read */
        rw_err_t err;
        char errstr[1024];

        while ((opt = getopt_long(argc, argv, "c:X:o:n:eh", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case RW_TAIL_OPT_RULE:
                case RW_TAIL_OPT_SUBJECT:
                case RW_TAIL_OPT_SEVERITY:
                case RW_TAIL_OPT_STATUS:
                        if (rw_tail_filter_add(&filter, opt, optarg, errstr, sizeof(errstr))) {
                                fprintf(stderr, "riskwatch tail: %s\n", errstr);
                                goto done;
                        }
                        break;
                case 'o':
                        if (rw_reader_opt_offset(&ro, optarg) || ro.end_ts >= 0) {
                                fprintf(stderr, "riskwatch tail: -o %s: expected end, "
                                        "beginning, -N, TIME or s@TIME\n", optarg);
                                goto done;
                        }
                        break;
                case 'n':
                        if ((max_cnt = rw_reader_parse_uint(optarg, INT64_MAX)) < 1) {
                                fprintf(stderr, "riskwatch tail: -n %s: expected a count "
                                        ">= 1\n", optarg);
                                goto done;
                        }
                        break;
                case 'e':
                        ro.exit_eof = 1;
                        break;
                case RW_TAIL_OPT_JSON:
                        json = 1;
                        break;
                case RW_TAIL_OPT_COLOR:
                        if (!strcmp(optarg, "auto")) {
                                color = -1;
                        } else if (!strcmp(optarg, "always")) {
                                color = 1;
                        } else if (!strcmp(optarg, "never")) {
                                color = 0;
                        } else {
                                fprintf(stderr, "riskwatch tail: --color %s: expected auto, "
                                        "always or never\n", optarg);
                                goto done;
                        }
                        break;
                case 'h':
                        rw_tail_usage(stdout);
                        rc = RW_EXIT_OK;
                        goto done;
                default:
                        rw_tail_usage(stderr);
                        goto done;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch tail: unexpected argument '%s'\n", argv[optind]);
                goto done;
        }
        if (!(conf = rw_cli_conf_build(&cc, "tail")))
                goto done;
        /* no-color.org: NO_COLOR set and not empty turns colour off. */
        no_color = getenv("NO_COLOR");
        if (color < 0)
                color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
        rw_cli_signals();
        topic = rw_conf_get_str(conf, "topics.alerts");

        if (!(codec = rw_cli_codec_new(conf, &reg, errstr, sizeof(errstr)))) {
                rw_log_error("tail: %s", errstr);
                goto done;
        }
        rc = RW_EXIT_RUNTIME;
        if (!(reader = rw_reader_new(conf, topic, &ro, &err, errstr, sizeof(errstr)))) {
                rw_log_error("tail: %s", errstr);
                if (err == RW_ERR_CONFIG)
                        rc = RW_EXIT_USAGE;
                goto done;
        }

        rc = RW_EXIT_OK;
        while (!rw_cli_stop && (!max_cnt || printed < max_cnt)) {
                rd_kafka_message_t *rkm;
                rw_reader_ev_t ev = rw_reader_next(reader, 100, &rkm);
                rw_codec_status_t st;
                rw_record_t rec;

                if (ev == RW_READER_IDLE) {
                        if (fflush(stdout))
                                break;
                        continue;
                }
                if (ev == RW_READER_DONE)
                        break;
                if (ev == RW_READER_ERROR) {
                        rc = RW_EXIT_RUNTIME;
                        break;
                }
                st = rw_cli_decode(codec, RW_REC_ALERT, rkm->payload,
                                   rkm->payload ? rkm->len : 0, &rec, errstr, sizeof(errstr));
                if (st != RW_CODEC_OK) {
                        if (st != RW_CODEC_RETRY) {     /* RETRY: stopped while waiting */
                                fprintf(stderr, "riskwatch tail: %s [%" PRId32 "] offset %"
                                        PRId64 ": not a RiskAlert: %s: %s\n", topic,
                                        rkm->partition, rkm->offset, rw_codec_reason(st),
                                        errstr);
                                bad++;
                        }
                } else if (rw_tail_match(&filter, &rec.u.alert)) {
                        if (json) {
                                rw_reader_print_head(stdout, rkm, 0);
                                fputs(",\"value\":", stdout);
                                rw_record_print_json(&rec, stdout, RW_JSON_TIME_RFC3339);
                                fputs("}\n", stdout);
                        } else {
                                rw_tail_print_line(stdout, &rec.u.alert, color);
                        }
                        printed++;
                }
                rd_kafka_message_destroy(rkm);
        }
        if (fflush(stdout) || ferror(stdout)) {
                /* A reader that went away (| head) is not a failure. */
                if (errno != EPIPE) {
                        rw_log_error("tail: stdout: %s", strerror(errno));
                        rc = RW_EXIT_RUNTIME;
                }
        }
        rw_log_debug("tail: %lld line(s) printed, %lld record(s) not RiskAlerts",
                     (long long)printed, (long long)bad);
done:
        rw_reader_destroy(reader);
        rw_codec_destroy(codec);
        rw_registry_destroy(reg);
        rw_conf_destroy(conf);
        rw_tail_filter_clear(&filter);
        free(cc.xs);
        return rc;
}
