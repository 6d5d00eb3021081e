/* codec.c - Confluent-framed Avro: catalogue, checked decode by resolution, encode. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <avro.h>
#include "schemas/codec.h"
#include "common/json.h"
#include "common/log.h"
#include "schemas/codec_int.h"
#include "schemas/registry.h"

#define RW_FRAME_HDR    5               /* magic + 4-byte schema id */
#define RW_MAX_FIELDS   24              /* most fields in a riskwatch record */
#define RW_MAX_DEPTH    32              /* nesting a writer schema may use */
#define RW_SCHEMA_MAX   (1024 * 1024)   /* largest schema file accepted */
#define RW_MSG_SIZE     256

/*
 * The records the code is built for. Each reader schema in the catalogue is
 * checked against these tables at start-up, and decode, encode and JSON
 * printing are driven by them, so the C structs and the .avsc files cannot
 * drift apart silently.
 */

typedef enum rw_ftype_e {
        RW_F_STRING, RW_F_LONG, RW_F_INT, RW_F_DOUBLE, RW_F_FLOAT, RW_F_BOOL,
        RW_F_ENUM,
} rw_ftype_t;

typedef struct rw_field_s {
        const char *name;
        rw_ftype_t type;
        int optional;                   /* ["null", type], default null */
        size_t off;                     /* offset of the value in the struct */
        size_t has_off;                 /* optional non-string: its has_* flag */
        const char *enum_name;          /* RW_F_ENUM: Avro name and symbols */
        const char *const *syms;
        int nsyms;
        int time_ms;                    /* long, logicalType timestamp-millis */
} rw_field_t;

typedef struct rw_rtype_s {
        const char *name;               /* "OrderEvent" */
        const char *fullname;           /* "riskwatch.OrderEvent" */
        const rw_field_t *fields;
        int nfields;
} rw_rtype_t;

static const char *const rw_order_kind_syms[] = { "PLACED", "CANCELLED", "REFUNDED" };
static const char *const rw_support_kind_syms[] = {
        "OPENED", "ESCALATED", "REOPENED", "RESOLVED", "SURVEY" };
static const char *const rw_ticket_severity_syms[] = { "LOW", "NORMAL", "HIGH", "URGENT" };
static const char *const rw_category_syms[] = { "CHURN", "DEPENDENCY" };
static const char *const rw_subject_type_syms[] = { "ACCOUNT", "VENDOR", "PORTFOLIO" };
static const char *const rw_alert_status_syms[] = { "FIRING", "RESOLVED" };
static const char *const rw_alert_severity_syms[] = { "INFO", "WARNING", "CRITICAL" };

