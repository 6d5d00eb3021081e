/* alertmanager.c - alert transitions to Prometheus Alertmanager, as its own
 * notifier does: every URL gets every alert, in POSTs of at most 256;
 * firing alerts are sent again every `alertmanager.resend.interval` with
 * `endsAt` four intervals ahead (so an Alertmanager that restarted, or
 * missed a POST, has them again within an interval, and an alert nobody
 * resends expires); a RESOLVED transition sets `endsAt` and is sent again
 * for 15 minutes. Transitions reach the sender's thread through a bounded
 * queue (drops counted); a failed POST is retried with backoff.
 *
 * What is re-sent as firing comes from Redis, not from memory: every
 * resend interval (and whenever the partitions this process owns change)
 * the sender reads the firing set of each slot it owns (the alerts whose
 * last transition Kafka acknowledged was FIRING: rw_outbox_store_firing()),
 * so a restarted process resumes re-sending what fires, and each alert is
 * re-sent by one process: its partition's owner; the dependency rules'
 * alerts (slot {dep}) by the owner of partition 0 of topics.orders. A
 * transition is still sent at once by the process that delivered it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "producers/alertmanager.h"
#include "ops/status.h"
#include "state/outbox_store.h"
#include "common/curl_lib.h"
#include "common/json.h"
#include "common/log.h"

#define RW_AM_BATCH 256
#define RW_AM_RESOLVED_KEEP_MS (15 * 60 * 1000)
#define RW_AM_URLS_MAX 16

/* A transition as queued and kept (owned strings). */
typedef struct rw_am_alert_s {
        rw_alert_t a;
        int64_t starts_ms, ends_ms;     /* ends_ms 0: firing */
        int64_t ended_et;               /* event time of what ended it (0: not ended) */
        char slot[280];                 /* read from this owned slot's firing set
                                         * ("P/topic", "dep"); "": notified */
} rw_am_alert_t;

/* An input partition this process owns. */
typedef struct rw_am_slot_s {
        char topic[256];
        int32_t partition;
} rw_am_slot_t;

typedef struct rw_am_url_s {
        char url[1024];
        int64_t due;            /* mono ms of the next POST */
        int64_t backoff;        /* ms; 0: last POST succeeded */
} rw_am_url_t;

struct rw_am_s {
        rw_ops_t *ops;
        rw_am_url_t urls[RW_AM_URLS_MAX];
        int url_cnt;
        int64_t resend_ms, timeout_ms;
        size_t queue_max;
        pthread_t thread;
        int started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int stop;
        rw_am_alert_t *queue;   /* guarded by lock */
        size_t q_cnt, q_size;
        int64_t drop_logged_at;
        rw_am_stats_t stats;    /* guarded by lock */
        rw_am_slot_t *slots;    /* owned partitions; guarded by lock */
        size_t slot_cnt, slot_size;
        uint64_t slots_gen;     /* bumped on every change; guarded by lock */
        /* The sender's own. */
        char *generator;        /* alertmanager.generator.url ("" : none) */
        char topic_orders[256];
        char schemas_dir[1024];
        const rw_conf_t *conf;  /* for the Redis connection, made on first use */
        rw_state_t *st;
        rw_codec_t *codec;
        uint64_t seen_gen;
        int64_t refresh_due;    /* mono ms of the next read of the firing sets */
        int refresh_failing;
        rw_am_alert_t *set;     /* firing, and resolved for a while */
        size_t set_cnt, set_size;
        const rw_curl_t *cu;    /* libcurl (common/curl_lib.h) */
        CURL *curl;
};

static char *rw_am_strdup(const char *s) {
        char *d = strdup(s ? s : "");
        if (!d)
                abort();
        return d;
}

static void rw_am_alert_copy(rw_am_alert_t *dst, const rw_alert_t *a) {
        memset(dst, 0, sizeof(*dst));
        dst->a = *a;
        dst->a.alert_id = rw_am_strdup(a->alert_id);
        dst->a.fingerprint = rw_am_strdup(a->fingerprint);
        dst->a.rule = rw_am_strdup(a->rule);
        dst->a.subject_id = rw_am_strdup(a->subject_id);
        dst->a.source_topic = rw_am_strdup(a->source_topic);
        dst->a.summary = rw_am_strdup(a->summary);
}

