"""What a board can hold, read from its linker script, and what a model will need, estimated before training.

The limits come from the board's own folder (``firmware_export/boards/<name>/<name>.ld``): FLASH and RAM
lengths and the stack the script reserves. The estimate lets a trial be pruned before any training; after
conversion the trial is measured exactly (the monitoring image's ``arm-none-eabi-size``) and the estimate is
kept beside the exact figures so its error is visible.

Pruning uses a lower bound, so it never drops a model that would fit: a convolution's input and output
are alive at once, so the arena holds at least the largest such pair (int8: one byte per value), and the
image at least that plus one float window (4 B per sample), the stream ring (``RING_BYTES_PER_SAMPLE``),
about 600 bytes of monitor state; the stack the linker script reserves comes on top. The estimate beside it (reported,
not used to prune) takes the arena as 2.5x the largest int8 feature map: right for a stride-2 stem (10,240 estimated for the
paper-size model's 10,240 exact arena), up to
50% high with a stride-4 stem (6,144 for 4,110; benchmarks/RESULTS.md §17), hence not used to prune. Flash: the monitoring firmware without a model (``FLASH_FIXED``) plus one byte per
weight, leaving out the per-op tables (about 146 bytes per lowered op), so it stays below the truth. After
conversion every trial is measured exactly and the estimate is kept beside the exact figures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from drsn_edge.errors import DrsnError
from drsn_edge.models import ModelConfig, build_model, count_macs, count_parameters

RAM_FIXED = 600  # monitor state, UART buffers: static RAM of an image minus arena, window and ring
# bytes of the stream ring per window sample: float ring of DRSN_STREAM_CAPACITY samples (board.mk / drsn_stream.h)
RING_BYTES_PER_SAMPLE = {"microbit": 4.25, "stm32f405": 8}
FLASH_FIXED = {"microbit": 30_000, "stm32f405": 20_500, "mps2_an386": 20_500}
# arena per byte of the largest feature map: with the engine's fused steps a shrinkage unit keeps no more
# alive than a plain residual unit (paper-size DRSN-CW: 10,240 B exact = 2.5 x 4,096) (resnet 2,4 x1 on 256 samples: exact 644 B, estimate 640 B)
ARENA_PER_FEATURE_MAP = {"drsn-cw": 2.5, "drsn-cs": 2.5, "resnet": 2.5, "convnet": 2.5}
# instructions per MAC of the whole paper-size network on the Cortex-M4 with today's engine (6.68 M / 1.32 M,
# benchmarks/RESULTS.md §11 and §15): the stated cost model for a board without an emulator
INSTRUCTIONS_PER_MAC = 5.07


@dataclass(frozen=True)
class Limits:
    """A board's memory as its linker script lays it out."""

    board: str
    flash_bytes: int
    ram_bytes: int
    stack_bytes: int

    def ram_needed(self, static_ram: int) -> int:
        """RAM the image needs at run time: static data (data + bss, as the image reports it) plus the stack
        the linker script reserves."""
        return static_ram + self.stack_bytes

    def excess(self, flash: int, static_ram: int) -> tuple[int, int]:
        """Bytes over the flash and RAM limits (<= 0: fits), Optuna's constraint values."""
        return flash - self.flash_bytes, self.ram_needed(static_ram) - self.ram_bytes


def _kib(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([KM]?)", text.strip()).groups()
    return int(number) * {"": 1, "K": 1024, "M": 1024 * 1024}[unit]


def board_limits(board: str) -> Limits:
    """The FLASH and RAM lengths and the stack of ``board``'s linker script."""
    from firmware_export.boards import get_board

    folder = get_board(board).folder
    scripts = sorted(folder.glob("*.ld"))
    if not scripts:
        raise DrsnError(f"board '{board}' has no linker script to read its memory from")
    text = scripts[0].read_text()
    regions = {m.group(1): _kib(m.group(2)) for m in re.finditer(r"^\s*(\w+)\s*\([^)]*\)\s*:.*LENGTH\s*=\s*(\w+)",
                                                                 text, re.M)}
    stack = re.search(r"__stack_size\s*=\s*(\w+)\s*;", text)
    if "FLASH" not in regions or "RAM" not in regions or stack is None:
        raise DrsnError(f"cannot read FLASH, RAM and the stack size from {scripts[0].name}")
    return Limits(board, regions["FLASH"], regions["RAM"], _kib(stack.group(1)))


@dataclass(frozen=True)
class Estimate:
    """A model's cost before training (see the module docstring for how each figure is made)."""

    parameters: int
    macs: int
    arena_bytes: int
    static_ram_bytes: int
    flash_bytes: int
    arena_lower_bytes: int  # the largest convolution's input + output: the arena cannot be smaller
    static_ram_lower_bytes: int

    def to_dict(self) -> dict:
        return {"parameters": self.parameters, "macs": self.macs, "arena_bytes": self.arena_bytes,
                "static_ram_bytes": self.static_ram_bytes, "flash_bytes": self.flash_bytes,
                "arena_lower_bytes": self.arena_lower_bytes, "static_ram_lower_bytes": self.static_ram_lower_bytes}


def feature_maps(model: nn.Module, length: int) -> tuple[int, int]:
    """(largest tensor a convolution reads or writes, largest input + output of one convolution), in values."""
    pairs = [(length, length)]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        pairs.append((inputs[0][0].numel(), output[0].numel()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv1d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, length))
    for handle in handles:
        handle.remove()
    return max(max(pair) for pair in pairs), max(a + b for a, b in pairs[1:] or pairs)


def estimate(config: ModelConfig, limits: Limits) -> Estimate:
    """Parameters, MACs, arena, static RAM (estimate and lower bound) and flash of ``config`` on the board."""
    model = build_model(config)
    length, board = config.in_length, limits.board
    largest, pair = feature_maps(model, length)
    arena = int(ARENA_PER_FEATURE_MAP[config.arch] * largest)
    rest = RAM_FIXED + 4 * length + int(RING_BYTES_PER_SAMPLE.get(board, 0) * length)
    params = count_parameters(model)
    return Estimate(params, count_macs(model), arena, rest + arena, FLASH_FIXED.get(board, 0) + params,
                    pair, rest + pair)


def prune_reason(est: Estimate, limits: Limits) -> str | None:
    """Why the lower bounds alone rule the model out on this board, or None when it may fit."""
    flash_over, ram_over = limits.excess(est.flash_bytes, est.static_ram_lower_bytes)
    if ram_over > 0:
        return (f"RAM at least {limits.ram_needed(est.static_ram_lower_bytes):,} B > {limits.ram_bytes:,} B "
                f"(arena at least {est.arena_lower_bytes:,} B)")
    if flash_over > 0:
        return f"estimated flash {est.flash_bytes:,} B > {limits.flash_bytes:,} B"
    return None
