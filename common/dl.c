/* dl.c - optional shared libraries (see dl.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "common/dl.h"

static pthread_mutex_t rw_dl_lock = PTHREAD_MUTEX_INITIALIZER;

static int rw_dl_open(rw_dl_lib_t *lib) {
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);

        if (!h) {
                snprintf(lib->err, sizeof(lib->err), "cannot load %s: %s", lib->soname,
                         dlerror());
                return -1;
        }
        for (size_t i = 0; i < lib->cnt; i++) {
                void *f = dlsym(h, lib->syms[i].name);
                if (!f) {
                        snprintf(lib->err, sizeof(lib->err), "%s has no %s", lib->soname,
                                 lib->syms[i].name);
                        dlclose(h);
                        return -1;
                }
                /* A function's address through an object pointer: POSIX
                 * guarantees they convert (dlsym() itself relies on it). */
                memcpy(lib->syms[i].slot, &f, sizeof(f));
        }
        return 0;       /* h stays open for the process' life */
}

int rw_dl_load(rw_dl_lib_t *lib, char *errstr, size_t errstr_size) {
        int rc;

        pthread_mutex_lock(&rw_dl_lock);
        if (!lib->state)
                lib->state = rw_dl_open(lib) ? -1 : 1;
        rc = lib->state > 0 ? 0 : -1;
        if (rc && errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s", lib->err);
        pthread_mutex_unlock(&rw_dl_lock);
        return rc;
}