#define RW_F(st, f, t) { #f, t, 0, offsetof(st, f), 0, NULL, NULL, 0, 0 }
#define RW_FOPT(st, f, has, t) { #f, t, 1, offsetof(st, f), offsetof(st, has), NULL, NULL, 0, 0 }
#define RW_FTIME(st, f) { #f, RW_F_LONG, 0, offsetof(st, f), 0, NULL, NULL, 0, 1 }
#define RW_FOPTSTR(st, f) { #f, RW_F_STRING, 1, offsetof(st, f), 0, NULL, NULL, 0, 0 }
#define RW_FENUM(st, f, ename, syms) \
        { #f, RW_F_ENUM, 0, offsetof(st, f), 0, ename, syms, (int)RW_ARRAY_SIZE(syms), 0 }

static const rw_field_t rw_order_fields[] = {
        RW_F(rw_order_event_t, event_id, RW_F_STRING),
        RW_F(rw_order_event_t, account_id, RW_F_STRING),
        RW_F(rw_order_event_t, vendor_id, RW_F_STRING),
        RW_FOPTSTR(rw_order_event_t, product_line),
        RW_FENUM(rw_order_event_t, kind, "OrderKind", rw_order_kind_syms),
        RW_F(rw_order_event_t, amount_minor, RW_F_LONG),
        RW_F(rw_order_event_t, currency, RW_F_STRING),
        RW_FTIME(rw_order_event_t, occurred_at),
};

static const rw_field_t rw_support_fields[] = {
        RW_F(rw_support_event_t, event_id, RW_F_STRING),
        RW_F(rw_support_event_t, account_id, RW_F_STRING),
        RW_F(rw_support_event_t, ticket_id, RW_F_STRING),
        RW_FENUM(rw_support_event_t, kind, "SupportKind", rw_support_kind_syms),
        RW_FENUM(rw_support_event_t, severity, "TicketSeverity", rw_ticket_severity_syms),
        RW_FOPT(rw_support_event_t, csat, has_csat, RW_F_INT),
        RW_FOPT(rw_support_event_t, sentiment, has_sentiment, RW_F_FLOAT),
        RW_FTIME(rw_support_event_t, occurred_at),
};

static const rw_field_t rw_alert_fields[] = {
        RW_F(rw_alert_t, alert_id, RW_F_STRING),
        RW_F(rw_alert_t, fingerprint, RW_F_STRING),
        RW_F(rw_alert_t, rule, RW_F_STRING),
        RW_FENUM(rw_alert_t, category, "RiskCategory", rw_category_syms),
        RW_FENUM(rw_alert_t, subject_type, "SubjectType", rw_subject_type_syms),
        RW_F(rw_alert_t, subject_id, RW_F_STRING),
        RW_FENUM(rw_alert_t, status, "AlertStatus", rw_alert_status_syms),
        RW_FENUM(rw_alert_t, severity, "AlertSeverity", rw_alert_severity_syms),
        RW_F(rw_alert_t, observed, RW_F_DOUBLE),
        RW_F(rw_alert_t, threshold, RW_F_DOUBLE),
        RW_FOPT(rw_alert_t, baseline, has_baseline, RW_F_DOUBLE),
        RW_F(rw_alert_t, window_ms, RW_F_LONG),
        RW_FTIME(rw_alert_t, event_time),
        RW_FTIME(rw_alert_t, emitted_at),
        RW_F(rw_alert_t, source_topic, RW_F_STRING),
        RW_F(rw_alert_t, source_partition, RW_F_INT),
        RW_F(rw_alert_t, source_offset, RW_F_LONG),
        RW_F(rw_alert_t, summary, RW_F_STRING),
        RW_F(rw_alert_t, replay, RW_F_BOOL),
};

static const rw_rtype_t rw_rtypes[RW_REC__CNT] = {
        [RW_REC_ORDER] = { "OrderEvent", "riskwatch.OrderEvent",
                           rw_order_fields, (int)RW_ARRAY_SIZE(rw_order_fields) },
        [RW_REC_SUPPORT] = { "SupportEvent", "riskwatch.SupportEvent",
                             rw_support_fields, (int)RW_ARRAY_SIZE(rw_support_fields) },
        [RW_REC_ALERT] = { "RiskAlert", "riskwatch.RiskAlert",
                           rw_alert_fields, (int)RW_ARRAY_SIZE(rw_alert_fields) },
};

/* Enum members are written through an int. */
_Static_assert(sizeof(rw_order_kind_t) == sizeof(int), "enum size");
_Static_assert(sizeof(rw_alert_severity_t) == sizeof(int), "enum size");
_Static_assert(RW_ARRAY_SIZE(rw_alert_fields) <= RW_MAX_FIELDS, "RW_MAX_FIELDS");

/*
 * A writer schema compiled for the bounds check that runs before avro-c sees
 * a body. avro-c 1.11.1 allocates a string's declared length before reading
 * it (a 5-byte frame can ask for gigabytes), stores enum indexes without a
 * range check, does not bound array block counts and ignores bytes after the
 * record, so every length, index and count is checked here against the bytes
 * actually present, and the record must end exactly at the buffer's end.
 */
typedef struct rw_wnode_s rw_wnode_t;
struct rw_wnode_s {
        avro_type_t type;
        avro_schema_t schema;           /* borrowed from the writer schema */
        size_t n;                       /* fields, branches, symbols, fixed size */
        rw_wnode_t **kids;              /* fields, branches, or items/values */
        const char **names;             /* record field names */
        rw_wnode_t *next;               /* every node of a writer, for freeing */
};

/* One schema id: its writer schema and, built once, its resolution to the
 * reader of its record type. */
typedef struct rw_writer_s {
        int32_t id;
        char *source;                   /* "catalogue.txt:4 (OrderEvent.avsc)" */
        avro_schema_t schema;
        rw_record_type_t rtype;
        int line;                       /* catalogue line, 0 when added later */
        int is_reader;
        rw_wnode_t *root;
        rw_wnode_t *nodes;
        char *unresolvable;             /* why decoding it is refused; NULL if ok */
        avro_schema_t eff;              /* the reader minus fields the writer lacks */
        avro_value_iface_t *resolver;
        avro_value_iface_t *gclass;
        avro_value_t gvalue;            /* reader-side value; decoded strings live here */
        avro_value_t rvalue;            /* resolved-writer value wrapping gvalue */
        int eidx[RW_MAX_FIELDS];        /* reader field -> index in eff, -1 = absent */
        int *emap[RW_MAX_FIELDS];       /* enum: writer symbol -> reader symbol or -1 */
        int emap_n[RW_MAX_FIELDS];
        avro_schema_t wenum[RW_MAX_FIELDS]; /* enum: the writer's enum schema */
        struct rw_step_s *plan;         /* direct decode, one step per writer field;
                                         * NULL: avro-c's resolved writer only */
        size_t nplan;
} rw_writer_t;

/* One writer field on the direct path: skipped (rf < 0) or stored as reader
 * field rf, whose type it has exactly (["null", T] for an optional one). */
typedef struct rw_step_s {
        const rw_wnode_t *node;
        int rf;
} rw_step_t;

struct rw_codec_s {
        rw_writer_t **writers;          /* sorted by id */
        size_t cnt;
        size_t size;
        rw_writer_t *readers[RW_REC__CNT];
        avro_reader_t reader;
        avro_writer_t writer;
        avro_value_iface_t *enc_class[RW_REC__CNT];
        avro_value_t enc_value[RW_REC__CNT];
        int32_t enc_id[RW_REC__CNT];    /* the id rw_codec_encode() frames with */
        char *reader_json[RW_REC__CNT]; /* the reader schemas' text, as in their files */
        rw_registry_t *registry;        /* borrowed; NULL: the catalogue only */
        rw_writer_t **hidden;           /* catalogue entries out of the id lookup
                                         * while a registry is authoritative */
        size_t hidden_cnt;
        struct rw_rejected_s {          /* ids the registry has no usable schema for */
                uint32_t id;
                char *why;
        } *rejected;
        size_t rejected_cnt, rejected_size;
        int direct;                     /* decode along writers' plans when they have one */
        uint64_t direct_decodes;        /* records decoded that way (tests) */
        char *strings;                  /* direct path: the last record's strings */
        size_t strings_size;
};

/*
 * Names.
 */

static const char *rw_sym(const char *const *syms, int n, int i) {
        return i >= 0 && i < n ? syms[i] : "UNKNOWN";
}

const char *rw_order_kind_name(rw_order_kind_t k) {
        return rw_sym(rw_order_kind_syms, (int)RW_ARRAY_SIZE(rw_order_kind_syms), (int)k);
}
const char *rw_support_kind_name(rw_support_kind_t k) {
        return rw_sym(rw_support_kind_syms, (int)RW_ARRAY_SIZE(rw_support_kind_syms), (int)k);
}
const char *rw_ticket_severity_name(rw_ticket_severity_t s) {
        return rw_sym(rw_ticket_severity_syms, (int)RW_ARRAY_SIZE(rw_ticket_severity_syms),
                      (int)s);
}
const char *rw_category_name(rw_category_t c) {
        return rw_sym(rw_category_syms, (int)RW_ARRAY_SIZE(rw_category_syms), (int)c);
}
const char *rw_subject_type_name(rw_subject_type_t s) {
        return rw_sym(rw_subject_type_syms, (int)RW_ARRAY_SIZE(rw_subject_type_syms), (int)s);
}
const char *rw_alert_status_name(rw_alert_status_t s) {
        return rw_sym(rw_alert_status_syms, (int)RW_ARRAY_SIZE(rw_alert_status_syms), (int)s);
}
const char *rw_alert_severity_name(rw_alert_severity_t s) {
        return rw_sym(rw_alert_severity_syms, (int)RW_ARRAY_SIZE(rw_alert_severity_syms),
                      (int)s);
}

const char *rw_codec_reason(rw_codec_status_t status) {
        switch (status) {
        case RW_CODEC_OK:             return "ok";
        case RW_CODEC_TOO_SHORT:      return "too_short";
        case RW_CODEC_BAD_MAGIC:      return "bad_magic";
        case RW_CODEC_UNKNOWN_SCHEMA: return "unknown_schema";
        case RW_CODEC_AVRO_DECODE:    return "avro_decode";
        case RW_CODEC_INVALID_FIELD:  return "invalid_field";
        case RW_CODEC_RETRY:          return "retry";
        }
        return "unknown";
}

static void rw_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void rw_errf(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;

        if (!errstr || !errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

/* avro-c error messages can span lines; DLQ headers and logs want one. */
static const char *rw_avro_err(char *buf, size_t size) {
        snprintf(buf, size, "%s", avro_strerror());
        for (char *p = buf; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        return buf;
}

static avro_schema_t rw_skip_links(avro_schema_t s) {
        while (s && is_avro_link(s))
                s = avro_schema_link_target(s);
        return s;
}

/*
 * Writer schema compilation and the bounds check.
 */

static void rw_wnodes_free(rw_wnode_t *n) {
        while (n) {
                rw_wnode_t *next = n->next;
                free(n->kids);
                free(n->names);
                free(n);
                n = next;
        }
}

static rw_wnode_t *rw_wnode_compile(rw_writer_t *w, avro_schema_t s, int depth) {
        rw_wnode_t *n;
        size_t i;

        s = rw_skip_links(s);
        for (n = w->nodes; n; n = n->next)
                if (n->schema == s)
                        return n;               /* shared or recursive type */
        if (depth > RW_MAX_DEPTH)
                return NULL;
        if (!(n = calloc(1, sizeof(*n))))
                return NULL;
        n->type = avro_typeof(s);
        n->schema = s;
        n->next = w->nodes;
        w->nodes = n;

        switch (n->type) {
        case AVRO_RECORD:
                n->n = avro_schema_record_size(s);
                break;
        case AVRO_UNION:
                n->n = avro_schema_union_size(s);
                break;
        case AVRO_ENUM:
                n->n = (size_t)avro_schema_enum_number_of_symbols(s);
                return n;
        case AVRO_FIXED:
                n->n = (size_t)avro_schema_fixed_size(s);
                return n;
        case AVRO_ARRAY:
        case AVRO_MAP:
                n->n = 1;
                break;
        default:
                return n;
        }

        if (!(n->kids = calloc(n->n ? n->n : 1, sizeof(*n->kids))))
                return NULL;
        if (n->type == AVRO_RECORD && !(n->names = calloc(n->n ? n->n : 1, sizeof(*n->names))))
                return NULL;
        for (i = 0; i < n->n; i++) {
                avro_schema_t k;

                if (n->type == AVRO_RECORD) {
                        k = avro_schema_record_field_get_by_index(s, (int)i);
                        n->names[i] = avro_schema_record_field_name(s, (int)i);
                } else if (n->type == AVRO_UNION) {
                        k = avro_schema_union_branch(s, (int)i);
                } else if (n->type == AVRO_ARRAY) {
                        k = avro_schema_array_items(s);
                } else {
                        k = avro_schema_map_values(s);
                }
                if (!(n->kids[i] = rw_wnode_compile(w, k, depth + 1)))
                        return NULL;
        }
        return n;
}

typedef struct rw_cursor_s {
        const unsigned char *start, *p, *end;
        int depth;
        size_t items_left;              /* array/map items the buffer can justify */
        const char *field;              /* innermost record field at the failure */
        size_t at;                      /* byte offset of the failure in the body */
        char msg[160];
} rw_cursor_t;

static int rw_fail(rw_cursor_t *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static int rw_fail(rw_cursor_t *c, const char *fmt, ...) {
        va_list ap;

        c->at = (size_t)(c->p - c->start);
        va_start(ap, fmt);
        vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
        va_end(ap);
        return -1;
}

static int rw_need(rw_cursor_t *c, size_t n, const char *what) {
        if ((size_t)(c->end - c->p) < n)
                return rw_fail(c, "%s needs %zu bytes, %zu left", what, n,
                               (size_t)(c->end - c->p));
        return 0;
}

/* Zig-zag varint, at most 10 bytes, as avro-c reads it. */
static inline int rw_varint(rw_cursor_t *c, int64_t *v, const char *what) {
        uint64_t u = 0;
        int i;

        if (c->p < c->end && *c->p < 0x80) {    /* one byte: the common case */
                u = *c->p++;
                *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
                return 0;
        }

        for (i = 0; i < 10; i++) {
                unsigned b;

                if (c->p == c->end)
                        return rw_fail(c, "%s: truncated varint", what);
                b = *c->p++;
                if (i == 9 && b > 1)
                        return rw_fail(c, "%s: varint overflows 64 bits", what);
                u |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
                        return 0;
                }
        }
        return rw_fail(c, "%s: varint longer than 10 bytes", what);
}

/* Strict UTF-8 (no overlongs, surrogates or NUL: strings are handed out as
 * C strings). */
static int rw_utf8_ok(const unsigned char *s, size_t n) {
        const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
        size_t i = 0;

        while (i < n) {
                unsigned c, cp, min;
                size_t k, j;

                /* Eight ASCII bytes at a time: no high bit and no zero byte. */
                while (n - i >= 8) {
                        uint64_t v;

                        memcpy(&v, s + i, 8);
                        if ((v & highs) || ((v - ones) & ~v & highs))
                                break;
                        i += 8;
                }
                if (i == n)
                        break;
                c = s[i];

                if (c < 0x80) {
                        if (!c)
                                return 0;
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        k = 1; cp = c & 0x1f; min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        k = 2; cp = c & 0x0f; min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        k = 3; cp = c & 0x07; min = 0x10000;
                } else {
                        return 0;
                }
                if (n - i <= k)
                        return 0;
                for (j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                i += k + 1;
        }
        return 1;
}

static int rw_walk(rw_cursor_t *c, const rw_wnode_t *n);

static int rw_walk_blocks(rw_cursor_t *c, const rw_wnode_t *n) {
        const char *what = n->type == AVRO_MAP ? "map block count" : "array block count";
        int64_t count, bytes;

        for (;;) {
                if (rw_varint(c, &count, what))
                        return -1;
                if (count == 0)
                        return 0;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return rw_fail(c, "%s out of range", what);
                        count = -count;
                        if (rw_varint(c, &bytes, "block size"))
                                return -1;
                        if (bytes < 0)
                                return rw_fail(c, "negative block size %" PRId64, bytes);
                }
                /* Items can be zero bytes long (null); without this bound a
                 * 3-byte body could make avro-c append billions of them. */
                if ((uint64_t)count > c->items_left)
                        return rw_fail(c, "%s %" PRId64 " exceeds what %zu bytes can hold",
                                       what, count, (size_t)(c->end - c->start));
                c->items_left -= (size_t)count;
                while (count-- > 0) {
                        if (n->type == AVRO_MAP) {
                                static const rw_wnode_t key = { .type = AVRO_STRING };

                                if (rw_walk(c, &key))
                                        return -1;
                        }
                        if (rw_walk(c, n->kids[0]))
                                return -1;
                }
        }
}

static int rw_walk(rw_cursor_t *c, const rw_wnode_t *n) {
        int64_t v = 0;
        size_t i;
        int r = 0;

        switch (n->type) {
        case AVRO_NULL:
                return 0;
        case AVRO_BOOLEAN:
                if (rw_need(c, 1, "boolean"))
                        return -1;
                if (*c->p > 1)
                        return rw_fail(c, "boolean byte 0x%02x", *c->p);
                c->p++;
                return 0;
        case AVRO_INT32:
                if (rw_varint(c, &v, "int"))
                        return -1;
                if (v < INT32_MIN || v > INT32_MAX)
                        return rw_fail(c, "int %" PRId64 " out of range", v);
                return 0;
        case AVRO_INT64:
                return rw_varint(c, &v, "long");
        case AVRO_FLOAT:
                if (rw_need(c, 4, "float"))
                        return -1;
                c->p += 4;
                return 0;
        case AVRO_DOUBLE:
                if (rw_need(c, 8, "double"))
                        return -1;
                c->p += 8;
                return 0;
        case AVRO_STRING:
        case AVRO_BYTES:
                if (rw_varint(c, &v, "length"))
                        return -1;
                if (v < 0)
                        return rw_fail(c, "negative length %" PRId64, v);
                if ((uint64_t)v > (uint64_t)(c->end - c->p))
                        return rw_fail(c, "length %" PRId64 " exceeds the %zu bytes left",
                                       v, (size_t)(c->end - c->p));
                if (n->type == AVRO_STRING && !rw_utf8_ok(c->p, (size_t)v))
                        return rw_fail(c, "string is not UTF-8 without NUL");
                c->p += v;
                return 0;
        case AVRO_FIXED:
                if (rw_need(c, n->n, "fixed"))
                        return -1;
                c->p += n->n;
                return 0;
        case AVRO_ENUM:
                if (rw_varint(c, &v, "enum index"))
                        return -1;
                if (v < 0 || (uint64_t)v >= n->n)
                        return rw_fail(c, "enum index %" PRId64 " out of range 0..%zu",
                                       v, n->n - 1);
                return 0;
        default:
                break;
        }

        if (++c->depth > RW_MAX_DEPTH)
                return rw_fail(c, "nested deeper than %d", RW_MAX_DEPTH);
        switch (n->type) {
        case AVRO_UNION:
                if (rw_varint(c, &v, "union branch")) {
                        r = -1;
                } else if (v < 0 || (uint64_t)v >= n->n) {
                        r = rw_fail(c, "union branch %" PRId64 " out of range 0..%zu",
                                    v, n->n - 1);
                } else {
                        r = rw_walk(c, n->kids[v]);
                }
                break;
        case AVRO_RECORD:
                for (i = 0; i < n->n && !r; i++) {
                        r = rw_walk(c, n->kids[i]);
                        if (r && !c->field)
                                c->field = n->names[i];
                }
                break;
        case AVRO_ARRAY:
        case AVRO_MAP:
                r = rw_walk_blocks(c, n);
                break;
        default:
                r = rw_fail(c, "unsupported Avro type %d", (int)n->type);
                break;
        }
        c->depth--;
        return r;
}

/*
 * Catalogue entries and their resolution.
 */

static void rw_writer_destroy(rw_writer_t *w) {
        int i;

        if (!w)
                return;
        if (w->rvalue.self)
                avro_value_decref(&w->rvalue);
        if (w->gvalue.self)
                avro_value_decref(&w->gvalue);
        if (w->resolver)
                avro_value_iface_decref(w->resolver);
        if (w->gclass)
                avro_value_iface_decref(w->gclass);
        if (w->eff)
                avro_schema_decref(w->eff);
        for (i = 0; i < RW_MAX_FIELDS; i++)
                free(w->emap[i]);
        free(w->plan);
        free(w->unresolvable);
        rw_wnodes_free(w->nodes);
        if (w->schema)
                avro_schema_decref(w->schema);
        free(w->source);
        free(w);
}

static rw_writer_t *rw_codec_find(const rw_codec_t *codec, uint32_t id) {
        size_t lo = 0, hi = codec->cnt;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                uint32_t mid_id = (uint32_t)codec->writers[mid]->id;

                if (mid_id == id)
                        return codec->writers[mid];
                if (mid_id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Parse a schema and identify its record type. Returns NULL and fills
 * errstr ("what: reason"). The caller owns the writer. */
static rw_writer_t *rw_writer_new(int32_t id, const char *json, size_t len,
                                  const char *source, char *errstr, size_t errstr_size) {
        rw_writer_t *w, *ret = NULL;
        const char *ns;
        char full[512], aerr[RW_MSG_SIZE];
        int t;

        if (!(w = calloc(1, sizeof(*w))) || !(w->source = strdup(source))) {
                rw_errf(errstr, errstr_size, "%s: out of memory", source);
                goto done;
        }
        w->id = id;
        if (avro_schema_from_json_length(json, len, &w->schema)) {
                w->schema = NULL;
                rw_errf(errstr, errstr_size, "%s: %s", source,
                        rw_avro_err(aerr, sizeof(aerr)));
                goto done;
        }
        if (!is_avro_record(w->schema)) {
                rw_errf(errstr, errstr_size, "%s: top-level type is not a record", source);
                goto done;
        }
        ns = avro_schema_namespace(w->schema);
        snprintf(full, sizeof(full), "%s%s%s", ns ? ns : "", ns && *ns ? "." : "",
                 avro_schema_name(w->schema));
        for (t = 0; t < RW_REC__CNT; t++)
                if (!strcmp(full, rw_rtypes[t].fullname))
                        break;
        if (t == RW_REC__CNT) {
                rw_errf(errstr, errstr_size,
                        "%s: record %s is not one riskwatch reads (%s, %s, %s)", source, full,
                        rw_rtypes[0].fullname, rw_rtypes[1].fullname, rw_rtypes[2].fullname);
                goto done;
        }
        w->rtype = (rw_record_type_t)t;
        if (!(w->root = rw_wnode_compile(w, w->schema, 0))) {
                rw_errf(errstr, errstr_size, "%s: schema nested deeper than %d or out of memory",
                        source, RW_MAX_DEPTH);
                goto done;
        }
        ret = w;
        w = NULL;
done:
        rw_writer_destroy(w);
        return ret;
}

static int rw_schema_is(avro_schema_t s, rw_ftype_t t) {
        switch (t) {
        case RW_F_STRING: return is_avro_string(s);
        case RW_F_LONG:   return is_avro_int64(s);
        case RW_F_INT:    return is_avro_int32(s);
        case RW_F_DOUBLE: return is_avro_double(s);
        case RW_F_FLOAT:  return is_avro_float(s);
        case RW_F_BOOL:   return is_avro_boolean(s);
        case RW_F_ENUM:   return is_avro_enum(s);
        }
        return 0;
}

static const char *rw_ftype_name(rw_ftype_t t) {
        static const char *names[] = { "string", "long", "int", "double", "float",
                                       "boolean", "enum" };
        return names[t];
}

/* "string", "[\"null\", int]", "enum OrderKind {PLACED, ...}" */
static const char *rw_field_desc(const rw_field_t *f, char *buf, size_t size) {
        size_t of;
        int k;

        of = (size_t)snprintf(buf, size, "%s%s", f->optional ? "[\"null\", " : "",
                              rw_ftype_name(f->type));
        if (f->type == RW_F_ENUM) {
                of += (size_t)snprintf(buf + of, of < size ? size - of : 0, " %s {",
                                       f->enum_name);
                for (k = 0; k < f->nsyms; k++)
                        of += (size_t)snprintf(buf + of, of < size ? size - of : 0, "%s%s",
                                               k ? ", " : "", f->syms[k]);
                of += (size_t)snprintf(buf + of, of < size ? size - of : 0, "}");
        }
        if (f->optional)
                snprintf(buf + of, of < size ? size - of : 0, "]");
        return buf;
}

/* Check a reader schema against the record the code is built for. */
static rw_err_t rw_reader_check(const rw_writer_t *r, char *errstr, size_t errstr_size) {
        const rw_rtype_t *rt = &rw_rtypes[r->rtype];
        char desc[RW_MSG_SIZE];
        int i, k;

        if ((int)avro_schema_record_size(r->schema) != rt->nfields) {
                rw_errf(errstr, errstr_size, "%s: reader %s has %d fields, riskwatch needs %d",
                        r->source, rt->fullname, (int)avro_schema_record_size(r->schema),
                        rt->nfields);
                return RW_ERR_CONFIG;
        }
        for (i = 0; i < rt->nfields; i++) {
                const rw_field_t *f = &rt->fields[i];
                const char *name = avro_schema_record_field_name(r->schema, i);
                avro_schema_t s =
                        rw_skip_links(avro_schema_record_field_get_by_index(r->schema, i));
                int ok = 1;

                if (strcmp(name, f->name)) {
                        rw_errf(errstr, errstr_size, "%s: reader field %d is %s, expected %s",
                                r->source, i, name, f->name);
                        return RW_ERR_CONFIG;
                }
                if (f->optional) {
                        ok = is_avro_union(s) && avro_schema_union_size(s) == 2 &&
                             is_avro_null(rw_skip_links(avro_schema_union_branch(s, 0)));
                        if (ok)
                                s = rw_skip_links(avro_schema_union_branch(s, 1));
                }
                ok = ok && rw_schema_is(s, f->type);
                if (ok && f->type == RW_F_ENUM) {
                        ok = !strcmp(avro_schema_name(s), f->enum_name) &&
                             avro_schema_enum_number_of_symbols(s) == f->nsyms;
                        for (k = 0; ok && k < f->nsyms; k++)
                                ok = !strcmp(avro_schema_enum_get(s, k), f->syms[k]);
                }
                if (!ok) {
                        rw_errf(errstr, errstr_size, "%s: reader field %s must be %s, "
                                "as in the contract", r->source, f->name,
                                rw_field_desc(f, desc, sizeof(desc)));
                        return RW_ERR_CONFIG;
                }
        }
        return RW_OK;
}

/* Mark w as not resolvable to its reader, saying why. */
static rw_err_t rw_unresolvable(rw_writer_t *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static rw_err_t rw_unresolvable(rw_writer_t *w, const char *fmt, ...) {
        char buf[RW_MSG_SIZE];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        free(w->unresolvable);
        w->unresolvable = strdup(buf);
        return w->unresolvable ? RW_OK : RW_ERR_NOMEM;
}

static int rw_wnode_is(const rw_wnode_t *n, rw_ftype_t t) {
        switch (t) {
        case RW_F_STRING: return n->type == AVRO_STRING;
        case RW_F_LONG:   return n->type == AVRO_INT64;
        case RW_F_INT:    return n->type == AVRO_INT32;
        case RW_F_DOUBLE: return n->type == AVRO_DOUBLE;
        case RW_F_FLOAT:  return n->type == AVRO_FLOAT;
        case RW_F_BOOL:   return n->type == AVRO_BOOLEAN;
        case RW_F_ENUM:   return n->type == AVRO_ENUM;
        }
        return 0;
}

/* Build w's direct-decode plan when resolving it to the reader is a plain
 * field mapping: every field the reader shares with the writer has exactly
 * the reader's type (the same enum name, ["null", T] for ["null", T]), so no
 * promotion or union re-branching is involved. Fields only the writer has
 * are skipped; fields only the reader has keep their default (null). Other
 * writers get no plan and always take avro-c's resolved writer. Called once
 * w is resolvable. */
static rw_err_t rw_writer_plan(rw_writer_t *w) {
        const rw_rtype_t *rt = &rw_rtypes[w->rtype];
        const rw_wnode_t *root = w->root;
        rw_step_t *plan;
        size_t k;
        int i;

        if (!(plan = calloc(root->n ? root->n : 1, sizeof(*plan))))
                return RW_ERR_NOMEM;
        for (k = 0; k < root->n; k++) {
                const rw_wnode_t *n = root->kids[k];

                plan[k].node = n;
                plan[k].rf = -1;
                for (i = 0; i < rt->nfields; i++)
                        if (!strcmp(root->names[k], rt->fields[i].name))
                                break;
                if (i == rt->nfields)
                        continue;
                if (rt->fields[i].optional) {
                        if (n->type != AVRO_UNION || n->n != 2 ||
                            n->kids[0]->type != AVRO_NULL)
                                goto plain_mapping_only;
                        n = n->kids[1];
                }
                if (!rw_wnode_is(n, rt->fields[i].type) ||
                    (rt->fields[i].type == RW_F_ENUM && !w->emap[i]))
                        goto plain_mapping_only;
                plan[k].rf = i;
        }
        w->plan = plan;
        w->nplan = root->n;
        return RW_OK;

plain_mapping_only:
        free(plan);
        return RW_OK;
}

/* Build w's resolution to the reader r, once. avro-c 1.11.1's resolver
 * refuses a reader field the writer lacks (it ignores defaults) and passes
 * enum indexes through by position, not by symbol; both are handled here:
 * the writer is resolved to the reader minus its absent fields (which
 * extraction then defaults), and enum indexes are mapped by name. Returns an
 * error only on out-of-memory; an incompatible writer is marked
 * unresolvable. */
static rw_err_t rw_writer_resolve(rw_writer_t *w, const rw_writer_t *r) {
        const rw_rtype_t *rt = &rw_rtypes[w->rtype];
        char aerr[RW_MSG_SIZE];
        int i, k, missing = 0, ei = 0;

        for (i = 0; i < rt->nfields; i++) {
                const rw_field_t *f = &rt->fields[i];
                int wi = avro_schema_record_field_get_index(w->schema, f->name);
                avro_schema_t ws, rs;

                if (wi < 0) {
                        /* The contract gives every optional field default null,
                         * and only those (avro-c drops "default" on parse). */
                        if (!f->optional)
                                return rw_unresolvable(w, "the writer lacks field %s, which "
                                                       "has no default in the reader",
                                                       f->name);
                        w->eidx[i] = -1;
                        missing++;
                        continue;
                }
                w->eidx[i] = ei++;
                if (f->type != RW_F_ENUM)
                        continue;
                ws = rw_skip_links(avro_schema_record_field_get_by_index(w->schema, wi));
                rs = rw_skip_links(avro_schema_record_field_get_by_index(r->schema, i));
                if (!is_avro_enum(ws) || strcmp(avro_schema_name(ws), avro_schema_name(rs)))
                        return rw_unresolvable(w, "field %s: the writer's type is not "
                                               "enum %s", f->name, f->enum_name);
                w->wenum[i] = ws;
                w->emap_n[i] = avro_schema_enum_number_of_symbols(ws);
                if (!(w->emap[i] = calloc((size_t)w->emap_n[i] + 1, sizeof(int))))
                        return RW_ERR_NOMEM;
                for (k = 0; k < w->emap_n[i]; k++) {
                        const char *sym = avro_schema_enum_get(ws, k);
                        int j;

                        w->emap[i][k] = -1;
                        for (j = 0; j < f->nsyms; j++)
                                if (!strcmp(sym, f->syms[j]))
                                        w->emap[i][k] = j;
                }
        }

        if (!missing) {
                w->eff = avro_schema_incref(r->schema);
        } else {
                if (!(w->eff = avro_schema_record(avro_schema_name(r->schema),
                                                  avro_schema_namespace(r->schema))))
                        return RW_ERR_NOMEM;
                for (i = 0; i < rt->nfields; i++) {
                        if (w->eidx[i] < 0)
                                continue;
                        if (avro_schema_record_field_append(
                                    w->eff, rt->fields[i].name,
                                    avro_schema_record_field_get_by_index(r->schema, i)))
                                return RW_ERR_NOMEM;
                }
        }

        if (!(w->resolver = avro_resolved_writer_new(w->schema, w->eff)))
                return rw_unresolvable(w, "%s", rw_avro_err(aerr, sizeof(aerr)));
        if (!(w->gclass = avro_generic_class_from_schema(w->eff)) ||
            avro_generic_value_new(w->gclass, &w->gvalue) ||
            avro_resolved_writer_new_value(w->resolver, &w->rvalue))
                return RW_ERR_NOMEM;
        avro_resolved_writer_set_dest(&w->rvalue, &w->gvalue);
        return rw_writer_plan(w);
}

/* Insert w (sorted by id). Takes ownership on success. */
static rw_err_t rw_codec_insert(rw_codec_t *codec, rw_writer_t *w) {
        size_t i;

        if (codec->cnt == codec->size) {
                size_t size = codec->size ? codec->size * 2 : 8;
                rw_writer_t **p = realloc(codec->writers, size * sizeof(*p));

                if (!p)
                        return RW_ERR_NOMEM;
                codec->writers = p;
                codec->size = size;
        }
        for (i = codec->cnt; i > 0 && codec->writers[i - 1]->id > w->id; i--)
                codec->writers[i] = codec->writers[i - 1];
        codec->writers[i] = w;
        codec->cnt++;
        return RW_OK;
}

static char *rw_read_file(const char *path, size_t *lenp, char *errstr, size_t errstr_size) {
        FILE *fp;
        struct stat st;
        char *buf = NULL, *ret = NULL;
        size_t len;

        if (!(fp = fopen(path, "rb")) || fstat(fileno(fp), &st)) {
                rw_errf(errstr, errstr_size, "%s", strerror(errno));
                goto done;
        }
        if (st.st_size > RW_SCHEMA_MAX) {
                rw_errf(errstr, errstr_size, "larger than %d bytes", RW_SCHEMA_MAX);
                goto done;
        }
        if (!(buf = malloc((size_t)st.st_size + 1))) {
                rw_errf(errstr, errstr_size, "out of memory");
                goto done;
        }
        len = fread(buf, 1, (size_t)st.st_size, fp);
        if (ferror(fp) || len != (size_t)st.st_size) {
                rw_errf(errstr, errstr_size, "short read");
                goto done;
        }
        buf[len] = '\0';
        *lenp = len;
        ret = buf;
        buf = NULL;
done:
        free(buf);
        if (fp)
                fclose(fp);
        return ret;
}

/* Parse one catalogue line (comment already stripped). Returns 0 for a
 * blank line, 1 for an entry, -1 on error. */
static int rw_catalogue_line(char *line, long *idp, char **filep, int *readerp,
                             char *errstr, size_t errstr_size) {
        char *save = NULL, *tok[4], *end;
        int n = 0;

        for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
                if (n == 3) {
                        rw_errf(errstr, errstr_size, "expected `ID FILE [reader]`, got more");
                        return -1;
                }
                tok[n++] = t;
        }
        if (n == 0)
                return 0;
        if (n < 2) {
                rw_errf(errstr, errstr_size, "expected `ID FILE [reader]`");
                return -1;
        }
        errno = 0;
        *idp = strtol(tok[0], &end, 10);
        if (errno || *end || end == tok[0] || *idp < 1 || *idp > INT32_MAX) {
                rw_errf(errstr, errstr_size, "schema id \"%s\" is not an integer in 1..%d",
                        tok[0], INT32_MAX);
                return -1;
        }
        *filep = tok[1];
        *readerp = 0;
        if (n == 3) {
                if (strcmp(tok[2], "reader")) {
                        rw_errf(errstr, errstr_size, "unknown flag \"%s\" (only \"reader\")",
                                tok[2]);
                        return -1;
                }
                *readerp = 1;
        }
        return 1;
}

static rw_err_t rw_codec_load(rw_codec_t *codec, const char *dir,
                              char *errstr, size_t errstr_size) {
        char *cpath = NULL, *spath = NULL, *json = NULL, *line = NULL, *src = NULL;
        char why[RW_MSG_SIZE];
        size_t cap = 0, jlen;
        FILE *fp = NULL;
        rw_writer_t *w = NULL;
        rw_err_t err = RW_ERR_CONFIG;
        int lineno = 0, t;
        size_t i;

        if (asprintf(&cpath, "%s/catalogue.txt", dir) < 0) {
                cpath = NULL;
                err = RW_ERR_NOMEM;
                goto done;
        }
        if (!(fp = fopen(cpath, "r"))) {
                rw_errf(errstr, errstr_size, "%s: %s", cpath, strerror(errno));
                goto done;
        }
        while (getline(&line, &cap, fp) != -1) {
                char *hash, *file;
                long id;
                int is_reader, r;
                rw_writer_t *dup;

                lineno++;
                if ((hash = strchr(line, '#')))
                        *hash = '\0';
                r = rw_catalogue_line(line, &id, &file, &is_reader, why, sizeof(why));
                if (r < 0) {
                        rw_errf(errstr, errstr_size, "%s:%d: %s", cpath, lineno, why);
                        goto done;
                }
                if (r == 0)
                        continue;
                if ((dup = rw_codec_find(codec, (uint32_t)id))) {
                        rw_errf(errstr, errstr_size, "%s:%d: schema id %ld already at line %d",
                                cpath, lineno, id, dup->line);
                        goto done;
                }
                free(spath);
                free(src);
                spath = src = NULL;
                if (asprintf(&spath, "%s/%s", dir, file) < 0)
                        spath = NULL;
                if (asprintf(&src, "%s:%d (%s)", cpath, lineno, file) < 0)
                        src = NULL;
                if (!spath || !src) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                free(json);
                if (!(json = rw_read_file(spath, &jlen, why, sizeof(why)))) {
                        rw_errf(errstr, errstr_size, "%s:%d: %s: %s", cpath, lineno, spath, why);
                        goto done;
                }
                if (!(w = rw_writer_new((int32_t)id, json, jlen, src, errstr, errstr_size)))
                        goto done;
                w->line = lineno;
                w->is_reader = is_reader;
                if (is_reader) {
                        rw_writer_t *prev = codec->readers[w->rtype];

                        if (prev) {
                                rw_errf(errstr, errstr_size,
                                        "%s:%d: second reader for %s (first at line %d)",
                                        cpath, lineno, rw_rtypes[w->rtype].fullname,
                                        prev->line);
                                goto done;
                        }
                        if (rw_reader_check(w, errstr, errstr_size))
                                goto done;
                        codec->readers[w->rtype] = w;
                        codec->reader_json[w->rtype] = json;
                        json = NULL;
                }
                if (rw_codec_insert(codec, w)) {
                        if (is_reader)
                                codec->readers[w->rtype] = NULL;
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                w = NULL;
        }
        if (ferror(fp)) {
                rw_errf(errstr, errstr_size, "%s: %s", cpath, strerror(errno));
                goto done;
        }
        for (t = 0; t < RW_REC__CNT; t++) {
                if (!codec->readers[t]) {
                        rw_errf(errstr, errstr_size, "%s: no reader schema for %s "
                                "(mark one line `reader`)", cpath, rw_rtypes[t].fullname);
                        goto done;
                }
        }
        for (i = 0; i < codec->cnt; i++) {
                rw_writer_t *cw = codec->writers[i];

                if (rw_writer_resolve(cw, codec->readers[cw->rtype])) {
                        err = RW_ERR_NOMEM;
                        goto done;
                }
                if (cw->is_reader && cw->unresolvable) {
                        rw_errf(errstr, errstr_size, "%s: reader does not resolve to itself: %s",
                                cw->source, cw->unresolvable);
                        goto done;
                }
        }
        err = RW_OK;
done:
        if (err == RW_ERR_NOMEM)
                rw_errf(errstr, errstr_size, "%s: out of memory", cpath ? cpath : dir);
        rw_writer_destroy(w);
        if (fp)
                fclose(fp);
        free(line);
        free(json);
        free(src);
        free(spath);
        free(cpath);
        return err;
}

rw_codec_t *rw_codec_new(const char *schemas_dir, char *errstr, size_t errstr_size) {
        rw_codec_t *codec, *ret = NULL;
        const char *env;
        int t;

        if (!(codec = calloc(1, sizeof(*codec)))) {
                rw_errf(errstr, errstr_size, "out of memory");
                goto done;
        }
        codec->direct = !(env = getenv("RW_CODEC_DECODE")) || strcmp(env, "avro");
        if (rw_codec_load(codec, schemas_dir, errstr, errstr_size))
                goto done;
        if (!(codec->reader = avro_reader_memory("", 0)) ||
            !(codec->writer = avro_writer_memory("", 0))) {
                rw_errf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (t = 0; t < RW_REC__CNT; t++) {
                codec->enc_id[t] = codec->readers[t]->id;
                if (!(codec->enc_class[t] =
                      avro_generic_class_from_schema(codec->readers[t]->schema)) ||
                    avro_generic_value_new(codec->enc_class[t], &codec->enc_value[t])) {
                        rw_errf(errstr, errstr_size, "out of memory");
                        goto done;
                }
        }
        ret = codec;
        codec = NULL;
done:
        rw_codec_destroy(codec);
        return ret;
}

void rw_codec_destroy(rw_codec_t *codec) {
        size_t i;
        int t;

        if (!codec)
                return;
        for (t = RW_REC__CNT - 1; t >= 0; t--) {
                if (codec->enc_value[t].self)
                        avro_value_decref(&codec->enc_value[t]);
                if (codec->enc_class[t])
                        avro_value_iface_decref(codec->enc_class[t]);
        }
        if (codec->writer)
                avro_writer_free(codec->writer);
        if (codec->reader)
                avro_reader_free(codec->reader);
        for (i = 0; i < codec->cnt; i++)
                rw_writer_destroy(codec->writers[i]);
        free(codec->writers);
        for (i = 0; i < codec->hidden_cnt; i++)
                rw_writer_destroy(codec->hidden[i]);
        free(codec->hidden);
        for (i = 0; i < codec->rejected_cnt; i++)
                free(codec->rejected[i].why);
        free(codec->rejected);
        for (t = 0; t < RW_REC__CNT; t++)
                free(codec->reader_json[t]);
        free(codec->strings);
        free(codec);
}

rw_err_t rw_codec_add_schema(rw_codec_t *codec, int32_t id, const char *json, size_t len,
                             char *errstr, size_t errstr_size) {
        char src[64];
        rw_writer_t *w = NULL;
        rw_err_t err = RW_ERR_FAIL;

        snprintf(src, sizeof(src), "schema id %" PRId32, id);
        if (id < 0 || rw_codec_find(codec, (uint32_t)id)) {
                rw_errf(errstr, errstr_size, "%s: %s", src,
                        id < 0 ? "negative id" : "already known");
                goto done;
        }
        if (!(w = rw_writer_new(id, json, len, src, errstr, errstr_size)))
                goto done;
        if (rw_writer_resolve(w, codec->readers[w->rtype]) || rw_codec_insert(codec, w)) {
                rw_errf(errstr, errstr_size, "%s: out of memory", src);
                err = RW_ERR_NOMEM;
                goto done;
        }
        w = NULL;
        err = RW_OK;
done:
        rw_writer_destroy(w);
        return err;
}

int rw_codec_has_schema(const rw_codec_t *codec, int32_t id) {
        return id >= 0 && rw_codec_find(codec, (uint32_t)id) != NULL;
}

int32_t rw_codec_reader_id(const rw_codec_t *codec, rw_record_type_t type) {
        assert(type < RW_REC__CNT);
        return codec->readers[type]->id;
}

void rw_codec_set_registry(rw_codec_t *codec, rw_registry_t *reg) {
        size_t i, kept = 0;

        /* With a registry, frame ids resolve through it (the contract): the
         * catalogue's ids leave the lookup, its reader schemas stay readers. */
        if (reg && !codec->registry) {
                codec->hidden = calloc(codec->cnt ? codec->cnt : 1, sizeof(*codec->hidden));
                if (!codec->hidden)
                        abort();
                for (i = 0; i < codec->cnt; i++) {
                        if (codec->writers[i]->line)
                                codec->hidden[codec->hidden_cnt++] = codec->writers[i];
                        else
                                codec->writers[kept++] = codec->writers[i];
                }
                codec->cnt = kept;
        }
        codec->registry = reg;
}

void rw_codec_set_writer_id(rw_codec_t *codec, rw_record_type_t type, int32_t id) {
        assert(type < RW_REC__CNT && id >= 0);
        codec->enc_id[type] = id;
}

const char *rw_codec_reader_json(const rw_codec_t *codec, rw_record_type_t type) {
        assert(type < RW_REC__CNT);
        return codec->reader_json[type];
}

/* Remember that `id` has no usable schema, and why. Bounded: past 1024 ids
 * the list starts over (they are asked for again). */
static void rw_codec_reject(rw_codec_t *codec, uint32_t id, const char *why) {
        char *copy;

        if (codec->rejected_cnt == 1024) {
                for (size_t i = 0; i < codec->rejected_cnt; i++)
                        free(codec->rejected[i].why);
                codec->rejected_cnt = 0;
        }
        if (codec->rejected_cnt == codec->rejected_size) {
                size_t n = codec->rejected_size ? codec->rejected_size * 2 : 16;
                struct rw_rejected_s *nr = realloc(codec->rejected, n * sizeof(*nr));

                if (!nr)
                        return;
                codec->rejected = nr;
                codec->rejected_size = n;
        }
        if (!(copy = strdup(why)))
                return;
        codec->rejected[codec->rejected_cnt].id = id;
        codec->rejected[codec->rejected_cnt++].why = copy;
}

/* A frame's id is not in the catalogue: without a registry that is the
 * verdict; with one, fetch the schema once and add it. Only the first record
 * of a new id gets here, so this stays out of the decode path proper. */
static __attribute__((noinline, cold)) rw_codec_status_t
rw_codec_fetch(rw_codec_t *codec, uint32_t id, rw_writer_t **wp,
               char *errstr, size_t errstr_size) {
        char why[768], *json = NULL;
        rw_codec_status_t st = RW_CODEC_UNKNOWN_SCHEMA;
        rw_err_t err;

        *wp = NULL;
        if (!codec->registry) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 " is not in the catalogue", id);
                return st;
        }
        for (size_t i = 0; i < codec->rejected_cnt; i++) {
                if (codec->rejected[i].id == id) {
                        rw_errf(errstr, errstr_size, "%s", codec->rejected[i].why);
                        return st;
                }
        }
        if (id > INT32_MAX) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 " is out of a schema "
                        "registry's range", id);
                return st;
        }
        err = rw_registry_get_schema(codec->registry, (int32_t)id, &json, why, sizeof(why));
        if (err == RW_OK) {
                char msg[512];

                err = rw_codec_add_schema(codec, (int32_t)id, json, strlen(json),
                                          msg, sizeof(msg));
                if (err)
                        snprintf(why, sizeof(why), "schema registry %s: %s",
                                 rw_registry_url(codec->registry), msg);
        }
        free(json);
        if (err == RW_OK) {
                *wp = rw_codec_find(codec, id);
                return RW_CODEC_OK;
        }
        if (err == RW_ERR_FAIL) {
                /* A definite answer: no (usable) schema under this id. */
                rw_codec_reject(codec, id, why);
                rw_errf(errstr, errstr_size, "%s", why);
                return st;
        }
        /* No answer (or out of memory): retriable, not a verdict on the record. */
        rw_errf(errstr, errstr_size, "schema id %" PRIu32 ": %s", id, why);
        return RW_CODEC_RETRY;
}

/*
 * Decode.
 */

#define RW_AVRO_TRY(expr) do { if ((expr)) goto avro_fail; } while (0)

/* Copy the decoded reader-side value into out: pointers, no copies. */
static rw_codec_status_t rw_extract(rw_writer_t *w, rw_record_t *out,
                                    char *errstr, size_t errstr_size) {
        const rw_rtype_t *rt = &rw_rtypes[w->rtype];
        char *base = (char *)&out->u;
        char aerr[RW_MSG_SIZE];
        int i;

        for (i = 0; i < rt->nfields; i++) {
                const rw_field_t *f = &rt->fields[i];
                char *dst = base + f->off;
                avro_value_t fv, branch;
                int present = w->eidx[i] >= 0;

                if (present) {
                        RW_AVRO_TRY(avro_value_get_by_index(&w->gvalue, (size_t)w->eidx[i],
                                                            &fv, NULL));
                        if (f->optional) {
                                int d;

                                RW_AVRO_TRY(avro_value_get_discriminant(&fv, &d));
                                present = d == 1;
                                if (present) {
                                        RW_AVRO_TRY(avro_value_get_current_branch(&fv, &branch));
                                        fv = branch;
                                }
                        }
                }
                if (!present) {
                        if (f->type == RW_F_STRING) {
                                *(const char **)dst = NULL;
                        } else {
                                *(int *)(base + f->has_off) = 0;
                                if (f->type == RW_F_INT)
                                        *(int32_t *)dst = 0;
                                else if (f->type == RW_F_FLOAT)
                                        *(float *)dst = 0;
                                else if (f->type == RW_F_DOUBLE)
                                        *(double *)dst = 0;
                        }
                        continue;
                }
                if (f->optional && f->type != RW_F_STRING)
                        *(int *)(base + f->has_off) = 1;

                switch (f->type) {
                case RW_F_STRING: {
                        const char *s;
                        size_t sz;

                        RW_AVRO_TRY(avro_value_get_string(&fv, &s, &sz));
                        *(const char **)dst = s;
                        break;
                }
                case RW_F_LONG:
                        RW_AVRO_TRY(avro_value_get_long(&fv, (int64_t *)dst));
                        break;
                case RW_F_INT:
                        RW_AVRO_TRY(avro_value_get_int(&fv, (int32_t *)dst));
                        break;
                case RW_F_DOUBLE:
                        RW_AVRO_TRY(avro_value_get_double(&fv, (double *)dst));
                        break;
                case RW_F_FLOAT:
                        RW_AVRO_TRY(avro_value_get_float(&fv, (float *)dst));
                        break;
                case RW_F_BOOL:
                        RW_AVRO_TRY(avro_value_get_boolean(&fv, (int *)dst));
                        break;
                case RW_F_ENUM: {
                        int wi, ri;

                        /* The value holds the writer's index (see rw_writer_resolve);
                         * the bounds check has kept it within the writer's symbols. */
                        RW_AVRO_TRY(avro_value_get_enum(&fv, &wi));
                        if (wi < 0 || wi >= w->emap_n[i]) {
                                rw_errf(errstr, errstr_size, "schema id %" PRId32 ": field %s: "
                                        "enum index %d out of range", w->id, f->name, wi);
                                return RW_CODEC_AVRO_DECODE;
                        }
                        if ((ri = w->emap[i][wi]) < 0) {
                                rw_errf(errstr, errstr_size, "schema id %" PRId32 ": field %s: "
                                        "symbol %s is not in the reader's %s", w->id, f->name,
                                        avro_schema_enum_get(w->wenum[i], wi), f->enum_name);
                                return RW_CODEC_AVRO_DECODE;
                        }
                        memcpy(dst, &ri, sizeof(ri));
                        break;
                }
                }
        }
        return RW_CODEC_OK;

avro_fail:
        rw_errf(errstr, errstr_size, "schema id %" PRId32 ": %s", w->id,
                rw_avro_err(aerr, sizeof(aerr)));
        return RW_CODEC_AVRO_DECODE;
}

/*
 * The direct path: for a writer with a plan (rw_writer_plan), decode the
 * body straight into out in one pass that applies every check of rw_walk()
 * and the enum mapping of rw_extract(), copying strings (NUL-terminated)
 * into the codec's string buffer. It only ever succeeds: on anything it
 * does not accept it returns -1 and the record takes the general path
 * (bounds check, avro-c's resolved writer, rw_extract), which gives the
 * verdict and the message. Same results, without avro-c's per-record
 * allocations; tests/unit/test_codec.c runs every case through both paths
 * and compares them over random and damaged records.
 */
static int rw_direct(rw_codec_t *codec, const rw_writer_t *w,
                     const unsigned char *body, size_t n, rw_record_t *out) {
        const rw_rtype_t *rt = &rw_rtypes[w->rtype];
        char *base = (char *)&out->u, *s;
        rw_cursor_t c;
        size_t k;

        /* Strings take at most the body's bytes plus a NUL each. */
        if (codec->strings_size < n + w->nplan) {
                size_t size = n + w->nplan < 256 ? 256 : (n + w->nplan) * 2;
                char *p = realloc(codec->strings, size);

                if (!p)
                        return -1;
                codec->strings = p;
                codec->strings_size = size;
        }
        s = codec->strings;
        memset(&out->u, 0, sizeof(out->u));     /* null / absent: NULL, has_* 0, 0 */
        c.start = c.p = body;
        c.end = body + n;
        c.items_left = n;
        c.depth = 1;                            /* inside the top-level record */
        c.field = NULL;

        for (k = 0; k < w->nplan; k++) {
                const rw_field_t *f;
                char *dst;
                int64_t v = 0;

                if (w->plan[k].rf < 0) {
                        if (rw_walk(&c, w->plan[k].node))
                                return -1;
                        continue;
                }
                f = &rt->fields[w->plan[k].rf];
                dst = base + f->off;
                if (f->optional) {
                        if (rw_varint(&c, &v, "union branch") || (v != 0 && v != 1))
                                return -1;
                        if (v == 0)
                                continue;
                        if (f->type != RW_F_STRING)
                                *(int *)(base + f->has_off) = 1;
                }
                switch (f->type) {
                case RW_F_STRING:
                        if (rw_varint(&c, &v, "length") || v < 0 ||
                            (uint64_t)v > (uint64_t)(c.end - c.p) ||
                            !rw_utf8_ok(c.p, (size_t)v))
                                return -1;
                        memcpy(s, c.p, (size_t)v);
                        s[v] = '\0';
                        *(const char **)dst = s;
                        s += v + 1;
                        c.p += v;
                        break;
                case RW_F_LONG:
                        if (rw_varint(&c, &v, "long"))
                                return -1;
                        *(int64_t *)dst = v;
                        break;
                case RW_F_INT:
                        if (rw_varint(&c, &v, "int") || v < INT32_MIN || v > INT32_MAX)
                                return -1;
                        *(int32_t *)dst = (int32_t)v;
                        break;
                case RW_F_DOUBLE: {
                        uint64_t u = 0;
                        int b;

                        if (c.end - c.p < 8)
                                return -1;
                        for (b = 7; b >= 0; b--)        /* little-endian on the wire */
                                u = u << 8 | c.p[b];
                        memcpy(dst, &u, sizeof(u));
                        c.p += 8;
                        break;
                }
                case RW_F_FLOAT: {
                        uint32_t u;

                        if (c.end - c.p < 4)
                                return -1;
                        u = (uint32_t)c.p[0] | (uint32_t)c.p[1] << 8 |
                            (uint32_t)c.p[2] << 16 | (uint32_t)c.p[3] << 24;
                        memcpy(dst, &u, sizeof(u));
                        c.p += 4;
                        break;
                }
                case RW_F_BOOL:
                        if (c.p == c.end || *c.p > 1)
                                return -1;
                        *(int *)dst = *c.p++;
                        break;
                case RW_F_ENUM: {
                        int ri;

                        if (rw_varint(&c, &v, "enum index") || v < 0 ||
                            v >= w->emap_n[w->plan[k].rf] ||
                            (ri = w->emap[w->plan[k].rf][v]) < 0)
                                return -1;
                        memcpy(dst, &ri, sizeof(ri));
                        break;
                }
                }
        }
        return c.p == c.end ? 0 : -1;
}

void rw_codec_set_direct(rw_codec_t *codec, int on) {
        codec->direct = !!on;
}

uint64_t rw_codec_direct_decodes(const rw_codec_t *codec) {
        return codec->direct_decodes;
}

/* rw_codec_decode(); `own`: the body was written with the reader schema
 * itself, whatever id the frame carries (rw_codec_decode_own()). */
static rw_codec_status_t rw_codec_decode_as(rw_codec_t *codec, rw_record_type_t expect,
                                            const void *buf, size_t len, rw_record_t *out,
                                            int own, char *errstr, size_t errstr_size) {
        const unsigned char *p = buf;
        rw_codec_status_t st = RW_CODEC_AVRO_DECODE;
        rw_cursor_t c;
        rw_writer_t *w;
        char aerr[RW_MSG_SIZE];
        uint32_t id = 0;

        assert(expect < RW_REC__CNT);
        if (!p || len < RW_FRAME_HDR) {
                rw_errf(errstr, errstr_size, "value is %zu bytes; a framed record needs at "
                        "least %d", p ? len : 0, RW_FRAME_HDR);
                st = RW_CODEC_TOO_SHORT;
                goto done;
        }
        if (p[0] != 0) {
                rw_errf(errstr, errstr_size, "magic byte is 0x%02x, expected 0x00 "
                        "(not Confluent-framed Avro)", p[0]);
                st = RW_CODEC_BAD_MAGIC;
                goto done;
        }
        id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        if (own)
                w = codec->readers[expect];
        else if (!(w = rw_codec_find(codec, id)) &&
                 (st = rw_codec_fetch(codec, id, &w, errstr, errstr_size)) != RW_CODEC_OK)
                goto done;
        st = RW_CODEC_UNKNOWN_SCHEMA;
        if (w->rtype != expect) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 " is %s, expected %s", id,
                        rw_rtypes[w->rtype].fullname, rw_rtypes[expect].fullname);
                goto done;
        }
        if (w->unresolvable) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 " (%s) cannot be resolved "
                        "to the reader: %s", id, w->source, w->unresolvable);
                goto done;
        }

        if (w->plan && codec->direct &&
            !rw_direct(codec, w, p + RW_FRAME_HDR, len - RW_FRAME_HDR, out)) {
                codec->direct_decodes++;
                st = RW_CODEC_OK;
                out->type = expect;
                out->schema_id = (int32_t)id;
                goto done;
        }

        /* Bounds check before avro-c allocates anything on the body's word. */
        st = RW_CODEC_AVRO_DECODE;
        c.start = c.p = p + RW_FRAME_HDR;
        c.end = p + len;
        c.items_left = len - RW_FRAME_HDR;
        c.depth = 0;
        c.field = NULL;
        c.at = 0;
        if (rw_walk(&c, w->root)) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 ": %s%s%sat byte %zu: %s", id,
                        c.field ? "field " : "", c.field ? c.field : "", c.field ? " " : "",
                        c.at + RW_FRAME_HDR, c.msg);
                goto done;
        }
        if (c.p != c.end) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 ": %zu trailing bytes after "
                        "the record", id, (size_t)(c.end - c.p));
                goto done;
        }

        avro_reader_memory_set_source(codec->reader, (const char *)c.start,
                                      (int64_t)(len - RW_FRAME_HDR));
        if (avro_value_read(codec->reader, &w->rvalue)) {
                rw_errf(errstr, errstr_size, "schema id %" PRIu32 ": %s", id,
                        rw_avro_err(aerr, sizeof(aerr)));
                goto done;
        }
        /* Sets every field of the record type; no need to clear out first. */
        if ((st = rw_extract(w, out, errstr, errstr_size)) != RW_CODEC_OK)
                goto done;
        out->type = expect;
        out->schema_id = (int32_t)id;
