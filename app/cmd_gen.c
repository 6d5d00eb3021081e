/* cmd_gen.c - `riskwatch gen`: produce a generated, contract-conformant
 * order and support history to the input topics. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <getopt.h>
#include "app/cli.h"
#include "common/log.h"
#include "gen/gen.h"
#include "producers/history.h"
#include "schemas/codec.h"
#include "schemas/registry.h"

enum {
        RW_GEN_OPT_RATE = 256, RW_GEN_OPT_SEED, RW_GEN_OPT_ACCOUNTS, RW_GEN_OPT_DAYS,
        RW_GEN_OPT_START, RW_GEN_OPT_SCENARIO, RW_GEN_OPT_NO_DOMINANT, RW_GEN_OPT_LABELS,
};

static void rw_gen_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch gen [OPTIONS]\n"
                "\n"
                "Produce a generated history to topics.orders and topics.support through\n"
                "the Kafka client: framed Avro per the contract, keyed by account_id, with\n"
                "occurred_at as the Kafka timestamp. The same options and seed always give\n"
                "the same events. Event ids derive from the seed and the start: a history\n"
                "with another seed or start is new events, not duplicates of this one.\n"
                "Accounts are steady, or (by default 4%% each) fading, vanished, angry or\n"
                "refunding from an onset on, plus one dominant account and vendor. A\n"
                "summary goes to stderr at the end. With schema.registry.url, the\n"
                "OrderEvent and SupportEvent schemas are registered under the subjects\n"
                "<topics.orders>-value and <topics.support>-value and records are framed\n"
                "with the ids the registry assigns (a registry that does not answer is\n"
                "an error).\n"
                "\n"
                "Options:\n"
                "  -n, --count COUNT       stop after COUNT events (default: the whole history;\n"
                "                          a shorter history is produced whole, and said)\n"
                "      --rate N            at most N events per second (default: as fast as\n"
                "                          the client takes them)\n"
                "      --seed N            random seed (default 42)\n"
                "      --accounts N        number of accounts, the dominant one included\n"
                "                          (default 300)\n"
                "      --days N            days of history (default 180)\n"
                "      --start TIME        event time of day 0: YYYY-MM-DD[THH:MM[:SS[.mmm]]]\n"
                "                          [Z|+HH:MM|-HH:MM] (UTC if no zone) or milliseconds\n"
                "                          since the epoch (default 2026-01-01T00:00:00Z)\n"
                "      --scenario LIST     comma-separated churn scenarios that appear, of\n"
                "                          steady,fading,vanished,angry,refunding; the others\n"
                "                          get no accounts (default: all)\n"
                "      --no-dominant       no dominant account and no dominant vendor\n"
                "      --labels FILE       write every account's label as CSV to FILE:\n"
                "                          account_id,scenario,onset_ms (onset empty for\n"
                "                          steady and dominant accounts)\n"
                "%s"
                "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 ok (also when stopped by SIGINT/SIGTERM), 1 delivery or\n"
                "other runtime failure, 2 usage or configuration error.\n",
                rw_cli_conf_help);
}

/* A non-negative decimal integer up to max; -1 if s is not one. */
static int64_t rw_gen_parse_uint(const char *s, int64_t max) {
        char *end;
        long long v;

        if (*s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v > max)
                return -1;
        return v;
}

/* `n` digits at *sp as an integer, advancing *sp; -1 if they are not digits. */
static int rw_gen_digits(const char **sp, int n) {
        int v = 0;

        for (; n > 0; n--, (*sp)++) {
                if (**sp < '0' || **sp > '9')
                        return -1;
                v = v * 10 + (**sp - '0');
        }
        return v;
}

/* --start: milliseconds since the epoch, or an ISO 8601 date or date-time
 * (UTC unless it names an offset). RW_OK or RW_ERR_CONFIG. */
