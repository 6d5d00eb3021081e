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
#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"
#include "schemas/codec.h"

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
                "\n"
                "Options:\n"
                "  -t, --topic TOPIC       topic to read (required)\n"
                "  -p, --partition N       only partition N (default: every partition)\n"
                "  -o, --offset OFFSET     start of each partition: beginning (default), end,\n"
                "                          an absolute offset, or -N for the last N records\n"
                "  -n, --count COUNT       exit after COUNT records\n"
                "  -e, --exit              exit once every partition is at its end (default:\n"
                "                          wait for more until SIGINT/SIGTERM)\n"
                "%s"
                "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 ok, 1 Kafka error (e.g. unknown topic), 2 usage error.\n",
                rw_cli_conf_help);
}

/*
 * JSON output.
 */


/* buf[0..len) as a quoted base64 string (RFC 4648, padded). */
static void rw_decode_base64(FILE *fp, const void *buf, size_t len) {
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *p = buf;
        size_t i;

        putc('"', fp);
        for (i = 0; i + 2 < len; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
                putc(tab[v >> 18], fp);
                putc(tab[v >> 12 & 63], fp);
                putc(tab[v >> 6 & 63], fp);
                putc(tab[v & 63], fp);
        }
        if (i < len) {
                uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
                putc(tab[v >> 18], fp);
                putc(tab[v >> 12 & 63], fp);
                putc(i + 1 < len ? tab[v >> 6 & 63] : '=', fp);
                putc('=', fp);
        }
        putc('"', fp);
}

/* The fields every line starts with: where the record is, its key, its time.
 * A key that is not UTF-8 is also given exactly, as key_base64. */
static void rw_decode_print_head(FILE *fp, const rd_kafka_message_t *rkm) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);

        fputs("{\"topic\":", fp);
        rw_json_write_str(fp, rd_kafka_topic_name(rkm->rkt));
        fprintf(fp, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"key\":",
                rkm->partition, rkm->offset);
        rw_json_write_bytes(fp, rkm->key, rkm->key_len);
        if (rkm->key && !rw_utf8_valid(rkm->key, rkm->key_len)) {
                fputs(",\"key_base64\":", fp);
                rw_decode_base64(fp, rkm->key, rkm->key_len);
        }
        if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                fputs(",\"timestamp\":null", fp);
        else
                fprintf(fp, ",\"timestamp\":%" PRId64, ts);
}

/* A dead-letter record: its original bytes and the rw.* headers. */
static void rw_decode_print_dlq(FILE *fp, const rd_kafka_message_t *rkm) {
        rd_kafka_headers_t *hdrs = NULL;
        const char *name;
        const void *val;
        size_t size, idx;
        int first = 1;

        fprintf(fp, ",\"value\":{\"bytes\":%zu,\"base64\":", rkm->payload ? rkm->len : 0);
        if (rkm->payload)
                rw_decode_base64(fp, rkm->payload, rkm->len);
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
                            const rw_validate_limits_t *vlim, const rd_kafka_message_t *rkm) {
        const unsigned char *p = rkm->payload;
        rw_record_type_t type = (rw_record_type_t)kind;
        rw_codec_status_t st;
        rw_record_t rec;
        char errstr[512];

        rw_decode_print_head(fp, rkm);
        if (kind == RW_DECODE_DLQ) {
                rw_decode_print_dlq(fp, rkm);
                fputs("}\n", fp);
                return;
        }
        if (kind == RW_DECODE_BY_ID) {
                /* Anything that is not a known frame gets its verdict from the
                 * decoder itself, so the type tried then does not matter. */
                int t = -1;

                if (p && rkm->len >= 5 && p[0] == 0)
                        t = rw_codec_schema_type(codec, (int32_t)((uint32_t)p[1] << 24 |
                                                                  (uint32_t)p[2] << 16 |
                                                                  (uint32_t)p[3] << 8 | p[4]));
                type = t >= 0 ? (rw_record_type_t)t : RW_REC_ORDER;
        }
        st = rw_codec_decode(codec, type, rkm->payload, rkm->payload ? rkm->len : 0, &rec,
                             errstr, sizeof(errstr));
        if (st == RW_CODEC_OK)
                st = rw_record_validate(&rec, rw_now_ms(), vlim, errstr, sizeof(errstr));
        if (st == RW_CODEC_OK) {
                fputs(",\"value\":", fp);
                rw_record_print_json(&rec, fp);
        } else {
                rw_decode_print_error(fp, st, errstr);
        }
        fputs("}\n", fp);
}

