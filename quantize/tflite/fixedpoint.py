"""TFLite's integer arithmetic, once, under its upstream names: multipliers as ``Prepare`` computes them,
requantisation as the kernels apply it.

Each function names the upstream function it is (TensorFlow Lite's
``kernels/internal/quantization_util.cc``, ``kernels/internal/common.h``,
``kernels/kernel_util.cc`` and gemmlowp's ``fixedpoint.h``, which TFLM shares).
Python integers do not overflow, so where upstream relies on int32 wrap-around or
C++'s truncating division it is written out. The C engine's kernels
(``drsn_kernels.c``) are the same functions in C; ``firmware_export.c_engine.quant``
builds each op's multipliers from these, ``quantize.validate.divergence`` requantises
with them to explain where TFLM and LiteRT part.
"""
from __future__ import annotations

import math

import numpy as np

from drsn_edge.errors import DrsnError

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
# TfLiteFusedActivation codes as stored in the flatbuffer's fused_activation_function
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3


def tflite_round(x: float) -> int:
    """``TfLiteRound`` (``std::round``): halves go away from zero, exactly (no ``x + 0.5`` that may round up)."""
    r = math.floor(abs(x))
    if abs(x) - r >= 0.5:
        r += 1
    return int(r if x >= 0 else -r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``QuantizeMultiplier``: a double -> (Q31 multiplier in [2**30, 2**31), power-of-two exponent ``shift``),
    ``real ~= multiplier * 2**(shift - 31)``.

    0 gives (0, 0), and so does anything below 2**-32 (upstream: a shift below -31 would
    shift out every bit). The shift is not clamped (that is the single-rounding build,
    TFLITE_SINGLE_ROUNDING, which neither LiteRT's reference kernels nor TFLM use).
    What upstream TFLITE_CHECKs is refused: a multiplier that does not fit int32, and
    (undefined behaviour there) infinity or NaN.
    """
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise DrsnError(f"cannot quantise multiplier {real!r}")
    q, shift = math.frexp(real)
    fixed = tflite_round(q * (1 << 31))
    if fixed > (1 << 31):
        raise DrsnError(f"cannot quantise multiplier {real!r}")
    if fixed == (1 << 31):
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if fixed > INT32_MAX:
        raise DrsnError(f"cannot quantise multiplier {real!r}")
    return fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float, what: str) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp``: :func:`quantize_multiplier` for 0 < real < 1 (the ADD/SUB
    rescales); upstream TFLITE_CHECKs the range, here it is refused with ``what`` (the op) named."""
    if not 0.0 < real < 1.0:
        raise DrsnError(f"{what}: rescale factor {real:g} is outside (0, 1), which the int8 kernels do not support")
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:  # upstream TFLITE_CHECKs this too: a value just below 1 can round up to 1.0 = 2^30 x 2^1
        raise DrsnError(f"{what}: rescale factor {real!r} rounds to 1, which the int8 kernels do not support")
    return multiplier, shift


def wrap_int32(x: int) -> int:
    """Two's-complement int32 wrap-around, what ``x * (1 << left_shift)`` does in int32 on every target."""
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp ``SaturatingRoundingDoublingHighMul``: ``2 * a * b / 2**32`` rounded to nearest (the nudge and
    C++'s truncation send halves up: 1.5 -> 2, -1.5 -> -1); INT32_MIN * INT32_MIN, the one overflow, saturates."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    total = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    high = abs(total) >> 31
    return high if total >= 0 else -high  # int64 / (1 << 31) in C++ truncates toward zero


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, halves away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """``MultiplyByQuantizedMultiplier`` (common.h, the double-rounding build that LiteRT's reference kernels and
    TFLM use): ``x * multiplier * 2**(shift - 31)``, rounded twice (high multiply, then the right shift)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrap_int32(x << left), multiplier), right)


def calculate_activation_range_quantized(activation: int, scale: float, zero_point: int,
                                         qmin: int, qmax: int) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` (kernel_util.cc): the clamp of a fused activation on an output with
    ``scale``/``zero_point`` and type range [qmin, qmax]. Bounds are quantised as upstream's ``Quantize`` does:
    float32 division, then ``TfLiteRound``. Other activations keep the type's range, as upstream."""
    def quantize(value: float) -> int:
        return zero_point + tflite_round(float(np.float32(value) / np.float32(scale)))

    if activation == ACT_RELU:
        return max(qmin, quantize(0.0)), qmax
    if activation == ACT_RELU_N1_TO_1:
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    if activation == ACT_RELU6:
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    return qmin, qmax
