"""Additive noise at a controlled SNR, for training augmentation and robustness tests.

DRSN-style models are judged by how they hold up as the signal-to-noise ratio
falls, so the SNR here is exact per window (not on average): each window's
noise is rescaled against that window's own signal power.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from drsn_edge.errors import DrsnError

NOISE_TYPES: tuple[str, ...] = ("gaussian", "laplacian", "pink")

RngLike = np.random.Generator | int | None


def _rng(rng: RngLike) -> np.random.Generator:
    """Accept a Generator (used as is) or a seed, never touching global RNG state."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def parse_noise_types(spec: str) -> list[str]:
    """Turn CLI text such as ``"gaussian,pink"`` or ``"all"`` into a list of kinds."""
    names = [part.strip().lower() for part in str(spec).split(",") if part.strip()]
    if names == ["all"]:
        return list(NOISE_TYPES)
    if not names:
        raise DrsnError(f"no noise type given; choose from {', '.join(NOISE_TYPES)} or 'all'")
    unknown = [n for n in names if n not in NOISE_TYPES]
    if unknown:
        raise DrsnError(
            f"unknown noise type {', '.join(unknown)!s}; choose from {', '.join(NOISE_TYPES)} or 'all'"
        )
    return list(dict.fromkeys(names))  # drop repeats, keep order


def parse_snr(spec: str) -> float | tuple[float, float]:
    """``"5"`` -> 5.0 (fixed SNR); ``"-5,5"`` -> (-5.0, 5.0) (uniform per window)."""
    parts = [p.strip() for p in str(spec).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise DrsnError(f"SNR must be a number of dB or 'low,high', got {spec!r}") from None
    if len(values) not in (1, 2) or not all(math.isfinite(v) for v in values):
        raise DrsnError(f"SNR must be a number of dB or 'low,high', got {spec!r}")
    if len(values) == 1:
        return values[0]
    low, high = values
    if low > high:
        raise DrsnError(f"SNR range must be 'low,high' with low <= high, got {spec!r}")
    return (low, high)


def _pink_shape(length: int) -> np.ndarray:
    """rfft amplitude weights 1/sqrt(f): power ~ 1/f, i.e. -10 dB per decade; DC removed."""
    k = np.arange(length // 2 + 1, dtype=np.float64)
    weights = np.zeros_like(k)
    weights[1:] = 1.0 / np.sqrt(k[1:])
    return weights


def unit_noise(kind: str, shape: tuple[int, int], rng: RngLike) -> np.ndarray:
    """Zero-mean noise (N, L) float64 of one kind, every row at mean square exactly 1."""
    if kind not in NOISE_TYPES:
        raise DrsnError(f"unknown noise type {kind!r}; choose from {', '.join(NOISE_TYPES)}")
    n, length = (int(s) for s in shape)
    gen = _rng(rng)
    if kind == "gaussian":
        noise = gen.standard_normal((n, length))
    elif kind == "laplacian":
        noise = gen.laplace(0.0, 1.0 / math.sqrt(2.0), size=(n, length))
    else:
        white = gen.standard_normal((n, length))
        noise = np.fft.irfft(np.fft.rfft(white, axis=1) * _pink_shape(length), n=length, axis=1)
    noise -= noise.mean(axis=1, keepdims=True)
    power = np.mean(noise * noise, axis=1, keepdims=True)
    # A row can only have zero power when L == 1 (mean removal leaves nothing); keep it zero.
    noise /= np.sqrt(np.where(power > 0, power, 1.0))
    return noise


def _kinds_list(kinds: str | Sequence[str]) -> list[str]:
    names = parse_noise_types(kinds) if isinstance(kinds, str) else [str(k) for k in kinds]
    if not names:
        raise DrsnError(f"no noise type given; choose from {', '.join(NOISE_TYPES)}")
    for name in names:
        if name not in NOISE_TYPES:
            raise DrsnError(f"unknown noise type {name!r}; choose from {', '.join(NOISE_TYPES)}")
    return names


def _snr_per_window(snr_db: float | tuple[float, float], n: int, gen: np.random.Generator) -> np.ndarray:
    if isinstance(snr_db, (tuple, list)):
        if len(snr_db) != 2:
            raise DrsnError(f"SNR range must be (low, high), got {snr_db!r}")
        low, high = float(snr_db[0]), float(snr_db[1])
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise DrsnError(f"SNR range must be finite with low <= high, got {snr_db!r}")
        return gen.uniform(low, high, size=n)
    value = float(snr_db)
    if not math.isfinite(value):
        raise DrsnError(f"SNR must be a finite number of dB, got {snr_db!r}")
    return np.full(n, value)


def add_noise(
    x: np.ndarray,
    kinds: str | Sequence[str],
    snr_db: float | tuple[float, float],
    rng: RngLike,
) -> np.ndarray:
    """Return ``x`` (N, L) plus noise at an exact per-window SNR, as float32.

    With several kinds, each window gets one kind chosen uniformly. Noise power is
    set from the window's own mean square, so an all-zero window stays all zero.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise DrsnError(f"noise is added to windows of shape (N, L), got shape {arr.shape}")
    names = _kinds_list(kinds)
    gen = _rng(rng)
    n, length = arr.shape
    clean = arr.astype(np.float64)
    snr = _snr_per_window(snr_db, n, gen)
    choice = gen.integers(len(names), size=n) if len(names) > 1 else np.zeros(n, dtype=np.int64)
    noise = np.empty((n, length), dtype=np.float64)
    for i, name in enumerate(names):  # one vectorised draw per kind, not per window
        rows = np.flatnonzero(choice == i)
        if rows.size:
            noise[rows] = unit_noise(name, (rows.size, length), gen)
    signal_power = np.mean(clean * clean, axis=1)
    scale = np.sqrt(signal_power / 10.0 ** (snr / 10.0))
    return (clean + scale[:, None] * noise).astype(np.float32)
