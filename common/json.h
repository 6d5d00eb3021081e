/* json.h - JSON string output shared by every JSON line riskwatch prints. */
#ifndef RW_JSON_H
#define RW_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes, n >= 1), 0 if
 * invalid (overlong forms, surrogates, beyond U+10FFFF). */
size_t rw_utf8_len(const unsigned char *p, size_t n);

/* 1 if buf[0..len) is valid UTF-8. */
int rw_utf8_valid(const void *buf, size_t len);

/* buf[0..len) as a JSON string, quotes included (null when buf is NULL):
 * control characters escaped, bytes that are not UTF-8 become U+FFFD, so the
 * output is always valid JSON. */
void rw_json_write_bytes(FILE *fp, const void *buf, size_t len);

/* A NUL-terminated string (or NULL) as rw_json_write_bytes() writes it. */
void rw_json_write_str(FILE *fp, const char *s);

#endif
