/* Instructions per drsn_classify() call under QEMU with -icount shift=0.
 *
 * QEMU does not emulate the DWT cycle counter, but with -icount shift=0 its
 * virtual clock advances exactly 1 ns per executed instruction, and the board's
 * CMSDK APB timer 0 (0x40000000, clocked at 25 MHz) counts that virtual time: one
 * timer tick is 40 instructions. The image is linked with
 * -Wl,--wrap=drsn_classify, so the harness's calls land here; each one is timed
 * and at exit one line goes to stderr:
 *   drsn-qemu: calls=N ticks=T min=A max=B ns_per_tick=40
 * The runner turns T * 40 / N into instructions per inference (resolution 40). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "drsn_model.h"

#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008u)
#define NS_PER_TICK 40 /* 25 MHz */

int __real_drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES]);
int __wrap_drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES]);

static struct {
    int started;
    uint32_t calls;
    uint64_t ticks;
    uint32_t min, max;
} stats = {0, 0, 0, UINT32_MAX, 0};

static void report(void)
{
    fprintf(stderr, "drsn-qemu: calls=%lu ticks=%llu min=%lu max=%lu ns_per_tick=%d\n",
            (unsigned long)stats.calls, (unsigned long long)stats.ticks,
            (unsigned long)(stats.calls ? stats.min : 0), (unsigned long)stats.max, NS_PER_TICK);
}

static void start_timer(void)
{
    stats.started = 1;
    TIMER0_CTRL = 0;
    TIMER0_RELOAD = UINT32_MAX;
    TIMER0_VALUE = UINT32_MAX;
    TIMER0_CTRL = 1; /* enable, internal clock, no interrupt */
    atexit(report);
}

int __wrap_drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES])
{
    if (!stats.started)
        start_timer();
    uint32_t before = TIMER0_VALUE; /* counts down */
    int result = __real_drsn_classify(window, logits);
    uint32_t ticks = before - TIMER0_VALUE;
    stats.calls++;
    stats.ticks += ticks;
    stats.min = ticks < stats.min ? ticks : stats.min;
    stats.max = ticks > stats.max ? ticks : stats.max;
    return result;
}
