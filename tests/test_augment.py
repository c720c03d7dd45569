"""Training levers of issue 15: speed/shift/gain augmentation and a wide first-layer kernel."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from drsn_edge.augment import augment, read_at
from drsn_edge.cli import main
from drsn_edge.checkpoint import load_checkpoint
from drsn_edge.data.npz import write_npz
from drsn_edge.data.synthetic import generate
from drsn_edge.errors import DrsnError
from drsn_edge.models import ModelConfig, build_model, count_parameters
from drsn_edge.train_config import TrainConfig

FS = 12000.0


def _tone(freq: float, n: int = 2048, rows: int = 1) -> np.ndarray:
    return np.tile(np.sin(2 * np.pi * freq * np.arange(n) / FS), (rows, 1)).astype(np.float32)


def test_no_knob_returns_the_windows_and_draws_nothing() -> None:
    x = _tone(300.0, rows=3)
    rng = np.random.default_rng(0)
    assert augment(x, 0.0, 0.0, 0.0, rng) is x
    assert rng.random() == np.random.default_rng(0).random()


def test_reading_at_a_rate_scales_every_frequency() -> None:
    x = _tone(500.0)
    steps = np.arange(1900, dtype=np.float64)
    np.testing.assert_allclose(read_at(x.astype(np.float64), steps[None, :]), x[:, :1900], atol=1e-6)  # integer taps
    faster = read_at(x.astype(np.float64), steps[None, :] * 1.03)
    expected = np.sin(2 * np.pi * 500.0 * 1.03 * steps / FS)
    assert np.max(np.abs(faster[0] - expected)) < 2e-3  # cubic interpolation of a 500 Hz tone
    # past the end the read reflects back into the window: position L-1+k reads sample L-1-k
    end = read_at(x.astype(np.float64), np.array([[2047.0 + 5]]))
    assert end[0, 0] == pytest.approx(x[0, 2042], abs=1e-6)


def test_speed_jitter_moves_the_spectral_peak_within_the_range() -> None:
    x = _tone(1000.0, rows=64)
    out = augment(x, 0.05, 0.0, 0.0, np.random.default_rng(1))
    peaks = np.argmax(np.abs(np.fft.rfft(out * np.hanning(2048), n=8 * 2048, axis=1)), axis=1) * FS / (8 * 2048)
    assert np.all(peaks > 1000.0 * 0.95 - 2) and np.all(peaks < 1000.0 * 1.05 + 2)
    assert np.std(peaks) > 15  # really spread, not one rate


def test_gain_and_shift() -> None:
    x = _tone(700.0, rows=50)
    gained = augment(x, 0.0, 0.0, 6.0, np.random.default_rng(2))
    ratio_db = 20 * np.log10(np.std(gained, axis=1) / np.std(x, axis=1))
    assert np.all(np.abs(ratio_db) <= 6.0 + 1e-4) and np.ptp(ratio_db) > 6.0
    shifted = augment(x, 0.0, 0.25, 0.0, np.random.default_rng(3))
    assert shifted.shape == x.shape and not np.allclose(shifted, x, atol=1e-3)
    with pytest.raises(DrsnError, match="speed jitter"):
        TrainConfig(speed_jitter=0.7)


def test_wide_stem_kernel() -> None:
    cfg = ModelConfig(stem_kernel_size=63)
    model = build_model(cfg)
    assert model.stem.kernel_size == (63,) and model.stem.padding == (31,)
    assert count_parameters(model) == count_parameters(build_model(ModelConfig())) + 4 * 60
    assert model(torch.zeros(2, 2048)).shape == (2, 10)
    assert ModelConfig.from_dict(cfg.to_dict()).stem_kernel == 63 and ModelConfig().stem_kernel == 3
    with pytest.raises(DrsnError, match="stem kernel size must be odd"):
        ModelConfig(stem_kernel_size=64)


def test_train_with_the_levers_is_deterministic(tmp_path) -> None:
    write_npz(tmp_path / "d.npz", generate(20, window_length=512, seed=4))
    args = ["train", "--data", f"npz:{tmp_path / 'd.npz'}", "--window-length", "512", "--widths", "4,8",
            "--units-per-stage", "1", "--epochs", "2", "--threads", "1", "--quiet", "--speed-jitter", "0.04",
            "--time-shift", "0.1", "--gain-db", "3", "--stem-kernel-size", "15", "--normalisation", "global"]
    states = []
    for name in ("a.pt", "b.pt"):
        assert main([*args, "--out", str(tmp_path / name)]) == 0
        states.append(load_checkpoint(tmp_path / name))
    a, b = states
    assert a.config.stem_kernel == 15 and a.training["config"]["speed_jitter"] == 0.04
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
