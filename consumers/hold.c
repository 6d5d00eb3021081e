/* hold.c - an orders partition waiting at a gap of its own: the record that
 * ends a silence of the partition is not applied until every other orders
 * partition has passed its time, so the group's input outages it may end are
 * known (rules.h, rw_input_gaps_group()). The partition pauses and reads the
 * record again once they did. */
#include <stdlib.h>
#include <string.h>
#include "consumers/processor_int.h"
#include "common/kafka.h"
#include "common/log.h"

ssize_t rw_hold_peers(rw_processor_t *proc, const rw_part_t *p, rw_input_peer_t **peersp) {
        char errstr[512];
        size_t n = 0;
        rw_err_t err;

        if (!proc->orders_partitions)
                proc->orders_partitions = rw_kafka_partition_cnt(proc->rk, proc->topic_orders);
        if (proc->orders_partitions <= 0)
                return -1;
        if (!(*peersp = calloc((size_t)proc->orders_partitions + 1, sizeof(**peersp))))
                abort();
        err = rw_boundary_input_peers(proc->boundary, proc->state, proc->topic_orders,
                                      proc->orders_partitions, p->partition, rw_now_ms(),
                                      *peersp, &n, errstr, sizeof(errstr));
        if (err == RW_ERR_NOMEM)
                abort();
        if (err) {
                rw_log_warn("%s [%d]: the other orders partitions' gaps: %s", p->topic,
                            (int)p->partition, errstr);
                return -1;
        }
        return (ssize_t)n;
}

void rw_hold_start(rw_processor_t *proc, rw_part_t *p, int64_t offset, int64_t need,
                   size_t left) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        char at[64];

        rw_fmt_time(at, sizeof(at), need);
        rw_log_info("%s [%d]: offset %lld ends a silence of the partition: it waits until "
                    "every other orders partition passed %s", p->topic, (int)p->partition,
                    (long long)offset, at);
        p->last_offset = offset - 1;
        p->hold_need = need;
        proc->stats.consumed -= (int64_t)left;  /* they will be read again */
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        rd_kafka_pause_partitions(proc->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
}

void rw_hold_end(rw_processor_t *proc, rw_part_t *p, int seek) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_error_t *error;

        if (!p->hold_need)
                return;
        p->hold_need = 0;
        p->eof = 0;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->expected;
        rd_kafka_resume_partitions(proc->rk, l);
        if (seek && p->expected >= 0 &&
            (error = rd_kafka_seek_partitions(proc->rk, l, 10 * 1000))) {
                rw_log_warn("%s [%d]: seek: %s", p->topic, (int)p->partition,
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

int rw_hold_release(rw_processor_t *proc, int *hopeless) {
        int resumed = 0;

        *hopeless = 0;
        for (size_t i = 0; i < proc->part_cnt && !proc->fatal; i++) {
                rw_part_t *p = &proc->parts[i];
                rw_input_peer_t *peers = NULL;
                ssize_t n;
                int stuck = 1;

                if (!p->assigned || !p->hold_need || p->fl_w)
                        continue;
                if ((n = rw_hold_peers(proc, p, &peers)) >= 0 &&
                    rw_input_peers_reached(peers, (size_t)n, p->hold_need)) {
                        rw_hold_end(proc, p, 1);
                        resumed++;
                } else if (n >= 0) {
                        for (ssize_t k = 0; k < n; k++)
                                if (peers[k].known && !peers[k].at_end &&
                                    rw_input_peer_known(&peers[k]) < p->hold_need &&
                                    rw_input_peer_known(&peers[k]) == peers[k].watermark)
                                        stuck = 0;
                        *hopeless += stuck;
                }
                free(peers);
        }
        return resumed;
}

int rw_hold_cnt(const rw_processor_t *proc) {
        int held = 0;
        for (size_t i = 0; i < proc->part_cnt; i++)
                held += proc->parts[i].assigned && proc->parts[i].hold_need;
        return held;
}

void rw_hold_report(const rw_processor_t *proc) {
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (proc->parts[i].assigned && proc->parts[i].hold_need) {
                        char at[64];
                        rw_fmt_time(at, sizeof(at), proc->parts[i].hold_need);
                        rw_log_warn("%s [%d]: stopped at offset %lld, which ends a silence "
                                    "of the partition: not every other orders partition "
                                    "has passed %s", proc->parts[i].topic,
                                    (int)proc->parts[i].partition,
                                    (long long)proc->parts[i].expected, at);
                }
}
