/* reader.c - a topic read as kcat -C reads it (no group, nothing committed):
 * start positions, partitions, end-of-partition tracking. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "app/cli.h"
#include "app/reader.h"
#include "common/json.h"
#include "common/kafka.h"
#include "common/log.h"

struct rw_reader_s {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        rd_kafka_queue_t *rkqu;
        int32_t *parts;         /* sorted partition ids */
        int part_cnt;
        int started;            /* partitions started so far */
        char *at_eof;           /* by partition id: 1 while at its end */
        char *at_end_ts;        /* by partition id: 1 once past end_ts */
        int eof_cnt, end_ts_cnt;
        rw_reader_opts_t o;
};

int64_t rw_reader_parse_uint(const char *s, int64_t max) {
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

/* TIME: milliseconds since the epoch or an RFC 3339 time. */
static rw_err_t rw_reader_parse_ts(const char *s, int64_t *msp) {
        int64_t v;

        if ((v = rw_reader_parse_uint(s, INT64_MAX)) >= 0) {
                *msp = v;
                return RW_OK;
        }
        return rw_cli_parse_time(s, msp) ? RW_ERR_CONFIG : RW_OK;
}

rw_err_t rw_reader_opt_offset(rw_reader_opts_t *o, const char *s) {
        int64_t v;

        if (!strcmp(s, "beginning")) {
                o->offset = RD_KAFKA_OFFSET_BEGINNING;
                o->start_ts = -1;
                return RW_OK;
        }
        if (!strcmp(s, "end")) {
                o->offset = RD_KAFKA_OFFSET_END;
                o->start_ts = -1;
                return RW_OK;
        }
        if (!strncmp(s, "s@", 2))
                return rw_reader_parse_ts(s + 2, &o->start_ts);
        if (!strncmp(s, "e@", 2))
                return rw_reader_parse_ts(s + 2, &o->end_ts);
        if (*s == '-') {
                /* librdkafka encodes "N from the end" below OFFSET_TAIL_BASE. */
                if ((v = rw_reader_parse_uint(s + 1, -RD_KAFKA_OFFSET_TAIL_BASE)) < 1)
                        return RW_ERR_CONFIG;
                o->offset = RD_KAFKA_OFFSET_TAIL(v);
                o->start_ts = -1;
                return RW_OK;
        }
        if ((v = rw_reader_parse_uint(s, INT64_MAX)) >= 0) {
                o->offset = v;
                o->start_ts = -1;
                return RW_OK;
        }
        return rw_cli_parse_time(s, &o->start_ts) ? RW_ERR_CONFIG : RW_OK;
}

static int rw_reader_cmp_i32(const void *a, const void *b) {
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
        return (x > y) - (x < y);
}

/* The topic's partitions (sorted) from the cluster's metadata, or just
 * `only` after checking it exists. A topic that is still being created
 * (leader not yet elected) is asked again for a few seconds. Returns the
 * count, or -1 with errstr. *partsp is malloc()ed (caller frees). */
static int rw_reader_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t only,
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
        qsort(parts, (size_t)cnt, sizeof(*parts), rw_reader_cmp_i32);
        *partsp = parts;
        parts = NULL;
done:
        free(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        return cnt;
}

/* Each partition's offset of its first record at or after `ts`
 * (rd_kafka_offsets_for_times()); the end where there is none yet.
 * offsets[i] is for parts[i]. RW_OK or RW_ERR_FAIL with errstr. */
static rw_err_t rw_reader_offsets_for_time(rw_reader_t *r, int64_t ts, int64_t *offsets,
                                           char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(r->part_cnt);
        const char *topic = rd_kafka_topic_name(r->rkt);
        rd_kafka_resp_err_t err;
        rw_err_t ret = RW_ERR_FAIL;
        int i;

        for (i = 0; i < r->part_cnt; i++)
                rd_kafka_topic_partition_list_add(tps, topic, r->parts[i])->offset = ts;
        if ((err = rd_kafka_offsets_for_times(r->rk, tps, 10 * 1000))) {
                snprintf(errstr, errstr_size, "topic %s: offsets for time %" PRId64 ": %s",
                         topic, ts, rd_kafka_err2str(err));
                goto done;
        }
        for (i = 0; i < r->part_cnt; i++) {
                rd_kafka_topic_partition_t *tp =
                        rd_kafka_topic_partition_list_find(tps, topic, r->parts[i]);

                if (!tp || tp->err) {
                        snprintf(errstr, errstr_size, "%s [%" PRId32 "]: offsets for time: %s",
                                 topic, r->parts[i],
                                 rd_kafka_err2str(tp ? tp->err :
                                                  RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION));
                        goto done;
                }
                /* -1: no record at or after ts yet; new ones come at the end. */
                offsets[i] = tp->offset < 0 ? RD_KAFKA_OFFSET_END : tp->offset;
        }
        ret = RW_OK;
done:
        rd_kafka_topic_partition_list_destroy(tps);
        return ret;
}

rw_reader_t *rw_reader_new(const rw_conf_t *conf, const char *topic,
                           const rw_reader_opts_t *o, rw_err_t *errp,
                           char *errstr, size_t errstr_size) {
        const char *defaults[] = { "enable.partition.eof", "false",
                                   "enable.auto.commit", "false",
                                   "enable.auto.offset.store", "false",
                                   NULL };
        rd_kafka_conf_t *kconf = NULL;
        rw_reader_t *r = NULL;
        int64_t *offsets = NULL;
        int i;

        *errp = RW_ERR_FAIL;
        if (!(r = calloc(1, sizeof(*r)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        r->o = *o;
        /* End-of-partition events serve -e; without it nothing waits on them. */
        if (o->exit_eof)
                defaults[1] = "true";
        if (!(kconf = rw_kafka_conf_new(conf, defaults, errstr, errstr_size))) {
                *errp = RW_ERR_CONFIG;
                goto fail;
        }
        /* No group: the legacy consumer reads the partitions it is told to,
         * as kcat -C does, and never touches a group's offsets. */
        if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, errstr_size)))
                goto fail;
        kconf = NULL;
        if (!(r->rkt = rd_kafka_topic_new(r->rk, topic, NULL))) {
                snprintf(errstr, errstr_size, "topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                goto fail;
        }
        if ((r->part_cnt = rw_reader_partitions(r->rk, r->rkt, o->partition, &r->parts,
                                                errstr, errstr_size)) < 0) {
                r->part_cnt = 0;
                goto fail;
        }
        if (!(r->at_eof = calloc((size_t)r->parts[r->part_cnt - 1] + 1, 1)) ||
            !(r->at_end_ts = calloc((size_t)r->parts[r->part_cnt - 1] + 1, 1)) ||
            !(offsets = malloc((size_t)r->part_cnt * sizeof(*offsets))) ||
            !(r->rkqu = rd_kafka_queue_new(r->rk))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        for (i = 0; i < r->part_cnt; i++)
                offsets[i] = o->offset;
        if (o->start_ts >= 0 &&
            rw_reader_offsets_for_time(r, o->start_ts, offsets, errstr, errstr_size))
                goto fail;
        for (r->started = 0; r->started < r->part_cnt; r->started++) {
                if (rd_kafka_consume_start_queue(r->rkt, r->parts[r->started],
                                                 offsets[r->started], r->rkqu) == -1) {
                        snprintf(errstr, errstr_size, "%s [%" PRId32 "]: %s", topic,
                                 r->parts[r->started],
                                 rd_kafka_err2str(rd_kafka_last_error()));
                        goto fail;
                }
        }
        free(offsets);
        *errp = RW_OK;
        return r;
fail:
        free(offsets);
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        rw_reader_destroy(r);
        return NULL;
}

void rw_reader_destroy(rw_reader_t *r) {
        if (!r)
                return;
        while (r->started > 0)
                rd_kafka_consume_stop(r->rkt, r->parts[--r->started]);
        if (r->rkqu)
                rd_kafka_queue_destroy(r->rkqu);
        free(r->at_eof);
        free(r->at_end_ts);
        free(r->parts);
        if (r->rkt)
                rd_kafka_topic_destroy(r->rkt);
        if (r->rk)
                rd_kafka_destroy(r->rk);
        free(r);
}

/* Errors on the fetch path that mean the topic or partition is not there
 * (or not ours to read): nothing will come of waiting. Others (a broker
 * down, a leader moving) are retried by librdkafka. */
static int rw_reader_err_is_final(rd_kafka_resp_err_t err) {
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

/* Every partition is finished: each at e@TIME, or (with -e) each at its
 * end or at e@TIME. */
static int rw_reader_done(const rw_reader_t *r) {
        int finished = 0;

        for (int i = 0; i < r->part_cnt; i++) {
                int32_t p = r->parts[i];

                if (r->at_end_ts[p] || (r->o.exit_eof && r->at_eof[p]))
                        finished++;
        }
        return finished == r->part_cnt;
}

rw_reader_ev_t rw_reader_next(rw_reader_t *r, int timeout_ms, rd_kafka_message_t **rkmp) {
        int64_t deadline = rw_mono_ms() + timeout_ms;

        *rkmp = NULL;
        for (;;) {
                int64_t left = deadline - rw_mono_ms();
                rd_kafka_message_t *rkm;
                const char *topic = rd_kafka_topic_name(r->rkt);

                if (left < 0)
                        return RW_READER_IDLE;
                if (!(rkm = rd_kafka_consume_queue(r->rkqu, (int)left))) {
                        rd_kafka_poll(r->rk, 0);
                        return RW_READER_IDLE;
                }
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (rkm->partition >= 0 && rkm->partition <= r->parts[r->part_cnt - 1])
                                r->at_eof[rkm->partition] = 1;
                        rd_kafka_message_destroy(rkm);
                        if (rw_reader_done(r))
                                return RW_READER_DONE;
                        continue;
                }
                if (rkm->err) {
                        int final = rw_reader_err_is_final(rkm->err);

                        rw_log(final ? RW_LOG_ERROR : RW_LOG_WARN, "%s [%" PRId32 "]: %s",
                               topic, rkm->partition, rd_kafka_message_errstr(rkm));
                        rd_kafka_message_destroy(rkm);
                        if (final)
                                return RW_READER_ERROR;
                        continue;
                }
                /* New data after the end: that partition is not done after all. */
                r->at_eof[rkm->partition] = 0;
                if (r->o.end_ts >= 0) {
                        if (r->at_end_ts[rkm->partition] ||
                            rd_kafka_message_timestamp(rkm, NULL) >= r->o.end_ts) {
                                r->at_end_ts[rkm->partition] = 1;
                                rd_kafka_message_destroy(rkm);
                                if (rw_reader_done(r))
                                        return RW_READER_DONE;
                                continue;
                        }
                }
                *rkmp = rkm;
                return RW_READER_MSG;
        }
}

void rw_reader_poll(rw_reader_t *r) {
        rd_kafka_poll(r->rk, 0);
}

void rw_reader_print_base64(FILE *fp, const void *buf, size_t len) {
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

void rw_reader_print_head(FILE *fp, const rd_kafka_message_t *rkm, int epoch) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
        char tbuf[48];

        fputs("{\"topic\":", fp);
        rw_json_write_str(fp, rd_kafka_topic_name(rkm->rkt));
        fprintf(fp, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"key\":",
                rkm->partition, rkm->offset);
        rw_json_write_bytes(fp, rkm->key, rkm->key_len);
        if (rkm->key && !rw_utf8_valid(rkm->key, rkm->key_len)) {
                fputs(",\"key_base64\":", fp);
                rw_reader_print_base64(fp, rkm->key, rkm->key_len);
        }
        if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                fputs(",\"timestamp\":null", fp);
        else if (epoch)
                fprintf(fp, ",\"timestamp\":%" PRId64, ts);
        else
                fprintf(fp, ",\"timestamp\":\"%s\"", rw_fmt_time(tbuf, sizeof(tbuf), ts));
}
