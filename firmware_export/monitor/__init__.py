"""The monitoring firmware: board-independent C (``csrc/``) that streams samples into a ring buffer,
classifies a window every hop, smooths, raises alarms and speaks JSON lines over the UART.

``drsn-edge export --target c`` copies ``csrc/`` into the export's ``monitor/`` with a generated
``drsn_monitor_config.h`` (model name and id, sample rate, normal class); each board's ``board.mk``
links it with the engine and the board's start-up, UART and timer code.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from drsn_edge.render import render
from firmware_export.c_literals import c_double, c_string

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
TEMPLATES = HERE / "templates"
FOLDER = "monitor"  # in every C engine export
CONFIG_HEADER = "drsn_monitor_config.h"
PROTOCOL = 1  # drsn_monitor.c's "protocol" in its hello line
NORMAL_CLASS_NAME = "normal"  # as the Pi bundle's config.json (firmware_export/pi/bundle.py)


def model_id(model: bytes) -> str:
    """What the firmware reports as ``model_id``: the host tells the right firmware from a wrong one by it."""
    return hashlib.sha256(model).hexdigest()[:12]


def write_sources(into: Path, name: str, classes: list[str], sample_rate: float, model: bytes) -> list[str]:
    """``into/monitor/``: the monitor's C and its generated configuration header; returns the paths written."""
    folder = Path(into) / FOLDER
    folder.mkdir(exist_ok=True)
    written = []
    for source in sorted(CSRC.iterdir()):
        if source.suffix in (".c", ".h", ".mk"):
            shutil.copyfile(source, folder / source.name)
            written.append(f"{FOLDER}/{source.name}")
    normal = classes.index(NORMAL_CLASS_NAME) if NORMAL_CLASS_NAME in classes else -1
    (folder / CONFIG_HEADER).write_text(render(TEMPLATES, f"{CONFIG_HEADER}.in", {
        "MODEL_NAME": name, "MODEL_NAME_C": c_string(name), "MODEL_ID_C": c_string(model_id(model)),
        "SAMPLE_RATE": c_double(float(sample_rate)), "NORMAL_CLASS": normal}))
    return [*written, f"{FOLDER}/{CONFIG_HEADER}"]
