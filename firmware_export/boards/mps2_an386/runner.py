"""The C engine on an emulated Cortex-M4F: QEMU's mps2-an386 board, bare metal, semihosting I/O.

``drsn-edge export --target c`` copies this board's files into the export's
``mps2_an386/`` (see :mod:`firmware_export.boards`), so the directory builds
and runs on its own. This module registers the board's runner of ``drsn-edge
run`` (``mps2_an386``, and ``qemu``, the name users know): it builds
``app.elf`` with ``arm-none-eabi-gcc`` and runs the unchanged harness
(``drsn_main INPUT OUTPUT``) in ``qemu-system-arm``.

Instructions per inference: QEMU emulates no cycle counter, but with
``-icount shift=0`` its virtual clock advances exactly 1 ns per instruction,
and the board's 25 MHz CMSDK timer counts virtual time. The image is linked
with ``--wrap=drsn_classify`` so every call is timed (resolution: one tick, 40
instructions); the counts arrive as one ``drsn-qemu:`` line on stderr.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from drsn_edge.errors import DrsnError
from firmware_export.boards import BOARDS, BUILD_FRAGMENT
from firmware_export.c_engine.profile import by_op, step_ticks
from firmware_export.c_engine.runner import Runner, register
from firmware_export.c_engine.target import load_fw_info

BOARD = BOARDS["mps2_an386"]
LAUNCHER = "run.sh"
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "make", "bash")
PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
NS_PER_INSTRUCTION = 1  # -icount shift=0
LOG_NAME = "qemu_stderr.txt"
IMAGE_DIR = "qemu"
_ICOUNT_LINE = re.compile(r"drsn-qemu: calls=(\d+) ticks=(\d+) min=(\d+) max=(\d+) ns_per_tick=(\d+)")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        raise DrsnError(f"the qemu runner needs {', '.join(missing)} (apt-get install {PACKAGES})")


def build_image(fw_dir: Path, out: Path, profile: bool = False) -> Path:
    """``make -f mps2_an386/board.mk`` in ``fw_dir`` with objects and ``app.elf`` under ``out``
    (``profile``: an image that times each op, see icount.c)."""
    require_tools()
    fw_dir, out = Path(fw_dir).resolve(), Path(out).resolve()
    missing = [name for name in BOARD.files() if not (fw_dir / BOARD.name / name).is_file()]
    if missing:
        raise DrsnError(f"{fw_dir} lacks the {BOARD.name} support files ({', '.join(missing)}); export it again")
    done = subprocess.run(["make", "--no-print-directory", "-C", str(fw_dir), "-f", f"{BOARD.name}/{BUILD_FRAGMENT}",
                           f"OUT={out}", f"PROFILE={int(profile)}"], capture_output=True, text=True)
    if done.returncode != 0:
        errors = [line for line in (done.stderr or done.stdout).splitlines() if "error" in line.lower()]
        raise DrsnError(f"Cortex-M4 build failed: {(errors or done.stderr.splitlines() or ['make failed'])[0]}")
    return out / "app.elf"


def launcher(fw_dir: Path) -> Path:
    """The script that runs an image in QEMU: ``bash run.sh [--log FILE] APP.elf INPUT.f32 OUTPUT.i8``."""
    return Path(fw_dir).resolve() / BOARD.name / LAUNCHER


def image_size(elf: Path) -> dict[str, int]:
    """Sections of the image: flash = text + data, static RAM = data + bss (the same count as every board's)."""
    from firmware_export.device.image import size

    return size(elf)


def parse_icount(log: str) -> dict | None:
    """The ``drsn-qemu:`` line -> calls and instructions per inference (mean, min, max); None if absent."""
    found = _ICOUNT_LINE.search(log)
    if found is None:
        return None
    calls, ticks, low, high, ns_per_tick = (int(v) for v in found.groups())
    per_tick = ns_per_tick // NS_PER_INSTRUCTION
    return {"calls": calls, "instructions_per_inference": ticks * per_tick / calls if calls else None,
            "instructions_min": low * per_tick, "instructions_max": high * per_tick,
            "resolution_instructions": per_tick}


def _build(fw_dir: Path, workdir: Path, profile: bool = False) -> list[str]:
    elf = build_image(fw_dir, workdir / IMAGE_DIR, profile)
    return ["bash", str(launcher(fw_dir)), "--log", str(workdir / LOG_NAME), str(elf)]


def _report(fw_dir: Path, workdir: Path) -> dict:
    """Instruction counts of the last run and the image's flash/RAM, for ``drsn-edge run``."""
    log = workdir / LOG_NAME
    text = log.read_text() if log.is_file() else ""
    counts = parse_icount(text) or {}
    found = {**counts, **image_size(workdir / IMAGE_DIR / "app.elf")}
    ticks = step_ticks(text)
    if ticks and counts.get("calls"):
        steps = load_fw_info(fw_dir)["steps"]
        found["profile"] = by_op(ticks, steps, counts["calls"], counts["resolution_instructions"])
        found["profile_steps"] = {step: t * counts["resolution_instructions"] / counts["calls"]
                                  for step, t in sorted(ticks.items())}
    return found


for _name in BOARD.runner_names:
    register(Runner(_name, "Cortex-M4F (QEMU mps2-an386, bare metal, -icount instruction counts)", _build, _report,
                    lambda fw_dir, workdir: _build(fw_dir, workdir, profile=True)))
