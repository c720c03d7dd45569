"""Predictors for the converted models: ONNX Runtime, LiteRT (float or integer).

Each is a :class:`drsn_edge.predictor.Predictor`, so evaluation, validation and
the report treat them exactly like the PyTorch model. Integer models get float
windows quantised with the model's own input scale and zero point, and their
outputs dequantised, so logits are comparable across runtimes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.errors import DrsnError
from drsn_edge.predictor import Predictor
from quantize.sidecar import BuildInfo, load_build_info


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


class LiteRTPredictor(BuildPredictor):
    """A .tflite model in LiteRT; ``reference=True`` uses the reference kernels (bit-exact baseline)."""

    def __init__(self, path: Path, build: BuildInfo, reference: bool = True, name: str | None = None) -> None:
        from quantize.quiet import quiet_native

        with quiet_native():
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
        try:
            self.interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise DrsnError(f"LiteRT cannot load {path.name}: {str(exc).splitlines()[0]}") from None
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()
        dtype = np.dtype(self.input["dtype"])
        kind = "float" if dtype == np.float32 else ("int16x8" if dtype == np.int16 else "int8")
        super().__init__(path, build, name or f"litert-{kind}" + ("" if reference else "-xnnpack"))
        self.kind = kind

    def _run(self, row: np.ndarray) -> list[np.ndarray]:
        dtype = np.dtype(self.input["dtype"])
        tensor = row.reshape(self.input["shape"]).astype(np.float32)
        if dtype != np.float32:
            scale, zero = self.input["quantization"]
            tensor = quantize_input(tensor, scale, zero, dtype)
        self.interpreter.set_tensor(self.input["index"], tensor)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(o["index"]) for o in self.outputs]

    def raw_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """Integer (or float) outputs as stored, every output, stacked over windows."""
        runs = [self._run(row) for row in x]
        return [np.stack([r[i][0] for r in runs]) for i in range(len(self.outputs))]

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        first = self.outputs[0]
        quant = None if np.dtype(first["dtype"]) == np.float32 else first["quantization"]
        return dequantize(self.raw_outputs(x)[0], quant)


def _build_for(path: Path) -> BuildInfo:
    return load_build_info(path.parent)


def load_onnx(path: Path) -> Predictor:
    return OnnxPredictor(path, _build_for(path))


def load_tflite(path: Path) -> Predictor:
    return LiteRTPredictor(path, _build_for(path))
