/* cli.h - what every riskwatch command shares: -c/-X handling, signals. */
#ifndef RW_CLI_H
#define RW_CLI_H

#include <signal.h>
#include "common/conf.h"

/* Collects -c FILE and -X KEY=VALUE while a command parses its options, and
 * builds the configuration afterwards (file first, then -X in order). */
typedef struct rw_cli_conf_s {
        const char *file;
        const char **xs;
        size_t x_cnt;
} rw_cli_conf_t;

/* Handle option `opt` if it is -c or -X: returns 1 if consumed. */
int rw_cli_conf_opt(rw_cli_conf_t *cc, int opt, const char *arg);

/* Build the configuration; NULL on error (printed, exit code 2 intended).
 * Also applies log.level. */
rw_conf_t *rw_cli_conf_build(rw_cli_conf_t *cc, const char *cmd);

/* -1 (after printing why) if conf asks for something this build cannot do. */
int rw_cli_conf_check_supported(const rw_conf_t *conf, const char *cmd);

/* The common option help lines. */
extern const char *rw_cli_conf_help;

/* Set on SIGINT/SIGTERM once rw_cli_signals() is installed. */
extern volatile sig_atomic_t rw_cli_stop;
void rw_cli_signals(void);

/* Commands: each returns a process exit code. */
int rw_cmd_run(int argc, char **argv);
int rw_cmd_demo(int argc, char **argv);
int rw_cmd_config(int argc, char **argv);
int rw_cmd_decode(int argc, char **argv);
int rw_cmd_gen(int argc, char **argv);
int rw_cmd_inspect(int argc, char **argv);
int rw_cmd_replay(int argc, char **argv);
int rw_cmd_backtest(int argc, char **argv);

#endif
