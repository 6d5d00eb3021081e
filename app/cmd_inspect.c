/* cmd_inspect.c - `riskwatch inspect`: an account's or vendor's state exactly
 * as the rules see it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <getopt.h>
#include "app/cli.h"
#include "common/log.h"
#include "rules/rules.h"
#include "state/state.h"
#include "consumers/boundary.h"
#include "common/json.h"

static void rw_inspect_usage(FILE *fp) {
        fprintf(fp,
                "Usage: riskwatch inspect [OPTIONS] ACCOUNT\n"
                "       riskwatch inspect [OPTIONS] --vendor VENDOR\n"
                "       riskwatch inspect [OPTIONS] --portfolio\n"
                "\n"
                "Print an account's rolling figures exactly as the rules see them: each\n"
                "input stream's figures at that stream's partition watermark (minus\n"
                "allowed.lateness; at the account's latest event when that is later),\n"
                "every churn rule's decision on them and the state of its alert. With\n"
                "--vendor, a vendor's order value over the dependency window, summed over\n"
                "every orders partition. With --portfolio, what the dependency rules\n"
                "were last decided on: the last boundary, the group's low watermark,\n"
                "90-day totals, HHIs, the largest shares, and the dependency alerts\n"
                "firing or waiting for delivery.\n"
                "\n"
                "Options:\n"
                "%s"
                "      --json       one JSON object instead of text\n"
                "      --vendor ID  inspect vendor ID\n"
                "      --portfolio  inspect the dependency rules' portfolio\n"
                "  -h, --help       this help\n"
                "\n"
                "Exit status: 0 found, 1 not found or Redis unreachable, 2 usage error.\n",
                rw_cli_conf_help);
}

static const char *rw_ts(int64_t ms, char *buf, size_t size) {
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        if (ms <= 0) {
                snprintf(buf, size, "-");
                return buf;
        }
        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

static const char *rw_yes(int v) { return v ? "true" : "false"; }

/* One rule's decision and lifecycle state. */
static void rw_inspect_rule(rw_rule_id_t id, const rw_rules_params_t *params,
                            const rw_account_figures_t *fig, const rw_fp_state_t *fst,
                            int json, int first) {
        rw_decision_t dec;
        int decided = rw_rules_eval_account(id, params, fig, &dec);

        if (json) {
                printf("%s{\"rule\":", first ? "" : ",");
                rw_json_write_str(stdout, rw_rule_name(id));
                printf(",\"decided\":%s", rw_yes(decided));
                if (decided) {
                        printf(",\"holds\":%s,\"severity\":", rw_yes(dec.holds));
                        rw_json_write_str(stdout, rw_alert_severity_name(dec.severity));
                        printf(",\"observed\":%.6g,\"threshold\":%.6g,\"window_ms\":%lld,"
                               "\"baseline\":", dec.observed, dec.threshold,
                               (long long)dec.window_ms);
                        if (dec.has_baseline)
                                printf("%.6g", dec.baseline);
                        else
                                printf("null");
                }
                printf(",\"alert\":{\"firing\":%s,\"severity\":", rw_yes(fst->firing));
                rw_json_write_str(stdout, rw_alert_severity_name(fst->severity));
                printf(",\"resolved_at\":%lld}}", (long long)fst->resolved_at);
                return;
        }
        printf("  %-24s ", rw_rule_name(id));
        if (!decided) {
                printf("%-44s", "cannot decide (too little data)");
        } else if (id == RW_RULE_INACTIVITY) {
                char o[32], t[32];
                rw_duration_format((int64_t)dec.observed, o, sizeof(o));
                rw_duration_format((int64_t)dec.threshold, t, sizeof(t));
                printf("%-5s %-8s observed %-9s threshold %-9s",
                       dec.holds ? "HOLDS" : "ok", dec.holds ?
                       rw_alert_severity_name(dec.severity) : "", o, t);
        } else {
                printf("%-5s %-8s observed %-9.4g threshold %-9.4g",
                       dec.holds ? "HOLDS" : "ok", dec.holds ?
                       rw_alert_severity_name(dec.severity) : "",
                       dec.observed, dec.threshold);
        }
        printf("  alert: %s\n", fst->firing ?
               rw_alert_severity_name(fst->severity) : "not firing");
}

