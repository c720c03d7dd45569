"""Packaging of the C engine export for people's own firmware: a CMake library (``CMakeLists.txt``, for
``add_subdirectory``), copied into every ``--target c`` export."""
from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CMAKE = "CMakeLists.txt"


def write_cmake(into: Path) -> str:
    shutil.copyfile(HERE / CMAKE, Path(into) / CMAKE)
    return CMAKE
