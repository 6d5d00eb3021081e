/* alert_line.c - the JSON line a person reads for each alert transition. */
#include <stdio.h>
#include <string.h>
#include "producers/alert_line.h"
#include "rules/rules.h"
#include "common/json.h"
#include "common/rw.h"

void rw_alert_line_print(FILE *fp, const rw_alert_t *a) {
        char ts[40], subject[600], win[32];
        /* Inactivity's figures are durations, unless it could not decide. */
        int dur = rw_rule_by_name(a->rule, strlen(a->rule)) == RW_RULE_INACTIVITY &&
                  !strstr(a->summary, RW_UNDECIDED_TEXT);

        snprintf(subject, sizeof(subject), "%s/%s",
                 rw_subject_type_name(a->subject_type), a->subject_id);
        fprintf(fp, "{\"event_time\":\"%s\",\"status\":\"%s\",\"severity\":\"%s\","
                "\"rule\":\"%s\",\"subject\":",
                rw_fmt_time(ts, sizeof(ts), a->event_time / 1000 * 1000), rw_alert_status_name(a->status),
                rw_alert_severity_name(a->severity), a->rule);
        rw_json_write_str(fp, subject);
        if (dur) {
                /* Durations as a person reads them, not milliseconds. */
                char o[32], th[32];
                rw_duration_format((int64_t)a->observed, o, sizeof(o));
                rw_duration_format((int64_t)a->threshold, th, sizeof(th));
                fprintf(fp, ",\"observed\":\"%s\",\"threshold\":\"%s\"", o, th);
        } else {
                fprintf(fp, ",\"observed\":%.4g,\"threshold\":%.4g", a->observed,
                        a->threshold);
        }
        fprintf(fp, ",\"summary\":");
        rw_json_write_str(fp, a->summary);
        fprintf(fp, ",\"alert_id\":\"%s\",\"category\":\"%s\",\"fingerprint\":",
                a->alert_id, rw_category_name(a->category));
        rw_json_write_str(fp, a->fingerprint);
        if (!a->has_baseline)
                fprintf(fp, ",\"baseline\":null");
        else if (dur) {
                char b[32];
                rw_duration_format((int64_t)a->baseline, b, sizeof(b));
                fprintf(fp, ",\"baseline\":\"%s\"", b);
        } else
                fprintf(fp, ",\"baseline\":%.4g", a->baseline);
        fprintf(fp, ",\"window\":\"%s\"}\n", rw_fmt_duration(win, sizeof(win), a->window_ms));
        fflush(fp);
}
