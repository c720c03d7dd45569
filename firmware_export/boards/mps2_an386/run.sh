#!/usr/bin/env bash
# Run the C engine's harness (drsn_main INPUT.f32 OUTPUT.i8) on QEMU's mps2-an386 (Cortex-M4F).
#   bash run.sh [--log FILE] APP.elf INPUT.f32 OUTPUT.i8
# The guest opens its files through semihosting relative to QEMU's working directory, so QEMU runs
# in a scratch directory holding a link to INPUT; the output is moved to OUTPUT afterwards.
# -icount shift=0: one virtual nanosecond per instruction (see icount.c). The guest's stderr
# (with the drsn-qemu instruction line) is passed on and, with --log, also kept in FILE.
# Exit status: the harness's (main's return value); 99 after a CPU fault.
set -euo pipefail
log=""
if [ "${1:-}" = "--log" ]; then log="$2"; shift 2; fi
if [ $# -ne 3 ]; then echo "usage: run.sh [--log FILE] APP.elf INPUT.f32 OUTPUT.i8" >&2; exit 2; fi
elf="$(realpath "$1")"; input="$(realpath "$2")"; output="$3"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
ln -s "$input" "$scratch/in.f32"
status=0
(cd "$scratch" && exec qemu-system-arm -M mps2-an386 -nographic -monitor none -icount shift=0 \
    -semihosting-config enable=on,target=native,arg=drsn_main,arg=in.f32,arg=out.i8 \
    -kernel "$elf") 2>"$scratch/stderr" || status=$?
cat "$scratch/stderr" >&2
if [ -n "$log" ]; then cp "$scratch/stderr" "$log"; fi
if [ -f "$scratch/out.i8" ]; then mv "$scratch/out.i8" "$output"; fi
exit "$status"