static void rw_am_alert_free(rw_am_alert_t *x) {
        free((char *)x->a.alert_id);
        free((char *)x->a.fingerprint);
        free((char *)x->a.rule);
        free((char *)x->a.subject_id);
        free((char *)x->a.source_topic);
        free((char *)x->a.summary);
}

static void rw_am_time(FILE *fp, const char *name, int64_t ms) {
        char ts[40];
        fprintf(fp, ",\"%s\":\"%s\"", name, rw_fmt_time(ts, sizeof(ts), ms));
}

void rw_am_alert_json(FILE *fp, const rw_alert_t *a, int64_t starts_ms, int64_t ends_ms,
                      const char *generator_url) {
        char desc[512], win[32];

        fputs("{\"labels\":{\"alertname\":", fp);
        rw_json_write_str(fp, a->rule);
        fputs(",\"category\":", fp);
        rw_json_write_str(fp, rw_category_name(a->category));
        fputs(",\"subject_type\":", fp);
        rw_json_write_str(fp, rw_subject_type_name(a->subject_type));
        fputs(",\"subject_id\":", fp);
        rw_json_write_str(fp, a->subject_id);
        fputs(",\"severity\":", fp);
        rw_json_write_str(fp, rw_alert_severity_name(a->severity));
        fputs("},\"annotations\":{\"summary\":", fp);
        rw_json_write_str(fp, a->summary);
        rw_fmt_duration(win, sizeof(win), a->window_ms);
        if (a->has_baseline)
                snprintf(desc, sizeof(desc), "observed %.4g, threshold %.4g, baseline %.4g, "
                         "window %s", a->observed, a->threshold, a->baseline, win);
        else
                snprintf(desc, sizeof(desc), "observed %.4g, threshold %.4g, window %s",
                         a->observed, a->threshold, win);
        fputs(",\"description\":", fp);
        rw_json_write_str(fp, desc);
        fputs(",\"alert_id\":", fp);
        rw_json_write_str(fp, a->alert_id);
        fputc('}', fp);
        rw_am_time(fp, "startsAt", starts_ms);
        if (ends_ms)
                rw_am_time(fp, "endsAt", ends_ms);
        if (generator_url && *generator_url) {
                fputs(",\"generatorURL\":", fp);
                rw_json_write_str(fp, generator_url);
        }
        fputc('}', fp);
}

/* A transition into the kept set: FIRING replaces the fingerprint's firing
 * alert (an escalation: the label set with the old severity is resolved
 * now, as Alertmanager tells alerts apart by their labels); RESOLVED ends
 * it. Sender's thread. */
static void rw_am_apply(rw_am_t *am, rw_am_alert_t *x) {
        int64_t now = rw_now_ms();
        int found = 0;
        size_t i;

        for (i = 0; i < am->set_cnt; ) {
                rw_am_alert_t *k = &am->set[i];
                if (strcmp(k->a.fingerprint, x->a.fingerprint)) {
                        i++;
                        continue;
                }
                if (k->ends_ms) {
                        /* Ended; firing again under the same labels:
                         * the new episode replaces it. */
                        if (x->a.status == RW_ALERT_FIRING && k->a.severity == x->a.severity) {
                                rw_am_alert_free(k);
                                *k = am->set[--am->set_cnt];
                                continue;
                        }
                } else if (x->a.status == RW_ALERT_FIRING && k->a.severity == x->a.severity) {
                        /* FIRING again (a redelivery): keep the first start. */
                        x->starts_ms = k->starts_ms;
                        rw_am_alert_free(k);
                        *k = *x;
                        return;
                } else {
                        /* Resolved, or escalated to another label set. */
                        k->ends_ms = now;
                        k->ended_et = x->a.event_time;
                        found = 1;
                }
                i++;
        }
        if (x->a.status != RW_ALERT_FIRING) {
                if (found) {
                        rw_am_alert_free(x);
                        return;
                }
                /* Resolved without this process having seen it fire (a
                 * restart in between): sent as resolved under its labels. */
                x->ends_ms = now;
                x->ended_et = x->a.event_time;
        }
        if (rw_grow(&am->set, &am->set_size, am->set_cnt + 1, sizeof(*am->set), 64))
                abort();
        am->set[am->set_cnt++] = *x;
}

