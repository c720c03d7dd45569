"""Data specs on the command line: ``synthetic[:SEED]``, ``cwru:DIR[+DIR...]``, ``npz:FILE``, each
optionally followed by a condition selector ``@load=N[,N...]`` or ``@condition=NAME[,NAME...]``.

``cwru:A+B`` reads the recordings of several folders as one source (e.g. two
motor loads); a path that exists as typed is never split at ``+``. The
selector keeps only windows of the named operating conditions; ``load=1`` is
shorthand for ``condition=1hp``. ``@`` inside a path (``OR007@6_0.mat``) is
not a selector: only a final ``@load=`` or ``@condition=`` is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from drsn_edge.data.dataset import Splits, Windows
from drsn_edge.defaults import CHANNEL, WINDOW_LENGTH
from drsn_edge.errors import DrsnError

SPLIT_NAMES = ("train", "val", "test")
KINDS = ("synthetic", "cwru", "npz")
_SELECTOR = re.compile(r"^(?P<key>load|condition)=(?P<values>.*)$")


@dataclass(frozen=True)
class DataSpec:
    """A parsed data spec: the source kind, its paths (or the synthetic seed) and the conditions kept."""

    kind: str
    paths: tuple[str, ...]
    conditions: tuple[str, ...] | None = None  # None: every condition

    def __str__(self) -> str:
        text = f"{self.kind}:{'+'.join(self.paths)}"
        return text + (f"@condition={','.join(self.conditions)}" if self.conditions else "")

    def resolved(self) -> "DataSpec":
        """Absolute paths, so a checkpoint can find its data from anywhere."""
        if self.kind == "synthetic":
            return self
        return replace(self, paths=tuple(str(Path(p).resolve()) for p in self.paths))

    def with_conditions(self, conditions: tuple[str, ...] | None) -> "DataSpec":
        return replace(self, conditions=tuple(conditions) if conditions else None)


def _parse_selector(text: str, spec: str) -> tuple[str, ...]:
    m = _SELECTOR.match(text)
    assert m is not None
    values = [v.strip() for v in m["values"].split(",")]
    if not all(values):
        raise DrsnError(f"data spec '{spec}': @{m['key']}= needs comma-separated names, got '{m['values']}'")
    if m["key"] == "load":
        if not all(v.isdigit() for v in values):
            raise DrsnError(f"data spec '{spec}': @load= takes motor loads in HP as integers (e.g. @load=1)")
        values = [f"{int(v)}hp" for v in values]
    return tuple(dict.fromkeys(values))


def parse(spec: str) -> DataSpec:
    """Read a spec; the kind decides how the argument is read."""
    spec = str(spec)
    body, at, tail = spec.rpartition("@")
    conditions = _parse_selector(tail, spec) if at and _SELECTOR.match(tail) else None
    if conditions is None:
        body = spec
    kind, _, arg = body.partition(":")
    kind = kind.strip().lower()
    if kind == "synthetic":
        if arg and not (arg.isascii() and arg.isdigit() and int(arg) < 2 ** 32):
            raise DrsnError(f"synthetic data takes a seed in [0, 2^32) (synthetic:SEED), got '{arg:.40}'")
        return DataSpec(kind, (arg or "0",), conditions)
    if kind not in KINDS:
        raise DrsnError(f"unknown data spec '{spec}' (use synthetic, cwru:DIR[+DIR] or npz:FILE, optionally @load=N)")
    if not arg:
        raise DrsnError(f"data spec '{spec}' needs a path ({kind}:PATH)")
    paths = (arg,) if "+" not in arg or Path(arg).exists() else tuple(p.strip() for p in arg.split("+"))
    if not all(paths):
        raise DrsnError(f"data spec '{spec}' has an empty path in its '+' join")
    if kind == "npz" and len(paths) > 1:
        raise DrsnError(f"data spec '{spec}': npz takes one file (name each window's condition in its 'condition' array)")
    return DataSpec(kind, paths, conditions)


def parse_spec(spec: str) -> tuple[str, str]:
    """``(kind, argument)`` of a spec, the selector left out."""
    ds = parse(spec)
    return ds.kind, "+".join(ds.paths)


def resolve_spec(spec: str) -> str:
    """The spec with absolute paths, so a checkpoint can find its data from anywhere."""
    return str(parse(spec).resolved())


def select_conditions(windows: Windows, conditions: tuple[str, ...] | None, spec: str) -> Windows:
    """Only the windows of ``conditions`` (all when None); an absent condition is an error."""
    if conditions is None:
        return windows
    present = windows.conditions
    missing = [c for c in conditions if c not in present]
    if missing:
        raise DrsnError(f"{spec} has no windows of condition {', '.join(missing)} "
                        f"(conditions present: {', '.join(present)})")
    return windows.take(np.isin(windows.condition, conditions), conditions=list(conditions))


def _split_npz(windows: Windows, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> Splits:
    """Per condition and class, the first 70 % of windows train, the next 15 % validate, the rest test.

    Contiguous blocks (not a shuffle) because windows from one recording are
    usually stored in time order and neighbours overlap.
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    several = len(windows.conditions) > 1
    for condition in windows.conditions:
        for label in range(len(windows.classes)):
            idx = np.flatnonzero((windows.y == label) & (windows.condition == condition))
            if len(idx) == 0:
                continue
            if len(idx) < 3:
                where = f" at condition '{condition}'" if several else ""
                raise DrsnError(f"class '{windows.classes[label]}'{where} has {len(idx)} windows; "
                                "training needs at least 3")
            n_train = max(1, int(round(fractions[0] * len(idx))))
            n_val = max(1, int(round(fractions[1] * len(idx))))
            n_train = min(n_train, len(idx) - 2)
            bounds = [0, n_train, n_train + n_val, len(idx)]
            for name, lo, hi in zip(SPLIT_NAMES, bounds[:-1], bounds[1:]):
                parts[name].append(idx[lo:hi])
    return Splits(*(windows.take(np.concatenate(parts[name]), split=name) for name in SPLIT_NAMES))


