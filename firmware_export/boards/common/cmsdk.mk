# The monitoring firmware's build for Arm's MPS2/MPS3 FPGA boards (common/cmsdk_board.c). The board's board.mk
# sets BOARD, ARCH and CMSDK, five numbers: external interrupts, UART0's receive (or combined) interrupt,
# UART0's base address, the UART's clock and the core clock in Hz; its linker script is $(BOARD)/$(BOARD).ld.
BOARD_DEFS := -DDRSN_IRQS=$(word 1,$(CMSDK)) -DDRSN_UART_IRQ=$(word 2,$(CMSDK)) -DDRSN_UART_BASE=$(word 3,$(CMSDK)) \
	-DDRSN_UART_PCLK_HZ=$(word 4,$(CMSDK)) -DDRSN_CORE_HZ=$(word 5,$(CMSDK)) '-DDRSN_BOARD_NAME="$(BOARD)"'
BOARD_SRCS := common/cmsdk_board.c
LDSCRIPT := $(BOARD)/$(BOARD).ld
include monitor/image.mk
