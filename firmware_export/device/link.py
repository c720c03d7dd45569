"""The host's side of the monitoring firmware's serial protocol (``monitor/csrc/drsn_monitor.c``).

Samples go out as text, one value per line: each float32 sample as the shortest decimal that reads back as
exactly that float32, so the device sees the very samples the Pi runner reads from a float32 stream. Lines
starting with ``!`` are commands (``!hello``, ``!status``, ``!set k=v ...``); the device answers with one JSON
line each, and writes one JSON line per classified window.
"""
from __future__ import annotations

import json
import time

import numpy as np

from drsn_edge.errors import DrsnError
from firmware_export.monitor import PROTOCOL

BAUD = 115200
GREETING = "drsn-edge-monitor"
DEFAULT_TIMEOUT = 10.0  # seconds to wait for the device's answer
BINARY_MAX = 65535  # samples per !bin block (drsn_monitor.c)


def encode_binary(samples: np.ndarray) -> bytes:
    """float32 samples -> one ``!bin N`` block: the line, then the samples' little-endian IEEE bytes."""
    values = np.asarray(samples, "<f4").ravel()
    if not 1 <= len(values) <= BINARY_MAX:
        raise DrsnError(f"a binary block holds 1-{BINARY_MAX} samples, not {len(values)}")
    return f"!bin {len(values)}\n".encode() + values.tobytes()


def encode(samples: np.ndarray) -> bytes:
    """float32 samples -> text lines (shortest round-trip decimal of each float32)."""
    values = np.asarray(samples, np.float32)
    return "".join(f"{v}\n" for v in values).encode()  # str(np.float32): shortest round trip, e.g. 1.5e-05


class Link:
    """A serial port (device, pty or ``socket://host:port``) speaking to the monitoring firmware."""

    def __init__(self, port: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        import serial

        self.timeout = timeout
        try:
            self.port = serial.serial_for_url(port, baudrate=BAUD, timeout=0.1)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DrsnError(f"cannot open serial port {port}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
        self.name = port
        self.pending = b""

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read_line(self, timeout: float | None = None) -> dict | None:
        """The device's next JSON line, or None after ``timeout`` seconds without one; other lines are skipped."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # boot noise or a line cut by a reset
                if isinstance(record, dict):
                    return record
                continue
            if time.monotonic() > deadline:
                return None
            self.pending += self.port.read(max(1, self.port.in_waiting))

    def command(self, text: str, answer: str) -> dict:
        """Send ``!text``; returns the first line holding ``answer`` (window lines on the way are dropped)."""
        self.write(f"!{text}\n".encode())
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            record = self.read_line(deadline - time.monotonic())
            if record is not None and answer in record:
                return record
        raise DrsnError(f"the board on {self.name} is not answering (no reply to !{text.split()[0]} "
                        f"within {self.timeout:g} s)")

    def hello(self, model_id: str | None = None) -> dict:
        """The device's hello; an error for a board not answering, a foreign firmware or another model."""
        self.pending = b""
        self.port.reset_input_buffer()
        record = self.command("hello", "hello")
        if record.get("hello") != GREETING or record.get("protocol") != PROTOCOL:
            raise DrsnError(f"wrong firmware on {self.name}: not the drsn-edge monitor (protocol {PROTOCOL})")
        if model_id is not None and record.get("model_id") != model_id:
            raise DrsnError(f"wrong firmware on {self.name}: it runs model {record.get('model_id')}, "
                            f"the export has {model_id} (flash it again)")
        return record

    def configure(self, **settings: int) -> dict:
        """``!set k=v ...`` (restarts the device's stream); returns its config line."""
        return self.command("set " + " ".join(f"{k}={int(v)}" for k, v in settings.items()), "config")["config"]

    def status(self) -> dict:
        return self.command("status", "status")["status"]
