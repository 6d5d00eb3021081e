/* codec.h - the Avro contract in C: Confluent framing, schema catalogue,
 * decode by writer->reader resolution, encode, post-decode validation. */
#ifndef RW_CODEC_H
#define RW_CODEC_H

#include <stdio.h>
#include "common/rw.h"
#include "common/conf.h"

typedef enum rw_order_kind_e {
        RW_ORDER_PLACED = 0, RW_ORDER_CANCELLED, RW_ORDER_REFUNDED,
} rw_order_kind_t;

typedef enum rw_support_kind_e {
        RW_SUPPORT_OPENED = 0, RW_SUPPORT_ESCALATED, RW_SUPPORT_REOPENED,
        RW_SUPPORT_RESOLVED, RW_SUPPORT_SURVEY,
} rw_support_kind_t;

typedef enum rw_ticket_severity_e {
        RW_TICKET_LOW = 0, RW_TICKET_NORMAL, RW_TICKET_HIGH, RW_TICKET_URGENT,
} rw_ticket_severity_t;

typedef enum rw_category_e { RW_CAT_CHURN = 0, RW_CAT_DEPENDENCY } rw_category_t;
typedef enum rw_subject_type_e {
        RW_SUBJ_ACCOUNT = 0, RW_SUBJ_VENDOR, RW_SUBJ_PORTFOLIO,
} rw_subject_type_t;
typedef enum rw_alert_status_e { RW_ALERT_FIRING = 0, RW_ALERT_RESOLVED } rw_alert_status_t;
typedef enum rw_alert_severity_e {
        RW_SEV_INFO = 0, RW_SEV_WARNING, RW_SEV_CRITICAL,
} rw_alert_severity_t;

/* Strings in decoded records point into codec-owned memory and stay valid
 * until the next rw_codec_decode() on the same codec. For encoding, the
 * caller owns them. Optional (["null",...]) fields: NULL / has_* = 0. */
typedef struct rw_order_event_s {
        const char *event_id;
        const char *account_id;
        const char *vendor_id;
        const char *product_line;      /* NULL when null */
        rw_order_kind_t kind;
        int64_t amount_minor;
        const char *currency;
        int64_t occurred_at;           /* ms since epoch */
} rw_order_event_t;

typedef struct rw_support_event_s {
        const char *event_id;
        const char *account_id;
        const char *ticket_id;
        rw_support_kind_t kind;
        rw_ticket_severity_t severity;
        int has_csat;
        int32_t csat;
        int has_sentiment;
        float sentiment;
        int64_t occurred_at;
} rw_support_event_t;

typedef struct rw_alert_s {
        const char *alert_id;
        const char *fingerprint;
        const char *rule;
        rw_category_t category;
        rw_subject_type_t subject_type;
        const char *subject_id;
        rw_alert_status_t status;
        rw_alert_severity_t severity;
        double observed;
        double threshold;
        int has_baseline;
        double baseline;
        int64_t window_ms;
        int64_t event_time;
        int64_t emitted_at;
        const char *source_topic;
        int32_t source_partition;
        int64_t source_offset;
        const char *summary;
        int replay;
} rw_alert_t;

typedef enum rw_record_type_e {
        RW_REC_ORDER = 0, RW_REC_SUPPORT, RW_REC_ALERT, RW_REC__CNT,
} rw_record_type_t;

typedef struct rw_record_s {
        rw_record_type_t type;
        int32_t schema_id;             /* writer schema id from the frame */
        union {
                rw_order_event_t order;
                rw_support_event_t support;
                rw_alert_t alert;
        } u;
} rw_record_t;

