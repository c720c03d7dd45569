"""Synthetic drive-end bearing vibration for the ten CWRU classes.

A stand-in for the real recordings when they are absent or when unlimited,
leak-free windows are wanted. The model follows the textbook picture of a
localised defect: each rolling contact over the defect is an impulse that rings
a structural resonance; impulses repeat at the defect frequency (BPFI, BSF or
BPFO times shaft speed) with a little slip; inner-race and ball impulses are
amplitude-modulated as the defect moves through the load zone (at shaft and
cage speed), the fixed outer-race defect is not. Every class also carries shaft
harmonics and a broadband floor, so "normal" is not silence.

Severity shows in more than amplitude: larger defects give longer contact
pulses, which excite lower, longer-ringing resonance (per-window jitter makes
neighbouring severities overlap a little, keeping the task non-trivial).
"""
from __future__ import annotations

import math

import numpy as np

from drsn_edge.data.classes import BEARING_CLASSES, BPFI_ORDER, BPFO_ORDER, BSF_ORDER, FTF_ORDER
from drsn_edge.data.dataset import Splits, Windows
from drsn_edge.defaults import SAMPLE_RATE, WINDOW_LENGTH
from drsn_edge.errors import DrsnError

# CWRU's rig runs at 1797 rpm at 0 HP down to ~1730 rpm at 3 HP; cover that span.
DEFAULT_RPM_RANGE: tuple[float, float] = (1725.0, 1800.0)
MIN_SAMPLE_RATE = 10_000.0  # resonances reach ~4 kHz and must stay below Nyquist

# Location -> (defect order, modulation order (0 = steady), amplitude factor,
# ringing factor, per-impulse amplitude jitter, probability an impact is missed).
# Inner-race and ball impulses cross more interfaces on their way to the sensor,
# so they arrive weaker and more damped; a spinning ball hits its defect erratically.
_LOCATIONS: dict[str, tuple[float, float, float, float, float, float]] = {
    "IR": (BPFI_ORDER, 1.0, 0.8, 0.8, 0.10, 0.00),
    "B": (BSF_ORDER, FTF_ORDER, 0.6, 0.9, 0.30, 0.15),
    "OR": (BPFO_ORDER, 0.0, 1.0, 1.0, 0.10, 0.00),
}
# Defect size -> (impulse amplitude range in g, resonance centre Hz, decay time constant s).
_SEVERITIES: dict[str, tuple[tuple[float, float], float, float]] = {
    "007": ((0.30, 0.60), 3500.0, 0.35e-3),
    "014": ((0.40, 0.90), 3100.0, 0.55e-3),
    "021": ((0.60, 1.20), 2700.0, 0.80e-3),
}
_RES_JITTER = 0.07  # +/- relative spread of the resonance frequency per window
_TAU_JITTER = 0.20  # +/- relative spread of the decay time per window
_CHUNK = 1024  # windows built at once; bounds the (chunk, impulses, kernel) scratch array


def _fault_table() -> list[tuple[str, str] | None]:
    """(location, size) per class index, None for normal; fails loudly if the class list drifts."""
    table: list[tuple[str, str] | None] = []
    for name in BEARING_CLASSES:
        if name == "normal":
            table.append(None)
            continue
        loc = next((p for p in ("IR", "OR", "B") if name.startswith(p)), None)
        size = name[len(loc):len(loc) + 3] if loc else ""
        if loc is None or size not in _SEVERITIES:
            raise RuntimeError(f"synthetic generator has no model for class {name!r}")
        table.append((loc, size))
    return table


_FAULTS = _fault_table()


def _check_args(n_per_class: int, window_length: int, sample_rate: float,
                rpm_range: tuple[float, float]) -> tuple[float, float]:
    if int(n_per_class) != n_per_class or n_per_class < 0:
        raise DrsnError(f"windows per class must be a whole number >= 0, got {n_per_class!r}")
    if int(window_length) != window_length or window_length < 16:
        raise DrsnError(f"window length must be a whole number >= 16, got {window_length!r}")
    if not sample_rate >= MIN_SAMPLE_RATE:
        raise DrsnError(f"synthetic sample rate must be at least {MIN_SAMPLE_RATE:g} Hz, got {sample_rate!r}")
    try:
        lo, hi = (float(v) for v in rpm_range)
    except (TypeError, ValueError):
        raise DrsnError(f"rpm range must be (low, high), got {rpm_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise DrsnError(f"rpm range must satisfy 0 < low <= high, got {rpm_range!r}")
    return lo, hi


def _impulses(fault: tuple[str, str], fr: np.ndarray, length: int, fs: float,
              gen: np.random.Generator) -> np.ndarray:
    """Ringing impulse trains (len(fr), length) for windows of one fault class."""
    loc, size = fault
    order, mod_order, amp_factor, ring_factor, amp_jitter, p_miss = _LOCATIONS[loc]
    (a_lo, a_hi), f_centre, tau_centre = _SEVERITIES[size]
    n = fr.size

    f_res = f_centre * gen.uniform(1 - _RES_JITTER, 1 + _RES_JITTER, n)
    tau = tau_centre * ring_factor * gen.uniform(1 - _TAU_JITTER, 1 + _TAU_JITTER, n)
    amp = amp_factor * gen.uniform(a_lo, a_hi, n)
    slip = gen.uniform(0.01, 0.02, n)

    klen = int(math.ceil(5 * tau_centre * (1 + _TAU_JITTER) * fs)) + 1  # ring down to < 1 %
    span = length + klen  # pre-roll so impulses just before the window still ring into it
    period = fs / (order * fr)  # samples between impacts
    n_imp = int(math.ceil(span / (period.min() * 0.9))) + 2
    steps = period[:, None] * (1 + slip[:, None] * gen.standard_normal((n, n_imp)))
    steps = np.maximum(steps, 0.5 * period[:, None])
    start = gen.uniform(0, 1, n) * period  # random phase of the impulse train
    pos = start[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(steps[:, :-1], axis=1)], axis=1)

    weight = amp[:, None] * (1 + amp_jitter * gen.standard_normal((n, n_imp)))
    weight *= gen.random((n, n_imp)) >= p_miss
    if mod_order > 0:  # defect moving through the load zone
        depth = gen.uniform(0.5, 0.9, n)[:, None]
        phase = gen.uniform(0, 2 * np.pi, n)[:, None]
        load = 0.5 * (1 + np.cos(2 * np.pi * mod_order * fr[:, None] * pos / fs + phase))
        weight *= 1 - depth + depth * load

    # Each impact rings the resonance: e^{-t/tau} sin(2 pi f t), timed to the sub-sample.
    base = np.floor(pos).astype(np.int64)
    j = np.arange(klen)
    t = (j[None, None, :] - (pos - base)[:, :, None]) / fs  # (n, n_imp, klen)
    ring = np.exp(-np.maximum(t, 0) / tau[:, None, None]) * np.sin(2 * np.pi * f_res[:, None, None] * t)
    ring *= (t >= 0) * weight[:, :, None]
    idx = base[:, :, None] + j
    keep = idx < span
    flat = (np.arange(n)[:, None, None] * span + idx)[keep]
    out = np.bincount(flat, weights=ring[keep], minlength=n * span).reshape(n, span)
    return out[:, klen:]