static void rw_inspect_print(const rw_inspect_t *in, const rw_rules_params_t *params,
                             int64_t lateness, int json) {
        const rw_rules_drop_params_t *od = &params->order_drop, *sd = &params->spend_drop;
        rw_account_figures_t fo, fs;
        char b1[32], b2[32], b3[32], b4[32], csat[64], sent[64];
        int64_t now_o = in->wm_orders - lateness, now_s = in->wm_support - lateness;
        double gap = in->orders.orders_total > 1 ?
                     (double)(in->orders.last_order - in->orders.first_order) /
                     (double)(in->orders.orders_total - 1) : 0.0;
        int first = 1;

        /* As the replay does: never before the account's latest event. */
        if (in->orders.last_at > now_o)
                now_o = in->orders.last_at;
        if (in->support.last_at > now_s)
                now_s = in->support.last_at;
        rw_figures_compute(params, in->orders.buckets, in->orders.bucket_cnt,
                           in->orders.orders_total, in->orders.first_order,
                           in->orders.last_order, now_o, &fo);
        rw_figures_compute(params, in->support.buckets, in->support.bucket_cnt, 0, 0, 0,
                           now_s, &fs);
        if (json) {
                printf("{\"account\":");
                rw_json_write_str(stdout, in->orders.account);
                printf(",\"partition\":%d,"
                       "\"orders\":{\"watermark\":%lld,\"now\":%lld,\"days_kept\":%zu,"
                       "\"placed_30d\":%lld,\"orders_30d\":%lld,\"returns_30d\":%lld,"
                       "\"net_spend_30d\":%lld,\"placed_base_90d\":%lld,"
                       "\"net_spend_base_90d\":%lld,\"orders_total\":%lld,"
                       "\"first_order\":%lld,\"last_order\":%lld},"
                       "\"support\":{\"watermark\":%lld,\"now\":%lld,\"days_kept\":%zu,"
                       "\"tickets_7d\":%lld,\"tickets_hot_7d\":%lld,"
                       "\"tickets_base_8w\":%lld,\"csat_sum_30d\":%.6g,\"csat_n_30d\":%lld,"
                       "\"sentiment_sum_30d\":%.6g,\"sentiment_n_30d\":%lld},\"rules\":[",
                       (int)in->partition, (long long)in->wm_orders, (long long)now_o, in->orders.bucket_cnt,
                       (long long)fo.placed_30, (long long)fo.orders_30,
                       (long long)fo.returns_30, (long long)fo.net_spend_30,
                       (long long)fo.placed_base, (long long)fo.net_spend_base,
                       (long long)fo.orders_total, (long long)fo.first_order,
                       (long long)fo.last_order,
                       (long long)in->wm_support, (long long)now_s, in->support.bucket_cnt,
                       (long long)fs.tickets_7, (long long)fs.tickets_hot_7,
                       (long long)fs.tickets_base, fs.csat_sum_30, (long long)fs.csat_n_30,
                       fs.sentiment_sum_30, (long long)fs.sentiment_n_30);
        } else {
                char shown[1024];
                printf("account %s (partition %d)\n",
                       rw_log_escape_str(shown, sizeof(shown), in->orders.account),
                       (int)in->partition);
                printf("orders   watermark %s, rules evaluated at %s, %zu day(s) kept\n",
                       rw_ts(in->wm_orders, b1, sizeof(b1)), rw_ts(now_o, b2, sizeof(b2)),
                       in->orders.bucket_cnt);
                /* The rules' windows (the defaults: 30 days, the 90 before). */
                printf("  order drop          %lld placed in the last %lld days; %lld in "
                       "the %lld days before (%.1f per %lld days)\n",
                       (long long)fo.placed_30, (long long)(od->window_ms / RW_DAY_MS),
                       (long long)fo.placed_base,
                       (long long)(od->baseline_window_ms / RW_DAY_MS),
                       (double)fo.placed_base * (double)od->window_ms /
                       (double)od->baseline_window_ms,
                       (long long)(od->window_ms / RW_DAY_MS));
                printf("  spend drop          net spend %.2f in the last %lld days; %.2f "
                       "in the %lld days before\n", (double)fo.net_spend_30 / 100.0,
                       (long long)(sd->window_ms / RW_DAY_MS),
                       (double)fo.net_spend_base / 100.0,
                       (long long)(sd->baseline_window_ms / RW_DAY_MS));
                printf("  last %-3lld days       %lld orders, %lld cancelled or refunded\n",
                       (long long)(params->refund_window_ms / RW_DAY_MS),
                       (long long)fo.orders_30, (long long)fo.returns_30);
                if (fo.orders_total > 1)
                        rw_duration_format((int64_t)gap, b4, sizeof(b4));
                else
                        snprintf(b4, sizeof(b4), "-");
                printf("  all time            %lld placed, first %s, last %s, mean gap %s\n",
                       (long long)fo.orders_total, rw_ts(fo.first_order, b1, sizeof(b1)),
                       rw_ts(fo.last_order, b3, sizeof(b3)), b4);
                printf("support  watermark %s, rules evaluated at %s, %zu day(s) kept\n",
                       rw_ts(in->wm_support, b1, sizeof(b1)), rw_ts(now_s, b2, sizeof(b2)),
                       in->support.bucket_cnt);
                printf("  last %-3lld days       %lld opened or reopened (%lld urgent or "
                       "escalated); %lld weeks before: %lld (%.2f a week)\n",
                       (long long)(params->spike_window_ms / RW_DAY_MS),
                       (long long)fs.tickets_7, (long long)fs.tickets_hot_7,
                       (long long)params->spike_baseline_weeks, (long long)fs.tickets_base,
                       (double)fs.tickets_base / (double)params->spike_baseline_weeks);
                /* A window without answers has no mean: say so. */
                if (fs.csat_n_30)
                        snprintf(csat, sizeof(csat), "CSAT %.2f over %lld answer(s)",
                                 fs.csat_sum_30 / (double)fs.csat_n_30,
                                 (long long)fs.csat_n_30);
                else
                        snprintf(csat, sizeof(csat), "no CSAT answers");
                if (fs.sentiment_n_30)
                        snprintf(sent, sizeof(sent), "sentiment %.2f over %lld",
                                 fs.sentiment_sum_30 / (double)fs.sentiment_n_30,
                                 (long long)fs.sentiment_n_30);
                else
                        snprintf(sent, sizeof(sent), "no sentiment scores");
                printf("  last %-3lld days       %s, %s\n",
                       (long long)(params->satisfaction_window_ms / RW_DAY_MS), csat, sent);
                printf("rules\n");
        }
        for (int r = 0; r < RW_RULE__CNT; r++) {
                rw_rule_id_t id = (rw_rule_id_t)r;
                if (rw_rule_subject(id) != RW_SUBJ_ACCOUNT ||
                    rw_rule_category(id) != RW_CAT_CHURN)
                        continue;
                rw_inspect_rule(id, params,
                                rw_rule_source(id) == RW_SRC_ORDERS ? &fo : &fs,
                                &in->orders.fp[id], json, first);
                first = 0;
        }
        if (json)
                printf("]}\n");
}

