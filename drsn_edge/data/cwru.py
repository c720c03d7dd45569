"""Load CWRU bearing recordings (.mat) into leakage-free train/val/test windows.

Each CWRU class is one continuous recording, so every recording is cut into
disjoint time spans first and windowed inside each span afterwards. The normal
baseline is 48 kHz while the fault records are 12 kHz; anything not at the
target rate goes through an anti-aliased polyphase resampler. Every window
carries its recording's operating condition, the motor load as ``"<load>hp"``
(from the file name suffix, the record number or the array key).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.io
from scipy.signal import resample_poly

from drsn_edge.data.classes import BEARING_CLASSES
from drsn_edge.data.dataset import Splits, Windows
from drsn_edge.data.windowing import _positive_int, frame, positive_rate, split_spans
from drsn_edge.defaults import CHANNEL, SAMPLE_RATE, WINDOW_LENGTH
from drsn_edge.errors import DrsnError

CHANNELS = {"DE": "drive end", "FE": "fan end", "BA": "base"}

# CWRU record numbers for motor loads 0, 1, 2, 3 HP (drive-end, 12 kHz faults).
_RECORD_TABLE: dict[str, tuple[int, int, int, int]] = {
    "normal": (97, 98, 99, 100),
    "IR007": (105, 106, 107, 108),
    "B007": (118, 119, 120, 121),
    "OR007@6": (130, 131, 132, 133),
    "IR014": (169, 170, 171, 172),
    "B014": (185, 186, 187, 188),
    "OR014@6": (197, 198, 199, 200),
    "IR021": (209, 210, 211, 212),
    "B021": (222, 223, 224, 225),
    "OR021@6": (234, 235, 236, 237),
}
RECORDS: dict[int, tuple[str, int]] = {
    rec: (label, load) for label, recs in _RECORD_TABLE.items() for load, rec in enumerate(recs)
}
NORMAL_RATE = 48000.0  # the .mat files hold no rate: it is a property of the record
FAULT_RATE = 12000.0
_MAX_RATIO_TERM = 4096  # keeps resample_poly's filter a sane size

_BY_LOWER = {c.lower(): c for c in BEARING_CLASSES}
_NAMED = re.compile(r"^(?P<cls>[A-Za-z]+\d*(?:@\d+)?)(?:_(?P<load>\d+))?$")
_NUMBERED = re.compile(r"^[Xx]?(?P<rec>\d+)$")


@dataclass
class Recording:
    """One channel of one CWRU file, already at the target rate."""

    name: str
    label: str
    load_hp: int | None
    record: int | None
    signal: np.ndarray
    sample_rate: float
    source_rate: float
    key: str = ""

    @property
    def resampled(self) -> bool:
        return self.sample_rate != self.source_rate

    @property
    def condition(self) -> str:
        return load_condition(self.load_hp)


def load_condition(load_hp: int | None) -> str:
    """The operating-condition name of a CWRU motor load: ``0`` -> ``"0hp"``; unknown -> ``"unknown"``."""
    return "unknown" if load_hp is None else f"{int(load_hp)}hp"


def class_rate(label: str) -> float:
    """CWRU's normal baseline was recorded at 48 kHz, every fault record at 12 kHz."""
    return NORMAL_RATE if label == "normal" else FAULT_RATE


def parse_name(path: str | Path) -> tuple[str, int | None, int | None]:
    """(label, load_hp, record) from ``IR007_0.mat``, ``normal_2.mat``, ``105.mat`` or ``X105.mat``."""
    name = Path(path).name
    stem = Path(path).stem
    m = _NUMBERED.match(stem)
    if m:
        rec = int(m["rec"])
        if rec not in RECORDS:
            known = ", ".join(str(r) for r in sorted(RECORDS))
            raise DrsnError(f"{name}: CWRU record {rec} is not a 0-3 HP drive-end record this loader knows ({known})")
        label, load = RECORDS[rec]
        return label, load, rec
    m = _NAMED.match(stem)
    label = _BY_LOWER.get(m["cls"].lower()) if m else None
    if m is None or label is None:
        raise DrsnError(
            f"{name}: cannot tell the class from the file name; use <class>_<load>.mat "
            f"with class one of {', '.join(BEARING_CLASSES)} (e.g. IR007_0.mat) or a CWRU record number (e.g. 105.mat)"
        )
    if m["load"] is None:
        return label, None, None
    load = int(m["load"])
    if load > 3:
        raise DrsnError(f"{name}: motor load {load} HP is not a CWRU load (0, 1, 2 or 3)")
    return label, load, _RECORD_TABLE[label][load]


