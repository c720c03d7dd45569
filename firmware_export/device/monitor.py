"""``drsn-edge monitor PORT``: talk to the monitoring firmware, optionally stream a recording to it, and print
(and keep) its JSON lines.

Pacing: ``speed`` 1 sends at the model's sample rate, 2 twice as fast, and so on; ``speed`` 0 sends in
lockstep, one hop of samples and then wait for its window's line: as fast as the device classifies and
never an overrun. Each window line gets ``wall`` (the host's clock on receipt), the one field of the Pi
runner's lines that a device without a clock cannot write.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable, TextIO

import numpy as np

from drsn_edge.errors import DrsnError
from firmware_export.device.link import Link, encode

CHUNK = 256  # samples per write when pacing in real time


@dataclass
class MonitorOptions:
    hop: int | None = None  # samples between windows (default: one window)
    smooth: int = 1
    alert_after: int = 0
    clear_after: int = 1
    speed: float = 1.0  # x the model's sample rate; 0: lockstep
    raw: bool = True
    duration: float | None = None  # without a recording: stop listening after this many seconds
    timeout: float = 10.0


def _stamp(record: dict) -> dict:
    if "window" in record:
        record["wall"] = round(time.time(), 3)
    return record


def _settings(opts: MonitorOptions, window_length: int) -> dict:
    hop = opts.hop or window_length
    if hop < 1 or opts.smooth < 1 or opts.alert_after < 0 or opts.clear_after < 1 or opts.speed < 0:
        raise DrsnError("--hop, --smooth and --clear-after must be at least 1, --alert-after and --speed at least 0")
    return {"hop": hop, "smooth": opts.smooth, "alert": opts.alert_after, "clear": opts.clear_after,
            "raw": int(opts.raw)}


def expected_windows(samples: int, length: int, hop: int) -> int:
    return 0 if samples < length else (samples - length) // hop + 1


def stream(link: Link, samples: np.ndarray | None, opts: MonitorOptions, on_line: Callable[[dict], None],
           progress: Callable[[int], None] | None = None) -> dict:
    """Configure the device, send ``samples`` paced by ``opts``, hand every window line to ``on_line``;
    returns the device's hello, config and final status."""
    hello = link.hello()
    length, rate = int(hello["window_length"]), float(hello["sample_rate"])
    config = link.configure(**_settings(opts, length))
    seen = 0

    def take(timeout: float) -> bool:
        nonlocal seen
        record = link.read_line(timeout)
        if record is None:
            return False
        if "window" in record:
            on_line(_stamp(record))
            seen += 1
            if progress:
                progress(1)
        return True

    if samples is None:
        deadline = None if opts.duration is None else time.monotonic() + opts.duration
        while deadline is None or time.monotonic() < deadline:
            take(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        return {"hello": hello, "config": config, "status": link.status()}
    hop = config["hop"]
    began = time.monotonic()
    sent = finite_sent = 0
    step = hop if opts.speed == 0 else CHUNK
    while sent < len(samples):
        chunk = samples[sent:sent + step]
        if opts.speed > 0:  # real time (or faster): the chunk is due when its last sample would have arrived
            due = began + (sent + len(chunk)) / (rate * opts.speed)
            while time.monotonic() < due:
                take(min(0.05, max(0.0, due - time.monotonic())))
        link.write(encode(chunk))
        sent += len(chunk)
        finite_sent += int(np.isfinite(chunk).sum())  # the device drops NaN/Inf, as the Pi runner
        if opts.speed == 0:  # lockstep: wait for the window this hop completes
            want = expected_windows(finite_sent, length, hop)
            while seen < want:
                if not take(opts.timeout):
                    raise DrsnError(f"the board on {link.name} stopped answering (window {seen} did not come "
                                    f"within {opts.timeout:g} s)")
    want = expected_windows(finite_sent, length, hop)
    deadline = time.monotonic() + opts.timeout
    while seen < want and time.monotonic() < deadline:  # windows still being classified
        take(0.2)
    return {"hello": hello, "config": config, "status": link.status()}


def write_lines(out: TextIO, record: dict) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()