static const char *const rw_am_placeholders[] = {
        "rule", "subject_type", "subject_id", "fingerprint", "alert_id", "severity",
};

/* The value of placeholder `name` (n bytes) for a, or NULL when unknown. */
static const char *rw_am_placeholder(const char *name, size_t n, const rw_alert_t *a) {
        const char *v[] = { a->rule, rw_subject_type_name(a->subject_type), a->subject_id,
                            a->fingerprint, a->alert_id,
                            rw_alert_severity_name(a->severity) };
        for (size_t i = 0; i < RW_ARRAY_SIZE(rw_am_placeholders); i++)
                if (strlen(rw_am_placeholders[i]) == n &&
                    !strncmp(rw_am_placeholders[i], name, n))
                        return v[i] ? v[i] : "";
        return NULL;
}

int rw_am_generator_check(const char *tmpl, char *reason, size_t reason_size) {
        static const rw_alert_t probe = { .rule = "", .subject_id = "", .fingerprint = "",
                                          .alert_id = "" };
        const char *p = tmpl;

        if (!*tmpl)
                return 0;
        if (strncmp(tmpl, "http://", 7) && strncmp(tmpl, "https://", 8)) {
                snprintf(reason, reason_size, "expected an http(s):// URL, got \"%s\"", tmpl);
                return -1;
        }
        while ((p = strpbrk(p, "{}"))) {
                const char *end = *p == '{' ? strchr(p + 1, '}') : NULL;
                size_t n = end ? (size_t)(end - p - 1) : 0;
                if (!end || memchr(p + 1, '{', n)) {
                        snprintf(reason, reason_size, "unbalanced brace at \"%s\" (placeholders: "
                                 "{rule} {subject_type} {subject_id} {fingerprint} "
                                 "{alert_id} {severity})", p);
                        return -1;
                }
                if (!rw_am_placeholder(p + 1, n, &probe)) {
                        snprintf(reason, reason_size, "unknown placeholder {%.*s} (known: "
                                 "{rule} {subject_type} {subject_id} {fingerprint} "
                                 "{alert_id} {severity})", (int)n, p + 1);
                        return -1;
                }
                p = end + 1;
        }
        return 0;
}

char *rw_am_generator_url(const char *tmpl, const rw_alert_t *a) {
        const rw_curl_t *cu = NULL;
        char *out = NULL;
        size_t len = 0;
        FILE *fp;

        if (!tmpl || !*tmpl)
                return NULL;
        if (!(fp = open_memstream(&out, &len)))
                abort();
        for (const char *p = tmpl; *p; ) {
                const char *end, *v;
                char *esc;
                if (*p != '{' || !(end = strchr(p + 1, '}')) ||
                    !(v = rw_am_placeholder(p + 1, (size_t)(end - p - 1), a))) {
                        fputc(*p++, fp);
                        continue;
                }
                /* Every value percent-encoded (RFC 3986 unreserved kept), so
                 * a subject id cannot change the URL's structure. */
                if (!cu && !(cu = rw_curl(NULL, 0)))
                        abort();        /* rw_am_new() loaded it */
                if (!(esc = cu->easy_escape(NULL, v, (int)strlen(v))))
                        abort();
                fputs(esc, fp);
                cu->free(esc);
                p = end + 1;
        }
        fclose(fp);
        return out;
}

/* The owned slots' firing sets, read from Redis into the kept set (see the
 * top of this file): returns 1 when an alert is firing that was not before
 * (sent at once), 0 otherwise, -1 when Redis could not be read (the set is
 * kept, but nothing of a partition no longer owned is re-sent). Sender's
 * thread. */
