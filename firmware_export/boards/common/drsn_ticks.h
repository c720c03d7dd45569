/* drsn_ticks.h: 64-bit tick counters of the Cortex-M core itself, for timing inferences on any board.
 *
 * On silicon the DWT cycle counter counts core cycles (Cortex-M3 and up; the M0 has none). QEMU emulates
 * no DWT (its registers read 0), but it does emulate SysTick, and with -icount shift=0 SysTick counts
 * QEMU's virtual clock, which advances 1 ns per instruction: ticks * 1e9 / clock_hz = instructions. */
#ifndef DRSN_TICKS_H
#define DRSN_TICKS_H

#include <stdint.h>

/* Enable the DWT cycle counter; returns 1 if it counts (silicon), 0 if not (QEMU). */
int drsn_dwt_start(void);
/* Core cycles since drsn_dwt_start() (32 bits extended: call at least once per wrap, 25 s at 168 MHz). */
uint64_t drsn_dwt_ticks(void);
/* Start SysTick on the processor clock (24 bits, an interrupt at each wrap extends it). */
void drsn_systick_start(void);
/* SysTick ticks since drsn_systick_start(). */
uint64_t drsn_systick_ticks(void);

#endif
