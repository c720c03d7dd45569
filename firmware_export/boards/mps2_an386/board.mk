# The C engine as a bare-metal Cortex-M4F image for QEMU's mps2-an386 board. From the export's directory:
#   make -f mps2_an386/board.mk [OUT=dir] [PROFILE=1]  -> $(OUT)/app.elf (PROFILE=1: time each op, icount.c)
#   bash mps2_an386/run.sh [--log FILE] $(OUT)/app.elf IN.f32 OUT.i8
# (or: drsn-edge run . --runner qemu --data SPEC). Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi.
BOARD := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CC := arm-none-eabi-gcc
SIZE := arm-none-eabi-size
OUT ?= build-mps2_an386
ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS := $(ARCH) -DDRSN_IRQS=32 -std=c99 -O2 -Wall -Wextra -Werror -ffunction-sections -fdata-sections -I.
ifeq ($(PROFILE),1)
CFLAGS += -DDRSN_PROFILE
endif
# rdimon: newlib's stdio over semihosting; common/drsn_startup.c and startup.c replace crt0 (hence
# -nostartfiles); the linker script INCLUDEs common/sections.ld;
# --wrap times every drsn_classify() call (icount.c).
LDFLAGS := $(ARCH) --specs=rdimon.specs -nostartfiles -L common -T $(BOARD)/mps2_an386.ld -Wl,--gc-sections \
	-Wl,--wrap=drsn_classify
SRCS := $(wildcard drsn_*.c) common/drsn_startup.c $(BOARD)/startup.c $(BOARD)/icount.c
OBJS := $(SRCS:%.c=$(OUT)/%.o)

$(OUT)/app.elf: $(OBJS) $(BOARD)/mps2_an386.ld common/sections.ld
	$(CC) $(LDFLAGS) -o $@ $(OBJS) -lm
	$(SIZE) $@

$(OUT)/%.o: %.c $(wildcard *.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

.PHONY: clean
clean:
	rm -rf $(OUT)