static int rw_inspect_portfolio(rw_state_t *st, const rw_conf_t *conf,
                                const rw_rules_params_t *params, int json) {
        rw_boundary_opts_t bo;
        rw_boundary_status_t s;
        rw_boundary_t *bd;
        int64_t stored;
        char errstr[512], t1[32], t2[32], t3[32], shown[1024];

        rw_boundary_opts_default(&bo);
        bo.interval_ms = rw_conf_get_int(conf, "evaluation.interval");
        bo.lateness_ms = rw_conf_get_int(conf, "allowed.lateness");
        bo.idle_timeout_ms = rw_conf_get_int(conf, "idle.timeout");
        /* The fold copies are indexed by the interval the namespace was
         * built with: read with it, whatever the configuration says. */
        if (rw_state_interval(st, bo.interval_ms, 0, &stored, errstr, sizeof(errstr))) {
                fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                return -1;
        }
        if (!stored) {
                rw_fmt_duration_exact(t1, sizeof(t1), bo.interval_ms);
                fprintf(stderr, "riskwatch inspect: state.namespace '%s' was built with "
                        "another evaluation.interval than %s, which it did not record: "
                        "set the one it was built with\n", rw_state_ns(st), t1);
                return -1;
        }
        if (stored != bo.interval_ms) {
                rw_fmt_duration_exact(t1, sizeof(t1), stored);
                rw_fmt_duration_exact(t2, sizeof(t2), bo.interval_ms);
                fprintf(stderr, "riskwatch inspect: state.namespace '%s' was built with "
                        "evaluation.interval %s: shown with it (not %s)\n",
                        rw_state_ns(st), t1, t2);
                bo.interval_ms = stored;
        }
        if (!(bd = rw_boundary_new(params, &bo, errstr, sizeof(errstr))) ||
            rw_boundary_status(bd, st, 0, rw_now_ms(), &s, errstr, sizeof(errstr))) {
                fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                rw_boundary_destroy(bd);
                return -1;
        }
        rw_boundary_destroy(bd);
        if (s.first < 0) {
                fprintf(stderr, "riskwatch inspect: no portfolio in namespace %s yet\n",
                        rw_state_ns(st));
                return -1;
        }
        if (json) {
                printf("{\"partitions\":%d,\"last_boundary\":%lld,\"history_from\":%lld,"
                       "\"low_watermark\":%lld,\"pending\":%lld,\"account_sum\":%lld,"
                       "\"vendor_sum\":%lld,\"account_hhi\":%.1f,\"vendor_hhi\":%.1f,"
                       "\"firing\":%zu,\"outbox\":%lld",
                       (int)s.partitions, (long long)s.last, (long long)s.first,
                       s.low_watermark == INT64_MIN ? -1LL : (long long)s.low_watermark,
                       (long long)s.pending, (long long)s.account_sum,
                       (long long)s.vendor_sum, s.account_hhi, s.vendor_hhi, s.firing,
                       (long long)s.outbox);
                for (int fam = 0; fam < 2; fam++) {
                        size_t n = fam ? s.top_vendor_cnt : s.top_account_cnt;
                        printf(",\"top_%s\":[", fam ? "vendors" : "accounts");
                        for (size_t i = 0; i < n; i++) {
                                printf("%s{\"id\":", i ? "," : "");
                                rw_json_write_str(stdout, fam ? s.top_vendors[i].id :
                                                                s.top_accounts[i].id);
                                printf(",\"total\":%lld,\"share\":%.4f}",
                                       (long long)(fam ? s.top_vendors[i].total :
                                                         s.top_accounts[i].total),
                                       fam ? s.top_vendors[i].share : s.top_accounts[i].share);
                        }
                        printf("]");
                }
                printf("}\n");
                return 0;
        }
        printf("portfolio over %d orders partition(s): decided up to %s (history from %s); "
               "low watermark %s, %lld boundary(ies) pending\n", (int)s.partitions,
               rw_ts(s.last, t1, sizeof(t1)), rw_ts(s.first, t2, sizeof(t2)),
               rw_ts(s.low_watermark == INT64_MIN ? 0 : s.low_watermark, t3, sizeof(t3)),
               (long long)s.pending);
        for (int fam = 0; fam < 2; fam++) {
                size_t n = fam ? s.top_vendor_cnt : s.top_account_cnt;
                printf("%-9s %s %.2f over the window, HHI %.0f; largest:",
                       fam ? "vendors:" : "accounts:", fam ? "order value" : "net spend",
                       (double)(fam ? s.vendor_sum : s.account_sum) / 100.0,
                       fam ? s.vendor_hhi : s.account_hhi);
                for (size_t i = 0; i < n; i++)
                        printf(" %s %.1f%%", rw_log_escape_str(shown, sizeof(shown), fam ?
                                                               s.top_vendors[i].id :
                                                               s.top_accounts[i].id),
                               100.0 * (fam ? s.top_vendors[i].share :
                                              s.top_accounts[i].share));
                printf("\n");
        }
        printf("dependency alerts firing: %zu; waiting for delivery: %lld\n", s.firing,
               (long long)s.outbox);
        return 0;
}

