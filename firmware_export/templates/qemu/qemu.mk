# The C engine as a bare-metal Cortex-M4F image for QEMU's mps2-an386 board.
#   make -f qemu.mk [OUT=dir]      -> $(OUT)/app.elf
#   qemu-system-arm -M mps2-an386 -nographic -monitor none -icount shift=0 \
#     -semihosting-config enable=on,target=native,arg=app,arg=IN.f32,arg=OUT.i8 -kernel $(OUT)/app.elf
# (or: drsn-edge run . --runner qemu --data SPEC). Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi.
CC := arm-none-eabi-gcc
SIZE := arm-none-eabi-size
OUT ?= build-qemu
ARCH := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS := $(ARCH) -std=c99 -O2 -Wall -Wextra -Werror -ffunction-sections -fdata-sections
# rdimon: newlib's stdio over semihosting; qemu_startup.c replaces crt0 (hence -nostartfiles);
# --wrap times every drsn_classify() call (qemu_icount.c).
LDFLAGS := $(ARCH) --specs=rdimon.specs -nostartfiles -T qemu_mps2_an386.ld -Wl,--gc-sections \
	-Wl,--wrap=drsn_classify
SRCS := $(wildcard drsn_*.c) qemu_startup.c qemu_icount.c
OBJS := $(SRCS:%.c=$(OUT)/%.o)

$(OUT)/app.elf: $(OBJS) qemu_mps2_an386.ld
	$(CC) $(LDFLAGS) -o $@ $(OBJS) -lm
	$(SIZE) $@

$(OUT)/%.o: %.c $(wildcard *.h) | $(OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OUT):
	mkdir -p $@

.PHONY: clean
clean:
	rm -rf $(OUT)
