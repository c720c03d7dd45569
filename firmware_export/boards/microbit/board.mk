# The monitoring firmware for the BBC micro:bit v1 (nRF51822, Cortex-M0, 256 KB flash, 16 KB RAM; QEMU:
# -M microbit). From the export's directory:
#   make -f microbit/board.mk [OUT=dir]     -> $(OUT)/app.elf, app.bin, app.hex (copy the HEX to MICROBIT)
# 16 KB RAM holds the arena, one float window and a ring of 1.25 windows: small models only (fw.json arena_bytes;
# README "Boards": a model that fits). 32 interrupts; UART0 is interrupt 2.
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m0 -mthumb -mfloat-abi=soft
BOARD_DEFS := -DDRSN_IRQS=32 -DDRSN_UART_IRQ=2 '-DDRSN_STREAM_CAPACITY=(DRSN_WINDOW_LENGTH + DRSN_WINDOW_LENGTH / 16)'
LDSCRIPT := $(BOARD)/microbit.ld
include $(BOARD)/../monitor/image.mk
