"""The in-memory form every data source produces: raw windows, labels and each window's operating condition.

An operating condition is a short string naming how the machine ran when the
window was recorded: CWRU uses its motor load, ``"0hp"`` ... ``"3hp"``; an
``.npz`` may name its own (``"load3"``, ``"1500rpm"``, ...). A source that
does not know gives every window :data:`DEFAULT_CONDITION`. Conditions are
what a data spec selects with ``@condition=...`` and what ``evaluate`` breaks
accuracy down by.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drsn_edge.errors import DrsnError

DEFAULT_CONDITION = "unspecified"  # every window of a source that records no condition


@dataclass
class Windows:
    """Raw (un-normalised) windows ``x`` (N, L) float32, labels ``y`` (N,) int64.

    ``classes`` names the label indices; ``sample_rate`` is in Hz. ``info`` is a
    free-form, JSON-serialisable summary of where the windows came from.
    ``condition`` (N,) names each window's operating condition (None: all
    :data:`DEFAULT_CONDITION`).
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    sample_rate: float
    info: dict = field(default_factory=dict)
    condition: np.ndarray | None = None

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
        if self.condition is None:
            self.condition = np.full(len(self.y), DEFAULT_CONDITION)
        self.condition = np.asarray(self.condition).astype(np.str_)
        if self.condition.shape != self.y.shape:
            raise DrsnError(f"{len(self.y)} windows but {self.condition.shape} condition names")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def window_length(self) -> int:
        return int(self.x.shape[1])

    @property
    def conditions(self) -> list[str]:
        """The distinct operating conditions present, sorted."""
        return sorted(set(self.condition.tolist()))

    def take(self, index: np.ndarray, **info: object) -> "Windows":
        """The windows at ``index`` (indices or a boolean mask), same classes; ``info`` entries are added."""
        return Windows(self.x[index], self.y[index], self.classes, self.sample_rate,
                       {**self.info, **info}, self.condition[index])

    def check_finite(self) -> None:
        """Refuse NaN or Inf: they would silently poison training or evaluation."""
        bad = ~np.isfinite(self.x)
        if bad.any():
            n = int(bad.any(axis=1).sum())
            raise DrsnError(f"data holds NaN or Inf in {n} of {len(self)} windows")


def concat(parts: list[Windows], **info: object) -> Windows:
    """Windows of one source (same classes and rate) joined in order; ``info`` from the first plus ``info``."""
    first = parts[0]
    return Windows(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]), first.classes,
                   first.sample_rate, {**first.info, **info}, np.concatenate([p.condition for p in parts]))


@dataclass
class Splits:
    """Train / validation / test windows from disjoint spans of the source."""

    train: Windows
    val: Windows
    test: Windows


def hold_out(splits: Splits, condition: str) -> Splits:
    """Validate on a held-out condition: train on the other conditions' training spans, validate on
    every non-test window of ``condition`` (its training and validation spans); the test split stays."""
    present = splits.train.conditions
    if condition not in present:
        raise DrsnError(f"the data has no condition '{condition}' to validate on (conditions: {', '.join(present)})")
    if present == [condition]:
        raise DrsnError(f"'{condition}' is the data's only condition: nothing would be left to train on")
    train = splits.train.take(splits.train.condition != condition)
    val = concat([splits.train.take(splits.train.condition == condition),
                  splits.val.take(splits.val.condition == condition)], split="val", held_out=condition)
    return Splits(train, val, splits.test)
