/* STM32F405 board support for the monitoring firmware: clocks, USART1 and the inference timer.
 *
 * Clock: the PLL from the 16 MHz HSI to 168 MHz (M=16, N=336, P=2; APB2 84 MHz, APB1 42 MHz,
 * 5 flash wait states), so no crystal is assumed (the Netduino Plus 2 has 25 MHz, the Feather 12 MHz).
 * UART: USART1 on PA9 (TX) / PA10 (RX), alternate function 7, 115200 8N1, receive interrupt: every
 * byte goes to drsn_uart_byte(); overrun/noise/framing errors are counted. QEMU's netduinoplus2
 * connects its first -serial to USART1.
 * Timer: on silicon the DWT cycle counter (CYCCNT, core cycles at 168 MHz). QEMU models neither the
 * RCC (its registers read 0, so the reset value's HSIRDY bit tells the emulator from the chip) nor
 * the DWT; there the SysTick counts QEMU's 168 MHz virtual clock, which with -icount shift=0
 * advances 1 ns per instruction: ticks * 1e9 / 168e6 = instructions. */
#include "drsn_board.h"
#include "drsn_ticks.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_CR REG(0x40023800u)
#define RCC_PLLCFGR REG(0x40023804u)
#define RCC_CFGR REG(0x40023808u)
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB2ENR REG(0x40023844u)
#define FLASH_ACR REG(0x40023C00u)
#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_AFRH REG(0x40020024u)
#define USART1_SR REG(0x40011000u)
#define USART1_DR REG(0x40011004u)
#define USART1_BRR REG(0x40011008u)
#define USART1_CR1 REG(0x4001100Cu)
#define NVIC_ISER1 REG(0xE000E104u)

#define HSIRDY (1u << 1)
#define PLLON (1u << 24)
#define PLLRDY (1u << 25)
#define CORE_HZ 168000000u
#define APB2_HZ 84000000u
#define BAUD 115200u
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define SR_ERRORS 0xFu /* ORE, NF, FE, PE */
#define SPIN_LIMIT 1000000u

static drsn_board_info info = {"stm32f405", "dwt-cyccnt", CORE_HZ, CORE_HZ, 0};
static volatile uint32_t uart_errors;

static void clock_168mhz(void)
{
    FLASH_ACR = (1u << 8) | (1u << 9) | (1u << 10) | 5u; /* prefetch, I/D caches, 5 wait states */
    RCC_PLLCFGR = 16u | (336u << 6) | (0u << 16) | (0u << 22) | (7u << 24); /* HSI, M16 N336 P2 Q7 */
    RCC_CR |= PLLON;
    for (uint32_t spin = 0; !(RCC_CR & PLLRDY) && spin < SPIN_LIMIT; spin++)
        ;
    RCC_CFGR = (RCC_CFGR & ~0xFCF3u) | (5u << 10) | (4u << 13) | 2u; /* APB1 /4, APB2 /2, SYSCLK = PLL */
    for (uint32_t spin = 0; (RCC_CFGR & 0xCu) != 0x8u && spin < SPIN_LIMIT; spin++)
        ;
}

static void uart_init(void)
{
    RCC_AHB1ENR |= 1u;        /* GPIOA */
    RCC_APB2ENR |= 1u << 4;   /* USART1 */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 18)) | (0xAu << 18);     /* PA9, PA10: alternate function */
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4)) | (0x77u << 4);       /* AF7: USART1 */
    USART1_BRR = (APB2_HZ + BAUD / 2) / BAUD;
    USART1_CR1 = (1u << 13) | (1u << 5) | (1u << 3) | (1u << 2);    /* UE, RXNEIE, TE, RE */
    NVIC_ISER1 = 1u << (DRSN_UART_IRQ - 32); /* DRSN_UART_IRQ: board.mk */
}

const drsn_board_info *drsn_board_init(void)
{
    info.emulated = (RCC_CR & HSIRDY) == 0;
    if (info.emulated) {
        info.timer = "systick";
        drsn_systick_start();
    } else {
        clock_168mhz();
        drsn_dwt_start();
    }
    uart_init();
    return &info;
}

uint64_t drsn_board_ticks(void)
{
    return info.emulated ? drsn_systick_ticks() : drsn_dwt_ticks();
}

void drsn_uart_irq(void) /* USART1 */
{
    uint32_t sr = USART1_SR;
    if (sr & SR_ERRORS)
        uart_errors++;
    if (sr & (SR_RXNE | SR_ERRORS))
        drsn_uart_byte((uint8_t)USART1_DR); /* reading DR clears RXNE and the error flags */
}

void drsn_board_write(const char *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (!(USART1_SR & SR_TXE))
            ;
        USART1_DR = (uint8_t)bytes[i];
    }
}

uint32_t drsn_board_uart_errors(void)
{
    return uart_errors;
}

void drsn_board_idle(void)
{
    __asm volatile("wfi");
}