int rw_cmd_inspect(int argc, char **argv) {
        static const struct option longopts[] = {
                { "json", no_argument, NULL, 'j' },
                { "vendor", required_argument, NULL, 'v' },
                { "portfolio", no_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        rw_cli_conf_t cc = { 0 };
        rw_conf_t *conf = NULL;
        rw_state_t *st = NULL;
        const char *vendor = NULL;
        int64_t layout = 0;
        char errstr[1024];
        int opt, json = 0, portfolio = 0, rc = RW_EXIT_RUNTIME;

        while ((opt = getopt_long(argc, argv, "c:X:h", longopts, NULL)) != -1) {
                if (rw_cli_conf_opt(&cc, opt, optarg))
                        continue;
                switch (opt) {
                case 'j': json = 1; break;
                case 'v': vendor = optarg; break;
                case 'p': portfolio = 1; break;
                case 'h': rw_inspect_usage(stdout); return RW_EXIT_OK;
                default: rw_inspect_usage(stderr); return RW_EXIT_USAGE;
                }
        }
        if (((vendor || portfolio) && optind != argc) ||
            (!vendor && !portfolio && optind != argc - 1) || (vendor && portfolio)) {
                fprintf(stderr, "riskwatch inspect: give one ACCOUNT, --vendor VENDOR or "
                        "--portfolio (try 'riskwatch inspect --help')\n");
                return RW_EXIT_USAGE;
        }
        if (!(conf = rw_cli_conf_build(&cc, "inspect")))
                return RW_EXIT_USAGE;
        if (!(st = rw_state_new(conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                goto done;
        }
        /* A namespace of another layout would be read wrong. */
        if (rw_state_layout(st, 0, &layout, errstr, sizeof(errstr))) {
                fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                goto done;
        }
        if (layout != RW_STATE_LAYOUT) {
                fprintf(stderr, "riskwatch inspect: state.namespace: '%s' holds state of "
                        "layout %lld, and this riskwatch reads layout %d only\n",
                        rw_state_ns(st), (long long)layout, RW_STATE_LAYOUT);
                rc = RW_EXIT_USAGE;
                goto done;
        }
        if (portfolio) {
                rw_rules_params_t params;
                if (rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr))) {
                        fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                        rc = RW_EXIT_USAGE;
                        goto done;
                }
                if (rw_inspect_portfolio(st, conf, &params, json))
                        goto done;
        } else if (vendor) {
                int64_t *days = NULL, *values = NULL, sum = 0, maxday = 0, wdays, from;
                size_t cnt = 0, in_window = 0;
                int32_t parts;
                rw_rules_params_t params;
                char d1[32], d2[32];
                if (rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr))) {
                        fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                        rc = RW_EXIT_USAGE;
                        goto done;
                }
                if (rw_state_inspect_vendor(st, vendor, &parts, &days, &values, &cnt,
                                            errstr, sizeof(errstr))) {
                        fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                        free(days);
                        free(values);
                        goto done;
                }
                /* The dependency window's days up to the vendor's latest,
                 * over every partition. */
                wdays = params.dep_window_ms / RW_DAY_MS;
                for (size_t i = 0; i < cnt; i++)
                        if (days[i] > maxday)
                                maxday = days[i];
                from = maxday - wdays + 1;
                for (size_t i = 0; i < cnt; i++)
                        if (days[i] >= from) {
                                sum += values[i];
                                in_window++;
                        }
                rw_ts(from * RW_DAY_MS, d1, sizeof(d1));
                rw_ts(maxday * RW_DAY_MS, d2, sizeof(d2));
                d1[10] = d2[10] = '\0';        /* the dates */
                if (json) {
                        printf("{\"vendor\":");
                        rw_json_write_str(stdout, vendor);
                        printf(",\"partitions\":%d,\"days_with_orders\":%zu,"
                               "\"first_day\":%lld,\"latest_day\":%lld,\"window_days\":%lld,"
                               "\"order_value\":%lld}\n",
                               (int)parts, in_window, (long long)from, (long long)maxday,
                               (long long)wdays, (long long)sum);
                } else {
                        char shown[1024];
                        printf("vendor %s: order value %.2f over the %lld days %s .. %s "
                               "(up to its latest order day; %zu day(s) with orders, on "
                               "%d orders partition(s))\n",
                               rw_log_escape_str(shown, sizeof(shown), vendor),
                               (double)sum / 100.0, (long long)wdays, d1, d2, in_window,
                               (int)parts);
                }
                free(days);
                free(values);
        } else {
                rw_inspect_t in;
                rw_rules_params_t params;
                rw_err_t err = rw_state_inspect(st, argv[optind],
                                                rw_conf_get_str(conf, "topics.orders"),
                                                rw_conf_get_str(conf, "topics.support"),
                                                &in, errstr, sizeof(errstr));
                if (err) {
                        fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                        rw_inspect_clear(&in);
                        goto done;
                }
                if (rw_rules_params_from_conf(&params, conf, errstr, sizeof(errstr))) {
                        fprintf(stderr, "riskwatch inspect: %s\n", errstr);
                        rw_inspect_clear(&in);
                        rc = RW_EXIT_USAGE;
                        goto done;
                }
                rw_inspect_print(&in, &params, rw_conf_get_int(conf, "allowed.lateness"),
                                 json);
                rw_inspect_clear(&in);
        }
        rc = RW_EXIT_OK;
done:
        rw_state_destroy(st);
        rw_conf_destroy(conf);
        return rc;
}