static rw_err_t rw_gen_parse_start(const char *s, int64_t *msp) {
        struct tm tm = { 0 }, chk;
        int64_t v, ms = 0, off_min = 0;
        time_t t;

        if ((v = rw_gen_parse_uint(s, INT64_MAX / 4)) >= 0) {
                *msp = v;
                return RW_OK;
        }
        if ((tm.tm_year = rw_gen_digits(&s, 4)) < 0 || *s++ != '-' ||
            (tm.tm_mon = rw_gen_digits(&s, 2)) < 0 || *s++ != '-' ||
            (tm.tm_mday = rw_gen_digits(&s, 2)) < 0)
                return RW_ERR_CONFIG;
        if (*s == 'T' || *s == 't') {
                s++;
                if ((tm.tm_hour = rw_gen_digits(&s, 2)) < 0 || *s++ != ':' ||
                    (tm.tm_min = rw_gen_digits(&s, 2)) < 0)
                        return RW_ERR_CONFIG;
                if (*s == ':') {
                        s++;
                        if ((tm.tm_sec = rw_gen_digits(&s, 2)) < 0)
                                return RW_ERR_CONFIG;
                        if (*s == '.') {
                                s++;
                                if ((ms = rw_gen_digits(&s, 3)) < 0)
                                        return RW_ERR_CONFIG;
                        }
                }
                if (*s == 'Z' || *s == 'z') {
                        s++;
                } else if (*s == '+' || *s == '-') {
                        int sign = *s++ == '-' ? -1 : 1, hh, mm;

                        if ((hh = rw_gen_digits(&s, 2)) < 0 || *s++ != ':' ||
                            (mm = rw_gen_digits(&s, 2)) < 0 || hh > 23 || mm > 59)
                                return RW_ERR_CONFIG;
                        off_min = sign * (hh * 60 + mm);
                }
        }
        if (*s)
                return RW_ERR_CONFIG;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        chk = tm;
        /* timegm() normalises 2026-02-30 to March: a changed field means the
         * date does not exist. */
        if ((t = timegm(&tm)) == (time_t)-1 || chk.tm_mon != tm.tm_mon ||
            chk.tm_mday != tm.tm_mday || chk.tm_hour != tm.tm_hour ||
            chk.tm_min != tm.tm_min || chk.tm_sec != tm.tm_sec)
                return RW_ERR_CONFIG;
        v = ((int64_t)t - off_min * 60) * 1000 + ms;
        if (v < 0)
                return RW_ERR_CONFIG;
        *msp = v;
        return RW_OK;
}

/* --scenario: keep the default fraction of the listed churn scenarios, 0
 * for the others. RW_OK or RW_ERR_CONFIG with the offending name. */
static rw_err_t rw_gen_parse_scenarios(const char *list, rw_gen_params_t *gp,
                                       char *errstr, size_t errstr_size) {
        rw_gen_params_t def;
        const char *p = list;

        rw_gen_params_default(&def);
        gp->fading_frac = gp->vanished_frac = gp->angry_frac = gp->refunding_frac = 0.0;
        do {
                size_t len = strcspn(p, ",");
                int s;

                for (s = 0; s < RW_GEN_DOMINANT; s++) {
                        const char *name = rw_gen_scenario_name((rw_gen_scenario_t)s);
                        if (len == strlen(name) && !strncmp(p, name, len))
                                break;
                }
                switch (s) {
                case RW_GEN_STEADY:    break;  /* every account without another scenario */
                case RW_GEN_FADING:    gp->fading_frac = def.fading_frac; break;
                case RW_GEN_VANISHED:  gp->vanished_frac = def.vanished_frac; break;
                case RW_GEN_ANGRY:     gp->angry_frac = def.angry_frac; break;
                case RW_GEN_REFUNDING: gp->refunding_frac = def.refunding_frac; break;
                default:
                        snprintf(errstr, errstr_size, "--scenario: unknown scenario '%.*s' "
                                 "(steady, fading, vanished, angry, refunding%s)", (int)len, p,
                                 len == 8 && !strncmp(p, "dominant", 8) ?
                                 "; --no-dominant turns the dominant one off" : "");
                        return RW_ERR_CONFIG;
                }
                p += len;
        } while (*p++ == ',');
        return RW_OK;
}

