/* route.c - one input record in: decoded, validated, and put into its
 * partition's batch, or dead-lettered with its reason. */
#include <stdlib.h>
#include <string.h>
#include "consumers/processor_int.h"
#include "common/kafka.h"
#include "common/log.h"

/* A copy of a decoded string that lives as long as the batch. */
static char *rw_batch_str(rw_processor_t *proc, const char *s) {
        char *c = rw_arena_strdup(&proc->arena, s);
        if (!c)
                abort();
        return c;
}

/* Turn one decoded record into a state event in its partition's batch. */
static void rw_part_add(rw_processor_t *proc, rw_part_t *p,
                        const rw_record_t *rec, int64_t offset) {
        rw_state_event_t *ev;

        if (p->ev_cnt == p->ev_size) {
                size_t n = p->ev_size ? p->ev_size * 2 : 256;
                p->evs = realloc(p->evs, n * sizeof(*p->evs));
                p->ev_offsets = realloc(p->ev_offsets, n * sizeof(*p->ev_offsets));
                if (!p->evs || !p->ev_offsets)
                        abort();
                p->ev_size = n;
        }
        ev = &p->evs[p->ev_cnt];
        p->ev_offsets[p->ev_cnt++] = offset;
        memset(ev, 0, sizeof(*ev));
        ev->offset = offset;
        if (rec->type == RW_REC_ORDER) {
                const rw_order_event_t *o = &rec->u.order;
                static const char kinds[] = { 'P', 'C', 'R' };
                ev->kind = kinds[o->kind];
                ev->event_id = rw_batch_str(proc, o->event_id);
                ev->account = rw_batch_str(proc, o->account_id);
                ev->vendor = rw_batch_str(proc, o->vendor_id);
                ev->amount = o->amount_minor;
                ev->occurred_at = o->occurred_at;
        } else {
                const rw_support_event_t *s = &rec->u.support;
                static const char kinds[] = { 'O', 'E', 'X', 'V', 'S' };
                ev->kind = kinds[s->kind];
                ev->event_id = rw_batch_str(proc, s->event_id);
                ev->account = rw_batch_str(proc, s->account_id);
                ev->vendor = "";
                ev->amount = s->severity;
                ev->occurred_at = s->occurred_at;
                if ((ev->has_csat = s->has_csat != 0))
                        ev->csat = (double)(int)s->csat;
                /* Four decimals, as the state has always summed it. */
                if ((ev->has_sentiment = s->has_sentiment != 0))
                        ev->sentiment = rw_sentiment_round(s->sentiment);
        }
}

_Static_assert(RW_CODEC_BAD_MAGIC - RW_CODEC_TOO_SHORT == RW_DLQ_BAD_MAGIC &&
               RW_CODEC_UNKNOWN_SCHEMA - RW_CODEC_TOO_SHORT == RW_DLQ_UNKNOWN_SCHEMA &&
               RW_CODEC_AVRO_DECODE - RW_CODEC_TOO_SHORT == RW_DLQ_AVRO_DECODE &&
               RW_CODEC_INVALID_FIELD - RW_CODEC_TOO_SHORT == RW_DLQ_INVALID_FIELD,
               "codec verdicts and DLQ reasons must line up");

static const char *rw_dlq_reason_names[RW_DLQ__CNT] = {
        [RW_DLQ_TOO_SHORT] = "too_short", [RW_DLQ_BAD_MAGIC] = "bad_magic",
        [RW_DLQ_UNKNOWN_SCHEMA] = "unknown_schema", [RW_DLQ_AVRO_DECODE] = "avro_decode",
        [RW_DLQ_INVALID_FIELD] = "invalid_field", [RW_DLQ_TOO_LATE] = "too_late",
};

const char *rw_dlq_reason_name(rw_dlq_reason_t r) {
        return r < RW_DLQ__CNT ? rw_dlq_reason_names[r] : "unknown";
}

/* Copy a record to the DLQ; count it per reason, and log at most one line
 * per reason every 10 s (a flood of bad input must not flood the log). */
