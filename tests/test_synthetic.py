"""Synthetic bearing generator: shapes, determinism, speed, and the physics in the spectra."""
from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from drsn_edge.data.classes import BEARING_CLASSES, BPFI_ORDER, BPFO_ORDER, BSF_ORDER
from drsn_edge.data.dataset import Splits, Windows
from drsn_edge.data.synthetic import DEFAULT_RPM_RANGE, generate, synthetic_splits
from drsn_edge.errors import DrsnError

FS = 12000.0
RPM = 1797.0
FR = RPM / 60.0
ORDER = {"IR": BPFI_ORDER, "B": BSF_ORDER, "OR": BPFO_ORDER}


@pytest.fixture(scope="module")
def fixed_speed() -> Windows:
    return generate(40, seed=11, rpm_range=(RPM, RPM))


def _envelope_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classic envelope analysis: band-pass the resonance region, |Hilbert|, then FFT."""
    sos = butter(4, (1500, 5500), btype="bandpass", fs=FS, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x.astype(np.float64), axis=1), axis=1))
    env -= env.mean(axis=1, keepdims=True)
    n_fft = 8 * x.shape[1]  # zero-pad: ~0.7 Hz grid, so +/-5 % is several bins wide
    spec = np.abs(np.fft.rfft(env * np.hanning(x.shape[1]), n=n_fft, axis=1))
    return np.fft.rfftfreq(n_fft, 1 / FS), spec


def _peak_hits(w: Windows, name: str, target: float) -> float:
    """Share of the class's windows whose 80-400 Hz envelope peak lies within 5 % of target."""
    f, spec = _envelope_spectrum(w.x[w.y == BEARING_CLASSES.index(name)])
    band = (f >= 80) & (f <= 400)
    peaks = f[band][spec[:, band].argmax(axis=1)]
    return float(np.mean(np.abs(peaks / target - 1) < 0.05))


def _line_strength(w: Windows, name: str, target: float) -> np.ndarray:
    """Per window: envelope-spectrum maximum within 5 % of target over the 80-400 Hz median."""
    f, spec = _envelope_spectrum(w.x[w.y == BEARING_CLASSES.index(name)])
    band = (f >= 80) & (f <= 400)
    near = (f >= 0.95 * target) & (f <= 1.05 * target)
    return spec[:, near].max(axis=1) / np.median(spec[:, band], axis=1)


def test_shapes_dtypes_labels_info() -> None:
    w = generate(7, window_length=1024, seed=3)
    assert isinstance(w, Windows)
    assert w.x.shape == (70, 1024) and w.x.dtype == np.float32
    assert w.y.dtype == np.int64 and w.classes == list(BEARING_CLASSES)
    np.testing.assert_array_equal(w.y[:20], np.tile(np.arange(10), 2))
    np.testing.assert_array_equal(np.bincount(w.y), np.full(10, 7))
    assert w.sample_rate == FS
    assert w.info["source"] == "synthetic" and w.info["seed"] == 3 and w.info["n_per_class"] == 7
    assert w.info["rpm_range"] == list(DEFAULT_RPM_RANGE)
    w.check_finite()
    rms = np.sqrt(np.mean(w.x.astype(np.float64) ** 2, axis=1))
    assert rms.min() > 0.01  # normal is not silent
    assert rms.max() < 2.0


