"""What the report runs and on what: its options, the build's runtimes (float reference first) and the
evaluation windows. Shared by the collector and the sweep's worker processes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drsn_edge.buildinfo import BuildInfo, load_build_info
from drsn_edge.checkpoint import load_checkpoint
from drsn_edge.data.dataset import Windows
from drsn_edge.data.noise import NOISE_TYPES
from drsn_edge.data.spec import load_windows
from drsn_edge.defaults import CHANNEL
from drsn_edge.errors import DrsnError
from drsn_edge.evaluate import SWEEP_SNRS_DB
from drsn_edge.predictor import Predictor, TorchPredictor
from drsn_edge.registry import build_file, runtimes_of_build

ONNX_NAME = "onnxruntime-float"  # checked against the checkpoint to pick the float reference
INT8_NAME = "litert-int8"  # the deployable int8 model in LiteRT's reference kernels: "int8" on the page
FLOAT_MATCH = 1e-3  # max |logit diff| for the checkpoint to count as the one that was converted


@dataclass
class ReportOptions:
    """What to evaluate on; the defaults are the full sweep on the test split."""

    data: str
    split: str = "test"
    noise_types: tuple[str, ...] = NOISE_TYPES
    snrs_db: tuple[float, ...] = SWEEP_SNRS_DB
    limit: int | None = None  # evenly spaced subset of the windows (quick looks, tests)
    seed: int = 0  # noise seed, as `drsn-edge evaluate --seed`
    channel: str = CHANNEL
    latency_windows: int = 32
    workers: int = 1  # processes for the sweep (see report_sweep)
    progress: bool = True
    devices: tuple[str, ...] = ()  # validate-device --json results, shown as "device (<board>)" runtimes
    _windows: dict = field(default_factory=dict, repr=False)  # window length -> Windows, shared by builds

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise DrsnError("--workers must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise DrsnError("--limit must be positive")
        if self.noise_types and not self.snrs_db:
            raise DrsnError("noise types given but no SNR")
        if not all(np.isfinite(self.snrs_db)):
            raise DrsnError("SNRs must be finite numbers of dB")


def read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise DrsnError(f"{path} is unreadable: {exc}") from None


def _torch_reference(validation: dict, onnx: Predictor | None, probe: np.ndarray, notes: list[str]) -> Predictor | None:
    """The PyTorch model if its checkpoint is still there and is the one that was converted."""
    path = validation.get("checkpoint")
    if not path or not Path(path).is_file():
        notes.append(f"The checkpoint ({path or 'not recorded'}) is gone, so the float reference is ONNX Runtime "
                     "running the exported graph (convert found it within 1e-4 of PyTorch).")
        return None
    torch_pred = TorchPredictor(load_checkpoint(path))
    if onnx is not None:
        diff = float(np.max(np.abs(torch_pred.logits(probe) - onnx.logits(probe))))
        if diff > FLOAT_MATCH:
            notes.append(f"The checkpoint at {path} no longer matches this build (logits differ by {diff:.3g}), "
                         "so the float reference is ONNX Runtime.")
            return None
    return torch_pred


def build_predictors(build_dir: Path, probe: np.ndarray) -> tuple[list[Predictor], list[str]]:
    """Every runtime the build supports, float reference first; notes say what is missing and why."""
    info = load_build_info(build_dir)
    validation = read_json(build_dir / "validation.json")
    if build_file(build_dir, info, "int8") is None:
        raise DrsnError(f"{build_dir} has no int8 model")
    runtimes, left_out = runtimes_of_build(build_dir)
    notes: list[str] = []
    onnx = next((p for p in runtimes if p.name == ONNX_NAME), None)
    torch_reference = _torch_reference(validation, onnx, probe, notes)
    predictors = ([torch_reference] if torch_reference else []) + runtimes
    for p in predictors:  # the float reference too: its logits quantised with the int8 output's scale
        p.unknown = p.unknown or info.unknown
    if "int16x8" not in info.files:
        notes.append("No int16x8 model in this build (convert --int16-activations adds one).")
    notes += left_out
    if predictors[0].name == INT8_NAME:
        raise DrsnError(f"{build_dir} has no float model to compare the int8 model with")
    return predictors, notes


def evaluation_windows(opts: ReportOptions, build: BuildInfo) -> Windows:
    """The evaluation windows for this build's window length (loaded once per length)."""
    pre = build.preprocessing
    if pre.window_length not in opts._windows:
        windows = load_windows(opts.data, split=opts.split, window_length=pre.window_length, channel=opts.channel)
        if opts.limit is not None and opts.limit < len(windows):
            idx = np.unique(np.linspace(0, len(windows) - 1, opts.limit).round().astype(int))
            windows = windows.take(idx)
        opts._windows[pre.window_length] = windows
    windows = opts._windows[pre.window_length]
    if abs(windows.sample_rate - pre.sample_rate) > 1e-6:
        raise DrsnError(f"data is sampled at {windows.sample_rate:g} Hz but {build.name} expects {pre.sample_rate:g} Hz")
    pre.check(windows.x[:1])
    return windows