def _check_channel(channel: str) -> str:
    ch = str(channel).upper()
    if ch not in CHANNELS:
        raise DrsnError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    return ch


def resample(signal: np.ndarray, source_rate: float, target_rate: float) -> np.ndarray:
    """Anti-aliased polyphase resampling by the reduced ratio target/source (float64 out)."""
    ratio = Fraction(positive_rate(target_rate, "target rate")) / Fraction(positive_rate(source_rate, "source rate"))
    up, down = ratio.numerator, ratio.denominator
    if max(up, down) > _MAX_RATIO_TERM:
        raise DrsnError(
            f"cannot resample {source_rate:g} Hz to {target_rate:g} Hz: the ratio {up}/{down} is not a simple fraction"
        )
    x = np.asarray(signal, dtype=np.float64)
    if up == down:
        return x.copy()
    return resample_poly(x, up, down)


def _select_key(name: str, variables: list[tuple], channel: str, record: int | None) -> str:
    """Prefer X<record>_<CH>_time; some CWRU files also carry a neighbour record's arrays."""
    suffix = f"_{channel}_time".lower()
    keys = [v[0] for v in variables]
    matching = [k for k in keys if k.lower().endswith(suffix)]
    if record is not None:
        for k in matching:
            m = re.match(r"^[Xx]0*(\d+)_", k)
            if m and int(m[1]) == record:
                return k
    if len(matching) == 1:
        return matching[0]
    listed = ", ".join(keys) if keys else "none"
    if not matching:
        raise DrsnError(
            f"{name} has no {channel} ({CHANNELS[channel]}) channel: no key ends in _{channel}_time (keys: {listed})"
        )
    raise DrsnError(
        f"{name} holds several _{channel}_time arrays ({', '.join(matching)}) and none for record {record}"
    )


def _read_channel(path: Path, channel: str, record: int | None) -> tuple[str, np.ndarray]:
    """Read only the one array needed; scipy raises many exception types on bad bytes."""
    name = path.name
    if not path.exists():
        raise DrsnError(f"{path} does not exist")
    if not path.is_file():
        raise DrsnError(f"{path} is not a file")
    try:
        variables = scipy.io.whosmat(str(path), appendmat=False)
        key = _select_key(name, variables, channel, record)
        data = scipy.io.loadmat(str(path), appendmat=False, variable_names=[key])
    except DrsnError:
        raise
    except NotImplementedError:
        raise DrsnError(f"{name} is a MATLAB v7.3 (HDF5) file; re-save it with save(..., '-v7')") from None
    except PermissionError:
        raise DrsnError(f"{path} cannot be read: permission denied") from None
    except Exception:  # noqa: BLE001 - corrupt files raise ValueError, IndexError, zlib.error, ...
        raise DrsnError(f"{name} is not a readable MATLAB .mat file (wrong format or corrupt)") from None
    arr = data.get(key)
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        kind = getattr(arr, "dtype", type(arr))
        raise DrsnError(f"{name}: {key} is not a real numeric array ({kind})")
    if arr.size == 0 or sum(d > 1 for d in arr.shape) > 1:
        raise DrsnError(f"{name}: {key} has shape {arr.shape}, expected one channel (N, 1)")
    return key, arr.reshape(-1).astype(np.float64, copy=False)


def load_recording(path: str | Path, channel: str = CHANNEL, target_rate: float = SAMPLE_RATE) -> Recording:
    """One channel of one CWRU file, resampled to ``target_rate`` if its record rate differs."""
    path = Path(path)
    ch = _check_channel(channel)
    target = positive_rate(target_rate, "target rate")
    label, load, record = parse_name(path)
    key, raw = _read_channel(path, ch, record)
    if record is None:  # e.g. IR007.mat: the key may still name the record
        m = re.match(r"^[Xx]0*(\d+)_", key)
        if m and RECORDS.get(int(m[1]), ("",))[0] == label:
            record = int(m[1])
            load = RECORDS[record][1]
    source = class_rate(label)
    signal = resample(raw, source, target) if source != target else raw
    return Recording(
        name=path.name, label=label, load_hp=load, record=record,
        signal=np.asarray(signal, dtype=np.float32), sample_rate=target, source_rate=source, key=key,
    )


