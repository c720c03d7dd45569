/* Reset handler and vector table of the STM32F405 (Cortex-M4F, 82 interrupts), built with -nostartfiles:
 * enable the FPU, copy .data, zero .bss, call main. A fault resets the chip through the SCB instead of
 * hanging (the monitor keeps no state worth a hang). */
#include <stdint.h>
#include <string.h>

extern int main(void);
extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start, __bss_end;

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void USART1_IRQHandler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
#define IRQS 82
#define USART1_IRQ 37

void Reset_Handler(void)
{
    SCB_CPACR |= 0xFu << 20; /* coprocessors 10 and 11: the FPU */
    __asm volatile("dsb\n\tisb" ::: "memory");
    memcpy(&__data_start, &__data_load, (size_t)((char *)&__data_end - (char *)&__data_start));
    memset(&__bss_start, 0, (size_t)((char *)&__bss_end - (char *)&__bss_start));
    main();
    for (;;)
        __asm volatile("wfi");
}

void Default_Handler(void)
{
    SCB_AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
    for (;;)
        ;
}

__attribute__((section(".isr_vector"), used))
static void (*const vector_table[16 + IRQS])(void) = {
    [0] = (void (*)(void))(uintptr_t)&__stack_top,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + USART1_IRQ - 1] = Default_Handler,
    [16 + USART1_IRQ] = USART1_IRQHandler,
    [16 + USART1_IRQ + 1 ... 16 + IRQS - 1] = Default_Handler,
};
