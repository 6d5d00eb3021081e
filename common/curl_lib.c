/* curl_lib.c - libcurl loaded on first use (see curl_lib.h). */
#include <pthread.h>
#include <stdio.h>
#include "common/curl_lib.h"
#include "common/dl.h"

#ifndef RW_CURL_SONAME
#define RW_CURL_SONAME "libcurl.so.4"
#endif

static rw_curl_t rw_curl_fns;

#define RW_SYM(f) { "curl_" #f, (void *)&rw_curl_fns.f }
static const rw_dl_sym_t rw_curl_syms[] = {
        RW_SYM(global_init), RW_SYM(easy_init), RW_SYM(easy_setopt),
        RW_SYM(easy_perform), RW_SYM(easy_getinfo), RW_SYM(easy_reset),
        RW_SYM(easy_cleanup), RW_SYM(easy_strerror), RW_SYM(easy_escape),
        RW_SYM(easy_unescape), RW_SYM(free), RW_SYM(slist_append),
        RW_SYM(slist_free_all),
};
#undef RW_SYM

static rw_dl_lib_t rw_curl_lib = {
        .soname = RW_CURL_SONAME, .syms = rw_curl_syms,
        .cnt = sizeof(rw_curl_syms) / sizeof(rw_curl_syms[0]),
};

static pthread_once_t rw_curl_once = PTHREAD_ONCE_INIT;
static CURLcode rw_curl_init_err = CURLE_FAILED_INIT;

/* curl_global_init() is not thread-safe in every libcurl: once, before any
 * handle, from whichever thread comes first. */
static void rw_curl_global_init(void) {
        rw_curl_init_err = rw_curl_fns.global_init(CURL_GLOBAL_DEFAULT);
}

const rw_curl_t *rw_curl(char *errstr, size_t errstr_size) {
        if (rw_dl_load(&rw_curl_lib, errstr, errstr_size))
                return NULL;
        pthread_once(&rw_curl_once, rw_curl_global_init);
        if (rw_curl_init_err != CURLE_OK) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "libcurl: %s",
                                 rw_curl_fns.easy_strerror(rw_curl_init_err));
                return NULL;
        }
        return &rw_curl_fns;
}
