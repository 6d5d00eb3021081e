/* main.c - the riskwatch binary: command dispatch, --help, --version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include "app/cli.h"
#include "common/log.h"
#include "common/rw.h"
#include "ops/process.h"
#include "rules/rules.h"

volatile sig_atomic_t rw_cli_stop = 0;

static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *desc;
} rw_cmds[] = {
        { "run",    rw_cmd_run,    "consume order and support events, keep state, emit alerts" },
        { "demo",   rw_cmd_demo,   "the whole pipeline on an embedded Kafka and Redis, nothing to install" },
        { "config", rw_cmd_config, "print the effective configuration or the property reference" },
        { "decode", rw_cmd_decode, "print the records of a topic as JSON lines, decoded (kcat -C style)" },
        { "gen",    rw_cmd_gen,    "produce a generated order and support history to the input topics" },
        { "inspect", rw_cmd_inspect, "an account's or vendor's state, exactly as the rules see it" },
        { "replay", rw_cmd_replay, "the rules over a range of history, warmed up, beside the live run" },
        { "backtest", rw_cmd_backtest, "a replay with other settings, compared alert by alert with what fired live" },
        { "tail",   rw_cmd_tail,   "follow the alerts topic: one readable line per alert transition" },
};

const char *rw_cli_conf_help =
        "  -c FILE          read properties from FILE (key=value, # comments)\n"
        "  -X KEY=VALUE     set a property; wins over FILE; repeatable\n"
        "                   (kafka.* goes to librdkafka; see 'riskwatch config --markdown')\n";

static void rw_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch CMD [OPTIONS] [ARGS]\n"
                "\n"
                "Watches order and support event streams for churn signals and\n"
                "dependency risk; keeps rolling state in Redis; alerts on Kafka.\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < RW_ARRAY_SIZE(rw_cmds); i++)
                fprintf(fp, "  %-8s %s\n", rw_cmds[i].name, rw_cmds[i].desc);
        fprintf(fp,
                "\n"
                "Options:\n"
                "  -h, --help       this help; 'riskwatch CMD --help' for a command\n"
                "  -V, --version    print the version and exit\n"
                "\n"
                "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

int rw_cli_conf_opt(rw_cli_conf_t *cc, int opt, const char *arg) {
        if (opt == 'c') {
                cc->file = arg;
                return 1;
        }
        if (opt == 'X') {
                const char **nx = realloc(cc->xs, (cc->x_cnt + 1) * sizeof(*nx));
                if (!nx)
                        abort();
                cc->xs = nx;
                cc->xs[cc->x_cnt++] = arg;
                return 1;
        }
        return 0;
}

rw_conf_t *rw_cli_conf_build(rw_cli_conf_t *cc, const char *cmd) {
        rw_conf_t *conf = rw_conf_new();
        rw_rules_params_t params;
        char errstr[1024];

        if (cc->file && rw_conf_load_file(conf, cc->file, errstr, sizeof(errstr)))
                goto fail;
        for (size_t i = 0; i < cc->x_cnt; i++)
                if (rw_conf_set_arg(conf, cc->xs[i], errstr, sizeof(errstr)))
                        goto fail;
        /* What no single property can check (a critical threshold on the
         * wrong side of its warning one) fails here too, before anything
         * starts. */
        if (rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr)))
                goto fail;
        free(cc->xs);
        cc->xs = NULL;
        rw_log_set_level_name(rw_conf_get_str(conf, "log.level"));
        return conf;
fail:
        fprintf(stderr, "riskwatch %s: %s\n", cmd, errstr);
        free(cc->xs);
        cc->xs = NULL;
        rw_conf_destroy(conf);
        return NULL;
}

int rw_cli_parse_time(const char *s, int64_t *msp) {
        char base[32];
        const char *dot = strchr(s, '.');
        int64_t ms = 0, scale = 100;
        size_t n;

        if (!dot)
                return rw_time_parse(s, msp) ? 0 : -1;
        /* "YYYY-MM-DDTHH:MM:SS.fffZ": whole seconds to rw_time_parse(),
         * the fraction (1 to 9 digits, milliseconds kept) here. */
        n = (size_t)(dot - s);
        if (n + 2 > sizeof(base))
                return -1;
        memcpy(base, s, n);
        base[n] = 'Z';
        base[n + 1] = '\0';
        for (s = dot + 1, n = 0; *s >= '0' && *s <= '9'; s++, n++) {
                ms += (*s - '0') * scale;
                scale /= 10;
        }
        if (n < 1 || n > 9 || strcmp(s, "Z") || !strchr(base, 'T') ||
            !rw_time_parse(base, msp))
                return -1;
        *msp += ms;
        return 0;
}

static void rw_cli_on_signal(int sig) {
        (void)sig;
        if (rw_cli_stop) {
                /* Second Ctrl-C: stop waiting for a clean exit. */
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
        }
        rw_cli_stop = 1;
}

void rw_cli_signals(void) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = rw_cli_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv) {
        const char *cmd;

        rw_process_malloc_tune();
        if (argc < 2) {
                rw_usage(stderr);
                return RW_EXIT_USAGE;
        }
        cmd = argv[1];
        if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
                rw_usage(stdout);
                return RW_EXIT_OK;
        }
        if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
                printf("riskwatch %s (librdkafka %s)\n", RW_VERSION_STR,
                       rd_kafka_version_str());
                return RW_EXIT_OK;
        }
        for (size_t i = 0; i < RW_ARRAY_SIZE(rw_cmds); i++)
                if (!strcmp(cmd, rw_cmds[i].name))
                        return rw_cmds[i].fn(argc - 1, argv + 1);
        fprintf(stderr, "riskwatch: unknown command '%s' (try 'riskwatch --help')\n", cmd);
        return RW_EXIT_USAGE;
}
