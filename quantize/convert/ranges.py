"""Activation ranges for int8 post-training quantisation, beyond min/max.

The TFLite converter calibrates by recording each activation tensor's min and
max over the representative windows. With a per-sample threshold in every
residual unit, a few impulsive windows set those extremes and every other
window pays with coarser steps. Here the converter's calibration result (a
float model whose tensors carry min/max) is intercepted, each tensor's values
over the same windows are summarised in a histogram, and its range is replaced
by an outlier-robust choice before the converter's own quantiser runs. Every
other step of the conversion stays the converter's.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from drsn_edge.errors import DrsnError

BINS = 2048
METHODS = ("minmax", "percentile", "mse", "mean-minmax")


@dataclass(frozen=True)
class RangeMethod:
    """How a tensor's int8 range is chosen; ``param`` is the percentile for ``percentile``."""

    name: str = "minmax"
    param: float | None = None

    @classmethod
    def parse(cls, text: str) -> "RangeMethod":
        """``minmax``, ``mse``, ``mean-minmax`` or ``percentile:99.99``."""
        name, _, value = text.strip().lower().partition(":")
        if name not in METHODS:
            raise DrsnError(f"unknown range method '{text}' (choose from {', '.join(METHODS)}; percentile:P)")
        if name == "percentile":
            try:
                param = float(value or "99.99")
            except ValueError:
                raise DrsnError(f"percentile needs a number, got '{value}'") from None
            if not 50.0 < param <= 100.0:
                raise DrsnError(f"percentile must be in (50, 100], got {param}")
            return cls(name, param)
        if value:
            raise DrsnError(f"range method '{name}' takes no parameter")
        return cls(name)

    def __str__(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param:g}"


@dataclass
class TensorStats:
    """One activation tensor over the calibration windows."""

    lo: float  # calibrated min over all windows
    hi: float
    hist: np.ndarray  # counts of BINS equal bins over [lo, hi]
    window_lo: np.ndarray  # per-window min
    window_hi: np.ndarray

    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, BINS + 1)


class Accumulator:
    """Builds one tensor's ``TensorStats`` over calibration batches: extremes first, then the histogram
    (shared by the TFLite calibration here and the PyTorch mirror in ``quantize.convert.fakequant``)."""

    def __init__(self, lo: float = float("inf"), hi: float = float("-inf")) -> None:
        self.lo, self.hi = lo, hi
        self.fixed = lo <= hi  # bounds known up front (the converter's calibration): one pass suffices
        self.hist = np.zeros(BINS, dtype=np.int64)
        self.window_lo: list[np.ndarray] = []
        self.window_hi: list[np.ndarray] = []

    def see_range(self, per_window: np.ndarray) -> None:
        """``per_window``: (windows, values) of one batch."""
        lo, hi = per_window.min(axis=1), per_window.max(axis=1)
        self.window_lo.append(lo)
        self.window_hi.append(hi)
        if not self.fixed:
            self.lo, self.hi = min(self.lo, float(lo.min())), max(self.hi, float(hi.max()))

    def see_values(self, values: np.ndarray) -> None:
        if self.hi > self.lo:
            self.hist += np.histogram(values, bins=BINS, range=(self.lo, self.hi))[0]

    def stats(self) -> TensorStats:
        return TensorStats(self.lo, self.hi, self.hist, np.concatenate(self.window_lo), np.concatenate(self.window_hi))


def _quantile(stats: TensorStats, q: float) -> float:
    cdf = np.cumsum(stats.hist) / max(stats.hist.sum(), 1)
    edges = stats.edges()
    return float(edges[1 + np.searchsorted(cdf, q, side="left").clip(0, BINS - 1)])


def quantisation_mse(stats: TensorStats, lo: float, hi: float, levels: int = 256) -> float:
    """Expected squared error of quantising with ``levels`` steps over [lo, hi]: clipping plus rounding."""
    edges = stats.edges()
    centres = (edges[:-1] + edges[1:]) / 2
    step = (hi - lo) / (levels - 1)
    clipped = np.clip(centres, lo, hi)
    inside = (centres >= lo) & (centres <= hi)
    err = np.where(inside, step * step / 12.0, (centres - clipped) ** 2)
    return float(np.sum(stats.hist * err) / max(stats.hist.sum(), 1))


