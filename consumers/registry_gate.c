/* registry_gate.c - riding out a schema registry that gives no answer: the
 * partitions stop before the record, the assignment pauses, and a probe
 * decodes that record again with backoff; the alerts' registration. */
#include <stdlib.h>
#include <unistd.h>
#include "consumers/processor_int.h"
#include "common/log.h"

/* Point every assigned partition stopped by a registry outage at the first
 * record it has not applied: its stored position (records before the stop
 * were applied with the batch), or the stopped record when nothing was ever
 * stored. Prefetched records of those partitions are dropped. */
static void rw_registry_seek(rw_processor_t *proc) {
        rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(4);
        rd_kafka_error_t *error;

        for (size_t i = 0; i < proc->part_cnt; i++) {
                rw_part_t *p = &proc->parts[i];

                if (p->assigned && p->retry_at >= 0)
                        rd_kafka_topic_partition_list_add(seek, p->topic, p->partition)->offset =
                                p->expected >= 0 ? p->expected : p->retry_at;
        }
        if (seek->cnt && (error = rd_kafka_seek_partitions(proc->rk, seek, 10 * 1000))) {
                rw_log_warn("schema registry outage: seek: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        for (int i = 0; i < seek->cnt; i++)
                if (seek->elems[i].err)
                        rw_log_warn("schema registry outage: seek %s [%d] to %lld: %s",
                                    seek->elems[i].topic, (int)seek->elems[i].partition,
                                    (long long)seek->elems[i].offset,
                                    rd_kafka_err2str(seek->elems[i].err));
        rd_kafka_topic_partition_list_destroy(seek);
}

/* Pause (or resume) the whole assignment; returns how many partitions. */
static int rw_pause_all(rw_processor_t *proc, int pause) {
        rd_kafka_topic_partition_list_t *assignment = NULL;
        int n = 0;

        if (!rd_kafka_assignment(proc->rk, &assignment)) {
                if (pause)
                        rd_kafka_pause_partitions(proc->rk, assignment);
                else
                        rd_kafka_resume_partitions(proc->rk, assignment);
                n = assignment->cnt;
                rd_kafka_topic_partition_list_destroy(assignment);
        }
        return n;
}

/* After a batch in which partitions stopped at a record the registry gave no
 * answer for: pause consumption, rewind them, and schedule a probe. */
void rw_registry_pause(rw_processor_t *proc) {
        int n = rw_pause_all(proc, 1);

        rw_registry_seek(proc);
        for (size_t i = 0; i < proc->part_cnt; i++)
                if (proc->parts[i].retry_at >= 0)
                        proc->parts[i].eof = 0;         /* not done: -e must wait */
        if (!proc->reg_wait) {
                proc->reg_wait = 1;
                proc->reg_backoff_ms = 500;
        }
        proc->reg_probe_at = rw_mono_ms() + proc->reg_backoff_ms;
        rw_log_warn("schema registry unreachable: %s; pausing %d partition(s), retrying in "
                    "%d ms", proc->reg_why, n, proc->reg_backoff_ms);
        proc->reg_blocked = 0;
}

/* While paused: once due, decode the stopped record again. Any answer from
 * the registry (the schema, or a definite "not found") ends the wait: the
 * stopped partitions resume at their first unapplied record. */
void rw_registry_probe(rw_processor_t *proc) {
        rw_record_t rec;
        char msg[512];
        int n;

        if (rw_mono_ms() < proc->reg_probe_at)
                return;
        if (rw_codec_decode(proc->codec, proc->reg_probe_type, proc->reg_probe,
                            proc->reg_probe_len, &rec, msg, sizeof(msg)) == RW_CODEC_RETRY) {
                proc->reg_backoff_ms = proc->reg_backoff_ms < 5000 ?
                                       proc->reg_backoff_ms * 2 : 10000;
                proc->reg_probe_at = rw_mono_ms() + proc->reg_backoff_ms;
                rw_log_warn("schema registry still unreachable: %s; retrying in %d ms",
                            msg, proc->reg_backoff_ms);
                return;
        }
        n = rw_pause_all(proc, 0);
        /* Whether resuming keeps a seek made while paused differs between
         * librdkafka versions: seek again, so the stopped partitions start at
         * their first unapplied record either way. */
        rw_registry_seek(proc);
        for (size_t i = 0; i < proc->part_cnt; i++)
                proc->parts[i].retry_at = -1;
        free(proc->reg_probe);
        proc->reg_probe = NULL;
        proc->reg_wait = 0;
        rw_log_info("schema registry answered: resumed %d partition(s)", n);
}

/* With a registry, alerts are framed with the id it assigns to the RiskAlert
 * reader schema under `<topics.alerts>-value`; wait for it while it does not
 * answer. A refusal (e.g. an incompatible schema) is fatal. */
void rw_registry_register_alerts(rw_processor_t *proc,
                                        volatile sig_atomic_t *stop) {
        char subject[300], errstr[512], what[900];
        int backoff = 500;
        int32_t id = -1;
        rw_err_t err;

        snprintf(subject, sizeof(subject), "%s-value",
                 rw_conf_get_str(proc->conf, "topics.alerts"));
        while ((err = rw_registry_register(proc->registry, subject,
                                           rw_codec_reader_json(proc->codec, RW_REC_ALERT),
                                           &id, errstr, sizeof(errstr))) == RW_ERR_IO) {
                rw_log_warn("schema registry unreachable: %s; registering %s, retrying in "
                            "%d ms", errstr, subject, backoff);
                for (int waited = 0; waited < backoff && !*stop; waited += 50)
                        usleep(50 * 1000);
                if (*stop)
                        return;
                backoff = backoff < 5000 ? backoff * 2 : 10000;
        }
        if (err) {
                snprintf(what, sizeof(what), "registering RiskAlert as %s: %s", subject, errstr);
                rw_fatal(proc, "schema registry: %s", what);
                return;
        }
        rw_codec_set_writer_id(proc->codec, RW_REC_ALERT, id);
        proc->alert_schema_id = id;
        proc->alerts_registered = 1;
        rw_log_info("schema registry %s: alerts framed with schema id %d (subject %s)",
                    rw_registry_url(proc->registry), (int)id, subject);
}