/* Decode verdicts. The reason words are the contract's DLQ reasons. */
typedef enum rw_codec_status_e {
        RW_CODEC_OK = 0,
        RW_CODEC_TOO_SHORT,       /* "too_short": fewer than 5 bytes (or empty) */
        RW_CODEC_BAD_MAGIC,       /* "bad_magic" */
        RW_CODEC_UNKNOWN_SCHEMA,  /* "unknown_schema": id not found or not resolvable to the reader */
        RW_CODEC_AVRO_DECODE,     /* "avro_decode": truncated, trailing bytes, bad lengths/enum index */
        RW_CODEC_INVALID_FIELD,   /* "invalid_field": validation failed */
        RW_CODEC_RETRY,           /* registry unreachable: retriable, not a DLQ verdict */
} rw_codec_status_t;

/* The contract's reason word for a status ("bad_magic", ...). */
const char *rw_codec_reason(rw_codec_status_t status);

/* Names of enum symbols, as in the schemas ("PLACED", "WARNING", ...). */
const char *rw_order_kind_name(rw_order_kind_t k);
const char *rw_support_kind_name(rw_support_kind_t k);
const char *rw_ticket_severity_name(rw_ticket_severity_t s);
const char *rw_category_name(rw_category_t c);
const char *rw_subject_type_name(rw_subject_type_t s);
const char *rw_alert_status_name(rw_alert_status_t s);
const char *rw_alert_severity_name(rw_alert_severity_t s);

typedef struct rw_codec_s rw_codec_t;

/* Load the local catalogue `schemas_dir/catalogue.txt` (format in its
 * header: `ID FILE [reader]` lines), parse every schema once and build each
 * writer's resolution to its reader. Returns NULL and fills errstr
 * ("FILE:LINE: reason") on failure. A codec is used by one thread at a time. */
rw_codec_t *rw_codec_new(const char *schemas_dir, char *errstr, size_t errstr_size);
/* NULL-safe. */
void rw_codec_destroy(rw_codec_t *codec);

/* Decode one framed value that should hold `expect`. On failure returns the
 * verdict and writes a one-line human message into errstr. */
rw_codec_status_t rw_codec_decode(rw_codec_t *codec, rw_record_type_t expect,
                                  const void *buf, size_t len,
                                  rw_record_t *out,
                                  char *errstr, size_t errstr_size);

/* Decode a record this codec encoded (rw_codec_encode()): its body is
 * read with the reader schema of `expect`, whatever id its frame carries, so
 * no registry is asked (an outbox's alerts framed with a registry's id, or
 * with another id than the current one, decode while the registry is away).
 * Never for records from elsewhere. Same results as rw_codec_decode(). */
rw_codec_status_t rw_codec_decode_own(rw_codec_t *codec, rw_record_type_t expect,
                                      const void *buf, size_t len,
                                      rw_record_t *out,
                                      char *errstr, size_t errstr_size);

/* Encode rec (rec->type selects the reader schema; the frame carries that
 * schema's catalogue id). On success *bufp is malloc()ed (caller frees with
 * free(), or hands it to librdkafka with RD_KAFKA_MSG_F_FREE). */
rw_err_t rw_codec_encode(rw_codec_t *codec, const rw_record_t *rec,
                         void **bufp, size_t *lenp,
                         char *errstr, size_t errstr_size);

/* The bounds of validation beyond the schema (validate.*, future.margin). */
typedef struct rw_validate_limits_s {
        int64_t max_future_ms;  /* occurred_at <= now + this */
        int64_t occurred_min;   /* occurred_at >= this (ms since the epoch) */
        int64_t amount_max;     /* 0 <= amount_minor <= this */
        size_t id_max_bytes;    /* every id and string field, 1..this bytes */
} rw_validate_limits_t;

/* The defaults of the property table (for tools and tests). */
#define RW_VALIDATE_LIMITS_DEFAULT \
        ((rw_validate_limits_t){ .max_future_ms = 3600000, \
                                 .occurred_min = 946684800000LL, \
                                 .amount_max = 1000000000000LL, .id_max_bytes = 256 })

/* The limits as configured in conf. */
void rw_validate_limits_conf(rw_validate_limits_t *lim, const rw_conf_t *conf);

