# The monitoring firmware for the MPS2+ with the AN505 image (Cortex-M33 with FPU and DSP, TrustZone; 20 MHz;
# QEMU: -M mps2-an505). The core boots secure and the image stays secure (SAU off: every address is secure).
# From the export's directory: make -f mps2_an505/board.mk [OUT=dir]
# UART0 at 0x50200000 (the secure alias of 0x40200000); its combined interrupt 42 (QEMU 7.2 raises the
# receive-only line on another number than the AN505 lists; the combined one, with only receive enabled, is the same).
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16
CMSDK := 124 42 0x50200000u 20000000u 20000000u # interrupts, UART0 interrupt, its base, UART clock, core clock
include common/cmsdk.mk
