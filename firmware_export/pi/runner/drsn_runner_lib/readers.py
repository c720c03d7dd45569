"""Input streams: text, CSV, raw int16/float32 and WAV from stdin or a file, as float64 chunks."""
from __future__ import annotations

import argparse
import struct
import sys
from typing import BinaryIO, Iterator, TextIO

import numpy as np

from .messages import RunnerError, Warnings
from .resample import check_rate

FORMATS = ("text", "csv", "int16", "float32", "wav")
CHUNK_VALUES = 512  # text values gathered before they are handed on (keeps per-line Python work cheap)
CHUNK_BYTES = 8192
MAX_FMT_BYTES = 1024  # a fmt chunk is 16-40 bytes; a larger one is a damaged header, not something to buffer
MAX_WAV_CHANNELS = 256


def read_text(stream: TextIO, warn: Warnings, column: str | None, delimiter: str) -> Iterator[np.ndarray]:
    """One value per line, or CSV with ``column`` (index from 0, or a header name); bad lines are skipped."""
    index: int | None = None
    if column is not None and column.lstrip("-").isdigit():
        index = int(column)
    values: list[float] = []
    for number, line in enumerate(stream, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if column is None:
            field = line
        else:
            fields = [f.strip() for f in line.split(delimiter)]
            if index is None:  # a header names the column
                if column not in fields:
                    raise RunnerError(f"no column '{column}' in the header line {line!r}")
                index = fields.index(column)
                continue
            if index >= len(fields):
                warn("bad lines", f"line {number}: no column {index} in {line[:60]!r} (skipped)")
                continue
            field = fields[index]
        try:
            values.append(float(field))
        except ValueError:
            if number == 1 and column is not None:
                continue  # a header line when the column is given by index
            warn("bad lines", f"line {number}: cannot read a number from {field[:60]!r} (skipped)")
            continue
        if len(values) >= CHUNK_VALUES:
            yield np.asarray(values)
            values = []
    if values:
        yield np.asarray(values)


def read_raw(stream: BinaryIO, warn: Warnings, dtype: np.dtype, channels: int = 1,
             channel: int = 0, limit: int | None = None) -> Iterator[np.ndarray]:
    """Little-endian samples (interleaved when ``channels`` > 1); a partial final frame is reported and dropped."""
    frame = dtype.itemsize * channels
    pending = b""
    remaining = limit
    read = getattr(stream, "read1", stream.read)
    while remaining is None or remaining > 0:
        data = read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining))
        if not data:
            break
        if remaining is not None:
            remaining -= len(data)
        data = pending + data
        usable = len(data) - len(data) % frame
        pending = data[usable:]
        if usable:
            samples = np.frombuffer(data[:usable], dtype=dtype).reshape(-1, channels)[:, channel]
            yield samples.astype(np.float64)
    if pending:
        warn("short reads", f"the stream ended inside a sample: {len(pending)} stray byte(s) ignored")


WAV_TYPES = {(1, 8): np.dtype("u1"), (1, 16): np.dtype("<i2"), (1, 32): np.dtype("<i4"),
             (3, 32): np.dtype("<f4"), (3, 64): np.dtype("<f8")}


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = stream.read(n - len(data))
        if not part:
            break
        data += part
    return data


def _skip(stream: BinaryIO, n: int) -> None:
    """Skip an unknown chunk in bounded reads (its size field may claim 4 GiB)."""
    while n > 0:
        part = stream.read(min(n, 1 << 16))
        if not part:
            raise RunnerError("WAV file ends inside a chunk before its data chunk")
        n -= len(part)


