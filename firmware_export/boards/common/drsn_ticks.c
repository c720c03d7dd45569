/* The tick counters of drsn_ticks.h. */
#include "drsn_ticks.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define DEMCR REG(0xE000EDFCu)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)
#define RELOAD 0xFFFFFFu

void SysTick_Handler(void);

static volatile uint32_t wraps;
static uint32_t cycles_high, cycles_last;

int drsn_dwt_start(void)
{
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    __asm volatile("nop\n\tnop\n\tnop\n\tnop" ::: "memory");
    return DWT_CYCCNT != 0;
}

uint64_t drsn_dwt_ticks(void)
{
    uint32_t now = DWT_CYCCNT;
    cycles_high += now < cycles_last;
    cycles_last = now;
    return ((uint64_t)cycles_high << 32) | now;
}

void drsn_systick_start(void)
{
    SYST_RVR = RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt at each wrap, enable */
}

void SysTick_Handler(void)
{
    wraps++;
}

uint64_t drsn_systick_ticks(void)
{
    uint32_t before, value;
    do {
        before = wraps;
        value = SYST_CVR;
    } while (before != wraps); /* a wrap in between has raised (and counted) its interrupt: read again */
    return ((uint64_t)before << 24) + (RELOAD - value);
}
