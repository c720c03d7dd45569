# The monitoring firmware for the MPS2+ with the AN500 image (Cortex-M7 with the double-precision FPU, 25 MHz;
# QEMU: -M mps2-an500). From the export's directory: make -f mps2_an500/board.mk [OUT=dir]
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16
CMSDK := 32 0 0x40004000u 25000000u 25000000u # interrupts, UART0 RX interrupt, its base, UART clock, core clock
include common/cmsdk.mk
