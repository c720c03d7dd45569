/* Board support of Arm's MPS2 and MPS3 FPGA boards (QEMU's mps2-an385/an386/an500/an505, mps3-an547) for the
 * monitoring firmware: the CMSDK APB UART and the inference timer. One file for every such board: its
 * board.mk (through common/cmsdk.mk) names the board and sets its numbers (with -D):
 *   DRSN_BOARD_NAME     "mps2_an385", ...
 *   DRSN_UART_BASE      UART0's registers (the secure alias on the TrustZone cores, which boot secure)
 *   DRSN_UART_IRQ       UART0 receive (or combined) interrupt (also wired by common/drsn_startup.c)
 *   DRSN_UART_PCLK_HZ   the UART's APB clock; DRSN_CORE_HZ the core clock of the FPGA image
 * UART: 115200 8N1 (BAUDDIV = PCLK / baud), receive (or combined) interrupt: every byte goes to drsn_uart_byte();
 * receive overruns are counted. QEMU connects its first -serial to UART0.
 * Timer: on silicon the DWT cycle counter; QEMU has no DWT (its registers read 0, which tells the emulator
 * from the FPGA), there the SysTick counts the virtual clock, one nanosecond per instruction. */
#include "drsn_board.h"
#include "drsn_ticks.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define UART_DATA REG(DRSN_UART_BASE + 0x00u)
#define UART_STATE REG(DRSN_UART_BASE + 0x04u)
#define UART_CTRL REG(DRSN_UART_BASE + 0x08u)
#define UART_INTCLEAR REG(DRSN_UART_BASE + 0x0Cu)
#define UART_BAUDDIV REG(DRSN_UART_BASE + 0x10u)
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))

#define BAUD 115200u
#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define STATE_RX_OVERRUN (1u << 3)
#define CTRL_TX_RX_RXINT 0xBu /* TX enable, RX enable, RX interrupt enable */
#define INT_RX (1u << 1)

static drsn_board_info info = {DRSN_BOARD_NAME, "dwt-cyccnt", DRSN_CORE_HZ, DRSN_CORE_HZ, 0};
static volatile uint32_t uart_errors;

const drsn_board_info *drsn_board_init(void)
{
    info.emulated = !drsn_dwt_start();
    if (info.emulated) {
        info.timer = "systick";
        drsn_systick_start();
    }
    UART_BAUDDIV = DRSN_UART_PCLK_HZ / BAUD;
    UART_CTRL = CTRL_TX_RX_RXINT;
    NVIC_ISER(DRSN_UART_IRQ / 32) = 1u << (DRSN_UART_IRQ % 32);
    return &info;
}

uint64_t drsn_board_ticks(void)
{
    return info.emulated ? drsn_systick_ticks() : drsn_dwt_ticks();
}

void drsn_uart_irq(void)
{
    if (UART_STATE & STATE_RX_OVERRUN) {
        UART_STATE = STATE_RX_OVERRUN; /* write 1 to clear */
        uart_errors++;
    }
    UART_INTCLEAR = INT_RX;
    while (UART_STATE & STATE_RX_FULL)
        drsn_uart_byte((uint8_t)UART_DATA);
}

void drsn_board_write(const char *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (UART_STATE & STATE_TX_FULL)
            ;
        UART_DATA = (uint8_t)bytes[i];
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
