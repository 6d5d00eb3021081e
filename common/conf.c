/* conf.c - the property table, value parsing, file and -X loading, dumps. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include "common/conf.h"

#define RW_MS_S  1000.0
#define RW_MS_M  (60 * RW_MS_S)
#define RW_MS_H  (60 * RW_MS_M)
#define RW_MS_D  (24 * RW_MS_H)

/* Longest value quoted back in an error message. */
#define RW_CONF_QUOTE_MAX 64

static const rw_conf_prop_t rw_conf_table[] = {
        /* Kafka client identity (everything else is kafka.*). */
        { "group.id", RW_CONF_STR, "riskwatch", 0, 0, NULL, 0,
          "Kafka consumer group of the processor. Every instance of one "
          "deployment uses the same group, so the input partitions are "
          "shared between them." },
        { "client.id", RW_CONF_STR, "riskwatch", 0, 0, NULL, 0,
          "Kafka client id, shown in broker logs, quotas and metrics." },

        { "broker.timeout", RW_CONF_DURATION, "30s", RW_MS_S, RW_MS_H, NULL, 0,
          "With `run -e`: how long to wait for the brokers' first answer "
          "before giving up (exit 1). Without `-e`, `run` waits for them "
          "as long as it takes. `gen` waits as long for the input topics' "
          "metadata before it produces (exit 1 without it)." },

        /* Redis state. */
        { "redis.url", RW_CONF_URL_REDIS, "redis://127.0.0.1:6379/0", 0, 0,
          NULL, 0,
          "Redis server holding the detection state: "
          "`redis://[[user]:password@]host[:port][/db]` (port 6379 and db 0 "
          "by default, IPv6 as `[::1]`, `%XX` escapes in user and password) "
          "or `unix:///path/to/socket[?db=N]`. The password is masked when "
          "the configuration is printed." },
        { "redis.timeout", RW_CONF_DURATION, "2s", 10, 60 * RW_MS_S, NULL, 0,
          "Connect and per-command timeout for Redis." },
        { "state.namespace", RW_CONF_STR, "rw", 0, 0, NULL, 0,
          "Prefix of every Redis key riskwatch reads or writes. Deployments "
          "that share one Redis database need different namespaces." },

        /* Topics (the wire contract's defaults). */
        { "topics.orders", RW_CONF_STR, "orders", 0, 0, NULL, 0,
          "Input topic of `riskwatch.OrderEvent` records (Avro, Confluent "
          "framing, keyed by account_id)." },
        { "topics.support", RW_CONF_STR, "support", 0, 0, NULL, 0,
          "Input topic of `riskwatch.SupportEvent` records (Avro, Confluent "
          "framing, keyed by account_id)." },
        { "topics.alerts", RW_CONF_STR, "risk-alerts", 0, 0, NULL, 0,
          "Output topic of `riskwatch.RiskAlert` records, keyed by the "
          "alert fingerprint." },
        { "topics.alerts.replay", RW_CONF_STR, "risk-alerts-replay", 0, 0, NULL, 0,
          "Output topic of `riskwatch replay`: its RiskAlert records, with "
          "`replay` = true, keyed like `topics.alerts`." },
        { "topics.dlq", RW_CONF_STR, "riskwatch-dlq", 0, 0, NULL, 0,
          "Dead-letter topic: input records that cannot be decoded or "
          "validated are copied here unchanged, with `rw.error.*` and "
          "`rw.source.*` headers saying why and where from." },

        /* Schemas. */
        { "schemas.dir", RW_CONF_STR, "", 0, 0, NULL, 0,
          "Directory of the local Avro schema catalogue (`*.avsc`) that "
          "resolves writer schema ids when no registry is configured. "
          "Empty = the `schemas/` directory shipped with the source." },
        { "schema.registry.url", RW_CONF_URL_HTTP, "", 0, 0, NULL, 0,
          "Confluent-compatible schema registry used to resolve writer "
          "schema ids (`GET /schemas/ids/{id}`). Empty = the local "
          "catalogue in `schemas.dir` only." },
        { "schema.registry.timeout", RW_CONF_DURATION, "5s",
          100, 5 * RW_MS_M, NULL, 0,
          "Timeout of one schema registry request." },

        /* Output. */
        { "log.level", RW_CONF_ENUM, "info", 0, 0, "error|warn|info|debug", 0,
          "Threshold of the diagnostic log written to stderr." },
        { "log.status.interval", RW_CONF_DURATION, "30s", 0, RW_MS_D, NULL, 0,
          "How often `run` logs a status line at `info`: records per "
          "second since the previous line, consumer lag, the lowest "
          "event-time watermark and how far it is behind the wall clock, "
          "alerts since start, Redis health. 0 = no status line." },
        { "metrics.listen", RW_CONF_STR, "", 0, 0, NULL, 0,
          "Address on which `run` serves Prometheus metrics (`/metrics`, "
          "text format 0.0.4), `/healthz` and `/readyz` over HTTP: "
          "`HOST:PORT`, `[IPV6]:PORT` or `:PORT` (every interface), e.g. "
          "`127.0.0.1:9464`. Empty = not served." },
        { "metrics.alive.timeout", RW_CONF_DURATION, "60s", RW_MS_S, RW_MS_H, NULL, 0,
          "`/healthz` answers 503 once the processing loop has not gone "
          "round for this long." },
        { "alertmanager.url", RW_CONF_STR, "", 0, 0, NULL, 0,
          "Prometheus Alertmanagers that `run` sends alert transitions to "
          "(`POST /api/v2/alerts`): a comma-separated list of "
          "`http(s)://HOST[:PORT]`; every one gets every alert. Empty = "
          "none." },
        { "alertmanager.resend.interval", RW_CONF_DURATION, "1m", RW_MS_S, RW_MS_H,
          NULL, 0,
          "How often firing alerts are sent to Alertmanager again, with "
          "`endsAt` four intervals ahead, so an Alertmanager that restarted "
          "has them back within an interval." },
        { "alertmanager.timeout", RW_CONF_DURATION, "10s", 100, RW_MS_M, NULL, 0,
          "Timeout of one POST to an Alertmanager; a failed POST is retried "
          "with backoff (1 s doubling, at most the resend interval)." },
        { "alertmanager.queue.max", RW_CONF_INT, "10000", 1, 10000000, NULL, 0,
          "Transitions waiting for the Alertmanager sender at most; more "
          "are dropped, counted and logged, so delivery never slows the "
          "pipeline." },
        { "alertmanager.generator.url", RW_CONF_STR, "", 0, 0, NULL, 0,
          "Template of each alert's `generatorURL` in Alertmanager (the "
          "link its UI shows as the alert's source), e.g. "
          "`https://grafana.example/d/risk?var-subject={subject_id}`: an "
          "http(s) URL in which `{rule}`, `{subject_type}`, `{subject_id}`, "
          "`{fingerprint}`, `{alert_id}` and `{severity}` are replaced by the "
          "alert's values, percent-encoded. Empty = no `generatorURL`." },
        { "log.file", RW_CONF_STR, "", 0, 0, NULL, 0,
          "File that receives one JSON line per alert transition "
          "(appended). Empty = standard output." },

        /* Processing. */
        { "batch.size", RW_CONF_INT, "5000", 1, 100000, NULL, 0,
          "Maximum number of input records processed as one batch; its "
          "state goes to Redis in one write with the batches gathered while "
          "the previous write was in flight (`write.max.delay`)." },
        { "batch.timeout", RW_CONF_DURATION, "100ms", 1, 10 * RW_MS_S, NULL, 0,
          "Longest wait for a batch to fill before the records that have "
          "arrived are processed." },
        { "write.max.delay", RW_CONF_DURATION, "100ms", 0, 10 * RW_MS_S, NULL, 0,
          "While a batch's write is still in Redis, the batches that follow "
          "are gathered into one write (an account they share is written "
          "once): for at most this long, then the loop waits for Redis. 0 = "
          "never gather (a write per batch)." },
        { "write.linger", RW_CONF_DURATION, "100ms", 0, 10 * RW_MS_S, NULL, 0,
          "Least time from one write's start to the next while the "
          "batches are small (a live stream): the batches prepared sooner "
          "are gathered into the next write (an account they share is "
          "written once) until they hold `batch.size` records, so a live "
          "stream is stored in about one transaction per this long and its "
          "alerts wait up to this long more. Bounded by `write.max.delay` "
          "(0 there: a write per batch); a rebalance, a stop and the end of "
          "`-e` send what is open at once. 0 = a write as soon as the "
          "previous one has landed." },
        { "write.max.records", RW_CONF_INT, "20000", 1, 1000000, NULL, 0,
          "Most records gathered into one write (see `write.max.delay`); "
          "their accounts stay in memory until it is sent, beyond "
          "`state.cache.max.bytes` if need be." },
        { "allowed.lateness", RW_CONF_DURATION, "5m", 0, 7 * RW_MS_D, NULL, 0,
          "Event-time slack for out-of-order records: the watermark (the "
          "rules' \"now\") is the highest `occurred_at` seen minus this." },
        { "dedup.horizon", RW_CONF_DURATION, "7d", 0, 365 * RW_MS_D, NULL, 0,
          "How far back in event time an account remembers the ids of its "
          "events, so a re-delivered event counts once: the ids of events "
          "within this of the account's latest one (at most "
          "`dedup.max.ids` of them). 0 = no de-duplication." },
        { "dedup.max.ids", RW_CONF_INT, "64", 1, 100000, NULL, 0,
          "At most this many event ids remembered per account and input "
          "stream (the newest), so de-duplication state is bounded by the "
          "number of accounts, not of events." },
        { "state.cache.max.bytes", RW_CONF_INT, "33554432", 0, (int64_t)1 << 40, NULL, 0,
          "Memory for the owned partitions' accounts kept between batches "
          "(over it, the least recently used are packed, about a fifth of "
          "their size, then the least recently used packed ones evicted; an "
          "evicted account is read back from Redis when next needed). 0 = "
          "read every batch's accounts from Redis." },
        { "state.due.max.ahead", RW_CONF_INT, "4096", 0, 100000000, NULL, 0,
          "Due times (inactivity deadlines) an owned partition keeps in "
          "memory beyond those already passed: the nearest ones. Later ones "
          "stay in Redis and are read back, one round trip, when the event "
          "clock reaches them, so memory does not grow with the number of "
          "accounts. 0 = keep every due time in memory." },
        { "future.margin", RW_CONF_DURATION, "1h", 0, 30 * RW_MS_D, NULL, 0,
          "Records whose `occurred_at` is further than this ahead of their "
          "Kafka timestamp (of the wall clock when a record has none, or one "
          "ahead of the wall clock) are rejected to the dead-letter topic "
          "instead of pushing the watermark into the future." },
        { "validate.occurred.min", RW_CONF_TIME, "2000-01-01", 0, 253402300799000.0,
          NULL, 0,
          "Records whose `occurred_at` is before this time (UTC, "
          "`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`) are rejected to the "
          "dead-letter topic as `invalid_field`: a zero, negative or "
          "garbage time would otherwise become a partition's first "
          "watermark and date its alerts decades back." },
        { "validate.amount.max", RW_CONF_INT, "1000000000000", 0, 1e15, NULL, 0,
          "Largest `amount_minor` accepted (minor units; 10^12 = ten "
          "billion of a two-decimal currency); a larger one is rejected to "
          "the dead-letter topic as `invalid_field`. Every sum riskwatch "
          "keeps (an account's day buckets and 120-day figures, a vendor's "
          "day, the portfolio's intervals and 90-day totals) is a signed "
          "64-bit integer of minor units, so a bound on one amount is what "
          "keeps them exact: one sum holds 2^63 / this many orders at the "
          "maximum amount (9.2 million at 10^12), far beyond any real "
          "portfolio, and a single record can never overflow one." },
        { "validate.id.max.bytes", RW_CONF_INT, "256", 1, 512, NULL, 0,
          "Longest `event_id`, `account_id`, `vendor_id`, `ticket_id` or "
          "`product_line` accepted, in bytes; a longer one is rejected to "
          "the dead-letter topic as `invalid_field`. Ids become Redis "
          "keys, Kafka keys and alert fingerprints, so their length bounds "
          "the size of every key and alert riskwatch writes." },
        { "evaluation.interval", RW_CONF_DURATION, "1h", RW_MS_M, RW_MS_D,
          NULL, 0,
          "Event-time boundaries at which dependency rules are decided, once "
          "every orders partition of the group has passed the boundary "
          "(support events do not move dependency figures). Must divide "
          "`rules.dependency.window`. A namespace keeps the interval it was "
          "built with: `run` refuses another one (exit 2)." },
        { "idle.timeout", RW_CONF_DURATION, "30s", RW_MS_S, RW_MS_H, NULL, 0,
          "Wall time a partition must have been at its end (every record "
          "the broker holds applied) before it counts as idle: an orders "
          "partition no longer holds the group's low watermark back, and its "
          "clock follows the group's (its last records and its accounts' due "
          "times come). A partition that is behind is never idle, however "
          "long it is silent; `run -e` counts none idle." },
        { "input.gap", RW_CONF_DURATION, "7d", 0, 365 * RW_MS_D, NULL, 0,
          "An input outage, not customer silence: when no orders partition "
          "of the group has an event for longer than this (each partition's "
          "own jumps in event time, intersected over all of them), "
          "`churn.order_drop` and `churn.spend_drop` hold their verdicts "
          "until the input has been live again for their window, and "
          "`churn.inactivity` for the account's limit: they do not fire or "
          "escalate (a firing alert still resolves). One partition silent "
          "while the others are live is not an outage. 0 = off." },

        /* Alert lifecycle. */
        { "alerts.hysteresis", RW_CONF_DBL, "0.10", 0, 1, NULL, 0,
          "A firing alert resolves only when its value is back across the "
          "threshold by this fraction of the threshold (0.10 = 10%)." },
        { "alerts.cooldown", RW_CONF_DURATION, "24h", 0, 365 * RW_MS_D, NULL, 0,
          "After an alert resolves, the same fingerprint does not fire "
          "again for this long (event time)." },

        /* Rules: every number of the contract's rules, and a switch for each. */
        { "rules.churn.order_drop.enabled", RW_CONF_BOOL, "true", 0, 0, NULL, 0,
          "`churn.order_drop`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.churn.order_drop.warn_ratio", RW_CONF_DBL, "0.5",
          0, 1, NULL, 0,
          "`churn.order_drop`: WARNING when the account's PLACED orders "
          "in the window fall below this fraction of the account's own "
          "baseline (the baseline window's total scaled to the window's "
          "length)." },
        { "rules.churn.order_drop.critical_ratio", RW_CONF_DBL, "0.25",
          0, 1, NULL, 0,
          "`churn.order_drop`: CRITICAL below this fraction of the "
          "baseline. Must be below `rules.churn.order_drop.warn_ratio`." },
        { "rules.churn.order_drop.min_baseline_orders", RW_CONF_INT, "6",
          1, 1000000, NULL, 0,
          "`churn.order_drop`: the rule decides only with at least this "
          "many PLACED orders in the baseline window, and once the "
          "account's first order is a window plus a baseline window old." },
        { "rules.churn.order_drop.window", RW_CONF_DURATION, "30d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.order_drop`: the recent window measured, up to the "
          "watermark (whole days)." },
        { "rules.churn.order_drop.baseline_window", RW_CONF_DURATION, "90d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.order_drop`: the window right before "
          "`rules.churn.order_drop.window` that sets the account's own "
          "baseline (whole days)." },
        { "rules.churn.spend_drop.enabled", RW_CONF_BOOL, "true", 0, 0, NULL, 0,
          "`churn.spend_drop`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.churn.spend_drop.warn_ratio", RW_CONF_DBL, "0.5",
          0, 1, NULL, 0,
          "`churn.spend_drop`: WARNING when the account's net spend "
          "(PLACED - REFUNDED amounts) in the window fall below this "
          "fraction of the account's own baseline (the baseline window's "
          "total scaled to the window's length)." },
        { "rules.churn.spend_drop.critical_ratio", RW_CONF_DBL, "0.25",
          0, 1, NULL, 0,
          "`churn.spend_drop`: CRITICAL below this fraction of the "
          "baseline. Must be below `rules.churn.spend_drop.warn_ratio`." },
        { "rules.churn.spend_drop.min_baseline_orders", RW_CONF_INT, "6",
          1, 1000000, NULL, 0,
          "`churn.spend_drop`: the rule decides only with at least this "
          "many PLACED orders in the baseline window, and once the "
          "account's first order is a window plus a baseline window old." },
        { "rules.churn.spend_drop.window", RW_CONF_DURATION, "30d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.spend_drop`: the recent window measured, up to the "
          "watermark (whole days)." },
        { "rules.churn.spend_drop.baseline_window", RW_CONF_DURATION, "90d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.spend_drop`: the window right before "
          "`rules.churn.spend_drop.window` that sets the account's own "
          "baseline (whole days)." },
        { "rules.churn.inactivity.enabled", RW_CONF_BOOL, "true", 0, 0, NULL, 0,
          "`churn.inactivity`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.churn.inactivity.min_gap", RW_CONF_DURATION, "14d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.inactivity`: fires when the account has placed no order "
          "for longer than the larger of this and "
          "`rules.churn.inactivity.gap_factor` times its mean gap between "
          "orders." },
        { "rules.churn.inactivity.gap_factor", RW_CONF_DBL, "3",
          1, 100, NULL, 0,
          "`churn.inactivity`: multiple of the account's mean gap between "
          "PLACED orders that counts as inactive." },
        { "rules.churn.inactivity.min_orders", RW_CONF_INT, "3",
          2, 1000000, NULL, 0,
          "`churn.inactivity`: the rule decides only for accounts with at "
          "least this many PLACED orders (2 or more: a mean gap needs "
          "two)." },
        { "rules.churn.support_spike.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`churn.support_spike`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.churn.support_spike.window", RW_CONF_DURATION, "7d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.support_spike`: the window whose OPENED and REOPENED "
          "tickets are counted (whole days)." },
        { "rules.churn.support_spike.baseline_weeks", RW_CONF_INT, "8",
          1, 52, NULL, 0,
          "`churn.support_spike`: weeks right before the window that set "
          "the account's usual ticket rate." },
        { "rules.churn.support_spike.min_tickets", RW_CONF_INT, "3",
          1, 1000000, NULL, 0,
          "`churn.support_spike`: fires with at least this many tickets "
          "in the window that are also at least "
          "`rules.churn.support_spike.factor` times the usual rate "
          "(scaled to the window); CRITICAL if one of the window's events "
          "is URGENT or ESCALATED." },
        { "rules.churn.support_spike.factor", RW_CONF_DBL, "3",
          1, 1000, NULL, 0,
          "`churn.support_spike`: multiple of the account's usual ticket "
          "rate that counts as a spike." },
        { "rules.churn.low_satisfaction.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`churn.low_satisfaction`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.churn.low_satisfaction.csat_max", RW_CONF_DBL, "2.5",
          1, 5, NULL, 0,
          "`churn.low_satisfaction`: fires when the mean CSAT (1..5) over "
          "the window is at most this, with at least "
          "`rules.churn.low_satisfaction.min_answers` answers." },
        { "rules.churn.low_satisfaction.min_answers", RW_CONF_INT, "2",
          1, 1000000, NULL, 0,
          "`churn.low_satisfaction`: survey answers the window needs "
          "before its CSAT counts." },
        { "rules.churn.low_satisfaction.sentiment_max", RW_CONF_DBL, "-0.5",
          -1, 1, NULL, 0,
          "`churn.low_satisfaction`: also fires when the mean sentiment "
          "(-1..1) over the window is at most this, with at least "
          "`rules.churn.low_satisfaction.min_scored` scored events." },
        { "rules.churn.low_satisfaction.min_scored", RW_CONF_INT, "3",
          1, 1000000, NULL, 0,
          "`churn.low_satisfaction`: scored events the window needs "
          "before its sentiment counts." },
        { "rules.churn.low_satisfaction.window", RW_CONF_DURATION, "30d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.low_satisfaction`: the window of answers and scores "
          "(whole days)." },
        { "rules.churn.refund_rate.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`churn.refund_rate`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.churn.refund_rate.share", RW_CONF_DBL, "0.25", 0, 1, NULL, 0,
          "`churn.refund_rate`: fires when CANCELLED + REFUNDED orders "
          "are at least this share of the window's orders (by count)." },
        { "rules.churn.refund_rate.min_orders", RW_CONF_INT, "4",
          1, 1000000, NULL, 0,
          "`churn.refund_rate`: the rule decides only with at least this "
          "many orders (PLACED, CANCELLED or REFUNDED) in the window." },
        { "rules.churn.refund_rate.window", RW_CONF_DURATION, "30d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "`churn.refund_rate`: the window counted (whole days)." },
        { "rules.dependency.account_share.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`dependency.account_share`: false turns the rule off: it is "
          "not evaluated and sends no alert." },
        { "rules.dependency.account_share.warn", RW_CONF_DBL, "0.25",
          0, 1, NULL, 0,
          "`dependency.account_share`: WARNING when the account's share "
          "(0..1) of all accounts' net spend over "
          "`rules.dependency.window` is above this." },
        { "rules.dependency.account_share.critical", RW_CONF_DBL, "0.40",
          0, 1, NULL, 0,
          "`dependency.account_share`: CRITICAL above this. Must be above "
          "`rules.dependency.account_share.warn`." },
        { "rules.dependency.vendor_share.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`dependency.vendor_share`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.dependency.vendor_share.warn", RW_CONF_DBL, "0.30",
          0, 1, NULL, 0,
          "`dependency.vendor_share`: WARNING when the vendor's share "
          "(0..1) of all order value over `rules.dependency.window` is "
          "above this." },
        { "rules.dependency.vendor_share.critical", RW_CONF_DBL, "0.50",
          0, 1, NULL, 0,
          "`dependency.vendor_share`: CRITICAL above this. Must be above "
          "`rules.dependency.vendor_share.warn`." },
        { "rules.dependency.account_hhi.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`dependency.account_hhi`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.dependency.account_hhi.warn", RW_CONF_DBL, "1800",
          0, 10000, NULL, 0,
          "`dependency.account_hhi`: WARNING when the "
          "Herfindahl-Hirschman index (0..10000) of the accounts' shares "
          "of net spend is above this." },
        { "rules.dependency.account_hhi.critical", RW_CONF_DBL, "2500",
          0, 10000, NULL, 0,
          "`dependency.account_hhi`: CRITICAL above this. Must be above "
          "`rules.dependency.account_hhi.warn`." },
        { "rules.dependency.vendor_hhi.enabled", RW_CONF_BOOL, "true",
          0, 0, NULL, 0,
          "`dependency.vendor_hhi`: false turns the rule off: it is not "
          "evaluated and sends no alert." },
        { "rules.dependency.vendor_hhi.warn", RW_CONF_DBL, "1800",
          0, 10000, NULL, 0,
          "`dependency.vendor_hhi`: WARNING when the Herfindahl-Hirschman "
          "index (0..10000) of the vendors' shares of order value is "
          "above this." },
        { "rules.dependency.vendor_hhi.critical", RW_CONF_DBL, "2500",
          0, 10000, NULL, 0,
          "`dependency.vendor_hhi`: CRITICAL above this. Must be above "
          "`rules.dependency.vendor_hhi.warn`." },
        { "rules.dependency.window", RW_CONF_DURATION, "90d",
          RW_MS_D, 365 * RW_MS_D, NULL, 0,
          "Dependency rules: the window of the totals that shares and HHI "
          "are computed over (whole days)." },
        { "rules.dependency.min_history", RW_CONF_DURATION, "30d",
          0, 365 * RW_MS_D, NULL, 0,
          "Dependency rules decide only once the portfolio holds at least "
          "this much event-time history, so the denominator means "
          "something." },
        { "rules.dependency.min_orders", RW_CONF_INT, "50", 0, 1000000000, NULL, 0,
          "Dependency rules decide only when the window holds at least this "
          "many PLACED orders (all partitions together); below it a firing "
          "dependency alert resolves for want of data." },
        { "rules.dependency.min_accounts", RW_CONF_INT, "10", 0, 1000000000, NULL, 0,
          "`dependency.account_share` and `dependency.account_hhi` decide "
          "only when at least this many accounts have a net spend other than "
          "0 in the window; below it a firing one resolves for want of data." },
        { "rules.dependency.min_vendors", RW_CONF_INT, "3", 0, 1000000000, NULL, 0,
          "`dependency.vendor_share` and `dependency.vendor_hhi` decide only "
          "when at least this many vendors have order value in the window; "
          "below it a firing one resolves for want of data." },

        /* The demo command. */
        { "demo.accounts", RW_CONF_INT, "300", 10, 100000, NULL, 0,
          "`demo`: number of synthetic accounts generated." },
        { "demo.days", RW_CONF_INT, "180", 30, 3650, NULL, 0,
          "`demo`: days of synthetic event history generated." },
        { "demo.seed", RW_CONF_INT, "42", 0, 2147483647.0, NULL, 0,
          "`demo`: random seed; the same seed generates the same events." },

        { NULL, RW_CONF_STR, NULL, 0, 0, NULL, 0, NULL }
};

/* Extra checks for STR properties, with their wording in the reference. */
typedef bool (rw_conf_check_fn_t)(const char *value);

static bool rw_conf_check_nonempty(const char *value) {
        return *value != '\0';
}

/* A Redis key prefix: no ':' (our separator) and no '{}' (hash tags). */
static bool rw_conf_check_namespace(const char *value) {
        size_t len = strlen(value);

        if (len < 1 || len > 64)
                return false;
        for (const char *p = value; *p; p++) {
                if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
                        return false;
        }
        return true;
}

/* Kafka's own rule for topic names. */
static bool rw_conf_check_topic(const char *value) {
        size_t len = strlen(value);

        if (len < 1 || len > 249 || !strcmp(value, ".") || !strcmp(value, ".."))
                return false;
        for (const char *p = value; *p; p++) {
                if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
                        return false;
        }
        return true;
}

static const struct {
        const char *name;
        rw_conf_check_fn_t *check;
        const char *what;   /* reason and "range / values" text */
} rw_conf_checks[] = {
        { "group.id", rw_conf_check_nonempty, "non-empty" },
        { "client.id", rw_conf_check_nonempty, "non-empty" },
        { "state.namespace", rw_conf_check_namespace,
          "1..64 of letters, digits, `_`, `.`, `-`" },
        { "topics.orders", rw_conf_check_topic,
          "topic name: 1..249 of letters, digits, `.`, `_`, `-`" },
        { "topics.support", rw_conf_check_topic,
          "topic name: 1..249 of letters, digits, `.`, `_`, `-`" },
        { "topics.alerts", rw_conf_check_topic,
          "topic name: 1..249 of letters, digits, `.`, `_`, `-`" },
        { "topics.dlq", rw_conf_check_topic,
          "topic name: 1..249 of letters, digits, `.`, `_`, `-`" },
        { "topics.alerts.replay", rw_conf_check_topic,
          "topic name: 1..249 of letters, digits, `.`, `_`, `-`" },
};

/* The default kafka.* pass-through entries, set by rw_conf_new(). */
static const char *const rw_conf_kafka_defaults[][2] = {
        { "bootstrap.servers", "localhost:9092" },
};

/* One stored table value. */
typedef struct rw_conf_val_s {
        char *str;         /* the value as set */
        int64_t i;         /* INT; DURATION in ms */
        double d;          /* DBL */
        bool b;            /* BOOL */
        bool pinned;       /* set by -X: a file does not override it */
        char *origin;      /* "FILE:LINE" or "-X"; NULL: the default */
} rw_conf_val_t;

/* One kafka.* pass-through entry. */
typedef struct rw_conf_kv_s {
        char *key;         /* without "kafka." */
        char *value;
        bool pinned;
} rw_conf_kv_t;

struct rw_conf_s {
        rw_conf_val_t *vals;     /* one per table row */
        size_t prop_cnt;
        rw_conf_kv_t *kafka;     /* in the order first set */
        size_t kafka_cnt;
        size_t kafka_size;
};

static void *rw_conf_xmalloc(size_t size) {
        void *p = malloc(size ? size : 1);

        if (!p)
                abort();
        return p;
}

static void *rw_conf_xrealloc(void *p, size_t size) {
        p = realloc(p, size ? size : 1);
        if (!p)
                abort();
        return p;
}

static char *rw_conf_xstrdup(const char *s) {
        size_t len = strlen(s) + 1;

        return memcpy(rw_conf_xmalloc(len), s, len);
}

/* Trim leading and trailing whitespace in place. */
static char *rw_conf_trim(char *s) {
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                e--;
        *e = '\0';
        return s;
}

const rw_conf_prop_t *rw_conf_props(void) {
        return rw_conf_table;
}

const rw_conf_prop_t *rw_conf_prop_find(const char *name) {
        for (const rw_conf_prop_t *prop = rw_conf_table; prop->name; prop++) {
                if (!strcmp(prop->name, name))
                        return prop;
        }
        return NULL;
}

static size_t rw_conf_prop_cnt(void) {
        size_t n = 0;

        while (rw_conf_table[n].name)
                n++;
        return n;
}

/* The property `key`, read as one of `types` (a bit per rw_conf_type_t),
 * or a loud abort: reading a name the table does not have (a misspelt key in
 * the code) or of another type is a programming error, which must stop
 * every build, release builds included, not read a neighbour's value. */
static const rw_conf_prop_t *rw_conf_prop_must(const char *key, unsigned types) {
        const rw_conf_prop_t *prop = rw_conf_prop_find(key);

        if (!prop || !(types & 1u << prop->type)) {
                fprintf(stderr, "riskwatch: internal error: property %s %s\n", key,
                        prop ? "read as another type" : "is not in the property table");
                abort();
        }
        return prop;
}

/* Decimal integer, optional '-', every character consumed, no overflow. */
static bool rw_conf_parse_i64(const char *s, const char **endp, int64_t *out) {
        const char *p = s;
        bool neg = false;
        uint64_t v = 0, lim;

        if (*p == '-') {
                neg = true;
                p++;
        }
        if (!isdigit((unsigned char)*p))
                return false;
        lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (; isdigit((unsigned char)*p); p++) {
                unsigned d = (unsigned)(*p - '0');

                if (v > (lim - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (!neg)
                *out = (int64_t)v;
        else if (v == (uint64_t)INT64_MAX + 1)
                *out = INT64_MIN;
        else
                *out = -(int64_t)v;
        *endp = p;
        return true;
}

/* Duration text: an integer with an optional unit (no unit = ms). */
static bool rw_conf_parse_duration(const char *s, int64_t *msp) {
        static const struct { const char *suffix; int64_t mult; } units[] = {
                { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                { "h", 3600000 }, { "d", 86400000 },
        };
        const char *end;
        int64_t v;

        if (!isdigit((unsigned char)*s) || !rw_conf_parse_i64(s, &end, &v))
                return false;
        for (size_t i = 0; i < RW_ARRAY_SIZE(units); i++) {
                if (strcmp(end, units[i].suffix))
                        continue;
                if (v > INT64_MAX / units[i].mult)
                        return false;
                *msp = v * units[i].mult;
                return true;
        }
        return false;
}

static bool rw_conf_enum_has(const char *enums, const char *value) {
        size_t len = strlen(value);

        while (*enums) {
                size_t tlen = strcspn(enums, "|");

                if (tlen == len && !strncmp(enums, value, len))
                        return true;
                enums += tlen;
                if (*enums == '|')
                        enums++;
        }
        return false;
}

/* Port text: 1..65535, digits only. */
static bool rw_conf_parse_port(const char *s, size_t len, int *portp) {
        int port = 0;

        if (len == 0 || len > 5)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return false;
                port = port * 10 + (s[i] - '0');
        }
        if (port < 1 || port > 65535)
                return false;
        *portp = port;
        return true;
}

/* "http(s)://host[:port][/path]", credentials allowed (masked in dumps). */
static bool rw_conf_check_http_url(const char *url) {
        const char *p, *auth_end, *at, *host_end;

        if (!strncasecmp(url, "http://", 7))
                p = url + 7;
        else if (!strncasecmp(url, "https://", 8))
                p = url + 8;
        else
                return false;
        for (const char *q = url; *q; q++) {
                if ((unsigned char)*q <= ' ' || *q == 0x7f)
                        return false;
        }
        auth_end = p + strcspn(p, "/?#");
        at = NULL;
        for (const char *q = p; q < auth_end; q++) {
                if (*q == '@')
                        at = q;
        }
        if (at)
                p = at + 1;
        if (*p == '[') {
                host_end = memchr(p, ']', (size_t)(auth_end - p));
                if (!host_end || host_end == p + 1)
                        return false;
                host_end++;
        } else {
                host_end = memchr(p, ':', (size_t)(auth_end - p));
                if (!host_end)
                        host_end = auth_end;
                if (host_end == p)
                        return false;
        }
        if (host_end < auth_end) {
                int port;

                if (*host_end != ':' ||
                    !rw_conf_parse_port(host_end + 1,
                                        (size_t)(auth_end - host_end - 1), &port))
                        return false;
        }
        return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t rw_conf_days_from_civil(int64_t y, int64_t m, int64_t d) {
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

/* Read exactly `n` digits at *sp. */
static bool rw_conf_digits(const char **sp, int n, int64_t *out) {
        int64_t v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*sp)[i]))
                        return false;
                v = v * 10 + ((*sp)[i] - '0');
        }
        *sp += n;
        *out = v;
        return true;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC) -> ms since the epoch. */
static bool rw_conf_parse_time(const char *s, int64_t *msp) {
        static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int64_t y, mo, d, h = 0, mi = 0, sec = 0;

        if (!rw_conf_digits(&s, 4, &y) || *s++ != '-' || !rw_conf_digits(&s, 2, &mo) ||
            *s++ != '-' || !rw_conf_digits(&s, 2, &d))
                return false;
        if (*s == 'T') {
                s++;
                if (!rw_conf_digits(&s, 2, &h) || *s++ != ':' ||
                    !rw_conf_digits(&s, 2, &mi) || *s++ != ':' ||
                    !rw_conf_digits(&s, 2, &sec) || *s++ != 'Z')
                        return false;
        }
        if (*s || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
            mi > 59 || sec > 59)
                return false;
        if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
                return false;
        *msp = ((rw_conf_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
               sec * 1000;
        return true;
}

bool rw_time_parse(const char *s, int64_t *msp) {
        return rw_conf_parse_time(s, msp);
}

/* Parse `value` for `prop` into *val (not its text). */
static rw_err_t rw_conf_parse(const rw_conf_prop_t *prop, const char *value,
                              rw_conf_val_t *val, char *reason,
                              size_t reason_size) {
        char lo[32], hi[32];
        const char *end;

        switch (prop->type) {
        case RW_CONF_STR:
                for (size_t i = 0; i < RW_ARRAY_SIZE(rw_conf_checks); i++) {
                        if (strcmp(rw_conf_checks[i].name, prop->name))
                                continue;
                        if (!rw_conf_checks[i].check(value)) {
                                snprintf(reason, reason_size,
                                         "expected %s, got \"%.*s\"",
                                         rw_conf_checks[i].what,
                                         RW_CONF_QUOTE_MAX, value);
                                return RW_ERR_CONFIG;
                        }
                }
                return RW_OK;

        case RW_CONF_INT:
                if (!rw_conf_parse_i64(value, &end, &val->i) || *end ||
                    (double)val->i < prop->min || (double)val->i > prop->max) {
                        snprintf(reason, reason_size,
                                 "expected an integer in [%.0f, %.0f], "
                                 "got \"%.*s\"", prop->min, prop->max,
                                 RW_CONF_QUOTE_MAX, value);
                        return RW_ERR_CONFIG;
                }
                return RW_OK;

        case RW_CONF_DBL: {
                char *dend = NULL;
                bool ok = false;

                /* strtod skips leading blanks; a value must not have any. */
                if (*value && !isspace((unsigned char)*value)) {
                        val->d = strtod(value, &dend);
                        ok = !*dend && isfinite(val->d) &&
                                val->d >= prop->min && val->d <= prop->max;
                }
                if (!ok) {
                        snprintf(reason, reason_size,
                                 "expected a number in [%g, %g], got \"%.*s\"",
                                 prop->min, prop->max, RW_CONF_QUOTE_MAX,
                                 value);
                        return RW_ERR_CONFIG;
                }
                return RW_OK;
        }

        case RW_CONF_BOOL:
                if (!strcmp(value, "true") || !strcmp(value, "1")) {
                        val->b = true;
                } else if (!strcmp(value, "false") || !strcmp(value, "0")) {
                        val->b = false;
                } else {
                        snprintf(reason, reason_size,
                                 "expected true, false, 1 or 0, got \"%.*s\"",
                                 RW_CONF_QUOTE_MAX, value);
                        return RW_ERR_CONFIG;
                }
                return RW_OK;

        case RW_CONF_ENUM:
                if (!rw_conf_enum_has(prop->enums, value)) {
                        snprintf(reason, reason_size,
                                 "expected one of %s, got \"%.*s\"",
                                 prop->enums, RW_CONF_QUOTE_MAX, value);
                        return RW_ERR_CONFIG;
                }
                return RW_OK;

        case RW_CONF_URL_REDIS: {
                rw_redis_url_t ru;

                /* The reason never quotes the URL: it may hold a password. */
                return rw_redis_url_parse(value, &ru, reason, reason_size);
        }

        case RW_CONF_URL_HTTP:
                if (*value && !rw_conf_check_http_url(value)) {
                        snprintf(reason, reason_size,
                                 "expected empty or an http:// or https:// "
                                 "URL with a host");
                        return RW_ERR_CONFIG;
                }
                return RW_OK;

        case RW_CONF_TIME:
                if (!rw_conf_parse_time(value, &val->i) ||
                    (double)val->i < prop->min || (double)val->i > prop->max) {
                        rw_fmt_time(lo, sizeof(lo), (int64_t)prop->min);
                        rw_fmt_time(hi, sizeof(hi), (int64_t)prop->max);
                        snprintf(reason, reason_size,
                                 "expected a UTC time in [%s, %s] as YYYY-MM-DD or "
                                 "YYYY-MM-DDTHH:MM:SSZ, got \"%.*s\"",
                                 lo, hi, RW_CONF_QUOTE_MAX, value);
                        return RW_ERR_CONFIG;
                }
                return RW_OK;

        case RW_CONF_DURATION:
                if (!rw_conf_parse_duration(value, &val->i) ||
                    (double)val->i < prop->min || (double)val->i > prop->max) {
                        rw_fmt_duration_exact(lo, sizeof(lo), (int64_t)prop->min);
                        rw_fmt_duration_exact(hi, sizeof(hi), (int64_t)prop->max);
                        snprintf(reason, reason_size,
                                 "expected a duration in [%s, %s] (an integer "
                                 "with unit ms, s, m, h or d), got \"%.*s\"",
                                 lo, hi, RW_CONF_QUOTE_MAX, value);
                        return RW_ERR_CONFIG;
                }
                return RW_OK;
        }
        assert(!"unknown property type");
        return RW_ERR_CONFIG;
}

rw_err_t rw_conf_check_value(const rw_conf_prop_t *prop, const char *value,
                             char *errstr, size_t errstr_size) {
        rw_conf_val_t val = { 0 };

        return rw_conf_parse(prop, value, &val, errstr, errstr_size);
}

/* kafka.* keys whose values are masked in dumps. */
static bool rw_conf_kafka_secret(const char *key) {
        return strstr(key, "password") || strstr(key, "secret") ||
                !strcmp(key, "sasl.oauthbearer.config") ||
                !strcmp(key, "ssl.key.pem");
}

/* Let librdkafka judge a pass-through property on a scratch conf. */
static rd_kafka_conf_res_t rw_conf_kafka_check(const char *key,
                                               const char *value, char *reason,
                                               size_t reason_size) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        rd_kafka_conf_res_t res;

        res = rd_kafka_conf_set(rkc, key, value, reason, reason_size);
        rd_kafka_conf_destroy(rkc);
        return res;
}

static rw_conf_kv_t *rw_conf_kafka_entry(const rw_conf_t *conf,
                                         const char *key) {
        for (size_t i = 0; i < conf->kafka_cnt; i++) {
                if (!strcmp(conf->kafka[i].key, key))
                        return &conf->kafka[i];
        }
        return NULL;
}

static void rw_conf_kafka_store(rw_conf_t *conf, const char *key,
                                const char *value, bool pin) {
        rw_conf_kv_t *kv = rw_conf_kafka_entry(conf, key);

        if (kv) {
                if (kv->pinned && !pin)
                        return;
                free(kv->value);
                kv->value = rw_conf_xstrdup(value);
                kv->pinned = kv->pinned || pin;
                return;
        }
        if (conf->kafka_cnt == conf->kafka_size) {
                conf->kafka_size = conf->kafka_size ? conf->kafka_size * 2 : 8;
                conf->kafka = rw_conf_xrealloc(conf->kafka, conf->kafka_size *
                                               sizeof(*conf->kafka));
        }
        kv = &conf->kafka[conf->kafka_cnt++];
        kv->key = rw_conf_xstrdup(key);
        kv->value = rw_conf_xstrdup(value);
        kv->pinned = pin;
}

/* Edit distance, for "did you mean" on unknown keys (long keys: no hint). */
static size_t rw_conf_distance(const char *a, const char *b) {
        size_t row[65], alen = strlen(a), blen = strlen(b);

        if (alen >= RW_ARRAY_SIZE(row) || blen >= RW_ARRAY_SIZE(row))
                return SIZE_MAX;
        for (size_t j = 0; j <= blen; j++)
                row[j] = j;
        for (size_t i = 1; i <= alen; i++) {
                size_t diag = row[0];

                row[0] = i;
                for (size_t j = 1; j <= blen; j++) {
                        size_t up = row[j], best;

                        best = diag + (a[i - 1] != b[j - 1]);
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        diag = up;
                        row[j] = best;
                }
        }
        return row[blen];
}

/* Reason for an unknown key, with a suggestion where one is plausible. */
static void rw_conf_unknown(const char *key, const char *value, char *reason,
                            size_t reason_size) {
        const char *best = NULL;
        size_t bestd = SIZE_MAX, maxd;
        char scratch[256];

        for (const rw_conf_prop_t *prop = rw_conf_table; prop->name; prop++) {
                size_t d = rw_conf_distance(key, prop->name);

                if (d < bestd) {
                        bestd = d;
                        best = prop->name;
                }
        }
        maxd = strlen(key) >= 12 ? 3 : 2;
        if (best && bestd <= maxd) {
                snprintf(reason, reason_size,
                         "unknown property (did you mean %s?)", best);
        } else if (strchr(key, '.') &&
                   rw_conf_kafka_check(key, value, scratch, sizeof(scratch)) !=
                   RD_KAFKA_CONF_UNKNOWN) {
                snprintf(reason, reason_size,
                         "unknown property (librdkafka's properties take the "
                         "prefix kafka.: did you mean kafka.%s?)", key);
        } else {
                snprintf(reason, reason_size, "unknown property");
        }
}

/* Validate and store key=value. `prefix` starts errstr ("f.conf:3: ", "-X ").
 * Pinned values (from -X) are only replaced by another pinned set. */
static rw_err_t rw_conf_set0(rw_conf_t *conf, const char *key,
                             const char *value, const char *prefix, bool pin,
                             char *errstr, size_t errstr_size) {
        const rw_conf_prop_t *prop;
        rw_conf_val_t val = { 0 }, *cur;
        char reason[512];
        rw_err_t err = RW_OK;

        reason[0] = '\0';
        if (!strncmp(key, "kafka.", 6)) {
                const char *kkey = key + 6;

                if (!*kkey) {
                        snprintf(reason, sizeof(reason),
                                 "expected a librdkafka property name after "
                                 "kafka.");
                        err = RW_ERR_CONFIG;
                } else if (!strcmp(kkey, "group.id") ||
                           !strcmp(kkey, "client.id")) {
                        snprintf(reason, sizeof(reason),
                                 "set it with the riskwatch property %s", kkey);
                        err = RW_ERR_CONFIG;
                } else if (!strcmp(kkey, "bootstrap.servers") && !*value) {
                        snprintf(reason, sizeof(reason),
                                 "empty: expected host:port[,host:port...]");
                        err = RW_ERR_CONFIG;
                } else if (!strcmp(kkey, "statistics.interval.ms") &&
                           strtoll(value, NULL, 10) != 0) {
                        /* Without a stats callback librdkafka would build
                         * its statistics JSON for nothing; what riskwatch
                         * needs of it (consumer lag per partition) the
                         * metrics export already. */
                        snprintf(reason, sizeof(reason),
                                 "not supported (riskwatch does not read "
                                 "librdkafka's statistics; consumer lag per "
                                 "partition is exported as riskwatch_consumer_lag_records "
                                 "on metrics.listen): leave it at 0");
                        err = RW_ERR_CONFIG;
                } else if (rw_conf_kafka_check(kkey, value, reason,
                                               sizeof(reason)) !=
                           RD_KAFKA_CONF_OK) {
                        err = RW_ERR_CONFIG;
                } else {
                        rw_conf_kafka_store(conf, kkey, value, pin);
                }
                goto done;
        }

        prop = rw_conf_prop_find(key);
        if (!prop) {
                rw_conf_unknown(key, value, reason, sizeof(reason));
                err = RW_ERR_CONFIG;
                goto done;
        }
        err = rw_conf_parse(prop, value, &val, reason, sizeof(reason));
        if (err)
                goto done;
        cur = &conf->vals[prop - rw_conf_table];
        if (cur->pinned && !pin)
                goto done;
        free(cur->str);
        free(cur->origin);
        val.str = rw_conf_xstrdup(value);
        val.pinned = cur->pinned || pin;
        /* The prefix without its separator: "FILE:LINE: " or "-X ". */
        if (strcmp(prefix, "default ")) {
                size_t n = strlen(prefix);
                while (n && (prefix[n - 1] == ' ' || prefix[n - 1] == ':'))
                        n--;
                val.origin = rw_conf_xstrdup(prefix);
                val.origin[n] = '\0';
        }
        *cur = val;

done:
        if (err)
                snprintf(errstr, errstr_size, "%s%s: %s", prefix, key, reason);
        return err;
}

rw_conf_t *rw_conf_new(void) {
        rw_conf_t *conf = rw_conf_xmalloc(sizeof(*conf));
        char errstr[512];

        memset(conf, 0, sizeof(*conf));
        conf->prop_cnt = rw_conf_prop_cnt();
        conf->vals = rw_conf_xmalloc(conf->prop_cnt * sizeof(*conf->vals));
        memset(conf->vals, 0, conf->prop_cnt * sizeof(*conf->vals));
        for (size_t i = 0; i < conf->prop_cnt; i++) {
                rw_err_t err = rw_conf_set0(conf, rw_conf_table[i].name,
                                            rw_conf_table[i].defval,
                                            "default ", false, errstr,
                                            sizeof(errstr));

                assert(!err && "bad default in the property table");
                (void)err;
        }
        for (size_t i = 0; i < RW_ARRAY_SIZE(rw_conf_kafka_defaults); i++)
                rw_conf_kafka_store(conf, rw_conf_kafka_defaults[i][0],
                                    rw_conf_kafka_defaults[i][1], false);
        return conf;
}

void rw_conf_destroy(rw_conf_t *conf) {
        if (!conf)
                return;
        for (size_t i = 0; i < conf->kafka_cnt; i++) {
                free(conf->kafka[i].key);
                free(conf->kafka[i].value);
        }
        free(conf->kafka);
        for (size_t i = 0; i < conf->prop_cnt; i++)
                free(conf->vals[i].str), free(conf->vals[i].origin);
        free(conf->vals);
        free(conf);
}

/* rw_conf_set0() with "ORIGIN: " as the prefix. */
static rw_err_t rw_conf_set_from(rw_conf_t *conf, const char *key, const char *value,
                                 const char *origin, bool pin, char *errstr,
                                 size_t errstr_size) {
        char *prefix = rw_conf_xmalloc(strlen(origin) + 3);
        rw_err_t err;

        sprintf(prefix, "%s: ", origin);
        err = rw_conf_set0(conf, key, value, prefix, pin, errstr, errstr_size);
        free(prefix);
        return err;
}

rw_err_t rw_conf_set(rw_conf_t *conf, const char *key, const char *value,
                     const char *origin, char *errstr, size_t errstr_size) {
        return rw_conf_set_from(conf, key, value, origin, false, errstr, errstr_size);
}

rw_err_t rw_conf_override(rw_conf_t *conf, const char *key, const char *value,
                          const char *origin, char *errstr, size_t errstr_size) {
        return rw_conf_set_from(conf, key, value, origin, true, errstr, errstr_size);
}

rw_err_t rw_conf_set_arg(rw_conf_t *conf, const char *kv, char *errstr,
                         size_t errstr_size) {
        char *copy = rw_conf_xstrdup(kv);
        char *eq = strchr(copy, '='), *key;
        rw_err_t err;

        if (eq)
                *eq = '\0';
        key = rw_conf_trim(copy);
        if (!eq || !*key) {
                snprintf(errstr, errstr_size, "-X %s: expected key=value", kv);
                err = RW_ERR_CONFIG;
                goto done;
        }
        err = rw_conf_set0(conf, key, rw_conf_trim(eq + 1), "-X ", true,
                           errstr, errstr_size);

done:
        free(copy);
        return err;
}

/* A key already set by the file being loaded, for duplicate detection. */
typedef struct rw_conf_seen_s {
        char *key;
        int line;
} rw_conf_seen_t;

rw_err_t rw_conf_load_file(rw_conf_t *conf, const char *path,
                           char *errstr, size_t errstr_size) {
        rw_conf_seen_t *seen = NULL;
        size_t seen_cnt = 0, seen_size = 0, cap = 0;
        char *line = NULL, *prefix = NULL;
        FILE *fp;
        int lineno = 0;
        rw_err_t err = RW_OK;

        fp = fopen(path, "r");
        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                err = RW_ERR_CONFIG;
                goto done;
        }
        prefix = rw_conf_xmalloc(strlen(path) + 16);
        while (getline(&line, &cap, fp) != -1) {
                char *s, *eq, *key, *value;

                lineno++;
                /* A UTF-8 byte order mark, as some editors write one. */
                s = rw_conf_trim(lineno == 1 && !strncmp(line, "\xef\xbb\xbf", 3) ?
                                 line + 3 : line);
                if (!*s || *s == '#')
                        continue;
                eq = strchr(s, '=');
                if (eq == s || !eq) {
                        snprintf(errstr, errstr_size,
                                 "%s:%d: %.40s%s: expected key=value", path,
                                 lineno, s, strlen(s) > 40 ? "..." : "");
                        err = RW_ERR_CONFIG;
                        goto done;
                }
                *eq = '\0';
                key = rw_conf_trim(s);
                value = rw_conf_trim(eq + 1);
                for (size_t i = 0; i < seen_cnt; i++) {
                        if (strcmp(seen[i].key, key))
                                continue;
                        snprintf(errstr, errstr_size,
                                 "%s:%d: %s: duplicate (first set at line %d)",
                                 path, lineno, key, seen[i].line);
                        err = RW_ERR_CONFIG;
                        goto done;
                }
                sprintf(prefix, "%s:%d: ", path, lineno);
                err = rw_conf_set0(conf, key, value, prefix, false, errstr,
                                   errstr_size);
                if (err)
                        goto done;
                if (seen_cnt == seen_size) {
                        seen_size = seen_size ? seen_size * 2 : 16;
                        seen = rw_conf_xrealloc(seen,
                                                seen_size * sizeof(*seen));
                }
                seen[seen_cnt].key = rw_conf_xstrdup(key);
                seen[seen_cnt].line = lineno;
                seen_cnt++;
        }
        if (ferror(fp)) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                err = RW_ERR_CONFIG;
        }

done:
        for (size_t i = 0; i < seen_cnt; i++)
                free(seen[i].key);
        free(seen);
        free(prefix);
        free(line);
        if (fp)
                fclose(fp);
        return err;
}

#define RW_CONF_T(t) (1u << (t))

static const rw_conf_val_t *rw_conf_val(const rw_conf_t *conf, const char *key,
                                        unsigned types) {
        return &conf->vals[rw_conf_prop_must(key, types) - rw_conf_table];
}

const char *rw_conf_get_str(const rw_conf_t *conf, const char *key) {
        return rw_conf_val(conf, key, RW_CONF_T(RW_CONF_STR) | RW_CONF_T(RW_CONF_ENUM) |
                           RW_CONF_T(RW_CONF_URL_REDIS) | RW_CONF_T(RW_CONF_URL_HTTP))->str;
}

int64_t rw_conf_get_int(const rw_conf_t *conf, const char *key) {
        return rw_conf_val(conf, key, RW_CONF_T(RW_CONF_INT) | RW_CONF_T(RW_CONF_DURATION) |
                           RW_CONF_T(RW_CONF_TIME))->i;
}

double rw_conf_get_dbl(const rw_conf_t *conf, const char *key) {
        return rw_conf_val(conf, key, RW_CONF_T(RW_CONF_DBL))->d;
}

bool rw_conf_get_bool(const rw_conf_t *conf, const char *key) {
        return rw_conf_val(conf, key, RW_CONF_T(RW_CONF_BOOL))->b;
}

const char *rw_conf_origin(const rw_conf_t *conf, const char *key) {
        return conf->vals[rw_conf_prop_must(key, ~0u) - rw_conf_table].origin;
}

size_t rw_conf_kafka_cnt(const rw_conf_t *conf) {
        return conf->kafka_cnt;
}

void rw_conf_kafka_get(const rw_conf_t *conf, size_t i,
                       const char **keyp, const char **valuep) {
        assert(i < conf->kafka_cnt);
        *keyp = conf->kafka[i].key;
        *valuep = conf->kafka[i].value;
}

const char *rw_conf_kafka_find(const rw_conf_t *conf, const char *key) {
        const rw_conf_kv_t *kv = rw_conf_kafka_entry(conf, key);

        return kv ? kv->value : NULL;
}

/* Copy of `url` with the password in its user info replaced by ***.
 * In redis URLs user info without ':' is the password (as redis-cli reads
 * it); in http URLs it is a user name. Caller frees. */
static char *rw_conf_mask_url(const char *url, bool bare_is_password) {
        const char *p = strstr(url, "://"), *auth_end, *at = NULL, *colon;
        size_t keep;
        char *out;

        if (!p)
                return rw_conf_xstrdup(url);
        p += 3;
        auth_end = p + strcspn(p, "/?#");
        for (const char *q = p; q < auth_end; q++) {
                if (*q == '@')
                        at = q;
        }
        if (!at)
                return rw_conf_xstrdup(url);
        colon = memchr(p, ':', (size_t)(at - p));
        if (colon)
                keep = (size_t)(colon + 1 - url);
        else if (bare_is_password)
                keep = (size_t)(p - url);
        else
                return rw_conf_xstrdup(url);
        out = rw_conf_xmalloc(keep + 3 + strlen(at) + 1);
        memcpy(out, url, keep);
        memcpy(out + keep, "***", 3);
        strcpy(out + keep + 3, at);
        return out;
}

typedef struct rw_conf_line_s {
        char *key;
        char *value;
} rw_conf_line_t;

static int rw_conf_line_cmp(const void *a, const void *b) {
        return strcmp(((const rw_conf_line_t *)a)->key,
                      ((const rw_conf_line_t *)b)->key);
}

void rw_conf_dump(const rw_conf_t *conf, FILE *fp) {
        size_t n = conf->prop_cnt + conf->kafka_cnt, k = 0;
        rw_conf_line_t *lines = rw_conf_xmalloc(n * sizeof(*lines));

        for (size_t i = 0; i < conf->prop_cnt; i++) {
                const rw_conf_prop_t *prop = &rw_conf_table[i];
                const char *v = conf->vals[i].str;

                lines[k].key = rw_conf_xstrdup(prop->name);
                if (prop->secret && *v)
                        lines[k].value = rw_conf_xstrdup("***");
                else if (prop->type == RW_CONF_URL_REDIS ||
                         prop->type == RW_CONF_URL_HTTP)
                        lines[k].value = rw_conf_mask_url(
                                v, prop->type == RW_CONF_URL_REDIS);
                else
                        lines[k].value = rw_conf_xstrdup(v);
                k++;
        }
        for (size_t i = 0; i < conf->kafka_cnt; i++) {
                const rw_conf_kv_t *kv = &conf->kafka[i];

                lines[k].key = rw_conf_xmalloc(strlen(kv->key) + 7);
                sprintf(lines[k].key, "kafka.%s", kv->key);
                lines[k].value = rw_conf_xstrdup(
                        rw_conf_kafka_secret(kv->key) && *kv->value ?
                        "***" : kv->value);
                k++;
        }
        qsort(lines, n, sizeof(*lines), rw_conf_line_cmp);
        for (size_t i = 0; i < n; i++) {
                fprintf(fp, "%s=%s\n", lines[i].key, lines[i].value);
                free(lines[i].key);
                free(lines[i].value);
        }
        free(lines);
}

/* Text for a Markdown table cell: '|' escaped, line breaks flattened. */
static void rw_conf_md_cell(FILE *fp, const char *text) {
        for (const char *p = text; *p; p++) {
                if (*p == '|')
                        fputs("\\|", fp);
                else if (*p == '\n' || *p == '\r')
                        fputc(' ', fp);
                else
                        fputc(*p, fp);
        }
}

static const char *rw_conf_type_name(rw_conf_type_t type) {
        switch (type) {
        case RW_CONF_STR: return "string";
        case RW_CONF_INT: return "integer";
        case RW_CONF_DBL: return "number";
        case RW_CONF_BOOL: return "boolean";
        case RW_CONF_ENUM: return "enum";
        case RW_CONF_URL_REDIS: return "redis URL";
        case RW_CONF_URL_HTTP: return "http URL";
        case RW_CONF_DURATION: return "duration";
        case RW_CONF_TIME: return "time";
        }
        return "?";
}

static void rw_conf_md_range(FILE *fp, const rw_conf_prop_t *prop) {
        char lo[32], hi[32];

        switch (prop->type) {
        case RW_CONF_STR:
                for (size_t i = 0; i < RW_ARRAY_SIZE(rw_conf_checks); i++) {
                        if (!strcmp(rw_conf_checks[i].name, prop->name)) {
                                rw_conf_md_cell(fp, rw_conf_checks[i].what);
                                return;
                        }
                }
                return;
        case RW_CONF_INT:
                fprintf(fp, "%.0f .. %.0f", prop->min, prop->max);
                return;
        case RW_CONF_DBL:
                fprintf(fp, "%g .. %g", prop->min, prop->max);
                return;
        case RW_CONF_DURATION:
                rw_fmt_duration_exact(lo, sizeof(lo), (int64_t)prop->min);
                rw_fmt_duration_exact(hi, sizeof(hi), (int64_t)prop->max);
                fprintf(fp, "%s .. %s", lo, hi);
                return;
        case RW_CONF_TIME:
                rw_fmt_time(lo, sizeof(lo), (int64_t)prop->min);
                rw_fmt_time(hi, sizeof(hi), (int64_t)prop->max);
                fprintf(fp, "%s .. %s", lo, hi);
                return;
        case RW_CONF_BOOL:
                fputs("`true`, `false`", fp);
                return;
        case RW_CONF_ENUM:
                for (const char *p = prop->enums; *p;) {
                        size_t len = strcspn(p, "|");

                        fprintf(fp, "%s`%.*s`", p == prop->enums ? "" : ", ",
                                (int)len, p);
                        p += len;
                        if (*p == '|')
                                p++;
                }
                return;
        case RW_CONF_URL_REDIS:
                fputs("`redis://...` or `unix://...`", fp);
                return;
        case RW_CONF_URL_HTTP:
                fputs("empty, `http://...` or `https://...`", fp);
                return;
        }
}

void rw_conf_doc_markdown(FILE *fp) {
        fputs("| property | type | default | range / values | description |\n"
              "|----------|------|---------|----------------|-------------|\n",
              fp);
        for (const rw_conf_prop_t *prop = rw_conf_table; prop->name; prop++) {
                fprintf(fp, "| `%s` | %s | ", prop->name,
                        rw_conf_type_name(prop->type));
                if (*prop->defval) {
                        fputc('`', fp);
                        rw_conf_md_cell(fp, prop->defval);
                        fputc('`', fp);
                } else {
                        fputs("*(empty)*", fp);
                }
                fputs(" | ", fp);
                rw_conf_md_range(fp, prop);
                fputs(" | ", fp);
                rw_conf_md_cell(fp, prop->desc);
                if (prop->secret)
                        fputs(" Masked when the configuration is printed.", fp);
                fputs(" |\n", fp);
        }
        fputs("\n"
              "Durations are an integer with an optional unit: `ms`, `s`, "
              "`m`, `h` or `d`\n"
              "(no unit = milliseconds), e.g. `250ms`, `30s`, `7d`.\n"
              "\n"
              "Every key that starts with `kafka.` is passed through to "
              "librdkafka without\n"
              "the prefix (`kafka.security.protocol=SASL_SSL` sets "
              "`security.protocol`), in\n"
              "the order given; see librdkafka's `CONFIGURATION.md` for the "
              "properties.\n"
              "librdkafka checks each value when it is set, so a bad one "
              "fails at start-up\n"
              "with librdkafka's reason. `kafka.bootstrap.servers` defaults "
              "to\n"
              "`localhost:9092`. The consumer of `run`, `replay` and `demo` "
              "starts from its\n"
              "own defaults, which `kafka.*` keys override: "
              "`queued.min.messages` 10000\n"
              "and `queued.max.messages.kbytes` 1024 (the prefetch, most of "
              "its memory; see\n"
              "Performance), `partition.assignment.strategy` "
              "`cooperative-sticky`,\n"
              "`enable.auto.commit` and `enable.auto.offset.store` `false`, "
              "`auto.offset.reset`\n"
              "`earliest` (positions live in Redis: committed offsets are "
              "never read).\n"
              "`group.id` and `client.id` are the "
              "riskwatch properties\n"
              "above, not `kafka.*` keys. Values of `kafka.*` keys that "
              "contain `password`\n"
              "or `secret`, `kafka.sasl.oauthbearer.config` and "
              "`kafka.ssl.key.pem` are\n"
              "masked when the configuration is printed.\n"
              "\n"
              "A `-X key=value` option wins over the configuration file.\n",
              fp);
}

/* Decode %XX escapes of [s, s+len) into out; false if bad or too long. */
static bool rw_conf_pct_decode(const char *s, size_t len, char *out,
                               size_t out_size) {
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '%') {
                        char hex[3];

                        if (i + 2 >= len ||
                            !isxdigit((unsigned char)s[i + 1]) ||
                            !isxdigit((unsigned char)s[i + 2]))
                                return false;
                        hex[0] = s[i + 1];
                        hex[1] = s[i + 2];
                        hex[2] = '\0';
                        c = (char)strtol(hex, NULL, 16);
                        i += 2;
                }
                if (o + 1 >= out_size)
                        return false;
                out[o++] = c;
        }
        out[o] = '\0';
        return true;
}

