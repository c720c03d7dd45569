"""Activation-range choice: what each method does to a tensor with rare outliers."""
from __future__ import annotations

import numpy as np
import pytest

from drsn_edge.errors import DrsnError
from quantize.convert.ranges import BINS, RangeMethod, TensorStats, choose_range, quantisation_mse


def stats_of(values: np.ndarray, per_window: int = 1000) -> TensorStats:
    lo, hi = float(values.min()), float(values.max())
    hist = np.histogram(values, bins=BINS, range=(lo, hi))[0]
    windows = values.reshape(-1, per_window)
    return TensorStats(lo, hi, hist, windows.min(axis=1), windows.max(axis=1))


@pytest.fixture(scope="module")
def heavy_tailed() -> TensorStats:
    """Mostly N(0, 1), plus a handful of impulses at +-40: min/max would spend the range on them."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=200_000)
    values[rng.choice(len(values), 20, replace=False)] = rng.choice([-40.0, 40.0], 20)
    return stats_of(values)


def test_minmax_keeps_the_calibrated_extremes(heavy_tailed: TensorStats) -> None:
    assert choose_range(heavy_tailed, RangeMethod.parse("minmax")) == (heavy_tailed.lo, heavy_tailed.hi)


def test_mse_trades_clipping_against_rounding() -> None:
    """For a Gaussian the int8 optimum clips near 3-4 sigma, well inside the extremes of 200k samples."""
    gauss = stats_of(np.random.default_rng(2).normal(size=200_000))
    lo, hi = choose_range(gauss, RangeMethod.parse("mse"))
    assert 2.8 < hi < 4.2 and -4.2 < lo < -2.8 and hi < 0.95 * gauss.hi
    full = quantisation_mse(gauss, gauss.lo, gauss.hi)
    assert quantisation_mse(gauss, lo, hi) < 0.8 * full


def test_mse_keeps_outliers_that_cost_more_clipped_than_rounded(heavy_tailed: TensorStats) -> None:
    """Squared error weighs far impulses heavily: MSE keeps most of their range, unlike a percentile."""
    lo, hi = choose_range(heavy_tailed, RangeMethod.parse("mse"))
    assert hi > 20.0 and lo < -20.0
    assert quantisation_mse(heavy_tailed, lo, hi) <= quantisation_mse(heavy_tailed, heavy_tailed.lo, heavy_tailed.hi)


def test_mse_keeps_the_full_range_for_more_levels(heavy_tailed: TensorStats) -> None:
    lo8, hi8 = choose_range(heavy_tailed, RangeMethod.parse("mse"), levels=256)
    lo16, hi16 = choose_range(heavy_tailed, RangeMethod.parse("mse"), levels=65536)
    assert hi16 > hi8 and hi16 >= 0.9 * heavy_tailed.hi


def test_percentile_and_mean_minmax(heavy_tailed: TensorStats) -> None:
    lo, hi = choose_range(heavy_tailed, RangeMethod.parse("percentile:99.9"))
    assert 2.5 < hi < 4.0 and -4.0 < lo < -2.5
    lo, hi = choose_range(heavy_tailed, RangeMethod.parse("mean-minmax"))
    assert 2.5 < hi < 10.0 and -10.0 < lo < -2.5


def test_one_sided_tensor_keeps_zero_as_its_floor() -> None:
    relu = stats_of(np.abs(np.random.default_rng(1).normal(size=100_000)))
    for method in ("mse", "percentile:99", "mean-minmax"):
        lo, hi = choose_range(relu, RangeMethod.parse(method))
        assert lo == 0.0 and 0 < hi <= relu.hi


@pytest.mark.parametrize("text", ["maxabs", "percentile:abc", "percentile:20", "mse:3"])
def test_bad_method_is_refused(text: str) -> None:
    with pytest.raises(DrsnError):
        RangeMethod.parse(text)
