"""Training augmentation for field validity: speed (load) jitter, time shift and gain, on raw windows.

A change of motor load changes the shaft speed by a few per cent, and every
bearing defect frequency scales with it. Reading each training window at a
random rate (``speed_jitter``: rate uniform in ``1 +- jitter``) stretches or
compresses its time axis the way a speed change does; ``time_shift`` starts
the read a random share of the window later; ``gain_db`` scales the window by
a random gain (a no-op under per-window standardisation, useful with
``global`` or ``none`` normalisation). Reading past the window's end reflects
back into it. Interpolation is cubic (Catmull-Rom), which keeps the band up to
a quarter of the sample rate within about 0.3 dB.
"""
from __future__ import annotations

import numpy as np

_CHUNK = 512  # windows interpolated at a time: bounds the temporary arrays


def _reflect(index: np.ndarray, length: int) -> np.ndarray:
    index = np.abs(index)
    index = np.where(index > length - 1, 2 * (length - 1) - index, index)
    return np.clip(index, 0, length - 1)


def read_at(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Windows ``x`` (N, L) sampled at fractional ``positions`` (N, M) by Catmull-Rom interpolation."""
    base = np.floor(positions)
    t = (positions - base)[..., None]
    base = base.astype(np.int64)
    taps = np.stack([base - 1, base, base + 1, base + 2], axis=-1)
    weights = np.concatenate([(-t ** 3 + 2 * t ** 2 - t) / 2, (3 * t ** 3 - 5 * t ** 2 + 2) / 2,
                              (-3 * t ** 3 + 4 * t ** 2 + t) / 2, (t ** 3 - t ** 2) / 2], axis=-1)
    idx = _reflect(taps, x.shape[1]).reshape(len(x), -1)
    values = np.take_along_axis(x, idx, axis=1).reshape(taps.shape)
    return np.sum(values * weights, axis=-1)


def augment(x: np.ndarray, speed_jitter: float, time_shift: float, gain_db: float,
            rng: np.random.Generator) -> np.ndarray:
    """Augmented copy of raw windows ``x`` (N, L); ``x`` itself (no random draws) when every knob is 0."""
    if not (speed_jitter or time_shift or gain_db):
        return x
    n, length = x.shape
    out = x.astype(np.float64)
    if speed_jitter or time_shift:
        rate = 1.0 + rng.uniform(-speed_jitter, speed_jitter, n) if speed_jitter else np.ones(n)
        start = rng.uniform(0.0, time_shift * length, n) if time_shift else np.zeros(n)
        steps = np.arange(length, dtype=np.float64)
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            out[lo:hi] = read_at(out[lo:hi], start[lo:hi, None] + steps[None, :] * rate[lo:hi, None])
    if gain_db:
        out *= 10.0 ** (rng.uniform(-gain_db, gain_db, n) / 20.0)[:, None]
    return out.astype(np.float32)
