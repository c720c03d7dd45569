/* drsn_stream.c: the sample ring (see drsn_stream.h). The write counter belongs to the producer,
 * the read counter to the consumer; both only grow, so full/empty need no shared flag. */
#include "drsn_stream.h"

static float ring[DRSN_STREAM_CAPACITY];
static volatile uint32_t written, consumed; /* samples ever written / ever released */
static volatile uint32_t non_finite, overruns;
static uint32_t hop_samples = DRSN_WINDOW_LENGTH, skip;

static int is_finite_sample(float x)
{
    return x == x && x - x == 0.0f; /* false for NaN and for +-Inf (Inf - Inf is NaN) */
}

void drsn_stream_reset(uint32_t hop)
{
    written = consumed = 0;
    non_finite = overruns = 0;
    hop_samples = hop ? hop : 1;
    skip = 0;
}

void drsn_stream_push(const float *samples, uint32_t n)
{
    uint32_t w = written;
    for (uint32_t i = 0; i < n; i++) {
        if (!is_finite_sample(samples[i])) {
            non_finite++;
        } else if (w - consumed >= DRSN_STREAM_CAPACITY) {
            overruns++;
        } else {
            ring[w % DRSN_STREAM_CAPACITY] = samples[i];
            w++;
        }
    }
    __asm volatile("" ::: "memory"); /* the samples are in the ring before the counter says so */
    written = w;
}

int drsn_stream_window(float window[DRSN_WINDOW_LENGTH], uint32_t *start)
{
    uint32_t r = consumed, w = written;
    if (skip) { /* a hop longer than the window: drop the samples between windows as they arrive */
        uint32_t dropped = w - r < skip ? w - r : skip;
        skip -= dropped;
        consumed = r = r + dropped;
    }
    if (skip || w - r < DRSN_WINDOW_LENGTH)
        return 0;
    for (uint32_t i = 0; i < DRSN_WINDOW_LENGTH; i++)
        window[i] = ring[(r + i) % DRSN_STREAM_CAPACITY];
    *start = r;
    uint32_t step = hop_samples < DRSN_WINDOW_LENGTH ? hop_samples : DRSN_WINDOW_LENGTH;
    skip = hop_samples - step;
    __asm volatile("" ::: "memory");
    consumed = r + step;
    return 1;
}

int drsn_stream_ready(void)
{
    return written - consumed >= skip + DRSN_WINDOW_LENGTH;
}

drsn_stream_counts drsn_stream_counts_now(void)
{
    drsn_stream_counts c = {written, non_finite, overruns};
    return c;
}