static void rw_dead_letter(rw_processor_t *proc, rd_kafka_message_t *rkm,
                           rw_dlq_reason_t reason, const char *msg, int *dlq_sent) {
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        int64_t now = rw_mono_ms();
        char errstr[512], clean[1024];

        msg = rw_log_clean(clean, sizeof(clean), msg);  /* one line in the header too */
        if (rw_producer_send_dlq(proc->prod, rkm, rw_dlq_reason_name(reason), msg,
                                 errstr, sizeof(errstr)))
                rw_fatal(proc, "dead-letter queue: %s", errstr);
        proc->stats.dlq++;
        proc->stats.dlq_by_reason[reason]++;
        rw_ops_dead_letters(proc->opts.ops, topic, rw_dlq_reason_name(reason), 1);
        *dlq_sent = 1;
        if (proc->dlq_logged_at[reason] && now - proc->dlq_logged_at[reason] < 10000) {
                proc->dlq_unlogged[reason]++;
                return;
        }
        rw_log_warn("%s [%d] @%lld to the DLQ: %s: %s%s", topic, (int)rkm->partition,
                    (long long)rkm->offset, rw_dlq_reason_name(reason), msg,
                    proc->dlq_unlogged[reason] ? " (and more not logged: see the "
                    "summary at exit)" : "");
        proc->dlq_logged_at[reason] = now;
        proc->dlq_unlogged[reason] = 0;
}

/* The registry gave no answer about rkm's writer schema: not a verdict on
 * the record. Its partition stops before it for the rest of the batch (what
 * came before is still applied); rw_registry_pause() pauses and rewinds. */
static void rw_registry_stop(rw_processor_t *proc, rw_part_t *p,
                             const rd_kafka_message_t *rkm, rw_record_type_t type,
                             const char *why) {
        p->retry_at = rkm->offset;
        proc->reg_blocked++;
        snprintf(proc->reg_why, sizeof(proc->reg_why), "%s", why);
        if (proc->reg_probe)
                return;         /* already probing with an earlier record */
        if (!(proc->reg_probe = malloc(rkm->len)))
                abort();
        memcpy(proc->reg_probe, rkm->payload, rkm->len);
        proc->reg_probe_len = rkm->len;
        proc->reg_probe_type = type;
}

