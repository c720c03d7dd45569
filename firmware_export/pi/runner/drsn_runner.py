#!/usr/bin/env python3
"""drsn-runner: bearing condition from an accelerometer stream, one JSON line per window.

This file runs on the device (a Raspberry Pi) on its own: it needs only numpy
and a TFLite interpreter (``ai_edge_litert``, else ``tflite_runtime``, else
``tensorflow.lite``). It cannot import drsn_edge, so the two pieces of the
toolkit that decide what the model sees are re-implemented here and tested
against the originals bit for bit:

* preprocessing: ``drsn_edge.preprocess.Preprocessing.apply`` (float64
  z-score per window, then float32);
* input quantisation: ``quantize.runtimes.base.quantize_input``
  (``round(x / scale) + zero_point``, clipped to int8).

Samples come from stdin or a file (text, CSV, raw int16/float32 little-endian,
or WAV), are resampled to the model's rate when the stream's differs, cut into
sliding windows with a configurable hop, and classified. Bad input (garbage
lines, NaN, a short final read, a closed pipe) gives a message on stderr and
never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import sys
import time
from collections import Counter, deque
from fractions import Fraction
from typing import BinaryIO, Iterator, TextIO

try:
    import numpy as np
except ImportError:  # the device's venv is incomplete: say so instead of a traceback
    sys.stderr.write("drsn-runner: error: numpy is not installed (pip install -r requirements.txt)\n")
    sys.exit(2)

PROG = "drsn-runner"
FORMATS = ("text", "csv", "int16", "float32", "wav")
CHUNK_VALUES = 512  # text values gathered before they are handed on (keeps per-line Python work cheap)
CHUNK_BYTES = 8192


class RunnerError(Exception):
    """A problem the user can fix: printed as one ``error:`` line, exit code 2."""


class Warnings:
    """stderr messages for recoverable input problems; repeated ones are counted, not repeated forever."""

    SHOWN_PER_KIND = 3

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.counts: Counter[str] = Counter()

    def __call__(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        n = self.counts[kind]
        if n <= self.SHOWN_PER_KIND:
            suffix = " (further ones are counted, not shown)" if n == self.SHOWN_PER_KIND else ""
            self.stream.write(f"{PROG}: warning: {message}{suffix}\n")
            self.stream.flush()

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))


# --------------------------------------------------------------------------- model

def load_config(path: str) -> dict:
    """The bundle's ``config.json``: classes, preprocessing, model file."""
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except OSError as exc:
        raise RunnerError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RunnerError(f"config {path} is not valid JSON: {exc}") from None
    for key in ("classes", "preprocessing", "model"):
        if not isinstance(config, dict) or key not in config:
            raise RunnerError(f"config {path} lacks '{key}'")
    pre = config["preprocessing"]
    if pre.get("normalisation", "window") not in ("window", "global", "none"):
        raise RunnerError(f"config {path}: unknown normalisation {pre.get('normalisation')!r}")
    return config


