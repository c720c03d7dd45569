/* drsn_decide.h: smoothing and the alarm, with the Pi runner's semantics (drsn_runner_lib/decide.py).
 *
 * smoothed: majority vote over the last `smooth` classes, ties to the most recent of the tied.
 * alarm: raised when one fault class has been the smoothed class for `raise_after` windows in a row;
 * cleared after `clear_after` smoothed-normal windows in a row (1, the default, is the Pi runner's:
 * the first normal window clears it), or when another fault class takes over (as the Pi runner). */
#ifndef DRSN_DECIDE_H
#define DRSN_DECIDE_H

#include <stdint.h>

#define DRSN_SMOOTH_MAX 64

typedef struct {
    uint32_t smooth, raise_after, clear_after; /* raise_after 0: no alarm */
    int32_t normal;                            /* the healthy class, -1 if none */
    int32_t recent[DRSN_SMOOTH_MAX];
    uint32_t count, next;
    int32_t fault, alert;
    uint32_t streak, calm;
} drsn_decider;

void drsn_decide_reset(drsn_decider *d, uint32_t smooth, uint32_t raise_after, uint32_t clear_after, int32_t normal);
/* One window's class -> the smoothed class; *alert is the class in alarm or -1; returns 1 in *onset
 * when the alarm starts with this window. */
int32_t drsn_decide(drsn_decider *d, int32_t k, int32_t *alert, int *onset);

#endif
