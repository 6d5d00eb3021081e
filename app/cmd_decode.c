/* cmd_decode.c - `riskwatch decode`: read a topic like kcat -C and print
 * every record, decoded by the Avro contract, as one JSON line. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include "app/cli.h"
#include "app/reader.h"
#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"
#include "schemas/codec.h"
#include "schemas/registry.h"

enum { RW_DECODE_OPT_EPOCH = 256 };

/* How a topic's values are shown. */
typedef enum rw_decode_kind_e {
        RW_DECODE_ORDER = RW_REC_ORDER,
        RW_DECODE_SUPPORT = RW_REC_SUPPORT,
        RW_DECODE_ALERT = RW_REC_ALERT,
        RW_DECODE_BY_ID,        /* unknown topic: the frame's schema id decides */
        RW_DECODE_DLQ,          /* raw bytes plus the rw.* headers */
} rw_decode_kind_t;

static void rw_decode_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch decode -t TOPIC [OPTIONS]\n"
                "\n"
                "Read TOPIC as kcat -C does, without joining a consumer group (partitions\n"
                "are assigned directly; nothing is committed), and print each record as\n"
                "one JSON line on stdout:\n"
                "  {\"topic\":..,\"partition\":..,\"offset\":..,\"key\":..,\"timestamp\":..,\"value\":{..}}\n"
                "The value is decoded as the topic's record type: topics.orders OrderEvent,\n"
                "topics.support SupportEvent, topics.alerts RiskAlert; on any other topic\n"
                "the frame's schema id selects it. A topics.dlq record shows its original\n"
                "bytes (base64) and its rw.* headers. A record that cannot be decoded or\n"
                "validated has \"error\":{\"reason\":..,\"message\":..} instead of \"value\"\n"
                "(the contract's DLQ reasons: bad_magic, too_short, unknown_schema, ...).\n"
                "Times (the record's timestamp, occurred_at, event_time, emitted_at) are\n"
                "RFC 3339 strings, \"2026-03-04T05:55:00.250Z\"; --epoch prints them as\n"
                "milliseconds since the epoch. With schema.registry.url, schema ids\n"
                "resolve through the registry (waiting while it does not answer).\n"
                "\n"
                "Options:\n"
                "  -t, --topic TOPIC       topic to read (required)\n"
                "  -p, --partition N       only partition N (default: every partition)\n"
                "  -o, --offset OFFSET     start of each partition: beginning (default), end,\n"
                "                          an absolute offset, -N for the last N records,\n"
                "                          s@TIME (or just TIME) for the first record at or\n"
                "                          after TIME; e@TIME (a second -o) stops each\n"
                "                          partition before TIME. TIME: milliseconds since\n"
                "                          the epoch or RFC 3339 UTC, YYYY-MM-DD[THH:MM:SS[.mmm]Z]\n"
                "  -n, --count COUNT       exit after COUNT records\n"
                "  -e, --exit              exit once every partition is at its end (default:\n"
                "                          wait for more until SIGINT/SIGTERM)\n"
                "      --epoch             times as milliseconds since the epoch\n"
                "%s"
                "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 ok, 1 Kafka error (e.g. unknown topic), 2 usage error.\n",
                rw_cli_conf_help);
}

/*
 * JSON output.
 */

/* A dead-letter record: its original bytes and the rw.* headers. */
static void rw_decode_print_dlq(FILE *fp, const rd_kafka_message_t *rkm) {
        rd_kafka_headers_t *hdrs = NULL;
        const char *name;
        const void *val;
        size_t size, idx;
        int first = 1;

        fprintf(fp, ",\"value\":{\"bytes\":%zu,\"base64\":", rkm->payload ? rkm->len : 0);
        if (rkm->payload)
                rw_reader_print_base64(fp, rkm->payload, rkm->len);
        else
                fputs("null", fp);
        fputs(",\"headers\":{", fp);
        if (!rd_kafka_message_headers(rkm, &hdrs)) {
                for (idx = 0; !rd_kafka_header_get_all(hdrs, idx, &name, &val, &size); idx++) {
                        if (strncmp(name, "rw.", 3))
                                continue;
                        if (!first)
                                putc(',', fp);
                        first = 0;
                        rw_json_write_str(fp, name);
                        putc(':', fp);
                        rw_json_write_bytes(fp, val, size);
                }
        }
        fputs("}}", fp);
}

static void rw_decode_print_error(FILE *fp, rw_codec_status_t st, const char *msg) {
        fputs(",\"error\":{\"reason\":", fp);
        rw_json_write_str(fp, rw_codec_reason(st));
        fputs(",\"message\":", fp);
        rw_json_write_str(fp, msg);
        putc('}', fp);
}

/* One record, one line. */
static void rw_decode_print(FILE *fp, rw_codec_t *codec, rw_decode_kind_t kind,
                            const rw_validate_limits_t *vlim, int epoch,
                            const rd_kafka_message_t *rkm) {
        rw_codec_status_t st;
        rw_record_t rec;
        char errstr[512];

        rw_reader_print_head(fp, rkm, epoch);
        if (kind == RW_DECODE_DLQ) {
                rw_decode_print_dlq(fp, rkm);
                fputs("}\n", fp);
                return;
        }
        st = rw_cli_decode(codec, kind == RW_DECODE_BY_ID ? -1 : (int)kind, rkm->payload,
                           rkm->payload ? rkm->len : 0, &rec, errstr, sizeof(errstr));
        if (st == RW_CODEC_OK) {
                const char *what;       /* as riskwatch run judges it */
                int64_t now = rw_kafka_record_now(rkm, rw_now_ms(), &what);
                st = rw_record_validate(&rec, now, what, vlim, errstr, sizeof(errstr));
        }
        if (st == RW_CODEC_OK) {
                fputs(",\"value\":", fp);
                rw_record_print_json(&rec, fp, epoch ? 0 : RW_JSON_TIME_RFC3339);
        } else {
                rw_decode_print_error(fp, st, errstr);
        }
        fputs("}\n", fp);
}