def _list_files(directory: Path) -> list[Path]:
    if not directory.exists():
        raise DrsnError(f"data folder {directory} does not exist")
    if directory.is_file():
        return [directory]
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".mat" and p.is_file())
    except OSError as exc:
        raise DrsnError(f"cannot list data folder {directory}: {exc.strerror}") from None
    if not files:
        raise DrsnError(f"data folder {directory} holds no .mat files")
    return files


def _select(recordings: list[Recording], conditions: tuple[str, ...] | None, where: str) -> list[Recording]:
    """Only the recordings of the asked conditions; asking for an absent one is an error."""
    if conditions is None:
        return recordings
    present = sorted({r.condition for r in recordings})
    missing = [c for c in conditions if c not in present]
    if missing:
        raise DrsnError(f"{where} holds no recording at {', '.join(missing)} (conditions present: {', '.join(present)})")
    return [r for r in recordings if r.condition in conditions]


def load_cwru(
    directory: str | Path | list[str | Path],
    channel: str = CHANNEL,
    window_length: int = WINDOW_LENGTH,
    train_hop: int = 256,
    eval_hop: int = 256,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    target_rate: float = SAMPLE_RATE,
    conditions: tuple[str, ...] | None = None,
) -> Splits:
    """Every .mat in ``directory`` (one folder or .mat file, or a list of them), split in time per
    recording, then windowed; ``conditions`` (e.g. ``("1hp",)``) keeps only recordings at those loads."""
    directories = [Path(d) for d in directory] if isinstance(directory, (list, tuple)) else [Path(directory)]
    if not directories:
        raise DrsnError("no CWRU data folder given")
    where = "+".join(str(d) for d in directories)
    ch = _check_channel(channel)
    length = _positive_int(window_length, "window length")
    hops = {"train": _positive_int(train_hop, "train hop"), "val": _positive_int(eval_hop, "eval hop")}
    hops["test"] = hops["val"]
    split_spans(0, fractions)  # validate fractions before any file is read
    target = positive_rate(target_rate, "target rate")

    files = [p for d in directories for p in _list_files(d)]
    recordings = _select([load_recording(p, ch, target) for p in files], conditions, where)
    seen: dict[int, str] = {}
    for rec in recordings:
        if rec.record is not None and rec.record in seen:
            raise DrsnError(f"{rec.name} and {seen[rec.record]} are the same CWRU record {rec.record}; keep only one")
        if rec.record is not None:
            seen[rec.record] = rec.name
    order = {c: i for i, c in enumerate(BEARING_CLASSES)}
    recordings.sort(key=lambda r: (order[r.label], r.load_hp if r.load_hp is not None else -1, r.name))
    classes = [c for c in BEARING_CLASSES if any(r.label == c for r in recordings)]

    xs: dict[str, list[np.ndarray]] = {s: [] for s in hops}
    ys: dict[str, list[np.ndarray]] = {s: [] for s in hops}
    conds: dict[str, list[np.ndarray]] = {s: [] for s in hops}
    summary = []
    for rec in recordings:
        n = int(rec.signal.shape[0])
        spans = dict(zip(hops, split_spans(n, fractions)))
        counts = {}
        for split, (start, end) in spans.items():
            w = frame(rec.signal[start:end], length, hops[split])
            if len(w) == 0:
                raise DrsnError(
                    f"{rec.name}: its {split} span ({float(dict(zip(hops, fractions))[split]):.0%} of {n} samples "
                    f"at {target:g} Hz) holds {end - start} samples, fewer than one {length}-sample window"
                )
            xs[split].append(w)
            ys[split].append(np.full(len(w), classes.index(rec.label), dtype=np.int64))
            conds[split].append(np.full(len(w), rec.condition))
            counts[split] = int(len(w))
        summary.append({
            "file": rec.name, "label": rec.label, "load_hp": rec.load_hp, "condition": rec.condition, "record": rec.record,
            "key": rec.key, "source_rate": rec.source_rate, "resampled": rec.resampled, "samples": n,
            "spans": {s: [int(a), int(b)] for s, (a, b) in spans.items()}, "windows": counts,
        })

    info = {
        "source": "cwru", "directory": where, "channel": ch, "sample_rate": target,
        "recordings": summary, "window_length": length,
        "hops": {"train": hops["train"], "eval": hops["val"]}, "fractions": [float(f) for f in fractions],
    }
    out = {}
    for split in hops:
        out[split] = Windows(
            x=np.concatenate(xs[split]), y=np.concatenate(ys[split]), classes=classes,
            sample_rate=target, info={**copy.deepcopy(info), "split": split}, condition=np.concatenate(conds[split]),
        )
    return Splits(train=out["train"], val=out["val"], test=out["test"])
