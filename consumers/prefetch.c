/* prefetch.c - waking librdkafka's fetchers once the consumer queue drained
 * (see prefetch.h). */
#include <stdlib.h>
#include "consumers/prefetch.h"

void rw_prefetch_mark_init(rw_prefetch_mark_t *m, int64_t full) {
        *m = (rw_prefetch_mark_t){ .full = full };
}

int rw_prefetch_mark(rw_prefetch_mark_t *m, int64_t qlen) {
        if (m->full <= 0)
                return 0;
        if (qlen >= m->full)
                m->was_full = 1;
        if (!m->was_full || qlen > m->full / 2)
                return 0;
        m->was_full = 0;
        return 1;
}

int64_t rw_prefetch_full(rd_kafka_t *rk) {
        char buf[32], *end;
        size_t size = sizeof(buf);
        long long v;

        if (rd_kafka_conf_get(rd_kafka_conf(rk), "queued.min.messages", buf, &size) !=
            RD_KAFKA_CONF_OK)
                return 0;
        v = strtoll(buf, &end, 10);
        return end != buf && v > 0 ? (int64_t)v : 0;
}

int rw_prefetch_wake(rd_kafka_t *rk, int timeout_ms) {
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t err;

        if (rd_kafka_assignment(rk, &parts) || !parts)
                return -1;
        if (!parts->cnt) {
                rd_kafka_topic_partition_list_destroy(parts);
                return -1;
        }
        /* The latest offset: the answer is not used, the request is what
         * wakes the leader's broker thread. */
        for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = -1;
        err = rd_kafka_offsets_for_times(rk, parts, timeout_ms);
        rd_kafka_topic_partition_list_destroy(parts);
        return err ? -1 : 0;
}