def load_interpreter(model_path: str, reference: bool, threads: int | None):
    """A TFLite interpreter from the first runtime installed; ``reference`` selects the reference kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    candidates = (("ai_edge_litert.interpreter", None), ("tflite_runtime.interpreter", None), ("tensorflow", "lite"))
    for module_name, attr in candidates:
        try:
            module = __import__(module_name, fromlist=["Interpreter"])
        except ImportError:
            continue
        if attr:
            module = getattr(module, attr)
        resolver_types = getattr(module, "OpResolverType", None) or getattr(
            getattr(module, "experimental", None), "OpResolverType", None)
        kwargs: dict = {"model_path": model_path}
        if threads:
            kwargs["num_threads"] = threads
        if resolver_types is not None:
            kwargs["experimental_op_resolver_type"] = (
                resolver_types.BUILTIN_REF if reference else resolver_types.AUTO)
        elif reference:
            raise RunnerError(f"{module_name} has no reference kernels; run with --kernels optimized")
        try:
            interpreter = module.Interpreter(**kwargs)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise RunnerError(f"cannot load {model_path}: {str(exc).splitlines()[0]}") from None
        return interpreter, module_name
    raise RunnerError("no TFLite interpreter found: pip install ai-edge-litert (or tflite-runtime)")


def preprocess(windows: np.ndarray, pre: dict) -> np.ndarray:
    """Raw windows (N, L) -> float32 network input; mirrors drsn_edge.preprocess.Preprocessing.apply."""
    x = np.asarray(windows).astype(np.float64)
    mode = pre.get("normalisation", "window")
    if mode == "window":
        x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + pre.get("eps", 1e-6))
    elif mode == "global":
        x = (x - pre.get("mean", 0.0)) / pre.get("std", 1.0)
    return x.astype(np.float32)


def quantize_input(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float input -> integer tensor; mirrors quantize.runtimes.base.quantize_input (round half to even, clip)."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


class Model:
    """The int8 model: raw window in, (class index, confidence, raw scores) out."""

    def __init__(self, config: dict, model_path: str, reference: bool, threads: int | None) -> None:
        self.classes = [str(c) for c in config["classes"]]
        self.pre = dict(config["preprocessing"])
        self.window_length = int(self.pre.get("window_length", config.get("window_length", 0)))
        self.sample_rate = float(self.pre.get("sample_rate", config.get("sample_rate", 0)))
        if self.window_length < 1 or self.sample_rate <= 0:
            raise RunnerError("config has no window length or sample rate")
        self.interpreter, self.runtime = load_interpreter(model_path, reference, threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.in_dtype = np.dtype(self.input["dtype"])
        if int(np.prod(self.input["shape"])) != self.window_length:
            raise RunnerError(f"model input {list(self.input['shape'])} does not hold {self.window_length} samples")

    def input_tensor(self, window: np.ndarray) -> np.ndarray:
        """What the interpreter is given for one raw window: preprocessed and (for integer models) quantised."""
        x = preprocess(window[None, :], self.pre).reshape(self.input["shape"]).astype(np.float32)
        if self.in_dtype != np.float32:
            scale, zero = self.input["quantization"]
            x = quantize_input(x, scale, zero, self.in_dtype)
        return x

    def classify(self, window: np.ndarray) -> tuple[int, float, np.ndarray]:
        self.interpreter.set_tensor(self.input["index"], self.input_tensor(window))
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.output["index"])[0].copy()
        logits = raw.astype(np.float32)
        if np.dtype(self.output["dtype"]) != np.float32:
            scale, zero = self.output["quantization"]
            logits = (logits - zero) * np.float32(scale)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        k = int(np.argmax(logits))
        return k, float(p[k]), raw


# --------------------------------------------------------------------------- resampling

class Resampler:
    """Streaming rational resampler (polyphase FIR), numpy only.

    The rate ratio is approximated by ``up/down`` (denominator at most 1000). The
    anti-aliasing/interpolation filter is a windowed sinc (Kaiser, beta 5) whose
    cut-off is the lower of the two Nyquist frequencies and whose half length is
    10 periods of the slower rate, as scipy.signal.resample_poly does. It is split
    into ``up`` phases; output sample m is the dot product of the phase
    ``(m * down) % up`` with the input samples around ``m * down / up``, so no
    zeros are ever multiplied. Each phase is normalised to unit DC gain. The
    filter is centred (zero delay): output m is the signal at input time
    ``m * down / up``; the stream is taken as zero before its first sample.
    """

    def __init__(self, in_rate: float, out_rate: float, half_periods: int = 10, beta: float = 5.0) -> None:
        ratio = (Fraction(out_rate).limit_denominator(10 ** 6) / Fraction(in_rate).limit_denominator(10 ** 6))
        ratio = ratio.limit_denominator(1000)
        self.up, self.down = ratio.numerator, ratio.denominator
        self.identity = self.up == self.down
        slower = max(self.up, self.down)
        half_len = half_periods * slower  # in samples of the up-sampled signal
        self.half = -(-half_len // self.up)  # input samples each side
        j = np.arange(-self.half, self.half + 1)
        d = np.arange(self.up)[:, None] - j[None, :] * self.up  # offset of each tap, up-sampled units
        window = np.where(np.abs(d) <= half_len,
                          np.i0(beta * np.sqrt(np.clip(1 - (d / half_len) ** 2, 0, None))) / np.i0(beta), 0.0)
        taps = np.sinc(d / slower) * window
        self.taps = taps / taps.sum(axis=1, keepdims=True)  # (up, 2*half+1), unit DC gain per phase
        self.offsets = j
        self.buffer = np.zeros(self.half)  # the zeros before the stream
        self.buffer_start = -self.half  # input index of buffer[0]
        self.next_out = 0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed input samples, get every output sample whose neighbourhood is now complete."""
        if self.identity:
            return np.asarray(chunk, dtype=np.float64)
        self.buffer = np.concatenate([self.buffer, np.asarray(chunk, dtype=np.float64)])
        last_input = self.buffer_start + len(self.buffer) - 1
        # output m needs input up to (m*down)//up + half
        m_end = ((last_input - self.half + 1) * self.up - 1) // self.down + 1 if last_input >= self.half else 0
        m = np.arange(self.next_out, max(m_end, self.next_out))
        out = np.empty(0)
        if len(m):
            t = m * self.down
            centre = t // self.up
            idx = centre[:, None] + self.offsets[None, :] - self.buffer_start
            out = np.einsum("ij,ij->i", self.buffer[idx], self.taps[t % self.up])
            self.next_out = int(m[-1]) + 1
        keep_from = (self.next_out * self.down) // self.up - self.half  # first input the next output needs
        drop = max(0, keep_from - self.buffer_start)
        self.buffer = self.buffer[drop:]
        self.buffer_start += drop
        return out