/* The labels of every account the generator has, as CSV. */
static rw_err_t rw_gen_write_labels(const rw_gen_t *gen, const char *path,
                                    char *errstr, size_t errstr_size) {
        FILE *fp = fopen(path, "w");
        int i;

        if (!fp) {
                snprintf(errstr, errstr_size, "--labels %s: %s", path, strerror(errno));
                return RW_ERR_IO;
        }
        fputs("account_id,scenario,onset_ms\n", fp);
        for (i = 0; i < rw_gen_account_cnt(gen); i++) {
                const char *id;
                rw_gen_scenario_t s;
                int64_t onset;

                rw_gen_account_info(gen, i, &id, &s, &onset);
                fprintf(fp, "%s,%s,", id, rw_gen_scenario_name(s));
                if (onset != RW_GEN_NO_ONSET)
                        fprintf(fp, "%lld", (long long)onset);
                putc('\n', fp);
        }
        if (ferror(fp) | fclose(fp)) {
                snprintf(errstr, errstr_size, "--labels %s: %s", path, strerror(errno));
                return RW_ERR_IO;
        }
        return RW_OK;
}

static void rw_gen_on_progress(void *opaque, const rw_history_stats_t *st) {
        int64_t n = st->orders + st->support;
        (void)opaque;
        rw_log_info("gen: %lld events so far (%lld orders, %lld support), %.0f/s",
                    (long long)n, (long long)st->orders, (long long)st->support,
                    st->elapsed_ms > 0 ? (double)n * 1000.0 / (double)st->elapsed_ms : 0.0);
}

