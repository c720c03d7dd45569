/* drsn_board.h: what the monitoring firmware needs from a board, and what a board calls back.
 *
 * Each board folder (firmware_export/boards/<name>/) implements these with the chip's own
 * registers: start-up, a UART whose receive interrupt hands every byte to drsn_uart_byte(),
 * a blocking transmit, and a free-running tick counter for timing inferences. */
#ifndef DRSN_BOARD_H
#define DRSN_BOARD_H

#include <stdint.h>

typedef struct {
    const char *name;     /* the board's folder name */
    const char *timer;    /* what the ticks count, e.g. "dwt-cyccnt" (cycles) or "systick" */
    uint32_t tick_hz;     /* ticks per second (under QEMU -icount shift=0: of virtual time, 1 ns/instruction) */
    uint32_t core_hz;     /* the core clock the board runs at */
    int emulated;         /* 1 when the board found itself in QEMU (peripherals it cannot see) */
} drsn_board_info;

/* Clocks, UART (receive interrupt on), timer; returns the facts above. */
const drsn_board_info *drsn_board_init(void);
/* Blocking transmit of n bytes. */
void drsn_board_write(const char *bytes, uint32_t n);
/* Free-running ticks since drsn_board_init (64-bit: never wraps in practice). */
uint64_t drsn_board_ticks(void);
/* Bytes the UART hardware lost (receive overrun, framing or noise errors). */
uint32_t drsn_board_uart_errors(void);
/* Sleep until the next interrupt. */
void drsn_board_idle(void);

/* Called by the board's UART receive interrupt for every byte (defined by the monitor). */
void drsn_uart_byte(uint8_t byte);

#endif
