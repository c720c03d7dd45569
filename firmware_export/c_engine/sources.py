"""The engine's hand-written C (``csrc/``): which files an export copies, which the harness build compiles.

``csrc/`` holds the kernel API (``drsn_kernels.h``), one ``.c`` per op family,
the fixed-point header, the preprocessing (``drsn_preprocess.h/.c``, also
copied by the TFLite Micro export: it exists once in C) and the harness
``drsn_main.c``. Every file there goes into every C engine export as it is;
a new ``.c`` is compiled by the Makefile and the runners without further
listing.
"""
from __future__ import annotations

from pathlib import Path

CSRC = Path(__file__).resolve().parent / "csrc"
HARNESS = "drsn_main.c"
MODEL = ("drsn_model.h", "drsn_model.c")  # generated per model (templates/)
PREPROCESSING = ("drsn_preprocess.h", "drsn_preprocess.c")
UNKNOWN = ("drsn_unknown.h", "drsn_unknown.c")  # the "unknown" score on int8 logits, also copied by TFLM export
# drsn_edge.preprocess.Preprocessing.normalisation -> its constant in drsn_preprocess.h
NORMALISATIONS = {"none": "DRSN_NORM_NONE", "window": "DRSN_NORM_WINDOW", "global": "DRSN_NORM_GLOBAL"}


def library_files() -> list[str]:
    """Every file of ``csrc/`` (headers and sources), as an export holds them."""
    return sorted(p.name for p in CSRC.iterdir() if p.suffix in (".c", ".h"))


def engine_sources() -> list[str]:
    """The ``.c`` files of the engine itself: the generated model, the preprocessing, every kernel family."""
    return [MODEL[1], *(name for name in library_files() if name.endswith(".c") and name != HARNESS)]


def compiled_sources() -> list[str]:
    """The ``.c`` files of the harness build: the harness and the engine."""
    return [HARNESS, *engine_sources()]


def headers() -> list[str]:
    """The headers the harness build depends on."""
    return [MODEL[0], *(name for name in library_files() if name.endswith(".h"))]