def load_splits(spec: str, window_length: int = WINDOW_LENGTH, channel: str = CHANNEL) -> Splits:
    """Train / validation / test windows for ``spec`` (disjoint by construction)."""
    from drsn_edge.data import cwru, npz, synthetic  # local: keep CLI start-up light

    ds = parse(spec)
    if ds.kind == "cwru":  # the loader selects recordings, so the classes are those of the kept loads
        return cwru.load_cwru(list(ds.paths), channel=channel, window_length=window_length, conditions=ds.conditions)
    if ds.kind == "synthetic":
        splits = synthetic.synthetic_splits(window_length=window_length, seed=int(ds.paths[0]))
        return Splits(*(select_conditions(getattr(splits, s), ds.conditions, spec) for s in SPLIT_NAMES))
    windows = npz.read_npz(ds.paths[0])
    windows.check_finite()
    return _split_npz(select_conditions(windows, ds.conditions, spec))


def load_windows(spec: str, split: str = "test", window_length: int = WINDOW_LENGTH,
                 channel: str = CHANNEL) -> Windows:
    """Windows to evaluate on: one split of a source, or a whole ``.npz`` file (``split='all'``)."""
    from drsn_edge.data import npz

    ds = parse(spec)
    if ds.kind == "npz" and split in ("all", "test"):
        windows = select_conditions(npz.read_npz(ds.paths[0]), ds.conditions, spec)
    else:
        if split not in SPLIT_NAMES:
            raise DrsnError(f"unknown split '{split}' (choose from {', '.join(SPLIT_NAMES)})")
        windows = getattr(load_splits(spec, window_length, channel), split)
    windows.check_finite()
    return windows


def describe(windows: Windows) -> dict:
    """A JSON-friendly summary of a window set for checkpoints and reports."""
    counts = np.bincount(windows.y, minlength=len(windows.classes))
    conditions, per_condition = np.unique(windows.condition, return_counts=True)
    return {
        "n": len(windows),
        "window_length": windows.window_length,
        "sample_rate": windows.sample_rate,
        "class_counts": {c: int(n) for c, n in zip(windows.classes, counts)},
        "condition_counts": {str(c): int(n) for c, n in zip(conditions, per_condition)},
        "info": windows.info,
    }
