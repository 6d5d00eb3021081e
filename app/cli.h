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

/* TIME for an option, as ms since the epoch: rw_time_parse()'s forms
 * ("YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ"), the latter also with a fraction
 * of a second ("...:SS.250Z", as riskwatch prints times). 0, or -1 if s is
 * none of them. */
int rw_cli_parse_time(const char *s, int64_t *msp);

struct rw_codec_s;
struct rw_registry_s;

/* The codec of a command: the catalogue of schemas.dir and, with
 * schema.registry.url, the registry client attached to it (writer schema
 * ids then resolve through the registry, as the contract says). *regp is
 * the client or NULL; the caller destroys the codec before the client.
 * NULL with errstr on failure (a bad catalogue, a malformed URL). */
struct rw_codec_s *rw_cli_codec_new(const rw_conf_t *conf, struct rw_registry_s **regp,
                                    char *errstr, size_t errstr_size);

/* With a registry, register the reader schema of `type` (rw_record_type_t)
 * under the subject `<topic>-value` and frame the codec's records of that
 * type with the id it assigns, as `run` does for alerts. RW_OK (also
 * without a registry), or RW_ERR_IO / RW_ERR_FAIL with errstr. */
rw_err_t rw_cli_register(struct rw_codec_s *codec, struct rw_registry_s *reg, int type,
                         const char *topic, char *errstr, size_t errstr_size);

struct rw_record_s;

/* rw_codec_decode() of buf as `type` (rw_record_type_t), or with type -1 as
 * the type its frame's schema id names. While the registry gives no answer
 * about the id, waits (a warning each time, backoff up to 10 s) and asks
 * again, until it answers or rw_cli_stop is set (then RW_CODEC_RETRY).
 * Returns the decode's verdict (an int: rw_codec_status_t). */
int rw_cli_decode(struct rw_codec_s *codec, int type, const void *buf, size_t len,
                  struct rw_record_s *rec, char *errstr, size_t errstr_size);

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
int rw_cmd_tail(int argc, char **argv);

#endif
