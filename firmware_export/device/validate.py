"""``drsn-edge validate-device``: the data's windows over the serial line to the monitoring firmware, one
window per hop, and the device's int8 logits and timer counts checked against LiteRT int8 (bit-exactness)
and the float model (agreement, accuracy).

Without ``port`` the board's image is built and booted in QEMU (``-icount shift=0``: the timer counts
virtual nanoseconds, one per instruction, so the counts are instructions, not cycles); with ``port`` the
board must already run the firmware of this export (its model id is checked).
"""
from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from drsn_edge.defaults import CHANNEL
from drsn_edge.errors import DrsnError
from drsn_edge.registry import get_runtime
from firmware_export.c_engine.check import _reference, agreement, check_windows
from firmware_export.device import image, qemu
from firmware_export.device.link import DEFAULT_TIMEOUT, Link, encode, encode_binary

FLOAT_MODEL = "model_float32.tflite"


def _device_logits(link: Link, x: np.ndarray, binary: bool, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each window as one hop of the stream (a ``!bin`` block when the firmware takes them, else text lines)
    -> (int8 logits (N, classes), timer ticks (N,))."""
    link.configure(hop=x.shape[1], smooth=1, alert=0, raw=1)
    logits, ticks = [], []
    for n, window in enumerate(tqdm(x, desc="device", unit="win", disable=not progress, leave=False)):
        link.write(encode_binary(window) if binary else encode(window))
        record = link.read_line()
        if record is None or record.get("window") != n:
            raise DrsnError(f"the board on {link.name} stopped answering at window {n} "
                            f"(no line within {link.timeout:g} s)")
        logits.append(record["raw"])
        ticks.append(record["ticks"])
    return np.asarray(logits, np.int8).reshape(len(x), -1), np.asarray(ticks, np.int64)


def _timing(hello: dict, ticks: np.ndarray) -> dict:
    """Ticks -> per-inference instructions (QEMU) or cycles (silicon), and the latency at the board's clock."""
    ns = ticks * 1e9 / hello["tick_hz"]
    unit = "instructions" if hello["emulated"] else "cycles"
    counts = ns if hello["emulated"] else ticks.astype(float)  # QEMU -icount shift=0: 1 ns per instruction
    mean = float(counts.mean()) if len(counts) else float("nan")
    return {"timer": hello["timer"], "emulated": bool(hello["emulated"]), "unit": unit,
            f"{unit}_per_inference": mean, f"{unit}_min": float(counts.min(initial=np.inf)),
            f"{unit}_max": float(counts.max(initial=0)), "core_hz": hello["core_hz"],
            "latency_ms_at_core_clock": mean / hello["core_hz"] * 1e3,
            "caveat": "QEMU counts instructions, not cycles: the latency assumes one instruction per cycle"
            if hello["emulated"] else "DWT cycle counter"}


def validate_device(fw_dir: str | Path, board_name: str, spec: str, port: str | None = None, split: str = "test",
                    limit: int | None = None, channel: str = CHANNEL, timeout: float = DEFAULT_TIMEOUT,
                    progress: bool = True) -> dict:
    fw_dir = Path(fw_dir)
    board = image.monitor_board(board_name)
    fw, build, model, x, y = check_windows(fw_dir, spec, split, limit, channel)
    n = len(x)

    with contextlib.ExitStack() as stack:
        url = port
        if url is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="drsn-dev-")))
            elf = image.build(fw_dir, board.name, work)["elf"]
            url = stack.enter_context(qemu.booted(board, elf))
        link = stack.enter_context(Link(url, timeout=timeout))
        hello = link.hello(model_id=fw.get("model_id"))
        if hello["board"] != board.name:
            raise DrsnError(f"wrong firmware on {url}: it was built for {hello['board']}, not {board.name}")
        started = time.monotonic()
        device, ticks = _device_logits(link, x, bool(hello.get("binary")), progress)
        host_seconds = time.monotonic() - started

    ref = _reference("litert", model, build, x, progress)
    result = {"fw_dir": str(fw_dir), "model": fw["name"], "model_id": fw.get("model_id"), "board": board.name,
              "port": port or "qemu", "data": spec, "split": split,
              "windows": n, "litert": agreement(device, ref),
              "accuracy": {"device": float(np.mean(device.argmax(1) == y)),
                           "litert": float(np.mean(ref.argmax(1) == y))},
              "timing": _timing(hello, ticks),
              "link": {"framing": "binary" if hello.get("binary") else "text",
                       "host_seconds_per_window": host_seconds / n if n else None}}
    float_model = Path(fw.get("build_dir", "")) / FLOAT_MODEL
    if float_model.is_file():
        reference = get_runtime("litert").model(float_model, build).logits(x)
        result["float"] = {"top1": float(np.mean(device.argmax(1) == reference.argmax(1)))}
        result["accuracy"]["float"] = float(np.mean(reference.argmax(1) == y))
    return result


def validate_table(result: dict) -> str:
    a, t = result["litert"], result["timing"]
    unit = t["unit"]
    lines = [f"{result['board']} ({result['port']}) on {result['windows']} windows of {result['data']} "
             f"({result['split']})",
             f"  vs LiteRT int8: {a['identical_windows']}/{result['windows']} identical, max {a['max_lsb']} LSB, "
             f"top-1 {a['top1']:.4f}"]
    if "float" in result:
        lines.append(f"  vs float: top-1 agreement {result['float']['top1']:.4f}")
    lines.append("  accuracy: " + "  ".join(f"{k} {v:.4f}" for k, v in result["accuracy"].items()))
    lines.append(f"  {t[f'{unit}_per_inference']:,.0f} {unit} per inference (timer {t['timer']}); "
                 f"{t['latency_ms_at_core_clock']:.1f} ms at {t['core_hz'] / 1e6:g} MHz"
                 + (" (QEMU counts instructions, not cycles)" if t["emulated"] else ""))
    link = result.get("link")
    if link and link["host_seconds_per_window"] is not None:
        lines.append(f"  link: {link['framing']} framing, {link['host_seconds_per_window']:.2f} s of host time per window")
    return "\n".join(lines)
