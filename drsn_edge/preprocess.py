"""Window preprocessing, defined once and stored in every checkpoint.

Every runtime (PyTorch, ONNX, TFLite, the C engine, the Pi runner) applies the
same :class:`Preprocessing`, so a raw sensor window means the same thing
everywhere. The default standardises each window on its own (zero mean, unit
standard deviation): it needs no data statistics and keeps int8 input ranges
fixed whatever the sensor's gain.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from drsn_edge.defaults import SAMPLE_RATE, WINDOW_LENGTH
from drsn_edge.errors import DrsnError

NORMALISATIONS = ("window", "global", "none")


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
        if self.normalisation not in NORMALISATIONS:
            raise DrsnError(f"unknown normalisation '{self.normalisation}' (choose from {', '.join(NORMALISATIONS)})")
        if self.window_length < 1 or self.sample_rate <= 0 or self.std <= 0 or self.eps <= 0:
            raise DrsnError("preprocessing needs a positive window length, sample rate, std and eps")

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
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
        if self.normalisation == "window":
            x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + self.eps)
        elif self.normalisation == "global":
            x = (x - self.mean) / self.std
        return x.astype(np.float32)
