# The monitoring firmware for the MPS2 with the AN386 image (Cortex-M4F, 25 MHz; QEMU: -M mps2-an386), beside this
# folder's file harness (board.mk). From the export's directory: make -f mps2_an386/monitor.mk [OUT=dir]
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
CMSDK := 32 0 0x40004000u 25000000u 25000000u # interrupts, UART0 RX interrupt, its base, UART clock, core clock
include common/cmsdk.mk