def _windows(y: np.ndarray, length: int, fs: float, rpm_range: tuple[float, float],
             gen: np.random.Generator) -> np.ndarray:
    """Raw float64 windows (len(y), length) for the given class indices."""
    n = y.size
    fr = gen.uniform(*rpm_range, n) / 60.0  # shaft frequency, Hz
    t = np.arange(length) / fs
    # Shaft harmonics (imbalance, misalignment) with random phases.
    a1 = gen.uniform(0.02, 0.06, n)
    amps = np.stack([a1, a1 * gen.uniform(0.3, 0.7, n), a1 * gen.uniform(0.1, 0.4, n)], axis=1)
    phases = gen.uniform(0, 2 * np.pi, (n, 3))
    x = np.zeros((n, length))
    for k in range(3):
        x += amps[:, k:k + 1] * np.cos(2 * np.pi * (k + 1) * fr[:, None] * t + phases[:, k:k + 1])
    x += gen.uniform(0.01, 0.03, n)[:, None] * gen.standard_normal((n, length))  # broadband floor
    for c in np.unique(y):
        fault = _FAULTS[int(c)]
        if fault is not None:
            rows = np.flatnonzero(y == c)
            x[rows] += _impulses(fault, fr[rows], length, fs, gen)
    # Sensor gain / mounting differences between windows.
    x *= np.exp(gen.uniform(math.log(0.7), math.log(1.4), n))[:, None]
    return x


def _build(n_per_class: int, window_length: int, sample_rate: float, seed_seq: np.random.SeedSequence,
           rpm_range: tuple[float, float], info: dict) -> Windows:
    rpm = _check_args(n_per_class, window_length, sample_rate, rpm_range)
    classes = list(BEARING_CLASSES)
    y = np.arange(int(n_per_class) * len(classes), dtype=np.int64) % len(classes)
    gen = np.random.default_rng(seed_seq)
    x = np.empty((y.size, int(window_length)), dtype=np.float32)
    for lo in range(0, y.size, _CHUNK):
        hi = min(lo + _CHUNK, y.size)
        x[lo:hi] = _windows(y[lo:hi], int(window_length), float(sample_rate), rpm, gen)
    info = {**info, "rpm_range": [rpm[0], rpm[1]]}
    return Windows(x=x, y=y, classes=classes, sample_rate=float(sample_rate), info=info)


def generate(
    n_per_class: int,
    window_length: int = WINDOW_LENGTH,
    sample_rate: float = SAMPLE_RATE,
    seed: int = 0,
    rpm_range: tuple[float, float] = DEFAULT_RPM_RANGE,
) -> Windows:
    """``n_per_class`` windows of each bearing class, labels cycling through the classes.

    ``rpm_range`` bounds the per-window shaft speed; pass (1797, 1797) for a fixed speed.
    """
    info = {"source": "synthetic", "seed": int(seed), "n_per_class": int(n_per_class)}
    return _build(n_per_class, window_length, sample_rate, np.random.SeedSequence(int(seed)),
                  rpm_range, info)


def synthetic_splits(
    n_train_per_class: int = 300,
    n_val_per_class: int = 60,
    n_test_per_class: int = 100,
    window_length: int = WINDOW_LENGTH,
    sample_rate: float = SAMPLE_RATE,
    seed: int = 0,
    rpm_range: tuple[float, float] = DEFAULT_RPM_RANGE,
) -> Splits:
    """Train / val / test from three independent random streams, so no window is shared."""
    streams = np.random.SeedSequence(int(seed)).spawn(3)
    parts = []
    for name, n, stream in zip(("train", "val", "test"),
                               (n_train_per_class, n_val_per_class, n_test_per_class), streams):
        info = {"source": "synthetic", "seed": int(seed), "n_per_class": int(n), "split": name}
        parts.append(_build(n, window_length, sample_rate, stream, rpm_range, info))
    return Splits(train=parts[0], val=parts[1], test=parts[2])
