/* topics.c - whether the topics a run reads and writes exist, asked of the
 * broker before the run joins its group (and, for the input, while one is
 * missing). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "consumers/processor_int.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/rw.h"

/* The topic `name` in md, unless the broker does not know it. */
static const rd_kafka_metadata_topic_t *rw_md_topic(const struct rd_kafka_metadata *md,
                                                    const char *name) {
        for (int t = 0; t < md->topic_cnt; t++)
                if (!strcmp(md->topics[t].topic, name))
                        return md->topics[t].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ?
                               &md->topics[t] : NULL;
        return NULL;
}

/* ", NAME (PROPERTY)" appended to the list at list[*of] (size bytes), the
 * comma only after the first; cut when it does not fit. */
static void rw_topic_list_add(char *list, size_t size, size_t *of, const char *name,
                              const char *prop) {
        int r = snprintf(list + *of, size - *of, "%s%s (%s)", *of ? ", " : "", name, prop);
        if (r > 0 && (size_t)r < size - *of)
                *of += (size_t)r;
}

/* Whether the input topics exist, asked of the broker before the first poll
 * (retried while it gives no answer): a run that stops at the end fails at
 * once naming the missing ones, as there is no end to wait for; a run that
 * goes on says once per missing topic that it waits for it to be created.
 * Then, while one is missing, asked again every 2 s: the answer also
 * refreshes the consumer's view, so a topic created later is consumed within
 * seconds rather than at the next periodic refresh (minutes). Patterns (^...)
 * are not checked. 0, or -1 and errstr. */
int rw_check_topics(rw_processor_t *proc, volatile sig_atomic_t *stop,
                    char *errstr, size_t errstr_size) {
        static const char *const props[2] = { "topics.orders", "topics.support" };
        const char *names[2] = { proc->topic_orders, proc->topic_support };
        const struct rd_kafka_metadata *md = NULL;
        int first = proc->topics_check_at == 0, missing = 0, cnt = 0, said = 0;
        rd_kafka_resp_err_t kerr;
        char list[1200] = "";
        size_t of = 0;

        if (!first && (!proc->topics_missing || rw_mono_ms() < proc->topics_check_at))
                return 0;
        int64_t since = rw_mono_ms();
        do {
                int64_t asked = rw_mono_ms();
                if (!(kerr = rd_kafka_metadata(proc->rk, 1, NULL, &md, first ? 2000 : 500)))
                        break;
                md = NULL;
                if (first && !said++)
                        rw_log_info("waiting for the brokers (kafka.bootstrap.servers "
                                    "%s): no answer yet (%s)", proc->bootstrap,
                                    rd_kafka_err2str(kerr));
                else
                        rw_log_debug("topics: no metadata from the broker yet (%s)%s",
                                     rd_kafka_err2str(kerr), first ? "; retrying" : "");
                /* -e: an end to stop at needs the brokers; do not wait for
                 * ever for them. */
                if (first && proc->opts.exit_at_eof &&
                    rw_mono_ms() - since >= proc->broker_timeout_ms) {
                        rw_kafka_no_answer(errstr, errstr_size, proc->bootstrap,
                                           proc->broker_timeout_ms, kerr);
                        return -1;
                }
                if (first && !*stop && rw_mono_ms() - asked < 500)
                        usleep(500 * 1000);     /* a quick refusal: do not spin */
        } while (first && !*stop);
        proc->topics_check_at = rw_mono_ms() + 2000;
        if (!md) {
                proc->topics_missing |= first ? 3 : 0;  /* stopped first: not known */
                return 0;
        }
        for (int i = 0; i < 2; i++) {
                const rd_kafka_metadata_topic_t *mt;

                if (names[i][0] == '^' || (i == 1 && !strcmp(names[0], names[1])))
                        continue;
                if ((mt = rw_md_topic(md, names[i]))) {
                        /* The orders partitions, for the gap holds, the
                         * at-end reports and the decider: asked later on
                         * the consumer's connection, a request waits
                         * behind a parked fetch. */
                        if (i == 0 && !mt->err && mt->partition_cnt > 0 &&
                            !proc->orders_partitions) {
                                proc->orders_partitions = mt->partition_cnt;
                                rw_decider_set_partitions(proc->decider, mt->partition_cnt);
                        }
                        continue;
                }
                missing |= 1 << i;
                cnt++;
                if (!first) {
                        continue;
                } else if (proc->opts.exit_at_eof) {
                        rw_topic_list_add(list, sizeof(list), &of, names[i], props[i]);
                } else {
                        rw_log_warn("topic %s (%s) does not exist: waiting for it to be "
                                    "created", names[i], props[i]);
                }
        }
        /* The first answer serves the output topics' check next
         * (rw_check_outputs()), rather than a second request. */
        if (first && !proc->start_md)
                proc->start_md = md;
        else
                rd_kafka_metadata_destroy(md);
        proc->topics_missing = missing;
        if (first && cnt && proc->opts.exit_at_eof) {
                snprintf(errstr, errstr_size, "input topic%s not found on the broker: %s: "
                         "there is no end to stop at; create %s first, or name "
                         "existing topics", cnt > 1 ? "s" : "", list,
                         cnt > 1 ? "them" : "it");
                return -1;
        }
        return 0;
}

