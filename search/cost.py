"""A trial's exact cost on its board: the image's flash and static RAM and the instructions per inference.

Boards with monitoring firmware (STM32F405, micro:bit) build that image (``arm-none-eabi-size``: the
linker itself says when it does not fit) and run it in QEMU through ``validate-device`` (``-icount
shift=0``: the board's timer counts instructions, not cycles). A harness-only board with an emulator
(mps2-an386) runs the C engine's file harness under QEMU. A board without an emulator gets the stated
per-MAC cost model of :mod:`search.budget`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from drsn_edge.errors import DrsnError
from search.budget import INSTRUCTIONS_PER_MAC


class DoesNotFit(DrsnError):
    """The linker refused the image: the model does not fit the board (its message says by how much)."""


def _monitor_cost(fw_dir: Path, board: str, spec: str, windows: int, channel: str) -> dict:
    from firmware_export.device import image
    from firmware_export.device.validate import validate_device

    with tempfile.TemporaryDirectory(prefix="drsn-search-") as work:
        try:
            sizes = image.size(image.build(fw_dir, board, work)["elf"])
        except DrsnError as exc:
            if "does not fit" in str(exc) or "overflowed" in str(exc):
                raise DoesNotFit(str(exc)) from None
            raise
    result = validate_device(fw_dir, board, spec, limit=windows, channel=channel, progress=False)
    timing = result["timing"]
    if not timing["emulated"]:
        raise DrsnError("expected an emulated board")
    return {**sizes, "instructions": timing["instructions_per_inference"], "instructions_source": "qemu",
            "device_vs_litert_identical": result["litert"]["identical"]}


def _harness_cost(fw_dir: Path, board: str, x: np.ndarray) -> dict:
    from firmware_export.c_engine.runner import CEnginePredictor

    engine = CEnginePredictor(fw_dir, runner=board)
    engine.raw_outputs(engine.preprocessing.check(x))
    report = engine.report()
    return {"flash_bytes": report["flash_bytes"], "static_ram_bytes": report["static_ram_bytes"],
            "instructions": report["instructions_per_inference"], "instructions_source": "qemu"}


def measure(fw_dir: str | Path, board: str, spec: str, x: np.ndarray, macs: int, channel: str) -> dict:
    """Flash, static RAM and instructions per inference of the export ``fw_dir`` on ``board``.

    ``x``: raw windows for the emulator (a few are enough: the C engine's path does not depend on the
    data); ``macs``: for the cost model when there is no emulator. Raises :class:`DoesNotFit`.
    """
    from firmware_export.boards import get_board
    from firmware_export.c_engine.target import load_fw_info

    b = get_board(board)
    fw_dir = Path(fw_dir)
    if b.monitor:
        cost = _monitor_cost(fw_dir, b.name, spec, len(x), channel)
    elif b.harness and b.qemu_machine:
        cost = _harness_cost(fw_dir, b.name, x)
    else:
        cost = {"flash_bytes": None, "static_ram_bytes": None, "instructions": macs * INSTRUCTIONS_PER_MAC,
                "instructions_source": f"cost model: {INSTRUCTIONS_PER_MAC} instructions per MAC"}
    cost["arena_bytes"] = load_fw_info(fw_dir)["arena_bytes"]
    return cost
