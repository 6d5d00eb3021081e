/* rules.h - pure detection logic: rolling figures in, decisions out. No I/O. */
#ifndef RW_RULES_H
#define RW_RULES_H

#include "common/rw.h"
#include "common/conf.h"
#include "schemas/codec.h"

#define RW_DAY_MS 86400000LL

/* One day of an account's activity, as kept in the state store. */
typedef struct rw_day_bucket_s {
        /* 64 bytes: counts in 32 bits (rw_bucket_count() saturates them,
         * as the parser does), amounts and sums in 64. An account's days
         * are most of the account cache's memory. */
        int32_t day;            /* floor(event time / 1 day) */
        int32_t placed;         /* PLACED orders */
        int32_t cancelled;      /* CANCELLED orders */
        int32_t refunded;       /* REFUNDED orders */
        int32_t tickets;        /* OPENED + REOPENED */
        int32_t tickets_hot;    /* URGENT or ESCALATED support events */
        int32_t csat_n;
        int32_t sentiment_n;
        int64_t placed_sum;     /* PLACED amount, minor units */
        int64_t refunded_sum;   /* REFUNDED amount, minor units */
        double csat_sum;
        double sentiment_sum;
} rw_day_bucket_t;

/* What the churn rules see of one account at event time `now`. The field
 * names carry the default windows; each counts over the window its rule is
 * configured with (rw_rules_params_t), e.g. placed_30 over order_drop's
 * window, whatever its length. */
typedef struct rw_account_figures_s {
        int64_t now;                 /* the evaluation's event time (ms) */
        int64_t placed_30;           /* PLACED in order_drop's window */
        int64_t placed_base;         /* PLACED in order_drop's baseline window
                                      * (the days before its window) */
        int64_t net_spend_30;        /* PLACED - REFUNDED amount, spend_drop's window */
        int64_t net_spend_base;      /* net spend in spend_drop's baseline window */
        int64_t spend_base_placed;   /* PLACED in spend_drop's baseline window */
        int64_t orders_30;           /* PLACED + CANCELLED + REFUNDED, refund_rate's window */
        int64_t returns_30;          /* CANCELLED + REFUNDED, refund_rate's window */
        int64_t tickets_7;           /* OPENED/REOPENED in support_spike's window */
        int64_t tickets_hot_7;       /* URGENT or ESCALATED in that window */
        int64_t tickets_base;        /* OPENED/REOPENED in the baseline weeks before */
        double csat_sum_30;          /* low_satisfaction's window */
        int64_t csat_n_30;
        double sentiment_sum_30;
        int64_t sentiment_n_30;
        int64_t orders_total;        /* PLACED orders ever */
        int64_t first_order;         /* event time of the first/last PLACED */
        int64_t last_order;
} rw_account_figures_t;

struct rw_rules_params_s;

/* Fold an account's day buckets (any order) into the figures at `now`, over
 * the windows `p` sets. Buckets outside the windows are ignored. */
void rw_figures_compute(const struct rw_rules_params_s *p,
                        const rw_day_bucket_t *buckets, size_t cnt,
                        int64_t orders_total, int64_t first_order,
                        int64_t last_order, int64_t now,
                        rw_account_figures_t *fig);

/* The window lengths, in days, rw_figures_compute() sums buckets over:
 * a bucket's day b moves between windows only when `now`'s day reaches
 * b + one of them (or b itself, a bucket ahead of `now`). Writes up to
 * RW_FIGURES_EDGES into days; returns how many. The first
 * RW_FIGURES_ORDER_EDGES are the windows of the orders' figures (order
 * and spend drop, refund rate), the rest those of the support figures
 * (satisfaction, ticket spike). */
#define RW_FIGURES_EDGES 8
#define RW_FIGURES_ORDER_EDGES 5
size_t rw_figures_edges(const struct rw_rules_params_s *p, int64_t *days);

