/* metrics.c - a small registry of Prometheus metrics and its text
 * exposition format (version 0.0.4). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/metrics.h"
#include "common/rw.h"

typedef struct rw_series_s {
        char *labels;           /* "" for none */
        double value;           /* counter, gauge; histogram: sum */
        uint64_t count;         /* histogram */
        uint64_t *buckets;      /* histogram: per bound, not cumulative */
} rw_series_t;

typedef struct rw_family_s {
        const char *name, *help;
        rw_metric_type_t type;
        double *bounds;
        size_t bound_cnt;
        rw_series_t *series;
        size_t series_cnt, series_size;
} rw_family_t;

struct rw_metrics_s {
        pthread_mutex_t lock;
        rw_family_t *fams;
        size_t fam_cnt, fam_size;
};

rw_metrics_t *rw_metrics_new(void) {
        rw_metrics_t *m = calloc(1, sizeof(*m));
        if (m)
                pthread_mutex_init(&m->lock, NULL);
        return m;
}

static void rw_series_free(rw_series_t *s) {
        free(s->labels);
        free(s->buckets);
}

void rw_metrics_destroy(rw_metrics_t *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->fam_cnt; i++) {
                for (size_t j = 0; j < m->fams[i].series_cnt; j++)
                        rw_series_free(&m->fams[i].series[j]);
                free(m->fams[i].series);
                free(m->fams[i].bounds);
        }
        free(m->fams);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

/* The family's series with these labels, created if new (NULL: no memory).
 * Under the lock. */
static rw_series_t *rw_series_get(rw_family_t *f, const char *labels) {
        rw_series_t *s;

        if (!labels)
                labels = "";
        for (size_t i = 0; i < f->series_cnt; i++)
                if (!strcmp(f->series[i].labels, labels))
                        return &f->series[i];
        if (rw_grow(&f->series, &f->series_size, f->series_cnt + 1, sizeof(*f->series), 8))
                return NULL;
        s = &f->series[f->series_cnt];
        memset(s, 0, sizeof(*s));
        if (!(s->labels = strdup(labels)) ||
            (f->type == RW_METRIC_HISTOGRAM &&
             !(s->buckets = calloc(f->bound_cnt + 1, sizeof(*s->buckets))))) {
                rw_series_free(s);
                return NULL;
        }
        f->series_cnt++;
        return s;
}

int rw_metrics_family(rw_metrics_t *m, const char *name, rw_metric_type_t type,
                      const char *help, int labelled, const double *bounds,
                      size_t bound_cnt) {
        rw_family_t *f;
        int fam = -1;

        pthread_mutex_lock(&m->lock);
        if (rw_grow(&m->fams, &m->fam_size, m->fam_cnt + 1, sizeof(*m->fams), 16))
                goto done;
        f = &m->fams[m->fam_cnt];
        memset(f, 0, sizeof(*f));
        f->name = name;
        f->help = help;
        f->type = type;
        if (type == RW_METRIC_HISTOGRAM && bound_cnt) {
                if (!(f->bounds = malloc(bound_cnt * sizeof(*f->bounds))))
                        goto done;
                memcpy(f->bounds, bounds, bound_cnt * sizeof(*f->bounds));
                f->bound_cnt = bound_cnt;
        }
        if (!labelled && !rw_series_get(f, NULL)) {
                free(f->bounds);
                goto done;
        }
        fam = (int)m->fam_cnt++;
done:
        pthread_mutex_unlock(&m->lock);
        return fam;
}

void rw_metrics_add(rw_metrics_t *m, int fam, const char *labels, double v) {
        rw_series_t *s;

        if (!m || fam < 0)
                return;
        pthread_mutex_lock(&m->lock);
        if ((s = rw_series_get(&m->fams[fam], labels)))
                s->value += v;
        pthread_mutex_unlock(&m->lock);
}

void rw_metrics_set(rw_metrics_t *m, int fam, const char *labels, double v) {
        rw_series_t *s;

        if (!m || fam < 0)
                return;
        pthread_mutex_lock(&m->lock);
        if ((s = rw_series_get(&m->fams[fam], labels)))
                s->value = v;
        pthread_mutex_unlock(&m->lock);
}

void rw_metrics_observe(rw_metrics_t *m, int fam, const char *labels, double v) {
        rw_family_t *f;
        rw_series_t *s;
        size_t b;

        if (!m || fam < 0)
                return;
        pthread_mutex_lock(&m->lock);
        f = &m->fams[fam];
        if ((s = rw_series_get(f, labels))) {
                for (b = 0; b < f->bound_cnt && v > f->bounds[b]; b++)
                        ;
                s->buckets[b]++;
                s->count++;
                s->value += v;
        }
        pthread_mutex_unlock(&m->lock);
}

/* Every series of f gone. Under m->lock. */
static void rw_family_reset(rw_family_t *f) {
        for (size_t i = 0; i < f->series_cnt; i++)
                rw_series_free(&f->series[i]);
        f->series_cnt = 0;
}

