"""Packaging of the C engine export for people's own firmware, copied into every ``--target c`` export:
a CMake library (``CMakeLists.txt``, for ``add_subdirectory``) and an Arduino library (``arduino/``:
``library.properties``, ``src/`` with the engine, the stream ring and the alarm, and ``examples/monitor``)."""
from __future__ import annotations

import shutil
from pathlib import Path

from drsn_edge import __version__
from drsn_edge.names import safe_file_name
from drsn_edge.render import render

HERE = Path(__file__).resolve().parent
CMAKE = "CMakeLists.txt"
ARDUINO = HERE / "arduino"
ARDUINO_FOLDER = "arduino"
# what the library's src/ takes from the export's monitor/: the ring buffer, the alarm and the model's rate
ARDUINO_MONITOR_FILES = ("drsn_stream.h", "drsn_stream.c", "drsn_decide.h", "drsn_decide.c", "drsn_monitor_config.h")
HARNESS = "drsn_main.c"


def write_cmake(into: Path) -> str:
    shutil.copyfile(HERE / CMAKE, Path(into) / CMAKE)
    return CMAKE


def write_arduino(into: Path, name: str, window_length: int) -> list[str]:
    """``into/arduino/``: an Arduino library of the export's engine (written before this) and monitor sources;
    returns the paths written, relative to ``into``."""
    into = Path(into)
    root = into / ARDUINO_FOLDER
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "examples" / "monitor").mkdir(parents=True, exist_ok=True)
    sources = [p for p in sorted(into.glob("drsn_*.[ch]")) if p.name != HARNESS]
    sources += [into / "monitor" / f for f in ARDUINO_MONITOR_FILES]
    for path in [*sources, ARDUINO / "drsn_edge.h"]:
        shutil.copyfile(path, root / "src" / path.name)
    shutil.copyfile(ARDUINO / "monitor.ino", root / "examples" / "monitor" / "monitor.ino")
    library = "drsn_edge_" + safe_file_name(name).replace(".", "_").replace("+", "_")
    (root / "library.properties").write_text(render(ARDUINO, "library.properties.in", {
        "LIBRARY": library, "VERSION": __version__, "WINDOW_LENGTH": int(window_length)}))
    return sorted(str(p.relative_to(into)) for p in root.rglob("*") if p.is_file())
