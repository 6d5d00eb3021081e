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
#include "common/dl.h"
#include "ops/http.h"

#ifndef RW_MHD_SONAME
#define RW_MHD_SONAME "libmicrohttpd.so.12"
#endif

/* libmicrohttpd's functions, loaded when a server first starts
 * (common/dl.h): a process serving no endpoint does not map it, nor the TLS
 * libraries it pulls in. */
static struct {
        struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                           MHD_AcceptPolicyCallback apc, void *apc_cls,
                                           MHD_AccessHandlerCallback dh, void *dh_cls, ...);
        void (*stop_daemon)(struct MHD_Daemon *daemon);
        struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                             enum MHD_ResponseMemoryMode mode);
        enum MHD_Result (*add_response_header)(struct MHD_Response *response,
                                               const char *header, const char *content);
        enum MHD_Result (*queue_response)(struct MHD_Connection *connection,
                                          unsigned int status_code,
                                          struct MHD_Response *response);
        void (*destroy_response)(struct MHD_Response *response);
} mhd;

#define RW_SYM(f) { "MHD_" #f, (void *)&mhd.f }
static const rw_dl_sym_t rw_mhd_syms[] = {
        RW_SYM(start_daemon), RW_SYM(stop_daemon), RW_SYM(create_response_from_buffer),
        RW_SYM(add_response_header), RW_SYM(queue_response), RW_SYM(destroy_response),
};
#undef RW_SYM

static rw_dl_lib_t rw_mhd_lib = {
        .soname = RW_MHD_SONAME, .syms = rw_mhd_syms,
        .cnt = sizeof(rw_mhd_syms) / sizeof(rw_mhd_syms[0]),
};

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
        resp = mhd.create_response_from_buffer(reply.len, reply.body ? reply.body : "",
                                               reply.body ? MHD_RESPMEM_MUST_FREE :
                                                            MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(reply.body);
                return MHD_NO;
        }
        mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type);
        if (reply.status == 405)
                mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        ret = mhd.queue_response(conn, (unsigned int)reply.status, resp);
        mhd.destroy_response(resp);
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

        if (rw_http_split(where, host, sizeof(host), port, sizeof(port), errstr, errstr_size) ||
            rw_dl_load(&rw_mhd_lib, errstr, errstr_size))
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
        if (!(http->daemon = mhd.start_daemon(
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
        mhd.stop_daemon(http->daemon);         /* closes the listening socket */
        free(http);
}
