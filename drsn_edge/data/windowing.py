"""Cut a 1-D recording into fixed-length windows, and split it in time first.

Splitting into disjoint time spans *before* windowing is what keeps train and
test apart: overlapping windows taken from one continuous recording are nearly
identical, so interleaving them would leak test signal into training.
"""
from __future__ import annotations

import math

import numpy as np

from drsn_edge.errors import DrsnError


def _positive_int(value: object, name: str) -> int:
    """Window sizes come from the command line, so a bad one is a user error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DrsnError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def n_windows(n_samples: int, length: int, hop: int) -> int:
    """How many windows :func:`frame` yields, without building them."""
    if n_samples < length:
        return 0
    return (n_samples - length) // hop + 1


def frame(signal: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Consecutive windows starting at sample 0, ``hop`` apart, as (n, length) float32.

    A signal shorter than one window gives n = 0; the caller knows which file
    and span it was and so can word the error.
    """
    length = _positive_int(length, "window length")
    hop = _positive_int(hop, "hop")
    sig = np.asarray(signal)
    if sig.ndim != 1:
        raise DrsnError(f"can only window a 1-D signal, got shape {sig.shape}")
    n = n_windows(sig.shape[0], length, hop)
    if n == 0:
        return np.empty((0, length), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(sig, length)[::hop]
    # A real copy: callers may edit windows in place (normalisation, noise).
    return np.array(view[:n], dtype=np.float32, copy=True)


def split_spans(
    n_samples: int, fractions: tuple[float, float, float]
) -> list[tuple[int, int]]:
    """Disjoint contiguous ``[start, end)`` spans, in time order: train, val, test.

    Boundaries are rounded cumulative fractions, so spans tile the recording
    with no gap and no overlap (a sum below 1 leaves the tail unused).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise DrsnError(f"sample count must be a non-negative integer, got {n_samples!r}")
    try:
        fr = [float(f) for f in fractions]
    except (TypeError, ValueError):
        raise DrsnError(f"split fractions must be three numbers, got {fractions!r}") from None
    if len(fr) != 3:
        raise DrsnError(f"split fractions must be three numbers (train, val, test), got {len(fr)}")
    if any(not math.isfinite(f) or f < 0 for f in fr):
        raise DrsnError(f"split fractions must be finite and non-negative, got {tuple(fr)}")
    total = sum(fr)
    if total <= 0 or total > 1 + 1e-9:
        raise DrsnError(f"split fractions must sum to more than 0 and at most 1, got {total:g}")
    n = int(n_samples)
    cuts = [0]
    acc = 0.0
    for f in fr:
        acc += f
        cuts.append(min(n, int(round(n * acc))))
    if abs(total - 1.0) <= 1e-9:
        cuts[-1] = n  # rounding must never drop the last sample
    return [(cuts[i], cuts[i + 1]) for i in range(3)]


def positive_rate(rate: object, what: str) -> float:
    """``rate`` as a finite, positive number of Hz, or one clear error naming ``what``."""
    try:
        value = float(rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DrsnError(f"{what} must be a number of Hz, got {rate!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise DrsnError(f"{what} must be a positive number of Hz, got {rate!r}")
    return value
