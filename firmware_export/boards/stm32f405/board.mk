# The monitoring firmware for the STM32F405 (Cortex-M4F; QEMU: -M netduinoplus2). From the export's directory:
#   make -f stm32f405/board.mk [OUT=dir]     -> $(OUT)/app.elf, app.bin (raw, for 0x08000000), app.hex
# or `drsn-edge flash . --board stm32f405 --probe ...`. Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi.
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
LDSCRIPT := $(BOARD)/stm32f405.ld
include $(BOARD)/../monitor/image.mk
