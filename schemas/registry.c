/* registry.c - Confluent-compatible schema registry client over libcurl. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/curl_lib.h"
#include "schemas/registry.h"

#define RW_REG_RESP_MAX    (8 * 1024 * 1024)    /* largest response accepted */
#define RW_REG_NEG_MAX     1024                 /* remembered "not found" ids */
#define RW_JSON_MAX_DEPTH  64

/* One id the registry answered for: its schema, or why there is none. */
typedef struct rw_reg_entry_s {
        int32_t id;
        char *json;                     /* NULL: definitely no Avro schema */
        char *why;                      /* the verdict's message when json is NULL */
} rw_reg_entry_t;

struct rw_registry_s {
        const rw_curl_t *cu;            /* libcurl (common/curl_lib.h) */
        CURL *curl;
        char *base;                     /* URL without credentials or trailing '/' */
        char *user, *password;          /* decoded; NULL when absent */
        struct curl_slist *hdr_get, *hdr_post;
        char errbuf[CURL_ERROR_SIZE];
        char *resp;                     /* body of the last response */
        size_t resp_len, resp_size;
        int resp_too_big;
        rw_reg_entry_t *cache;
        size_t cache_cnt, cache_size, neg_cnt;
};

static void rw_reg_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void rw_reg_errf(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;

        if (!errstr || !errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

/*
 * Minimal JSON: enough to pick members out of the registry's small answers
 * and to quote a schema for a request body.
 */

typedef struct rw_json_s {
        const char *p, *end;
} rw_json_t;

static void rw_json_ws(rw_json_t *j) {
        while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
                                 *j->p == '\r'))
                j->p++;
}

static int rw_hex4(const char *p, unsigned *v) {
        *v = 0;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return -1;
                *v = *v << 4 | d;
        }
        return 0;
}

/* Scan a string at j->p (the opening quote). With out != NULL, also write
 * its unescaped UTF-8 (never longer than the escaped text) and NUL. A \u0000
 * escape, an unpaired surrogate or a raw control character fails. */