done:
        if (st != RW_CODEC_OK)
                memset(out, 0, sizeof(*out));
        return st;
}

/*
 * Encode.
 */

rw_err_t rw_codec_encode(rw_codec_t *codec, const rw_record_t *rec,
                         void **bufp, size_t *lenp,
                         char *errstr, size_t errstr_size) {
        const rw_rtype_t *rt;
        const char *base;
        avro_value_t *v;
        unsigned char *buf = NULL;
        char aerr[RW_MSG_SIZE];
        size_t size;
        int32_t id;
        rw_err_t err = RW_ERR_FAIL;
        int i;

        *bufp = NULL;
        *lenp = 0;
        if (rec->type >= RW_REC__CNT) {
                rw_errf(errstr, errstr_size, "record type %d is not one riskwatch writes",
                        (int)rec->type);
                return RW_ERR_FAIL;
        }
        rt = &rw_rtypes[rec->type];
        base = (const char *)&rec->u;
        v = &codec->enc_value[rec->type];
        id = codec->enc_id[rec->type];
        if (avro_value_reset(v))
                goto avro_fail;

        for (i = 0; i < rt->nfields; i++) {
                const rw_field_t *f = &rt->fields[i];
                const char *src = base + f->off;
                avro_value_t fv, branch;

                if (avro_value_get_by_index(v, (size_t)i, &fv, NULL))
                        goto avro_fail;
                if (f->optional) {
                        int has = f->type == RW_F_STRING ? *(const char *const *)src != NULL
                                                         : *(const int *)(base + f->has_off);

                        if (avro_value_set_branch(&fv, has ? 1 : 0, &branch))
                                goto avro_fail;
                        fv = branch;
                        if (!has) {
                                if (avro_value_set_null(&fv))
                                        goto avro_fail;
                                continue;
                        }
                }
                switch (f->type) {
                case RW_F_STRING: {
                        const char *s = *(const char *const *)src;
                        avro_wrapped_buffer_t wb;

                        if (!s) {
                                rw_errf(errstr, errstr_size, "%s.%s is NULL", rt->name, f->name);
                                goto done;
                        }
                        /* Borrow the caller's string; the value is reset below. */
                        if (avro_wrapped_buffer_new_string(&wb, s) ||
                            avro_value_give_string_len(&fv, &wb))
                                goto avro_fail;
                        break;
                }
                case RW_F_LONG:
                        if (avro_value_set_long(&fv, *(const int64_t *)src))
                                goto avro_fail;
                        break;
                case RW_F_INT:
                        if (avro_value_set_int(&fv, *(const int32_t *)src))
                                goto avro_fail;
                        break;
                case RW_F_DOUBLE:
                        if (avro_value_set_double(&fv, *(const double *)src))
                                goto avro_fail;
                        break;
                case RW_F_FLOAT:
                        if (avro_value_set_float(&fv, *(const float *)src))
                                goto avro_fail;
                        break;
                case RW_F_BOOL:
                        if (avro_value_set_boolean(&fv, *(const int *)src ? 1 : 0))
                                goto avro_fail;
                        break;
                case RW_F_ENUM: {
                        int k;

                        memcpy(&k, src, sizeof(k));
                        if (k < 0 || k >= f->nsyms) {
                                rw_errf(errstr, errstr_size, "%s.%s: %d is not a %s symbol",
                                        rt->name, f->name, k, f->enum_name);
                                goto done;
                        }
                        if (avro_value_set_enum(&fv, k))
                                goto avro_fail;
                        break;
                }
                }
        }

        if (avro_value_sizeof(v, &size))
                goto avro_fail;
        if (!(buf = malloc(RW_FRAME_HDR + size))) {
                rw_errf(errstr, errstr_size, "out of memory");
                err = RW_ERR_NOMEM;
                goto done;
        }
        buf[0] = 0;
        buf[1] = (unsigned char)((uint32_t)id >> 24);
        buf[2] = (unsigned char)((uint32_t)id >> 16);
        buf[3] = (unsigned char)((uint32_t)id >> 8);
        buf[4] = (unsigned char)id;
        avro_writer_memory_set_dest(codec->writer, (const char *)buf + RW_FRAME_HDR,
                                    (int64_t)size);
        if (avro_value_write(codec->writer, v))
                goto avro_fail;
        *bufp = buf;
        *lenp = RW_FRAME_HDR + size;
        buf = NULL;
        err = RW_OK;
        goto done;

avro_fail:
        rw_errf(errstr, errstr_size, "encoding %s: %s", rt->name,
                rw_avro_err(aerr, sizeof(aerr)));
done:
        free(buf);
        avro_value_reset(v);            /* drop borrowed strings */
        return err;
}

