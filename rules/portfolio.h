/* portfolio.h - the dependency rules' portfolio arithmetic, pure: exact sums
 * of squares of 90-day totals, the HHI, the lowest total a share rule can
 * hold, and the 128-bit decimal form the sums of squares are stored in. */
#ifndef RW_PORTFOLIO_H
#define RW_PORTFOLIO_H

#include "common/rw.h"

/* Sums of squares of int64 totals: exact for any 2^63 subjects' worth of
 * totals below 2^63 (arithmetic is modulo 2^128, so a sum that only rises
 * and falls back by the same squares stays exact). */
typedef unsigned __int128 rw_u128_t;

/* v * v, exactly (INT64_MIN included). */
rw_u128_t rw_portfolio_sq(int64_t v);

/* The sum of squares after one subject's total moved from `old` to `val`. */
rw_u128_t rw_portfolio_sq_move(rw_u128_t sq, int64_t old, int64_t val);

/* Herfindahl-Hirschman index, 0..10000: 10000 x sq / sum^2; 0 when sum <= 0. */
double rw_portfolio_hhi(rw_u128_t sq, int64_t sum);

/* The lowest total worth deciding a share rule on when the totals add up to
 * `sum` and the rule warns at share `warn`: a little below warn x sum, so
 * rounding never drops a subject, as a whole number (what a sorted-set
 * range query compares scores with). */
double rw_portfolio_share_floor(double warn, int64_t sum);

/* Decimal form (no sign, no leading zeros); buf of at least 40 bytes. */
void rw_u128_fmt(rw_u128_t v, char *buf, size_t size);
/* The leading decimal digits of s (0 when none). */
rw_u128_t rw_u128_parse(const char *s);

#endif