/* The topics this run produces to (topics.alerts, topics.dlq; not those
 * a dry run leaves alone) exist before anything is consumed: an alert or a
 * dead letter that cannot be delivered stops the run (its transitions kept
 * in the outboxes), so consuming with one missing would only stop later,
 * after a delivery timeout, at every restart. One missing is asked for by
 * the producer, as its first delivery would (a broker that creates topics
 * on first use, auto.create.topics.enable, creates it then), three times
 * over about a second. Still missing: a run that stops at the end fails
 * naming them; a live run says once per topic that it waits for it to be
 * created and asks again every second. A broker that does not answer here
 * is not waited for (the input topics' check did): the deliveries say what
 * they meet. 0, or -1 and errstr. */
int rw_check_outputs(rw_processor_t *proc, volatile sig_atomic_t *stop,
                     char *errstr, size_t errstr_size) {
        static const char *const props[2] = { "topics.alerts", "topics.dlq" };
        const char *names[2] = { proc->opts.no_alerts ? "" : proc->topic_alerts,
                                 proc->opts.no_dlq ? "" : proc->topic_dlq };
        int64_t since = rw_mono_ms();
        int said = 0;

        for (int round = 0; !*stop; round++) {
                const struct rd_kafka_metadata *md = NULL;
                char list[1200] = "", d[32];
                size_t of = 0;
                int missing = 0, cnt = 0;

                if (round)
                        rw_producer_warm(proc->prod, 1000);
                if (!round && proc->start_md) {
                        md = proc->start_md;    /* the input check's answer */
                        proc->start_md = NULL;
                } else if (rd_kafka_metadata(proc->rk, 1, NULL, &md, 2000)) {
                        return 0;
                }
                for (int i = 0; i < 2; i++) {
                        if (!names[i][0] || (i == 1 && !strcmp(names[0], names[1])) ||
                            rw_md_topic(md, names[i]))
                                continue;
                        missing |= 1 << i;
                        cnt++;
                        rw_topic_list_add(list, sizeof(list), &of, names[i], props[i]);
                }
                rd_kafka_metadata_destroy(md);
                if (!cnt) {
                        if (said)
                                rw_log_info("output topic%s created after waiting %s: "
                                            "consuming", said == 3 ? "s" : "",
                                            rw_fmt_duration(d, sizeof(d),
                                                            rw_mono_ms() - since));
                        return 0;
                }
                /* Asked for, a topic the broker creates on first use takes
                 * a moment to show in its metadata: said missing only once
                 * it has been asked for three times. */
                if (round < 3) {
                        if (round)
                                usleep(300 * 1000);
                        continue;
                }
                if (proc->opts.exit_at_eof) {
                        snprintf(errstr, errstr_size, "output topic%s not found on the broker: "
                                 "%s: what is produced to %s could not be delivered; "
                                 "create %s first, or name existing topics",
                                 cnt > 1 ? "s" : "", list, cnt > 1 ? "them" : "it",
                                 cnt > 1 ? "them" : "it");
                        return -1;
                }
                for (int i = 0; i < 2; i++)
                        if ((missing & (1 << i)) && !(said & (1 << i)))
                                rw_log_warn("topic %s (%s) does not exist: waiting for it "
                                            "to be created before consuming (what is "
                                            "produced to it could not be delivered)",
                                            names[i], props[i]);
                said |= missing;
                for (int k = 0; k < 5 && !*stop; k++)
                        usleep(200 * 1000);
        }
        return 0;
}
