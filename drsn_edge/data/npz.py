"""The .npz interchange format: how any data set, not just CWRU, comes in.

Keys: ``x`` (N, L) float32 raw windows, ``y`` (N,) int64 labels, ``classes``
(unicode strings naming the label indices), an optional scalar
``sample_rate`` in Hz and an optional ``condition`` (N,) naming each window's
operating condition (strings, or integers read as their decimal names). Files are read with ``allow_pickle=False`` so a data
file can never execute code.
"""
from __future__ import annotations

import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from drsn_edge.data.dataset import DEFAULT_CONDITION, Windows
from drsn_edge.data.windowing import positive_rate
from drsn_edge.defaults import SAMPLE_RATE
from drsn_edge.errors import DrsnError

DEFAULT_SAMPLE_RATE = SAMPLE_RATE  # when the file does not say
REQUIRED_KEYS = ("x", "y", "classes")


def write_npz(path: str | Path, windows: Windows) -> None:
    """Write atomically (temp file beside the target, then rename): no half-written file on a crash."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DrsnError(f"cannot write {path}: folder {folder} does not exist")
    arrays = {
        "x": np.ascontiguousarray(windows.x, dtype=np.float32),
        "y": np.ascontiguousarray(windows.y, dtype=np.int64),
        "classes": np.array([str(c) for c in windows.classes], dtype=np.str_),
        "sample_rate": np.float64(windows.sample_rate),
    }
    if windows.conditions != [DEFAULT_CONDITION]:
        arrays["condition"] = np.ascontiguousarray(windows.condition, dtype=np.str_)
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False) as fh:
            tmp_name = fh.name
            np.savez(fh, **arrays)  # a file object: savez must not append ".npz" to the name
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise DrsnError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _get(npz: np.lib.npyio.NpzFile, key: str, name: str) -> np.ndarray:
    """Load one member, turning pickle refusals and zip damage into one-line errors."""
    try:
        arr = npz[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DrsnError(f"{name}: key {key!r} holds Python objects (pickled); store plain arrays") from None
        raise DrsnError(f"{name}: key {key!r} is corrupt") from None
    except Exception:  # noqa: BLE001 - zlib.error, BadZipFile, EOFError, ...
        raise DrsnError(f"{name}: key {key!r} is corrupt") from None
    if arr.dtype.hasobject:
        raise DrsnError(f"{name}: key {key!r} holds Python objects; store plain arrays")
    return arr


def _read_classes(arr: np.ndarray, name: str) -> list[str]:
    if arr.ndim != 1 or arr.dtype.kind not in "US" or arr.size == 0:
        raise DrsnError(
            f"{name}: 'classes' must be a non-empty 1-D array of strings, got dtype {arr.dtype} shape {arr.shape}"
        )
    classes = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in arr.tolist()]
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise DrsnError(f"{name}: 'classes' names {', '.join(dupes)} more than once")
    return classes


def _check_condition(arr: np.ndarray | None, name: str, n: int) -> np.ndarray | None:
    """The optional per-window condition names: strings or integers, one per window, none empty."""
    if arr is None:
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "USiu":
        raise DrsnError(f"{name}: 'condition' must be a 1-D array of names (strings or integers), "
                        f"got dtype {arr.dtype} shape {arr.shape}")
    if arr.shape[0] != n:
        raise DrsnError(f"{name}: 'x' has {n} windows but 'condition' names {arr.shape[0]}")
    names = np.char.strip(np.char.decode(arr, "utf-8", "replace") if arr.dtype.kind == "S" else arr.astype(np.str_))
    if (names == "").any():
        raise DrsnError(f"{name}: 'condition' holds {int((names == '').sum())} empty names")
    return names


def _read_rate(npz: np.lib.npyio.NpzFile, name: str, asked: float | None) -> tuple[float, bool]:
    """The file's rate wins; ``asked`` fills in when absent and must agree when present."""
    if asked is not None:
        asked = positive_rate(asked, "sample rate")
    if "sample_rate" not in npz.files:
        return (asked if asked is not None else DEFAULT_SAMPLE_RATE), True
    arr = _get(npz, "sample_rate", name)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise DrsnError(f"{name}: 'sample_rate' must be one number, got dtype {arr.dtype} shape {arr.shape}")
    rate = float(arr.reshape(-1)[0])
    if not math.isfinite(rate) or rate <= 0:
        raise DrsnError(f"{name}: 'sample_rate' must be a positive number of Hz, got {rate}")
    if asked is not None and asked != rate:
        raise DrsnError(f"{name} is sampled at {rate:g} Hz but {asked:g} Hz was asked for")
    return rate, False


def read_npz(path: str | Path, sample_rate: float | None = None) -> Windows:
    """Windows from an .npz; ``sample_rate`` is used only if the file has none (else 12 kHz is assumed)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise DrsnError(f"{path} does not exist")
    if not path.is_file():
        raise DrsnError(f"{path} is not a file")
    if not zipfile.is_zipfile(path):
        raise DrsnError(f"{name} is not an .npz file (not a zip archive)")
    try:
        npz = np.load(path, allow_pickle=False)
    except PermissionError:
        raise DrsnError(f"{path} cannot be read: permission denied") from None
    except Exception:  # noqa: BLE001 - numpy raises ValueError, BadZipFile, OSError on bad bytes
        raise DrsnError(f"{name} is not a readable .npz file (corrupt)") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DrsnError(f"{name} is not an .npz file")
    with npz:
        missing = [k for k in REQUIRED_KEYS if k not in npz.files]
        if missing:
            present = ", ".join(npz.files) if npz.files else "none"
            raise DrsnError(f"{name} lacks key(s) {', '.join(missing)} (keys present: {present})")
        x = _get(npz, "x", name)
        y = _get(npz, "y", name)
        classes = _read_classes(_get(npz, "classes", name), name)
        rate, assumed = _read_rate(npz, name, sample_rate)
        condition = _get(npz, "condition", name) if "condition" in npz.files else None
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DrsnError(f"{name}: 'x' must be 2-D (windows, samples) and non-empty, got shape {x.shape}")
    if x.dtype.kind not in "iuf":
        raise DrsnError(f"{name}: 'x' must hold real numbers, got dtype {x.dtype}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DrsnError(f"{name}: 'y' must be a 1-D integer array, got dtype {y.dtype} shape {y.shape}")
    if y.shape[0] != x.shape[0]:
        raise DrsnError(f"{name}: 'x' has {x.shape[0]} windows but 'y' has {y.shape[0]} labels")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= len(classes):
        raise DrsnError(f"{name}: labels span {lo}..{hi} but there are {len(classes)} classes (0..{len(classes) - 1})")
    condition = _check_condition(condition, name, x.shape[0])
    info = {"source": "npz", "file": str(path), "sample_rate": rate, "sample_rate_assumed": assumed}
    return Windows(x=x.astype(np.float32, copy=False), y=y.astype(np.int64, copy=False),
                   classes=classes, sample_rate=rate, info=info, condition=condition)
