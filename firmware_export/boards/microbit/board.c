/* micro:bit (nRF51822) board support for the monitoring firmware: clock, UART0 and the inference timer.
 *
 * Clock: the 16 MHz crystal (CLOCK TASKS_HFCLKSTART; the core runs at 16 MHz either way).
 * UART: UART0 on P0.24 (TX) / P0.25 (RX), the pins of the micro:bit's USB serial bridge, 115200 8N1,
 * RXDRDY interrupt: every byte goes to drsn_uart_byte(); ERRORSRC (overrun, framing, ...) is counted.
 * Timer: the Cortex-M0 has no DWT cycle counter; TIMER0 runs at 16 MHz, on silicon one tick per core cycle.
 * QEMU models the UART and TIMER but stubs the CLOCK block (every register reads 1; on the chip XTALFREQ
 * resets to 0xFF: that tells the emulator from the chip); there the timer counts the virtual clock, which
 * with -icount shift=0 advances 1 ns per instruction: ticks * 62.5 = instructions. */
#include "drsn_board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define CLOCK_HFCLKSTART REG(0x40000000u)
#define CLOCK_HFCLKSTARTED REG(0x40000100u)
#define CLOCK_XTALFREQ REG(0x40000550u)
#define UART_STARTRX REG(0x40002000u)
#define UART_STARTTX REG(0x40002008u)
#define UART_RXDRDY REG(0x40002108u)
#define UART_TXDRDY REG(0x4000211Cu)
#define UART_ERROR REG(0x40002124u)
#define UART_INTENSET REG(0x40002304u)
#define UART_ERRORSRC REG(0x40002480u)
#define UART_ENABLE REG(0x40002500u)
#define UART_PSELTXD REG(0x4000250Cu)
#define UART_PSELRXD REG(0x40002514u)
#define UART_RXD REG(0x40002518u)
#define UART_TXD REG(0x4000251Cu)
#define UART_BAUDRATE REG(0x40002524u)
#define TIMER_START REG(0x40008000u)
#define TIMER_CLEAR REG(0x4000800Cu)
#define TIMER_CAPTURE0 REG(0x40008040u)
#define TIMER_MODE REG(0x40008504u)
#define TIMER_BITMODE REG(0x40008508u)
#define TIMER_PRESCALER REG(0x40008510u)
#define TIMER_CC0 REG(0x40008540u)
#define NVIC_ISER REG(0xE000E100u)

#define CORE_HZ 16000000u
#define TX_PIN 24u
#define RX_PIN 25u
#define BAUD_115200 0x01D7E000u
#define INT_RXDRDY (1u << 2)
#define INT_ERROR (1u << 9)
#define SPIN_LIMIT 100000u

static drsn_board_info info = {"microbit", "timer0", CORE_HZ, CORE_HZ, 0};
static volatile uint32_t uart_errors;
static uint32_t ticks_high, ticks_last;

const drsn_board_info *drsn_board_init(void)
{
    info.emulated = CLOCK_XTALFREQ == 1;
    CLOCK_HFCLKSTART = 1;
    for (uint32_t spin = 0; !CLOCK_HFCLKSTARTED && spin < SPIN_LIMIT; spin++)
        ;
    TIMER_MODE = 0;      /* timer */
    TIMER_BITMODE = 3;   /* 32 bits */
    TIMER_PRESCALER = 0; /* 16 MHz */
    TIMER_CLEAR = 1;
    TIMER_START = 1;
    UART_PSELTXD = TX_PIN;
    UART_PSELRXD = RX_PIN;
    UART_BAUDRATE = BAUD_115200;
    UART_ENABLE = 4;
    UART_INTENSET = INT_RXDRDY | INT_ERROR;
    NVIC_ISER = 1u << DRSN_UART_IRQ; /* DRSN_UART_IRQ: board.mk */
    UART_STARTRX = 1;
    UART_STARTTX = 1;
    return &info;
}

uint64_t drsn_board_ticks(void)
{
    TIMER_CAPTURE0 = 1; /* 32 bits at 16 MHz wrap after 268 s: extended here, read at least that often */
    uint32_t now = TIMER_CC0;
    ticks_high += now < ticks_last;
    ticks_last = now;
    return ((uint64_t)ticks_high << 32) | now;
}

void drsn_uart_irq(void) /* UART0 */
{
    if (UART_ERROR) {
        UART_ERROR = 0;
        UART_ERRORSRC = UART_ERRORSRC; /* write 1s to clear */
        uart_errors++;
    }
    while (UART_RXDRDY) {
        UART_RXDRDY = 0;
        drsn_uart_byte((uint8_t)UART_RXD);
    }
}

void drsn_board_write(const char *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        UART_TXDRDY = 0;
        UART_TXD = (uint8_t)bytes[i];
        while (!UART_TXDRDY)
            ;
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