def _parse_fmt(body: bytes, size: int) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits) from a fmt chunk, refusing the impossible ones."""
    if size < 16 or len(body) < 16:
        raise RunnerError(f"WAV fmt chunk is {min(size, len(body))} bytes; it needs at least 16")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        tag = struct.unpack("<H", body[24:26])[0]
    if not 1 <= channels <= MAX_WAV_CHANNELS:
        raise RunnerError(f"WAV header says {channels} channels; 1 to {MAX_WAV_CHANNELS} are supported")
    return tag, channels, rate, bits


def read_wav_header(stream: BinaryIO) -> tuple[np.dtype, int, float, int | None]:
    """Parse a RIFF/WAVE header up to the data chunk: (sample dtype, channels, rate, data bytes or None)."""
    head = _read_exact(stream, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise RunnerError("input is not a WAV file (no RIFF/WAVE header)")
    fmt = None
    while True:
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            raise RunnerError("WAV file ends before its data chunk")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            if size > MAX_FMT_BYTES:
                raise RunnerError(f"WAV fmt chunk claims {size} bytes; a real one has at most {MAX_FMT_BYTES}")
            body = _read_exact(stream, size + size % 2)
            if len(body) < size:
                raise RunnerError("WAV file ends inside its fmt chunk")
            fmt = _parse_fmt(body, size)
        elif cid == b"data":
            if fmt is None:
                raise RunnerError("WAV data chunk comes before its fmt chunk")
            tag, channels, rate, bits = fmt
            if (tag, bits) not in WAV_TYPES:
                raise RunnerError(f"unsupported WAV sample format (format tag {tag}, {bits} bits); "
                                  "use 8/16/32-bit PCM or 32/64-bit float")
            streaming = size in (0, 0xFFFFFFFF)  # recorders writing to a pipe leave the size open
            return WAV_TYPES[(tag, bits)], channels, float(rate), None if streaming else size
        else:
            _skip(stream, size + size % 2)


def open_input(path: str, binary: bool):
    if path == "-":
        if sys.stdin is None:  # started with stdin closed (<&-)
            raise RunnerError("stdin is closed; give --input FILE or connect a stream")
        return sys.stdin.buffer if binary else sys.stdin
    try:
        return open(path, "rb") if binary else open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RunnerError(f"cannot open {path}: {exc.strerror or exc}") from None


def samples(args: argparse.Namespace, warn: Warnings, model_rate: float) -> tuple[Iterator[np.ndarray], float]:
    """The stream as float64 chunks, and its sample rate."""
    rate = check_rate(args.rate, model_rate, "--rate") if args.rate is not None else model_rate
    if args.format in ("text", "csv"):
        stream = open_input(args.input, binary=False)
        if stream is sys.stdin:
            stream.reconfigure(errors="replace")
        return read_text(stream, warn, args.column if args.format == "csv" else None, args.delimiter), rate
    stream = open_input(args.input, binary=True)
    if args.format == "wav":
        dtype, channels, wav_rate, size = read_wav_header(stream)
        check_rate(wav_rate, model_rate, "the WAV header")
        column = args.column or "0"
        if not column.isdigit():
            raise RunnerError(f"--column {column!r} must be a WAV channel index (0, 1, ...)")
        channel = int(column)
        if not 0 <= channel < channels:
            raise RunnerError(f"the WAV file has {channels} channel(s); --column {channel} is not one")
        if args.rate and abs(args.rate - wav_rate) > 1e-9:
            warn("rate", f"the WAV header says {wav_rate:g} Hz; using it instead of --rate {args.rate:g}")
        chunks = read_raw(stream, warn, dtype, channels, channel, size)
        if dtype == np.dtype("u1"):
            chunks = (c - 128.0 for c in chunks)
        return chunks, wav_rate
    return read_raw(stream, warn, np.dtype("<i2" if args.format == "int16" else "<f4")), rate


def finite(chunk: np.ndarray, warn: Warnings) -> np.ndarray:
    """``chunk`` without its NaN/Inf samples (counted as a warning)."""
    ok = np.isfinite(chunk)
    if not ok.all():
        warn("non-finite samples", f"{int((~ok).sum())} NaN/Inf sample(s) dropped")
        chunk = chunk[ok]
    return chunk