def choose_range(stats: TensorStats, method: RangeMethod, levels: int = 256) -> tuple[float, float]:
    """The (min, max) to quantise this tensor with; always contains zero, as TFLite requires."""
    lo, hi = stats.lo, stats.hi
    if method.name == "minmax":
        return lo, hi
    if method.name == "percentile":
        q = method.param / 100.0
        lo = lo if lo >= 0 else min(_quantile(stats, 1.0 - q), 0.0)
        hi = hi if hi <= 0 else max(_quantile(stats, q), 0.0)
    elif method.name == "mse":
        scales = np.linspace(0.2, 1.0, 81)
        errors = [quantisation_mse(stats, min(lo * s, 0.0), max(hi * s, 0.0), levels) for s in scales]
        best = float(scales[int(np.argmin(errors))])
        lo, hi = min(lo * best, 0.0), max(hi * best, 0.0)
    elif method.name == "mean-minmax":
        lo = min(float(np.mean(stats.window_lo)), 0.0)
        hi = max(float(np.mean(stats.window_hi)), 0.0)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    return (lo, hi) if hi > lo else (min(stats.lo, 0.0), max(stats.hi, 0.0))


def _activation_tensors(model) -> list[int]:
    """Indices of tensors the calibrator gave a min/max (activations, not constants)."""
    graph = model.subgraphs[0]
    found = []
    for i, tensor in enumerate(graph.tensors):
        q = tensor.quantization
        if q is not None and q.min is not None and q.max is not None and len(q.min) == 1 \
                and model.buffers[tensor.buffer].data is None:
            found.append(i)
    return found


def collect_stats(calibrated: bytes, windows: np.ndarray) -> dict[int, TensorStats]:
    """Run the calibrated float model on ``windows`` (N, L) and histogram every activation tensor."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from quantize.tflite.graph import read_model

    model = read_model(calibrated)
    indices = _activation_tensors(model)
    graph = model.subgraphs[0]
    bounds = {i: (float(graph.tensors[i].quantization.min[0]), float(graph.tensors[i].quantization.max[0]))
              for i in indices}
    interp = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    acc = {i: Accumulator(*bounds[i]) for i in indices}
    for row in np.asarray(windows, dtype=np.float32):
        interp.set_tensor(inp["index"], row.reshape(inp["shape"]))
        interp.invoke()
        for i in indices:
            values = interp.get_tensor(i).ravel()
            acc[i].see_range(values[None])
            acc[i].see_values(values)
    return {i: a.stats() for i, a in acc.items()}


def rewrite_ranges(calibrated: bytes, windows: np.ndarray, method: RangeMethod,
                   levels: int = 256) -> tuple[bytes, dict]:
    """The calibrated model with every activation range chosen by ``method`` for ``levels``-step
    activations (256 for int8, 65536 for int16), and what changed."""
    from quantize.tflite.graph import read_model, write_model

    if method.name == "minmax":
        return calibrated, {}
    stats = collect_stats(calibrated, windows)
    model = read_model(calibrated)
    graph = model.subgraphs[0]
    changes = {}
    for i, s in stats.items():
        lo, hi = choose_range(s, method, levels)
        tensor = graph.tensors[i]
        tensor.quantization.min = np.array([lo], dtype=np.float32)
        tensor.quantization.max = np.array([hi], dtype=np.float32)
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        changes[name] = {"minmax": [s.lo, s.hi], "chosen": [lo, hi]}
    return write_model(model), changes


@contextlib.contextmanager
def intercept_calibration(transform: Callable[[bytes], bytes]) -> Iterator[None]:
    """Apply ``transform`` to the converter's calibrated model before it quantises.

    Patches TensorFlow's ``Calibrator.calibrate`` for the duration (the pinned TF 2.21);
    the rest of the converter's quantisation path is untouched.
    """
    from tensorflow.lite.python.optimize import calibrator

    original = calibrator.Calibrator.calibrate

    def calibrate(self, dataset_gen):  # noqa: ANN001 - TensorFlow's signature
        return transform(original(self, dataset_gen))

    calibrator.Calibrator.calibrate = calibrate
    try:
        yield
    finally:
        calibrator.Calibrator.calibrate = original
