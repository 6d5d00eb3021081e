/* json.c - JSON string output shared by every JSON line riskwatch prints. */
#include <stdint.h>
#include <string.h>
#include "common/json.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
size_t rw_utf8_len(const unsigned char *p, size_t n) {
        size_t len, i;
        uint32_t cp;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                len = 2;
                cp = p[0] & 0x1f;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                len = 3;
                cp = p[0] & 0x0f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                len = 4;
                cp = p[0] & 0x07;
        } else {
                return 0;
        }
        if (len > n)
                return 0;
        for (i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        /* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                return 0;
        return len;
}

/* 1 if buf[0..len) is valid UTF-8. */
int rw_utf8_valid(const void *buf, size_t len) {
        const unsigned char *p = buf;
        size_t i = 0, l;

        while (i < len) {
                if (!(l = rw_utf8_len(p + i, len - i)))
                        return 0;
                i += l;
        }
        return 1;
}

/* buf[0..len) as a JSON string (null when buf is NULL); bytes that are not
 * UTF-8 become U+FFFD, so the line stays valid JSON. */
void rw_json_write_bytes(FILE *fp, const void *buf, size_t len) {
        const unsigned char *p = buf;
        size_t i = 0, l;

        if (!buf) {
                fputs("null", fp);
                return;
        }
        putc('"', fp);
        while (i < len) {
                unsigned char c = p[i];

                if (!(l = rw_utf8_len(p + i, len - i))) {
                        fputs("\\ufffd", fp);
                        i++;
                        continue;
                }
                if (l > 1) {
                        fwrite(p + i, 1, l, fp);
                        i += l;
                        continue;
                }
                switch (c) {
                case '"':  fputs("\\\"", fp); break;
                case '\\': fputs("\\\\", fp); break;
                case '\b': fputs("\\b", fp); break;
                case '\f': fputs("\\f", fp); break;
                case '\n': fputs("\\n", fp); break;
                case '\r': fputs("\\r", fp); break;
                case '\t': fputs("\\t", fp); break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                fprintf(fp, "\\u%04x", c);
                        else
                                putc(c, fp);
                }
                i++;
        }
        putc('"', fp);
}

void rw_json_write_str(FILE *fp, const char *s) {
        rw_json_write_bytes(fp, s, s ? strlen(s) : 0);
}
