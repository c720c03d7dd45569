"""ONNX Runtime: the exported float graph, the first check that export kept the PyTorch model."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.buildinfo import BuildInfo
from drsn_edge.registry import Runtime, register_runtime
from quantize.runtimes.base import BuildPredictor


class OnnxPredictor(BuildPredictor):
    """The exported ONNX graph in ONNX Runtime (float32)."""

    def __init__(self, path: Path, build: BuildInfo) -> None:
        from quantize.quiet import quiet_native

        with quiet_native():
            import onnxruntime as ort
        super().__init__(path, build, "onnxruntime-float")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        rows = [self.session.run(None, {self.input_name: row[None, None, :]})[0][0] for row in x]
        return np.stack(rows) if rows else np.zeros((0, len(self.classes)), np.float32)


register_runtime(Runtime("onnxruntime", "ONNX Runtime", model=OnnxPredictor, roles=("onnx",), suffixes=(".onnx",),
                         order=10))
