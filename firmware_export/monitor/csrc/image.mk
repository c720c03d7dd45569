# The monitoring firmware image, shared by every board's board.mk (which sets BOARD, ARCH and LDSCRIPT).
# Sources: the engine (drsn_*.c of the export but its file harness drsn_main.c), monitor/*.c and the
# board's own *.c. Outputs: $(OUT)/app.elf, app.bin and app.hex.
CC := arm-none-eabi-gcc
OBJCOPY := arm-none-eabi-objcopy
SIZE := arm-none-eabi-size
MONITOR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
OUT ?= build-$(BOARD)
CFLAGS := $(ARCH) -std=c99 -O2 -Wall -Wextra -Werror -ffunction-sections -fdata-sections -I. -I$(MONITOR)
LDFLAGS := $(ARCH) --specs=nano.specs -nostartfiles -T $(LDSCRIPT) -Wl,--gc-sections
SRCS := $(filter-out drsn_main.c,$(wildcard drsn_*.c)) $(wildcard $(MONITOR)/*.c) $(wildcard $(BOARD)/*.c)
OBJS := $(SRCS:%.c=$(OUT)/%.o)

all: $(OUT)/app.elf $(OUT)/app.bin $(OUT)/app.hex

$(OUT)/app.elf: $(OBJS) $(LDSCRIPT)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) -lm
	$(SIZE) $@

$(OUT)/app.bin: $(OUT)/app.elf
	$(OBJCOPY) -O binary $< $@

$(OUT)/app.hex: $(OUT)/app.elf
	$(OBJCOPY) -O ihex $< $@

$(OUT)/%.o: %.c $(wildcard *.h) $(wildcard $(MONITOR)/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

.PHONY: all clean
clean:
	rm -rf $(OUT)
