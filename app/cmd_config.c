/* cmd_config.c - `riskwatch config`: the effective configuration, or its reference. */
#include <stdio.h>
#include <getopt.h>
#include "app/cli.h"
#include "common/rw.h"

static void rw_config_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch config [OPTIONS]\n"
                "\n"
                "Print the effective configuration (defaults, then FILE, then -X),\n"
                "one key=value per line, secrets masked.\n"
                "\n"
                "Options:\n"
                "      --dump       the effective configuration (the default)\n"
                "      --markdown   the property reference as Markdown\n"
                "%s"
                "  -h, --help       this help\n", rw_cli_conf_help);
}

int rw_cmd_config(int argc, char **argv) {
        static const struct option longopts[] = {
                { "dump", no_argument, NULL, 'd' },
                { "markdown", no_argument, NULL, 'm' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf;
        int opt, markdown = 0;

        while ((opt = getopt_long(argc, argv, "c:X:h", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 'd': markdown = 0; break;
                case 'm': markdown = 1; break;
                case 'h': rw_config_usage(stdout); return RW_EXIT_OK;
                default: rw_config_usage(stderr); return RW_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch config: unexpected argument '%s'\n", argv[optind]);
                return RW_EXIT_USAGE;
        }
        if (markdown) {
                rw_conf_doc_markdown(stdout);
                return RW_EXIT_OK;
        }
        if (!(conf = rw_cli_conf_build(&cc, "config")))
                return RW_EXIT_USAGE;
        rw_conf_dump(conf, stdout);
        rw_conf_destroy(conf);
        return RW_EXIT_OK;
}