def test_determinism() -> None:
    a, b, c = generate(3, seed=5), generate(3, seed=5), generate(3, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_splits_are_independent_and_sized() -> None:
    s = synthetic_splits(4, 2, 3, window_length=512, seed=2)
    assert isinstance(s, Splits)
    assert [len(s.train), len(s.val), len(s.test)] == [40, 20, 30]
    assert [p.info["split"] for p in (s.train, s.val, s.test)] == ["train", "val", "test"]
    rows = {r.tobytes() for part in (s.train, s.val, s.test) for r in part.x}
    assert len(rows) == 90  # no window appears twice anywhere
    again = synthetic_splits(4, 2, 3, window_length=512, seed=2)
    np.testing.assert_array_equal(s.test.x, again.test.x)


def test_ten_thousand_windows_are_quick() -> None:
    start = time.perf_counter()
    w = generate(1000, seed=1)
    elapsed = time.perf_counter() - start
    assert w.x.shape == (10000, 2048)
    assert elapsed < 10.0


@pytest.mark.parametrize("name", ["OR007@6", "OR014@6", "OR021@6", "IR007", "IR014", "IR021", "B014", "B021"])
def test_envelope_peak_at_defect_frequency(fixed_speed: Windows, name: str) -> None:
    target = ORDER[name.rstrip("0123456789@")] * FR
    assert _peak_hits(fixed_speed, name, target) >= 0.8


def test_ball_fault_at_smallest_size_is_weaker_but_present(fixed_speed: Windows) -> None:
    # B007 is the hardest class in real CWRU data too; still, most windows show BSF.
    assert _peak_hits(fixed_speed, "B007", BSF_ORDER * FR) >= 0.5


def test_normal_has_no_defect_lines(fixed_speed: Windows) -> None:
    for order in (BPFO_ORDER, BPFI_ORDER, BSF_ORDER):
        normal = np.median(_line_strength(fixed_speed, "normal", order * FR))
        assert normal < 3.0
    assert np.median(_line_strength(fixed_speed, "OR007@6", BPFO_ORDER * FR)) > 8.0
    assert np.median(_line_strength(fixed_speed, "IR007", BPFI_ORDER * FR)) > 8.0


def test_inner_race_shows_shaft_sidebands_outer_race_does_not(fixed_speed: Windows) -> None:
    """Load-zone modulation at shaft speed puts lines at BPFI +/- 1x; the fixed OR defect has none."""
    def sideband_ratio(name: str, order: float) -> float:
        centre = _line_strength(fixed_speed, name, order * FR)
        sides = np.maximum(_line_strength(fixed_speed, name, order * FR - FR),
                           _line_strength(fixed_speed, name, order * FR + FR))
        return float(np.median(sides / centre))

    inner = sideband_ratio("IR021", BPFI_ORDER)
    outer = sideband_ratio("OR021@6", BPFO_ORDER)
    assert inner > 0.2
    assert outer < 0.12


def test_severity_lowers_the_excited_resonance(fixed_speed: Windows) -> None:
    """Larger defects ring lower and louder: classes differ by more than amplitude."""
    f = np.fft.rfftfreq(fixed_speed.window_length, 1 / FS)
    hi = f >= 1500
    for loc in ("IR", "B", "OR"):
        centroids, rms = [], []
        for size in ("007", "014", "021"):
            name = f"{loc}{size}" + ("@6" if loc == "OR" else "")
            x = fixed_speed.x[fixed_speed.y == BEARING_CLASSES.index(name)].astype(np.float64)
            p = np.abs(np.fft.rfft(x, axis=1)) ** 2
            centroids.append(np.median((p[:, hi] * f[hi]).sum(1) / p[:, hi].sum(1)))
            rms.append(np.median(np.sqrt(np.mean(x**2, axis=1))))
        assert centroids[0] > centroids[1] + 150 > centroids[2] + 300, (loc, centroids)
        assert rms[0] < rms[1] < rms[2], (loc, rms)


def test_shaft_speed_varies_between_windows() -> None:
    """With the default rpm range, the outer-race line moves with shaft speed."""
    w = generate(60, seed=4)
    f, spec = _envelope_spectrum(w.x[w.y == BEARING_CLASSES.index("OR021@6")])
    band = (f >= 80) & (f <= 400)
    peaks = f[band][spec[:, band].argmax(axis=1)]
    lo, hi = (BPFO_ORDER * r / 60 for r in DEFAULT_RPM_RANGE)
    assert np.mean((peaks > 0.97 * lo) & (peaks < 1.03 * hi)) > 0.9
    assert np.ptp(peaks) > 0.5 * (hi - lo)


@pytest.mark.parametrize("kwargs", [
    {"n_per_class": -1},
    {"n_per_class": 2, "window_length": 8},
    {"n_per_class": 2, "sample_rate": 8000.0},
    {"n_per_class": 2, "rpm_range": (1800.0, 1700.0)},
    {"n_per_class": 2, "rpm_range": (0.0, 1700.0)},
])
def test_bad_arguments_raise_drsn_error(kwargs: dict) -> None:
    with pytest.raises(DrsnError):
        generate(**kwargs)
