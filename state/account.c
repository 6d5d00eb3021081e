/* account.c - the pure per-account arithmetic, mirror of state.lua's apply. */
#include <stdlib.h>
#include <string.h>
#include "state/account.h"

void rw_bucket_parse(int64_t day, const char *csv, rw_day_bucket_t *b) {
        double v[11] = { 0 };
        char *end;
        const char *p = csv;

        for (int i = 0; i < 11 && *p; i++) {
                v[i] = strtod(p, &end);
                if (end == p)
                        break;
                p = *end == ',' ? end + 1 : end;
        }
        *b = (rw_day_bucket_t){ .day = day,
                .placed = (int64_t)v[0], .placed_sum = (int64_t)v[1],
                .cancelled = (int64_t)v[2], .refunded = (int64_t)v[3],
                .refunded_sum = (int64_t)v[4], .tickets = (int64_t)v[5],
                .tickets_hot = (int64_t)v[6], .csat_sum = v[7],
                .csat_n = (int64_t)v[8], .sentiment_sum = v[9],
                .sentiment_n = (int64_t)v[10] };
}

static rw_day_bucket_t *rw_account_bucket(rw_account_view_t *av, int64_t day) {
        for (size_t i = 0; i < av->bucket_cnt; i++)
                if (av->buckets[i].day == day)
                        return &av->buckets[i];
        if (av->bucket_cnt == av->bucket_size) {
                size_t n = av->bucket_size ? av->bucket_size * 2 : 16;
                rw_day_bucket_t *nb = realloc(av->buckets, n * sizeof(*nb));
                if (!nb)
                        return NULL;
                av->buckets = nb;
                av->bucket_size = n;
        }
        av->buckets[av->bucket_cnt] = (rw_day_bucket_t){ .day = day };
        return &av->buckets[av->bucket_cnt++];
}

int rw_account_apply(rw_account_view_t *av, const rw_state_event_t *ev) {
        rw_day_bucket_t *b = rw_account_bucket(av, ev->occurred_at / RW_DAY_MS);

        if (!b)
                return -1;
        switch (ev->kind) {
        case 'P':
                b->placed++;
                b->placed_sum += ev->amount;
                if (++av->orders_total == 1 || ev->occurred_at < av->first_order)
                        av->first_order = ev->occurred_at;
                if (av->orders_total == 1 || ev->occurred_at > av->last_order)
                        av->last_order = ev->occurred_at;
                break;
        case 'C':
                b->cancelled++;
                break;
        case 'R':
                b->refunded++;
                b->refunded_sum += ev->amount;
                break;
        default:
                if (ev->kind == 'O' || ev->kind == 'X')
                        b->tickets++;
                if (ev->kind == 'E' || ev->amount == 3)
                        b->tickets_hot++;
                if (ev->extra[0]) {
                        const char *comma = strchr(ev->extra, ',');
                        if (ev->extra[0] != ',') {
                                b->csat_sum += strtod(ev->extra, NULL);
                                b->csat_n++;
                        }
                        if (comma && comma[1]) {
                                b->sentiment_sum += strtod(comma + 1, NULL);
                                b->sentiment_n++;
                        }
                }
                break;
        }
        return 0;
}

void rw_account_view_clear(rw_account_view_t *av) {
        free(av->account);
        free(av->buckets);
        memset(av, 0, sizeof(*av));
}
