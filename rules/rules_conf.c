/* rules_conf.c - the rules' parameters from the `rules.*` properties. */
#include <stdio.h>
#include <string.h>
#include "rules/rules.h"

/* "rules.<rule name>.<param>" into buf. */
static const char *rw_rules_key(char *buf, size_t size, rw_rule_id_t id,
                                const char *param) {
        snprintf(buf, size, "rules.%s.%s", rw_rule_name(id), param);
        return buf;
}

/* A window the figures count in day buckets must be whole days. */
static int rw_rules_whole_days(const char *key, int64_t ms, char *errstr,
                               size_t errstr_size) {
        if (ms % RW_DAY_MS == 0)
                return 0;
        snprintf(errstr, errstr_size, "%s: expected a whole number of days "
                 "(e.g. 30d), got %lld ms", key, (long long)ms);
        return -1;
}

/* Boundaries must tile the dependency window. Blames the property that
 * was set, with where it was set ("FILE:LINE: " or "-X "). */
static int rw_rules_interval_check(const rw_rules_params_t *p, const rw_conf_t *conf,
                                   char *errstr, size_t errstr_size) {
        int64_t iv = rw_conf_get_int(conf, "evaluation.interval");
        const char *key = "evaluation.interval", *origin;
        char b1[32], b2[32];

        if (iv > 0 && p->dep_window_ms % iv == 0)
                return 0;
        if (!(origin = rw_conf_origin(conf, key))) {
                key = "rules.dependency.window";
                origin = rw_conf_origin(conf, key);
        }
        rw_fmt_duration_exact(b1, sizeof(b1), iv);
        rw_fmt_duration_exact(b2, sizeof(b2), p->dep_window_ms);
        if (!strcmp(key, "evaluation.interval"))
                snprintf(errstr, errstr_size, "%s%s%s: %s does not divide "
                         "rules.dependency.window (%s): choose one that does (1h, 30m, "
                         "15m, ...)", origin, strcmp(origin, "-X") ? ": " : " ", key, b1, b2);
        else
                snprintf(errstr, errstr_size, "%s%s%s: %s is not a multiple of "
                         "evaluation.interval (%s)", origin ? origin : "",
                         origin ? (strcmp(origin, "-X") ? ": " : " ") : "", key, b2, b1);
        return -1;
}

static int rw_rules_drop_from_conf(rw_rules_drop_params_t *d, rw_rule_id_t id,
                                   const rw_conf_t *conf, char *errstr,
                                   size_t errstr_size) {
        char kw[128], kc[128], k[128];

        d->warn = rw_conf_get_dbl(conf, rw_rules_key(kw, sizeof(kw), id, "warn_ratio"));
        d->crit = rw_conf_get_dbl(conf, rw_rules_key(kc, sizeof(kc), id, "critical_ratio"));
        d->min_baseline = rw_conf_get_int(conf, rw_rules_key(k, sizeof(k), id,
                                                             "min_baseline_orders"));
        if (d->crit >= d->warn) {
                snprintf(errstr, errstr_size, "%s: %g must be below %s (%g): a "
                         "critical drop is a deeper one", kc, d->crit, kw, d->warn);
                return -1;
        }
        d->window_ms = rw_conf_get_int(conf, rw_rules_key(k, sizeof(k), id, "window"));
        if (rw_rules_whole_days(k, d->window_ms, errstr, errstr_size))
                return -1;
        d->baseline_window_ms = rw_conf_get_int(conf, rw_rules_key(k, sizeof(k), id,
                                                                   "baseline_window"));
        return rw_rules_whole_days(k, d->baseline_window_ms, errstr, errstr_size);
}