static int rw_am_refresh(rw_am_t *am) {
        rw_am_slot_t *slots = NULL;
        rw_am_alert_t *loaded = NULL;
        size_t slot_cnt, n = 0, size = 0, i, j;
        char errstr[512], slot[280];
        int fresh = 0, own_dep = 0, rc = -1;
        rw_err_t err = RW_OK;

        pthread_mutex_lock(&am->lock);
        slot_cnt = am->slot_cnt;
        if (slot_cnt && !(slots = malloc(slot_cnt * sizeof(*slots))))
                abort();
        if (slot_cnt)
                memcpy(slots, am->slots, slot_cnt * sizeof(*slots));
        am->seen_gen = am->slots_gen;
        pthread_mutex_unlock(&am->lock);
        for (i = 0; i < slot_cnt; i++)
                own_dep |= slots[i].partition == 0 && !strcmp(slots[i].topic, am->topic_orders);

        errstr[0] = '\0';
        if (slot_cnt && !am->st && !(am->st = rw_state_new(am->conf, errstr, sizeof(errstr))))
                goto done;
        for (i = 0; slot_cnt && i <= slot_cnt && !err; i++) {
                rw_outbox_items_t items;
                char tag[16];

                if (i == slot_cnt && !own_dep)
                        break;
                if (i < slot_cnt) {
                        snprintf(tag, sizeof(tag), "%d", (int)slots[i].partition);
                        snprintf(slot, sizeof(slot), "%s/%s", tag, slots[i].topic);
                } else {
                        snprintf(slot, sizeof(slot), "dep");
                }
                if ((err = rw_outbox_store_firing(am->st, i < slot_cnt ? tag : "dep",
                                                  i < slot_cnt ? slots[i].topic : NULL,
                                                  &items, errstr, sizeof(errstr))))
                        break;
                for (j = 0; j < items.cnt; j++) {
                        rw_record_t rec;
                        char msg[256];
                        if (rw_codec_decode_own(am->codec, RW_REC_ALERT, items.v[j].buf,
                                                items.v[j].len, &rec, msg,
                                                sizeof(msg)) != RW_CODEC_OK ||
                            rec.u.alert.status != RW_ALERT_FIRING)
                                continue;
                        if (rw_grow(&loaded, &size, n + 1, sizeof(*loaded), 64))
                                abort();
                        rw_am_alert_copy(&loaded[n], &rec.u.alert);
                        loaded[n].starts_ms = rec.u.alert.event_time;
                        snprintf(loaded[n].slot, sizeof(loaded[n].slot), "%s", slot);
                        n++;
                }
                rw_outbox_items_clear(&items);
        }
        if (err) {
                if (err == RW_ERR_IO)
                        rw_state_reconnect(am->st, errstr, sizeof(errstr));
                goto done;
        }
        /* The firing alerts are the loaded ones now; what this process only
         * delivered (another owns it) was sent once and is not re-sent. An
         * alert that ended since it was stored (its trim is on its way)
         * stays ended. */
        for (i = 0; i < n; i++) {
                rw_am_alert_t *x = &loaded[i];
                int skip = 0, was = 0;
                for (j = 0; j < am->set_cnt; j++) {
                        rw_am_alert_t *k = &am->set[j];
                        if (strcmp(k->a.fingerprint, x->a.fingerprint))
                                continue;
                        if (!k->ends_ms)
                                was |= k->a.severity == x->a.severity;
                        else if (k->ended_et >= x->a.event_time)
                                skip = 1;
                }
                if (skip) {
                        rw_am_alert_free(x);
                        x->a.fingerprint = NULL;
                        continue;
                }
                fresh |= !was;
        }
        for (j = 0; j < am->set_cnt; ) {
                rw_am_alert_t *k = &am->set[j];
                int drop = !k->ends_ms;
                /* An ended label set that fires again (a new episode). */
                for (i = 0; !drop && i < n; i++)
                        drop = loaded[i].a.fingerprint &&
                               !strcmp(k->a.fingerprint, loaded[i].a.fingerprint) &&
                               k->a.severity == loaded[i].a.severity;
                if (drop) {
                        rw_am_alert_free(k);
                        *k = am->set[--am->set_cnt];
                } else {
                        j++;
                }
        }
        for (i = 0; i < n; i++) {
                if (!loaded[i].a.fingerprint)
                        continue;
                if (rw_grow(&am->set, &am->set_size, am->set_cnt + 1, sizeof(*am->set), 64))
                        abort();
                am->set[am->set_cnt++] = loaded[i];
        }
        n = 0;
        rc = fresh;
done:
        if (rc < 0) {
                if (!am->refresh_failing)
                        rw_log_warn("alertmanager: cannot read the firing alerts from Redis "
                                    "(%s): re-sending what it holds, retrying", errstr);
                am->refresh_failing = 1;
                /* Nothing of a partition no longer owned is re-sent. */
                for (j = 0; j < am->set_cnt; ) {
                        rw_am_alert_t *k = &am->set[j];
                        int owned = !k->slot[0];
                        for (i = 0; !owned && i < slot_cnt; i++) {
                                char s2[280];
                                snprintf(s2, sizeof(s2), "%d/%s", (int)slots[i].partition,
                                         slots[i].topic);
                                owned = !strcmp(s2, k->slot) ||
                                        (own_dep && !strcmp(k->slot, "dep"));
                        }
                        if (!owned && !k->ends_ms) {
                                rw_am_alert_free(k);
                                *k = am->set[--am->set_cnt];
                        } else {
                                j++;
                        }
                }
        } else if (am->refresh_failing) {
                rw_log_info("alertmanager: firing alerts read from Redis again");
                am->refresh_failing = 0;
        }
        for (i = 0; i < n; i++)
                if (loaded[i].a.fingerprint)
                        rw_am_alert_free(&loaded[i]);
        free(loaded);
        free(slots);
        return rc;
}