/* Database index: digits only, 0..INT_MAX. */
static bool rw_conf_parse_db(const char *s, int *dbp) {
        const char *end;
        int64_t v;

        if (!isdigit((unsigned char)*s) || !rw_conf_parse_i64(s, &end, &v) ||
            *end || v > INT_MAX)
                return false;
        *dbp = (int)v;
        return true;
}

rw_err_t rw_redis_url_parse(const char *url, rw_redis_url_t *out,
                            char *errstr, size_t errstr_size) {
        const char *p, *auth_end, *at = NULL, *host, *host_end, *q;
        rw_err_t err = RW_ERR_CONFIG;
        bool bracket;

        memset(out, 0, sizeof(*out));
        out->port = 6379;
        for (q = url; *q; q++) {
                if ((unsigned char)*q <= ' ' || *q == 0x7f) {
                        snprintf(errstr, errstr_size,
                                 "URL contains whitespace or control "
                                 "characters");
                        goto done;
                }
        }

        if (!strncasecmp(url, "unix://", 7)) {
                const char *query;
                size_t len;

                p = url + 7;
                out->is_unix = 1;
                if (*p != '/') {
                        snprintf(errstr, errstr_size,
                                 "expected an absolute socket path: "
                                 "unix:///path/to/socket");
                        goto done;
                }
                query = strchr(p, '?');
                len = query ? (size_t)(query - p) : strlen(p);
                if (len >= sizeof(out->path)) {
                        snprintf(errstr, errstr_size,
                                 "socket path longer than %zu bytes",
                                 sizeof(out->path) - 1);
                        goto done;
                }
                memcpy(out->path, p, len);
                out->path[len] = '\0';
                if (query && (strncmp(query, "?db=", 4) ||
                              !rw_conf_parse_db(query + 4, &out->db))) {
                        snprintf(errstr, errstr_size,
                                 "expected ?db=N with N an integer in "
                                 "[0, %d] after the socket path", INT_MAX);
                        goto done;
                }
                err = RW_OK;
                goto done;
        }

        if (strncasecmp(url, "redis://", 8)) {
                snprintf(errstr, errstr_size,
                         "expected redis://[[user]:password@]host[:port][/db] "
                         "or unix:///path/to/socket");
                goto done;
        }
        p = url + 8;
        auth_end = p + strcspn(p, "/");
        for (q = p; q < auth_end; q++) {
                if (*q == '@')
                        at = q;
        }
        if (at) {
                /* As redis-cli: "user:password@", ":password@", "password@". */
                const char *colon = memchr(p, ':', (size_t)(at - p));
                const char *pw = colon ? colon + 1 : p;

                if ((colon && !rw_conf_pct_decode(p, (size_t)(colon - p),
                                                  out->user,
                                                  sizeof(out->user))) ||
                    !rw_conf_pct_decode(pw, (size_t)(at - pw), out->password,
                                        sizeof(out->password))) {
                        snprintf(errstr, errstr_size,
                                 "bad %%-escape or too long user name or "
                                 "password");
                        goto done;
                }
                p = at + 1;
        }

        bracket = *p == '[';
        if (bracket) {
                host = p + 1;
                host_end = memchr(host, ']', (size_t)(auth_end - host));
                if (!host_end) {
                        snprintf(errstr, errstr_size,
                                 "expected ']' after the IPv6 address");
                        goto done;
                }
                q = host_end + 1;
        } else {
                host = p;
                host_end = memchr(host, ':', (size_t)(auth_end - host));
                if (!host_end)
                        host_end = auth_end;
                q = host_end;
        }
        if (host_end == host) {
                snprintf(errstr, errstr_size, "empty host");
                goto done;
        }
        for (const char *h = host; h < host_end; h++) {
                if (!isalnum((unsigned char)*h) &&
                    !strchr(bracket ? ":.%" : "-._", *h)) {
                        snprintf(errstr, errstr_size,
                                 "unexpected character '%c' in the host", *h);
                        goto done;
                }
        }
        if ((size_t)(host_end - host) >= sizeof(out->host)) {
                snprintf(errstr, errstr_size, "host longer than %zu bytes",
                         sizeof(out->host) - 1);
                goto done;
        }
        memcpy(out->host, host, (size_t)(host_end - host));
        out->host[host_end - host] = '\0';

        if (q < auth_end) {
                size_t len = (size_t)(auth_end - q - 1);

                if (*q != ':') {
                        snprintf(errstr, errstr_size,
                                 "expected ':port' or '/db' after the host");
                        goto done;
                }
                if (memchr(q + 1, ':', len)) {
                        snprintf(errstr, errstr_size,
                                 "an IPv6 host must be in brackets, e.g. "
                                 "redis://[::1]:6379");
                        goto done;
                }
                if (!rw_conf_parse_port(q + 1, len, &out->port)) {
                        snprintf(errstr, errstr_size,
                                 "expected a port in [1, 65535], got "
                                 "\"%.*s\"", (int)(len > 16 ? 16 : len),
                                 q + 1);
                        goto done;
                }
        }
        if (*auth_end == '/' && auth_end[1] &&
            !rw_conf_parse_db(auth_end + 1, &out->db)) {
                snprintf(errstr, errstr_size,
                         "expected a database number in [0, %d], got "
                         "\"%.16s\"", INT_MAX, auth_end + 1);
                goto done;
        }
        err = RW_OK;

done:
        if (err)
                memset(out, 0, sizeof(*out));
        return err;
}
