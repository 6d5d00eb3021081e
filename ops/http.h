/* http.h - a small HTTP server for the operations endpoints, on
 * libmicrohttpd's own thread: GET requests in, the handler's reply out. */
#ifndef RW_HTTP_H
#define RW_HTTP_H

#include <stddef.h>

typedef struct rw_http_s rw_http_t;

/* A handler's reply: status, body (malloc'd, the server frees it; NULL:
 * empty), content type (a literal). */
typedef struct rw_http_reply_s {
        int status;
        char *body;
        size_t len;
        const char *content_type;
} rw_http_reply_t;

/* Called on the server's thread for every GET (or HEAD) of `path`. */
typedef void (rw_http_handler_t)(void *opaque, const char *path, rw_http_reply_t *reply);

/* Listen on `listen` ("HOST:PORT", "[IPV6]:PORT", ":PORT" for every
 * interface; port 0 picks a free one) and serve. NULL + errstr when the
 * address is malformed or cannot be bound. */
rw_http_t *rw_http_start(const char *listen, rw_http_handler_t *handler, void *opaque,
                         char *errstr, size_t errstr_size);
/* The port bound. */
int rw_http_port(const rw_http_t *http);
/* Stops serving and frees. NULL-safe. */
void rw_http_stop(rw_http_t *http);

#endif