void rw_am_partition(rw_am_t *am, const char *topic, int32_t partition, int assigned) {
        size_t i;

        if (!am)
                return;
        pthread_mutex_lock(&am->lock);
        for (i = 0; i < am->slot_cnt; i++)
                if (am->slots[i].partition == partition && !strcmp(am->slots[i].topic, topic))
                        break;
        if (assigned && i == am->slot_cnt) {
                if (rw_grow(&am->slots, &am->slot_size, am->slot_cnt + 1, sizeof(*am->slots), 16))
                        abort();
                snprintf(am->slots[i].topic, sizeof(am->slots[i].topic), "%s", topic);
                am->slots[i].partition = partition;
                am->slot_cnt++;
                am->slots_gen++;
        } else if (!assigned && i < am->slot_cnt) {
                am->slots[i] = am->slots[--am->slot_cnt];
                am->slots_gen++;
        }
        pthread_cond_signal(&am->cond);
        pthread_mutex_unlock(&am->lock);
}

/* POST body of set[from, to) to url; 0 on a 2xx. */
static int rw_am_post(rw_am_t *am, const char *url, size_t from, size_t to,
                      char *errstr, size_t errstr_size) {
        int64_t now = rw_now_ms();
        char *body = NULL, full[1100], cerr[CURL_ERROR_SIZE] = "";
        size_t len = 0;
        FILE *fp = open_memstream(&body, &len);
        struct curl_slist *hdr = NULL;
        long code = 0;
        CURLcode cc;
        int rc = -1;

        if (!fp)
                abort();
        fputc('[', fp);
        for (size_t i = from; i < to; i++) {
                const rw_am_alert_t *k = &am->set[i];
                if (i > from)
                        fputc(',', fp);
                char *gen = rw_am_generator_url(am->generator, &k->a);
                rw_am_alert_json(fp, &k->a, k->starts_ms,
                                 k->ends_ms ? k->ends_ms : now + 4 * am->resend_ms, gen);
                free(gen);
        }
        fputc(']', fp);
        fclose(fp);
        snprintf(full, sizeof(full), "%s/api/v2/alerts", url);
        hdr = am->cu->slist_append(hdr, "Content-Type: application/json");
        am->cu->easy_reset(am->curl);
        am->cu->easy_setopt(am->curl, CURLOPT_URL, full);
        am->cu->easy_setopt(am->curl, CURLOPT_HTTPHEADER, hdr);
        am->cu->easy_setopt(am->curl, CURLOPT_POSTFIELDS, body);
        am->cu->easy_setopt(am->curl, CURLOPT_POSTFIELDSIZE, (long)len);
        am->cu->easy_setopt(am->curl, CURLOPT_TIMEOUT_MS, (long)am->timeout_ms);
        am->cu->easy_setopt(am->curl, CURLOPT_NOSIGNAL, 1L);
        am->cu->easy_setopt(am->curl, CURLOPT_ERRORBUFFER, cerr);
        if ((cc = am->cu->easy_perform(am->curl)) != CURLE_OK) {
                snprintf(errstr, errstr_size, "%s", *cerr ? cerr : am->cu->easy_strerror(cc));
        } else {
                am->cu->easy_getinfo(am->curl, CURLINFO_RESPONSE_CODE, &code);
                if (code >= 200 && code < 300)
                        rc = 0;
                else
                        snprintf(errstr, errstr_size, "HTTP %ld", code);
        }
        am->cu->slist_free_all(hdr);
        free(body);
        return rc;
}

