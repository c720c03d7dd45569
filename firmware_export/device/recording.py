"""A recording to stream to a device, read whole: the Pi runner's formats (text, csv, int16, float32, wav).

The Pi runner reads a stream chunk by chunk on the device; here the host reads a finite file at once with
numpy and the standard library, and sends the device float32 samples (the engine's input type).
"""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from drsn_edge.errors import DrsnError

FORMATS = ("text", "csv", "int16", "float32", "wav")
WAV_DTYPES = {1: np.dtype("u1"), 2: np.dtype("<i2"), 4: np.dtype("<i4")}


def _text(path: Path, column: int | None, delimiter: str) -> np.ndarray:
    values = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        field = line if column is None else (line.split(delimiter) + [""] * (column + 1))[column].strip()
        try:
            values.append(float(field))
        except ValueError:
            continue  # a header or a bad line, skipped as the Pi runner skips it
    return np.asarray(values)


def _wav(path: Path, channel: int) -> tuple[np.ndarray, float]:
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), float(w.getframerate())
            data = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise DrsnError(f"{path} is not a PCM WAV file: {exc}") from None
    if width not in WAV_DTYPES or not 0 <= channel < channels:
        raise DrsnError(f"{path}: {8 * width}-bit, {channels} channel(s): cannot read channel {channel}")
    x = np.frombuffer(data, WAV_DTYPES[width]).reshape(-1, channels)[:, channel].astype(np.float64)
    return (x - 128.0 if width == 1 else x), rate


def read_recording(path: str | Path, fmt: str, column: int | None = None, delimiter: str = ",",
                   scale: float = 1.0) -> tuple[np.ndarray, float | None]:
    """(float32 samples, the file's own sample rate or None); an error for a missing or empty file."""
    path = Path(path)
    if fmt not in FORMATS:
        raise DrsnError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
    if not path.is_file():
        raise DrsnError(f"no such recording: {path}")
    rate = None
    if fmt in ("text", "csv"):
        x = _text(path, column if fmt == "csv" else None, delimiter)
    elif fmt == "wav":
        x, rate = _wav(path, column or 0)
    else:
        x = np.fromfile(path, "<i2" if fmt == "int16" else "<f4").astype(np.float64)
    if len(x) == 0:
        raise DrsnError(f"{path} holds no samples as {fmt}")
    return (x * scale if scale != 1.0 else x).astype(np.float32), rate
