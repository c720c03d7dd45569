"""What the runner prints: one JSON line per window on stdout, an ALERT line on stderr when an alert starts."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import TextIO

from .messages import PROG, RunnerError
from .model import Model


def window_record(model: Model, n: int, start: int, k: int, confidence: float, latency_ms: float) -> dict:
    """The fields every line has, in the order they are printed; ``start`` is the window's first sample."""
    return {"time": round((start + model.window_length) / model.sample_rate, 6), "window": n,
            "class": model.classes[k], "confidence": round(confidence, 4), "latency_ms": round(latency_ms, 3),
            "wall": round(time.time(), 3)}


UNKNOWN = "unknown"  # the class name of a window the model should not answer


def mark_unknown(record: dict, score: int, threshold: int) -> bool:
    """Add the window's unknown ``score``; below ``threshold`` the class becomes "unknown" and ``best`` keeps
    the model's own answer. Returns whether the window is unknown."""
    record["score"] = score
    if score >= threshold:
        return False
    record["best"], record["class"] = record["class"], UNKNOWN
    return True


def add_decision(record: dict, classes: list[str], smoothed: int, alert: int | None, with_alert: bool) -> None:
    """The smoothed class, and (when alerts are on) the class in alert or null."""
    record["smoothed"] = classes[smoothed]
    if with_alert:
        record["alert"] = classes[alert] if alert is not None else None


def announce_alert(name: str, windows: int, at: float) -> None:
    """The one stderr line at an alert's onset (the journal shows it beside the JSON lines)."""
    sys.stderr.write(f"{PROG}: ALERT: {name} for {windows} windows in a row (at {at:.3f} s)\n")


def _discard_unwritten(out: TextIO) -> None:
    """Point ``out`` at /dev/null so the interpreter's exit flush cannot fail a second time (and say so)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    except (OSError, ValueError):
        pass


def write_line(out: TextIO, record: dict) -> None:
    """One JSON line, flushed at once so a reader on a pipe sees every window as it is classified."""
    try:
        out.write(json.dumps(record) + "\n")
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:  # a full disk, a closed descriptor: not an input problem
        _discard_unwritten(out)
        raise RunnerError(f"cannot write the results: {exc.strerror or exc}") from None
    except ValueError as exc:  # write to a closed file object
        raise RunnerError(f"cannot write the results: {exc}") from None
