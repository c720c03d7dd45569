"""What the model sees: preprocessing and input quantisation, the repo's one deliberate copy of drsn_edge's."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

# Deliberate, commented copy (issue 11): the device cannot import drsn_edge, so the pieces of the toolkit
# that decide what the model sees are re-implemented here. tests/test_pi.py checks them against the originals
# bit for bit; change them together.
#   preprocess      mirrors drsn_edge.preprocess.Preprocessing.apply (float64 z-score per window, then float32)
#   quantize_input  mirrors drsn_edge.int8_input.quantize_float (round(x / scale) + zero_point, clipped)
#   int8_window     mirrors drsn_edge.int8_input.Int8Input.from_float for "window" normalisation (integers
#                   only; int16 samples, e.g. a WAV's, go through it exactly, as drsn_classify_i16 does)


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
    """Float input -> integer tensor; mirrors drsn_edge.int8_input.quantize_float (round half to even, clip)."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def _mantissa_exponent(value: Fraction) -> tuple[int, int]:
    """value > 0 as (m, e), m in [2^30, 2^31), m 2^e its nearest; mirrors int8_input.mantissa_exponent."""
    e = math.floor(math.log2(value)) - 30
    while value / Fraction(2) ** e >= 2 ** 31:
        e += 1
    while value / Fraction(2) ** e < 2 ** 30:
        e -= 1
    m = round(value / Fraction(2) ** e)
    return (m // 2, e + 1) if m == 2 ** 31 else (int(m), int(e))


def _eps_units(m: int, e: int) -> int:
    """m 2^e rounded half up, capped at 2^62; mirrors int8_input.shift_round."""
    if e > 31:
        return 1 << 62
    if e >= 0:
        return m << e
    return 0 if e < -32 else (m + (1 << (-e - 1))) >> -e


def int8_window(window: np.ndarray, eps: float, scale: float, zero_point: int) -> np.ndarray | None:
    """One raw window -> its int8 input ("window" normalisation), None if it is not finite as float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        bits = np.ascontiguousarray(window, dtype=np.float32).view(np.uint32).astype(np.int64)
    mag = bits & 0x7FFFFFFF
    if (mag >= 0x7F800000).any():
        return None
    exp = mag >> 23
    mant = (mag & 0x7FFFFF) | np.where(exp > 0, 1 << 23, 0)
    amax = int(mag.max())
    top = 0 if amax == 0 else (amax >> 23) - 127 if amax >> 23 else amax.bit_length() - 150
    shift = 131 + top - np.maximum(exp, 1)
    right = np.clip(shift, 1, 31)
    s = np.where(shift <= 0, mant << np.clip(-shift, 0, 31), (mant + (1 << (right - 1))) >> right)
    s = np.where(shift > 31, 0, s)
    s = np.where(bits >> 31 & 1, -s, s)
    n = len(s)
    s1, sq = int(s.sum()), int((s * s).sum())
    c = (2 * s1 + n) // (2 * n)
    r = s1 - n * c
    v = sq - 2 * c * s1 + n * c * c - (r * r) // n
    sigma = math.isqrt(((v // n) << 20) + (((v % n) << 20) // n))
    eps_m, eps_e = _mantissa_exponent(Fraction(eps))
    denom = sigma + _eps_units(eps_m, eps_e + 29 - top)
    d = s - c
    if denom == 0:
        return np.full(n, np.clip(zero_point, -128, 127), np.int8)
    t = max(0, denom.bit_length() - 31)
    length = (denom >> t).bit_length()
    inv_m, inv_e = _mantissa_exponent(1 / Fraction(scale))
    gain = (inv_m << (length - 1)) // (denom >> t)
    sh = length - 1 + t - inv_e - 10
    mag = np.abs(d)
    if sh <= 0:
        mag = np.where(mag > 0, 256, 0)
    elif sh > 62:
        mag = np.zeros_like(mag)
    else:
        mag = (mag * gain + (1 << (sh - 1))) >> sh
    return np.clip(zero_point + np.sign(d) * mag, -128, 127).astype(np.int8)
