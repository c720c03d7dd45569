"""Noise models: exact per-window SNR, the right spectra and tails, strict parsing."""
from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import welch
from scipy.stats import kurtosis

from drsn_edge.data.noise import NOISE_TYPES, add_noise, parse_noise_types, parse_snr, unit_noise
from drsn_edge.errors import DrsnError

FS = 12000.0


def _clean(n: int = 200, length: int = 2048, seed: int = 0) -> np.ndarray:
    """Windows with very different powers, so a global (not per-window) SNR would fail."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / FS
    x = np.sin(2 * np.pi * rng.uniform(20, 3000, (n, 1)) * t) + 0.3 * rng.standard_normal((n, length))
    return (x * 10.0 ** rng.uniform(-3, 2, (n, 1))).astype(np.float32)


def _realised_snr(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    c = clean.astype(np.float64)
    noise = noisy.astype(np.float64) - c
    return 10 * np.log10(np.mean(c**2, axis=1) / np.mean(noise**2, axis=1))


@pytest.mark.parametrize("kind", NOISE_TYPES)
@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0])
def test_fixed_snr_is_exact_per_window(kind: str, snr: float) -> None:
    clean = _clean()
    noisy = add_noise(clean, kind, snr, np.random.default_rng(1))
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape
    realised = _realised_snr(clean, noisy)
    assert np.max(np.abs(realised - snr)) < 0.2


def test_snr_range_is_respected_and_covered() -> None:
    clean = _clean(n=1000)
    noisy = add_noise(clean, "all", (-5.0, 5.0), np.random.default_rng(2))
    realised = _realised_snr(clean, noisy)
    assert realised.min() >= -5.0 - 0.01 and realised.max() <= 5.0 + 0.01
    assert realised.min() < -4.5 and realised.max() > 4.5
    # roughly uniform: each 2 dB bin gets about a fifth of the windows
    counts, _ = np.histogram(realised, bins=5, range=(-5, 5))
    assert counts.min() > 150


@pytest.mark.parametrize("kind", NOISE_TYPES)
def test_unit_noise_is_zero_mean_unit_power(kind: str) -> None:
    noise = unit_noise(kind, (50, 2048), np.random.default_rng(3))
    assert noise.dtype == np.float64 and noise.shape == (50, 2048)
    np.testing.assert_allclose(np.mean(noise**2, axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(noise.mean(axis=1), 0.0, atol=1e-9)


def _psd_slope_db_per_decade(noise: np.ndarray) -> float:
    f, pxx = welch(noise, fs=FS, nperseg=1024, axis=1)
    pxx = pxx.mean(axis=0)
    band = (f >= 50) & (f <= 5000)
    slope, _ = np.polyfit(np.log10(f[band]), 10 * np.log10(pxx[band]), 1)
    return float(slope)


def test_pink_spectrum_falls_10_db_per_decade() -> None:
    rng = np.random.default_rng(4)
    pink = unit_noise("pink", (100, 4096), rng)
    assert abs(_psd_slope_db_per_decade(pink) + 10.0) < 1.5
    for white in ("gaussian", "laplacian"):  # controls: flat spectra
        assert abs(_psd_slope_db_per_decade(unit_noise(white, (100, 4096), rng))) < 1.0


def test_tails_laplacian_heavier_than_gaussian() -> None:
    rng = np.random.default_rng(5)
    lap = kurtosis(unit_noise("laplacian", (200, 2048), rng).ravel(), fisher=False)
    gau = kurtosis(unit_noise("gaussian", (200, 2048), rng).ravel(), fisher=False)
    assert abs(lap - 6.0) < 0.5
    assert abs(gau - 3.0) < 0.1


def test_zero_window_stays_zero() -> None:
    clean = _clean(n=4)
    clean[1] = 0.0
    noisy = add_noise(clean, "all", (-5.0, 5.0), np.random.default_rng(6))
    assert np.all(noisy[1] == 0.0)
    assert np.all(np.isfinite(noisy))
    assert np.any(noisy[0] != clean[0])


def test_mixed_kinds_are_drawn_uniformly_per_window() -> None:
    clean = np.ones((2000, 2048), dtype=np.float32)
    noisy = add_noise(clean, ["gaussian", "pink"], 0.0, np.random.default_rng(7))
    spec = np.abs(np.fft.rfft(noisy - clean, axis=1)) ** 2
    low_share = spec[:, 1:103].sum(axis=1) / spec[:, 1:].sum(axis=1)  # ~0.69 pink, ~0.1 white
    pink = low_share > 0.4
    assert 0.45 < pink.mean() < 0.55
    assert np.all((low_share < 0.2) | (low_share > 0.5))  # every window got exactly one kind


def test_determinism() -> None:
    clean = _clean(n=20)
    a = add_noise(clean, "all", (-5.0, 5.0), np.random.default_rng(8))
    b = add_noise(clean, "all", (-5.0, 5.0), np.random.default_rng(8))
    c = add_noise(clean, "all", (-5.0, 5.0), np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(add_noise(clean, "pink", 0.0, 8), add_noise(clean, "pink", 0.0, 8))


def test_fast_enough_for_per_epoch_augmentation() -> None:
    clean = _clean(n=3000)
    add_noise(clean[:10], "all", 0.0, np.random.default_rng(0))  # warm up FFT plans
    start = time.perf_counter()
    add_noise(clean, "all", (-5.0, 5.0), np.random.default_rng(10))
    assert time.perf_counter() - start < 1.5


def test_parse_noise_types() -> None:
    assert parse_noise_types("all") == list(NOISE_TYPES)
    assert parse_noise_types("gaussian,pink") == ["gaussian", "pink"]
    assert parse_noise_types(" Pink , gaussian,pink ") == ["pink", "gaussian"]
    for bad in ("", "white", "gaussian,brown", ","):
        with pytest.raises(DrsnError, match="gaussian, laplacian, pink"):
            parse_noise_types(bad)


def test_parse_snr() -> None:
    assert parse_snr("5") == 5.0
    assert parse_snr("-5,5") == (-5.0, 5.0)
    assert parse_snr(" -2.5 , 0 ") == (-2.5, 0.0)
    for bad in ("", "five", "5,", "1,2,3", "5,-5", "nan", "inf"):
        with pytest.raises(DrsnError):
            parse_snr(bad)


def test_bad_arguments_raise_drsn_error() -> None:
    clean = _clean(n=3)
    rng = np.random.default_rng(0)
    with pytest.raises(DrsnError):
        add_noise(clean[0], "gaussian", 0.0, rng)  # 1-D
    with pytest.raises(DrsnError):
        add_noise(clean, ["gaussian", "brown"], 0.0, rng)
    with pytest.raises(DrsnError):
        add_noise(clean, "gaussian", (5.0, -5.0), rng)
    with pytest.raises(DrsnError):
        unit_noise("brown", (2, 8), rng)
