/* Instructions per drsn_classify() call under QEMU with -icount shift=0.
 *
 * QEMU does not emulate the DWT cycle counter, but with -icount shift=0 its
 * virtual clock advances exactly 1 ns per executed instruction, and the board's
 * CMSDK APB timer 0 (0x40000000, clocked at 25 MHz) counts that virtual time: one
 * timer tick is 40 instructions. The image is linked with
 * -Wl,--wrap=drsn_classify, so the harness's calls land here; each one is timed
 * and at exit one line goes to stderr:
 *   drsn-qemu: calls=N ticks=T min=A max=B ns_per_tick=40
 * The runner turns T * 40 / N into instructions per inference (resolution 40).
 * Built with -DDRSN_PROFILE (make PROFILE=1), drsn_classify() marks the end of the preprocessing and
 * of each op (drsn_profile_mark); the ticks since the previous mark are summed per step, and at exit
 * one line per step that took time follows:
 *   drsn-profile: step=S ticks=T          (S = -1: preprocessing; the mark's own call is included) */
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

#ifdef DRSN_PROFILE
static uint32_t last_mark;
static uint64_t step_ticks[DRSN_NUM_STEPS + 1]; /* [0]: preprocessing */

void drsn_profile_mark(int32_t step)
{
    uint32_t now = TIMER0_VALUE;
    if (step >= -1 && step < DRSN_NUM_STEPS) step_ticks[step + 1] += last_mark - now;
    last_mark = now;
}

static void report_steps(void)
{
    int32_t i;
    for (i = 0; i <= DRSN_NUM_STEPS; ++i)
        if (step_ticks[i] != 0)
            fprintf(stderr, "drsn-profile: step=%ld ticks=%llu\n", (long)(i - 1), (unsigned long long)step_ticks[i]);
}
#define START_MARK() (last_mark = TIMER0_VALUE)
#else
#define START_MARK() ((void)0)
static void report_steps(void) {}
#endif

static void report(void)
{
    fprintf(stderr, "drsn-qemu: calls=%lu ticks=%llu min=%lu max=%lu ns_per_tick=%d\n",
            (unsigned long)stats.calls, (unsigned long long)stats.ticks,
            (unsigned long)(stats.calls ? stats.min : 0), (unsigned long)stats.max, NS_PER_TICK);
    report_steps();
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
    START_MARK();
    int result = __real_drsn_classify(window, logits);
    uint32_t ticks = before - TIMER0_VALUE;
    stats.calls++;
    stats.ticks += ticks;
    stats.min = ticks < stats.min ? ticks : stats.min;
    stats.max = ticks > stats.max ? ticks : stats.max;
    return result;
}
