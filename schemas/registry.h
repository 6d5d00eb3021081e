/* registry.h - a client of a Confluent-compatible schema registry: writer
 * schemas by id, and registration of the schemas riskwatch writes. */
#ifndef RW_REGISTRY_H
#define RW_REGISTRY_H

#include "common/rw.h"

typedef struct rw_registry_s rw_registry_t;

/* A client of the registry at `url` (`http(s)://[user[:password]@]host[:port][/path]`;
 * user and password, `%XX`-escaped, are sent as HTTP basic authentication
 * and never appear in messages). `timeout_ms` bounds each request, connect
 * included. One connection, reused; not thread-safe: one thread at a time.
 * Returns NULL and fills errstr on a malformed URL or out of memory. */
rw_registry_t *rw_registry_new(const char *url, int64_t timeout_ms,
                               char *errstr, size_t errstr_size);
/* NULL-safe. */
void rw_registry_destroy(rw_registry_t *reg);

/* The registry's URL without credentials, for messages. */
const char *rw_registry_url(const rw_registry_t *reg);

/* The writer schema (JSON text) registered under `id`: GET /schemas/ids/{id}.
 * Answers are cached per id, so an id is asked for once (a 404 too).
 * Returns
 *   RW_OK        *jsonp is the schema, malloc()ed: the caller frees it;
 *   RW_ERR_FAIL  a definite answer that there is no Avro schema for `id`:
 *                the registry's "not found" (a 404 with error code 40403),
 *                or a schema of another type (PROTOBUF, JSON);
 *   RW_ERR_IO    no answer about `id`: unreachable, timeout, 5xx, or any
 *                other response (401, a 404 without a registry error code,
 *                i.e. probably a wrong path in the URL, ...) - retriable.
 * On failure errstr says why, naming the registry by rw_registry_url(). */
rw_err_t rw_registry_get_schema(rw_registry_t *reg, int32_t id, char **jsonp,
                                char *errstr, size_t errstr_size);

/* Register `schema_json` under `subject` (POST /subjects/{subject}/versions)
 * and return its id in *idp; a schema already registered under the subject
 * gets its existing id. Returns RW_OK, RW_ERR_IO (unreachable, timeout, 5xx,
 * 408, 429: retriable) or RW_ERR_FAIL (any other refusal, e.g. 409
 * incompatible, 422 invalid, 401/403), with errstr. */
rw_err_t rw_registry_register(rw_registry_t *reg, const char *subject,
                              const char *schema_json, int32_t *idp,
                              char *errstr, size_t errstr_size);

/* JSON helpers, exposed for unit tests. rw_json_member_str(): the string
 * value of top-level member `key` of the object `json`, unescaped and
 * malloc()ed (caller frees); NULL if absent, not a string, or `json` is not
 * an object. rw_json_member_int(): the integer value of member `key`;
 * 0 on success, -1 otherwise. rw_json_quote(): `s` as a JSON string literal,
 * malloc()ed; NULL on out of memory. */
char *rw_json_member_str(const char *json, size_t len, const char *key);
int rw_json_member_int(const char *json, size_t len, const char *key, int64_t *valp);
char *rw_json_quote(const char *s);

#endif
