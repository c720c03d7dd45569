"""What every runtime of a converted build shares: input quantisation, output dequantisation, build facts.

Integer models get float windows quantised with the model's own input scale and
zero point, and their outputs dequantised, so logits are comparable across
runtimes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.buildinfo import BuildInfo
from drsn_edge.predictor import Predictor


def quantize_input(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Input quantisation as the Python pipeline does it: numpy rounds halves to even, and so does the C engine."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, quant: tuple[float, int] | None) -> np.ndarray:
    """Stored outputs -> float logits; ``quant`` is (scale, zero point), None for a float output."""
    if quant is None:
        return values.astype(np.float32)
    scale, zero = quant
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)


class BuildPredictor(Predictor):
    """A converted model file of a build directory: names, classes and preprocessing come from ``model.json``."""

    def __init__(self, path: Path, build: BuildInfo, name: str) -> None:
        self.path = path
        self.build = build
        self.name = name
        self.classes = list(build.classes)
        self.preprocessing = build.preprocessing
        self.unknown = build.unknown