/* Inactivity's limit for an account: max(min gap, factor x mean gap
 * between its first and last order); the mean gap into *mean_gapp (0 with
 * fewer than two orders) when not NULL. */
double rw_rules_inactivity_limit(const struct rw_rules_params_s *p, int64_t orders_total,
                                 int64_t first_order, int64_t last_order,
                                 double *mean_gapp);

/* Rule identifiers, in the contract's order. */
typedef enum rw_rule_id_e {
        RW_RULE_ORDER_DROP = 0,
        RW_RULE_SPEND_DROP,
        RW_RULE_INACTIVITY,
        RW_RULE_SUPPORT_SPIKE,
        RW_RULE_LOW_SATISFACTION,
        RW_RULE_REFUND_RATE,
        RW_RULE_ACCOUNT_SHARE,
        RW_RULE_VENDOR_SHARE,
        RW_RULE_ACCOUNT_HHI,
        RW_RULE_VENDOR_HHI,
        RW_RULE__CNT,
} rw_rule_id_t;

const char *rw_rule_name(rw_rule_id_t id);          /* "churn.order_drop" */
/* The rule whose name is the `len` bytes at `name`; RW_RULE__CNT if none. */
rw_rule_id_t rw_rule_by_name(const char *name, size_t len);

/* Which input stream a rule's figures come from. A rule is evaluated at the
 * watermark of that stream's partition only, so its decisions do not depend
 * on how the two topics' partitions interleave. */
typedef enum rw_rule_source_e { RW_SRC_ORDERS = 0, RW_SRC_SUPPORT } rw_rule_source_t;
rw_rule_source_t rw_rule_source(rw_rule_id_t id);

/* rw_figures_compute() of the figures `src`'s rules read (the others stay
 * 0), with the windows rw_figures_edges() gave for `p` (e): what the rules
 * of one stream decide on, for the searches that evaluate an account many
 * times over. */
void rw_figures_compute_src(const int64_t *e, rw_rule_source_t src,
                            const rw_day_bucket_t *buckets, size_t cnt,
                            int64_t orders_total, int64_t first_order,
                            int64_t last_order, int64_t now,
                            rw_account_figures_t *fig);
rw_category_t rw_rule_category(rw_rule_id_t id);
rw_subject_type_t rw_rule_subject(rw_rule_id_t id);

/* A rule's verdict on its subject. */
typedef struct rw_decision_s {
        int holds;                  /* the firing condition holds */
        int clear;                  /* past the hysteresis margin: may resolve */
        rw_alert_severity_t severity;
        double observed;
        double threshold;           /* the threshold crossed (per severity) */
        int has_baseline;
        double baseline;
        int64_t window_ms;
        int undecided;              /* the rule cannot decide any more (too
                                     * little data): observed is the data
                                     * there is, threshold the minimum it
                                     * needs; holds 0, clear 1 */
} rw_decision_t;

/* A "falls below its own baseline" rule's parameters (order and spend drop). */
typedef struct rw_rules_drop_params_s {
        double warn, crit;                  /* ratios: 0.5, 0.25 (crit < warn) */
        int64_t min_baseline;               /* PLACED orders in the baseline: 6 */
        int64_t window_ms;                  /* 30 days (whole days) */
        int64_t baseline_window_ms;         /* 90 days before it (whole days) */
} rw_rules_drop_params_t;

/* Rule parameters, defaults as in the contract. Windows are whole days: the
 * figures are kept in day buckets. */
