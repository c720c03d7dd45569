"""Window preprocessing, defined once and stored in every checkpoint.

Every runtime (PyTorch, ONNX, TFLite, the C engine, the Pi runner) applies the
same :class:`Preprocessing`, so a raw sensor window means the same thing
everywhere. The default standardises each window on its own (zero mean, unit
standard deviation): it needs no data statistics and keeps int8 input ranges
fixed whatever the sensor's gain.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields

import numpy as np

from drsn_edge.defaults import SAMPLE_RATE, WINDOW_LENGTH
from drsn_edge.errors import DrsnError

NORMALISATIONS = ("window", "global", "none")
MAX_WINDOW_LENGTH = 1 << 20  # samples; a window is held whole in RAM on every device
MAX_SAMPLE_RATE = 10e6  # Hz
MAX_SCALE = 1e30  # |mean|, std: beyond this float32 arithmetic on the window overflows


def _real(value: object, name: str, low: float, high: float) -> float:
    """``value`` as a float if it is a finite real number in ``[low, high]`` (bool and text refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise DrsnError(f"preprocessing {name} must be a finite number, got {value!r:.40}")
    if not low <= float(value) <= high:
        raise DrsnError(f"preprocessing {name} {value:g} is outside [{low:g}, {high:g}]")
    return float(value)


@dataclass
class Preprocessing:
    """``window``: per-window z-score; ``global``: fixed ``(x - mean) / std``; ``none``."""

    window_length: int = WINDOW_LENGTH
    sample_rate: float = SAMPLE_RATE
    normalisation: str = "window"
    mean: float = 0.0
    std: float = 1.0
    eps: float = 1e-6

    def __post_init__(self) -> None:
        """Types and ranges checked here, so a checkpoint or model.json cannot bring absurd values in."""
        if not isinstance(self.normalisation, str) or self.normalisation not in NORMALISATIONS:
            raise DrsnError(f"unknown normalisation {self.normalisation!r:.40} (choose from {', '.join(NORMALISATIONS)})")
        if isinstance(self.window_length, bool) or not isinstance(self.window_length, numbers.Integral) \
                or not 1 <= self.window_length <= MAX_WINDOW_LENGTH:
            raise DrsnError(f"preprocessing window length must be an integer in [1, {MAX_WINDOW_LENGTH}], "
                            f"got {self.window_length!r:.40}")
        self.window_length = int(self.window_length)
        self.sample_rate = _real(self.sample_rate, "sample rate", 1e-3, MAX_SAMPLE_RATE)
        self.mean = _real(self.mean, "mean", -MAX_SCALE, MAX_SCALE)
        self.std = _real(self.std, "std", 1e-30, MAX_SCALE)
        self.eps = _real(self.eps, "eps", 1e-30, 1.0)

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        if not isinstance(data, dict):
            raise DrsnError("preprocessing is not a mapping")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)

    def fit(self, x: np.ndarray) -> "Preprocessing":
        """Return a copy whose global mean/std come from training windows ``x``."""
        if self.normalisation != "global":
            return self
        std = float(np.std(x))
        return Preprocessing(**{**self.to_dict(), "mean": float(np.mean(x)), "std": std if std > 0 else 1.0})

    def check(self, x: np.ndarray) -> np.ndarray:
        """Validate raw windows: 2-D, the model's window length, finite."""
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise DrsnError(f"windows must be (N, {self.window_length}), got shape {x.shape}")
        if x.shape[1] != self.window_length:
            raise DrsnError(f"windows have {x.shape[1]} samples but the model expects {self.window_length}")
        if not np.isfinite(x).all():
            raise DrsnError("windows hold NaN or Inf")
        return x

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Raw windows (N, L) -> float32 network input (N, L)."""
        x = self.check(x).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # samples near 1e308 overflow the std: refused below
            if self.normalisation == "window":
                mean, std = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
                if not (np.isfinite(mean).all() and np.isfinite(std).all()):
                    raise DrsnError("windows are not finite after preprocessing (samples too large)")
                x = (x - mean) / (std + self.eps)
            elif self.normalisation == "global":
                x = (x - self.mean) / self.std
            x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise DrsnError("windows are not finite after preprocessing (samples too large)")
        return x
