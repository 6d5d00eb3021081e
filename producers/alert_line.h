/* alert_line.h - the JSON line a person reads for each alert transition. */
#ifndef RW_ALERT_LINE_H
#define RW_ALERT_LINE_H

#include <stdio.h>
#include "schemas/codec.h"

/* One line on fp, flushed: event_time as RFC 3339 in whole seconds,
 * inactivity's figures and the window as durations ("15d", "90d"), strings
 * escaped. Besides what a person needs at a glance (status, severity, rule,
 * subject, observed, threshold, summary), what services get on the alerts
 * topic: alert_id, category, fingerprint, baseline (null: none), window. */
void rw_alert_line_print(FILE *fp, const rw_alert_t *a);

#endif /* RW_ALERT_LINE_H */
