"""TFLite's prepare-time quantisation arithmetic, mirrored in Python.

The kernels in ``csrc/`` only apply multipliers; these functions
compute them exactly as LiteRT's ``Prepare`` steps do (same float32 vs
double steps, same rounding), so the engine matches LiteRT bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from drsn_edge.errors import DrsnError

INT8_MIN, INT8_MAX = -128, 127
F32 = np.float32


def round_half_away(x: float) -> int:
    """``std::round`` / ``TfLiteRound``: halves go away from zero."""
    r = math.floor(abs(x))
    if abs(x) - r >= 0.5:
        r += 1
    return int(r if x >= 0 else -r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``QuantizeMultiplier``: a double -> (Q31 multiplier, power-of-two exponent)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = round_half_away(q * (1 << 31))
    if fixed > (1 << 31):
        raise DrsnError(f"cannot quantise multiplier {real!r}")
    if fixed == (1 << 31):
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if fixed > 2**31 - 1:
        raise DrsnError(f"cannot quantise multiplier {real!r}")
    return fixed, shift


def quantize_multiplier_smaller_than_one(real: float, what: str) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp``: the ADD/SUB path, which needs 0 < real < 1."""
    if not 0.0 < real < 1.0:
        raise DrsnError(f"{what}: rescale factor {real:g} is outside (0, 1), which the int8 kernels do not support")
    return quantize_multiplier(real)


def activation_range(code: int, scale: float, zero_point: int, op: str) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for int8 outputs and a fused activation code."""
    def q(value: float) -> int:
        return zero_point + round_half_away(float(F32(value) / F32(scale)))

    if code == 0:  # NONE
        return INT8_MIN, INT8_MAX
    if code == 1:  # RELU
        return max(INT8_MIN, q(0.0)), INT8_MAX
    if code == 2:  # RELU_N1_TO_1
        return max(INT8_MIN, q(-1.0)), min(INT8_MAX, q(1.0))
    if code == 3:  # RELU6
        return max(INT8_MIN, q(0.0)), min(INT8_MAX, q(6.0))
    raise DrsnError(f"{op}: fused activation {code} is not supported by the C engine")


def add_sub_params(s1: float, s2: float, so: float, what: str) -> dict:
    """ADD/SUB (int8): inputs rescaled to twice the larger input scale after a left shift of 20."""
    twice_max = float(2 * max(F32(s1), F32(s2)))  # float arithmetic, then widened to double
    real1 = float(F32(s1)) / twice_max
    real2 = float(F32(s2)) / twice_max
    real_out = twice_max / float(F32(1 << 20) * F32(so))
    m1, sh1 = quantize_multiplier_smaller_than_one(real1, what)
    m2, sh2 = quantize_multiplier_smaller_than_one(real2, what)
    mo, sho = quantize_multiplier_smaller_than_one(real_out, what)
    return {"left_shift": 20, "in1_multiplier": m1, "in1_shift": sh1, "in2_multiplier": m2, "in2_shift": sh2,
            "out_multiplier": mo, "out_shift": sho}


def mul_multiplier(s1: float, s2: float, so: float) -> tuple[int, int]:
    """MUL: ``input1_scale * input2_scale / output_scale`` is evaluated in float32, then quantised."""
    return quantize_multiplier(float(F32(s1) * F32(s2) / F32(so)))


def conv_multipliers(s_in: float, filter_scales: list[float], s_out: float) -> list[tuple[int, int]]:
    """CONV_2D per-channel: ``double(input) * double(filter) / double(output)``."""
    return [quantize_multiplier(float(F32(s_in)) * float(F32(f)) / float(F32(s_out))) for f in filter_scales]


def fc_scales(s_in: float, filter_scales: list[float], s_out: float) -> list[float]:
    """FULLY_CONNECTED (reference kernel): requantised in double with these effective scales."""
    return [float(F32(s_in)) * float(F32(f)) / float(F32(s_out)) for f in filter_scales]


def mean_multiplier(s_in: float, s_out: float, count: int) -> tuple[int, int]:
    """MEAN (int8): input/output rescale with 1/count folded into the multiplier, as QuantizedMeanOrSum does."""
    mult, shift = quantize_multiplier(float(F32(s_in)) / float(F32(s_out)))
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    if extra < 0:
        raise DrsnError(f"MEAN: rescale factor {s_in / s_out:g} is too small for the int8 kernel")
    return (mult << extra) // count, shift - extra


def abs_multiplier(s_in: float, s_out: float) -> tuple[int, int]:
    """ABS: ``input_scale / output_scale`` in float32."""
    return quantize_multiplier(float(F32(s_in) / F32(s_out)))


def logistic_table(s_in: float, zp_in: int) -> list[int]:
    """LOGISTIC int8 (reference kernel): the float lookup table LiteRT fills in ``SigmoidPrepare``."""
    table = [0] * 256
    for val in range(INT8_MIN, INT8_MAX + 1):
        x = F32(s_in) * F32(val - zp_in)
        e = F32(math.exp(-float(x))) if -float(x) < 88.8 else F32(np.inf)
        y = F32(1.0) / (F32(1.0) + e)
        rescaled = round_half_away(float(y * F32(256.0)))
        table[val & 0xFF] = max(INT8_MIN, min(INT8_MAX, rescaled - 128))
    return table
