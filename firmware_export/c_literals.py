"""Python values as exact C literals: float32 constants that round-trip, escaped strings.

(Doubles: :func:`firmware_export.c_engine.emit.c_double`.)
"""
from __future__ import annotations

import json

import numpy as np


def c_float(value: float) -> str:
    """A float literal equal to ``value`` rounded to float32 (9 significant digits round-trip)."""
    text = f"{float(np.float32(value)):.9g}"
    return (text if any(c in text for c in ".e") else text + ".0") + "f"


def c_string(text: str) -> str:
    """A C string literal (JSON escaping is valid C for printable text)."""
    return json.dumps(text, ensure_ascii=True)
