# The monitoring firmware for the MPS2 with the AN385 image (Cortex-M3, no FPU, 25 MHz; QEMU: -M mps2-an385).
# From the export's directory: make -f mps2_an385/board.mk [OUT=dir]  -> $(OUT)/app.elf, app.bin, app.hex
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
CMSDK := 32 0 0x40004000u 25000000u 25000000u # interrupts, UART0 RX interrupt, its base, UART clock, core clock
include common/cmsdk.mk