/* Route one input record: decode, validate, or dead-letter it. */
void rw_route(rw_processor_t *proc, rd_kafka_message_t *rkm, int *dlq_sent) {
        const char *topic = rd_kafka_topic_name(rkm->rkt);
        rw_part_t *p = rw_part_find(proc, topic, rkm->partition, 0);
        rw_record_type_t type = strcmp(topic, proc->topic_orders) ? RW_REC_SUPPORT :
                                                                    RW_REC_ORDER;
        rw_codec_status_t status;
        rw_record_t rec;
        int64_t prev_last;
        char msg[512];

        if (!p || !p->assigned)
                return;         /* revoked while the batch was collected */
        if (p->retry_at >= 0 || p->hold_need)
                return;         /* stopped by a registry outage, or waiting at a
                                 * gap (rw_hold_start()): read again later */
        if (p->expected >= 0 && rkm->offset < p->expected) {
                proc->stats.skipped++;  /* already applied: re-delivery */
                return;
        }
        proc->stats.consumed++;
        prev_last = p->last_offset;
        if (rkm->offset > p->last_offset)
                p->last_offset = rkm->offset;

        status = rw_codec_decode(proc->codec, type, rkm->payload, rkm->len, &rec,
                                 msg, sizeof(msg));
        if (status == RW_CODEC_OK) {
                /* Judged as of the record's timestamp: the same verdict
                 * whenever it is read (a replay decides as the live run). */
                const char *what;
                int64_t now = rw_kafka_record_now(rkm, rw_now_ms(), &what);
                status = rw_record_validate(&rec, now, what, &proc->vlim, msg, sizeof(msg));
        }
        if (status == RW_CODEC_OK) {
                int64_t at = type == RW_REC_ORDER ? rec.u.order.occurred_at :
                                                    rec.u.support.occurred_at;
                /* The watermark as of this record, in offset order: the same
                 * decision whatever the batch boundaries. */
                if (p->route_wm < p->watermark)
                        p->route_wm = p->watermark;
                if (p->route_wm > 0 &&
                    at < p->route_wm - proc->state_days * RW_DAY_MS) {
                        snprintf(msg, sizeof(msg), "occurred_at %lld is older than "
                                 "the longest window (%d days) before the watermark %lld",
                                 (long long)at, (int)proc->state_days,
                                 (long long)p->route_wm);
                        /* Decided after routing: a re-delivery of an event
                         * already applied is a duplicate, not a dead letter. */
                        if (proc->late_cnt == proc->late_size) {
                                size_t n = proc->late_size ? proc->late_size * 2 : 64;
                                struct rw_late_s *nl = realloc(proc->late, n * sizeof(*nl));
                                if (!nl)
                                        abort();
                                proc->late = nl;
                                proc->late_size = n;
                        }
                        proc->late[proc->late_cnt++] = (struct rw_late_s){
                                .rkm = rkm, .p = p,
                                .event_id = rw_batch_str(proc, type == RW_REC_ORDER ?
                                                            rec.u.order.event_id :
                                                            rec.u.support.event_id),
                                .account = rw_batch_str(proc, type == RW_REC_ORDER ?
                                                           rec.u.order.account_id :
                                                           rec.u.support.account_id),
                                .msg = rw_batch_str(proc, msg) };
                        (void)dlq_sent;
                        return;
                }
        }
        if (status == RW_CODEC_OK) {
                int64_t at = type == RW_REC_ORDER ? rec.u.order.occurred_at :
                                                    rec.u.support.occurred_at;
                if (at > p->route_wm)
                        p->route_wm = at;
                rw_part_add(proc, p, &rec, rkm->offset);
                return;
        }
        if (status == RW_CODEC_RETRY) {
                p->last_offset = prev_last;
                proc->stats.consumed--;         /* it will be read again */
                rw_registry_stop(proc, p, rkm, type, msg);
                return;
        }
        /* Codec verdicts map 1:1 onto the first DLQ reasons. */
        rw_dead_letter(proc, rkm, (rw_dlq_reason_t)(status - RW_CODEC_TOO_SHORT),
                       msg, dlq_sent);
}

/* Dead-letter the batch's too-late records, except re-deliveries of events
 * their account remembers (loaded like a batch's accounts, when not cached). */
void rw_settle_late(rw_processor_t *proc, int *dlq_sent,
                           volatile sig_atomic_t *stop) {
        const char **names = NULL;

        if (!proc->late_cnt)
                return;
        if (!(names = calloc(proc->late_cnt, sizeof(*names))))
                abort();
        for (size_t i = 0; i < proc->late_cnt; ) {
                rw_part_t *p = proc->late[i].p;
                size_t n = 0, j;

                for (j = i; j < proc->late_cnt && proc->late[j].p == p; j++)
                        names[n++] = proc->late[j].account;
                if (rw_part_resolve(proc, p, names, n, NULL, stop)) {
                        /* Undecided: store nothing of this batch. */
                        rw_fatal(proc, "stopped while %s", "Redis was unreachable");
                        goto done;
                }
                for (; i < j; i++) {
                        rw_account_view_t *av = rw_cache_get(proc->cache, rw_part_tag(proc, p),
                                                             proc->late[i].account);
                        if (av && rw_account_seen(av, proc->late[i].event_id,
                                                  proc->late[i].rkm->offset)) {
                                proc->stats.duplicates++;
                                rw_ops_records(proc->opts.ops, p->topic, RW_OPS_DUPLICATE, 1);
                        } else {
                                rw_dead_letter(proc, proc->late[i].rkm, RW_DLQ_TOO_LATE,
                                               proc->late[i].msg, dlq_sent);
                        }
                }
        }
done:
        proc->late_cnt = 0;
        free(names);
}
