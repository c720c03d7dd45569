"""``drsn-edge monitor --mqtt``: the device's window lines to the same MQTT topics and schema as the Pi runner.

The publisher, its outbox and the options are the Pi runner's own (``drsn_runner_lib.fleet``, ``mqtt``,
``outbox``), imported from the runner folder the Pi bundle ships: one implementation for both gateways.
The device's lines already carry the runner's fields (``time``, ``window``, ``class``, ``confidence``,
``latency_ms``, ``smoothed``, ``alert``, ``raw``); the host adds ``wall``.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType

from drsn_edge.errors import DrsnError
from firmware_export.pi.bundle import RUNNER_PACKAGE

DEFAULT_OUTBOX = "drsn-monitor-outbox.sqlite"  # in the current directory (the runner keeps its own beside config.json)


def runner_fleet() -> ModuleType:
    """The Pi runner's ``drsn_runner_lib.fleet`` (its folder goes on ``sys.path`` once)."""
    folder = str(RUNNER_PACKAGE.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    from drsn_runner_lib import fleet

    return fleet


def add_options(p: argparse.ArgumentParser) -> None:
    """The runner's MQTT options, word for word (``--mqtt``, ``--site``, ``--machine``, TLS, login, outbox)."""
    runner_fleet().add_options(p)


def _warn(kind: str, message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


class Forwarder:
    """Publishes each window line and each alarm change; a no-op without ``--mqtt``."""

    def __init__(self, args: argparse.Namespace) -> None:
        fleet = runner_fleet()
        from drsn_runner_lib.messages import RunnerError

        if args.mqtt and args.outbox is None:
            args.outbox = DEFAULT_OUTBOX
        try:
            self.publisher = fleet.publisher(args, _warn)
        except RunnerError as exc:
            raise DrsnError(str(exc)) from None
        self.alarms = fleet.AlarmWatch()

    def window(self, record: dict) -> None:
        if self.publisher is None:
            return
        self.publisher.window(record)
        if "alert" in record:  # the device writes it when an alarm rule is on (--alert-after)
            self.alarms.update(self.publisher, record["alert"], record["time"])

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close(_warn)
