/* dl.h - optional shared libraries, mapped when a feature first needs them.
 *
 * libcurl (the schema registry, Alertmanager) and libmicrohttpd (the
 * operations endpoints), with what they pull in (gnutls, krb5, ldap, nettle,
 * ...), were 4 MiB of every process's resident memory when linked: a run
 * that uses neither does not map them now. Their headers still declare the
 * types; each user resolves the functions it calls into a table. */
#ifndef RW_DL_H
#define RW_DL_H

#include <stddef.h>

/* One function: its name and where its address goes (a function pointer's
 * address, as void *). */
typedef struct rw_dl_sym_s {
        const char *name;
        void *slot;
} rw_dl_sym_t;

/* A library: its SONAME, its functions, and what loading it gave. */
typedef struct rw_dl_lib_s {
        const char *soname;
        const rw_dl_sym_t *syms;
        size_t cnt;
        int state;              /* 0: not tried, 1: loaded, -1: failed */
        char err[300];
} rw_dl_lib_t;

/* dlopen() lib and resolve all its functions, once (thread-safe): 0, or -1
 * with errstr saying which library and what failed (later calls fail
 * alike, without trying again). */
int rw_dl_load(rw_dl_lib_t *lib, char *errstr, size_t errstr_size);

#endif
