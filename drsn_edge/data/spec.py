"""Data specs on the command line: ``synthetic[:SEED]``, ``cwru:DIR``, ``npz:FILE``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.data.dataset import Splits, Windows
from drsn_edge.defaults import CHANNEL, WINDOW_LENGTH
from drsn_edge.errors import DrsnError

SPLIT_NAMES = ("train", "val", "test")


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``kind:argument``; the kind decides how the argument is read."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "synthetic":
        if arg and not (arg.isascii() and arg.isdigit() and int(arg) < 2 ** 32):
            raise DrsnError(f"synthetic data takes a seed in [0, 2^32) (synthetic:SEED), got '{arg:.40}'")
        return kind, arg or "0"
    if kind in ("cwru", "npz"):
        if not arg:
            raise DrsnError(f"data spec '{spec}' needs a path ({kind}:PATH)")
        return kind, arg
    raise DrsnError(f"unknown data spec '{spec}' (use synthetic, cwru:DIR or npz:FILE)")


def resolve_spec(spec: str) -> str:
    """The spec with an absolute path, so a checkpoint can find its data from anywhere."""
    kind, arg = parse_spec(spec)
    return f"{kind}:{arg}" if kind == "synthetic" else f"{kind}:{Path(arg).resolve()}"


def _split_npz(windows: Windows, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> Splits:
    """Per class, the first 70 % of windows train, the next 15 % validate, the rest test.

    Contiguous blocks (not a shuffle) because windows from one recording are
    usually stored in time order and neighbours overlap.
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    for label in range(len(windows.classes)):
        idx = np.flatnonzero(windows.y == label)
        if len(idx) == 0:
            continue
        if len(idx) < 3:
            raise DrsnError(f"class '{windows.classes[label]}' has {len(idx)} windows; training needs at least 3")
        n_train = max(1, int(round(fractions[0] * len(idx))))
        n_val = max(1, int(round(fractions[1] * len(idx))))
        n_train = min(n_train, len(idx) - 2)
        bounds = [0, n_train, n_train + n_val, len(idx)]
        for name, lo, hi in zip(SPLIT_NAMES, bounds[:-1], bounds[1:]):
            parts[name].append(idx[lo:hi])

    def take(name: str) -> Windows:
        sel = np.concatenate(parts[name])
        return Windows(windows.x[sel], windows.y[sel], windows.classes, windows.sample_rate, {**windows.info, "split": name})

    return Splits(*(take(name) for name in SPLIT_NAMES))


def load_splits(spec: str, window_length: int = WINDOW_LENGTH, channel: str = CHANNEL) -> Splits:
    """Train / validation / test windows for ``spec`` (disjoint by construction)."""
    from drsn_edge.data import cwru, npz, synthetic  # local: keep CLI start-up light

    kind, arg = parse_spec(spec)
    if kind == "synthetic":
        return synthetic.synthetic_splits(window_length=window_length, seed=int(arg))
    if kind == "cwru":
        return cwru.load_cwru(arg, channel=channel, window_length=window_length)
    windows = npz.read_npz(arg)
    windows.check_finite()
    return _split_npz(windows)


def load_windows(spec: str, split: str = "test", window_length: int = WINDOW_LENGTH,
                 channel: str = CHANNEL) -> Windows:
    """Windows to evaluate on: one split of a source, or a whole ``.npz`` file (``split='all'``)."""
    from drsn_edge.data import npz

    kind, arg = parse_spec(spec)
    if kind == "npz" and split in ("all", "test"):
        windows = npz.read_npz(arg)
    else:
        if split not in SPLIT_NAMES:
            raise DrsnError(f"unknown split '{split}' (choose from {', '.join(SPLIT_NAMES)})")
        windows = getattr(load_splits(spec, window_length, channel), split)
    windows.check_finite()
    return windows


def describe(windows: Windows) -> dict:
    """A JSON-friendly summary of a window set for checkpoints and reports."""
    counts = np.bincount(windows.y, minlength=len(windows.classes))
    return {
        "n": len(windows),
        "window_length": windows.window_length,
        "sample_rate": windows.sample_rate,
        "class_counts": {c: int(n) for c, n in zip(windows.classes, counts)},
        "info": windows.info,
    }

