"""What the model sees: preprocessing and input quantisation, the repo's one deliberate copy of drsn_edge's."""
from __future__ import annotations

import numpy as np

# Deliberate, commented copy (issue 11): the device cannot import drsn_edge, so the two pieces of the toolkit
# that decide what the model sees are re-implemented here. tests/test_pi.py checks both against the originals
# bit for bit; change them together.
#   preprocess      mirrors drsn_edge.preprocess.Preprocessing.apply (float64 z-score per window, then float32)
#   quantize_input  mirrors quantize.runtimes.base.quantize_input (round(x / scale) + zero_point, clipped)


def preprocess(windows: np.ndarray, pre: dict) -> np.ndarray:
    """Raw windows (N, L) -> float32 network input; mirrors drsn_edge.preprocess.Preprocessing.apply."""
    x = np.asarray(windows).astype(np.float64)
    mode = pre.get("normalisation", "window")
    if mode == "window":
        x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + pre.get("eps", 1e-6))
    elif mode == "global":
        x = (x - pre.get("mean", 0.0)) / pre.get("std", 1.0)
    return x.astype(np.float32)


def quantize_input(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float input -> integer tensor; mirrors quantize.runtimes.base.quantize_input (round half to even, clip)."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)
