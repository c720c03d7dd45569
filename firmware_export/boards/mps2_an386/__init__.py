"""QEMU's mps2-an386 (Cortex-M4F): bare-metal start-up, linker script, semihosting I/O, instruction counter, runner."""
