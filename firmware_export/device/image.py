"""The monitoring firmware image of an exported C engine for one board: ``app.elf``, ``app.bin``, ``app.hex``."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from drsn_edge.errors import DrsnError
from firmware_export.boards import COMMON, Board, get_board
from firmware_export.c_engine.target import load_fw_info

TOOLS = ("make", "arm-none-eabi-gcc", "arm-none-eabi-objcopy", "arm-none-eabi-size")
PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi"
OUTPUTS = ("app.elf", "app.bin", "app.hex")


def monitor_board(name: str) -> Board:
    board = get_board(name)
    if not board.monitor:
        raise DrsnError(f"board '{board.name}' has no monitoring firmware (boards with one: "
                        f"{', '.join(b for b in _monitor_boards())})")
    return board


def _monitor_boards() -> list[str]:
    from firmware_export.boards import BOARDS

    return [b.name for b in BOARDS.values() if b.monitor]


def build(fw_dir: str | Path, board_name: str, out: str | Path) -> dict[str, Path]:
    """``make -f BOARD/board.mk`` (the board's monitor build) in the export; returns the image files by suffix
    (elf, bin, hex)."""
    board = monitor_board(board_name)
    fw_dir, out = Path(fw_dir).resolve(), Path(out).resolve()
    load_fw_info(fw_dir)  # a clear error when fw_dir is not an export
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise DrsnError(f"building firmware needs {', '.join(missing)} (apt-get install {PACKAGES})")
    if not (fw_dir / board.name / board.monitor_fragment).is_file() or not (fw_dir / COMMON).is_dir():
        raise DrsnError(f"{fw_dir} has no {board.name}/ (exported before the board existed? export it again)")
    done = subprocess.run(["make", "--no-print-directory", "-C", str(fw_dir), "-f", f"{board.name}/{board.monitor_fragment}",
                           f"OUT={out}"], capture_output=True, text=True)
    if done.returncode != 0:
        overflow = re.search(r"region `RAM' overflowed by (\d+) bytes", done.stderr)
        if overflow:
            fw = load_fw_info(fw_dir)
            raise DrsnError(f"the model does not fit the {board.name}'s RAM: over by {int(overflow.group(1)):,} bytes "
                            f"(its arena takes {fw.get('arena_bytes', 0):,} bytes and one float window "
                            f"{4 * fw.get('window_length', 0):,}, besides the stream ring and the stack)"
                            + (f"; a model trained with `drsn-edge train ... {' '.join(board.small_model)}` fits"
                               if board.small_model else ""))
        lines = (done.stderr or done.stdout).splitlines()
        errors = [line for line in lines if "error" in line.lower()] or lines[-1:] or ["make failed"]
        raise DrsnError(f"{board.name} firmware build failed: {errors[0]}")
    return {name.split(".")[1]: out / name for name in OUTPUTS}


def size(elf: Path) -> dict[str, int]:
    """Sections of an image (``arm-none-eabi-size -A``): flash = text + data, static RAM = data + bss; the stack's
    reservation (common/sections.ld's .stack, which makes the link fail when RAM is short) is told apart."""
    done = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True)
    found = {"text": 0, "data": 0, "bss": 0, "stack_bytes": 0}
    for line in done.stdout.splitlines()[2:]:
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        name, n = parts[0], int(parts[1])
        if name == ".stack":
            found["stack_bytes"] += n
        elif name in (".data", ".bss"):
            found[name[1:]] += n
        elif name.startswith((".text", ".rodata", ".ARM.ex", ".isr_vector")):
            found["text"] += n
    return {**found, "flash_bytes": found["text"] + found["data"], "static_ram_bytes": found["data"] + found["bss"]}
