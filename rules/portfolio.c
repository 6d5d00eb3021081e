/* portfolio.c - the dependency rules' portfolio arithmetic (see portfolio.h). */
#include <stdio.h>
#include <stdlib.h>
#include "rules/portfolio.h"

rw_u128_t rw_portfolio_sq(int64_t v) {
        rw_u128_t a = (rw_u128_t)(v < 0 ? -(__int128)v : (__int128)v);
        return a * a;
}

rw_u128_t rw_portfolio_sq_move(rw_u128_t sq, int64_t old, int64_t val) {
        return sq - rw_portfolio_sq(old) + rw_portfolio_sq(val);
}

double rw_portfolio_hhi(rw_u128_t sq, int64_t sum) {
        if (sum <= 0)
                return 0;
        return (double)sq / ((double)sum * (double)sum) * 1e4;
}

double rw_portfolio_share_floor(double warn, int64_t sum) {
        char lo[48];
        snprintf(lo, sizeof(lo), "%.0f", warn * (double)sum * (1.0 - 1e-9) - 1.0);
        return strtod(lo, NULL);
}

void rw_u128_fmt(rw_u128_t v, char *buf, size_t size) {
        char tmp[48];
        size_t n = 0;
        if (!size)
                return;
        do {
                tmp[n++] = (char)('0' + (int)(v % 10));
                v /= 10;
        } while (v);
        for (size_t i = 0; i < n && i + 1 < size; i++)
                buf[i] = tmp[n - 1 - i];
        buf[n < size ? n : size - 1] = '\0';
}

rw_u128_t rw_u128_parse(const char *s) {
        rw_u128_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (rw_u128_t)(*s - '0');
        return v;
}