/* Send the whole set to one URL, in batches; 0 when all were accepted. */
static int rw_am_send(rw_am_t *am, rw_am_url_t *u) {
        char errstr[512];

        for (size_t from = 0; from < am->set_cnt; from += RW_AM_BATCH) {
                size_t to = from + RW_AM_BATCH < am->set_cnt ? from + RW_AM_BATCH : am->set_cnt;
                if (rw_am_post(am, u->url, from, to, errstr, sizeof(errstr))) {
                        int64_t first = !u->backoff;
                        u->backoff = u->backoff ? u->backoff * 2 : 1000;
                        if (u->backoff > am->resend_ms)
                                u->backoff = am->resend_ms;
                        pthread_mutex_lock(&am->lock);
                        am->stats.errors++;
                        pthread_mutex_unlock(&am->lock);
                        if (first)
                                rw_log_warn("alertmanager %s: %s; %zu alert(s) kept, retrying "
                                            "with backoff", u->url, errstr, am->set_cnt);
                        return -1;
                }
                pthread_mutex_lock(&am->lock);
                am->stats.sent += (int64_t)(to - from);
                pthread_mutex_unlock(&am->lock);
        }
        if (u->backoff)
                rw_log_info("alertmanager %s: delivering again", u->url);
        u->backoff = 0;
        return 0;
}

static void rw_am_publish(rw_am_t *am) {
        rw_am_stats_t st;
        int64_t firing = 0;
        for (size_t i = 0; i < am->set_cnt; i++)
                firing += !am->set[i].ends_ms && am->set[i].slot[0];
        rw_am_stats(am, &st);
        rw_ops_alertmanager(am->ops, st.sent, st.errors, st.dropped, firing);
}

/* Take the queued transitions into the set; 1 when there were any. */
static int rw_am_take(rw_am_t *am) {
        rw_am_alert_t *q;
        size_t n;

        pthread_mutex_lock(&am->lock);
        q = am->queue;
        n = am->q_cnt;
        am->queue = NULL;
        am->q_cnt = am->q_size = 0;
        pthread_mutex_unlock(&am->lock);
        for (size_t i = 0; i < n; i++)
                rw_am_apply(am, &q[i]);
        free(q);
        return n > 0;
}

