"""The steps of ``convert`` that write a build's model files: ONNX, TFLite float32, int8 and int16x8.

Each step is a function that writes its file into the build being staged,
registers it in ``model.json`` and returns a typed result: what validation.json
records of it, with the checks it is judged by declared beside the values.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from drsn_edge.buildinfo import BuildInfo
from drsn_edge.checkpoint import Checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.models.network import Net1d
from quantize.convert.onnx_export import LOGITS_NAME, export_probed_onnx
from quantize.convert.ranges import RangeMethod
from quantize.convert.tflite_convert import convert_saved_model
from quantize.runtimes.litert import LiteRTPredictor
from quantize.runtimes.onnx_runtime import OnnxPredictor
from quantize.tflite.graph import keep_outputs, summarize
from quantize.validate.checks import Check, Limits
from quantize.validate.units import verify_probe_mapping

ONNX_FILE = "model.onnx"
FLOAT_FILE = "model_float32.tflite"
INT8_FILE = "model_int8.tflite"
INT16_FILE = "model_int16x8.tflite"
# scratch files in Staging.work: the probed graphs keep one extra output per shrinkage unit tensor
PROBED_ONNX = "probed.onnx"
PROBED_FLOAT = "probed_float32.tflite"
PROBED_INT8 = "probed_int8.tflite"


@dataclass
class Staging:
    """The build directory being written (moved into place by the pipeline only when complete) and its
    ``model.json``, which each step adds its file to."""

    root: Path
    info: BuildInfo

    @property
    def work(self) -> Path:
        """Scratch space (probed models, the SavedModel); removed before the build is moved into place."""
        return self.root / "work"

    def write_deployable(self, name: str, role: str, probed: bytes) -> Path:
        """Write a probed .tflite as the build's model file ``name`` (logits only) and register it as ``role``."""
        path = self.root / name
        path.write_bytes(keep_outputs(probed, {"output_0": LOGITS_NAME}))
        self.info.files[role] = name
        return path


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b))) if len(a) else 0.0


@dataclass
class OnnxCheck:
    """ONNX Runtime's logits against PyTorch's."""

    windows: int
    max_abs_diff: float

    def checks(self, limits: Limits) -> list[Check]:
        return [Check.at_most("onnx vs pytorch max |logit diff|", self.max_abs_diff, limits.onnx_max_abs)]


def _strip_onnx(probed: Path, out: Path) -> None:
    """The deployable ONNX graph: the probed one with only the logits as output."""
    model = onnx.load(str(probed))
    keep = [o for o in model.graph.output if o.name == LOGITS_NAME]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out), full_check=True)


def export_onnx(model: Net1d, build: Staging, x: np.ndarray, torch_logits: np.ndarray) -> tuple[OnnxCheck, np.ndarray]:
    """Export the probed and the deployable ONNX graph; returns the check and ONNX Runtime's logits on ``x``."""
    export_probed_onnx(model, build.work / PROBED_ONNX)
    _strip_onnx(build.work / PROBED_ONNX, build.root / ONNX_FILE)
    build.info.files["onnx"] = ONNX_FILE
    logits = OnnxPredictor(build.root / ONNX_FILE, build.info).logits_preprocessed(x)
    return OnnxCheck(windows=len(x), max_abs_diff=_max_abs(logits, torch_logits)), logits


@dataclass
class FloatCheck:
    """LiteRT's float32 logits against ONNX Runtime's, and the probe outputs against the PyTorch modules."""

    windows: int
    max_abs_diff: float
    probe_tensors_max_rel_error: float

    def checks(self, limits: Limits) -> list[Check]:
        return [Check.at_most("tflite float32 vs onnx max |logit diff|", self.max_abs_diff,
                              limits.tflite_float_max_abs)]


def float_tflite(ckpt: Checkpoint, saved: Path, build: Staging, x: np.ndarray, onnx_logits: np.ndarray) -> FloatCheck:
    """The float32 .tflite; proves every probe output is named after the right module on ``x[:4]``."""
    probed = convert_saved_model(saved, "float32")
    (build.work / PROBED_FLOAT).write_bytes(probed)
    path = build.write_deployable(FLOAT_FILE, "float32", probed)
    probe_error = verify_probe_mapping(ckpt, build.work / PROBED_FLOAT, build.info, x[:4])
    logits = LiteRTPredictor(path, build.info).logits_preprocessed(x)
    return FloatCheck(windows=len(x), max_abs_diff=_max_abs(logits, onnx_logits),
                      probe_tensors_max_rel_error=probe_error)


@dataclass
class Int8Graph:
    """What the int8 graph holds. Not a check row: a graph that is not all-integer stops ``convert``."""

    ops: dict[str, int]
    tensor_types: dict[str, int]
    integer_problems: list[str]
    weights: str  # per-channel or per-tensor
    bytes: int

    def checks(self, limits: Limits) -> list[Check]:
        return []


def int8_tflite(saved: Path, build: Staging, calibration: np.ndarray, per_tensor: bool,
                ranges: RangeMethod) -> Int8Graph:
    """The full-integer int8 .tflite, calibrated on ``calibration``; refuses a graph with float left in it."""
    probed = convert_saved_model(saved, "int8", calibration, per_tensor=per_tensor, ranges=ranges)
    (build.work / PROBED_INT8).write_bytes(probed)
    path = build.write_deployable(INT8_FILE, "int8", probed)
    graph = summarize(path.read_bytes())
    build.info.quantization[INT8_FILE] = {"input": graph.input, "output": graph.output}
    result = Int8Graph(ops=graph.op_counts, tensor_types=dict(graph.tensor_types),
                       integer_problems=graph.integer_problems("int8"),
                       weights="per-tensor" if per_tensor else "per-channel", bytes=path.stat().st_size)
    if result.integer_problems:
        raise DrsnError("the int8 model is not all-integer: " + ", ".join(result.integer_problems))
    return result


@dataclass
class Int16x8Check:
    """The optional int16-activation model against the float model; reported, not checked."""

    top1_agreement: float
    accuracy: float
    integer_problems: list[str]
    bytes: int

    def checks(self, limits: Limits) -> list[Check]:
        return []


def int16x8_tflite(saved: Path, build: Staging, calibration: np.ndarray, per_tensor: bool, ranges: RangeMethod,
                   x: np.ndarray, labels: np.ndarray, float_logits: np.ndarray) -> Int16x8Check:
    """The int16x8 .tflite (int16 activations, int8 weights), compared with the float model on ``x``."""
    probed = convert_saved_model(saved, "int16x8", calibration, per_tensor=per_tensor, ranges=ranges)
    path = build.write_deployable(INT16_FILE, "int16x8", probed)
    graph = summarize(path.read_bytes())
    build.info.quantization[INT16_FILE] = {"input": graph.input, "output": graph.output}
    predicted = LiteRTPredictor(path, build.info).logits_preprocessed(x).argmax(1)
    return Int16x8Check(top1_agreement=float(np.mean(predicted == float_logits.argmax(1))),
                        accuracy=float(np.mean(predicted == labels)),
                        integer_problems=graph.integer_problems("int16"), bytes=path.stat().st_size)