/*
 * Validation.
 */

static int rw_currency_ok(const char *s) {
        return s && strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' &&
               s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z';
}

static rw_codec_status_t rw_invalid(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static rw_codec_status_t rw_invalid(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;

        if (errstr && errstr_size) {
                va_start(ap, fmt);
                vsnprintf(errstr, errstr_size, fmt, ap);
                va_end(ap);
        }
        return RW_CODEC_INVALID_FIELD;
}

/* An id or string field: non-empty (unless optional: then it may be null or
 * empty) and at most the bound. Its text is not quoted back: it may be
 * megabytes. */
static rw_codec_status_t rw_check_str(const char *name, const char *v, int optional,
                                      const rw_validate_limits_t *lim,
                                      char *errstr, size_t errstr_size) {
        size_t len;

        len = v ? strlen(v) : 0;
        if (!len && !optional)
                return rw_invalid(errstr, errstr_size, "field %s: empty", name);
        if (len > lim->id_max_bytes)
                return rw_invalid(errstr, errstr_size, "field %s: %zu bytes, longer than "
                                  "validate.id.max.bytes (%zu)", name, len,
                                  lim->id_max_bytes);
        return RW_CODEC_OK;
}

#define RW_CHECK_STR(rec, f, optional) \
        do { rw_codec_status_t st_ = rw_check_str(#f, (rec)->f, optional, lim, \
                                                  errstr, errstr_size); \
             if (st_ != RW_CODEC_OK) return st_; } while (0)

/* ms since the epoch as RFC 3339 UTC, or "beyond the calendar". */
static const char *rw_codec_fmt_time(int64_t ms, char *buf, size_t size) {
        time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
        struct tm tm;

        if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
                snprintf(buf, size, "beyond the calendar");
        else
                strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

static rw_codec_status_t rw_check_time(int64_t t, int64_t now_ms, const char *now_what,
                                       const rw_validate_limits_t *lim,
                                       char *errstr, size_t errstr_size) {
        int64_t limit;

        if (__builtin_add_overflow(now_ms, lim->max_future_ms, &limit))
                limit = lim->max_future_ms > 0 ? INT64_MAX : INT64_MIN;
        if (t > limit)
                return rw_invalid(errstr, errstr_size, "field occurred_at: %" PRId64
                                  " is more than %" PRId64 " ms ahead of %s (%" PRId64 ")",
                                  t, lim->max_future_ms, now_what, now_ms);
        if (t < lim->occurred_min) {
                char at[40], min[40];
                return rw_invalid(errstr, errstr_size, "field occurred_at: %" PRId64
                                  " (%s) is before validate.occurred.min (%s)", t,
                                  rw_codec_fmt_time(t, at, sizeof(at)),
                                  rw_codec_fmt_time(lim->occurred_min, min, sizeof(min)));
        }
        return RW_CODEC_OK;
}

void rw_validate_limits_conf(rw_validate_limits_t *lim, const rw_conf_t *conf) {
        lim->max_future_ms = rw_conf_get_int(conf, "future.margin");
        lim->occurred_min = rw_conf_get_int(conf, "validate.occurred.min");
        lim->amount_max = rw_conf_get_int(conf, "validate.amount.max");
        lim->id_max_bytes = (size_t)rw_conf_get_int(conf, "validate.id.max.bytes");
}

double rw_sentiment_round(float s) {
        return nearbyint((double)s * 10000.0) / 10000.0;
}

rw_codec_status_t rw_record_validate(const rw_record_t *rec, int64_t now_ms,
                                     const char *now_what,
                                     const rw_validate_limits_t *lim,
                                     char *errstr, size_t errstr_size) {
        if (rec->type == RW_REC_ORDER) {
                const rw_order_event_t *o = &rec->u.order;

                RW_CHECK_STR(o, event_id, 0);
                RW_CHECK_STR(o, account_id, 0);
                RW_CHECK_STR(o, vendor_id, 0);
                RW_CHECK_STR(o, product_line, 1);
                if (o->amount_minor < 0)
                        return rw_invalid(errstr, errstr_size, "field amount_minor: %" PRId64
                                          " is negative", o->amount_minor);
                if (o->amount_minor > lim->amount_max)
                        return rw_invalid(errstr, errstr_size, "field amount_minor: %" PRId64
                                          " is above validate.amount.max (%" PRId64 ")",
                                          o->amount_minor, lim->amount_max);
                if (!rw_currency_ok(o->currency)) {
                        /* Escaped: the message reaches a log line and a header. */
                        char cur[64];
                        return rw_invalid(errstr, errstr_size, "field currency: \"%s\" is "
                                          "not three capital letters (ISO 4217)",
                                          rw_log_escape(cur, sizeof(cur), o->currency,
                                                        o->currency ?
                                                        strnlen(o->currency, 16) : 0));
                }
                return rw_check_time(o->occurred_at, now_ms, now_what, lim, errstr, errstr_size);
        }
        if (rec->type == RW_REC_SUPPORT) {
                const rw_support_event_t *s = &rec->u.support;

                RW_CHECK_STR(s, event_id, 0);
                RW_CHECK_STR(s, account_id, 0);
                RW_CHECK_STR(s, ticket_id, 1);
                if (s->has_csat && (s->csat < 1 || s->csat > 5))
                        return rw_invalid(errstr, errstr_size, "field csat: %" PRId32
                                          " is outside 1..5", s->csat);
                if (s->has_sentiment && !(s->sentiment >= -1.0f && s->sentiment <= 1.0f))
                        return rw_invalid(errstr, errstr_size, "field sentiment: %g is outside "
                                          "-1..1", (double)s->sentiment);
                return rw_check_time(s->occurred_at, now_ms, now_what, lim, errstr, errstr_size);
        }
        return RW_CODEC_OK;
}

rw_codec_status_t rw_codec_decode(rw_codec_t *codec, rw_record_type_t expect,
                                  const void *buf, size_t len,
                                  rw_record_t *out,
                                  char *errstr, size_t errstr_size) {
        return rw_codec_decode_as(codec, expect, buf, len, out, 0, errstr, errstr_size);
}

rw_codec_status_t rw_codec_decode_own(rw_codec_t *codec, rw_record_type_t expect,
                                      const void *buf, size_t len,
                                      rw_record_t *out,
                                      char *errstr, size_t errstr_size) {
        return rw_codec_decode_as(codec, expect, buf, len, out, 1, errstr, errstr_size);
}

/*
 * JSON.
 */

static void rw_json_str(FILE *fp, const char *s) {
        rw_json_write_str(fp, s);
}

/* Shortest text that reads back as the same value; null for NaN/Inf,
 * which JSON cannot carry. */
static void rw_json_num(FILE *fp, double d, int is_float) {
        char buf[40];
        int prec;

        if (!isfinite(d)) {
                fputs("null", fp);
                return;
        }
        for (prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof(buf), "%.*g", prec, d);
                if (is_float ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
                        break;
        }
        fputs(buf, fp);
}

void rw_record_print_json(const rw_record_t *rec, FILE *fp, unsigned flags) {
        const rw_rtype_t *rt;
        const char *base = (const char *)&rec->u;
        int i;

        if (rec->type >= RW_REC__CNT) {
                fputs("{\"type\":null}", fp);
                return;
        }
        rt = &rw_rtypes[rec->type];
        fprintf(fp, "{\"type\":\"%s\",\"schema_id\":%" PRId32, rt->name, rec->schema_id);
        for (i = 0; i < rt->nfields; i++) {
                const rw_field_t *f = &rt->fields[i];
                const char *src = base + f->off;
                int k;

                fprintf(fp, ",\"%s\":", f->name);
                if (f->optional && f->type != RW_F_STRING && !*(const int *)(base + f->has_off)) {
                        fputs("null", fp);
                        continue;
                }
                switch (f->type) {
                case RW_F_STRING:
                        rw_json_str(fp, *(const char *const *)src);
                        break;
                case RW_F_LONG:
                        if (f->time_ms && (flags & RW_JSON_TIME_RFC3339)) {
                                char tbuf[48];

                                fprintf(fp, "\"%s\"", rw_fmt_time(tbuf, sizeof(tbuf),
                                                                  *(const int64_t *)src));
                                break;
                        }
                        fprintf(fp, "%" PRId64, *(const int64_t *)src);
                        break;
                case RW_F_INT:
                        fprintf(fp, "%" PRId32, *(const int32_t *)src);
                        break;
                case RW_F_DOUBLE:
                        rw_json_num(fp, *(const double *)src, 0);
                        break;
                case RW_F_FLOAT:
                        rw_json_num(fp, *(const float *)src, 1);
                        break;
                case RW_F_BOOL:
                        fputs(*(const int *)src ? "true" : "false", fp);
                        break;
                case RW_F_ENUM:
                        memcpy(&k, src, sizeof(k));
                        if (k >= 0 && k < f->nsyms)
                                fprintf(fp, "\"%s\"", f->syms[k]);
                        else
                                fputs("null", fp);
                        break;
                }
        }
        putc('}', fp);
}

/*
 * Lookup.
 */

int rw_codec_schema_type(const rw_codec_t *codec, int32_t id) {
        const rw_writer_t *w = id >= 0 ? rw_codec_find(codec, (uint32_t)id) : NULL;

        return w ? (int)w->rtype : -1;
}
