"""The int8 network input of a raw window, in integers: the one definition every int8 runtime reproduces.

Float runtimes see :meth:`Preprocessing.apply` (float64 z-score). Integer models
see the integers computed here, and the C preprocessing (``drsn_preprocess.c``:
C engine, TFLite Micro export, monitor firmware) and the Pi runner compute the
same bytes, so no microcontroller needs software double precision.

``window`` normalisation, integer only:

1. Canonical form. Float samples are taken as float32 and scaled by the power of
   two that puts the window's largest magnitude in ``[2^19, 2^20)``, rounded half
   away from zero (exact for the largest samples; float32 keeps 24 bits). int16
   samples (ADC) are shifted the same way, exactly, so ``classify_i16(s)`` equals
   ``classify(float(s))`` bit for bit. Scaling cancels in a z-score.
2. ``c = round(mean)``, ``V = sum((s - c)^2) - floor(r^2 / n)`` (``r = sum(s) - n c``)
   in int64, ``sigma = isqrt(floor(V 2^20 / n))`` (std in 2^-10 units), ``eps`` in the
   same units from its mantissa and exponent.
3. ``q = clamp(zp + round(d G / 2^sh))`` with ``d = s - c``, ``G / 2^sh ~ 1 / (scale (sigma + eps))``:
   one 64-bit multiply per sample, rounded half away from zero.

``global`` and ``none`` keep the float definition (``apply`` then round half to even).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from fractions import Fraction

import numpy as np

from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing

CANON_BITS = 20  # canonical samples: largest magnitude in [2^(CANON_BITS-1), 2^CANON_BITS]; int64 sums fit to 2^20
SIGMA_BITS = 10  # fractional bits of the standard deviation
MANTISSA_BITS = 31  # 1/scale and eps as m * 2^e with m in [2^30, 2^31)


def mantissa_exponent(value: Fraction | float) -> tuple[int, int]:
    """``value > 0`` as ``(m, e)``, ``m`` in ``[2^30, 2^31)``, ``m 2^e`` its nearest (ties to even): C needs no float."""
    v = Fraction(value)
    if v <= 0:
        raise DrsnError(f"cannot represent {float(v)!r} as a positive mantissa and exponent")
    e = math.floor(math.log2(v)) - (MANTISSA_BITS - 1)
    while v / Fraction(2) ** e >= 2 ** MANTISSA_BITS:
        e += 1
    while v / Fraction(2) ** e < 2 ** (MANTISSA_BITS - 1):
        e -= 1
    m = round(v / Fraction(2) ** e)  # Fraction rounds half to even
    if m == 2 ** MANTISSA_BITS:
        m, e = m // 2, e + 1
    return int(m), int(e)


@dataclass(frozen=True)
class Int8Input:
    """What the integer preprocessing needs of a model: its preprocessing and int8 input quantisation."""

    pre: Preprocessing
    scale: float
    zero_point: int

    @cached_property
    def inv_scale(self) -> tuple[int, int]:
        """1 / scale as (m, e): what drsn_preprocess.c gets as inv_scale_m, inv_scale_e."""
        return mantissa_exponent(1 / Fraction(self.scale))

    @cached_property
    def eps(self) -> tuple[int, int]:
        """eps as (m, e): drsn_preprocess.c's eps_m, eps_e."""
        return mantissa_exponent(self.pre.eps)

    def from_float(self, raw: np.ndarray) -> np.ndarray:
        """Raw float windows (N, L) -> int8 input (N, L); windows are taken as float32, the C API's type."""
        x = self.pre.check(raw)
        if self.pre.normalisation != "window":
            return quantize_float(self.pre.apply(x), self.scale, self.zero_point, np.int8)
        with np.errstate(over="ignore", invalid="ignore"):
            bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.int64)
        if (bits & 0x7FFFFFFF >= 0x7F800000).any():
            raise DrsnError("windows are not finite after preprocessing (samples too large for float32)")
        return self._window(*canonical_float(bits))

    def from_int16(self, samples: np.ndarray) -> np.ndarray:
        """int16 windows (N, L) (ADC samples) -> int8 input (N, L); the same bytes as :meth:`from_float` of them."""
        s = np.asarray(samples)
        if s.dtype != np.int16:
            raise DrsnError(f"int16 windows expected, got {s.dtype}")
        if self.pre.normalisation != "window":
            return self.from_float(s.astype(np.float32))
        return self._window(*canonical_int16(self.pre.check(s)))

    def _window(self, s: np.ndarray, top: np.ndarray) -> np.ndarray:
        """Canonical windows (N, L) int64 and each one's log2 of its largest magnitude -> int8 input."""
        out = np.empty(s.shape, np.int8)
        for i in range(len(s)):
            out[i] = self.quantize_canonical(s[i], int(top[i]))
        return out

    def quantize_canonical(self, s: np.ndarray, top: int) -> np.ndarray:
        """One canonical window (``top`` = floor(log2 max |x|) of the raw samples) -> its int8 input."""
        n, zp = len(s), self.zero_point
        s1, s2sum = int(s.sum()), int((s * s).sum())
        c = (2 * s1 + n) // (2 * n)
        d = s - c
        r = s1 - n * c
        v = s2sum - 2 * c * s1 + n * c * c - (r * r) // n
        sigma = math.isqrt(((v // n) << (2 * SIGMA_BITS)) + (((v % n) << (2 * SIGMA_BITS)) // n))
        eps_m, eps_e = self.eps
        denom = sigma + shift_round(eps_m, eps_e + SIGMA_BITS + CANON_BITS - 1 - top)
        if denom == 0:  # a constant window (d is 0 everywhere)
            return np.full(n, np.clip(zp, -128, 127), np.int8)
        t = max(0, denom.bit_length() - 31)
        dn = denom >> t
        length = dn.bit_length()
        inv_m, inv_e = self.inv_scale
        gain = (inv_m << (length - 1)) // dn
        sh = length - 1 + t - inv_e - SIGMA_BITS
        mag = np.abs(d)
        if sh <= 0:
            mag = np.where(mag > 0, 256, 0)
        elif sh > 62:
            mag = np.zeros_like(mag)
        else:
            mag = (mag * gain + (1 << (sh - 1))) >> sh
        return np.clip(zp + np.sign(d) * mag, -128, 127).astype(np.int8)


def shift_round(m: int, e: int) -> int:
    """``m 2^e`` rounded half up, capped at 2^62 (``m < 2^31``): eps in the units of the standard deviation."""
    if e > 31:
        return 1 << 62
    if e >= 0:
        return m << e
    return 0 if e < -32 else (m + (1 << (-e - 1))) >> -e


def canonical_float(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 bit patterns (N, L) as int64 -> canonical samples (N, L) and floor(log2 max |x|) per window."""
    mag = bits & 0x7FFFFFFF
    exp = mag >> 23
    mant = (mag & 0x7FFFFF) | np.where(exp > 0, 1 << 23, 0)
    amax = mag.max(axis=1, keepdims=True)
    amax_exp = amax >> 23
    sub_top = np.array([int(a).bit_length() for a in amax.ravel()]).reshape(amax.shape) - 150
    top = np.where(amax_exp > 0, amax_exp - 127, sub_top)
    shift = (131 + top) - np.maximum(exp, 1)  # 150 - e + top - (CANON_BITS - 1)
    right = np.clip(shift, 1, 31)
    s = np.where(shift <= 0, mant << np.clip(-shift, 0, 31), (mant + (1 << (right - 1))) >> right)
    s = np.where(shift > 31, 0, s)
    s = np.where(bits >> 31 & 1, -s, s)
    return s, np.where(amax == 0, 0, top)[:, 0]


def canonical_int16(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int16 windows (N, L) -> canonical samples (exact: shifted left) and floor(log2 max |x|) per window."""
    v = x.astype(np.int64)
    amax = np.abs(v).max(axis=1)
    top = np.array([max(int(a).bit_length() - 1, 0) for a in amax])
    return v * (np.int64(1) << (CANON_BITS - 1 - top))[:, None], top


def quantize_float(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float input -> integer tensor: round half to even (numpy), then clipped to ``dtype``."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)
