"""The in-memory form every data source produces: raw windows plus labels."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drsn_edge.errors import DrsnError


@dataclass
class Windows:
    """Raw (un-normalised) windows ``x`` (N, L) float32, labels ``y`` (N,) int64.

    ``classes`` names the label indices; ``sample_rate`` is in Hz. ``info`` is a
    free-form, JSON-serialisable summary of where the windows came from.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    sample_rate: float
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.classes = [str(c) for c in self.classes]
        if self.x.ndim != 2:
            raise DrsnError(f"windows must be 2-D (N, L), got shape {self.x.shape}")
        if self.y.shape != (self.x.shape[0],):
            raise DrsnError(f"{self.x.shape[0]} windows but {self.y.shape} labels")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise DrsnError(f"labels must lie in 0..{len(self.classes) - 1}")
        if len(set(self.classes)) != len(self.classes):
            raise DrsnError(f"duplicate class names: {self.classes}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def window_length(self) -> int:
        return int(self.x.shape[1])

    def check_finite(self) -> None:
        """Refuse NaN or Inf: they would silently poison training or evaluation."""
        bad = ~np.isfinite(self.x)
        if bad.any():
            n = int(bad.any(axis=1).sum())
            raise DrsnError(f"data holds NaN or Inf in {n} of {len(self)} windows")


@dataclass
class Splits:
    """Train / validation / test windows from disjoint spans of the source."""

    train: Windows
    val: Windows
    test: Windows
