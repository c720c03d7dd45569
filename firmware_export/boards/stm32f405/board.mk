# The monitoring firmware for the STM32F405 (Cortex-M4F; QEMU: -M netduinoplus2). From the export's directory:
#   make -f stm32f405/board.mk [OUT=dir]     -> $(OUT)/app.elf, app.bin (raw, for 0x08000000), app.hex
# or `drsn-edge flash . --board stm32f405 --probe ...`. Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi.
# 82 interrupts; USART1 is interrupt 37.
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
BOARD_DEFS := -DDRSN_IRQS=82 -DDRSN_UART_IRQ=37
LDSCRIPT := $(BOARD)/stm32f405.ld
include $(BOARD)/../monitor/image.mk
