/* Reset handler, default handler and vector table of every board, built with -nostartfiles.
 *
 * The reset handler does what a C runtime's crt0 would: enable the FPU when the image uses one (a
 * hard-float image faults at its first float instruction otherwise; on the Cortex-M55 this also
 * enables Helium), copy .data from flash, zero .bss and call drsn_start(): main() for the monitoring
 * firmware; the file harness of mps2_an386 replaces it (semihosting stdio, argv, exit status).
 * A fault or an unexpected interrupt ends in drsn_fault(): a reset through the SCB (the monitor keeps no
 * state worth a hang); the harness replaces it to end QEMU with a distinctive status.
 *
 * The board's build says how many external interrupts its vector table has (DRSN_IRQS) and, when the
 * board has a UART, which one is its receive interrupt (DRSN_UART_IRQ, served by drsn_uart_irq()). */
#include <stdint.h>
#include <string.h>

#ifndef DRSN_IRQS
#define DRSN_IRQS 32
#endif

extern int main(void);
extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start, __bss_end;

void Reset_Handler(void);
void Default_Handler(void);
void drsn_start(void);
void drsn_fault(void);
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void drsn_uart_irq(void) __attribute__((weak, alias("Default_Handler")));

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)

__attribute__((weak)) void drsn_start(void)
{
    main();
}

__attribute__((weak)) void drsn_fault(void)
{
    SCB_AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
    for (;;)
        ;
}

void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= 0xFu << 20; /* full access to coprocessors 10 and 11: the FPU (and Helium) */
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    memcpy(&__data_start, &__data_load, (size_t)((char *)&__data_end - (char *)&__data_start));
    memset(&__bss_start, 0, (size_t)((char *)&__bss_end - (char *)&__bss_start));
    drsn_start();
    for (;;)
        __asm volatile("wfi");
}

void Default_Handler(void)
{
    drsn_fault();
}

/* Everything Default_Handler, then the two handlers a board may have put in their places. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used))
static void (*const vector_table[16 + DRSN_IRQS])(void) = {
    [0] = (void (*)(void))(uintptr_t)&__stack_top,
    [1] = Reset_Handler,
    [2 ... 16 + DRSN_IRQS - 1] = Default_Handler,
    [15] = SysTick_Handler,
#ifdef DRSN_UART_IRQ
    [16 + DRSN_UART_IRQ] = drsn_uart_irq,
#endif
};
#pragma GCC diagnostic pop
