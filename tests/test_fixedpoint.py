"""TFLite's integer arithmetic (quantize.tflite.fixedpoint) against known values: multipliers of the CWRU DRSN-CW
int8 model, gemmlowp's edge cases (the C engine's test_fixed_point_primitives), and the FULLY_CONNECTED rounding
difference between LiteRT and TFLM that quantize.validate.divergence explains."""
from __future__ import annotations

import pytest

from drsn_edge.errors import DrsnError
from quantize.tflite.fixedpoint import (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, INT32_MAX, INT32_MIN,
                                        calculate_activation_range_quantized, multiply_by_quantized_multiplier,
                                        quantize_multiplier, quantize_multiplier_smaller_than_one_exp,
                                        rounding_divide_by_pot, saturating_rounding_doubling_high_mul, tflite_round)

# effective scales s_in * s_w / s_out of the first CONV_2D and FULLY_CONNECTED channels of the CWRU test model,
# with the (multiplier, shift) both former copies (c_engine/quant.py, validate/divergence.py) gave
REAL_MODEL = [(0.004985042651745334, (1370278090, -7)), (0.005165930837964536, (1420000256, -7)),
              (0.006134287617007367, (1686180141, -7)), (0.027752859694807088, (1907161996, -5)),
              (0.03981051279906206, (1367878804, -4)), (0.023498917546148454, (1614833318, -5))]


@pytest.mark.parametrize(("real", "expected"), [
    *REAL_MODEL,
    (0.0, (0, 0)),
    (1.0, (1 << 30, 1)), (0.5, (1 << 30, 0)), (0.25, (1 << 30, -1)), (3.0, (1610612736, 2)),  # powers of two
    (0.7071067811865476, (1518500250, 0)),
    (1 - 2**-40, (1 << 30, 1)),  # rounds up to 2**31: halved, shift + 1
    (2.0**-31, (1 << 30, -30)), (2.0**-32, (1 << 30, -31)),  # the smallest right shifts that keep a bit
    (2.0**-33, (0, 0)), (1e-300, (0, 0)),  # a right shift > 31 would shift out every bit: zero instead
    (2.0**40, (1 << 30, 41)),  # left shifts are not clamped (double-rounding build)
])
def test_quantize_multiplier(real: float, expected: tuple[int, int]) -> None:
    assert quantize_multiplier(real) == expected


@pytest.mark.parametrize("real", [float("inf"), float("-inf"), float("nan")])
def test_quantize_multiplier_refuses_what_does_not_fit(real: float) -> None:
    with pytest.raises(DrsnError, match="cannot quantise multiplier"):
        quantize_multiplier(real)


def test_quantize_multiplier_smaller_than_one_exp() -> None:
    assert quantize_multiplier_smaller_than_one_exp(0.25, "ADD") == (1 << 30, -1)
    for real in (0.0, 1.0, 1.5, -0.5):
        with pytest.raises(DrsnError, match="ADD: rescale factor"):
            quantize_multiplier_smaller_than_one_exp(real, "ADD")


def test_gemmlowp_primitives_match_the_c_engine() -> None:
    """The values test_c_engine.test_fixed_point_primitives asserts for drsn_srdhm / drsn_rdbpot / drsn_mbqm."""
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX) == -INT32_MAX
    assert saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1  # halves go up: -1.5 -> -1, 1.5 -> 2
    assert saturating_rounding_doubling_high_mul(3, 1 << 30) == 2
    assert [rounding_divide_by_pot(x, e) for x, e in [(5, 1), (-5, 1), (-6, 2), (7, 0), (-1, 31)]] == [3, -3, -2, 7, 0]
    assert multiply_by_quantized_multiplier(1000, 1 << 30, 1) == 1000
    assert multiply_by_quantized_multiplier(-3, 1 << 30, -1) == -1
    assert multiply_by_quantized_multiplier(1 << 30, 1 << 30, 2) == 0  # x << 2 wraps in int32, as upstream


def test_multiply_by_quantized_multiplier_on_a_real_fc_channel() -> None:
    """Double rounding vs LiteRT's float requantisation: 18 * 0.02775 = 0.4996 goes to 1 in TFLM, 0 in LiteRT."""
    real = REAL_MODEL[3][0]
    multiplier, shift = quantize_multiplier(real)
    accs = [0, 1, -1, 18, -18, 1000, -1000, INT32_MAX, INT32_MIN]
    assert [multiply_by_quantized_multiplier(a, multiplier, shift) for a in accs] == \
        [0, 0, 0, 1, -1, 28, -28, 59598812, -59598812]
    assert [tflite_round(a * real) for a in (18, -18, 1000)] == [0, 0, 28]
    assert multiply_by_quantized_multiplier(12345, *REAL_MODEL[0][1]) == 62


def test_tflite_round_is_exact_at_halves() -> None:
    assert [tflite_round(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994, -0.49999999999999994)] == \
        [1, 2, 3, -1, -3, 0, 0]


def test_activation_ranges() -> None:
    assert calculate_activation_range_quantized(ACT_NONE, 0.1, 3, -128, 127) == (-128, 127)
    assert calculate_activation_range_quantized(ACT_RELU, 0.1, 3, -128, 127) == (3, 127)
    assert calculate_activation_range_quantized(ACT_RELU6, 0.1, -128, -128, 127) == (-128, -68)
    assert calculate_activation_range_quantized(ACT_RELU6, 0.01, 0, -128, 127) == (0, 127)
    assert calculate_activation_range_quantized(ACT_RELU_N1_TO_1, 0.25, 0, -128, 127) == (-4, 4)
    assert calculate_activation_range_quantized(ACT_RELU_N1_TO_1, 0.4, 0, -32768, 32767) == (-3, 3)  # 2.5 -> 3
    assert calculate_activation_range_quantized(4, 0.1, 3, -32768, 32767) == (-32768, 32767)  # TANH: type range