/*
 * Options.
 */

/* A non-negative decimal integer up to max; -1 if s is not one. */
static int64_t rw_decode_parse_uint(const char *s, int64_t max) {
        char *end;
        long long v;

        if (!*s || *s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v > max)
                return -1;
        return v;
}

/* -o: beginning, end, N or -N. RW_OK or RW_ERR_CONFIG. */
static rw_err_t rw_decode_parse_offset(const char *s, int64_t *offsetp) {
        int64_t v;

        if (!strcmp(s, "beginning")) {
                *offsetp = RD_KAFKA_OFFSET_BEGINNING;
                return RW_OK;
        }
        if (!strcmp(s, "end")) {
                *offsetp = RD_KAFKA_OFFSET_END;
                return RW_OK;
        }
        if (*s == '-') {
                /* librdkafka encodes "N from the end" below OFFSET_TAIL_BASE. */
                if ((v = rw_decode_parse_uint(s + 1, -RD_KAFKA_OFFSET_TAIL_BASE)) < 1)
                        return RW_ERR_CONFIG;
                *offsetp = RD_KAFKA_OFFSET_TAIL(v);
                return RW_OK;
        }
        if ((v = rw_decode_parse_uint(s, INT64_MAX)) < 0)
                return RW_ERR_CONFIG;
        *offsetp = v;
        return RW_OK;
}

static int rw_decode_cmp_i32(const void *a, const void *b) {
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
        return (x > y) - (x < y);
}

/* The topic's partitions (sorted) from the cluster's metadata, or just
 * `only` after checking it exists. A topic that is still being created
 * (leader not yet elected) is asked again for a few seconds. Returns the
 * count, or -1 with errstr. *partsp is malloc()ed (caller frees). */