/* A support event's sentiment as the state sums it: rounded to four
 * decimals (half to even), the double nearest that decimal. What
 * strtod(snprintf("%.4f", s)) gives, without either: s * 10000 is exact in
 * a double (a float's 24 bits times 625's 10), so nearbyint() rounds the
 * exact value as printf does, and the division rounds to the nearest
 * double as strtod does. */
double rw_sentiment_round(float s);

/* Validate a decoded order or support event against the contract, before
 * anything of it reaches state: ids non-empty and at most id_max_bytes
 * (product_line too, when set), amount_minor in 0..amount_max, currency
 * three capital letters, csat in 1..5, sentiment in -1..1, occurred_at in
 * occurred_min..now_ms + max_future_ms. now_ms is the time the record is
 * judged at (rw_kafka_record_now()), named `now_what` in the message ("its
 * timestamp", "now").
 * Returns RW_CODEC_OK or RW_CODEC_INVALID_FIELD with a message naming the field. */
rw_codec_status_t rw_record_validate(const rw_record_t *rec, int64_t now_ms,
                                     const char *now_what,
                                     const rw_validate_limits_t *lim,
                                     char *errstr, size_t errstr_size);

/* rw_record_print_json() flags. */
#define RW_JSON_TIME_RFC3339 1u /* timestamp-millis fields as RFC 3339 strings,
                                 * not milliseconds since the epoch */

/* Print rec as one JSON object (no newline). */
void rw_record_print_json(const rw_record_t *rec, FILE *fp, unsigned flags);

/* Add a writer schema (JSON text, e.g. fetched from a schema registry) under
 * `id`, parsed once and resolved to its reader like a catalogue entry. A
 * schema that cannot be resolved is still added: decoding it yields
 * RW_CODEC_UNKNOWN_SCHEMA with the reason. Fails with RW_ERR_FAIL and errstr
 * on bad JSON, a record riskwatch does not read, or an id already known. */
rw_err_t rw_codec_add_schema(rw_codec_t *codec, int32_t id,
                             const char *json, size_t len,
                             char *errstr, size_t errstr_size);

/* 1 if `id` names a schema the codec knows, else 0. */
int rw_codec_has_schema(const rw_codec_t *codec, int32_t id);

/* The catalogue id of the reader schema for `type`: the id rw_codec_encode()
 * puts in the frame unless rw_codec_set_writer_id() changed it. */
int32_t rw_codec_reader_id(const rw_codec_t *codec, rw_record_type_t type);

typedef struct rw_registry_s rw_registry_t;

/* Resolve schema ids through a schema registry (schemas/registry.h), as the
 * contract says once one is configured: the catalogue's ids leave the id
 * lookup (its reader schemas stay the readers), and every frame id is
 * fetched from the registry once and cached. `reg` is borrowed and must
 * outlive the codec's use of it. An id the registry definitely has no usable
 * schema for is remembered and decodes as RW_CODEC_UNKNOWN_SCHEMA; when the
 * registry gives no answer (unreachable, timeout, 5xx) rw_codec_decode()
 * returns RW_CODEC_RETRY and the next decode of that id asks again. */
void rw_codec_set_registry(rw_codec_t *codec, rw_registry_t *reg);

/* Frame records of `type` with `id` (e.g. the id a registry assigned to the
 * reader schema) instead of the catalogue id. */
void rw_codec_set_writer_id(rw_codec_t *codec, rw_record_type_t type, int32_t id);

/* The reader schema of `type` as its file's text (what a registry is given);
 * owned by the codec. */
const char *rw_codec_reader_json(const rw_codec_t *codec, rw_record_type_t type);

/* The record type (rw_record_type_t) of the schema registered under `id`,
 * or -1 if the codec does not know `id`. Lets a reader that does not know
 * what a topic carries pick the type from the frame's schema id. */
int rw_codec_schema_type(const rw_codec_t *codec, int32_t id);

#endif
