"""What the tests of the monitoring firmware share: a real CWRU recording and the Pi runner's lines for it.

The firmware's JSON lines must equal the Pi runner's apart from timing; these build the recording both are
fed and run the Pi runner on it (tests/test_device.py on the STM32F405, tests/test_microbit.py on the M0).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from needs import require_tools

from drsn_edge.data.cwru import load_recording
from firmware_export.device import image, qemu
from firmware_export.pi.bundle import RUNNER

TIMING = ("latency_ms", "wall", "ticks")  # the fields that may differ between the device and the Pi


def require_firmware_tools() -> None:
    """The cross compiler and QEMU: outside CI a machine without them skips, in CI a missing tool fails."""
    require_tools("qemu-system-arm", *image.TOOLS, what="firmware tools", install=f"{image.PACKAGES} {qemu.PACKAGE}")


def c_export(build: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """``build``'s C engine export (boards, monitor) in a fresh folder, once the firmware tools are there."""
    from drsn_edge.cli import main

    require_firmware_tools()
    out = tmp_path_factory.mktemp(name) / "fw"
    assert main(["export", str(build), "--target", "c", "--out", str(out)]) == 0
    return out


def recording(cwru_dir: Path, path: Path) -> Path:
    """3584 samples of the normal baseline then 3072 of inner-race fault IR007, as float32: with hop 512 and
    2048-sample windows, ten windows from normal through mixed (which a model may call another fault or
    "unknown") to three of pure fault, on which the alarm rises."""
    normal = load_recording(cwru_dir / "normal_0.mat").signal[50000:53584]
    fault = load_recording(cwru_dir / "IR007_0.mat").signal[50000:53072]
    np.concatenate([normal, fault]).astype("<f4").tofile(path)
    return path


def pi_lines(bundle: Path, data: Path, *args: str) -> list[dict]:
    done = subprocess.run([sys.executable, str(bundle / RUNNER.name), "--format", "float32", "--raw", *args],
                          input=data.read_bytes(), capture_output=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def without_timing(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]
