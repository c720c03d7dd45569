"""Bare-metal support files for QEMU's mps2-an386 (Cortex-M4F), copied into every C engine export.

``templates/qemu/`` holds the reset handler and vector table
(``qemu_startup.c``), the linker script, the per-inference instruction counter
(``qemu_icount.c``), the build (``qemu.mk``) and the launcher (``run_qemu.sh``);
they are plain files, no substitution. :mod:`firmware_export.qemu` builds and
runs them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from firmware_export.c_engine.emit import TEMPLATES

SUPPORT_DIR = TEMPLATES / "qemu"
SUPPORT_FILES = ("qemu.mk", "qemu_mps2_an386.ld", "qemu_startup.c", "qemu_icount.c", "run_qemu.sh")


def copy_support(into: Path) -> list[str]:
    """Put the support files into an export directory; returns their names."""
    for name in SUPPORT_FILES:
        shutil.copy2(SUPPORT_DIR / name, Path(into) / name)
    return list(SUPPORT_FILES)
