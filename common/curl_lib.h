/* curl_lib.h - libcurl's functions riskwatch calls, loaded on first use
 * (common/dl.h): the schema registry's and Alertmanager's HTTP client. */
#ifndef RW_CURL_LIB_H
#define RW_CURL_LIB_H

#include <curl/curl.h>

typedef struct rw_curl_s {
        CURLcode (*global_init)(long flags);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_perform)(CURL *curl);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        void (*easy_reset)(CURL *curl);
        void (*easy_cleanup)(CURL *curl);
        const char *(*easy_strerror)(CURLcode code);
        char *(*easy_escape)(CURL *curl, const char *s, int len);
        char *(*easy_unescape)(CURL *curl, const char *s, int len, int *outlen);
        void (*free)(void *p);
        struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
        void (*slist_free_all)(struct curl_slist *l);
} rw_curl_t;

/* libcurl, loaded and globally initialised once (thread-safe); NULL with
 * errstr set when it cannot be. */
const rw_curl_t *rw_curl(char *errstr, size_t errstr_size);

#endif
