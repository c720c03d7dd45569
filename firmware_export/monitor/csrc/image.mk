# The monitoring firmware image, shared by every board's board.mk (which sets BOARD, ARCH, BOARD_DEFS and
# LDSCRIPT, and BOARD_SRCS when the board's C is not all of $(BOARD)/*.c). Sources: the engine (drsn_*.c of
# the export but its file harness drsn_main.c), monitor/*.c, the board's C and common/ (start-up, vector
# table, tick counters). The board's linker script INCLUDEs common/sections.ld. Outputs: $(OUT)/app.elf,
# app.bin and app.hex.
CC := arm-none-eabi-gcc
OBJCOPY := arm-none-eabi-objcopy
SIZE := arm-none-eabi-size
MONITOR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
COMMON := common
OUT ?= build-$(BOARD)
BOARD_SRCS ?= $(wildcard $(BOARD)/*.c)
CFLAGS := $(ARCH) $(BOARD_DEFS) -std=c99 -O2 -Wall -Wextra -Werror -ffunction-sections -fdata-sections -I. \
	-I$(MONITOR) -I$(COMMON)
LDFLAGS := $(ARCH) --specs=nano.specs -nostartfiles -L $(COMMON) -T $(LDSCRIPT) -Wl,--gc-sections
SRCS := $(filter-out drsn_main.c,$(wildcard drsn_*.c)) $(wildcard $(MONITOR)/*.c) $(BOARD_SRCS) \
	$(COMMON)/drsn_startup.c $(COMMON)/drsn_ticks.c
OBJS := $(SRCS:%.c=$(OUT)/%.o)

all: $(OUT)/app.elf $(OUT)/app.bin $(OUT)/app.hex

$(OUT)/app.elf: $(OBJS) $(LDSCRIPT) $(COMMON)/sections.ld
	$(CC) $(LDFLAGS) -o $@ $(OBJS) -lm
	$(SIZE) $@

$(OUT)/app.bin: $(OUT)/app.elf
	$(OBJCOPY) -O binary $< $@

$(OUT)/app.hex: $(OUT)/app.elf
	$(OBJCOPY) -O ihex $< $@

$(OUT)/%.o: %.c $(wildcard *.h) $(wildcard $(MONITOR)/*.h) $(wildcard $(COMMON)/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

.PHONY: all clean
clean:
	rm -rf $(OUT)
