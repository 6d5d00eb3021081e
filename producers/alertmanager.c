/* alertmanager.c - alert transitions to Prometheus Alertmanager, as its own
 * notifier does: every URL gets every alert, in POSTs of at most 256;
 * firing alerts are sent again every `alertmanager.resend.interval` with
 * `endsAt` four intervals ahead (so an Alertmanager that restarted, or
 * missed a POST, has them again within an interval, and an alert nobody
 * resends expires); a RESOLVED transition sets `endsAt` and is sent again
 * for 15 minutes. Transitions reach the sender's thread through a bounded
 * queue (drops counted); a failed POST is retried with backoff. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "producers/alertmanager.h"
#include "ops/status.h"
#include "common/json.h"
#include "common/log.h"

#define RW_AM_BATCH 256
#define RW_AM_RESOLVED_KEEP_MS (15 * 60 * 1000)
#define RW_AM_URLS_MAX 16

/* A transition as queued and kept (owned strings). */
typedef struct rw_am_alert_s {
        rw_alert_t a;
        int64_t starts_ms, ends_ms;     /* ends_ms 0: firing */
} rw_am_alert_t;

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
        /* The sender's own. */
        rw_am_alert_t *set;     /* firing, and resolved for a while */
        size_t set_cnt, set_size;
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
        }
        if (rw_grow(&am->set, &am->set_size, am->set_cnt + 1, sizeof(*am->set), 64))
                abort();
        am->set[am->set_cnt++] = *x;
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
                rw_am_alert_json(fp, &k->a, k->starts_ms,
                                 k->ends_ms ? k->ends_ms : now + 4 * am->resend_ms, NULL);
        }
        fputc(']', fp);
        fclose(fp);
        snprintf(full, sizeof(full), "%s/api/v2/alerts", url);
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_reset(am->curl);
        curl_easy_setopt(am->curl, CURLOPT_URL, full);
        curl_easy_setopt(am->curl, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(am->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(am->curl, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(am->curl, CURLOPT_TIMEOUT_MS, (long)am->timeout_ms);
        curl_easy_setopt(am->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(am->curl, CURLOPT_ERRORBUFFER, cerr);
        if ((cc = curl_easy_perform(am->curl)) != CURLE_OK) {
                snprintf(errstr, errstr_size, "%s", *cerr ? cerr : curl_easy_strerror(cc));
        } else {
                curl_easy_getinfo(am->curl, CURLINFO_RESPONSE_CODE, &code);
                if (code >= 200 && code < 300)
                        rc = 0;
                else
                        snprintf(errstr, errstr_size, "HTTP %ld", code);
        }
        curl_slist_free_all(hdr);
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
        rw_am_stats(am, &st);
        rw_ops_alertmanager(am->ops, st.sent, st.errors, st.dropped);
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
                int fresh = rw_am_take(am);

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
                while (!am->stop && !am->q_cnt && rw_mono_ms() < next) {
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
        char prefix[300];
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
        am->resend_ms = rw_conf_get_int(conf, "alertmanager.resend.interval");
        am->timeout_ms = rw_conf_get_int(conf, "alertmanager.timeout");
        am->queue_max = (size_t)rw_conf_get_int(conf, "alertmanager.queue.max");
        pthread_mutex_init(&am->lock, NULL);
        pthread_cond_init(&am->cond, NULL);
        if (!(am->curl = curl_easy_init())) {
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
        curl_easy_cleanup(am->curl);
        pthread_cond_destroy(&am->cond);
        pthread_mutex_destroy(&am->lock);
fail:
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
        curl_easy_cleanup(am->curl);
        pthread_cond_destroy(&am->cond);
        pthread_mutex_destroy(&am->lock);
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
