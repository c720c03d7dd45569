"""TFLite's prepare-time quantisation arithmetic per op, mirrored in Python.

The kernels in ``csrc/`` only apply multipliers; these functions
compute them exactly as LiteRT's ``Prepare`` steps do (same float32 vs
double steps, same rounding), so the engine matches LiteRT bit for bit. The
arithmetic itself (``QuantizeMultiplier``, ``TfLiteRound``, activation ranges)
is ``quantize.tflite.fixedpoint``'s.
"""
from __future__ import annotations

import math

import numpy as np

from drsn_edge.errors import DrsnError
from quantize.tflite.fixedpoint import (ACT_RELU6, calculate_activation_range_quantized, quantize_multiplier,
                                        quantize_multiplier_smaller_than_one_exp, tflite_round)

INT8_MIN, INT8_MAX = -128, 127
F32 = np.float32


def activation_range(code: int, scale: float, zero_point: int, op: str) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for int8 outputs; refuses the fused activations the engine lacks."""
    if not 0 <= code <= ACT_RELU6:  # NONE, RELU, RELU_N1_TO_1, RELU6
        raise DrsnError(f"{op}: fused activation {code} is not supported by the C engine")
    return calculate_activation_range_quantized(code, scale, zero_point, INT8_MIN, INT8_MAX)


def add_sub_params(s1: float, s2: float, so: float, what: str) -> dict:
    """ADD/SUB (int8): inputs rescaled to twice the larger input scale after a left shift of 20."""
    twice_max = float(2 * max(F32(s1), F32(s2)))  # float arithmetic, then widened to double
    real1 = float(F32(s1)) / twice_max
    real2 = float(F32(s2)) / twice_max
    real_out = twice_max / float(F32(1 << 20) * F32(so))
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(real1, what)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(real2, what)
    mo, sho = quantize_multiplier_smaller_than_one_exp(real_out, what)
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
        rescaled = tflite_round(float(y * F32(256.0)))
        table[val & 0xFF] = max(INT8_MIN, min(INT8_MAX, rescaled - 128))
    return table
