"""The runner's MQTT options (each also settable in drsn-runner.env) and the publisher they build."""
from __future__ import annotations

import argparse
import os
import socket

from .messages import RunnerError, Warnings
from .mqtt import BrokerSettings, Publisher
from .outbox import DEFAULT_CAPACITY, Outbox

ENV = {"mqtt": "DRSN_MQTT", "site": "DRSN_SITE", "machine": "DRSN_MACHINE", "mqtt_username": "DRSN_MQTT_USERNAME",
       "mqtt_password": "DRSN_MQTT_PASSWORD", "mqtt_ca": "DRSN_MQTT_CA", "outbox": "DRSN_OUTBOX"}


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fleet reporting over MQTT (each option's default: the environment variable named)")
    env = {dest: os.environ.get(name) or None for dest, name in ENV.items()}
    g.add_argument("--mqtt", default=env["mqtt"], metavar="URL",
                   help="publish results to mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS) [DRSN_MQTT]")
    g.add_argument("--site", default=env["site"] or "site", help="topic level: drsn/SITE/MACHINE/... [DRSN_SITE]")
    g.add_argument("--machine", default=env["machine"] or socket.gethostname(),
                   help="topic level (default: host name) [DRSN_MACHINE]")
    g.add_argument("--client-id", default=None, help="MQTT client id (default: drsn-SITE-MACHINE)")
    g.add_argument("--mqtt-username", default=env["mqtt_username"], help="[DRSN_MQTT_USERNAME]")
    g.add_argument("--mqtt-password", default=env["mqtt_password"],
                   help="prefer DRSN_MQTT_PASSWORD in drsn-runner.env: a command line is visible to every user")
    g.add_argument("--mqtt-ca", default=env["mqtt_ca"], help="CA certificate file for mqtts:// [DRSN_MQTT_CA]")
    g.add_argument("--outbox", default=env["outbox"],
                   help="SQLite outbox holding messages until the broker has them (default: outbox.sqlite beside "
                        "--config) [DRSN_OUTBOX]")
    g.add_argument("--outbox-size", type=int, default=DEFAULT_CAPACITY,
                   help="messages the outbox holds; when full, oldest windows go first, alarm changes last")


def publisher(args: argparse.Namespace, warn: Warnings) -> Publisher | None:
    """A connected publisher when --mqtt is given, else None (paho-mqtt is then never imported)."""
    if not args.mqtt:
        return None
    if args.outbox_size < 1:
        raise RunnerError("--outbox-size must be at least 1")
    if args.mqtt_ca and not os.path.isfile(args.mqtt_ca):
        raise RunnerError(f"--mqtt-ca {args.mqtt_ca}: no such file")
    broker = BrokerSettings.from_url(args.mqtt, args.mqtt_username, args.mqtt_password, args.mqtt_ca)
    path = args.outbox or os.path.join(os.path.dirname(os.path.abspath(args.config)), "outbox.sqlite")
    try:
        outbox = Outbox(path, args.outbox_size)
    except Exception as exc:  # sqlite3.Error: unwritable folder, a file that is not a database
        raise RunnerError(f"cannot open the outbox {path}: {exc}") from None
    pub = Publisher(broker, args.site, args.machine, args.client_id or f"drsn-{args.site}-{args.machine}", outbox)
    pub.start(warn)
    return pub


class AlarmWatch:
    """Publishes an alarm message whenever the class in alarm changes (onset, clear, another fault)."""

    def __init__(self) -> None:
        self.current: str | None = None

    def update(self, pub: Publisher, alert: str | None, at: float) -> None:
        if alert != self.current:
            self.current = alert
            pub.alarm(alert, at)