typedef struct rw_rules_params_s {
        int enabled[RW_RULE__CNT];
        double hysteresis;                  /* fraction of the threshold */
        int64_t cooldown_ms;
        rw_rules_drop_params_t order_drop, spend_drop;
        int64_t inactivity_min_ms;          /* 14 days */
        double inactivity_gap_factor;       /* 3 */
        int64_t inactivity_min_orders;      /* 3 (>= 2: a gap needs two) */
        int64_t spike_window_ms;            /* 7 days */
        int64_t spike_baseline_weeks;       /* 8 weeks before the window */
        int64_t spike_min_tickets;          /* 3 */
        double spike_factor;                /* 3 */
        int64_t satisfaction_window_ms;     /* 30 days */
        double csat_max;                    /* 2.5 */
        int64_t csat_min_answers;           /* 2 */
        double sentiment_max;               /* -0.5 */
        int64_t sentiment_min_events;       /* 3 */
        int64_t refund_window_ms;           /* 30 days */
        double refund_share;                /* 0.25 */
        int64_t refund_min_orders;          /* 4 */
        /* Dependency rules: warn/crit per rule, indexed by rule id
         * (shares as fractions 0..1, HHI on the 0..10000 scale). */
        double dep_warn[RW_RULE__CNT], dep_crit[RW_RULE__CNT];
        int64_t dep_window_ms;              /* 90 days */
        int64_t dep_min_history_ms;         /* 30 days */
        int64_t dep_min_orders;             /* PLACED orders in the window: 50 */
        int64_t dep_min_subjects[2];        /* distinct accounts, vendors with a
                                             * total in the window: 10, 3 */
        int64_t input_gap_ms;               /* an input outage: 7 days (0: off) */
} rw_rules_params_t;

/* A silence of an orders partition's input: event time from `start` (its
 * watermark before) to `end` (the event after), with no event of that
 * partition in between; or, as an outage of the group's input, a span in
 * which no orders partition had an event. */
typedef struct rw_input_gap_s {
        int64_t start, end;
} rw_input_gap_t;

/* An orders partition's latest gaps (its own silences longer than
 * p->input_gap_ms, which the other partitions read) and the group's
 * outages found at them (the parts of a gap every orders partition was
 * silent for, longer than p->input_gap_ms: what holds the silence rules),
 * each oldest first, at most RW_INPUT_GAPS (the oldest is dropped). */
#define RW_INPUT_GAPS 16
typedef struct rw_input_gaps_s {
        rw_input_gap_t v[RW_INPUT_GAPS];        /* the partition's own gaps */
        int cnt;
        rw_input_gap_t out[RW_INPUT_GAPS];      /* the group's outages */
        int out_cnt;
} rw_input_gaps_t;

/* Note the event at `at` after the partition's watermark `wm` (0: no event
 * yet): a jump longer than p->input_gap_ms is a gap of the partition, added
 * to g->v. Returns 1 when it is one (the group's outages in it are not
 * known yet: rw_input_gaps_group()). */
int rw_input_gaps_note(rw_input_gaps_t *g, const struct rw_rules_params_s *p,
                       int64_t wm, int64_t at);

/* Another orders partition of the group, as its owner stored it. */
typedef struct rw_input_peer_s {
        int32_t partition;
        int known;              /* its watermark and gaps were read */
        int64_t watermark;      /* its gaps are final up to here */
        int idle;               /* a running process's idle partition: silent
                                 * from its watermark on (never in a replay) */
        int at_end;             /* its owner says it is at its end (any mode) */
        rw_input_gaps_t gaps;
} rw_input_peer_t;

/* How far a peer's gaps are known: its watermark, or the end of its latest
 * gap when it waits at that gap's end (its next record, not applied yet). */
int64_t rw_input_peer_known(const rw_input_peer_t *q);

/* Whether every peer's gaps are known up to event time `t`
 * (rw_input_peer_known()), or it is idle. */
int rw_input_peers_reached(const rw_input_peer_t *peers, size_t n, int64_t t);

/* The group's outages in the partition's gap (start, end): the parts of it
 * inside a gap of every peer (an idle peer is silent from its watermark
 * on), longer than p->input_gap_ms, added to g->out. A peer whose stored
 * gaps no longer reach back to `start` (more than RW_INPUT_GAPS since)
 * counts as live before its oldest one. Returns 0 (nothing added) when not
 * every peer is known up to `end` (rw_input_peers_reached()). */
