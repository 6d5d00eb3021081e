/* metrics.h - a small registry of Prometheus metrics (counters, gauges,
 * histograms with labels) and its text exposition (format 0.0.4). No I/O:
 * ops/http.c serves what rw_metrics_render() writes. Thread-safe: one mutex
 * guards the registry; the writers update a few series per batch. */
#ifndef RW_METRICS_H
#define RW_METRICS_H

#include <stddef.h>

typedef enum rw_metric_type_e {
        RW_METRIC_COUNTER, RW_METRIC_GAUGE, RW_METRIC_HISTOGRAM,
} rw_metric_type_t;

typedef struct rw_metrics_s rw_metrics_t;

/* NULL when out of memory. */
rw_metrics_t *rw_metrics_new(void);
void rw_metrics_destroy(rw_metrics_t *m);      /* NULL-safe */

/* Declare a family; returns its handle (>= 0), or -1 when out of memory.
 * name and help must outlive m (string literals). A histogram's upper
 * bounds (ascending, +Inf implied) are copied. A family without labels has
 * its one series from the start (a counter reads 0 before its first add). */
int rw_metrics_family(rw_metrics_t *m, const char *name, rw_metric_type_t type,
                      const char *help, int labelled, const double *bounds,
                      size_t bound_cnt);

/* labels: the text between the braces, `topic="orders",outcome="applied"`
 * (see rw_metrics_labels()), or NULL/"" for none. A series is created on
 * first use. */
void rw_metrics_add(rw_metrics_t *m, int fam, const char *labels, double v);
void rw_metrics_set(rw_metrics_t *m, int fam, const char *labels, double v);
void rw_metrics_observe(rw_metrics_t *m, int fam, const char *labels, double v);
/* Replace every series of a family with these n (labels[i], values[i]) at
 * once, so a scrape sees either the old set or the new one (per-partition
 * gauges: the partitions assigned now). */
void rw_metrics_set_all(rw_metrics_t *m, int fam, const char *const *labels,
                        const double *values, size_t n);
/* Forget every series of a family (e.g. per-partition gauges, rebuilt from
 * the partitions assigned now). */
void rw_metrics_clear(rw_metrics_t *m, int fam);

/* Label text from NULL-terminated name, value pairs, values escaped as the
 * format wants (\\, \", \n): rw_metrics_labels(buf, size, "topic", t,
 * "outcome", "applied", NULL). Returns buf ("" when it does not fit). */
const char *rw_metrics_labels(char *buf, size_t size, ...);

/* The text exposition of every family, in declaration order. Caller frees.
 * NULL when out of memory. */
char *rw_metrics_render(rw_metrics_t *m, size_t *lenp);

#endif
