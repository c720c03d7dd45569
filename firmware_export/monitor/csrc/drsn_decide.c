/* drsn_decide.c: majority vote and alarm hysteresis (see drsn_decide.h). */
#include "drsn_decide.h"

void drsn_decide_reset(drsn_decider *d, uint32_t smooth, uint32_t raise_after, uint32_t clear_after, int32_t normal)
{
    d->smooth = smooth < 1 ? 1 : smooth > DRSN_SMOOTH_MAX ? DRSN_SMOOTH_MAX : smooth;
    d->raise_after = raise_after;
    d->clear_after = clear_after < 1 ? 1 : clear_after;
    d->normal = normal;
    d->count = d->next = 0;
    d->fault = d->alert = -1;
    d->streak = d->calm = 0;
}

static int32_t vote(const drsn_decider *d)
{
    int32_t best_class = -1;
    uint32_t best = 0;
    /* newest first, so among tied classes the most recent wins (strictly greater replaces) */
    for (uint32_t age = 0; age < d->count; age++) {
        int32_t c = d->recent[(d->next + d->smooth - 1 - age) % d->smooth];
        uint32_t n = 0;
        for (uint32_t i = 0; i < d->count; i++)
            n += d->recent[i] == c;
        if (n > best) {
            best = n;
            best_class = c;
        }
    }
    return best_class;
}

int32_t drsn_decide(drsn_decider *d, int32_t k, int32_t *alert, int *onset)
{
    d->recent[d->next] = k;
    d->next = (d->next + 1) % d->smooth;
    if (d->count < d->smooth)
        d->count++;
    int32_t smoothed = vote(d);
    *onset = 0;
    if (smoothed == d->normal) {
        d->fault = -1;
        d->streak = 0;
        d->calm++;
        if (d->alert >= 0 && d->calm >= d->clear_after)
            d->alert = -1;
    } else {
        d->calm = 0;
        if (smoothed == d->fault) {
            d->streak++;
        } else {
            d->fault = smoothed;
            d->streak = 1;
        }
        int alerting = d->raise_after > 0 && d->streak >= d->raise_after;
        *onset = alerting && d->streak == d->raise_after;
        d->alert = alerting ? d->fault : -1;
    }
    *alert = d->alert;
    return smoothed;
}
