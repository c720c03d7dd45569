/* The file harness's start on QEMU's mps2-an386 (Cortex-M4F): what rdimon's crt0 would do after the shared
 * reset handler (common/drsn_startup.c: FPU on, .data copied, .bss zeroed) calls drsn_start(): open the
 * semihosting stdio handles, run constructors, read argv from QEMU's -semihosting-config and leave through
 * exit(), which newlib's rdimon turns into a semihosting SYS_EXIT: main's return value becomes QEMU's exit
 * status. A fault ends the run with status 99 instead of hanging QEMU. */
#include <stdlib.h>

extern int main(int argc, char **argv);
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);

void drsn_start(void);
void drsn_fault(void);

/* -nostartfiles drops crti/crtn, which __libc_init_array still calls. */
void _init(void) {}
void _fini(void) {}

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

void drsn_start(void)
{
    initialise_monitor_handles();
    __libc_init_array();
    static char *argv[MAX_ARGS + 1];
    int argc = command_line(argv);
    exit(main(argc, argv));
}

void drsn_fault(void)
{
    _Exit(99);
}