int rw_rules_params_from_conf(rw_rules_params_t *p, const rw_conf_t *conf,
                              char *errstr, size_t errstr_size) {
        static const struct {
                const char *key;
                size_t off;     /* of an int64_t window in rw_rules_params_t */
        } windows[] = {
                { "rules.churn.support_spike.window",
                  offsetof(rw_rules_params_t, spike_window_ms) },
                { "rules.churn.low_satisfaction.window",
                  offsetof(rw_rules_params_t, satisfaction_window_ms) },
                { "rules.churn.refund_rate.window",
                  offsetof(rw_rules_params_t, refund_window_ms) },
                { "rules.dependency.window",
                  offsetof(rw_rules_params_t, dep_window_ms) },
        };
        char k[128];

        rw_rules_params_default(p);
        p->hysteresis = rw_conf_get_dbl(conf, "alerts.hysteresis");
        p->cooldown_ms = rw_conf_get_int(conf, "alerts.cooldown");
        for (int i = 0; i < RW_RULE__CNT; i++)
                p->enabled[i] = rw_conf_get_bool(
                        conf, rw_rules_key(k, sizeof(k), (rw_rule_id_t)i, "enabled"));

        if (rw_rules_drop_from_conf(&p->order_drop, RW_RULE_ORDER_DROP, conf,
                                    errstr, errstr_size) ||
            rw_rules_drop_from_conf(&p->spend_drop, RW_RULE_SPEND_DROP, conf,
                                    errstr, errstr_size))
                return -1;

        p->inactivity_min_ms = rw_conf_get_int(conf, "rules.churn.inactivity.min_gap");
        p->inactivity_gap_factor = rw_conf_get_dbl(conf, "rules.churn.inactivity.gap_factor");
        p->inactivity_min_orders = rw_conf_get_int(conf, "rules.churn.inactivity.min_orders");

        p->spike_baseline_weeks = rw_conf_get_int(conf,
                                                  "rules.churn.support_spike.baseline_weeks");
        p->spike_min_tickets = rw_conf_get_int(conf, "rules.churn.support_spike.min_tickets");
        p->spike_factor = rw_conf_get_dbl(conf, "rules.churn.support_spike.factor");

        p->csat_max = rw_conf_get_dbl(conf, "rules.churn.low_satisfaction.csat_max");
        p->csat_min_answers = rw_conf_get_int(conf, "rules.churn.low_satisfaction.min_answers");
        p->sentiment_max = rw_conf_get_dbl(conf, "rules.churn.low_satisfaction.sentiment_max");
        p->sentiment_min_events = rw_conf_get_int(conf,
                                                  "rules.churn.low_satisfaction.min_scored");

        p->refund_share = rw_conf_get_dbl(conf, "rules.churn.refund_rate.share");
        p->refund_min_orders = rw_conf_get_int(conf, "rules.churn.refund_rate.min_orders");

        for (size_t i = 0; i < RW_ARRAY_SIZE(windows); i++) {
                int64_t *w = (int64_t *)((char *)p + windows[i].off);

                *w = rw_conf_get_int(conf, windows[i].key);
                if (rw_rules_whole_days(windows[i].key, *w, errstr, errstr_size))
                        return -1;
        }
        if (rw_rules_interval_check(p, conf, errstr, errstr_size))
                return -1;

        for (int i = RW_RULE_ACCOUNT_SHARE; i <= RW_RULE_VENDOR_HHI; i++) {
                rw_rule_id_t id = (rw_rule_id_t)i;
                char kw[128], kc[128];

                p->dep_warn[id] = rw_conf_get_dbl(conf, rw_rules_key(kw, sizeof(kw), id, "warn"));
                p->dep_crit[id] = rw_conf_get_dbl(conf, rw_rules_key(kc, sizeof(kc), id,
                                                                     "critical"));
                if (p->dep_crit[id] <= p->dep_warn[id]) {
                        snprintf(errstr, errstr_size, "%s: %g must be above %s (%g)",
                                 kc, p->dep_crit[id], kw, p->dep_warn[id]);
                        return -1;
                }
        }
        p->dep_min_history_ms = rw_conf_get_int(conf, "rules.dependency.min_history");
        p->dep_min_orders = rw_conf_get_int(conf, "rules.dependency.min_orders");
        p->dep_min_subjects[0] = rw_conf_get_int(conf, "rules.dependency.min_accounts");
        p->dep_min_subjects[1] = rw_conf_get_int(conf, "rules.dependency.min_vendors");
        p->input_gap_ms = rw_conf_get_int(conf, "input.gap");
        return 0;
}
