/* capture.h - what the code under test writes to stderr (the logger), for
 * tests to read: fd 2 sent to a temporary file between begin and end.
 * Include after cmocka.h. */
#ifndef RW_TEST_CAPTURE_H
#define RW_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rw_capture_s {
        FILE *f;
        int saved;      /* the stderr to restore */
} rw_capture_t;

static inline void rw_capture_begin(rw_capture_t *c) {
        assert_non_null(c->f = tmpfile());
        fflush(stderr);
        assert_true((c->saved = dup(STDERR_FILENO)) >= 0);
        assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

/* Restores stderr; what was written meanwhile, NUL-terminated (caller
 * frees). */
static inline char *rw_capture_end(rw_capture_t *c) {
        long size;
        size_t n;
        char *buf;

        fflush(stderr);
        assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
        close(c->saved);
        assert_int_equal(fseek(c->f, 0, SEEK_END), 0);
        assert_true((size = ftell(c->f)) >= 0);
        assert_non_null(buf = malloc((size_t)size + 1));
        rewind(c->f);
        n = fread(buf, 1, (size_t)size, c->f);
        buf[n] = '\0';
        fclose(c->f);
        return buf;
}

#endif
