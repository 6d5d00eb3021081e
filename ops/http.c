/* http.c - the operations endpoints' HTTP server: libmicrohttpd on a
 * listening socket of our own (so that a bind error says why), its own
 * thread, GET and HEAD only. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "ops/http.h"

struct rw_http_s {
        struct MHD_Daemon *daemon;
        int fd;
        int port;
        rw_http_handler_t *handler;
        void *opaque;
};

static enum MHD_Result rw_http_serve(void *cls, struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     const char *version, const char *upload_data,
                                     size_t *upload_data_size, void **con_cls) {
        rw_http_t *http = cls;
        rw_http_reply_t reply = { .status = 404, .content_type = "text/plain; charset=utf-8" };
        struct MHD_Response *resp;
        enum MHD_Result ret;

        (void)version;
        (void)upload_data;
        (void)upload_data_size;
        (void)con_cls;
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
                reply.status = 405;
                reply.body = strdup("only GET and HEAD\n");
        } else {
                http->handler(http->opaque, url, &reply);
        }
        if (reply.body && !reply.len)
                reply.len = strlen(reply.body);
        resp = MHD_create_response_from_buffer(reply.len, reply.body ? reply.body : "",
                                               reply.body ? MHD_RESPMEM_MUST_FREE :
                                                            MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(reply.body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type);
        if (reply.status == 405)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        ret = MHD_queue_response(conn, (unsigned int)reply.status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* HOST:PORT, [IPV6]:PORT or :PORT into host (empty: any) and port. */
static int rw_http_split(const char *where, char *host, size_t host_size, char *port,
                         size_t port_size, char *errstr, size_t errstr_size) {
        const char *colon, *orig = where;
        size_t hlen;

        if (where[0] == '[') {
                const char *end = strchr(where, ']');
                if (!end || end[1] != ':') {
                        snprintf(errstr, errstr_size, "expected [IPV6]:PORT, got \"%s\"",
                                 where);
                        return -1;
                }
                hlen = (size_t)(end - where - 1);
                where++;
                colon = end + 1;
        } else {
                if (!(colon = strrchr(where, ':'))) {
                        snprintf(errstr, errstr_size, "expected HOST:PORT, got \"%s\"", where);
                        return -1;
                }
                hlen = (size_t)(colon - where);
        }
        if (hlen >= host_size || strlen(colon + 1) >= port_size || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535) {
                snprintf(errstr, errstr_size, "expected HOST:PORT with a port 0..65535, "
                         "got \"%s\"", orig);
                return -1;
        }
        memcpy(host, where, hlen);
        host[hlen] = '\0';
        snprintf(port, port_size, "%s", colon + 1);
        return 0;
}

rw_http_t *rw_http_start(const char *where, rw_http_handler_t *handler, void *opaque,
                         char *errstr, size_t errstr_size) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
        struct addrinfo *res = NULL;
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        char host[256], port[16];
        rw_http_t *http = NULL;
        int fd = -1, one = 1, gerr;

        if (rw_http_split(where, host, sizeof(host), port, sizeof(port), errstr, errstr_size))
                return NULL;
        if ((gerr = getaddrinfo(*host ? host : NULL, port, &hints, &res))) {
                snprintf(errstr, errstr_size, "%s: %s", host, gai_strerror(gerr));
                return NULL;
        }
        if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
            bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 64)) {
                snprintf(errstr, errstr_size, "cannot listen on %s: %s", where, strerror(errno));
                goto fail;
        }
        if (!(http = calloc(1, sizeof(*http)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        http->fd = fd;
        http->handler = handler;
        http->opaque = opaque;
        if (!getsockname(fd, (struct sockaddr *)&ss, &sslen))
                http->port = ntohs(ss.ss_family == AF_INET6 ?
                                   ((struct sockaddr_in6 *)&ss)->sin6_port :
                                   ((struct sockaddr_in *)&ss)->sin_port);
        if (!(http->daemon = MHD_start_daemon(
                      MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, rw_http_serve, http,
                      MHD_OPTION_LISTEN_SOCKET, fd,
                      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                      MHD_OPTION_END))) {
                snprintf(errstr, errstr_size, "cannot serve on %s: libmicrohttpd did not "
                         "start", where);
                goto fail;
        }
        freeaddrinfo(res);
        return http;
fail:
        free(http);
        if (fd >= 0)
                close(fd);
        freeaddrinfo(res);
        return NULL;
}

int rw_http_port(const rw_http_t *http) {
        return http ? http->port : 0;
}

void rw_http_stop(rw_http_t *http) {
        if (!http)
                return;
        MHD_stop_daemon(http->daemon);         /* closes the listening socket */
        free(http);
}