static void *rw_am_main(void *arg) {
        rw_am_t *am = arg;
        int stopping = 0;

        for (;;) {
                int64_t now = rw_mono_ms(), next = now + am->resend_ms;
                int fresh = rw_am_take(am), changed;

                /* What fires, from Redis: before each resend, and at once
                 * when the partitions owned changed. */
                pthread_mutex_lock(&am->lock);
                changed = am->slots_gen != am->seen_gen;
                pthread_mutex_unlock(&am->lock);
                if (changed || now >= am->refresh_due) {
                        int r = rw_am_refresh(am);
                        am->refresh_due = rw_mono_ms() +
                                (r < 0 && am->resend_ms > 5000 ? 5000 : am->resend_ms);
                        fresh |= r > 0;
                }
                if (am->refresh_due < next)
                        next = am->refresh_due;

                /* Resolved alerts are sent for a while, then forgotten. */
                for (size_t i = 0; i < am->set_cnt; ) {
                        if (am->set[i].ends_ms &&
                            rw_now_ms() - am->set[i].ends_ms > RW_AM_RESOLVED_KEEP_MS) {
                                rw_am_alert_free(&am->set[i]);
                                am->set[i] = am->set[--am->set_cnt];
                        } else {
                                i++;
                        }
                }
                for (int i = 0; i < am->url_cnt; i++) {
                        rw_am_url_t *u = &am->urls[i];
                        /* New transitions go out at once, unless backing off. */
                        if (fresh && !u->backoff)
                                u->due = now;
                        if (am->set_cnt && now >= u->due) {
                                rw_am_send(am, u);
                                u->due = rw_mono_ms() + (u->backoff ? u->backoff : am->resend_ms);
                        } else if (!am->set_cnt) {
                                u->due = now + am->resend_ms;
                        }
                        if (u->due < next)
                                next = u->due;
                }
                rw_am_publish(am);
                if (stopping)
                        break;
                pthread_mutex_lock(&am->lock);
                while (!am->stop && !am->q_cnt && am->slots_gen == am->seen_gen &&
                       rw_mono_ms() < next) {
                        struct timespec ts;
                        int64_t wait = next - rw_mono_ms();
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += (time_t)(wait / 1000);
                        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&am->cond, &am->lock, &ts);
                }
                stopping = am->stop;
                int pending = am->q_cnt > 0;
                pthread_mutex_unlock(&am->lock);
                /* Stopping: one last attempt for transitions not yet
                 * accepted (none waits for a backoff). */
                if (stopping) {
                        for (int i = 0; i < am->url_cnt; i++)
                                pending |= am->urls[i].backoff > 0;
                        if (!pending)
                                break;
                        for (int i = 0; i < am->url_cnt; i++)
                                am->urls[i].due = 0;
                }
        }
        return NULL;
}

rw_am_t *rw_am_new(const rw_conf_t *conf, rw_ops_t *ops, char *errstr, size_t errstr_size) {
        const char *list = rw_conf_get_str(conf, "alertmanager.url"), *p = list;
        const char *origin = rw_conf_origin(conf, "alertmanager.url");
        char prefix[300], lerr[320];
        rw_am_t *am;

        errstr[0] = '\0';
        if (!*list)
                return NULL;
        if (!origin || !strcmp(origin, "-X"))
                snprintf(prefix, sizeof(prefix), "-X alertmanager.url");
        else
                snprintf(prefix, sizeof(prefix), "%s: alertmanager.url", origin);
        if (!(am = calloc(1, sizeof(*am))))
                abort();
        while (*p) {
                size_t n = strcspn(p, ","), lead = strspn(p, " ");
                char url[1024];

                if (n - lead >= sizeof(url) || am->url_cnt == RW_AM_URLS_MAX) {
                        snprintf(errstr, errstr_size, "%s: too long (at most %d URLs of "
                                 "1023 bytes)", prefix, RW_AM_URLS_MAX);
                        goto fail;
                }
                memcpy(url, p + lead, n - lead);
                url[n - lead] = '\0';
                while (*url && (url[strlen(url) - 1] == ' ' || url[strlen(url) - 1] == '/'))
                        url[strlen(url) - 1] = '\0';
                if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
                        snprintf(errstr, errstr_size, "%s: expected http(s)://HOST[:PORT], "
                                 "got \"%s\"", prefix, url);
                        goto fail;
                }
                snprintf(am->urls[am->url_cnt++].url, sizeof(am->urls[0].url), "%s", url);
                p += n;
                if (*p == ',')
                        p++;
        }
        am->ops = ops;
        am->conf = conf;
        {
                const char *g = rw_conf_get_str(conf, "alertmanager.generator.url");
                const char *gorigin = rw_conf_origin(conf, "alertmanager.generator.url");
                char reason[600], dirbuf[1024];
                if (rw_am_generator_check(g, reason, sizeof(reason))) {
                        snprintf(errstr, errstr_size, "%s%salertmanager.generator.url: %s",
                                 gorigin && strcmp(gorigin, "-X") ? gorigin : "-X",
                                 gorigin && strcmp(gorigin, "-X") ? ": " : " ", reason);
                        goto fail;
                }
                am->generator = rw_am_strdup(g);
                snprintf(am->topic_orders, sizeof(am->topic_orders), "%s",
                         rw_conf_get_str(conf, "topics.orders"));
                if (!(am->codec = rw_codec_new(rw_schemas_dir(rw_conf_get_str(conf,
                                                                              "schemas.dir"),
                                                              dirbuf, sizeof(dirbuf)),
                                               errstr, errstr_size)))
                        goto fail;
        }
        am->resend_ms = rw_conf_get_int(conf, "alertmanager.resend.interval");
        am->timeout_ms = rw_conf_get_int(conf, "alertmanager.timeout");
        am->queue_max = (size_t)rw_conf_get_int(conf, "alertmanager.queue.max");
        pthread_mutex_init(&am->lock, NULL);
        pthread_cond_init(&am->cond, NULL);
        if (!(am->cu = rw_curl(lerr, sizeof(lerr)))) {
                snprintf(errstr, errstr_size, "alertmanager: %s", lerr);
                goto fail_sync;
        }
        if (!(am->curl = am->cu->easy_init())) {
                snprintf(errstr, errstr_size, "alertmanager: cannot initialise libcurl");
                goto fail_sync;
        }
        if (pthread_create(&am->thread, NULL, rw_am_main, am)) {
                snprintf(errstr, errstr_size, "alertmanager: cannot start its thread");
                goto fail_sync;
        }
        am->started = 1;
        rw_log_info("alertmanager: delivering alert transitions to %s (resent every %lld s)",
                    list, (long long)(am->resend_ms / 1000));
        return am;