int rw_cmd_gen(int argc, char **argv) {
        static const struct option longopts[] = {
                { "count",       required_argument, NULL, 'n' },
                { "rate",        required_argument, NULL, RW_GEN_OPT_RATE },
                { "seed",        required_argument, NULL, RW_GEN_OPT_SEED },
                { "accounts",    required_argument, NULL, RW_GEN_OPT_ACCOUNTS },
                { "days",        required_argument, NULL, RW_GEN_OPT_DAYS },
                { "start",       required_argument, NULL, RW_GEN_OPT_START },
                { "scenario",    required_argument, NULL, RW_GEN_OPT_SCENARIO },
                { "no-dominant", no_argument,       NULL, RW_GEN_OPT_NO_DOMINANT },
                { "labels",      required_argument, NULL, RW_GEN_OPT_LABELS },
                { "help",        no_argument,       NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf = NULL;
        rw_codec_t *codec = NULL;
        rw_registry_t *reg = NULL;
        rw_gen_t *gen = NULL;
        rw_gen_params_t gp;
        rw_history_opts_t hopts = { .stop = &rw_cli_stop, .on_progress = rw_gen_on_progress,
                                    .progress_ms = 5000 };
        rw_history_stats_t hs;
        const char *labels = NULL;
        char errstr[1024], *end;
        int opt, rc = RW_EXIT_USAGE;            /* until the options are read */
        int64_t v, n;
        rw_err_t err;

        rw_gen_params_default(&gp);
        while ((opt = getopt_long(argc, argv, "c:X:n:h", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 'n':
                        if ((hopts.max_cnt = rw_gen_parse_uint(optarg, INT64_MAX)) < 1) {
                                fprintf(stderr, "riskwatch gen: -n %s: expected a count "
                                        ">= 1\n", optarg);
                                goto done;
                        }
                        break;
                case RW_GEN_OPT_RATE:
                        errno = 0;
                        hopts.rate = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !isfinite(hopts.rate) ||
                            hopts.rate <= 0) {
                                fprintf(stderr, "riskwatch gen: --rate %s: expected events "
                                        "per second > 0\n", optarg);
                                goto done;
                        }
                        break;
                case RW_GEN_OPT_SEED:
                        if ((v = rw_gen_parse_uint(optarg, INT64_MAX)) < 0) {
                                fprintf(stderr, "riskwatch gen: --seed %s: expected a "
                                        "non-negative integer\n", optarg);
                                goto done;
                        }
                        gp.seed = (uint64_t)v;
                        break;
                case RW_GEN_OPT_ACCOUNTS:
                case RW_GEN_OPT_DAYS:
                        if ((v = rw_gen_parse_uint(optarg, 1000000)) < 1) {
                                fprintf(stderr, "riskwatch gen: --%s %s: expected a positive "
                                        "integer\n", opt == RW_GEN_OPT_DAYS ? "days" :
                                        "accounts", optarg);
                                goto done;
                        }
                        if (opt == RW_GEN_OPT_DAYS)
                                gp.days = (int)v;
                        else
                                gp.accounts = (int)v;
                        break;
                case RW_GEN_OPT_START:
                        if (rw_gen_parse_start(optarg, &gp.start_ms)) {
                                fprintf(stderr, "riskwatch gen: --start %s: expected "
                                        "YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z|+HH:MM] or "
                                        "milliseconds since the epoch\n", optarg);
                                goto done;
                        }
                        break;
                case RW_GEN_OPT_SCENARIO:
                        if (rw_gen_parse_scenarios(optarg, &gp, errstr, sizeof(errstr))) {
                                fprintf(stderr, "riskwatch gen: %s\n", errstr);
                                goto done;
                        }
                        break;
                case RW_GEN_OPT_NO_DOMINANT:
                        gp.dominant_account = 0;
                        gp.dominant_vendor = 0;
                        break;
                case RW_GEN_OPT_LABELS:
                        labels = optarg;
                        break;
                case 'h':
                        rw_gen_usage(stdout);
                        rc = RW_EXIT_OK;
                        goto done;
                default:
                        rw_gen_usage(stderr);
                        goto done;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch gen: unexpected argument '%s'\n", argv[optind]);
                goto done;
        }
        if (!(conf = rw_cli_conf_build(&cc, "gen")))
                goto done;
        if (!(gen = rw_gen_new(&gp, errstr, sizeof(errstr)))) {
                fprintf(stderr, "riskwatch gen: %s\n", errstr);
                goto done;
        }
        if (!(codec = rw_cli_codec_new(conf, &reg, errstr, sizeof(errstr)))) {
                rw_log_error("gen: %s", errstr);
                goto done;
        }
        rc = RW_EXIT_RUNTIME;
        /* With a registry, records are framed with the ids it assigns, as
         * run frames its alerts. */
        if (rw_cli_register(codec, reg, RW_REC_ORDER, rw_conf_get_str(conf, "topics.orders"),
                            errstr, sizeof(errstr)) ||
            rw_cli_register(codec, reg, RW_REC_SUPPORT,
                            rw_conf_get_str(conf, "topics.support"), errstr, sizeof(errstr))) {
                rw_log_error("gen: %s", errstr);
                goto done;
        }
        if (labels && rw_gen_write_labels(gen, labels, errstr, sizeof(errstr))) {
                rw_log_error("gen: %s", errstr);
                goto done;
        }
        rw_cli_signals();

        err = rw_history_produce(conf, codec, gen, &hopts, &hs, errstr, sizeof(errstr));
        n = hs.orders + hs.support;
        fprintf(stderr, "gen: %lld events produced (%lld orders, %lld support) to %s, %s "
                "in %.2f s, %.0f events/s",
                (long long)n, (long long)hs.orders, (long long)hs.support,
                rw_conf_get_str(conf, "topics.orders"), rw_conf_get_str(conf, "topics.support"),
                (double)hs.elapsed_ms / 1000.0,
                hs.elapsed_ms > 0 ? (double)n * 1000.0 / (double)hs.elapsed_ms : 0.0);
        if (hs.delivered != n)
                fprintf(stderr, "; %lld delivered, %lld failed", (long long)hs.delivered,
                        (long long)hs.failed);
        /* -n asked for more than the history holds: say so, not silently. */
        if (!err && !rw_cli_stop && hopts.max_cnt > 0 && n < hopts.max_cnt)
                fprintf(stderr, "; the whole history, fewer than -n %lld (more --accounts "
                        "or --days make it longer)", (long long)hopts.max_cnt);
        fprintf(stderr, "%s\n", rw_cli_stop ? " (interrupted)" : "");
        if (err) {
                rw_log_error("gen: %s", errstr);
                rc = err == RW_ERR_CONFIG ? RW_EXIT_USAGE : RW_EXIT_RUNTIME;
                goto done;
        }
        rc = RW_EXIT_OK;
done:
        rw_codec_destroy(codec);
        rw_registry_destroy(reg);
        rw_gen_destroy(gen);
        rw_conf_destroy(conf);
        free(cc.xs);
        return rc;
}