static int rw_decode_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t only,
                                int32_t **partsp, char *errstr, size_t errstr_size) {
        const struct rd_kafka_metadata *md = NULL;
        const char *topic = rd_kafka_topic_name(rkt);
        int64_t deadline = rw_mono_ms() + 10 * 1000;
        rd_kafka_resp_err_t err;
        int32_t *parts = NULL;
        int cnt = -1, i;

        *partsp = NULL;
        for (;;) {
                if ((err = rd_kafka_metadata(rk, 0, rkt, &md, 10 * 1000))) {
                        snprintf(errstr, errstr_size, "topic %s: metadata: %s", topic,
                                 rd_kafka_err2str(err));
                        md = NULL;
                        goto done;
                }
                err = md->topic_cnt == 1 ? md->topics[0].err :
                                           RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
                if (!err && md->topics[0].partition_cnt > 0)
                        break;
                if ((err && err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) ||
                    rw_mono_ms() >= deadline) {
                        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                                 err ? rd_kafka_err2str(err) : "no partitions");
                        goto done;
                }
                rd_kafka_metadata_destroy(md);
                md = NULL;
                rd_kafka_poll(rk, 200);
        }
        if (!(parts = malloc((size_t)md->topics[0].partition_cnt * sizeof(*parts)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        cnt = 0;
        for (i = 0; i < md->topics[0].partition_cnt; i++) {
                int32_t id = md->topics[0].partitions[i].id;

                if (only < 0 || id == only)
                        parts[cnt++] = id;
        }
        if (!cnt) {
                snprintf(errstr, errstr_size, "topic %s: no partition %" PRId32 " (it has %d)",
                         topic, only, md->topics[0].partition_cnt);
                cnt = -1;
                goto done;
        }
        qsort(parts, (size_t)cnt, sizeof(*parts), rw_decode_cmp_i32);
        *partsp = parts;
        parts = NULL;
done:
        free(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        return cnt;
}

/* Errors on the fetch path that mean the topic or partition is not there
 * (or not ours to read): nothing will come of waiting. Others (a broker
 * down, a leader moving) are retried by librdkafka. */
static int rw_decode_err_is_final(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        case RD_KAFKA_RESP_ERR__FATAL:
                return 1;
        default:
                return 0;
        }
}

int rw_cmd_decode(int argc, char **argv) {
        static const struct option longopts[] = {
                { "topic",     required_argument, NULL, 't' },
                { "partition", required_argument, NULL, 'p' },
                { "offset",    required_argument, NULL, 'o' },
                { "count",     required_argument, NULL, 'n' },
                { "exit",      no_argument,       NULL, 'e' },
                { "help",      no_argument,       NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        const char *eof_defaults[] = { "enable.partition.eof", "false",
                                       "enable.auto.commit", "false",
                                       "enable.auto.offset.store", "false",
                                       NULL };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf = NULL;
        rw_codec_t *codec = NULL;
        rd_kafka_conf_t *kconf = NULL;
        rd_kafka_t *rk = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_queue_t *rkqu = NULL;
        rw_decode_kind_t kind = RW_DECODE_BY_ID;
        const char *topic = NULL;
        int32_t only = -1, *parts = NULL;
        char *at_eof = NULL;
        int64_t offset = RD_KAFKA_OFFSET_BEGINNING, max_cnt = 0, printed = 0;
        rw_validate_limits_t vlim;
        int opt, exit_eof = 0, part_cnt = 0, started = 0, eof_cnt = 0;
        int rc = RW_EXIT_USAGE;         /* until the options and configuration are read */
        char errstr[1024], dirbuf[1024];

        while ((opt = getopt_long(argc, argv, "c:X:t:p:o:n:eh", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 't':
                        topic = optarg;
                        break;
                case 'p':
                        if ((only = (int32_t)rw_decode_parse_uint(optarg, INT32_MAX)) < 0) {
                                fprintf(stderr, "riskwatch decode: -p %s: not a partition "
                                        "number\n", optarg);
                                goto done;
                        }
                        break;
                case 'o':
                        if (rw_decode_parse_offset(optarg, &offset)) {
                                fprintf(stderr, "riskwatch decode: -o %s: expected beginning, "
                                        "end, an offset or -N\n", optarg);
                                goto done;
                        }
                        break;
                case 'n':
                        if ((max_cnt = rw_decode_parse_uint(optarg, INT64_MAX)) < 1) {
                                fprintf(stderr, "riskwatch decode: -n %s: expected a count "
                                        ">= 1\n", optarg);
                                goto done;
                        }
                        break;
                case 'e':
                        exit_eof = 1;
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
        if (!(conf = rw_cli_conf_build(&cc, "decode")) ||
            rw_cli_conf_check_supported(conf, "decode"))
                goto done;
        rw_cli_signals();
        rc = RW_EXIT_RUNTIME;

        if (!strcmp(topic, rw_conf_get_str(conf, "topics.orders")))
                kind = RW_DECODE_ORDER;
        else if (!strcmp(topic, rw_conf_get_str(conf, "topics.support")))
                kind = RW_DECODE_SUPPORT;
        else if (!strcmp(topic, rw_conf_get_str(conf, "topics.alerts")))
                kind = RW_DECODE_ALERT;
        else if (!strcmp(topic, rw_conf_get_str(conf, "topics.dlq")))
                kind = RW_DECODE_DLQ;
        rw_validate_limits_conf(&vlim, conf);

        if (!(codec = rw_codec_new(rw_schemas_dir(rw_conf_get_str(conf, "schemas.dir"),
                                                  dirbuf, sizeof(dirbuf)),
                                   errstr, sizeof(errstr)))) {
                rw_log_error("decode: %s", errstr);
                rc = RW_EXIT_USAGE;
                goto done;
        }
        if (exit_eof)
                eof_defaults[1] = "true";
        if (!(kconf = rw_kafka_conf_new(conf, eof_defaults, errstr, sizeof(errstr)))) {
                rw_log_error("decode: %s", errstr);
                rc = RW_EXIT_USAGE;
                goto done;
        }
        /* No group: the legacy consumer reads the partitions it is told to,
         * as kcat -C does, and never touches a group's offsets. */
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, sizeof(errstr)))) {
                rw_log_error("decode: %s", errstr);
                goto done;
        }
        kconf = NULL;
        if (!(rkt = rd_kafka_topic_new(rk, topic, NULL))) {
                rw_log_error("decode: topic %s: %s", topic,
                             rd_kafka_err2str(rd_kafka_last_error()));
                goto done;
        }
        if ((part_cnt = rw_decode_partitions(rk, rkt, only, &parts, errstr,
                                             sizeof(errstr))) < 0) {
                rw_log_error("decode: %s", errstr);
                goto done;
        }
        if (!(at_eof = calloc((size_t)parts[part_cnt - 1] + 1, 1)) ||
            !(rkqu = rd_kafka_queue_new(rk))) {
                rw_log_error("decode: out of memory");
                goto done;
        }
        for (started = 0; started < part_cnt; started++) {
                if (rd_kafka_consume_start_queue(rkt, parts[started], offset, rkqu) == -1) {
                        rw_log_error("decode: %s [%" PRId32 "]: %s", topic, parts[started],
                                     rd_kafka_err2str(rd_kafka_last_error()));
                        goto done;
                }
        }

        rc = RW_EXIT_OK;
        while (!rw_cli_stop && (!max_cnt || printed < max_cnt)) {
                rd_kafka_message_t *rkm = rd_kafka_consume_queue(rkqu, 100);

                if (!rkm) {
                        /* Idle: show what has been printed, serve client events. */
                        if (fflush(stdout))
                                break;
                        rd_kafka_poll(rk, 0);
                        continue;
                }
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (!at_eof[rkm->partition]) {
                                at_eof[rkm->partition] = 1;
                                eof_cnt++;
                        }
                        rd_kafka_message_destroy(rkm);
                        if (exit_eof && eof_cnt == part_cnt)
                                break;
                        continue;
                }
                if (rkm->err) {
                        int final = rw_decode_err_is_final(rkm->err);

                        rw_log(final ? RW_LOG_ERROR : RW_LOG_WARN, "decode: %s [%" PRId32 "]: %s",
                               topic, rkm->partition, rd_kafka_message_errstr(rkm));
                        rd_kafka_message_destroy(rkm);
                        if (final) {
                                rc = RW_EXIT_RUNTIME;
                                break;
                        }
                        continue;
                }
                /* New data after the end: that partition is not done after all. */
                if (at_eof[rkm->partition]) {
                        at_eof[rkm->partition] = 0;
                        eof_cnt--;
                }
                rw_decode_print(stdout, codec, kind, &vlim, rkm);
                rd_kafka_message_destroy(rkm);
                printed++;
                if (!(printed & 1023))
                        rd_kafka_poll(rk, 0);
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
        while (started > 0)
                rd_kafka_consume_stop(rkt, parts[--started]);
        if (rkqu)
                rd_kafka_queue_destroy(rkqu);
        free(at_eof);
        free(parts);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        if (rk)
                rd_kafka_destroy(rk);
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        rw_codec_destroy(codec);
        rw_conf_destroy(conf);
        free(cc.xs);
        return rc;
}
