/* prefetch.c - waking librdkafka's fetchers once the consumer queue drained
 * (see prefetch.h). */
#include <stdlib.h>
#include "consumers/prefetch.h"
#include "common/kafka.h"

void rw_prefetch_mark_init(rw_prefetch_mark_t *m, int64_t full, int64_t full_bytes) {
        *m = (rw_prefetch_mark_t){ .full = full > 0 ? full : 0,
                                   .full_bytes = full_bytes > 0 ? full_bytes : 0 };
}

void rw_prefetch_seen(rw_prefetch_mark_t *m, int64_t cnt, int64_t bytes) {
        m->seen += cnt;
        m->seen_bytes += bytes;
}

int64_t rw_prefetch_limit(const rw_prefetch_mark_t *m) {
        int64_t limit = m->full;

        if (m->full_bytes > 0 && m->seen > 0 && m->seen_bytes > 0) {
                /* Records of the average size that fill full_bytes. */
                int64_t by_bytes = (int64_t)((double)m->full_bytes * (double)m->seen /
                                             (double)m->seen_bytes);
                if (by_bytes < 1)
                        by_bytes = 1;
                if (!limit || by_bytes < limit)
                        limit = by_bytes;
        }
        return limit;
}

int rw_prefetch_mark(rw_prefetch_mark_t *m, int64_t qlen) {
        int64_t limit = rw_prefetch_limit(m);

        if (limit <= 0)
                return 0;
        /* Within 5 % of the limit counts as full: the bytes are an
         * estimate. */
        if (qlen >= limit - limit / 20)
                m->was_full = 1;
        if (!m->was_full || qlen > limit / 2)
                return 0;
        m->was_full = 0;
        return 1;
}

int rw_prefetch_taken(rw_prefetch_mark_t *m, int64_t cnt, int64_t bytes, int64_t qlen) {
        rw_prefetch_seen(m, cnt, bytes);
        return rw_prefetch_mark(m, qlen + cnt) || rw_prefetch_mark(m, qlen);
}

static int64_t rw_conf_int(rd_kafka_t *rk, const char *name) {
        char buf[32], *end;
        size_t size = sizeof(buf);
        long long v;

        if (rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &size) != RD_KAFKA_CONF_OK)
                return 0;
        v = strtoll(buf, &end, 10);
        return end != buf && v > 0 ? (int64_t)v : 0;
}

void rw_prefetch_mark_conf(rw_prefetch_mark_t *m, rd_kafka_t *rk) {
        rw_prefetch_mark_init(m, rw_conf_int(rk, "queued.min.messages"),
                              rw_conf_int(rk, "queued.max.messages.kbytes") * 1024);
}

int rw_prefetch_wake(rd_kafka_t *rk, int timeout_ms) {
        rd_kafka_topic_partition_list_t *parts = NULL, *ends = NULL;
        rd_kafka_resp_err_t err;

        if (rd_kafka_assignment(rk, &parts) || !parts)
                return -1;
        if (!parts->cnt) {
                rd_kafka_topic_partition_list_destroy(parts);
                return -1;
        }
        /* The ends: the answer is not used, the request is what wakes the
         * leader's broker thread. */
        err = rw_kafka_list_offsets(rk, parts, RD_KAFKA_OFFSET_END, timeout_ms, &ends);
        rd_kafka_topic_partition_list_destroy(parts);
        if (ends)
                rd_kafka_topic_partition_list_destroy(ends);
        return err ? -1 : 0;
}
