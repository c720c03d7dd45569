"""What every runtime of a converted build shares: input quantisation, output dequantisation, build facts.

Raw windows reach an int8-input model as the integers of
:mod:`drsn_edge.int8_input` (the C engine, TFLite Micro and the Pi runner compute
the same bytes); preprocessed float windows are quantised with the model's own
input scale and zero point. Outputs are dequantised, so logits are comparable
across runtimes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.buildinfo import BuildInfo
from drsn_edge.int8_input import Int8Input
from drsn_edge.int8_input import quantize_float as quantize_input  # noqa: F401  (the runtimes' name for it)
from drsn_edge.predictor import Predictor


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

    def input_int8(self) -> tuple[float, int] | None:
        """The int8 input tensor's (scale, zero point); None when the input is not int8."""
        return None

    def network_input(self, raw: np.ndarray) -> np.ndarray:
        """Raw windows -> what the model is given: the integer int8 input, or the float preprocessing."""
        quant = self.input_int8()
        if quant is None:
            return self.preprocessing.apply(raw)
        return Int8Input(self.preprocessing, *quant).from_float(raw)

    def logits(self, raw: np.ndarray) -> np.ndarray:
        return self.logits_preprocessed(self.network_input(raw))