# --------------------------------------------------------------------------- input streams

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
            body = _read_exact(stream, size + size % 2)
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
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
            _read_exact(stream, size + size % 2)


# --------------------------------------------------------------------------- windows and decisions

class Windower:
    """Sliding windows of ``length`` samples every ``hop`` samples over a stream of chunks."""

    def __init__(self, length: int, hop: int) -> None:
        self.length, self.hop = length, hop
        self.buffer = np.empty(0)
        self.start = 0  # stream index of buffer[0]
        self.skip = 0  # samples still to drop when hop > length

    def push(self, chunk: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        if self.skip:
            dropped = min(self.skip, len(chunk))
            chunk, self.skip, self.start = chunk[dropped:], self.skip - dropped, self.start + dropped
        self.buffer = np.concatenate([self.buffer, chunk]) if len(self.buffer) else np.asarray(chunk, np.float64)
        while len(self.buffer) >= self.length:
            yield self.start, self.buffer[:self.length]
            step = min(self.hop, len(self.buffer))
            self.skip = self.hop - step
            self.buffer = self.buffer[step:]
            self.start += step
        # an overlong hop may also have to drop samples still waiting in the buffer
        if self.skip and len(self.buffer):
            dropped = min(self.skip, len(self.buffer))
            self.buffer, self.skip, self.start = self.buffer[dropped:], self.skip - dropped, self.start + dropped


class Decider:
    """Majority vote over the last ``k`` windows and an alert when a fault class persists."""

    def __init__(self, k: int, alert_after: int, normal: int | None) -> None:
        self.recent: deque[int] = deque(maxlen=max(1, k))
        self.alert_after = alert_after
        self.normal = normal
        self.fault = None
        self.streak = 0

    def update(self, k: int) -> tuple[int, int | None, bool]:
        """(smoothed class, class in alert or None, whether the alert starts now)."""
        self.recent.append(k)
        counts = Counter(self.recent)
        best = max(counts.values())
        # ties go to the most recent of the tied classes
        smoothed = next(c for c in reversed(self.recent) if counts[c] == best)
        if smoothed != self.normal and smoothed == self.fault:
            self.streak += 1
        else:
            self.fault, self.streak = (None, 0) if smoothed == self.normal else (smoothed, 1)
        alerting = self.alert_after > 0 and self.fault is not None and self.streak >= self.alert_after
        return smoothed, self.fault if alerting else None, alerting and self.streak == self.alert_after


# --------------------------------------------------------------------------- command line

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--config", default=os.path.join(here, "config.json"), help="the bundle's config.json")
    p.add_argument("--input", default="-", help="file or FIFO to read; '-' is stdin (default)")
    p.add_argument("--format", default="text", choices=FORMATS,
                   help="text: one value per line; csv: --column of delimited lines; "
                        "int16/float32: raw little-endian; wav: a WAV file or stream")
    p.add_argument("--column", default=None, help="CSV column (index from 0, or header name); WAV channel index")
    p.add_argument("--delimiter", default=",")
    p.add_argument("--rate", type=float, default=None, help="sample rate of the stream in Hz (default: the model's)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every sample by this (e.g. counts -> g)")
    p.add_argument("--hop", type=int, default=None, help="samples (at the model's rate) between windows; default one window")
    p.add_argument("--smooth", type=int, default=1, help="majority vote over the last K windows")
    p.add_argument("--alert-after", type=int, default=0,
                   help="alert when one fault class wins this many windows in a row (0: off)")
    p.add_argument("--normal-class", default=None, help="the healthy class (default: from config)")
    p.add_argument("--kernels", default="reference", choices=("reference", "optimized"),
                   help="reference: LiteRT's reference kernels, identical to `drsn-edge evaluate`; "
                        "optimized: LiteRT's default (XNNPACK) kernels, several times faster, rounds differently")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads")
    p.add_argument("--raw", action="store_true", help="also print the model's raw (int8) outputs")
    p.add_argument("--max-windows", type=int, default=None, help="stop after this many windows")
    args = p.parse_args(argv)
    if args.hop is not None and args.hop < 1:
        p.error("--hop must be at least 1")
    if args.smooth < 1 or args.alert_after < 0:
        p.error("--smooth must be at least 1 and --alert-after at least 0")
    if args.rate is not None and args.rate <= 0:
        p.error("--rate must be positive")
    if args.format == "csv" and args.column is None:
        args.column = "0"
    return args


def open_input(path: str, binary: bool):
    if path == "-":
        return sys.stdin.buffer if binary else sys.stdin
    try:
        return open(path, "rb") if binary else open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RunnerError(f"cannot open {path}: {exc.strerror or exc}") from None


def samples(args: argparse.Namespace, warn: Warnings, model_rate: float) -> tuple[Iterator[np.ndarray], float]:
    """The stream as float64 chunks, and its sample rate."""
    rate = args.rate or model_rate
    if args.format in ("text", "csv"):
        stream = open_input(args.input, binary=False)
        if stream is sys.stdin:
            stream.reconfigure(errors="replace")
        return read_text(stream, warn, args.column if args.format == "csv" else None, args.delimiter), rate
    stream = open_input(args.input, binary=True)
    if args.format == "wav":
        dtype, channels, wav_rate, size = read_wav_header(stream)
        channel = int(args.column or 0)
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
    ok = np.isfinite(chunk)
    if not ok.all():
        warn("non-finite samples", f"{int((~ok).sum())} NaN/Inf sample(s) dropped")
        chunk = chunk[ok]
    return chunk


def run(args: argparse.Namespace, out: TextIO, warn: Warnings) -> int:
    """Classify the stream; returns the number of windows."""
    config = load_config(args.config)
    model_path = os.path.join(os.path.dirname(os.path.abspath(args.config)), config["model"])
    model = Model(config, model_path, args.kernels == "reference", args.threads)
    normal_name = args.normal_class or config.get("normal_class")
    if normal_name is not None and normal_name not in model.classes:
        raise RunnerError(f"normal class '{normal_name}' is not one of {', '.join(model.classes)}")
    normal = model.classes.index(normal_name) if normal_name is not None else None
    chunks, rate = samples(args, warn, model.sample_rate)
    resampler = Resampler(rate, model.sample_rate)
    windower = Windower(model.window_length, args.hop or model.window_length)
    decider = Decider(args.smooth, args.alert_after, normal)
    n = 0
    for chunk in chunks:
        chunk = finite(chunk * args.scale if args.scale != 1.0 else chunk, warn)
        for start, window in windower.push(resampler.process(chunk)):
            began = time.perf_counter()
            k, confidence, raw = model.classify(window)
            latency = (time.perf_counter() - began) * 1000
            record = {"time": round((start + model.window_length) / model.sample_rate, 6), "window": n,
                      "class": model.classes[k], "confidence": round(confidence, 4), "latency_ms": round(latency, 3), "wall": round(time.time(), 3)}
            if args.smooth > 1 or args.alert_after:
                smoothed, alert, onset = decider.update(k)
                record["smoothed"] = model.classes[smoothed]
                if args.alert_after:
                    record["alert"] = model.classes[alert] if alert is not None else None
                if onset:
                    sys.stderr.write(f"{PROG}: ALERT: {model.classes[alert]} for {args.alert_after} windows "
                                     f"in a row (at {record['time']:.3f} s)\n")
            if args.raw:
                record["raw"] = raw.tolist()
            out.write(json.dumps(record) + "\n")
            out.flush()
            n += 1
            if args.max_windows is not None and n >= args.max_windows:
                return n
    return n


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warn = Warnings()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # systemd stop: end like a closed stream
    try:
        n = run(args, sys.stdout, warn)
    except RunnerError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except BrokenPipeError:  # whoever read our output has gone: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        sys.stderr.write(f"{PROG}: output closed, stopping\n")
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except OSError as exc:
        sys.stderr.write(f"{PROG}: error: input failed: {exc.strerror or exc}\n")
        return 2
    except RuntimeError as exc:  # the interpreter refused to run the model
        sys.stderr.write(f"{PROG}: error: inference failed: {str(exc).splitlines()[0] if str(exc) else exc}\n")
        return 2
    problems = warn.summary()
    sys.stderr.write(f"{PROG}: end of stream after {n} window(s)" + (f"; {problems}" if problems else "") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