static int rw_json_string(rw_json_t *j, char *out, size_t *lenp) {
        size_t n = 0;

        if (j->p >= j->end || *j->p != '"')
                return -1;
        j->p++;
        while (j->p < j->end && *j->p != '"') {
                unsigned char c = (unsigned char)*j->p;
                unsigned cp, lo;

                if (c < 0x20)
                        return -1;
                if (c != '\\') {
                        if (out)
                                out[n] = (char)c;
                        n++;
                        j->p++;
                        continue;
                }
                if (j->end - j->p < 2)
                        return -1;
                c = (unsigned char)j->p[1];
                j->p += 2;
                switch (c) {
                case '"': case '\\': case '/': break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'n': c = '\n'; break;
                case 'r': c = '\r'; break;
                case 't': c = '\t'; break;
                case 'u':
                        if (j->end - j->p < 4 || rw_hex4(j->p, &cp))
                                return -1;
                        j->p += 4;
                        if (cp >= 0xdc00 && cp <= 0xdfff)
                                return -1;
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                                    rw_hex4(j->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                                        return -1;
                                j->p += 6;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        }
                        if (cp == 0)
                                return -1;
                        if (cp < 0x80) {
                                if (out)
                                        out[n] = (char)cp;
                                n++;
                        } else if (cp < 0x800) {
                                if (out) {
                                        out[n] = (char)(0xc0 | cp >> 6);
                                        out[n + 1] = (char)(0x80 | (cp & 0x3f));
                                }
                                n += 2;
                        } else if (cp < 0x10000) {
                                if (out) {
                                        out[n] = (char)(0xe0 | cp >> 12);
                                        out[n + 1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                                        out[n + 2] = (char)(0x80 | (cp & 0x3f));
                                }
                                n += 3;
                        } else {
                                if (out) {
                                        out[n] = (char)(0xf0 | cp >> 18);
                                        out[n + 1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                                        out[n + 2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                                        out[n + 3] = (char)(0x80 | (cp & 0x3f));
                                }
                                n += 4;
                        }
                        continue;
                default:
                        return -1;
                }
                if (out)
                        out[n] = (char)c;
                n++;
        }
        if (j->p >= j->end)
                return -1;
        j->p++;
        if (out)
                out[n] = '\0';
        if (lenp)
                *lenp = n;
        return 0;
}

static int rw_json_skip(rw_json_t *j, int depth) {
        char open;

        rw_json_ws(j);
        if (j->p >= j->end || depth > RW_JSON_MAX_DEPTH)
                return -1;
        switch (*j->p) {
        case '"':
                return rw_json_string(j, NULL, NULL);
        case '{':
        case '[':
                open = *j->p++;
                rw_json_ws(j);
                if (j->p < j->end && *j->p == (open == '{' ? '}' : ']')) {
                        j->p++;
                        return 0;
                }
                for (;;) {
                        if (open == '{') {
                                rw_json_ws(j);
                                if (rw_json_string(j, NULL, NULL))
                                        return -1;
                                rw_json_ws(j);
                                if (j->p >= j->end || *j->p++ != ':')
                                        return -1;
                        }
                        if (rw_json_skip(j, depth + 1))
                                return -1;
                        rw_json_ws(j);
                        if (j->p >= j->end)
                                return -1;
                        if (*j->p == ',') {
                                j->p++;
                                continue;
                        }
                        if (*j->p++ != (open == '{' ? '}' : ']'))
                                return -1;
                        return 0;
                }
        default:
                /* A number or a literal: its characters, checked loosely. */
                if (!*j->p || !strchr("-0123456789tfn", *j->p))
                        return -1;
                while (j->p < j->end && *j->p && strchr("-+.0123456789eEtruefalsn", *j->p))
                        j->p++;
                return 0;
        }
}

/* Position j at the value of top-level member `key`; 0 if found. */
static int rw_json_find(rw_json_t *j, const char *key) {
        rw_json_ws(j);
        if (j->p >= j->end || *j->p++ != '{')
                return -1;
        rw_json_ws(j);
        if (j->p < j->end && *j->p == '}')
                return -1;
        for (;;) {
                const char *kstart;
                size_t klen;
                char kbuf[64];
                int match = 0;

                rw_json_ws(j);
                kstart = j->p;
                if (rw_json_string(j, NULL, &klen))
                        return -1;
                if (klen < sizeof(kbuf)) {
                        rw_json_t k = { kstart, j->p };

                        if (rw_json_string(&k, kbuf, NULL))
                                return -1;
                        match = !strcmp(kbuf, key);
                }
                rw_json_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                        return -1;
                rw_json_ws(j);
                if (match)
                        return 0;
                if (rw_json_skip(j, 1))
                        return -1;
                rw_json_ws(j);
                if (j->p >= j->end || *j->p != ',')
                        return -1;
                j->p++;
        }
}

char *rw_json_member_str(const char *json, size_t len, const char *key) {
        rw_json_t j = { json, json + len }, s;
        size_t n;
        char *out;

        if (rw_json_find(&j, key))
                return NULL;
        s = j;
        if (rw_json_string(&s, NULL, &n) || !(out = malloc(n + 1)))
                return NULL;
        if (rw_json_string(&j, out, NULL)) {
                free(out);
                return NULL;
        }
        return out;
}

int rw_json_member_int(const char *json, size_t len, const char *key, int64_t *valp) {
        rw_json_t j = { json, json + len };
        char buf[24];
        size_t n = 0;
        char *end;
        long long v;

        if (rw_json_find(&j, key))
                return -1;
        while (j.p < j.end && n < sizeof(buf) - 1 &&
               (*j.p == '-' || (*j.p >= '0' && *j.p <= '9')))
                buf[n++] = *j.p++;
        buf[n] = '\0';
        if (!n || (j.p < j.end && strchr(".eE0123456789", *j.p)))
                return -1;      /* not an integer, or too long */
        v = strtoll(buf, &end, 10);
        if (*end)
                return -1;
        *valp = v;
        return 0;
}

char *rw_json_quote(const char *s) {
        size_t n = 3;
        char *out, *o;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                n += *p < 0x20 || *p == 0x7f ? 6 : *p == '"' || *p == '\\' ? 2 : 1;
        if (!(o = out = malloc(n)))
                return NULL;
        *o++ = '"';
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':  *o++ = '\\'; *o++ = '"'; break;
                case '\\': *o++ = '\\'; *o++ = '\\'; break;
                case '\n': *o++ = '\\'; *o++ = 'n'; break;
                case '\r': *o++ = '\\'; *o++ = 'r'; break;
                case '\t': *o++ = '\\'; *o++ = 't'; break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                o += sprintf(o, "\\u%04x", *p);
                        else
                                *o++ = (char)*p;
                }
        }
        *o++ = '"';
        *o = '\0';
        return out;
}

/*
 * HTTP.
 */

static size_t rw_reg_write_cb(char *data, size_t size, size_t nmemb, void *opaque) {
        rw_registry_t *reg = opaque;
        size_t n = size * nmemb;

        if (reg->resp_len + n + 1 > RW_REG_RESP_MAX) {
                reg->resp_too_big = 1;
                return 0;               /* aborts the transfer */
        }
        if (reg->resp_len + n + 1 > reg->resp_size) {
                size_t ns = reg->resp_size ? reg->resp_size : 4096;
                char *nb;

                while (ns < reg->resp_len + n + 1)
                        ns *= 2;
                if (!(nb = realloc(reg->resp, ns)))
                        return 0;
                reg->resp = nb;
                reg->resp_size = ns;
        }
        memcpy(reg->resp + reg->resp_len, data, n);
        reg->resp_len += n;
        reg->resp[reg->resp_len] = '\0';
        return n;
}

/* One request: GET when body is NULL, else POST of the JSON body. On a
 * response, RW_OK with *statusp and the body in reg->resp; on a transport
 * failure RW_ERR_IO. */
static rw_err_t rw_reg_request(rw_registry_t *reg, const char *path, const char *body,
                               long *statusp, char *errstr, size_t errstr_size) {
        char *url = NULL;
        CURLcode cc;
        rw_err_t err = RW_ERR_IO;

        if (asprintf(&url, "%s%s", reg->base, path) < 0) {
                url = NULL;
                rw_reg_errf(errstr, errstr_size, "out of memory");
                err = RW_ERR_NOMEM;
                goto done;
        }
        reg->resp_len = 0;
        reg->resp_too_big = 0;
        if (reg->resp)
                reg->resp[0] = '\0';
        reg->errbuf[0] = '\0';
        reg->cu->easy_setopt(reg->curl, CURLOPT_URL, url);
        if (body) {
                reg->cu->easy_setopt(reg->curl, CURLOPT_POSTFIELDS, body);
                reg->cu->easy_setopt(reg->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
                reg->cu->easy_setopt(reg->curl, CURLOPT_HTTPHEADER, reg->hdr_post);
        } else {
                reg->cu->easy_setopt(reg->curl, CURLOPT_HTTPGET, 1L);
                reg->cu->easy_setopt(reg->curl, CURLOPT_HTTPHEADER, reg->hdr_get);
        }
        if ((cc = reg->cu->easy_perform(reg->curl)) != CURLE_OK) {
                if (reg->resp_too_big)
                        rw_reg_errf(errstr, errstr_size, "schema registry %s: response larger "
                                    "than %d bytes", reg->base, RW_REG_RESP_MAX);
                else
                        rw_reg_errf(errstr, errstr_size, "schema registry %s: %s", reg->base,
                                    reg->errbuf[0] ? reg->errbuf : reg->cu->easy_strerror(cc));
                goto done;
        }
        reg->cu->easy_getinfo(reg->curl, CURLINFO_RESPONSE_CODE, statusp);
        if (!reg->resp && !(reg->resp = calloc(1, 1))) {
                rw_reg_errf(errstr, errstr_size, "out of memory");
                err = RW_ERR_NOMEM;
                goto done;
        }
        err = RW_OK;
done:
        free(url);
        return err;
}

/* "HTTP 503 (error 50001: message)" for a response that is not a success. */
static void rw_reg_status_msg(const rw_registry_t *reg, long status, int64_t code,
                              char *buf, size_t size) {
        char *msg = rw_json_member_str(reg->resp, reg->resp_len, "message");

        if (code)
                snprintf(buf, size, "HTTP %ld (error %" PRId64 ": %.200s)", status, code,
                         msg ? msg : "");
        else if (msg)
                snprintf(buf, size, "HTTP %ld (%.200s)", status, msg);
        else
                snprintf(buf, size, "HTTP %ld", status);
        /* One line: the message may come from anywhere. */
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20)
                        *p = ' ';
        free(msg);
}

/*
 * The client.
 */

rw_registry_t *rw_registry_new(const char *url, int64_t timeout_ms,
                               char *errstr, size_t errstr_size) {
        rw_registry_t *reg = NULL, *ret = NULL;
        const rw_curl_t *cu;
        const char *auth, *auth_end, *at = NULL, *colon, *path_end;
        char cerr[320];
        size_t scheme_len;

        if (!(cu = rw_curl(cerr, sizeof(cerr)))) {
                rw_reg_errf(errstr, errstr_size, "schema registry: %s", cerr);
                goto done;
        }
        if (!strncasecmp(url, "http://", 7))
                scheme_len = 7;
        else if (!strncasecmp(url, "https://", 8))
                scheme_len = 8;
        else {
                rw_reg_errf(errstr, errstr_size, "schema registry: expected an http:// or "
                            "https:// URL");
                goto done;
        }
        auth = url + scheme_len;
        auth_end = auth + strcspn(auth, "/?#");
        for (const char *q = auth; q < auth_end; q++)
                if (*q == '@')
                        at = q;
        path_end = auth_end + strcspn(auth_end, "?#");
        if (*path_end) {
                rw_reg_errf(errstr, errstr_size, "schema registry: the URL must not have a "
                            "query or fragment");
                goto done;
        }
        if ((at ? at + 1 : auth) == auth_end) {
                rw_reg_errf(errstr, errstr_size, "schema registry: the URL has no host");
                goto done;
        }
        if (!(reg = calloc(1, sizeof(*reg))))
                goto nomem;
        reg->cu = cu;
        if (!(reg->curl = cu->easy_init()))
                goto nomem;
        /* scheme + host[:port] + path, without user info or trailing '/'. */
        while (path_end > auth_end && path_end[-1] == '/')
                path_end--;
        if (asprintf(&reg->base, "%.*s%.*s", (int)scheme_len, url,
                     (int)(path_end - (at ? at + 1 : auth)), at ? at + 1 : auth) < 0) {
                reg->base = NULL;
                goto nomem;
        }
        if (at) {
                colon = memchr(auth, ':', (size_t)(at - auth));
                if (!(reg->user = reg->cu->easy_unescape(reg->curl, auth,
                                                     (int)((colon ? colon : at) - auth), NULL)))
                        goto nomem;
                if (colon && !(reg->password = reg->cu->easy_unescape(
                                       reg->curl, colon + 1, (int)(at - colon - 1), NULL)))
                        goto nomem;
        }
        if (!(reg->hdr_get = reg->cu->slist_append(NULL, "Accept: application/vnd.schemaregistry"
                                               ".v1+json, application/vnd.schemaregistry+json, "
                                               "application/json")) ||
            !(reg->hdr_post = reg->cu->slist_append(NULL, "Accept: application/vnd."
                                                "schemaregistry.v1+json, application/vnd."
                                                "schemaregistry+json, application/json")) ||
            !(reg->hdr_post = reg->cu->slist_append(reg->hdr_post, "Content-Type: application/"
                                                "vnd.schemaregistry.v1+json")))
                goto nomem;

        reg->cu->easy_setopt(reg->curl, CURLOPT_NOSIGNAL, 1L);
        reg->cu->easy_setopt(reg->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        reg->cu->easy_setopt(reg->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
        reg->cu->easy_setopt(reg->curl, CURLOPT_ERRORBUFFER, reg->errbuf);
        reg->cu->easy_setopt(reg->curl, CURLOPT_WRITEFUNCTION, rw_reg_write_cb);
        reg->cu->easy_setopt(reg->curl, CURLOPT_WRITEDATA, reg);
        reg->cu->easy_setopt(reg->curl, CURLOPT_USERAGENT, "riskwatch/" RW_VERSION_STR);
        reg->cu->easy_setopt(reg->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (reg->user) {
                reg->cu->easy_setopt(reg->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                reg->cu->easy_setopt(reg->curl, CURLOPT_USERNAME, reg->user);
                reg->cu->easy_setopt(reg->curl, CURLOPT_PASSWORD,
                                 reg->password ? reg->password : "");
        }
        ret = reg;
        reg = NULL;
        goto done;
nomem:
        rw_reg_errf(errstr, errstr_size, "schema registry: out of memory");
done:
        rw_registry_destroy(reg);
        return ret;
}

void rw_registry_destroy(rw_registry_t *reg) {
        if (!reg)
                return;
        for (size_t i = 0; i < reg->cache_cnt; i++) {
                free(reg->cache[i].json);
                free(reg->cache[i].why);
        }
        free(reg->cache);
        free(reg->resp);
        reg->cu->slist_free_all(reg->hdr_post);
        reg->cu->slist_free_all(reg->hdr_get);
        if (reg->password) {
                memset(reg->password, 0, strlen(reg->password));
                reg->cu->free(reg->password);
        }
        if (reg->user)
                reg->cu->free(reg->user);
        if (reg->curl)
                reg->cu->easy_cleanup(reg->curl);
        free(reg->base);
        free(reg);
}

const char *rw_registry_url(const rw_registry_t *reg) {
        return reg->base;
}

static rw_reg_entry_t *rw_reg_cache_find(rw_registry_t *reg, int32_t id) {
        for (size_t i = 0; i < reg->cache_cnt; i++)
                if (reg->cache[i].id == id)
                        return &reg->cache[i];
        return NULL;
}

/* Remember an answer; takes ownership of json and why. Ids that have no
 * schema are bounded (a stream of random ids must not grow memory): past
 * RW_REG_NEG_MAX they are forgotten and asked for again. */
static void rw_reg_cache_add(rw_registry_t *reg, int32_t id, char *json, char *why) {
        if (!json && reg->neg_cnt >= RW_REG_NEG_MAX) {
                size_t k = 0;

                for (size_t i = 0; i < reg->cache_cnt; i++) {
                        if (reg->cache[i].json)
                                reg->cache[k++] = reg->cache[i];
                        else
                                free(reg->cache[i].why);
                }
                reg->cache_cnt = k;
                reg->neg_cnt = 0;
        }
        if (reg->cache_cnt == reg->cache_size) {
                size_t n = reg->cache_size ? reg->cache_size * 2 : 16;
                rw_reg_entry_t *nc = realloc(reg->cache, n * sizeof(*nc));

                if (!nc) {      /* not cached: asked for again next time */
                        free(json);
                        free(why);
                        return;
                }
                reg->cache = nc;
                reg->cache_size = n;
        }
        reg->cache[reg->cache_cnt++] = (rw_reg_entry_t){ id, json, why };
        if (!json)
                reg->neg_cnt++;
}

rw_err_t rw_registry_get_schema(rw_registry_t *reg, int32_t id, char **jsonp,
                                char *errstr, size_t errstr_size) {
        rw_reg_entry_t *e;
        char path[48], status_msg[320], why[512];
        char *schema = NULL, *type = NULL;
        int64_t code = 0;
        long status = 0;
        rw_err_t err;

        *jsonp = NULL;
        if ((e = rw_reg_cache_find(reg, id))) {
                if (!e->json) {
                        rw_reg_errf(errstr, errstr_size, "%s", e->why);
                        return RW_ERR_FAIL;
                }
                if (!(*jsonp = strdup(e->json))) {
                        rw_reg_errf(errstr, errstr_size, "out of memory");
                        return RW_ERR_NOMEM;
                }
                return RW_OK;
        }
        snprintf(path, sizeof(path), "/schemas/ids/%" PRId32, id);
        if ((err = rw_reg_request(reg, path, NULL, &status, errstr, errstr_size)))
                return err;

        if (status == 200) {
                if (!(schema = rw_json_member_str(reg->resp, reg->resp_len, "schema"))) {
                        rw_reg_errf(errstr, errstr_size, "schema registry %s: GET %s: "
                                    "the response has no \"schema\" string", reg->base, path);
                        return RW_ERR_IO;
                }
                type = rw_json_member_str(reg->resp, reg->resp_len, "schemaType");
                if (type && strcmp(type, "AVRO")) {
                        snprintf(why, sizeof(why), "schema registry %s: schema id %" PRId32
                                 " is a %.32s schema, not Avro", reg->base, id, type);
                        free(schema);
                        schema = NULL;
                        goto verdict;
                }
                free(type);
                if (!(*jsonp = strdup(schema))) {
                        free(schema);
                        rw_reg_errf(errstr, errstr_size, "out of memory");
                        return RW_ERR_NOMEM;
                }
                rw_reg_cache_add(reg, id, schema, NULL);
                return RW_OK;
        }

        rw_json_member_int(reg->resp, reg->resp_len, "error_code", &code);
        rw_reg_status_msg(reg, status, code, status_msg, sizeof(status_msg));
        /* Only the registry's own "not found" is a verdict about the id: a
         * bare 404 may be a wrong path in the URL, and 401, 403 or a 5xx
         * say nothing about the schema. */
        if (code == 40403 || (status == 404 && code / 100 == 404)) {
                snprintf(why, sizeof(why), "schema registry %s: schema id %" PRId32
                         " not found: %s", reg->base, id, status_msg);
                goto verdict;
        }
        rw_reg_errf(errstr, errstr_size, "schema registry %s: GET %s: %s%s", reg->base, path,
                    status_msg, status == 404 ? " without a registry error code (is the "
                    "URL's path right?)" : "");
        return RW_ERR_IO;

verdict:
        free(type);
        rw_reg_errf(errstr, errstr_size, "%s", why);
        if ((type = strdup(why)))
                rw_reg_cache_add(reg, id, NULL, type);      /* takes the copy */
        return RW_ERR_FAIL;
}

rw_err_t rw_registry_register(rw_registry_t *reg, const char *subject,
                              const char *schema_json, int32_t *idp,
                              char *errstr, size_t errstr_size) {
        char *esc = NULL, *path = NULL, *quoted = NULL, *body = NULL;
        char status_msg[320];
        int64_t id = -1, code = 0;
        long status = 0;
        rw_err_t err = RW_ERR_NOMEM;

        if (!(esc = reg->cu->easy_escape(reg->curl, subject, 0)) ||
            !(quoted = rw_json_quote(schema_json)))
                goto nomem;
        if (asprintf(&path, "/subjects/%s/versions", esc) < 0) {
                path = NULL;
                goto nomem;
        }
        if (asprintf(&body, "{\"schema\":%s}", quoted) < 0) {
                body = NULL;
                goto nomem;
        }
        if ((err = rw_reg_request(reg, path, body, &status, errstr, errstr_size)))
                goto done;
        if (status == 200) {
                if (rw_json_member_int(reg->resp, reg->resp_len, "id", &id) ||
                    id < 0 || id > INT32_MAX) {
                        rw_reg_errf(errstr, errstr_size, "schema registry %s: POST %s: the "
                                    "response has no schema id", reg->base, path);
                        err = RW_ERR_FAIL;
                        goto done;
                }
                *idp = (int32_t)id;
                err = RW_OK;
                goto done;
        }
        rw_json_member_int(reg->resp, reg->resp_len, "error_code", &code);
        rw_reg_status_msg(reg, status, code, status_msg, sizeof(status_msg));
        rw_reg_errf(errstr, errstr_size, "schema registry %s: POST %s: %s", reg->base, path,
                    status_msg);
        err = status >= 500 || status == 408 || status == 429 ? RW_ERR_IO : RW_ERR_FAIL;
        goto done;
nomem:
        rw_reg_errf(errstr, errstr_size, "out of memory");
done:
        free(body);
        free(quoted);
        free(path);
        if (esc)
                reg->cu->free(esc);
        return err;
}