void rw_metrics_clear(rw_metrics_t *m, int fam) {
        if (!m || fam < 0)
                return;
        pthread_mutex_lock(&m->lock);
        rw_family_reset(&m->fams[fam]);
        pthread_mutex_unlock(&m->lock);
}

void rw_metrics_set_all(rw_metrics_t *m, int fam, const char *const *labels,
                        const double *values, size_t n) {
        rw_family_t *f;
        rw_series_t *s;

        if (!m || fam < 0)
                return;
        pthread_mutex_lock(&m->lock);
        f = &m->fams[fam];
        rw_family_reset(f);
        for (size_t i = 0; i < n; i++)
                if ((s = rw_series_get(f, labels[i])))
                        s->value = values[i];
        pthread_mutex_unlock(&m->lock);
}

const char *rw_metrics_labels(char *buf, size_t size, ...) {
        const char *name;
        size_t of = 0;
        va_list ap;

        if (!size)
                return buf;
        buf[0] = '\0';
        va_start(ap, size);
        while ((name = va_arg(ap, const char *))) {
                const char *v = va_arg(ap, const char *);
                int r = snprintf(buf + of, size - of, "%s%s=\"", of ? "," : "", name);
                if (r < 0 || (size_t)r >= size - of)
                        goto full;
                of += (size_t)r;
                for (; v && *v; v++) {
                        const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" :
                                          *v == '\n' ? "\\n" : NULL;
                        size_t n = esc ? 2 : 1;
                        if (of + n + 1 >= size)
                                goto full;
                        memcpy(buf + of, esc ? esc : v, n);
                        of += n;
                }
                if (of + 2 >= size)
                        goto full;
                buf[of++] = '"';
                buf[of] = '\0';
        }
        va_end(ap);
        return buf;
full:
        va_end(ap);
        buf[0] = '\0';
        return buf;
}

/* The shortest text that reads back as v: 0.005, not 0.0050000000000000001. */
static void rw_metrics_dbl(char *buf, size_t size, double v) {
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        return;
        }
}

/* A sample value as the format writes it: integers without a fraction,
 * +Inf, -Inf, NaN. */
static void rw_metrics_value(FILE *fp, double v) {
        if (isnan(v))
                fputs("NaN", fp);
        else if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", fp);
        else if (v == floor(v) && fabs(v) < 1e15)
                fprintf(fp, "%.0f", v);
        else {
                char buf[40];
                rw_metrics_dbl(buf, sizeof(buf), v);
                fputs(buf, fp);
        }
}

/* HELP text escaped as the format wants (\\ and \n). */
static void rw_metrics_help(FILE *fp, const char *s) {
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\\\", fp);
                else if (*s == '\n')
                        fputs("\\n", fp);
                else
                        fputc(*s, fp);
        }
}

static void rw_metrics_sample(FILE *fp, const char *name, const char *suffix,
                              const char *labels, const char *extra, double v) {
        int braces = *labels || extra;

        fprintf(fp, "%s%s%s%s%s%s%s ", name, suffix, braces ? "{" : "", labels,
                *labels && extra ? "," : "", extra ? extra : "", braces ? "}" : "");
        rw_metrics_value(fp, v);
        fputc('\n', fp);
}

char *rw_metrics_render(rw_metrics_t *m, size_t *lenp) {
        static const char *const types[] = { "counter", "gauge", "histogram" };
        char *out = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&out, &len);

        if (!fp)
                return NULL;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->fam_cnt; i++) {
                const rw_family_t *f = &m->fams[i];
                fprintf(fp, "# HELP %s ", f->name);
                rw_metrics_help(fp, f->help);
                fprintf(fp, "\n# TYPE %s %s\n", f->name, types[f->type]);
                for (size_t j = 0; j < f->series_cnt; j++) {
                        const rw_series_t *s = &f->series[j];
                        uint64_t cum = 0;
                        char le[48], bound[40];

                        if (f->type != RW_METRIC_HISTOGRAM) {
                                rw_metrics_sample(fp, f->name, "", s->labels, NULL, s->value);
                                continue;
                        }
                        for (size_t b = 0; b <= f->bound_cnt; b++) {
                                cum += s->buckets[b];
                                if (b < f->bound_cnt) {
                                        rw_metrics_dbl(bound, sizeof(bound), f->bounds[b]);
                                        snprintf(le, sizeof(le), "le=\"%s\"", bound);
                                } else
                                        snprintf(le, sizeof(le), "le=\"+Inf\"");
                                rw_metrics_sample(fp, f->name, "_bucket", s->labels, le,
                                                  (double)cum);
                        }
                        rw_metrics_sample(fp, f->name, "_sum", s->labels, NULL, s->value);
                        rw_metrics_sample(fp, f->name, "_count", s->labels, NULL,
                                          (double)s->count);
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (fclose(fp)) {
                free(out);
                return NULL;
        }
        if (lenp)
                *lenp = len;
        return out;
}