int rw_input_gaps_group(rw_input_gaps_t *g, const struct rw_rules_params_s *p,
                        int64_t start, int64_t end, const rw_input_peer_t *peers, size_t n);

/* As stored: "start,end;start,end|start,end" (the partition's gaps, then
 * the group's outages; "" for none); parse reads up to RW_INPUT_GAPS of
 * each, ignoring what is malformed. A value without "|" (stored before the
 * group's outages were) reads as gaps that are outages too. */
#define RW_INPUT_GAPS_CSV_SIZE (2 * RW_INPUT_GAPS * 44 + 2)
void rw_input_gaps_format(const rw_input_gaps_t *g, char *buf, size_t size);
void rw_input_gaps_parse(const char *csv, rw_input_gaps_t *g);

void rw_rules_params_default(rw_rules_params_t *p);

/* Fill *p from the `rules.*`, `alerts.hysteresis` and `alerts.cooldown`
 * properties of `conf`, and check what the property table cannot check
 * alone (a critical threshold on the right side of its warning threshold,
 * windows of whole days). Returns 0, or -1 with errstr "KEY: reason" naming
 * the offending property (*p is then unspecified). */
int rw_rules_params_from_conf(rw_rules_params_t *p, const rw_conf_t *conf,
                              char *errstr, size_t errstr_size);

/* The longest span of day buckets any account rule reads, in days (window
 * plus baseline; 120 by default): state kept per account, and records older
 * than this behind the watermark are too late. Disabled rules count too, so
 * enabling one never finds its history pruned. */
int64_t rw_rules_state_days(const rw_rules_params_t *p);

/* Evaluate a dependency rule at an event-time boundary.
 *   share rules: value = the subject's total over dep_window_ms,
 *                total = all subjects' total;
 *   HHI rules:   value = sum of the squares of the subjects' totals,
 *                total = all subjects' total (HHI = value/total^2 * 10000).
 * history_ms: how much history the portfolio holds at the boundary.
 * Returns 0 (no decision) when disabled, with too little history, or when
 * total <= 0; 1 with *dec filled otherwise. */
int rw_rules_eval_portfolio(rw_rule_id_t id, const rw_rules_params_t *p,
                            double value, double total, int64_t history_ms,
                            rw_decision_t *dec);

/* Evaluate one account rule. Returns 0 if the rule has too little history to
 * decide (no decision), 1 with *dec filled otherwise. */
int rw_rules_eval_account(rw_rule_id_t id, const rw_rules_params_t *p,
                          const rw_account_figures_t *fig, rw_decision_t *dec);

/* The decision an account rule's lifecycle (*fp) is stepped with at
 * fig->now, or 0 for none: the rule's own decision; when it cannot decide
 * (too little data) while firing, an undecided one (dec->undecided) that
 * ends the episode; none that holds while an outage in `gaps` holds the
 * rule (see rw_rules_gap_held): no FIRING, no escalation. */
struct rw_fp_state_s;
int rw_rules_decide_account(rw_rule_id_t id, const rw_rules_params_t *p,
                            const rw_account_figures_t *fig,
                            const struct rw_fp_state_s *fp,
                            const rw_input_gaps_t *gaps, rw_decision_t *dec);

/* 1 when an outage of the group's input in `gaps` (gaps->out; NULL: none)
 * holds the verdict of a silence rule (order_drop, spend_drop, inactivity)
 * at fig->now: inside the outage, or before the input has been live again
 * for the rule's window (inactivity: the account's limit). */
int rw_rules_gap_held(rw_rule_id_t id, const rw_rules_params_t *p,
                      const rw_account_figures_t *fig, const rw_input_gaps_t *gaps);

/* The undecided decision of a portfolio rule (too little history, orders
 * or subjects in the window): `have` of what is short, `need` the minimum. */
void rw_rules_undecided_portfolio(const rw_rules_params_t *p, double have,
                                  double need, rw_decision_t *dec);

