/* Reset handler and vector table for QEMU's mps2-an386 (Cortex-M4F), built with -nostartfiles.
 *
 * The reset handler does what a C runtime's crt0 would: enable the FPU (the image is built
 * with -mfloat-abi=hard, so the first float instruction would fault otherwise), copy .data
 * from flash to RAM, zero .bss, open the semihosting stdio handles, run constructors, call
 * main and leave through exit(), which newlib's rdimon turns into a semihosting SYS_EXIT:
 * main's return value becomes QEMU's exit status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern int main(int argc, char **argv);
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);

extern uint32_t __stack_top;
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;

void Reset_Handler(void);
void Fault_Handler(void);

/* -nostartfiles drops crti/crtn, which __libc_init_array still calls. */
void _init(void) {}
void _fini(void) {}

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SYS_GET_CMDLINE 0x15
#define MAX_ARGS 8

static int semihost(int op, void *arg)
{
    register int r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* argv from QEMU's -semihosting-config arg=...: what rdimon's crt0 would have done. */
static int command_line(char **argv)
{
    static char line[512];
    struct { char *buffer; int length; } block = {line, (int)sizeof line - 1};
    int argc = 0;
    if (semihost(SYS_GET_CMDLINE, &block) != 0)
        block.length = 0;
    line[block.length] = '\0';
    for (char *p = line; *p != '\0' && argc < MAX_ARGS;) {
        while (*p == ' ')
            *p++ = '\0';
        if (*p == '\0')
            break;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ')
            p++;
    }
    argv[argc] = NULL;
    return argc;
}

void Reset_Handler(void)
{
    SCB_CPACR |= 0xFu << 20; /* full access to coprocessors 10 and 11: the FPU */
    __asm volatile("dsb\n\tisb" ::: "memory");
    memcpy(&__data_start, &__data_load, (size_t)((char *)&__data_end - (char *)&__data_start));
    memset(&__bss_start, 0, (size_t)((char *)&__bss_end - (char *)&__bss_start));
    initialise_monitor_handles();
    __libc_init_array();
    static char *argv[MAX_ARGS + 1];
    int argc = command_line(argv);
    exit(main(argc, argv));
}

/* A fault ends the run with a distinctive status instead of hanging QEMU. */
void Fault_Handler(void)
{
    _Exit(99);
}

__attribute__((section(".isr_vector"), used))
static void (*const vector_table[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    Fault_Handler, /* SysTick */
};