int rw_cmd_decode(int argc, char **argv) {
        static const struct option longopts[] = {
                { "topic",     required_argument, NULL, 't' },
                { "partition", required_argument, NULL, 'p' },
                { "offset",    required_argument, NULL, 'o' },
                { "count",     required_argument, NULL, 'n' },
                { "exit",      no_argument,       NULL, 'e' },
                { "epoch",     no_argument,       NULL, RW_DECODE_OPT_EPOCH },
                { "help",      no_argument,       NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf = NULL;
        rw_codec_t *codec = NULL;
        rw_registry_t *reg = NULL;
        rw_reader_t *reader = NULL;
        rw_reader_opts_t ro = RW_READER_OPTS_INIT(RD_KAFKA_OFFSET_BEGINNING);
        rw_decode_kind_t kind = RW_DECODE_BY_ID;
        const char *topic = NULL;
        int64_t max_cnt = 0, printed = 0;
        rw_validate_limits_t vlim;
        int opt, epoch = 0;
        int rc = RW_EXIT_USAGE;         /* until the options and configuration are read */
        rw_err_t err;
        char errstr[1024];

        while ((opt = getopt_long(argc, argv, "c:X:t:p:o:n:eh", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 't':
                        topic = optarg;
                        break;
                case 'p':
                        if ((ro.partition = (int32_t)rw_reader_parse_uint(optarg,
                                                                          INT32_MAX)) < 0) {
                                fprintf(stderr, "riskwatch decode: -p %s: not a partition "
                                        "number\n", optarg);
                                goto done;
                        }
                        break;
                case 'o':
                        if (rw_reader_opt_offset(&ro, optarg)) {
                                fprintf(stderr, "riskwatch decode: -o %s: expected "
                                        RW_READER_OFFSET_FORMS "\n", optarg);
                                goto done;
                        }
                        break;
                case 'n':
                        if ((max_cnt = rw_reader_parse_uint(optarg, INT64_MAX)) < 1) {
                                fprintf(stderr, "riskwatch decode: -n %s: expected a count "
                                        ">= 1\n", optarg);
                                goto done;
                        }
                        break;
                case 'e':
                        ro.exit_eof = 1;
                        break;
                case RW_DECODE_OPT_EPOCH:
                        epoch = 1;
                        break;
                case 'h':
                        rw_decode_usage(stdout);
                        rc = RW_EXIT_OK;
                        goto done;
                default:
                        rw_decode_usage(stderr);
                        goto done;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "riskwatch decode: unexpected argument '%s'\n", argv[optind]);
                goto done;
        }
        if (!topic || !*topic) {
                fprintf(stderr, "riskwatch decode: -t TOPIC is required "
                        "(try 'riskwatch decode --help')\n");
                goto done;
        }
        if (!(conf = rw_cli_conf_build(&cc, "decode")))
                goto done;
        rw_cli_signals();

        if (!strcmp(topic, rw_conf_get_str(conf, "topics.orders")))
                kind = RW_DECODE_ORDER;
        else if (!strcmp(topic, rw_conf_get_str(conf, "topics.support")))
                kind = RW_DECODE_SUPPORT;
        else if (!strcmp(topic, rw_conf_get_str(conf, "topics.alerts")))
                kind = RW_DECODE_ALERT;
        else if (!strcmp(topic, rw_conf_get_str(conf, "topics.dlq")))
                kind = RW_DECODE_DLQ;
        rw_validate_limits_conf(&vlim, conf);

        if (!(codec = rw_cli_codec_new(conf, &reg, errstr, sizeof(errstr)))) {
                rw_log_error("decode: %s", errstr);
                goto done;
        }
        rc = RW_EXIT_RUNTIME;
        if (!(reader = rw_reader_new(conf, topic, &ro, &err, errstr, sizeof(errstr)))) {
                rw_log_error("decode: %s", errstr);
                if (err == RW_ERR_CONFIG)
                        rc = RW_EXIT_USAGE;
                goto done;
        }

        rc = RW_EXIT_OK;
        while (!rw_cli_stop && (!max_cnt || printed < max_cnt)) {
                rd_kafka_message_t *rkm;
                rw_reader_ev_t ev = rw_reader_next(reader, 100, &rkm);

                if (ev == RW_READER_IDLE) {
                        /* Show what has been printed. */
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
                rw_decode_print(stdout, codec, kind, &vlim, epoch, rkm);
                rd_kafka_message_destroy(rkm);
                printed++;
                if (!(printed & 1023))
                        rw_reader_poll(reader);
        }
        if (fflush(stdout) || ferror(stdout)) {
                /* A reader that went away (| head) is not a failure. */
                if (errno != EPIPE) {
                        rw_log_error("decode: stdout: %s", strerror(errno));
                        rc = RW_EXIT_RUNTIME;
                }
        }
        rw_log_debug("decode: %lld record(s) printed", (long long)printed);
done:
        rw_reader_destroy(reader);
        rw_codec_destroy(codec);
        rw_registry_destroy(reg);
        rw_conf_destroy(conf);
        free(cc.xs);
        return rc;
}