/* One line a person reads about a decision on `subject`. */
void rw_rules_summary(rw_rule_id_t id, const char *subject, int resolved,
                      const rw_decision_t *dec, char *buf, size_t size);

/* Lifecycle of one fingerprint. */
typedef struct rw_fp_state_s {
        int firing;                  /* currently in an episode */
        rw_alert_severity_t severity;/* highest severity emitted this episode */
        int64_t resolved_at;         /* event time of the last RESOLVED (0: never) */
} rw_fp_state_t;

/* A lifecycle state as stored in Redis: "firing,severity,resolved_at". */
#define RW_FP_CSV_SIZE 64
void rw_fp_state_format(const rw_fp_state_t *st, char *buf, size_t size);
/* Missing or malformed parts read as 0 (not firing, never resolved). */
void rw_fp_state_parse(const char *csv, rw_fp_state_t *st);

typedef enum rw_transition_e {
        RW_TRANS_NONE = 0,
        RW_TRANS_FIRING,             /* new episode */
        RW_TRANS_ESCALATED,          /* FIRING again at a higher severity */
        RW_TRANS_RESOLVED,
} rw_transition_t;

/* Step the lifecycle with a decision at event time `now`; updates *st and
 * returns the transition to emit, if any. */
rw_transition_t rw_lifecycle_step(rw_fp_state_t *st, const rw_decision_t *dec,
                                  int64_t now, int64_t cooldown_ms);

/* The first instant in (from, until] at which evaluating an account that
 * sends nothing more would step the lifecycle of one of `src`'s rules (fire,
 * escalate, resolve), given its buckets, order meta and lifecycle states
 * (fp[RW_RULE__CNT]); 0 when there is none (until = INT64_MAX: ever). */
int64_t rw_rules_next_due(const rw_rules_params_t *p, rw_rule_source_t src,
                          const rw_day_bucket_t *buckets, size_t cnt,
                          int64_t orders_total, int64_t first_order,
                          int64_t last_order, const rw_fp_state_t *fp,
                          int64_t from, int64_t until);
/* The same, with the partition's latest outages of the group's input
 * (gaps->out; NULL: none): the instants their holds end are candidates too.
 * Day boundaries at which nothing the verdicts depend on can have changed
 * since the previous instant evaluated (no bucket reaches a window's edge,
 * no limit in time is passed) are not evaluated: the verdicts there are the
 * previous ones, so the result is the one evaluating every candidate gives.
 * `stepped`: the caller has just stepped the states at `from` itself (the
 * verdicts at `from`, with these buckets, meta and gaps, applied to fp by
 * rw_lifecycle_step()), so a day boundary at which nothing moved since
 * `from` is not evaluated either, as it would step nothing more. */
int64_t rw_rules_next_due_gap(const rw_rules_params_t *p, rw_rule_source_t src,
                              const rw_day_bucket_t *buckets, size_t cnt,
                              int64_t orders_total, int64_t first_order,
                              int64_t last_order, const rw_fp_state_t *fp,
                              const rw_input_gaps_t *gaps, int64_t from, int64_t until,
                              int stepped);

/* The words every summary of an episode ended for want of data contains. */
#define RW_UNDECIDED_TEXT "no longer enough data to decide"

/* A duration as a person reads it: "15d 2h", "3h 20m", "45s", "0s". */
void rw_duration_format(int64_t ms, char *buf, size_t size);

/* Bytes of an alert id with its terminating NUL. */
#define RW_ALERT_ID_SIZE 33

/* The alert id of a transition, derived from what caused it only: the
 * fingerprint, status ("FIRING"/"RESOLVED"), severity name and the event
 * time (or boundary) of the decision, every byte of each whatever its
 * length. 32 hex digits into out (>= RW_ALERT_ID_SIZE bytes). */
void rw_alert_id_derive(const char *fp, const char *status, const char *sev,
                        int64_t event_time, char *out, size_t size);

#endif