fail_sync:
        if (am->curl)
                am->cu->easy_cleanup(am->curl);
        pthread_cond_destroy(&am->cond);
        pthread_mutex_destroy(&am->lock);
fail:
        rw_codec_destroy(am->codec);
        free(am->generator);
        free(am);
        return NULL;
}

void rw_am_destroy(rw_am_t *am) {
        if (!am)
                return;
        pthread_mutex_lock(&am->lock);
        am->stop = 1;
        pthread_cond_signal(&am->cond);
        pthread_mutex_unlock(&am->lock);
        if (am->started)
                pthread_join(am->thread, NULL);
        for (size_t i = 0; i < am->q_cnt; i++)
                rw_am_alert_free(&am->queue[i]);
        free(am->queue);
        for (size_t i = 0; i < am->set_cnt; i++)
                rw_am_alert_free(&am->set[i]);
        free(am->set);
        if (am->curl)
                am->cu->easy_cleanup(am->curl);
        pthread_cond_destroy(&am->cond);
        pthread_mutex_destroy(&am->lock);
        rw_state_destroy(am->st);
        rw_codec_destroy(am->codec);
        free(am->slots);
        free(am->generator);
        free(am);
}

void rw_am_notify(rw_am_t *am, const rw_alert_t *a) {
        if (!am || a->replay)
                return;
        pthread_mutex_lock(&am->lock);
        if (am->q_cnt >= am->queue_max) {
                int64_t now = rw_mono_ms();
                am->stats.dropped++;
                if (!am->drop_logged_at || now - am->drop_logged_at >= 10000) {
                        am->drop_logged_at = now;
                        rw_log_warn("alertmanager: queue full (alertmanager.queue.max %zu): "
                                    "transition %s %s dropped (%lld dropped so far)",
                                    am->queue_max, a->rule, rw_alert_status_name(a->status),
                                    (long long)am->stats.dropped);
                }
        } else {
                if (rw_grow(&am->queue, &am->q_size, am->q_cnt + 1, sizeof(*am->queue), 64))
                        abort();
                rw_am_alert_copy(&am->queue[am->q_cnt], a);
                am->queue[am->q_cnt].starts_ms = a->event_time;
                am->q_cnt++;
                pthread_cond_signal(&am->cond);
        }
        pthread_mutex_unlock(&am->lock);
}

void rw_am_stats(rw_am_t *am, rw_am_stats_t *st) {
        memset(st, 0, sizeof(*st));
        if (!am)
                return;
        pthread_mutex_lock(&am->lock);
        *st = am->stats;
        pthread_mutex_unlock(&am->lock);
}
