# The monitoring firmware for the MPS3 with the AN547 image (Cortex-M55 with FPU and Helium (MVE), TrustZone;
# 32 MHz; QEMU: -M mps3-an547). The core boots secure and the image stays secure (SAU off).
# From the export's directory: make -f mps3_an547/board.mk [OUT=dir]
# UART0 at 0x59303000 (the secure alias of 0x49303000) on the 25 MHz APB; its combined interrupt 43.
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m55 -mthumb -mfloat-abi=hard
CMSDK := 128 43 0x59303000u 25000000u 32000000u # interrupts, UART0 interrupt, its base, UART clock, core clock
include common/cmsdk.mk
